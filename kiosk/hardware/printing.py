"""Tickets and wristbands for stored admissions: which layout, one attempt, and the staff reprint.

Used by the kiosk (each admission's prints, on a print thread), by ``kiosk print`` and by staff mode.
Every job is recorded in the store's ``prints`` table; one that fails raises an incident in the kiosk,
and a successful reprint resolves it. Nothing here retries a job: a second copy is printed only when
somebody asks for it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.hardware import layouts
from kiosk.hardware.errors import DeviceUnavailable, PrintFault
from kiosk.hardware.printer import Layout, Printer, PrintOutcome
from kiosk.hardware.printer_uri import open_printer
from kiosk.i18n import Catalogs
from kiosk.checkin.model import Admission, IncidentKind

if TYPE_CHECKING:                        # handed in: printing sits below the config and the store
    from kiosk.config import Settings
    from kiosk.store import Store

log = logging.getLogger(__name__)

KINDS = ("ticket", "wristband")


@dataclass(frozen=True)
class Outcome:
    status: PrintOutcome         # printed | unconfirmed | failed
    reason: str = ""             # why it failed (kiosk.hardware.errors.REASONS)
    paper_low: bool = False
    path: str = ""               # the PNG, for a preview printer


def configured(settings: Settings) -> tuple[str, ...]:
    """The kinds this site prints at check-in: those whose printer has a URI."""
    return tuple(kind for kind in KINDS if getattr(settings.printer, kind).uri)


def open_printers(settings: Settings) -> dict[str, Printer]:
    """The configured printers by kind. Kinds that share an address share one lock, so a printer that
    prints tickets and bands takes one job at a time; each keeps its own profile and timeout.

    :raises DeviceUnavailable: a URI or profile the kiosk cannot drive
    """
    printers: dict[str, Printer] = {}
    locks: dict[str, threading.Lock] = {}
    for kind in configured(settings):
        section = getattr(settings.printer, kind)
        printers[kind] = open_printer(section.uri, settings.kiosk.data_dir, profile=section.profile,
                                      timeout_s=section.timeout_s,
                                      lock=locks.setdefault(section.uri, threading.Lock()))
        if kind == "wristband":
            check_band_profile(printers[kind])
    return printers


def check_band_profile(printer: Printer) -> None:
    """Wristbands are drawn dot for dot at 203 dpi: on a printer with other dots they would come out
    the wrong size for the band.

    :raises DeviceUnavailable: the wristband printer's profile has another resolution
    """
    profile = getattr(printer, "profile", None)
    if profile is None:
        return                      # a preview printer writes the picture as it is
    from escpos.capabilities import get_profile

    from kiosk.hardware import raster
    dpi = get_profile(profile).profile_data.get("media", {}).get("dpi")
    if dpi != raster.DPI:
        raise DeviceUnavailable(f"The wristband printer's profile {profile} prints at {dpi or 'an unknown'} dpi, but "
                                f"wristbands are drawn for {raster.DPI} dpi printers (e.g. TM-L90, TM-T20II); "
                                "set printer.wristband.profile to one of those.")


def layout_for(kind: str, admission: Admission, catalogs: Catalogs, settings: Settings) -> Layout:
    if kind == "ticket":
        queue = settings.queues.queues().name(admission.queue) if admission.queue else ""
        return layouts.ticket_for(admission, catalogs, show_name=settings.printer.ticket.show_name, queue=queue)
    return layouts.wristband_for(admission, catalogs, national_ids=settings.printer.wristband.national_ids)


def attempt(printer: Printer, layout: Layout) -> Outcome:
    """Print once and say how it ended; never raises (a driver failure is a failed job). Thread-safe."""
    try:
        result = printer.print_layout(layout)
    except PrintFault as e:
        log.error("%s not printed: %s", type(layout).__name__, e.reason)
        return Outcome(PrintOutcome.FAILED, e.reason)
    except Exception as e:           # any driver failure must still reach the patient and staff
        # The type only: messages of drawing libraries may quote the patient number they refused.
        log.error("%s job failed: %s", type(layout).__name__, type(e).__name__)
        log.debug("the job's traceback", exc_info=True)
        return Outcome(PrintOutcome.FAILED, "printer_error_unexpected")
    return Outcome(PrintOutcome.PRINTED if result.confirmed else PrintOutcome.UNCONFIRMED, paper_low=result.paper_low,
                   path=str(result.path or ""))


def reprint(store: Store, printer: Printer, layout: Layout, kind: str, *, actor: str) -> Outcome:
    """Print a stored admission's ticket or wristband again, now (staff mode, ``kiosk print``).

    Recorded in ``prints``; when it prints, the admission's open printer faults are resolved.

    :raises kiosk.store.PrintInProgress: it is being printed at this moment
    """
    job = store.print_started(layout.admission_id, kind, actor)
    try:
        outcome = attempt(printer, layout)
    except BaseException:            # Ctrl-C on `kiosk print`: the job must not stay "printing"
        store.print_finished(job, PrintOutcome.INTERRUPTED, "interrupted")
        raise
    store.print_finished(job, outcome.status, outcome.reason)
    if outcome.status != PrintOutcome.FAILED:
        store.resolve_incidents(layout.admission_id, IncidentKind.PRINTER_FAULT, actor, about=f"{kind}:",
                                how="reprinted")
    return outcome
