"""What a patient does on their pages, kept on their invitation: the address and phone they corrected, their
answers, their consent, and at the end the arrival code they show at the kiosk.

Each step is saved as it is made, so the patient can leave and come back to the link; until they arrive
they may change anything. The checks are the kiosk's own (kiosk.checkin: corrections, answers): the same
rules on both.

The arrival code is made from the invitation's id with a key of the service's (HMAC-SHA-256), so the
patient's page can show it again whenever they come back, and it stays the same when they change an
answer (a code they saved as a file keeps working); the database keeps its SHA-256 to find the
invitation by at the kiosk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import sqlalchemy as sa

from kiosk.checkin import answers as checking
from kiosk.checkin.corrections import Correction
from kiosk.checkin.forms import Form
from kiosk.checkin.model import Incident, IncidentKind, Person, Severity
from kiosk.site.db import SiteDb
from kiosk.site.schema import insert_incident, invitations
from kiosk.site.invitations import Invitation

# The arrival code: 10 characters of Crockford's base 32 (no I, L, O, U: nothing to misread), 50 random
# bits, shown in two groups of five; with the site's prefix in the QR code, so a kiosk knows a code of
# another site from one it cannot find.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
QR_PREFIX = "KIOSK1"
ARRIVAL_KEY = "arrival_code_key"


def _save(site: SiteDb, invitation_id: str, *, incident: Incident | None = None, **values) -> None:
    """Keep a step (and raise ``incident`` with it), unless the patient has arrived; once the pre-check-in is
    finished, queue it for the hospital system with the step, in one transaction: what the patient changed
    after finishing is delivered again (kiosk.site.delivery)."""
    now = int(time.time())
    with site.engine.begin() as conn:
        # Once arrived, nothing changes (a page sent just before the kiosk read the pre-check-in).
        row = conn.execute(sa.update(invitations).where(invitations.c.id == invitation_id,
                                                        invitations.c.arrived_at.is_(None)).values(**values)
                           .returning(invitations.c.finished_at)).first()
        if incident and row is not None:
            insert_incident(conn, incident)
        queued = bool(row and row.finished_at) and site.queue_delivery(conn, invitation_id, now)
    if queued:
        site.queued()


def person(invitation: Invitation) -> Person:
    """The patient as invited, with their corrections."""
    contact = invitation.contact
    return Person.from_fhir({**invitation.patient, **(contact["patient"] if contact else {})})


def save_contact(site: SiteDb, invitation: Invitation, correction: Correction) -> None:
    """Keep the patient's correction of address and phone; one with no ``fields`` confirms them as invited."""
    patched = {}
    if correction.fields:
        others = [t for t in invitation.patient.get("telecom", []) if t["system"] != "phone"]
        patched = {"telecom": others + ([{"system": "phone", "value": correction.phone}] if correction.phone else []),
                   "address": [correction.address.to_fhir()] if correction.address else []}
    _save(site, invitation.id, contact=json.dumps({"fields": list(correction.fields), "patient": patched},
                                                  ensure_ascii=False))


def save_answer(site: SiteDb, invitation: Invitation, form: Form, link_id: str, value) -> dict:
    """Keep one answer (None: no answer); answers to questions it disables go. The answers now."""
    answers = dict(invitation.answers or {})
    if value is None:
        answers.pop(link_id, None)
    else:
        answers[link_id] = list(value) if isinstance(value, tuple) else value
    on = checking.enabled_items(form, answers)
    answers = {k: v for k, v in answers.items() if k in on}
    # An answer the form marks for staff (PHQ-9 item 9): the clinic hears of it now, not when the patient
    # comes (on the desk pages that list the site service: docs/site.md). The incident names the appointment
    # for staff to find the patient by; which answer stays with the answers.
    # Raised when such an answer is given or changed to another one that alerts, not by every later step.
    alerting = link_id in checking.alerts(form, answers) and (invitation.answers or {}).get(link_id) != answers[link_id]
    alert = (Incident(IncidentKind.ANSWER_NEEDS_STAFF, Severity.HIGH, f"answered_at_home:{invitation.appointment_id}",
                      admission_id=invitation.id) if alerting else None)
    _save(site, invitation.id, incident=alert, answers=json.dumps(answers, ensure_ascii=False))
    return answers


def save_consent(site: SiteDb, invitation: Invitation, decision: str, text_id: str, signature: str = "") -> None:
    """Keep the patient's consent: ``decision`` accepted or declined, the shown text's id, the signature's
    PNG as base64 (accepted with a signature pad only)."""
    _save(site, invitation.id, consent=json.dumps({"decision": decision, "text_id": text_id, "signature": signature}))


def arrival_code(site: SiteDb, invitation: Invitation) -> str:
    """The invitation's arrival code (the same every time)."""
    digest = hmac.new(site.secret(ARRIVAL_KEY), invitation.id.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    return "".join(CODE_ALPHABET[(number >> (5 * i)) & 31] for i in range(CODE_LENGTH))


def finish(site: SiteDb, invitation: Invitation, now: float | None = None) -> str:
    """Mark the pages done (the first time) and make the arrival code work; the code."""
    code = arrival_code(site, invitation)
    _save(site, invitation.id, finished_at=invitation.finished_at or int(time.time() if now is None else now),
          arrival_hash=code_hash(code))
    return code


def shown_code(code: str) -> str:
    """The code as the patient reads and types it: two groups of five."""
    return f"{code[:5]}-{code[5:]}"


def qr_text(site_id: str, code: str) -> str:
    """What the arrival QR code holds: ``KIOSK1:<site>:<code>``."""
    return f"{QR_PREFIX}:{site_id}:{code}"


def code_hash(code: str) -> str:
    """The SHA-256 of a code as typed or scanned: case, spaces and dashes do not count, and the letters a
    person may read for a digit (O, I, L) count as it."""
    clean = code.upper().replace("-", "").replace(" ", "").translate(str.maketrans("OIL", "011"))
    return hashlib.sha256(clean.encode()).hexdigest()
