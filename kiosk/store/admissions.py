"""Admissions: each stored whole (as JSON beside the columns staff filter on), with its queue number of
the day; saved in one transaction with its outbox rows, its print jobs and its audit line."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from sqlite_utils.db import NotFoundError

from kiosk.checkin import queues
from kiosk.checkin.model import Admission, IncidentKind
from kiosk.store.db import Connection, now_iso
from kiosk.store.outbox import UNDELIVERED, OutboxStatus


class AdmissionsMixin(Connection):
    """The admissions of the store (``kiosk.store.Store``); the outbox rows and incidents an admission's
    save, resend and cancel write go through the other parts, in the same transaction."""

    def save_admission(self, admission: Admission, *, queue_prefix: str = "A", queue_number: str = "",
                       destinations: tuple[str, ...] = (), prints: tuple[str, ...] = ()) -> Admission:
        """Store an admission whole with its queue number, queue it for each destination (hospital transport,
        site service) and queue its print jobs (``prints``: the kinds the kiosk prints at check-in;
        ``print_started`` takes them up), so that a kiosk stopped before it printed leaves them to
        ``interrupt_prints``. Returns the admission with its queue number.

        :param queue_number: the site service's number for it; "" = the kiosk's own, the next of its day with
            ``queue_prefix`` (numbers the site gave it do not count)
        :raises DB_ERRORS: nothing was stored (disk full, file unwritable...)
        """
        # Queue numbers start again at the kiosk's local midnight, not at midnight UTC.
        day = datetime.fromisoformat(admission.created_at).astimezone().date().isoformat()
        with self._write():
            seq = self.db.execute(
                "SELECT coalesce(max(queue_seq), 0) + 1 FROM admissions WHERE kiosk_id = ? AND day = ?",
                [self.kiosk_id, day]).fetchone()[0]
            if not queue_number:
                own = self.db.execute(
                    "SELECT coalesce(max(CAST(substr(queue_number, ?) AS INTEGER)), 0) + 1 FROM admissions "
                    "WHERE kiosk_id = ? AND day = ? AND substr(queue_number, 1, ?) = ?",
                    [len(queue_prefix) + 2, self.kiosk_id, day, len(queue_prefix) + 1, f"{queue_prefix}-"]).fetchone()[0]
                queue_number = queues.number(queue_prefix, own)
            stored = replace(admission, queue_number=queue_number)
            self.db["admissions"].insert({
                "id": stored.id, "kiosk_id": self.kiosk_id, "created_at": stored.created_at, "day": day,
                "queue_seq": seq, "queue_number": stored.queue_number, "identified_by": stored.identified_by,
                "language": stored.language, "consent": stored.consent,
                "data": json.dumps(stored.to_json(), ensure_ascii=False),
            })
            for destination in destinations:
                self.db["outbox"].insert({
                    "admission_id": stored.id, "destination": destination, "status": OutboxStatus.PENDING,
                    "attempts": 0, "next_attempt_at": stored.created_at, "last_error": "",
                    "created_at": stored.created_at,
                })
            for kind in prints:
                self.db["prints"].insert({"admission_id": stored.id, "kind": kind, "actor": "kiosk", "status": "queued",
                                          "reason": "", "started_at": "", "finished_at": ""})
            self._audit("kiosk", "admission.stored", stored.id, stored.queue_number)
        return stored

    def get_admission(self, admission_id: str) -> Admission:
        """:raises sqlite_utils.db.NotFoundError: no such admission"""
        row = self.db.execute("SELECT data FROM admissions WHERE id = ?", [admission_id]).fetchone()
        if row is None:
            raise NotFoundError(admission_id)
        return Admission.from_json(json.loads(row[0]))

    def admissions(self) -> list[Admission]:
        """Every stored admission, oldest first."""
        return [Admission.from_json(json.loads(r["data"]))
                for r in self.db["admissions"].rows_where(order_by="created_at, queue_seq")]

    def last_admission(self) -> Admission | None:
        rows = list(self.db["admissions"].rows_where(order_by="created_at desc, queue_seq desc", limit=1))
        return Admission.from_json(json.loads(rows[0]["data"])) if rows else None

    def admission_state(self, admission_id: str) -> dict | None:
        """The staff-facing columns of an admission (no personal data): queue number, cancelled_at/by,
        wiped_at (when its personal data was purged, or None), and its outbox rows' statuses; None when there
        is no such admission."""
        cursor = self.db.execute("SELECT id, queue_number, cancelled_at, cancelled_by, wiped_at FROM admissions "
                                 "WHERE id = ?", [admission_id])
        row = cursor.fetchone()
        if row is None:
            return None
        state = dict(zip((c[0] for c in cursor.description), row))
        state["outbox"] = [r[0] for r in self.db.execute("SELECT status FROM outbox WHERE admission_id = ? ORDER BY id",
                                                         [admission_id]).fetchall()]
        return state

    def requeue_admission(self, admission_id: str, actor: str) -> int:
        """Send an admission's refused (dead) messages again, and close its sync_rejected incidents as
        resent, in one transaction; returns how many messages."""
        with self._write():
            rows = self._requeue_dead("admission_id", admission_id, actor)
            if rows:
                for (row_id,) in self.db.execute(
                        "SELECT id FROM incidents WHERE status != 'resolved' AND admission_id = ? AND kind = ?",
                        [admission_id, IncidentKind.SYNC_REJECTED.value]).fetchall():
                    self._resolve(row_id, actor, "resent", "")
        return len(rows)

    def cancel_admission(self, admission_id: str, actor: str, note: str = "") -> tuple[int, int] | None:
        """Mark an admission cancelled, withdraw its undelivered (pending or refused) messages and close its
        incidents as cancelled, in one transaction. Returns (withdrawn, delivered) message counts, or None
        when it was cancelled already.

        :raises sqlite_utils.db.NotFoundError: no such admission
        """
        with self._write():
            row = self.db.execute("SELECT cancelled_at FROM admissions WHERE id = ?", [admission_id]).fetchone()
            if row is None:
                raise NotFoundError(admission_id)
            if row[0]:
                return None
            self.db.execute("UPDATE admissions SET cancelled_at = ?, cancelled_by = ? WHERE id = ?",
                            [now_iso(), actor, admission_id])
            withdrawn = self.db.execute(
                f"UPDATE outbox SET status = '{OutboxStatus.WITHDRAWN}', last_error = 'cancelled' "
                f"WHERE admission_id = ? AND status IN {UNDELIVERED} RETURNING destination",
                [admission_id]).fetchall()
            delivered = self.db.execute("SELECT count(*) FROM outbox WHERE admission_id = ? AND status = ?",
                                        [admission_id, OutboxStatus.DELIVERED]).fetchone()[0]
            self._audit(actor, "admission.cancelled", admission_id,
                        f"{len(withdrawn)} withdrawn, {delivered} delivered")
            for (row_id,) in self.db.execute("SELECT id FROM incidents WHERE status != 'resolved' AND admission_id = ?",
                                             [admission_id]).fetchall():
                self._resolve(row_id, actor, "cancelled", note)
        return len(withdrawn), delivered
