"""Staff mode on the kiosk screen (pure: no Kivy): who is signed in, which staff screen shows, what each
tap does through ``kiosk.desk.staff.Staff``, and which patient events it holds back.

Entering: a staff badge (a card whose identifier is a member's badge) or the corner gesture (five taps
within 3 s in the top-left corner of the top bar), which opens the sign-in screen (name and PIN). There is
no other way in.

The patient on the kiosk (the front desk's rule): staff come to the kiosk mostly because a patient called
them, or to see to a device while a patient waits. So a patient's session that has got past the first two
screens (welcome, identify: nothing typed or read yet) is kept, paused (no idle timer), and resumes on the
same screen when staff leave; from welcome or identify the kiosk starts again from welcome. Leaving with
"out of service" switched on ends a paused session too: no patient goes on at a kiosk taken out of service.

While staff mode is on, card events never reach the patient flow (a badge, or a card staff try out); while
the kiosk is out of service, the welcome screen takes no card and no "Start" (a badge still opens staff
mode, so that staff can switch it back on).
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timezone
from typing import Callable

from kiosk.desk import incidents
from kiosk.checkin.events import CardFailed, CardInserted, CardRead, CardRemoved, Scanned, Start
from kiosk.desk.incidents import Message
from kiosk.hardware.printer import PrintOutcome
from kiosk.hardware.reader import ReaderState
from kiosk.messages import N_
from kiosk.checkin.model import CardData, IncidentKind
from kiosk.desk.staff import Staff
from kiosk.signin import Locked, StaffError
from kiosk import times

log = logging.getLogger(__name__)



GESTURE_TAPS = 5
GESTURE_WITHIN_S = 3.0
CARD_EVENTS = (CardInserted, CardRead, CardRemoved, CardFailed)

# The same words as the desk page (kiosk.desk.incidents), so that staff read the same sentences for one incident
# and one printer.
SEVERITIES = {severity.value: text for severity, text in incidents.SEVERITY_TEXTS.items()}
READER_STATES = {ReaderState.NO_READER: N_("not connected"), ReaderState.EMPTY: N_("ready"),
                 ReaderState.READING: N_("reading a card"), ReaderState.CARD_PRESENT: N_("a card is in it"),
                 ReaderState.FAULT: N_("not working")}
PRINTER_STATES = incidents.PRINTER_STATES
PRINTER_NAMES = incidents.PRINTER_TEXTS


class Screen(enum.Enum):
    OFF = ""                          # the patient screens
    SIGN_IN = "staff_sign_in"
    INCIDENTS = "staff_incidents"     # the open incidents, device status, out of service, leave
    INCIDENT = "staff_incident"       # one incident and what can be done about it


NO_MESSAGE = Message("")


class CornerGesture:
    """Five taps within three seconds: each tap's time goes in, True once the fifth completes it."""

    def __init__(self, taps: int = GESTURE_TAPS, within_s: float = GESTURE_WITHIN_S):
        self.taps, self.within_s = taps, within_s
        self._times: list[float] = []

    def tap(self, now: float) -> bool:
        self._times = [t for t in self._times if now - t <= self.within_s] + [now]
        if len(self._times) >= self.taps:
            self._times = []
            return True
        return False

    def reset(self) -> None:
        self._times = []


class StaffMode:
    """Staff mode of one kiosk screen. The app asks it which screen to show (``screen``), for how long
    without a touch it lasts (``timer``), whether a patient event goes to the flow (``holds_back``), and
    forwards the staff's taps to its methods; each sets ``notice`` to what staff should read next."""

    def __init__(self, staff: Staff, *, kiosk_id: str, printers: tuple[str, ...] = (),
                 idle_timeout_s: float = 120.0, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 runner: Callable[[Callable, Callable], None] | None = None):
        """:param runner: ``runner(job, done)`` does ``job(staff)`` (device status, reprint: they may wait
            for a printer) and then calls ``done(result, error)`` with the StaffError it raised or None.
            The app runs the job on a thread with a Staff of its own; the default runs it here, now."""
        self.staff = staff
        self.runner = runner or self._run_here
        self.status: list[Message] = [Message(N_("Asking the devices..."))]
        self.status_pending = False
        self.where = f"kiosk {kiosk_id}"
        self.printers = tuple(printers)
        self.idle_timeout_s = idle_timeout_s
        self._now = now
        self.screen = Screen.OFF
        self.member = ""
        self.notice = NO_MESSAGE
        self.selected: int | None = None      # the incident on the INCIDENT screen
        self.confirming_cancel = False
        self.keeps_patient = False            # a patient's session waits under staff mode
        self.gesture = CornerGesture()
        self._out_of_service = False
        self.refresh_out_of_service()

    # --- in and out ---

    @property
    def active(self) -> bool:
        return self.screen is not Screen.OFF

    @property
    def signed_in(self) -> bool:
        return bool(self.member)

    def corner_tap(self, now: float, *, patient_active: bool) -> bool:
        """A tap in the corner; the fifth within 3 s opens the sign-in screen. True when it did."""
        if self.active or not self.gesture.tap(now):
            return False
        self.screen, self.notice = Screen.SIGN_IN, NO_MESSAGE
        self.keeps_patient = patient_active
        log.info("staff sign-in opened by the corner gesture")
        return True

    def sign_in(self, name: str, pin: str) -> bool:
        """The name and PIN typed on the sign-in screen; True when they are right (staff mode is on)."""
        if self.screen is not Screen.SIGN_IN:
            return False
        if not name.strip() or not pin:
            self.notice = Message(N_("Please enter your name and your PIN."))
            return False
        try:
            self.member = self.staff.sign_in(" ".join(name.split()), pin, where=self.where)
        except Locked as e:
            self.notice = Message(str(e))
            log.warning("staff sign-in refused: locked")
            return False
        except StaffError as e:               # WrongPin: unknown name or wrong PIN, one sentence for both
            self.notice = Message(str(e))
            log.warning("staff sign-in refused: wrong PIN")
            return False
        self._enter()
        return True

    def badge(self, card: CardData, *, patient_active: bool) -> bool:
        """A card read: True when it is a member's badge (staff mode is on), False for a patient's card.
        Only a card whose identifier is someone's badge is looked up (and audited) as one: a patient's card
        costs one look-up of each identifier's keyed digest and reads no member; the card itself is not kept."""
        if self.signed_in:
            return False
        values = {i.value for i in card.person.identifiers if i.value}
        for value in sorted(v for v in values if self.staff.is_badge(v)):
            member = self.staff.sign_in_badge(value, where=self.where)
            if member:
                if not self.active:
                    self.keeps_patient = patient_active
                self.member = member
                self._enter()
                return True
        return False

    def _enter(self) -> None:
        self.screen, self.notice, self.selected = Screen.INCIDENTS, NO_MESSAGE, None
        self.confirming_cancel = False
        self.gesture.reset()
        log.info("staff mode on")
        self.refresh_status()

    def leave(self, *, idle: bool = False) -> bool:
        """Back to the patient screens. True when a paused patient's session may go on (else: wipe it)."""
        if not self.active:
            return False
        resume = self.keeps_patient and not self.out_of_service
        member = self.member
        self.screen, self.member, self.selected = Screen.OFF, "", None
        self.notice, self.confirming_cancel, self.keeps_patient = NO_MESSAGE, False, False
        self.gesture.reset()
        log.info("staff mode off%s", " (idle)" if idle else "")
        if member:
            try:
                self.staff.signed_out(member, where=self.where, idle=idle)
            except Exception as e:            # leaving never fails for want of an audit line
                log.error("staff sign-out not audited: %s", type(e).__name__)
        return resume

    def timer(self) -> float | None:
        """Seconds without a touch before staff mode ends by itself, or None when it is off."""
        return self.idle_timeout_s if self.active else None

    def holds_back(self, event: object, *, at_welcome: bool) -> bool:
        """True when ``event`` must not reach the patient flow: card events and scans in staff mode, and
        cards, scans and Start on the welcome screen of a kiosk out of service."""
        if self.active:
            return isinstance(event, (*CARD_EVENTS, Scanned, Start))
        return at_welcome and self.out_of_service and isinstance(event, (*CARD_EVENTS, Scanned, Start))

    # --- out of service ---

    @property
    def out_of_service(self) -> bool:
        return self._out_of_service

    def refresh_out_of_service(self) -> bool:
        """Read it again from the store (the desk page may switch it); True when it changed."""
        now = bool(self.staff.out_of_service())
        changed, self._out_of_service = now != self._out_of_service, now
        return changed

    def toggle_out_of_service(self) -> None:
        if not self.signed_in:
            return
        on = not self._out_of_service
        self._act(lambda: self.staff.set_out_of_service(on, self.member))
        self._out_of_service = bool(self.staff.out_of_service())
        if self._out_of_service == on:
            self.notice = Message(N_("The kiosk is out of service: patients are sent to the front desk.") if on
                                  else N_("The kiosk takes patients again."))

    # --- incidents ---

    def rows(self) -> list[dict]:
        """The open and taken incidents of this kiosk, urgent first (``kiosk.desk.incidents.urgent_first``, as on
        the desk page), as the list shows them: queue numbers only, never a patient's name."""
        return [self._row(i) for i in incidents.urgent_first(self.staff.incidents())]

    def _row(self, incident: dict) -> dict:
        kind = _kind(incident.get("kind", ""))
        allowed = incidents.actions(incident, admission_cancelled=bool(incident.get("admission_cancelled")),
                                    printers=self.printers)
        return {
            "id": incident["id"],
            "kind": kind.value if kind else incident.get("kind", ""),
            # What the kind and the detail say (kiosk.desk.incidents.messages): translated by the screen.
            "said": tuple(incidents.messages(incident.get("kind", ""), incident.get("detail") or "")),
            "severity": SEVERITIES.get(incident.get("severity", ""), ""),
            "severity_code": incident.get("severity", ""),
            "time": self.clock(incident.get("created_at", "")),
            "queue_number": incident.get("queue_number") or "",
            "admission_id": incident.get("admission_id") or "",
            "status": incident.get("status", "open"),
            "taken_by": incident.get("taken_by") or "",
            "actions": tuple(allowed),        # kiosk.desk.incidents.actions: what staff may do about it
            "reprint": tuple(a.split(":", 1)[1] for a in allowed if a.startswith("reprint:")),
        }

    def clock(self, iso: str) -> str:
        """When, as a front desk says it: 13:45 today, 26.11. 13:45 before."""
        try:
            moment = times.moment(iso).astimezone()
        except ValueError:
            return ""
        today = self._now().astimezone().date()
        return moment.strftime("%H:%M" if moment.date() == today else "%d.%m. %H:%M")

    def selected_row(self) -> dict | None:
        if self.selected is None:
            return None
        return next((r for r in self.rows() if r["id"] == self.selected), None)

    def open_incident(self, incident_id: int) -> None:
        if self.signed_in:
            self.screen, self.selected, self.notice, self.confirming_cancel = \
                Screen.INCIDENT, incident_id, NO_MESSAGE, False

    def back_to_list(self, notice: Message = NO_MESSAGE) -> None:
        if self.signed_in:
            self.screen, self.selected, self.notice, self.confirming_cancel = Screen.INCIDENTS, None, notice, False

    def take(self) -> None:
        row = self.selected_row()
        if row and "take" in row["actions"] and self._act(lambda: self.staff.take(row["id"], self.member)):
            self.notice = Message(N_("You have taken this incident."))

    def resolve(self, how: str = "done", note: str = "") -> None:
        row = self.selected_row()
        if row and self._act(lambda: self.staff.resolve(row["id"], self.member, how, note.strip())):
            self.back_to_list(Message(N_("Resolved.")))

    def _run_here(self, job: Callable, done: Callable) -> None:
        try:
            result = job(self.staff)
        except StaffError as e:
            done(None, e)
        else:
            done(result, None)

    def reprint(self, kind: str) -> None:
        """Print it again (on the runner: the printer may take its time); the notice says how it went."""
        row = self.selected_row()
        if not row or kind not in row["reprint"] or not self.signed_in:
            return
        member = self.member
        self.notice = Message(N_("Printing..."))
        self.runner(lambda staff: staff.reprint(row["admission_id"], kind, member),
                    lambda outcome, error: self._reprinted(row, kind, outcome, error))

    def _reprinted(self, row: dict, kind: str, outcome, error: StaffError | None) -> None:
        if not self.signed_in:
            return                            # staff left meanwhile; the store has the print job
        if error is not None:
            self.notice = Message(str(error))
            return
        status = getattr(outcome, "status", "")
        if status == PrintOutcome.FAILED:
            self.notice = Message(N_("It did not print. Please check the printer, then try again."))
            return
        printed = N_("The ticket for {queue} was printed again.") if kind == "ticket" \
            else N_("The wristband for {queue} was printed again.")
        message = Message(printed, (("queue", row["queue_number"]),))
        if self.screen is Screen.INCIDENT and self.selected == row["id"] and self.selected_row() is None:
            self.back_to_list(message)         # the reprint resolved the fault
        else:
            self.notice = message

    def resend(self) -> None:
        row = self.selected_row()
        if not row or "resend" not in row["actions"]:
            return
        count = self._act(lambda: self.staff.resend(row["admission_id"], self.member))
        if count is None:
            return
        if not count:
            self.notice = Message(N_("Nothing of this admission waits to be sent again."))
        elif self.selected_row() is None:
            self.back_to_list(Message(N_("The admission will be sent to the hospital system again.")))
        else:
            self.notice = Message(N_("The admission will be sent to the hospital system again."))

    def cancel(self, note: str = "") -> None:
        """The first tap asks; the second cancels the admission (with the note typed, if any, on the
        incidents it resolves)."""
        row = self.selected_row()
        if not row or "cancel" not in row["actions"]:
            return
        if not self.confirming_cancel:
            self.confirming_cancel = True
            self.notice = Message(N_("Tap 'Cancel admission' again to cancel admission {queue}."),
                                  (("queue", row["queue_number"]),))
            return
        self.confirming_cancel = False
        said = self._act(lambda: self.staff.cancel(row["admission_id"], self.member, note.strip()))
        if said is not None:
            self.back_to_list(Message(said or N_("The admission is cancelled.")))

    def refresh_status(self) -> None:
        """Ask the devices again (on the runner: a network printer may take its timeout to answer)."""
        if self.status_pending or not self.signed_in:
            return
        self.status_pending = True
        self.runner(lambda staff: staff.device_status(), self._got_status)

    def _got_status(self, status, error: StaffError | None) -> None:
        self.status_pending = False
        self.status = [Message(N_("The device status is not known."))] if error or status is None \
            else self.status_lines(status)

    def status_lines(self, s) -> list[Message]:
        """The kiosk's devices and its backlog (a kiosk.desk.staff.DeviceStatus), one sentence each."""
        lines = [Message(N_("Card reader: {state}"), (("state", READER_STATES.get(s.reader, N_("not known"))),),
                         ("state",))]
        for kind, state in sorted(s.printers.items()):
            if kind in PRINTER_NAMES:
                lines.append(Message(PRINTER_NAMES[kind], (("state", PRINTER_STATES.get(state, N_("not working"))),),
                                     ("state",)))
        lines.append(Message(N_("Waiting for the hospital system: {count}"), (("count", s.outbox_pending),)))
        if s.oldest_pending_s:
            lines.append(Message(N_("The oldest has waited {minutes} min."),
                                 (("minutes", max(1, round(s.oldest_pending_s / 60))),)))
        if s.outbox_refused:
            lines.append(Message(N_("Refused by the hospital system: {count}"), (("count", s.outbox_refused),)))
        lines.append(Message(N_("Last delivery: {time}"), (("time", self.clock(s.last_delivered_at)),))
                     if s.last_delivered_at else Message(N_("Nothing delivered yet.")))
        return lines

    def _act(self, action: Callable[[], object]) -> object | None:
        """Do a staff action; a StaffError becomes the notice. Returns the action's result (None on error;
        True for an action that returns nothing)."""
        if not self.signed_in:
            return None
        try:
            result = action()
        except StaffError as e:
            self.notice = Message(str(e))
            return None
        return True if result is None else result


def _kind(value: str) -> IncidentKind | None:
    return incidents.kind_of(value)
