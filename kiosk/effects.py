"""The check-in flow's effects outside the screen (no Kivy): admissions saved in the store, tickets and
wristbands printed, appointments looked up in the hospital system, pre-check-ins at the site service,
incidents raised; and the delivery to the hospital system and the site service (a thread each), which a
saved admission wakes.

The app hands each effect of ``kiosk.checkin.flow.CheckIn`` to ``perform`` on its UI thread. What takes
time (a print, a look-up) runs on a thread of its own and comes back through what the app ``connect``s:
``post(event)`` and ``call_soon(fn)``, both callable from any thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Callable

from kiosk.checkin.events import (AdmissionFailed, AdmissionStored, AppointmentFound, ArrivalFound, FindArrival,
                                  LookUpAppointment, Print, PrintFinished, RaiseIncident, SaveAdmission)
from kiosk.checkin.model import Incident, IncidentKind, Severity
from kiosk.hardware import printing
from kiosk.store import STORE_ERRORS, PrintInProgress, Store

if TYPE_CHECKING:
    from kiosk.checkin.flow import CheckIn
    from kiosk.config import Settings
    from kiosk.hardware.printer import Printer
    from kiosk.i18n import Catalogs

log = logging.getLogger(__name__)


class Effects:
    """The flow's effects on the kiosk's store (the UI thread's connection), its printers and the hospital
    system. ``catalogs``: the tickets' and wristbands' languages."""

    def __init__(self, settings: Settings, *, store: Store, printers: dict[str, Printer], flow: CheckIn,
                 catalogs: Catalogs):
        self.settings = settings
        self.store = store
        self.printers = printers
        self.flow = flow
        self.catalogs = catalogs
        self.sync = self.lookup = None            # once the first screen is up: connect_hospital
        self.site = self.site_sync = None         # the site service's client and arrivals' delivery, likewise
        self.last_prints: dict[str, str] = {}     # kind -> the PNG a preview printer wrote last
        self.print_threads: list[threading.Thread] = []
        self._post: Callable[[object], None] = lambda event: None
        self._call_soon: Callable[[Callable[[], object]], None] = lambda fn: None

    def connect(self, *, post: Callable[[object], None], call_soon: Callable[[Callable[[], object]], None]) -> None:
        """Where results come back from other threads: ``post(event)`` delivers an event to the flow;
        ``call_soon(fn)`` runs ``fn`` on the UI thread and delivers the event it returns (if any)."""
        self._post, self._call_soon = post, call_soon

    def interrupt_prints(self) -> None:
        """A stopped kiosk's half-done print jobs: each marked interrupted, with an incident for staff to judge."""
        for job in self.store.interrupt_prints():
            self.store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH,
                                               f"{job['kind']}:interrupted", admission_id=job["admission_id"]))

    def connect_hospital(self) -> None:
        """Delivery to the hospital system (its thread) and appointment lookups: set up once the welcome
        screen is shown, since loading the HTTP and HL7 libraries would otherwise delay it."""
        hospital = self.settings.hospital
        if self.settings.site.url and self.site is None:
            self._connect_site()
        if hospital.transport == "none" or self.sync is not None:
            return
        from kiosk.hospital import appointments, outbox
        from kiosk.store.opening import open_store
        self.sync = outbox.SyncThread(self.settings, self.flow.form, open_store)
        self.sync.start()
        if hospital.transport == "fhir":
            try:
                self.lookup = appointments.AppointmentLookup(hospital)   # its own session
            except Exception as e:             # e.g. an unreadable token file: walk-ins only
                log.error("appointment lookups are off: %s", type(e).__name__)
                self.flow.look_up_appointments = False

    def _connect_site(self) -> None:
        """The site service's client (for look-ups) and the delivery of arrivals to it (``site`` in the outbox)."""
        from kiosk.hospital import outbox, site_client
        from kiosk.store.opening import open_store
        try:
            self.site = site_client.SiteClient.from_settings(self.settings)
        except Exception as e:                 # an unreadable secret: no pre-check-in, the kiosk's own check-in
            log.error("pre-check-in look-ups are off: %s", type(e).__name__)
            self.flow.find_arrivals = False
            return
        self.site_sync = outbox.SyncThread(self.settings, self.flow.form, open_store,
                                           (site_client.DESTINATION, site_client.SiteArrivals))
        self.site_sync.start()

    def wake_sync(self) -> None:
        """New messages wait in the outbox: the delivery threads (if they run yet) send them now."""
        for sync in (self.sync, self.site_sync):
            if sync:
                sync.wake()

    def stop(self) -> None:
        """The kiosk stops: the delivery threads end, and prints under way get a little time to finish."""
        for sync in (self.sync, self.site_sync):
            if sync:
                sync.stop()
        for thread in self.print_threads:
            thread.join(timeout=5)

    def perform(self, effect: object) -> object | None:
        """Perform ``effect`` (on the UI thread); returns the event that follows from it at once, if any."""
        if isinstance(effect, SaveAdmission):
            return self._save(effect)
        if isinstance(effect, Print):
            return self._print(effect.admission, effect.kind)
        if isinstance(effect, LookUpAppointment):
            self._look_up(effect.identifier)
        elif isinstance(effect, FindArrival):
            self._find_arrival(effect)
        elif isinstance(effect, RaiseIncident):
            self._raise(effect.incident)
        return None

    def _save(self, effect: SaveAdmission) -> AdmissionStored | AdmissionFailed:
        settings, admission = self.settings, effect.admission
        destinations = () if settings.hospital.transport == "none" else (settings.hospital.transport,)
        number, wait_min = "", 0
        if settings.site.url:
            # The site's number when it gives one at once, else the kiosk's own; either way the ticket reaches
            # the site's waiting list (and a pre-check-in is marked arrived) through the outbox.
            destinations += ("site",)
            self.connect_hospital()
            if self.site is not None and admission.queue:
                number, wait_min = self.site.number(admission.id, settings.kiosk.id, admission.queue)
        try:
            stored = self.store.save_admission(replace(admission, wait_min=wait_min),
                                               queue_prefix=settings.kiosk.queue_prefix, queue_number=number,
                                               destinations=destinations, prints=self.flow.prints)
        except STORE_ERRORS as e:
            log.error("admission not stored: %s", type(e).__name__)
            return AdmissionFailed(type(e).__name__)
        log.info("admission stored queue=%s", stored.queue_number)
        self.wake_sync()
        return AdmissionStored(stored.queue_number, stored.wait_min)

    def _raise(self, incident: Incident) -> None:
        log.warning("incident %s severity=%s", incident.kind.value, incident.severity.value)
        try:
            self.store.raise_incident(incident)
        except STORE_ERRORS as e:
            log.error("incident %s not stored: %s", incident.kind.value, type(e).__name__)

    def _print(self, admission, kind: str) -> PrintFinished | None:
        """Print on a thread; record the job in the store and tell the flow how it ended."""
        layout = printing.layout_for(kind, admission, self.catalogs, self.settings)
        try:
            job_id = self.store.print_started(admission.id, kind, "kiosk")
        except PrintInProgress:          # staff are printing it this very moment
            return PrintFinished(admission.id, kind, "failed", "busy")
        except STORE_ERRORS as e:
            log.error("print job not recorded: %s", type(e).__name__)
            job_id = None

        def job() -> None:
            outcome = printing.attempt(self.printers[kind], layout)
            self._call_soon(lambda: self._printed(job_id, admission.id, kind, outcome))

        self.print_threads = [t for t in self.print_threads if t.is_alive()]
        thread = threading.Thread(target=job, name=f"print-{kind}", daemon=True)
        self.print_threads.append(thread)
        thread.start()
        return None

    def _printed(self, job_id, admission_id: str, kind: str, outcome) -> PrintFinished:
        if job_id is not None:
            try:
                self.store.print_finished(job_id, outcome.status, outcome.reason)
            except STORE_ERRORS as e:
                log.error("print job %s not recorded: %s", job_id, type(e).__name__)
        self.last_prints[kind] = outcome.path
        return PrintFinished(admission_id, kind, outcome.status, outcome.reason, outcome.paper_low)

    def _look_up(self, identifier) -> None:
        """Ask the hospital system on a thread; the patient goes on meanwhile (walk-in if no answer)."""
        today = datetime.now().astimezone().date()
        self.connect_hospital()              # the card came before its scheduled turn (just after start)
        lookup = self.lookup                 # None: lookups are off (walk-in)
        wait_s = self.settings.hospital.appointment_lookup_s

        def job() -> None:
            found = lookup and lookup.find_appointment(identifier, today, wait_s)
            self._post(AppointmentFound(identifier.value, found))
        threading.Thread(target=job, name="appointment-lookup", daemon=True).start()

    def _find_arrival(self, effect: FindArrival) -> None:
        """Ask the site service on a thread (within site.timeout_s); the answer comes back as ArrivalFound."""
        self.connect_hospital()              # a scan before its scheduled turn (just after start)
        site = self.site
        asked = "code" if effect.identifier is None else effect.identifier.value

        def job() -> None:
            from kiosk.hospital.site_client import Lookup
            if site is None:
                found = Lookup(reason="unreachable")
            elif effect.identifier is None:
                found = site.find_by_code(effect.code)
            else:                            # the kiosk's day: local midnight to midnight
                day = date.today()           # naive midnights read as local time: a 23 or 25 hour day too
                start, end = (datetime.combine(d, time()).timestamp() for d in (day, day + timedelta(days=1)))
                found = site.find_by_card(effect.identifier, int(start), int(end))
            self._post(ArrivalFound(asked, found.arrival, found.reason))
        threading.Thread(target=job, name="arrival-lookup", daemon=True).start()
