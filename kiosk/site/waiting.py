"""The waiting list: the day's tickets of every kiosk, per queue, in order, and what staff do with them.

A ticket waits (``waiting``) in the order of its check-in. A member of staff at a counter calls the next one
of the queues they serve, or any one on the list (``called``: the call goes to the lobby displays), may call
it again, says "not here" (the ticket goes back to the end of its queue; at the ``no_show_after``-th call
it is a no-show instead) or "done". Calling the next one finishes the ticket the same counter called before.
Two desks calling one ticket at the same moment: exactly one wins (a conditional update), the other is told.
Every step is one audit line with the member's name, and reaches the displays and the staff pages
(``SiteDb.changed``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import sqlalchemy as sa

from kiosk.messages import N_
from kiosk.site.db import SiteDb
from kiosk.site.schema import calls, tickets, write_audit

# What staff are told (msgids: the staff page translates them).
MSG_CALLED_ELSEWHERE = N_("{number} has just been called by {member} to {counter}.")
MSG_NOBODY = N_("Nobody is waiting in these queues.")
MSG_NOT_CALLED = N_("{number} is not being called at the moment.")
MSG_NO_TICKET = N_("There is no such ticket today.")
MSG_NOT_WAITING = N_("{number} is no longer waiting.")

LISTED = ("waiting", "called")
# A ticket stays on the list this long after its check-in, across midnight (numbers start again at midnight,
# the patients waiting then do not go away).
LISTED_S = 24 * 3600
PACE_WINDOW_S = 3600             # the wait is estimated from the calls of the last hour
MAX_ESTIMATE_MIN = 240


class CallError(Exception):
    """What staff cannot do to a ticket now: a msgid and its values (``render`` with a translation)."""

    def __init__(self, message: str, **values: str):
        super().__init__(message)
        self.message, self.values = message, values

    def render(self, translate) -> str:
        return translate(self.message).format(**self.values)


@dataclass(frozen=True)
class Called:
    """A call, as the displays show it."""
    call_id: int
    ticket_id: int
    number: str
    queue: str
    counter: str


def waiting_list(site: SiteDb, queues: tuple[str, ...] = (), now: float | None = None) -> list[dict]:
    """The waiting and called tickets of the last LISTED_S (of ``queues``; all when empty), in their order: each a dict of the
    ticket's columns and ``waited_s`` (since the check-in) and ``prechecked``."""
    at = int(time.time() if now is None else now)
    query = sa.select(tickets).where(tickets.c.created_at > at - LISTED_S, tickets.c.status.in_(LISTED))
    if queues:
        query = query.where(tickets.c.queue.in_(queues))
    with site.engine.connect() as conn:
        rows = conn.execute(query.order_by(tickets.c.order_at, tickets.c.id)).mappings().all()
    return [{**row, "waited_s": max(0, at - row["created_at"]), "prechecked": bool(row["invitation_id"])}
            for row in rows]


def _ticket(conn: sa.Connection, ticket_id: int, at: int):
    row = conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id, tickets.c.created_at > at - LISTED_S)
                       ).mappings().first()
    if row is None:
        raise CallError(MSG_NO_TICKET)
    return row


def _finish_counter(conn: sa.Connection, counter: str, member: str, at: int) -> None:
    """The ticket this counter called before is done: the counter calls the next."""
    for row in conn.execute(sa.select(tickets.c.id, tickets.c.number).where(
            tickets.c.created_at > at - LISTED_S, tickets.c.status == "called", tickets.c.counter == counter)).all():
        conn.execute(sa.update(tickets).where(tickets.c.id == row.id, tickets.c.status == "called")
                     .values(status="done", finished_at=at))
        write_audit(conn, member, "ticket.done", row.number, f"{counter}; the next was called")


def _call(site: SiteDb, conn: sa.Connection, row, member: str, counter: str, at: int, *, again: bool) -> Called:
    """Record the call of a ticket this transaction has just made (or found) ``called``: only while it is so,
    so that a "Call again" racing another desk's "Done" calls no one back (on PostgreSQL: READ COMMITTED).
    :raises CallError: it is no longer called"""
    if not conn.execute(sa.update(tickets).where(tickets.c.id == row["id"], tickets.c.status == "called").values(
            calls=tickets.c.calls + 1, called_at=at, called_by=member, counter=counter)).rowcount:
        raise CallError(MSG_NOT_CALLED, number=row["number"])
    call_id = conn.execute(sa.insert(calls).values(
        at=at, ticket_id=row["id"], day=row["day"], queue=row["queue"], number=row["number"], counter=counter,
        member=member).returning(calls.c.id)).scalar_one()
    write_audit(conn, member, "ticket.called_again" if again else "ticket.called", row["number"], counter)
    site.changed(conn, "call")
    return Called(call_id, row["id"], row["number"], row["queue"], counter)


def call(site: SiteDb, ticket_id: int, member: str, counter: str, now: float | None = None) -> Called:
    """Call this waiting ticket to ``counter``. :raises CallError: called by someone else first, or gone"""
    at = int(time.time() if now is None else now)
    with site.begin() as conn:
        row = _ticket(conn, ticket_id, at)
        if row["status"] != "waiting":
            raise _elsewhere(row)
        _finish_counter(conn, counter, member, at)
        # Only while it still waits: of two desks calling it at once, one updates it, the other finds none.
        if not conn.execute(sa.update(tickets).where(tickets.c.id == ticket_id, tickets.c.status == "waiting")
                            .values(status="called")).rowcount:
            raise _elsewhere(_ticket(conn, ticket_id, at))
        return _call(site, conn, row, member, counter, at, again=False)


def call_next(site: SiteDb, queues: tuple[str, ...], member: str, counter: str, now: float | None = None) -> Called:
    """Call the first waiting ticket of ``queues`` (all when empty). :raises CallError: nobody waits"""
    at = int(time.time() if now is None else now)
    for _ in range(20):                 # another desk took the first meanwhile: the next one
        waiting = [r for r in waiting_list(site, queues, at) if r["status"] == "waiting"]
        if not waiting:
            raise CallError(MSG_NOBODY)
        try:
            return call(site, waiting[0]["id"], member, counter, at)
        except CallError:
            continue
    raise CallError(MSG_NOBODY)


def call_again(site: SiteDb, ticket_id: int, member: str, counter: str, now: float | None = None) -> Called:
    """Call a called ticket once more (the displays show and say it again). :raises CallError: not called"""
    at = int(time.time() if now is None else now)
    with site.begin() as conn:
        return _call(site, conn, _ticket(conn, ticket_id, at), member, counter, at, again=True)


def not_here(site: SiteDb, ticket_id: int, member: str, no_show_after: int, now: float | None = None) -> str:
    """The called patient did not come: back to the end of the list, or a no-show after ``no_show_after``
    calls; the ticket's new status. :raises CallError: not called"""
    at = int(time.time() if now is None else now)
    with site.begin() as conn:
        row = _ticket(conn, ticket_id, at)
        status = "no_show" if row["calls"] >= no_show_after else "waiting"
        if not conn.execute(sa.update(tickets).where(tickets.c.id == ticket_id, tickets.c.status == "called").values(
                status=status, order_at=at, counter=None, finished_at=at if status == "no_show" else None)).rowcount:
            raise CallError(MSG_NOT_CALLED, number=row["number"])
        write_audit(conn, member, "ticket.no_show" if status == "no_show" else "ticket.not_here", row["number"],
                    f"after {row['calls']} call(s)")
        site.changed(conn, "list")
    return status


def done(site: SiteDb, ticket_id: int, member: str, now: float | None = None) -> None:
    """The called patient was seen. :raises CallError: not called"""
    at = int(time.time() if now is None else now)
    with site.begin() as conn:
        row = _ticket(conn, ticket_id, at)
        if not conn.execute(sa.update(tickets).where(tickets.c.id == ticket_id, tickets.c.status == "called")
                            .values(status="done", finished_at=at)).rowcount:
            raise CallError(MSG_NOT_CALLED, number=row["number"])
        write_audit(conn, member, "ticket.done", row["number"], row["counter"] or "")
        site.changed(conn, "list")


def last_calls(site: SiteDb, queues: tuple[str, ...], limit: int = 6, now: float | None = None) -> list[dict]:
    """The latest calls (of the last LISTED_S) of ``queues`` (all when empty), newest first, one per ticket (its latest call):
    what a lobby display shows. Numbers and places only."""
    at = int(time.time() if now is None else now)
    latest = sa.select(sa.func.max(calls.c.id)).where(calls.c.at > at - LISTED_S).group_by(calls.c.ticket_id)
    if queues:
        latest = latest.where(calls.c.queue.in_(queues))
    query = (sa.select(calls.c.id, calls.c.at, calls.c.number, calls.c.queue, calls.c.counter)
             .where(calls.c.id.in_(latest)).order_by(calls.c.id.desc()).limit(limit))
    with site.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def estimate_wait(site: SiteDb, queue: str, now: float | None = None) -> int:
    """About how many minutes the next patient of ``queue`` waits: the patients waiting ahead of them and
    they themselves, at the pace that queue was called in the last hour, rounded up to 5 minutes; 0 (no
    estimate) when none of it was called in the last hour."""
    at = int(time.time() if now is None else now)
    with site.engine.connect() as conn:
        called = conn.execute(sa.select(sa.func.count(sa.distinct(calls.c.ticket_id))).where(
            calls.c.queue == queue, calls.c.at > at - PACE_WINDOW_S)).scalar()
        if not called:
            return 0
        ahead = conn.execute(sa.select(sa.func.count()).select_from(tickets).where(
            tickets.c.created_at > at - LISTED_S, tickets.c.queue == queue, tickets.c.status == "waiting")).scalar()
    return min(MAX_ESTIMATE_MIN, max(5, 5 * math.ceil((ahead + 1) * 60 / called / 5)))


def _elsewhere(row) -> CallError:
    if row["status"] == "called":
        return CallError(MSG_CALLED_ELSEWHERE, number=row["number"], member=row["called_by"] or "",
                         counter=row["counter"] or "")
    return CallError(MSG_NOT_WAITING, number=row["number"])


def waits(site: SiteDb, day: str) -> list[dict]:
    """Each ticket on the list of the site's ``day`` (YYYY-MM-DD; kiosk.site.tickets.local_day): its queue,
    kiosk_id, status, created_at (the check-in) and waited_s, the seconds from the check-in to its first call
    (None: not called). What the managers' figures are made of (kiosk.site.metrics, kiosk.site.report):
    numbers and times, nothing of the patient."""
    first = (sa.select(calls.c.ticket_id, sa.func.min(calls.c.at).label("at"))
             .where(calls.c.day == day).group_by(calls.c.ticket_id).subquery())
    query = (sa.select(tickets.c.queue, tickets.c.kiosk_id, tickets.c.status, tickets.c.created_at, first.c.at)
             .select_from(tickets.outerjoin(first, first.c.ticket_id == tickets.c.id))
             .where(tickets.c.day == day, tickets.c.status != "reserved").order_by(tickets.c.created_at))
    with site.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"queue": r.queue, "kiosk_id": r.kiosk_id, "status": r.status, "created_at": r.created_at,
             "waited_s": None if r.at is None else max(0, r.at - r.created_at)} for r in rows]
