"""What staff read about an incident and what they may do about it: one place for staff mode on the kiosk
(kiosk.desk.staffmode, kiosk.screens.staff_screens) and the desk page (kiosk.desk.web), so that both say the same
sentences for one incident, in the reader's language, list incidents in the same order and offer the same
actions.

An incident's ``detail`` is a code, never prose (it reaches logs and metrics, and every reader has their
own language): what it holds depends on the kind (``texts`` turns kind and detail into sentences):

- ``help_requested``: the screen the patient pressed "Call staff" on (``kiosk.checkin.session.State`` value, e.g.
  ``confirm``);
- ``card_unsupported``, ``card_unreadable``: the card's reason (``unsupported``, ``unreadable``,
  ``invalid``: ``kiosk.hardware.cards.apdu.CardError.reason``);
- ``reader_fault``: the reader's reason (``pcscd_unavailable``, ``no_reader``, ``reader_error``);
- ``identity_unverified``: how the patient said who they are (``name``, or ``code`` for an appointment
  code and then the name);
- ``details_corrected``: the changed fields, comma-separated (``address,phone``; never their values);
- ``answer_needs_staff``: ``checked_in`` (the admission is stored) or ``left`` (the patient walked away
  before finishing);
- ``printer_fault``: ``<printer>:<reason>`` (``ticket:paper_out``; reasons as in
  ``kiosk.hardware.errors.REASONS``); ``paper_low``, ``printer_no_status``: the printer (``ticket``);
- ``sync_rejected``, ``duplicate_patient``, ``appointment_not_arrived``: ``<transport>:<reason code>``
  (``fhir:rejected``, ``hl7v2:rejected_AE``, ``fhir:appointment_not_arrived``...); ``hospital_unreachable``,
  ``cancel_in_hospital``: the transport (``fhir``, ``hl7v2``, ``folder``; ``site``: the site service, told that a
  pre-checked patient arrived, ``site:precheck_arrived``);
- ``ticket_number_shared`` (the site service's): the number;
- ``store_fault``: the class of the error (``OperationalError``), shown as a technical code;
- ``card_removed``, ``coverage_ended``, ``details_wrong``, ``arrival_code_used``: nothing (the kind says it all).

A detail this kiosk does not understand (a newer peer's, or one a store kept from before m007) is shown
as a technical code ("Technical code: ..."), never as if it were a sentence.

``actions`` gives, for one incident as ``kiosk.desk.staff.Staff.incidents`` lists it, the actions staff may take:
``take``, ``reprint:<printer kind>``, ``resend``, ``cancel``, ``resolve`` (in the order to show them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from kiosk.hardware.errors import REASONS as PRINTER_REASONS
from kiosk.hardware.printer import PrinterState
from kiosk.messages import N_
from kiosk.checkin.model import IncidentKind, Severity

# What each kind of incident means, for staff (a closed list: every IncidentKind has one, tested).
KIND_TEXTS = {
    IncidentKind.HELP_REQUESTED: N_("A patient pressed 'Call staff' and is waiting at the kiosk."),
    IncidentKind.CARD_REMOVED: N_("A card was taken out of the reader before it could be read."),
    IncidentKind.CARD_UNSUPPORTED: N_("A patient tried a card the kiosk does not read."),
    IncidentKind.CARD_UNREADABLE: N_("A patient's card could not be read."),
    IncidentKind.READER_FAULT: N_("The kiosk's card reader is not working."),
    IncidentKind.COVERAGE_ENDED: N_("The insurance cover on a patient's card has ended."),
    IncidentKind.IDENTITY_UNVERIFIED: N_("A patient checked in without a card: check who they are."),
    IncidentKind.DETAILS_WRONG: N_("A patient says the details from their card are wrong."),
    IncidentKind.DETAILS_CORRECTED: N_("A patient changed their address or phone number: check the new details."),
    IncidentKind.ANSWER_NEEDS_STAFF: N_("An answer in the intake questions needs a member of staff."),
    IncidentKind.PRINTER_FAULT: N_("A ticket or wristband was not printed."),
    IncidentKind.PAPER_LOW: N_("A printer's paper is nearly used up."),
    IncidentKind.PRINTER_NO_STATUS: N_("A printer took a job but did not say whether it printed: check that it came out."),
    IncidentKind.SYNC_REJECTED: N_("The hospital system refused an admission: enter it there by hand or send it again."),
    IncidentKind.DUPLICATE_PATIENT: N_("The hospital system holds this patient twice: merge the records there."),
    IncidentKind.HOSPITAL_UNREACHABLE: N_("The hospital system cannot be reached; admissions wait on the kiosk."),
    IncidentKind.CANCEL_IN_HOSPITAL: N_("An admission cancelled here had already reached the hospital system: "
                                        "cancel it there too."),
    IncidentKind.APPOINTMENT_NOT_ARRIVED: N_("An admission reached the hospital system, but its appointment could "
                                             "not be marked as arrived there: mark it by hand."),
    IncidentKind.STORE_FAULT: N_("The kiosk could not store an admission: the patient must check in at the desk."),
    IncidentKind.ARRIVAL_CODE_USED: N_("An arrival code that was used already was shown again; the patient is checking "
                                       "in at the kiosk: make sure they are the patient who pre-checked in."),
    IncidentKind.TICKET_NUMBER_SHARED: N_("Two of today's tickets carry the same number: when it is called, two "
                                          "patients may come. Give each kiosk a queue prefix of its own."),
}
SEVERITY_TEXTS = {Severity.HIGH: N_("Urgent"), Severity.MEDIUM: N_("Soon"), Severity.LOW: N_("When convenient")}
# Urgent first: the order of the lists on the desk page and in staff mode.
SEVERITY_ORDER = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)

# --- what a detail says (see the module docstring for what each kind's detail holds) ---

# help_requested: where the patient pressed "Call staff" (kiosk.checkin.session.State values; from the help screen
# nothing is raised, from the idle warning the screen under it counts).
SCREEN_TEXTS = {
    "welcome": N_("Pressed on the welcome screen."),
    "identify": N_("Pressed while choosing how to check in."),
    "enter_code": N_("Pressed while typing the appointment code."),
    "enter_name": N_("Pressed while typing name and date of birth."),
    "confirm": N_("Pressed while checking the details shown."),
    "correct": N_("Pressed while correcting address or phone number."),
    "questions": N_("Pressed during the intake questions."),
    "consent": N_("Pressed on the consent screen."),
    "done": N_("Pressed after checking in, on the last screen."),
    "arrival": N_("Pressed while looking at a pre-check-in."),
}
# card_unsupported, card_unreadable: kiosk.hardware.cards.apdu.CardError reasons.
CARD_TEXTS = {
    "unsupported": N_("The card is neither a German health card (eGK) nor a Belgian eID."),
    "unreadable": N_("The card did not answer as expected: it may be damaged, dirty or inserted the wrong way."),
    "invalid": N_("The card was read, but what it holds cannot be used (blocked, incomplete or impossible data)."),
    "removed": N_("The card was taken out during the read."),
}
# reader_fault: kiosk.hardware.pcsc's reasons.
READER_TEXTS = {
    "pcscd_unavailable": N_("The card reader service (pcscd) is not running: call IT."),
    "no_reader": N_("No card reader is connected: check its cable."),
    "reader_error": N_("The card reader reported an error; the kiosk keeps trying."),
}
# identity_unverified: Admission.identified_by without a card.
IDENTITY_TEXTS = {
    "name": N_("Identified only by the name and date of birth the patient typed."),
    "code": N_("Identified by an appointment code and the name and date of birth the patient typed."),
}
# details_corrected: kiosk.checkin.corrections field names, one line each.
FIELD_TEXTS = {"address": N_("Changed: the address."), "phone": N_("Changed: the phone number.")}
# answer_needs_staff: stored, or the patient left first.
ANSWER_TEXTS = {
    "checked_in": N_("The patient has checked in: see the admission for the answer and speak to them "
                     "before they are seen."),
    "left": N_("The patient left the kiosk before finishing and nothing was stored: look for them near the kiosk."),
}
# ... or at home, in the pre-check-in on their phone (the site service's: ``answered_at_home:<appointment id>``).
MSG_AT_HOME = N_("Answered at home in the pre-check-in, for appointment {appointment}: contact the patient before "
                 "they come.")
# Printers (kiosk.hardware.printing.KINDS), with their state: staff mode's device status says them the same way.
PRINTER_TEXTS = {"ticket": N_("Ticket printer: {state}"), "wristband": N_("Wristband printer: {state}")}
PRINTER_STATES = {PrinterState.READY: N_("ready"), PrinterState.PRINTING: N_("printing"),
                  PrinterState.PAPER_LOW: N_("paper running low"), PrinterState.PAPER_OUT: N_("out of paper"),
                  PrinterState.COVER_OPEN: N_("cover open"), PrinterState.OFFLINE: N_("offline"),
                  PrinterState.CUTTER_ERROR: N_("cutter stuck"), PrinterState.PRINTER_ERROR: N_("printer error"),
                  PrinterState.NOT_A_PRINTER: N_("no printer at that address"), PrinterState.UNKNOWN: N_("no status")}
# The hospital connection (kiosk.hospital.transports' names, hospital.transport).
TRANSPORT_TEXTS = {"fhir": N_("Connection: FHIR server"), "hl7v2": N_("Connection: HL7 v2 over MLLP"),
                   "folder": N_("Connection: drop folder"), "site": N_("Connection: site service")}
# Why the hospital system has an admission set aside, or a part of it (kiosk.hospital reason codes).
SYNC_TEXTS = {
    "rejected": N_("The hospital system refused the message as it was sent."),
    "possible_duplicate_patient": N_("The hospital system found more than one record that could be this patient."),
    "given_up": N_("The hospital system turned the message away too many times, so the kiosk stopped sending it."),
    "unsendable": N_("The admission cannot be written as a message for the hospital system (for example, "
                     "answers that no longer fit the form)."),
    "unreadable_admission": N_("The kiosk could not read the stored admission back to send it."),
    "appointment_not_arrived": N_("The admission arrived, but its appointment could not be marked as arrived: "
                                  "do that there by hand."),
    "precheck_arrived": N_("The pre-check-in was used for another admission already: check that this patient is the "
                           "one who pre-checked in."),
    "precheck_unknown": N_("The site service no longer holds the pre-check-in (it expired before the kiosk could say "
                           "that the patient arrived)."),
    "ticket_refused": N_("The site service refused the ticket: it is not on the waiting list; call the patient by "
                         "the number."),
}
# Reason codes with a value in them: (pattern, msgid with {value}).
SYNC_PATTERNS = (
    (re.compile(r"rejected_([A-Z]{2})"), N_("The hospital system answered with an error (HL7 acknowledgement {value}).")),
    (re.compile(r"http_(\d{3})"), N_("The hospital system answered with HTTP status {value}.")),
)
TECHNICAL_CODE = N_("Technical code: {code}")
MSG_NUMBER = N_("The number: {number}")


@dataclass(frozen=True)
class Message:
    """A sentence for staff: a msgid and what goes into its placeholders (translated where it is shown)."""
    text: str
    values: tuple = ()                    # (placeholder, value) pairs
    translated: tuple = ()                # the placeholders whose values are msgids too

    def render(self, translate: Callable[[str], str]) -> str:
        text = translate(self.text) if self.text else ""
        if not self.values:
            return text
        return text.format(**{k: translate(v) if k in self.translated else v for k, v in self.values})


def _code(value: str) -> Message:
    return Message(TECHNICAL_CODE, (("code", value),))


def _printer(printer: str, state_msgid: str) -> list[Message] | None:
    if printer not in PRINTER_TEXTS:
        return None
    return [Message(PRINTER_TEXTS[printer], (("state", state_msgid),), ("state",))]


def _sync_reason(reason: str) -> Message | None:
    if reason in SYNC_TEXTS:
        return Message(SYNC_TEXTS[reason])
    for pattern, text in SYNC_PATTERNS:
        if match := pattern.fullmatch(reason):
            return Message(text, (("value", match.group(1)),))
    return None


def _sync(detail: str) -> list[Message] | None:
    transport, _, reason = detail.partition(":")
    said = _sync_reason(reason)
    if transport not in TRANSPORT_TEXTS or said is None:
        return None
    return [Message(TRANSPORT_TEXTS[transport]), said]


def _one_of(table: dict[str, str]) -> Callable[[str], list[Message] | None]:
    return lambda detail: [Message(table[detail])] if detail in table else None


def _at_home(detail: str) -> list[Message] | None:
    """answer_needs_staff of the site service: ``answered_at_home:<appointment id>``."""
    code, _, appointment = detail.partition(":")
    return [Message(MSG_AT_HOME, (("appointment", appointment),))] if code == "answered_at_home" and appointment else None


def _fields(detail: str) -> list[Message] | None:
    names = detail.split(",")
    return [Message(FIELD_TEXTS[n]) for n in names] if all(n in FIELD_TEXTS for n in names) else None


def _printer_fault(detail: str) -> list[Message] | None:
    printer, _, reason = detail.partition(":")
    return _printer(printer, PRINTER_REASONS[reason]) if reason in PRINTER_REASONS else None


def _transport(detail: str) -> list[Message] | None:
    return [Message(TRANSPORT_TEXTS[detail])] if detail in TRANSPORT_TEXTS else None


# Per kind: detail -> its lines, or None when the detail is not one this kiosk writes. A kind missing here
# has no detail of its own (store_fault's error class is shown as a technical code).
_DETAILS: dict[IncidentKind, Callable[[str], list[Message] | None]] = {
    IncidentKind.HELP_REQUESTED: _one_of(SCREEN_TEXTS),
    IncidentKind.CARD_UNSUPPORTED: _one_of(CARD_TEXTS),
    IncidentKind.CARD_UNREADABLE: _one_of(CARD_TEXTS),
    IncidentKind.READER_FAULT: _one_of(READER_TEXTS),
    IncidentKind.IDENTITY_UNVERIFIED: _one_of(IDENTITY_TEXTS),
    IncidentKind.DETAILS_CORRECTED: _fields,
    IncidentKind.ANSWER_NEEDS_STAFF: lambda detail: _one_of(ANSWER_TEXTS)(detail) or _at_home(detail),
    IncidentKind.PRINTER_FAULT: _printer_fault,
    IncidentKind.PAPER_LOW: lambda detail: _printer(detail, PRINTER_STATES["paper_low"]),
    IncidentKind.PRINTER_NO_STATUS: lambda detail: _printer(detail, PRINTER_STATES[PrinterState.UNKNOWN]),
    IncidentKind.SYNC_REJECTED: _sync,
    IncidentKind.APPOINTMENT_NOT_ARRIVED: _sync,
    IncidentKind.DUPLICATE_PATIENT: _sync,
    IncidentKind.HOSPITAL_UNREACHABLE: _transport,
    IncidentKind.CANCEL_IN_HOSPITAL: _transport,
    IncidentKind.TICKET_NUMBER_SHARED: lambda detail: [Message(MSG_NUMBER, (("number", detail),))],
}


def messages(kind: str, detail: str) -> list[Message]:
    """What staff read about one incident, untranslated: the kind's sentence, then what its detail says
    (none, one or two lines). A kind or detail this kiosk does not know is a technical code."""
    known = kind_of(kind)
    if known is None:
        return [_code(str(kind))] + ([_code(detail)] if detail else [])
    lines = [Message(KIND_TEXTS[known])]
    if detail:
        lines += _DETAILS.get(known, lambda _detail: None)(detail) or [_code(detail)]
    return lines


def texts(kind: str, detail: str, translate: Callable[[str], str]) -> list[str]:
    """``messages`` in the reader's language (``translate`` gives a msgid's translation): the first is the
    kind's sentence."""
    return [m.render(translate) for m in messages(kind, detail or "")]


def urgent_first(rows: Iterable[dict]) -> list[dict]:
    """Incidents (dicts with severity, status, created_at and id, of one kiosk or several) in the order staff
    see them: high, medium, then low; within one severity the open ones before those a colleague has taken
    (they need someone; the taken ones are being seen to), each newest first. A severity this kiosk does not
    know (a newer peer's) comes first rather than be buried."""
    def rank(row: dict) -> tuple[int, bool]:
        severity = next((i for i, s in enumerate(SEVERITY_ORDER) if s.value == row.get("severity")), -1)
        return severity, row.get("status") == "taken"
    newest = sorted(rows, key=lambda row: (str(row.get("created_at") or ""), row.get("id") or 0), reverse=True)
    return sorted(newest, key=rank)            # stable: newest first within each rank


# The incidents a resend is for: the hospital system refused the admission's message.
RESEND_KINDS = frozenset({IncidentKind.SYNC_REJECTED, IncidentKind.DUPLICATE_PATIENT})
# Incidents about an admission that nothing done to the admission on the kiosk can help.
ONLY_TAKE_AND_RESOLVE = frozenset({IncidentKind.CANCEL_IN_HOSPITAL, IncidentKind.APPOINTMENT_NOT_ARRIVED})


def kind_of(value: str) -> IncidentKind | None:
    try:
        return IncidentKind(value)
    except ValueError:
        return None


def actions(incident: dict, *, admission_cancelled: bool, printers: tuple[str, ...]) -> list[str]:
    """What staff may do about ``incident`` (a row of ``Staff.incidents``: kind, status, admission_id,
    queue_number, detail), in the order to show them.

    - a resolved incident: nothing; ``take`` only while it is open; ``resolve`` while it is not resolved;
    - an incident without an admission (or whose admission was never stored: no queue number), with a
      cancelled admission, or one that only the hospital system can settle (``cancel_in_hospital``):
      nothing but take and resolve;
    - ``reprint:<kind>`` for each printer the kiosk has (a printer fault: the kind that failed first);
    - ``resend`` only for ``sync_rejected`` and ``duplicate_patient``;
    - ``cancel`` for any other incident with an admission.
    """
    status = incident.get("status") or "open"
    if status == "resolved":
        return []
    out = ["take"] if status == "open" else []
    kind = kind_of(incident.get("kind") or "")
    has_admission = bool(incident.get("admission_id")) and bool(incident.get("queue_number", True))
    if has_admission and not admission_cancelled and kind not in ONLY_TAKE_AND_RESOLVE:
        kinds = list(dict.fromkeys(printers))
        failed = (incident.get("detail") or "").split(":")[0].strip()
        if kind is IncidentKind.PRINTER_FAULT and failed in kinds:
            kinds.remove(failed)
            kinds.insert(0, failed)
        out += [f"reprint:{k}" for k in kinds]
        if kind in RESEND_KINDS:
            out.append("resend")
        out.append("cancel")
    out.append("resolve")
    return out
