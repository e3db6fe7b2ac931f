"""What the desk page's actions do, without Flask: one action on an incident of this kiosk's store as the
page and the peer API both do it (``act_here``), what it says in the page's language (``say``), and this
kiosk's listing of open incidents (``listing_here``). Each action is a ``Staff`` method called with the
acting member's name, so the audit trail says who did it.
"""

from __future__ import annotations

from typing import Callable

from kiosk.desk import incidents
from kiosk.desk.peers import PEER_FIELDS
from kiosk.desk.staff import Staff
from kiosk.signin import StaffError
from kiosk.hardware.printer import PrintOutcome
from kiosk.messages import MSG_GONE, MSG_RESOLVED, MSG_TAKEN, N_

MSG_PRINTED = N_("Printed again.")
MSG_UNCONFIRMED = N_("Sent to the printer, which did not confirm it: check that it came out.")
MSG_NOT_PRINTED = N_("Not printed: check the printer (paper, cover, cable) and try again.")
MSG_RESENT = N_("Queued for the hospital system again: {count}.")

ACTIONS = ("take", "resolve", "reprint_ticket", "reprint_wristband", "resend", "cancel")


def buttons(incident: dict, reprint_kinds: tuple[str, ...]) -> list[str]:
    """The buttons an incident gets, in order: the same as in staff mode (kiosk.desk.incidents.actions), named
    for URLs (reprint_ticket for reprint:ticket)."""
    return [action.replace(":", "_") for action in incidents.actions(
        incident, admission_cancelled=incident.get("admission_cancelled") in (True, "True"), printers=reprint_kinds)]


class _NotPrinted(StaffError):
    """A reprint that did not print; ``reason`` is the printer's fault word (not translated)."""

    def __init__(self, reason: str):
        super().__init__(MSG_NOT_PRINTED)
        self.reason = reason


def _perform(staff: Staff, incident: dict, action: str, actor: str, form) -> dict:
    """Do one action as ``actor``; returns what to say, untranslated: {"message": msgid, "count": n}.

    :raises StaffError: as the Staff methods (``_NotPrinted`` with the printer's reason)
    """
    admission_id = incident.get("admission_id")
    if action == "take":
        staff.take(incident["id"], actor)
        return {"message": MSG_TAKEN}
    if action == "resolve":
        staff.resolve(incident["id"], actor, form.get("how", "done"), form.get("note", "")[:500])
        return {"message": MSG_RESOLVED}
    if action.startswith("reprint_"):
        outcome = staff.reprint(admission_id, action.removeprefix("reprint_"), actor)
        if outcome.status == PrintOutcome.PRINTED:
            return {"message": MSG_PRINTED}
        if outcome.status == PrintOutcome.UNCONFIRMED:
            return {"message": MSG_UNCONFIRMED}
        raise _NotPrinted(str(outcome.reason or ""))
    if action == "resend":
        return {"message": MSG_RESENT, "count": staff.resend(admission_id, actor)}
    if action == "cancel":
        return {"message": staff.cancel(admission_id, actor, form.get("note", "")[:500])}
    raise ValueError(action)


def act_here(staff: Staff, incident_id: int, action: str, actor: str, form,
             reprint_kinds: tuple[str, ...]) -> tuple[int, dict]:
    """One action on an incident of this kiosk's store, as the desk page and the peer API both do it:
    (HTTP status, {"message" or "error": msgid, "count", "reason"}), untranslated (``say`` translates)."""
    incident = next((row for row in staff.incidents() if row["id"] == incident_id), None)
    if incident is None:
        return 409, {"error": MSG_GONE}
    if action not in buttons(incident, reprint_kinds):
        return 404, {"error": "not found"}
    try:
        return 200, _perform(staff, incident, action, actor, form)
    except _NotPrinted as e:
        return 409, {"error": MSG_NOT_PRINTED, "reason": e.reason}
    except StaffError as e:
        return 409, {"error": str(e)}


def say(result: dict, _: Callable[[str], str]) -> dict:
    """An ``act_here`` result (of this kiosk or a peer's) in the page's language: {"message"} or {"error"}."""
    key = "message" if "message" in result else "error"
    text = _(str(result.get(key, "")))
    if "count" in result:
        text = text.replace("{count}", str(int(result["count"])))
    if result.get("reason"):                # a printer's fault (kiosk.hardware.printer.REASONS), said too
        reason = str(result["reason"])[:40]
        said = _(incidents.PRINTER_REASONS[reason]) if reason in incidents.PRINTER_REASONS else \
            _(incidents.TECHNICAL_CODE).format(code=reason)
        text = f"{text} ({said})"
    return {key: text}


def listing_here(staff: Staff, kiosk_id: str, reprint_kinds: tuple[str, ...]) -> dict:
    """This kiosk's open incidents as the peer API gives them and the page merges them: the fields the
    page shows, untranslated (nothing personal, see the module docstring)."""
    return {"kiosk": kiosk_id, "reprint_kinds": list(reprint_kinds),
            "incidents": [{key: row[key] for key in PEER_FIELDS} for row in staff.incidents()]}
