"""The local store: one SQLite file (WAL) through sqlite-utils, with named migrations.

Tables: ``admissions`` (each stored whole, as JSON beside the columns staff filter on), ``outbox``
(what still has to reach the hospital system), ``incidents`` (what staff must look at) and ``audit``
(who did what, when). An admission, its outbox rows and its audit line are written in one
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
from sqlite_utils.migrations import Migrations

from kiosk.model import Admission, Incident

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


class Store:
    """The kiosk's SQLite file. Open one per thread; every write is its own transaction."""

    def __init__(self, path: str | Path, *, kiosk_id: str = "lobby-1"):
        """
        :param path: the SQLite file; its folder is created when missing
        :param kiosk_id: written on every admission and incident
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.kiosk_id = kiosk_id
        self.db = Database(self.path)
        self.db.enable_wal()
        # FULL: a committed admission survives a power cut, not only a crash of the process.
        self.db.execute("PRAGMA synchronous=FULL")
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
        return Admission.from_json(json.loads(self.db["admissions"].get(admission_id)["data"]))

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

    # --- incidents and audit ---

    def raise_incident(self, incident: Incident) -> int:
        """Record an incident for staff; returns its id."""
        now = _now()
        with self._write():
            row_id = self.db["incidents"].insert({
                "kiosk_id": self.kiosk_id, "created_at": now, "kind": incident.kind.value,
                "severity": incident.severity.value, "status": "open", "admission_id": incident.admission_id,
                "detail": incident.detail,
            }).last_pk
            self._audit("kiosk", "incident.raised", str(row_id), incident.kind.value)
        return row_id

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
        self.db["audit"].insert({"at": _now(), "actor": actor, "action": action, "subject": subject,
                                 "detail": detail})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


