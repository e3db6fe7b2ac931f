"""The local store: one SQLite file (WAL) through sqlite-utils, with named migrations.

Tables: ``admissions`` (each stored whole, as JSON beside the columns staff filter on), ``outbox``
(what still has to reach the hospital system), ``incidents`` (what staff must look at), ``prints``
(every ticket and wristband job and how it ended) and ``audit`` (who did what, when). An admission, its outbox rows and its audit line are written in one
transaction: all of them or none.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError
from sqlite_utils.migrations import Migrations

from kiosk.model import Admission, Incident, IncidentKind

migrations = Migrations("kiosk")


@migrations()
def m001_create_tables(db: Database) -> None:
    db["admissions"].create({
        "id": str, "kiosk_id": str, "created_at": str, "day": str, "queue_seq": int, "queue_number": str,
        "identified_by": str, "language": str, "consent": str, "data": str,
    }, pk="id")
    db["admissions"].create_index(["kiosk_id", "day", "queue_seq"], unique=True)
    db["outbox"].create({
        "id": int, "admission_id": str, "destination": str, "status": str, "attempts": int,
        "next_attempt_at": str, "last_error": str, "created_at": str,
    }, pk="id", foreign_keys=[("admission_id", "admissions", "id")])
    db["outbox"].create_index(["status", "destination", "id"])
    db["incidents"].create({
        "id": int, "kiosk_id": str, "created_at": str, "kind": str, "severity": str, "status": str,
        "admission_id": str, "detail": str,
    }, pk="id")
    db["incidents"].create_index(["status", "created_at"])
    db["audit"].create({"id": int, "at": str, "actor": str, "action": str, "subject": str, "detail": str}, pk="id")


@migrations()
def m002_create_prints(db: Database) -> None:
    db["prints"].create({
        "id": int, "admission_id": str, "kind": str, "actor": str, "status": str, "reason": str,
        "started_at": str, "finished_at": str,
    }, pk="id", foreign_keys=[("admission_id", "admissions", "id")])
    db["prints"].create_index(["admission_id", "kind"])


@migrations()
def m003_outbox_outcome(db: Database) -> None:
    db["outbox"].add_column("response", str)         # what the hospital system answered last (kept for staff)
    db["outbox"].add_column("delivered_at", str)
    db["outbox"].add_column("refusals", int, not_null_default=0)   # answers that said "not now"


class PrintInProgress(RuntimeError):
    """That admission's ticket or wristband is being printed right now: a second tap prints nothing."""


class Store:
    """The kiosk's SQLite file. Open one per thread; every write is its own transaction."""

    def __init__(self, path: str | Path, *, kiosk_id: str = "lobby-1", power_safe: bool = True):
        """
        :param path: the SQLite file; its folder is created when missing
        :param kiosk_id: written on every admission and incident
        :param power_safe: every commit survives a power cut (synchronous=FULL). The sync worker's
            connection does without (NORMAL: a crash loses nothing, a power cut the last few commits):
            what it writes is how deliveries went, and a delivery whose record is lost is sent again,
            which the receiver takes as the same message.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.kiosk_id = kiosk_id
        self.db = Database(self.path)
        self.db.enable_wal()
        # FULL: a committed admission survives a power cut, not only a crash of the process.
        self.db.execute(f"PRAGMA synchronous={'FULL' if power_safe else 'NORMAL'}")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrations.apply(self.db)

    def close(self) -> None:
        self.db.close()

    def applied_migrations(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

    # --- admissions ---

    def save_admission(self, admission: Admission, *, queue_prefix: str = "A",
                       destinations: tuple[str, ...] = ()) -> Admission:
        """Store an admission whole, give it the next queue number of its day, and queue it for
        each destination (hospital transport). Returns the admission with its queue number.

        :raises sqlite3.Error: nothing was stored (disk full, file unwritable...)
        """
        # Queue numbers start again at the kiosk's local midnight, not at midnight UTC.
        day = datetime.fromisoformat(admission.created_at).astimezone().date().isoformat()
        with self._write():
            seq = self.db.execute(
                "SELECT coalesce(max(queue_seq), 0) + 1 FROM admissions WHERE kiosk_id = ? AND day = ?",
                [self.kiosk_id, day]).fetchone()[0]
            stored = replace(admission, queue_number=f"{queue_prefix}-{seq:03d}")
            self.db["admissions"].insert({
                "id": stored.id, "kiosk_id": self.kiosk_id, "created_at": stored.created_at, "day": day,
                "queue_seq": seq, "queue_number": stored.queue_number, "identified_by": stored.identified_by,
                "language": stored.language, "consent": stored.consent,
                "data": json.dumps(stored.to_json(), ensure_ascii=False),
            })
            for destination in destinations:
                self.db["outbox"].insert({
                    "admission_id": stored.id, "destination": destination, "status": "pending", "attempts": 0,
                    "next_attempt_at": stored.created_at, "last_error": "", "created_at": stored.created_at,
                })
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

    def outbox(self, status: str | None = None) -> list[dict]:
        where, args = ("status = ?", [status]) if status else (None, None)
        return list(self.db["outbox"].rows_where(where, args, order_by="id"))

    def outbox_head(self, destination: str) -> dict | None:
        """The oldest message still to deliver to ``destination``: messages go one at a time, in order."""
        cursor = self.db.execute("SELECT * FROM outbox WHERE destination = ? AND status = 'pending' ORDER BY id "
                                 "LIMIT 1", [destination])
        row = cursor.fetchone()
        return dict(zip((c[0] for c in cursor.description), row)) if row else None

    def outbox_count(self, destination: str | None = None, status: str = "pending") -> int:
        where, args = "status = ?", [status]
        if destination:
            where, args = where + " AND destination = ?", args + [destination]
        return self.db["outbox"].count_where(where, args)

    def undelivered_elsewhere(self, destination: str) -> int:
        """Pending or refused messages for a destination other than ``destination``."""
        return self.db.execute("SELECT count(*) FROM outbox WHERE status != 'delivered' AND destination != ?",
                               [destination]).fetchone()[0]

    def outbox_delivered(self, row_id: int, response: str = "") -> None:
        with self._write():
            done = self.db.execute(
                "UPDATE outbox SET status = 'delivered', delivered_at = ?, response = ?, last_error = '' "
                "WHERE id = ? AND status = 'pending' RETURNING admission_id, destination",
                [_now(), response, row_id]).fetchone()
            if done:
                self._audit("sync", "outbox.delivered", *done)

    def outbox_retry(self, row_id: int, error: str, next_attempt_at: str, *, refused: bool = False) -> int:
        """Count a failed attempt (and a refusal: the system said "not now" to this message) and when
        to try again; returns the attempts so far."""
        with self._write():
            row = self.db.execute(
                "UPDATE outbox SET attempts = attempts + 1, refusals = refusals + ?, last_error = ?, "
                "next_attempt_at = ? WHERE id = ? AND status = 'pending' RETURNING attempts",
                [int(refused), error, next_attempt_at, row_id]).fetchone()
        return row[0] if row else 0

    def outbox_dead(self, row_id: int, error: str, response: str, incident: Incident) -> None:
        """The hospital system refused the message: it stops (later ones go on), with what the system
        said kept on the row, and an incident for staff, in one transaction. The audit line gets the
        reason code only: what the system said may quote the patient."""
        with self._write():
            row = self.db.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?, response = ? "
                "WHERE id = ? AND status = 'pending' RETURNING admission_id, destination",
                [error, response, row_id]).fetchone()
            if row:
                self._audit("sync", "outbox.dead", row[0], f"{row[1]} {error.split(':')[0]}")
                self._insert_incident(incident)

    def outbox_requeue(self, destination: str, actor: str) -> int:
        """Send the set-aside messages again (after the cause was fixed), oldest first; returns how many."""
        with self._write():
            rows = self.db.execute(
                "UPDATE outbox SET status = 'pending', refusals = 0, next_attempt_at = ? "
                "WHERE destination = ? AND status = 'dead' RETURNING admission_id", [_now(), destination]).fetchall()
            for (admission_id,) in rows:
                self._audit(actor, "outbox.requeued", admission_id, destination)
        return len(rows)

    # --- incidents and audit ---

    def raise_incident(self, incident: Incident) -> int:
        """Record an incident for staff; returns its id. A state of the kiosk's devices that is already
        open (``IncidentKind.about_the_kiosk``, same detail) is not raised again: its id is returned."""
        with self._write():
            return self._insert_incident(incident)

    def _insert_incident(self, incident: Incident) -> int:
        if incident.kind.about_the_kiosk:
            rows = self.db.execute(
                "SELECT id FROM incidents WHERE status = 'open' AND admission_id IS NULL AND kind = ? "
                "AND detail = ?", [incident.kind.value, incident.detail]).fetchall()
            if rows:
                return rows[0][0]
        row_id = self.db["incidents"].insert({
            "kiosk_id": self.kiosk_id, "created_at": _now(), "kind": incident.kind.value,
            "severity": incident.severity.value, "status": "open", "admission_id": incident.admission_id,
            "detail": incident.detail,
        }).last_pk
        self._audit("kiosk", "incident.raised", str(row_id), incident.kind.value)
        return row_id

    def resolve_kiosk_incidents(self, kind: IncidentKind, actor: str) -> int:
        """Close the open incidents of one kind about the kiosk itself (e.g. the hospital system being
        unreachable, once it answers again); returns how many."""
        with self._write():
            ids = [r[0] for r in self.db.execute(
                "SELECT id FROM incidents WHERE status = 'open' AND admission_id IS NULL AND kind = ?",
                [kind.value]).fetchall()]
            for row_id in ids:
                self.db["incidents"].update(row_id, {"status": "resolved"})
                self._audit(actor, "incident.resolved", str(row_id), kind.value)
        return len(ids)

    def resolve_incidents(self, admission_id: str, kind: IncidentKind, actor: str, *, about: str = "") -> int:
        """Close the open incidents of one kind for an admission whose detail starts with ``about``
        (e.g. its ticket's printer fault, once the ticket is reprinted); returns how many."""
        with self._write():
            ids = [r[0] for r in self.db.execute(
                "SELECT id FROM incidents WHERE status = 'open' AND admission_id = ? AND kind = ? "
                "AND substr(detail, 1, ?) = ?", [admission_id, kind.value, len(about), about]).fetchall()]
            for row_id in ids:
                self.db["incidents"].update(row_id, {"status": "resolved"})
                self._audit(actor, "incident.resolved", str(row_id), kind.value)
        return len(ids)

    # --- print jobs ---

    def print_started(self, admission_id: str, kind: str, actor: str) -> int:
        """Record that a ticket or wristband of this admission is being printed; returns the job id.

        :raises PrintInProgress: the same one is printing right now
        """
        with self._write():
            busy = self.db.execute("SELECT 1 FROM prints WHERE admission_id = ? AND kind = ? AND status = 'printing'",
                                   [admission_id, kind]).fetchone()
            if busy:
                raise PrintInProgress(f"the {kind} of admission {admission_id} is printing")
            job_id = self.db["prints"].insert({
                "admission_id": admission_id, "kind": kind, "actor": actor, "status": "printing", "reason": "",
                "started_at": _now(), "finished_at": "",
            }).last_pk
            self._audit(actor, "print.started", admission_id, kind)
        return job_id

    def print_finished(self, job_id: int, status: str, reason: str = "") -> None:
        """How a job ended: printed, unconfirmed (sent; the printer gave no status) or failed."""
        with self._write():
            self.db["prints"].update(job_id, {"status": status, "reason": reason, "finished_at": _now()})
            row = self.db["prints"].get(job_id)
            self._audit(row["actor"], f"print.{status}", row["admission_id"], f"{row['kind']} {reason}".strip())

    def interrupt_prints(self) -> list[dict]:
        """Jobs left 'printing' by a kiosk that stopped mid-job end as 'interrupted' (they may or may
        not have printed: staff decide). Called when the kiosk starts; returns those jobs."""
        with self._write():
            rows = list(self.db["prints"].rows_where("status = 'printing'"))
            for row in rows:
                self.db["prints"].update(row["id"], {"status": "interrupted", "finished_at": _now()})
        return rows

    def prints(self, admission_id: str | None = None) -> list[dict]:
        where, args = ("admission_id = ?", [admission_id]) if admission_id else (None, None)
        return list(self.db["prints"].rows_where(where, args, order_by="id"))

    def incidents(self, status: str | None = "open") -> list[dict]:
        where, args = ("status = ?", [status]) if status else (None, None)
        return list(self.db["incidents"].rows_where(where, args, order_by="id"))

    def audit_trail(self) -> list[dict]:
        return list(self.db["audit"].rows_where(order_by="id"))

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction, all or nothing. IMMEDIATE takes the write lock up front, so a second
        connection (the sync worker) makes this wait (busy timeout) instead of failing half-way."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.conn.rollback()
            raise
        self.db.conn.commit()

    def _audit(self, actor: str, action: str, subject: str, detail: str = "") -> None:
        self.db.execute("INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                        [_now(), actor, action, subject, detail])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


