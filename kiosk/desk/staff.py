"""What front-desk staff do about incidents, on one kiosk's store: sign in, take, resolve, reprint,
resend, cancel, device status and out of service. Used by staff mode on the kiosk screen
(kiosk/screens/staff*.py) and by the desk web page (kiosk/desk/web.py), so that both act the same way and
every action lands in the audit trail with the staff member's name.

CONTRACT (written by the lead before the implementation; the signatures are what the screens and the
desk page code against: keep them, or change them in all three places):

- Staff members are rows of the store's ``staff`` table: a name (unique, shown in the audit trail), a
  PIN stored only as a salted scrypt hash (``hash_pin``/``verify_pin``), optional badge identifiers
  (a card identifier value, e.g. the KVNR or SSIN of the staff member's own card, matched exactly), and
  the count of wrong PINs and a lock time.
- Five wrong PINs in a row for one name lock that name for five minutes (``Locked``); a right PIN
  resets the count. Every sign-in, failed or not, is audited (never the PIN).
- Incidents have a life cycle: ``open`` -> ``taken`` (by whom, when) -> ``resolved`` (by whom, when,
  how: one of ``RESOLUTIONS``, and a note). Each change is one audit line. A resolved incident cannot
  change again.
- Actions that act on an admission (reprint, resend, cancel) resolve that admission's matching open
  incidents themselves (reprint: printer_fault of that kind; resend: sync_rejected; cancel: all of the
  admission's), with that resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from sqlite_utils.db import NotFoundError

from kiosk.hardware import printing
from kiosk.hardware.printer import PrinterState
from kiosk.i18n import Catalogs
from kiosk import signin
from kiosk.messages import N_
# The sign-in rule, the PINs and their sentences are kiosk.signin's, shared with the site's waiting list.
from kiosk.signin import NAME_TAKEN, NO_MEMBER, StaffError, checked_member, hash_pin
from kiosk.store import PrintInProgress, Store
from kiosk.times import moment

if TYPE_CHECKING:
    from kiosk.config import Settings

RESOLUTIONS = ("done", "reprinted", "resent", "cancelled", "not_needed")
OUT_OF_SERVICE = "out_of_service"



# The sentences staff see (English msgids; the screens and the desk page translate them).
BADGE_TAKEN = N_("This badge belongs to another staff member.")
NO_INCIDENT = N_("There is no such incident.")
ALREADY_RESOLVED = N_("This incident is resolved already.")
BAD_RESOLUTION = N_("Choose how the incident was resolved.")
NO_ADMISSION = N_("There is no such admission.")
CANCELLED = N_("This admission is cancelled.")
WIPED = N_("The personal data of this admission was wiped after the retention time (store.retention_h): there is "
           "nothing of it to print or send again.")
NO_PRINTER = N_("There is no printer for this here.")
PRINTING_NOW = N_("This is being printed right now: wait until it is out.")
CANCELLED_NOTHING_SENT = N_("The admission is cancelled. Nothing of it had reached the hospital system.")
CANCELLED_CANCEL_THERE = N_("The admission is cancelled here, but it had already reached the hospital system: "
                            "cancel it there too.")


@dataclass(frozen=True)
class DeviceStatus:
    reader: str                         # kiosk.hardware.reader.ReaderState value, or "" when unknown
    printers: dict                      # kind -> "ready" | "paper_low" | "paper_out" | ... | "unknown"
    outbox_pending: int
    outbox_refused: int                 # set aside (dead): need staff
    oldest_pending_s: float | None      # age of the oldest undelivered admission
    last_delivered_at: str              # ISO, "" when never
    out_of_service: bool


def printer_condition(printer) -> str:
    """What a printer says about itself, as one word: ready, paper_low, or a fault reason of
    kiosk.hardware.errors.REASONS (paper_out, cover_open, cutter_error, printer_error, offline);
    "unknown" when it cannot tell. Never raises. May block for the printer's timeout (a network
    printer is asked now): call it off the UI thread."""
    try:
        status = printer.status()
    except Exception:                   # a driver failing is a printer whose state is not known
        return PrinterState.UNKNOWN
    if not getattr(status, "known", False):
        return PrinterState.UNKNOWN
    return status.fault or (PrinterState.PAPER_LOW if status.paper_low else PrinterState.READY)


class Staff:
    """Staff actions on one kiosk's store. ``printers`` and ``layout_for`` are what reprint needs (the
    app's printers and ``kiosk.hardware.printing.layout_for`` bound to catalogs and settings); ``reader_state``
    returns the reader's state value for the device status.

    :param now: the clock (UTC), for the PIN lock; tests pass their own
    :param wake: called after a resend queued messages (the app wakes its sync worker with it)
    """

    def __init__(self, store: Store, *, printers: dict | None = None,
                 layout_for: Callable | None = None, reader_state: Callable[[], str] = lambda: "",
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 wake: Callable[[], None] = lambda: None):
        self.store = store
        self.printers = dict(printers or {})
        self.layout_for = layout_for
        self.reader_state = reader_state
        self._now = now
        self._wake = wake

    # --- members and signing in ---

    def add_member(self, name: str, pin: str, badges: tuple[str, ...] = (), *, actor: str = "it") -> None:
        """:raises StaffError: empty name, a PIN that is not 4-12 digits, or the name exists"""
        name = checked_member(name, pin)
        badges = tuple(dict.fromkeys(b.strip() for b in badges if b.strip()))
        if any(self.store.badge_holder(b) for b in badges):
            raise StaffError(BADGE_TAKEN)
        if not self.store.add_staff(name, hash_pin(pin), badges, actor):
            raise StaffError(NAME_TAKEN)

    def remove_member(self, name: str, *, actor: str = "it") -> None:
        """:raises StaffError: no such member"""
        if not self.store.remove_staff(name.strip(), actor):
            raise StaffError(NO_MEMBER)

    def members(self) -> list[dict]:
        """[{"name", "badges", "locked_until"}], never the hash."""
        now = self._now()
        return [{"name": m["name"], "badges": list(m["badges"]),
                 "locked_until": m["locked_until"] if self._locked(m, now) else ""} for m in self.store.staff()]

    @staticmethod
    def _locked(member: dict, now: datetime) -> bool:
        return bool(member["locked_until"]) and moment(member["locked_until"]) > now

    def sign_in(self, name: str, pin: str, *, where: str) -> str:
        """The member's name when the PIN is right (kiosk.signin.sign_in: the rule, the lock and the audit).

        :raises WrongPin: unknown name or wrong PIN (the same sentence for both)
        :raises Locked: five wrong PINs in a row; for five minutes
        """
        return signin.sign_in(self.store, name, pin, where=where, now=self._now())

    def signed_out(self, name: str, *, where: str, idle: bool) -> None:
        """Audit that ``name`` left staff mode (or the desk page) at ``where``: by a tap, or left alone (idle)."""
        self.store.staff_signed_out(name, where, "idle" if idle else "tap")

    def is_badge(self, identifier: str) -> bool:
        """Whether this card identifier is a member's badge (nothing is audited, no member read if not)."""
        return self.store.badge_holder(identifier) is not None

    def sign_in_badge(self, identifier: str, *, where: str) -> str | None:
        """The member whose badge this card identifier is, or None (audited either way; an unknown
        identifier, which may be a patient's, is not written down)."""
        member = self.store.badge_holder(identifier.strip())
        if member is None:
            self.store.staff_refused("", where, "badge")
            return None
        # A badge is a card in hand, not a guess: a name locked for wrong PINs still opens with it.
        self.store.staff_signed_in(member, where, how="badge")
        return member

    # --- incidents ---

    def incidents(self, *, include_resolved: bool = False) -> list[dict]:
        """Open and taken incidents (and resolved ones when asked), newest first, each a dict with id,
        kiosk_id, created_at, kind, severity, status, detail, admission_id, queue_number (of its
        admission, or ""), taken_by, taken_at, resolved_by, resolved_at, resolution, note, and
        admission_cancelled (a bool: what ``kiosk.desk.incidents.actions`` needs). No personal data.
        Text fields that are not set are ""."""
        keys = ("kiosk_id", "created_at", "kind", "severity", "status", "detail", "admission_id", "queue_number",
                "taken_by", "taken_at", "resolved_by", "resolved_at", "resolution", "note")
        return [{"id": row["id"], **{k: row[k] or "" for k in keys},
                 "admission_cancelled": bool(row["admission_cancelled"])}
                for row in self.store.incidents_for_staff(include_resolved)]

    def take(self, incident_id: int, actor: str) -> None:
        """:raises StaffError: no such incident, or already resolved"""
        row = self.store.take_incident(int(incident_id), actor)
        if row is None:
            raise StaffError(NO_INCIDENT)
        if row["status"] == "resolved":
            raise StaffError(ALREADY_RESOLVED)

    def resolve(self, incident_id: int, actor: str, how: str = "done", note: str = "") -> None:
        """:raises StaffError: no such incident, already resolved, or ``how`` not in RESOLUTIONS"""
        if how not in RESOLUTIONS:
            raise StaffError(BAD_RESOLUTION)
        row = self.store.resolve_incident(int(incident_id), actor, how, note.strip())
        if row is None:
            raise StaffError(NO_INCIDENT)
        if row["status"] == "resolved":
            raise StaffError(ALREADY_RESOLVED)

    # --- admissions ---

    def _admission(self, admission_id: str) -> dict:
        state = self.store.admission_state(admission_id)
        if state is None:
            raise StaffError(NO_ADMISSION)
        if state["cancelled_at"]:
            raise StaffError(CANCELLED)
        if state["wiped_at"]:
            raise StaffError(WIPED)
        return state

    def reprint(self, admission_id: str, kind: str, actor: str):
        """Print the admission's ticket or wristband again (kiosk.hardware.printing.reprint); returns its Outcome.
        Blocks while it prints: call it off the UI thread.

        :raises StaffError: no such admission (or a cancelled or wiped one), no printer of that kind, or it
            is printing right now
        """
        self._admission(admission_id)
        printer = self.printers.get(kind)
        if printer is None or self.layout_for is None:
            raise StaffError(NO_PRINTER)
        layout = self.layout_for(kind, self.store.get_admission(admission_id))
        try:
            return printing.reprint(self.store, printer, layout, kind, actor=actor)
        except PrintInProgress:
            raise StaffError(PRINTING_NOW) from None

    def resend(self, admission_id: str, actor: str) -> int:
        """Queue the admission's refused (dead) outbox messages again; returns how many. Its open
        sync_rejected incidents are resolved as resent when there was something to send.

        :raises StaffError: no such admission, or a cancelled or wiped one
        """
        self._admission(admission_id)
        count = self.store.requeue_admission(admission_id, actor)
        if count:
            self._wake()
        return count

    def cancel(self, admission_id: str, actor: str, note: str = "") -> str:
        """Cancel an admission (a patient who left, a double check-in): marked cancelled in the store,
        messages not yet delivered are withdrawn. Returns a sentence for staff: either that nothing reached
        the hospital system, or that it did and must be cancelled there too.

        :raises StaffError: no such admission, or already cancelled
        """
        try:
            counts = self.store.cancel_admission(admission_id, actor, note.strip())
        except NotFoundError:
            raise StaffError(NO_ADMISSION) from None
        if counts is None:
            raise StaffError(CANCELLED)
        _, delivered = counts
        return CANCELLED_CANCEL_THERE if delivered else CANCELLED_NOTHING_SENT

    # --- the kiosk ---

    def device_status(self) -> DeviceStatus:
        """The reader, each printer, the outbox and out of service. Asks network printers now, which
        may take their timeout: call it off the UI thread. Never raises for a device."""
        try:
            state = self.reader_state()
            reader = str(getattr(state, "value", state) or "")
        except Exception:               # a reader that cannot say is shown as unknown
            reader = ""
        printers: dict[str, str] = {}
        asked: dict[int, str] = {}      # kinds that share one printer ask it once
        for kind, printer in self.printers.items():
            if id(printer) not in asked:
                asked[id(printer)] = printer_condition(printer)
            printers[kind] = asked[id(printer)]
        figures = self.store.outbox_figures()
        oldest = None
        if figures["oldest_pending_at"]:
            oldest = max(0.0, (self._now() - moment(figures["oldest_pending_at"])).total_seconds())
        return DeviceStatus(reader=reader, printers=printers, outbox_pending=figures["pending"],
                            outbox_refused=figures["dead"], oldest_pending_s=oldest,
                            last_delivered_at=figures["last_delivered_at"], out_of_service=self.out_of_service())

    def set_out_of_service(self, on: bool, actor: str, note: str = "") -> None:
        """The patient screen shows "out of service" (and takes no cards) while on; kept in the store, so
        it survives a restart."""
        self.store.set_kiosk_state(OUT_OF_SERVICE, "on" if on else "off", actor, note.strip())

    def out_of_service(self) -> bool:
        return self.store.kiosk_state(OUT_OF_SERVICE, "off") == "on"


def staff_builder(settings: Settings, *, printers: dict | None = None, reader_state: Callable[[], str] = lambda: "",
                  wake: Callable[[], None] = lambda: None,
                  catalogs: Catalogs | None = None) -> Callable[[Store], Staff]:
    """How this process makes its ``Staff`` on a store connection: with the process's printers (kinds that
    share a printer share its lock: one job at a time), reprinting in the patient's language as at check-in
    (``catalogs``; default: the kiosk's languages), the reader's state and the delivery thread's wake-up."""
    catalogs = catalogs or Catalogs(settings.kiosk.languages)

    def layout_for(kind: str, admission):
        return printing.layout_for(kind, admission, catalogs, settings)

    def build(store: Store) -> Staff:
        return Staff(store, printers=printers, layout_for=layout_for, reader_state=reader_state, wake=wake)
    return build
