"""Tickets and wristbands for stored admissions: which layout, one attempt, and the staff reprint.

Used by the kiosk (each admission's prints, on a print thread), by ``kiosk print`` and by staff mode.
Every job is recorded in the store's ``prints`` table; one that fails raises an incident in the kiosk,
and a successful reprint resolves it. Nothing here retries a job: a second copy is printed only when
somebody asks for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kiosk.config import Settings
from kiosk.hardware import layouts
from kiosk.hardware.printer import Layout, Printer, PrintFault, open_printer
from kiosk.i18n import Catalogs
from kiosk.model import Admission, IncidentKind
from kiosk.store import Store

log = logging.getLogger("kiosk.printing")

KINDS = ("ticket", "wristband")


@dataclass(frozen=True)
class Outcome:
    status: str                  # printed | unconfirmed | failed
    reason: str = ""             # why it failed (kiosk.hardware.printer.REASONS)
    paper_low: bool = False
    path: str = ""               # the PNG, for a preview printer


def configured(settings: Settings) -> tuple[str, ...]:
    """The kinds this site prints at check-in: those whose printer has a URI."""
    return tuple(kind for kind in KINDS if getattr(settings.printer, kind).uri)


def open_printers(settings: Settings) -> dict[str, Printer]:
    """The configured printers by kind (one Printer object per URI: a shared printer is locked once).

    :raises DeviceUnavailable: a URI or profile the kiosk cannot drive
    """
    printers: dict[str, Printer] = {}
    by_uri: dict[str, Printer] = {}
    for kind in configured(settings):
        section = getattr(settings.printer, kind)
        if section.uri not in by_uri:
            by_uri[section.uri] = open_printer(section.uri, settings.kiosk.data_dir, profile=section.profile,
                                               timeout_s=section.timeout_s)
        printers[kind] = by_uri[section.uri]
    return printers


def layout_for(kind: str, admission: Admission, catalogs: Catalogs, settings: Settings) -> Layout:
    if kind == "ticket":
        return layouts.ticket_for(admission, catalogs, show_name=settings.printer.ticket.show_name)
    return layouts.wristband_for(admission, catalogs)


def attempt(printer: Printer, layout: Layout) -> Outcome:
    """Print once and say how it ended; never raises (a driver failure is a failed job). Thread-safe."""
    try:
        result = printer.print_layout(layout)
    except PrintFault as e:
        log.error("%s not printed: %s", type(layout).__name__, e.reason)
        return Outcome("failed", e.reason)
    except Exception:                # any driver failure must still reach the patient and staff
        log.exception("%s job failed", type(layout).__name__)
        return Outcome("failed", "printer_error_unexpected")
    return Outcome("printed" if result.confirmed else "unconfirmed", paper_low=result.paper_low,
                   path=str(result.path or ""))


def reprint(store: Store, printer: Printer, layout: Layout, kind: str, *, actor: str) -> Outcome:
    """Print a stored admission's ticket or wristband again, now (staff mode, ``kiosk print``).

    Recorded in ``prints``; when it prints, the admission's open printer faults are resolved.

    :raises kiosk.store.PrintInProgress: it is being printed at this moment
    """
    job = store.print_started(layout.admission_id, kind, actor)
    outcome = attempt(printer, layout)
    store.print_finished(job, outcome.status, outcome.reason)
    if outcome.status != "failed":
        store.resolve_incidents(layout.admission_id, IncidentKind.PRINTER_FAULT, actor, about=f"{kind}:")
    return outcome
