"""A pre-checked patient arriving at a kiosk (the kiosk API, docs/site.md): finding their pre-check-in by
the arrival code (typed, or in the QR code) or by the card they insert, and marking them arrived, once.

What a kiosk gets is what it needs to make the admission without asking again: the patient as invited
with their corrections (and which fields they changed), the form's answers, the consent, the appointment,
and what the "Is this you?" screen shows (given name, the family name's first letter, the appointment).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kiosk.site import precheck
from kiosk.site.db import SiteDb
from kiosk.site.schema import invitations, outbox
from kiosk.site.invitations import Invitation, find


class NotFound(LookupError):
    """No pre-check-in to arrive with; ``reason`` says why: unknown, other_site, not_finished, arrived."""

    def __init__(self, reason: str, sentence: str):
        super().__init__(sentence)
        self.reason = reason


@dataclass(frozen=True)
class Found:
    invitation: Invitation

    def as_json(self, form_url: str) -> dict:
        inv = self.invitation
        person = precheck.person(inv)
        return {"id": inv.id, "language": inv.language,
                "appointment": {"id": inv.appointment_id, "start": inv.start.isoformat(), "location": inv.location},
                "greeting": {"given": " ".join(person.given), "family_initial": person.family[:1]},
                "patient": {**inv.patient, **((inv.contact or {}).get("patient") or {})},
                "patient_entered": list((inv.contact or {}).get("fields", [])),
                "form": form_url, "answers": inv.answers or {}, "consent": inv.consent,
                "finished_at": inv.finished_at}


def by_code(site: SiteDb, text: str, site_id: str) -> Found:
    """The pre-check-in whose arrival code this is: ``text`` as scanned (``KIOSK1:<site>:<code>``) or typed.

    :raises NotFound: another site's code, an unknown or expired one, or one already used to arrive
    """
    text = text.strip()[:200]
    if text.upper().startswith(precheck.QR_PREFIX + ":"):
        parts = text.split(":")
        if len(parts) != 3 or parts[1] != site_id:
            raise NotFound("other_site", "This arrival code is of another site.")
        text = parts[2]
    now = int(time.time())
    with site.engine.connect() as conn:
        found_id = conn.execute(sa.select(invitations.c.id).where(
            invitations.c.arrival_hash == precheck.code_hash(text), invitations.c.expires_at > now,
            invitations.c.patient.is_not(None))).scalar_one_or_none()
    return _usable(site, found_id)


def by_identifier(site: SiteDb, system: str, value: str, day_start: int, day_end: int) -> Found:
    """Today's finished pre-check-in of the patient whose card carries this identifier (e.g. the KVNR), with
    an appointment between ``day_start`` and ``day_end`` (epoch seconds). :raises NotFound: none"""
    with site.engine.connect() as conn:
        rows = conn.execute(sa.select(invitations.c.id, invitations.c.patient, invitations.c.starts_at).where(
            invitations.c.finished_at.is_not(None), invitations.c.arrived_at.is_(None),
            invitations.c.patient.is_not(None), invitations.c.expires_at > int(time.time()))).all()
    matches = [r.id for r in rows
               if day_start <= datetime.fromisoformat(r.starts_at).timestamp() < day_end
               and {"system": system, "value": value} in json.loads(r.patient).get("identifier", [])]
    if len(matches) != 1:       # none, or two appointments today: the code tells them apart, the card not
        raise NotFound("unknown", "No pre-check-in for this card today.")
    return _usable(site, matches[0])


def _usable(site: SiteDb, invitation_id: str | None) -> Found:
    found = find(site, invitation_id=invitation_id) if invitation_id else None
    if found is None:
        raise NotFound("unknown", "No pre-check-in has this arrival code (it may have expired).")
    if found.arrived_at:
        raise NotFound("arrived", "This patient has arrived already.")
    if not found.finished_at:
        raise NotFound("not_finished", "This pre-check-in was not finished.")
    return Found(found)


def arrive(site: SiteDb, invitation_id: str, kiosk_id: str, admission_id: str) -> int:
    """Mark the patient arrived as ``admission_id`` of ``kiosk_id``; the same call again (a kiosk retrying)
    answers the same. :raises NotFound: unknown, or arrived as another admission"""
    now = int(time.time())
    with site.engine.begin() as conn:
        changed = conn.execute(sa.update(invitations).where(
            invitations.c.id == invitation_id, invitations.c.arrived_at.is_(None),
            invitations.c.finished_at.is_not(None), invitations.c.patient.is_not(None)).values(
            arrived_at=now, arrived_kiosk=kiosk_id[:64], arrived_admission=admission_id[:64])).rowcount
        row = conn.execute(sa.select(invitations.c.arrived_at, invitations.c.arrived_admission)
                           .where(invitations.c.id == invitation_id)).first()
        # The kiosk's admission carries the whole pre-check-in (kiosk.hospital.fhir.transaction): a version
        # still waiting here would reach the hospital after the arrival, as a pre-admit of someone admitted.
        conn.execute(sa.update(outbox).where(outbox.c.invitation_id == invitation_id, outbox.c.status == "pending")
                     .values(status="withdrawn"))
    if row is None or row.arrived_at is None:
        raise NotFound("unknown", "No finished pre-check-in has this id.")
    if not changed and row.arrived_admission != admission_id[:64]:
        raise NotFound("arrived", "This patient has arrived already.")
    return row.arrived_at


def wipe_arrived(site: SiteDb, retention_s: float, now: float | None = None) -> int:
    """Delete the pre-check-ins of patients who arrived more than ``retention_s`` ago, but for one the hospital
    system has not taken yet (kiosk.site.db.undelivered); how many."""
    limit = int((time.time() if now is None else now) - retention_s)
    with site.engine.begin() as conn:
        return site.wipe(conn, invitations.c.arrived_at <= limit)
