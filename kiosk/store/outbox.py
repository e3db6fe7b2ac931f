"""The outbox: what still has to reach the hospital system, one row per admission and destination, and
how its delivery went (``OutboxStatus``; the delivery worker, kiosk.hospital.outbox, delivers the rows).
"""

from __future__ import annotations

from enum import StrEnum

from kiosk.checkin.model import Incident, IncidentKind, Severity
from kiosk.files import FileLock
from kiosk.store.db import Connection, now_iso


class OutboxStatus(StrEnum):
    """Where an outbox row stands (stored as these words)."""

    PENDING = "pending"          # to deliver; the oldest of a destination goes first
    DELIVERED = "delivered"      # the hospital system took it
    DEAD = "dead"                # refused: set aside (with an incident) until staff send it again
    WITHDRAWN = "withdrawn"      # its admission was cancelled before it was delivered


# The statuses of a message that has not reached the hospital system and may still: as an SQL list.
UNDELIVERED = f"('{OutboxStatus.PENDING}', '{OutboxStatus.DEAD}')"


class OutboxMixin(Connection):
    """The outbox rows of the store (``kiosk.store.Store``)."""

    def outbox(self, status: OutboxStatus | None = None) -> list[dict]:
        where, args = ("status = ?", [status]) if status else (None, None)
        return list(self.db["outbox"].rows_where(where, args, order_by="id"))

    def delivery_lock(self) -> FileLock:
        """The lock a delivering worker holds (kiosk.hospital.outbox.Sync): one at a time per store."""
        return FileLock(self.path.with_name(self.path.name + ".sync-lock"))

    def outbox_head(self, destination: str) -> dict | None:
        """The oldest message still to deliver to ``destination``: messages go one at a time, in order."""
        cursor = self.db.execute("SELECT * FROM outbox WHERE destination = ? "
                                 f"AND status = '{OutboxStatus.PENDING}' ORDER BY id LIMIT 1", [destination])
        row = cursor.fetchone()
        return dict(zip((c[0] for c in cursor.description), row)) if row else None

    def outbox_count(self, destination: str | None = None, status: OutboxStatus = OutboxStatus.PENDING) -> int:
        where, args = "status = ?", [status]
        if destination:
            where, args = where + " AND destination = ?", args + [destination]
        return self.db["outbox"].count_where(where, args)

    def undelivered_elsewhere(self, destination: str) -> int:
        """Pending or refused messages for a destination other than ``destination``."""
        return self.db.execute(f"SELECT count(*) FROM outbox WHERE status IN {UNDELIVERED} AND destination != ?",
                               [destination]).fetchone()[0]

    def outbox_delivered(self, row_id: int, response: str = "") -> None:
        """The hospital system took the message. One that staff withdrew (cancelled the admission) while
        it was on its way is delivered all the same: it is marked so, with an incident telling staff to
        cancel it in the hospital system too."""
        with self._write():
            done = self.db.execute(
                f"UPDATE outbox SET status = '{OutboxStatus.DELIVERED}', delivered_at = ?, response = ?, "
                f"last_error = '' WHERE id = ? AND status IN ('{OutboxStatus.PENDING}', '{OutboxStatus.WITHDRAWN}') "
                "RETURNING admission_id, destination, (SELECT cancelled_at FROM admissions a "
                "WHERE a.id = outbox.admission_id)",
                [now_iso(), response, row_id]).fetchone()
            if done:
                self._audit("sync", "outbox.delivered", done[0], done[1])
                if done[2]:
                    self._insert_incident(Incident(IncidentKind.CANCEL_IN_HOSPITAL, Severity.MEDIUM, done[1],
                                                   admission_id=done[0]))

    def outbox_retry(self, row_id: int, error: str, next_attempt_at: str, *, refused: bool = False) -> int:
        """Count a failed attempt (and a refusal: the system said "not now" to this message) and when
        to try again; returns the attempts so far."""
        with self._write():
            row = self.db.execute(
                "UPDATE outbox SET attempts = attempts + 1, refusals = refusals + ?, last_error = ?, "
                f"next_attempt_at = ? WHERE id = ? AND status = '{OutboxStatus.PENDING}' RETURNING attempts",
                [int(refused), error, next_attempt_at, row_id]).fetchone()
        return row[0] if row else 0

    def outbox_dead(self, row_id: int, error: str, response: str, incident: Incident) -> None:
        """The hospital system refused the message: it stops (later ones go on), with what the system
        said kept on the row, and an incident for staff, in one transaction. The audit line gets the
        reason code only: what the system said may quote the patient."""
        with self._write():
            row = self.db.execute(
                f"UPDATE outbox SET status = '{OutboxStatus.DEAD}', attempts = attempts + 1, last_error = ?, "
                f"response = ? WHERE id = ? AND status = '{OutboxStatus.PENDING}' RETURNING admission_id, destination",
                [error, response, row_id]).fetchone()
            if row:
                self._audit("sync", "outbox.dead", row[0], f"{row[1]} {error.split(':')[0]}")
                self._insert_incident(incident)

    def outbox_requeue(self, destination: str, actor: str) -> int:
        """Send the set-aside messages again (after the cause was fixed), oldest first; returns how many."""
        with self._write():
            return len(self._requeue_dead("destination", destination, actor))

    def _requeue_dead(self, column: str, value: str, actor: str) -> list:
        """Set the refused (dead) messages whose ``column`` (destination or admission_id) is ``value``
        pending again, each audited; inside a write transaction. Returns their rows."""
        rows = self.db.execute(
            f"UPDATE outbox SET status = '{OutboxStatus.PENDING}', refusals = 0, next_attempt_at = ? "
            f"WHERE {column} = ? AND status = '{OutboxStatus.DEAD}' RETURNING admission_id, destination",
            [now_iso(), value]).fetchall()
        for admission_id, destination in rows:
            self._audit(actor, "outbox.requeued", admission_id, destination)
        return rows


    def outbox_figures(self) -> dict:
        """For the device status: pending and refused (dead) counts, the creation time of the oldest
        pending message ("" when none) and the time of the last delivery ("" when never)."""
        pending, dead, oldest, last = self.db.execute(
            f"SELECT count(*) FILTER (WHERE status = '{OutboxStatus.PENDING}'), "
            f"count(*) FILTER (WHERE status = '{OutboxStatus.DEAD}'), "
            f"coalesce(min(created_at) FILTER (WHERE status = '{OutboxStatus.PENDING}'), ''), "
            "coalesce(max(delivered_at), '') "
            "FROM outbox").fetchone()
        return {"pending": pending, "dead": dead, "oldest_pending_at": oldest, "last_delivered_at": last}
