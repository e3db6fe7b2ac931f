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

import time
from dataclasses import dataclass

import sqlalchemy as sa

from kiosk.messages import N_
from kiosk.site.db import SiteDb
from kiosk.site.schema import calls, tickets, write_audit
from kiosk.site.tickets import local_day

# What staff are told (msgids: the staff page translates them).
MSG_CALLED_ELSEWHERE = N_("{number} has just been called by {member} to {counter}.")
MSG_NOBODY = N_("Nobody is waiting in these queues.")
MSG_NOT_CALLED = N_("{number} is not being called at the moment.")
MSG_NO_TICKET = N_("There is no such ticket today.")
MSG_NOT_WAITING = N_("{number} is no longer waiting.")

LISTED = ("waiting", "called")


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
    """Today's waiting and called tickets (of ``queues``; all when empty), in their order: each a dict of the
    ticket's columns and ``waited_s`` (since the check-in) and ``prechecked``."""
    at = int(time.time() if now is None else now)
    query = sa.select(tickets).where(tickets.c.day == local_day(at), tickets.c.status.in_(LISTED))
    if queues:
        query = query.where(tickets.c.queue.in_(queues))
    with site.engine.connect() as conn:
        rows = conn.execute(query.order_by(tickets.c.order_at, tickets.c.id)).mappings().all()
    return [{**row, "waited_s": max(0, at - row["created_at"]), "prechecked": bool(row["invitation_id"])}
            for row in rows]


def _ticket(conn: sa.Connection, ticket_id: int, day: str):
    row = conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id, tickets.c.day == day)).mappings().first()
    if row is None:
        raise CallError(MSG_NO_TICKET)
    return row


def _finish_counter(conn: sa.Connection, counter: str, member: str, day: str, at: int) -> None:
    """The ticket this counter called before is done: the counter calls the next."""
    for row in conn.execute(sa.select(tickets.c.id, tickets.c.number).where(
            tickets.c.day == day, tickets.c.status == "called", tickets.c.counter == counter)).all():
        conn.execute(sa.update(tickets).where(tickets.c.id == row.id, tickets.c.status == "called")
                     .values(status="done", finished_at=at))
        write_audit(conn, member, "ticket.done", row.number, f"{counter}; the next was called")


def _call(site: SiteDb, conn: sa.Connection, row, member: str, counter: str, at: int, *, again: bool) -> Called:
    conn.execute(sa.update(tickets).where(tickets.c.id == row["id"]).values(
        status="called", calls=row["calls"] + 1, called_at=at, called_by=member, counter=counter))
    call_id = conn.execute(sa.insert(calls).values(
        at=at, ticket_id=row["id"], day=row["day"], queue=row["queue"], number=row["number"], counter=counter,
        member=member).returning(calls.c.id)).scalar_one()
    write_audit(conn, member, "ticket.called_again" if again else "ticket.called", row["number"], counter)
    site.changed(conn, "call")
    return Called(call_id, row["id"], row["number"], row["queue"], counter)


def call(site: SiteDb, ticket_id: int, member: str, counter: str, now: float | None = None) -> Called:
    """Call this waiting ticket to ``counter``. :raises CallError: called by someone else first, or gone"""
    at = int(time.time() if now is None else now)
    day = local_day(at)
    with site.begin() as conn:
        row = _ticket(conn, ticket_id, day)
        if row["status"] != "waiting":
            raise _elsewhere(row)
        _finish_counter(conn, counter, member, day, at)
        # Only while it still waits: of two desks calling it at once, one updates it, the other finds none.
        if not conn.execute(sa.update(tickets).where(tickets.c.id == ticket_id, tickets.c.status == "waiting")
                            .values(status="called")).rowcount:
            raise _elsewhere(_ticket(conn, ticket_id, day))
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
        row = _ticket(conn, ticket_id, local_day(at))
        if row["status"] != "called":
            raise CallError(MSG_NOT_CALLED, number=row["number"])
        return _call(site, conn, row, member, counter, at, again=True)


def not_here(site: SiteDb, ticket_id: int, member: str, no_show_after: int, now: float | None = None) -> str:
    """The called patient did not come: back to the end of the list, or a no-show after ``no_show_after``
    calls; the ticket's new status. :raises CallError: not called"""
    at = int(time.time() if now is None else now)
    with site.begin() as conn:
        row = _ticket(conn, ticket_id, local_day(at))
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
        row = _ticket(conn, ticket_id, local_day(at))
        if not conn.execute(sa.update(tickets).where(tickets.c.id == ticket_id, tickets.c.status == "called")
                            .values(status="done", finished_at=at)).rowcount:
            raise CallError(MSG_NOT_CALLED, number=row["number"])
        write_audit(conn, member, "ticket.done", row["number"], row["counter"] or "")
        site.changed(conn, "list")


def last_calls(site: SiteDb, queues: tuple[str, ...], limit: int = 6, now: float | None = None) -> list[dict]:
    """Today's latest calls of ``queues`` (all when empty), newest first, one per ticket (its latest call):
    what a lobby display shows. Numbers and places only."""
    at = int(time.time() if now is None else now)
    latest = sa.select(sa.func.max(calls.c.id)).where(calls.c.day == local_day(at)).group_by(calls.c.ticket_id)
    if queues:
        latest = latest.where(calls.c.queue.in_(queues))
    query = (sa.select(calls.c.id, calls.c.at, calls.c.number, calls.c.queue, calls.c.counter)
             .where(calls.c.id.in_(latest)).order_by(calls.c.id.desc()).limit(limit))
    with site.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def _elsewhere(row) -> CallError:
    if row["status"] == "called":
        return CallError(MSG_CALLED_ELSEWHERE, number=row["number"], member=row["called_by"] or "",
                         counter=row["counter"] or "")
    return CallError(MSG_NOT_WAITING, number=row["number"])
