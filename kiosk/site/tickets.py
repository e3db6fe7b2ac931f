"""The site's queue numbers and waiting list: one number per ticket across every kiosk of the site.

A kiosk asks for the next number of a queue as it stores an admission (``reserve``: per queue and the site's
local day, the same number again for the same admission), prints it, and its outbox then puts the ticket on
the list (``register``), exactly once. A kiosk that got no number in time prints its own (``kiosk.queue_prefix``,
which no queue has) and registers that: two tickets of one day with one number (two kiosks sharing a prefix)
are both kept, and staff get an incident about it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kiosk.checkin import queues
from kiosk.checkin.model import Incident, IncidentKind, Severity
from kiosk.site.db import SiteDb
from kiosk.site.schema import insert_incident, tickets

_NEXT = sa.text("INSERT INTO site_numbers (day, queue, seq) VALUES (:day, :queue, 1) "
                "ON CONFLICT (day, queue) DO UPDATE SET seq = site_numbers.seq + 1 RETURNING seq")


class TicketError(ValueError):
    """A request that is no ticket: one sentence saying what is wrong."""


@dataclass(frozen=True)
class Registration:
    """A ticket as a kiosk puts it on the list (the kiosk API's body, checked)."""
    admission_id: str
    kiosk_id: str
    queue: str
    number: str
    created_at: int
    appointment_at: int | None
    invitation_id: str | None


def local_day(at: float) -> str:
    """The site's local day of ``at`` (epoch seconds): numbers start again at local midnight."""
    return datetime.fromtimestamp(at).date().isoformat()


def _text(body: dict, key: str, max_len: int, *, required: bool = True, check=str.isprintable) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or len(value) > max_len or (required and not value) or not all(map(check, value)):
        raise TicketError(f"{key} must be {'1 to' if required else 'at most'} {max_len} "
                          f"{'letters or digits' if check is str.isalnum else 'printable characters'}.")
    return value


def _moment(body: dict, key: str, *, required: bool = True) -> int | None:
    value = body.get(key, "")
    if not value and not required:
        return None
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise TicketError(f"{key} must be a date and time in ISO 8601 with its offset, e.g. 2026-12-07T09:30:00+01:00.")
    return int(at.timestamp())


def check_admission_id(admission_id: str) -> str:
    if not (0 < len(admission_id) <= 64 and admission_id.isprintable()):
        raise TicketError("The admission id must be 1 to 64 printable characters.")
    return admission_id


def parse_reservation(body: object) -> tuple[str, str, str]:
    """(admission id, kiosk id, queue) of ``POST /api/v1/tickets``. :raises TicketError"""
    if not isinstance(body, dict):
        raise TicketError("The body must be {\"kiosk\": ..., \"admission\": ..., \"queue\": ...}.")
    return (check_admission_id(_text(body, "admission", 64)), _text(body, "kiosk", 64),
            _text(body, "queue", queues.PREFIX_MAX, check=str.isalnum).upper())


def parse_registration(admission_id: str, body: object) -> Registration:
    """The body of ``PUT /api/v1/tickets/<admission id>``. :raises TicketError"""
    if not isinstance(body, dict):
        raise TicketError("The body must be a JSON object: kiosk, queue, number, created_at, appointment_start, "
                          "precheck.")
    try:            # as the hospital system gave it: one without its offset is no reason to leave anyone off the list
        appointment_at = _moment(body, "appointment_start", required=False)
    except TicketError:
        appointment_at = None
    return Registration(check_admission_id(admission_id), _text(body, "kiosk", 64),
                        _text(body, "queue", queues.PREFIX_MAX, required=False, check=str.isalnum).upper(),
                        _text(body, "number", 16), _moment(body, "created_at"), appointment_at,
                        _text(body, "precheck", 32, required=False) or None)


def reserve(site: SiteDb, admission_id: str, kiosk_id: str, queue: str, now: float | None = None) -> str:
    """The next number of ``queue`` today for this admission (the one it has, when it asks again)."""
    at = int(time.time() if now is None else now)
    with site.engine.begin() as conn:
        given = conn.execute(sa.select(tickets.c.number).where(tickets.c.admission_id == admission_id)).scalar()
        if given is not None:
            return given
        day = local_day(at)
        seq = conn.execute(_NEXT, {"day": day, "queue": queue}).scalar_one()
        number = queues.number(queue, seq)
        conn.execute(sa.insert(tickets).values(admission_id=admission_id, kiosk_id=kiosk_id, day=day, queue=queue,
                                               number=number, status="reserved", created_at=at))
    return number


def register(site: SiteDb, ticket: Registration, now: float | None = None) -> bool:
    """Put the ticket on the waiting list; False when it is there already (a retry changes nothing). A number
    another ticket of the day has too raises an incident for staff (both stay on the list)."""
    at = int(time.time() if now is None else now)
    values = {"kiosk_id": ticket.kiosk_id, "day": local_day(ticket.created_at), "queue": ticket.queue,
              "number": ticket.number, "created_at": ticket.created_at, "appointment_at": ticket.appointment_at,
              "invitation_id": ticket.invitation_id, "status": "waiting", "registered_at": at,
              "order_at": ticket.created_at}
    with site.begin() as conn:
        status = conn.execute(sa.select(tickets.c.status).where(tickets.c.admission_id == ticket.admission_id)
                              .with_for_update()).scalar()
        if status is None:
            conn.execute(sa.insert(tickets).values(admission_id=ticket.admission_id, **values))
        elif status == "reserved":
            conn.execute(sa.update(tickets).where(tickets.c.admission_id == ticket.admission_id).values(**values))
        else:
            return False
        shared = conn.execute(sa.select(tickets.c.id).where(
            tickets.c.day == values["day"], tickets.c.number == ticket.number,
            tickets.c.admission_id != ticket.admission_id)).first()
        if shared is not None:
            insert_incident(conn, Incident(IncidentKind.TICKET_NUMBER_SHARED, Severity.HIGH, ticket.number))
        site.changed(conn, "list")
    return True
