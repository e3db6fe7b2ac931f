"""What staff read about an incident and what they may do about it: one place for staff mode on the kiosk
(kiosk.staffmode, kiosk.screens.staff_screens) and the desk page (kiosk.desk), so that both say the same
sentence for one kind of incident and offer the same actions.

``actions`` gives, for one incident as ``kiosk.staff.Staff.incidents`` lists it, the actions staff may take:
``take``, ``reprint:<printer kind>``, ``resend``, ``cancel``, ``resolve`` (in the order to show them).
"""

from __future__ import annotations

from kiosk.messages import N_
from kiosk.model import IncidentKind, Severity

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
    IncidentKind.ANSWER_NEEDS_STAFF: N_("An answer in the intake questions needs a member of staff (see the admission)."),
    IncidentKind.PRINTER_FAULT: N_("A ticket or wristband was not printed."),
    IncidentKind.PAPER_LOW: N_("A printer's paper is nearly used up."),
    IncidentKind.PRINTER_NO_STATUS: N_("A printer took a job but did not say whether it printed: check that it came out."),
    IncidentKind.SYNC_REJECTED: N_("The hospital system refused an admission: enter it there by hand or send it again."),
    IncidentKind.DUPLICATE_PATIENT: N_("The hospital system holds this patient twice: merge the records there."),
    IncidentKind.HOSPITAL_UNREACHABLE: N_("The hospital system cannot be reached; admissions wait on the kiosk."),
    IncidentKind.CANCEL_IN_HOSPITAL: N_("An admission cancelled here had already reached the hospital system: "
                                        "cancel it there too."),
    IncidentKind.STORE_FAULT: N_("The kiosk could not store an admission: the patient must check in at the desk."),
}
SEVERITY_TEXTS = {Severity.HIGH: N_("Urgent"), Severity.MEDIUM: N_("Soon"), Severity.LOW: N_("When convenient")}

# The incidents a resend is for: the hospital system refused the admission's message.
RESEND_KINDS = frozenset({IncidentKind.SYNC_REJECTED, IncidentKind.DUPLICATE_PATIENT})
# Incidents about an admission that nothing done to the admission on the kiosk can help.
ONLY_TAKE_AND_RESOLVE = frozenset({IncidentKind.CANCEL_IN_HOSPITAL})


def kind_of(value: str) -> IncidentKind | None:
    try:
        return IncidentKind(value)
    except ValueError:
        return None


def sentence(kind: str) -> str:
    """The sentence (msgid) for an incident kind's value; the value itself for a kind this kiosk does not know."""
    known = kind_of(kind)
    return KIND_TEXTS[known] if known else kind


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
