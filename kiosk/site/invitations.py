"""Invitations: one per appointment, each a link with a random token that opens the patient's pages.

The token (192 random bits) is in the link only; the database keeps its SHA-256, so a copy of the database
opens no one's pages. A link works until the end of its appointment's day (midnight after it, in the
offset the appointment was given in), until ``site.birth_date_tries`` wrong birth dates lock it, or until a
new link for the same appointment replaces it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.site.db import SiteDb
from kiosk.site.schema import invitations

TOKEN_BYTES = 24
ID_MAX, LOCATION_MAX, NAME_MAX, LIST_MAX = 128, 200, 200, 10
GENDERS = ("male", "female", "other", "unknown")


class InvitationError(ValueError):
    """An invitation request that cannot be made; the message is one sentence for the sender."""


class InvitationExists(InvitationError):
    """The appointment has an invitation already (``replace`` makes a new link)."""


@dataclass(frozen=True)
class Request:
    """What an invitation is made from, checked."""

    appointment_id: str
    start: datetime
    location: str
    patient: dict
    language: str

    @property
    def expires(self) -> datetime:
        """Midnight after the appointment's day, in the offset the appointment was given in."""
        day_after = self.start.date() + timedelta(days=1)
        return datetime(day_after.year, day_after.month, day_after.day, tzinfo=self.start.tzinfo)


@dataclass(frozen=True)
class Invitation:
    id: str
    token_hash: str
    appointment_id: str
    start: datetime
    location: str
    language: str
    patient: dict
    failed_tries: int
    expires_at: int
    contact: dict | None = None         # the patient's correction of address and phone (kiosk.site.precheck)
    answers: dict | None = None         # {linkId: value}, as kiosk.checkin.answers checks them
    consent: dict | None = None         # {"decision", "text_id", "signature" (PNG, base64) or ""}
    finished_at: int | None = None      # when the patient finished their pages (the arrival code was made)
    arrived_at: int | None = None       # when they arrived at a kiosk
    arrived_admission: str = ""         # the kiosk's admission they arrived as

    @property
    def birth_date(self) -> str:
        return self.patient.get("birthDate", "")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _text(value: Any, what: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvitationError(f"{what} must be a text.")
    value = value.strip()
    if len(value) > max_len or not value.isprintable():
        raise InvitationError(f"{what} must be at most {max_len} printable characters on one line.")
    return value


def _patient(value: Any, today: date) -> dict:
    """The parts of a FHIR Patient the service needs: name, birthDate, gender, identifier (to know the patient's
    card at the kiosk), telecom (phone, email), the first address (for the patient to confirm)."""
    if not isinstance(value, dict) or value.get("resourceType") != "Patient":
        raise InvitationError("patient must be a FHIR Patient (resourceType Patient).")
    birth = value.get("birthDate")
    try:
        born = date.fromisoformat(birth) if isinstance(birth, str) and len(birth) == 10 else None
    except ValueError:
        born = None
    if born is None or born > today:
        raise InvitationError("patient.birthDate must be a full date in the past, YYYY-MM-DD: the patient opens "
                              "their pages with it.")
    names = value.get("name")
    if not isinstance(names, list) or not names or not isinstance(names[0], dict):
        raise InvitationError("patient.name must hold the patient's name (family and given).")
    given = names[0].get("given", [])
    if not isinstance(given, list):
        raise InvitationError("patient.name[0].given must be a list of texts.")
    name = {"family": _text(names[0].get("family"), "patient.name[0].family", NAME_MAX),
            "given": [_text(g, "patient.name[0].given", NAME_MAX) for g in given]}
    telecom = value.get("telecom", [])
    if not isinstance(telecom, list) or len(telecom) > LIST_MAX:
        raise InvitationError(f"patient.telecom must be a list of at most {LIST_MAX} entries.")
    kept: dict[str, Any] = {"resourceType": "Patient", "name": [name], "birthDate": birth}
    if value.get("gender") in GENDERS:
        kept["gender"] = value["gender"]
    for entry in telecom:
        if not isinstance(entry, dict) or entry.get("system") not in ("phone", "email", "sms"):
            raise InvitationError("patient.telecom entries must each have a system of phone, sms or email.")
        kept.setdefault("telecom", []).append(
            {"system": entry["system"], "value": _text(entry.get("value"), "patient.telecom value", NAME_MAX)})
    identifiers = value.get("identifier", [])
    if not isinstance(identifiers, list) or len(identifiers) > LIST_MAX:
        raise InvitationError(f"patient.identifier must be a list of at most {LIST_MAX} entries.")
    for entry in identifiers:
        if not isinstance(entry, dict):
            raise InvitationError("patient.identifier entries must each be an object with system and value.")
        kept.setdefault("identifier", []).append(
            {"system": _text(entry.get("system"), "patient.identifier system", NAME_MAX),
             "value": _text(entry.get("value"), "patient.identifier value", NAME_MAX)})
    addresses = value.get("address", [])
    if not isinstance(addresses, list) or (addresses and not isinstance(addresses[0], dict)):
        raise InvitationError("patient.address must be a list of addresses.")
    if addresses:
        a, address = addresses[0], {}
        lines = a.get("line", [])
        if not isinstance(lines, list) or len(lines) > 4:
            raise InvitationError("patient.address[0].line must be a list of at most 4 texts.")
        if lines:
            address["line"] = [_text(line, "patient.address[0].line", NAME_MAX) for line in lines]
        for key in ("postalCode", "city", "country"):
            if a.get(key) is not None:
                address[key] = _text(a[key], f"patient.address[0].{key}", NAME_MAX)
        if address:
            kept["address"] = [address]
    return kept


def parse_request(body: Any, *, default_language: str, now: float | None = None) -> Request:
    """An invitation request from the API's JSON body (docs/site.md). :raises InvitationError: what is wrong"""
    if not isinstance(body, dict):
        raise InvitationError("The body must be a JSON object.")
    unknown = set(body) - {"appointment", "patient", "language", "replace"}
    if unknown:
        raise InvitationError(f"Unknown field {sorted(unknown)[0]!r}; the fields are appointment, patient, "
                              "language and replace.")
    appointment = body.get("appointment")
    if not isinstance(appointment, dict):
        raise InvitationError("appointment must be an object with id, start and location.")
    try:
        start = datetime.fromisoformat(_text(appointment.get("start"), "appointment.start", 40))
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise InvitationError("appointment.start must be a date and time with its UTC offset, e.g. "
                              "2026-12-08T09:30:00+01:00.")
    language = body.get("language", default_language)
    if language not in SUPPORTED_LANGUAGES:
        raise InvitationError(f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}.")
    now_dt = datetime.fromtimestamp(time.time() if now is None else now, tz=start.tzinfo)
    request = Request(appointment_id=_text(appointment.get("id"), "appointment.id", ID_MAX), start=start,
                      location=_text(appointment.get("location"), "appointment.location", LOCATION_MAX),
                      patient=_patient(body.get("patient"), now_dt.date()), language=language)
    if request.expires <= now_dt:
        raise InvitationError("The appointment's day is over; an invitation would expire before it is opened.")
    return request


def create(site: SiteDb, request: Request, *, replace: bool = False, now: float | None = None) -> tuple[str, Invitation]:
    """Make the invitation: its token (only here, in clear) and what is stored.

    :raises InvitationExists: the appointment has one and ``replace`` is False
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = {"id": secrets.token_hex(8), "token_hash": token_hash(token), "appointment_id": request.appointment_id,
           "starts_at": request.start.isoformat(), "location": request.location, "language": request.language,
           "patient": json.dumps(request.patient, ensure_ascii=False), "failed_tries": 0,
           "created_at": int(time.time() if now is None else now), "expires_at": int(request.expires.timestamp())}
    with site.engine.begin() as conn:
        old = conn.execute(sa.select(invitations.c.id)
                           .where(invitations.c.appointment_id == request.appointment_id)).scalar_one_or_none()
        if old is not None and not replace:
            raise InvitationExists(f"Appointment {request.appointment_id!r} has an invitation already; send replace: "
                                   "true for a new link (the old one then stops working).")
        if old is not None:
            # A new link for the same appointment: the old one stops working, wrong tries start again.
            row["id"] = old
            conn.execute(sa.update(invitations).where(invitations.c.id == old)
                         .values({k: v for k, v in row.items() if k != "id"}))
        else:
            conn.execute(sa.insert(invitations).values(row))
    return token, _invitation(row)


def link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/p/{token}"


def _invitation(row) -> Invitation:
    row = dict(row)
    return Invitation(id=row["id"], token_hash=row["token_hash"], appointment_id=row["appointment_id"],
                      start=datetime.fromisoformat(row["starts_at"]), location=row["location"],
                      language=row["language"], patient=json.loads(row["patient"] or "{}"),
                      failed_tries=row["failed_tries"], expires_at=row["expires_at"],
                      **{key: json.loads(row[key]) if row.get(key) else None for key in ("contact", "answers", "consent")},
                      finished_at=row.get("finished_at"), arrived_at=row.get("arrived_at"),
                      arrived_admission=row.get("arrived_admission") or "")


def find(site: SiteDb, *, token: str | None = None, invitation_id: str | None = None,
         now: float | None = None) -> Invitation | None:
    """The live invitation with this token (or id): None when there is none, it has expired or been wiped."""
    column, value = (invitations.c.token_hash, token_hash(token)) if token is not None else (invitations.c.id,
                                                                                            invitation_id)
    now_s = int(time.time() if now is None else now)
    with site.engine.connect() as conn:
        row = conn.execute(sa.select(invitations).where(column == value, invitations.c.expires_at > now_s,
                                                         invitations.c.patient.is_not(None))).mappings().first()
    return _invitation(row) if row else None


def wrong_birth_date(site: SiteDb, invitation_id: str) -> int:
    """Count a wrong birth date on the link, atomically (instances share the count); the tries so far."""
    with site.engine.begin() as conn:
        return conn.execute(sa.update(invitations).where(invitations.c.id == invitation_id)
                            .values(failed_tries=invitations.c.failed_tries + 1)
                            .returning(invitations.c.failed_tries)).scalar_one()


def wipe_expired(site: SiteDb, now: float | None = None) -> int:
    """Delete the invitations whose links have expired, with everything personal in them, but for one the
    hospital system has not taken yet (kiosk.site.db.undelivered); how many."""
    now_s = int(time.time() if now is None else now)
    with site.engine.begin() as conn:
        return site.wipe(conn, invitations.c.expires_at <= now_s)

