"""The local store: one SQLite file (WAL) through sqlite-utils, with named migrations.

Tables: ``admissions`` (each stored whole, as JSON beside the columns staff filter on), ``outbox``
(what still has to reach the hospital system), ``incidents`` (what staff must look at), ``prints``
(every ticket and wristband job and how it ended) and ``audit`` (who did what, when). An admission, its outbox rows and its audit line are written in one
transaction: all of them or none.

The file is encrypted at rest with SQLCipher (AES-256) when the store is opened with a key (``read_key``:
the environment, a systemd credential or a root-only key file); without one it is plain SQLite, which the
config must ask for (``store.encryption = "none"``). Either way deleted data is overwritten
(``secure_delete``), and the personal data of old admissions is wiped (``purge_personal_data``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import sqlcipher3
from sqlite_utils import Database
from sqlite_utils.db import NotFoundError
from sqlite_utils.migrations import Migrations

from kiosk.checkin.model import Admission, Incident, IncidentKind, Severity
from kiosk import times

if TYPE_CHECKING:
    from kiosk.config import StoreSettings

migrations = Migrations("kiosk")
log = logging.getLogger(__name__)

# What a store connection raises: the plain one (sqlite3) and the encrypted one (sqlcipher3) each have
# their own exception classes.
DB_ERRORS = (sqlite3.Error, sqlcipher3.Error)
KEY_ENV = "KIOSK_STORE_KEY"
KEY_CREDENTIAL = "store-key"          # systemd LoadCredential= name, read from $CREDENTIALS_DIRECTORY
_KEY = re.compile(r"[0-9a-fA-F]{64}")   # a raw 256-bit key: SQLCipher uses it as it is, no PBKDF2 at each open
_SQLITE_HEADER = b"SQLite format 3\x00"   # how a plain SQLite file starts; an encrypted one starts with its salt
# How long a connection waits for another one's write transaction (a purge batch, the sync worker) before
# it gives up: well above the longest write the kiosk makes, so that a check-in does not fail for it.
BUSY_TIMEOUT_MS = 15000
PURGE_BATCH = 50                          # admissions wiped per write transaction (each one short)
# The pause between two batches: a connection waiting for the lock retries at most every 100 ms (SQLite's
# busy handler), so it gets in after one batch instead of missing every short gap between them.
PURGE_PAUSE_S = 0.1
WITHDRAWN_SETTLE = timedelta(hours=1)     # a withdrawn message may still be delivered (and answered) this long


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


@migrations()
def m004_staff(db: Database) -> None:
    # The incident life cycle: open -> taken -> resolved, each step by a named member of staff.
    for column in ("taken_by", "taken_at", "resolved_by", "resolved_at", "resolution", "note"):
        db["incidents"].add_column(column, str)
    db["staff"].create({"name": str, "pin_hash": str, "badges": str, "wrong_pins": int, "locked_until": str,
                        "created_at": str}, pk="name", not_null={"wrong_pins"}, defaults={"wrong_pins": 0})
    # A cancelled admission stays stored whole (the record of what happened); its undelivered
    # messages are withdrawn from the outbox.
    db["admissions"].add_column("cancelled_at", str)
    db["admissions"].add_column("cancelled_by", str)
    db["kiosk_state"].create({"key": str, "value": str}, pk="key")


@migrations()
def m005_retention(db: Database) -> None:
    # When the admission's personal data was wiped (purge_personal_data); its row stays for staff and figures.
    db["admissions"].add_column("wiped_at", str)


@migrations()
def m006_purge_indexes(db: Database) -> None:
    # What purge_personal_data looks up for each admission (its open incidents, its undelivered messages),
    # and its candidates: the admissions not yet wiped, by check-in time (the expression it compares).
    db["incidents"].create_index(["admission_id", "status"])
    db["outbox"].create_index(["admission_id", "status"])
    db.execute("CREATE INDEX idx_admissions_unwiped_created ON admissions (julianday(created_at)) "
               "WHERE wiped_at IS NULL")


# Incident details before m007 were English phrases; since then they are codes that staff mode and the desk
# page say in the reader's language (kiosk.desk.incidents). What the versions before wrote, per kind: (pattern,
# replacement). Anything else stays as it is (the page shows it as a technical code).
_OLD_DETAILS = {
    "help_requested": [(r"help pressed on the (\w+) screen", r"\1")],
    "card_removed": [(r"card removed during the read", "")],
    "coverage_ended": [(r"coverage period has ended", "")],
    "identity_unverified": [(r"identified by typed name and birth date, no card", "name")],
    "details_wrong": [(r"patient says the details shown are wrong", "")],
    "details_corrected": [(r"(address|phone), (address|phone)", r"\1,\2")],
    "answer_needs_staff": [
        (r"an intake answer asks staff to speak to the patient before they are seen", "checked_in"),
        (r"an intake answer asks staff to speak to the patient, who left the kiosk before finishing", "left")],
    "printer_fault": [(r"(\w+): (\w+)", r"\1:\2")],
    "paper_low": [(r"(\w+) printer", r"\1")],
    "printer_no_status": [(r"(\w+) printer", r"\1")],
    "sync_rejected": [(r"(\w+): (\w+)", r"\1:\2")],
    "duplicate_patient": [(r"(\w+): (\w+)", r"\1:\2")],
    "cancel_in_hospital": [(r"(\w+): delivered_after_cancel", r"\1")],
}


@migrations()
def m007_incident_detail_codes(db: Database) -> None:
    # Every incident, resolved ones too (staff may list them), in the migration's one transaction.
    for row_id, kind, detail in db.execute("SELECT id, kind, detail FROM incidents").fetchall():
        for pattern, replacement in _OLD_DETAILS.get(kind, ()):
            if old := re.fullmatch(pattern, detail or ""):
                new = old.expand(replacement)
                # A delivered admission whose appointment was not marked arrived was raised as a refusal.
                if kind == "sync_rejected" and new.endswith(":appointment_not_arrived"):
                    kind = "appointment_not_arrived"
                db.execute("UPDATE incidents SET kind = ?, detail = ? WHERE id = ?", [kind, new, row_id])
                break


# What a wiped admission's JSON keeps (Admission.to_json keys); "patient" becomes an empty Patient.
_KEPT = frozenset({"id", "kiosk_id", "created_at", "language", "identified_by", "consent", "consent_text_id",
                   "queue_number", "test_data"})
# An admission whose personal data may go (:limit, :settled: ISO times in UTC): checked in before the limit,
# no message pending or refused, no incident open or taken, and no message withdrawn (cancelled) less than
# WITHDRAWN_SETTLE ago: one that was on its way may still be delivered, and its answer stored.
_WIPEABLE = ("a.wiped_at IS NULL AND julianday(a.created_at) < julianday(:limit) "
             "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.admission_id = a.id AND o.status IN ('pending', 'dead')) "
             "AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.admission_id = a.id AND i.status IN ('open', 'taken')) "
             "AND NOT (coalesce(julianday(a.cancelled_at), 0) >= julianday(:settled) AND EXISTS "
             "(SELECT 1 FROM outbox o WHERE o.admission_id = a.id AND o.status = 'withdrawn'))")


class PrintInProgress(RuntimeError):
    """That admission's ticket or wristband is being printed right now: a second tap prints nothing."""


class StoreLocked(Exception):
    """The store cannot be opened with the key at hand (none, a wrong one, or one for a plain file); the
    message is one sentence for IT."""


def _checked_key(key: str, where: str) -> str:
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise StoreLocked(f"The store key {where} is not 64 hexadecimal digits (a 256-bit key); make one with "
                          "`openssl rand -hex 32`.")
    return key


def read_key(settings: StoreSettings) -> str | None:
    """The store's key: None when ``settings.encryption`` is "none"; else the first of the environment
    variable KIOSK_STORE_KEY, the systemd credential ``store-key`` ($CREDENTIALS_DIRECTORY, which
    LoadCredential= fills from a root-only file for the service user) and ``settings.key_file``.

    :raises StoreLocked: none of the three has a key, or the one found cannot be read or is no key
    """
    if settings.encryption == "none":
        return None
    if os.environ.get(KEY_ENV, "").strip():
        return _checked_key(os.environ[KEY_ENV], f"in {KEY_ENV}")
    places = [Path(settings.key_file)]
    if os.environ.get("CREDENTIALS_DIRECTORY"):
        places.insert(0, Path(os.environ["CREDENTIALS_DIRECTORY"]) / KEY_CREDENTIAL)
    for place in places:
        try:
            return _checked_key(place.read_text(encoding="ascii", errors="replace"), f"in {place}")
        except FileNotFoundError:
            continue
        except OSError as e:
            raise StoreLocked(f"The store key file {place} cannot be read: {e.strerror or e} (run the kiosk with "
                              "the key as the systemd credential store-key, or as a user who may read the file)."
                              ) from None
    raise StoreLocked(f"The store is encrypted (store.encryption = sqlcipher) but there is no key: none in {KEY_ENV}, "
                      f"in the systemd credential {KEY_CREDENTIAL}, or in {settings.key_file}; make one with "
                      f"`openssl rand -hex 32 > {settings.key_file}; chmod 600 {settings.key_file}` (the installer "
                      "does), or set store.encryption = none for a plain store.")


class Store:
    """The kiosk's SQLite file. Open one per thread; every write is its own transaction."""

    def __init__(self, path: str | Path, *, key: str | None = None, kiosk_id: str = "lobby-1",
                 power_safe: bool = True, migrate: bool = True):
        """
        :param path: the SQLite file; its folder is created when missing (0700), and the file (0600)
        :param key: the SQLCipher key, 64 hexadecimal digits (``read_key``); None: a plain SQLite file
        :param kiosk_id: written on every admission and incident
        :param power_safe: every commit survives a power cut (synchronous=FULL). The sync worker's
            connection does without (NORMAL: a crash loses nothing, a power cut the last few commits):
            what it writes is how deliveries went, and a delivery whose record is lost is sent again,
            which the receiver takes as the same message.
        :param migrate: apply the pending migrations (False: leave the schema as it is, for a look that must
            not change it under a running kiosk of an older version: ``kiosk doctor``)
        :raises StoreLocked: the key is missing, wrong, or given for a plain file
        """
        self.path = Path(path)
        self.kiosk_id, self.power_safe = kiosk_id, power_safe
        self._key = None if key is None else _checked_key(key, "given")
        _make_private_folder(self.path.parent)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))    # SQLite gives -wal and -shm its mode
        # No sqlite-utils plugins: none is wanted on the store's connection, and looking them up scans every
        # installed package's entry points at start-up.
        self.db = Database(self._connect(), execute_plugins=False)
        self.db.enable_wal()
        for name in (self.path, *(self.path.with_name(self.path.name + end) for end in ("-wal", "-shm"))):
            _make_private(name)
        # FULL: a committed admission survives a power cut, not only a crash of the process.
        self.db.execute(f"PRAGMA synchronous={'FULL' if power_safe else 'NORMAL'}")
        self.db.execute("PRAGMA foreign_keys=ON")
        if migrate:
            migrations.apply(self.db)

    def _connect(self) -> sqlite3.Connection:
        """A connection that has read the file: with the key when there is one; deleted data is overwritten."""
        with self.path.open("rb") as f:
            plain = f.read(len(_SQLITE_HEADER)) in (_SQLITE_HEADER, b"")    # empty: a new store
        if self._key is None:
            conn = sqlite3.connect(self.path)
        else:
            if plain and self.path.stat().st_size:
                raise StoreLocked(f"The store {self.path} is a plain SQLite file, but it was opened with a key "
                                  "(store.encryption = sqlcipher): set store.encryption = none, or encrypt the file "
                                  "(sqlcipher_export, see the operations notes).")
            conn = sqlcipher3.connect(str(self.path))
            # SQLCipher's own log goes to stderr ("hmac check failed" for a wrong key): StoreLocked says it.
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(f"PRAGMA key = \"x'{self._key}'\"")
            # SQLCipher 4's settings, whatever a later build's defaults: else its store reads as a wrong key.
            conn.execute("PRAGMA cipher_compatibility = 4")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA temp_store = MEMORY")     # sorts and temporary tables: no spill files in $TMPDIR
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except DB_ERRORS as e:
            conn.close()
            if getattr(e, "sqlite_errorname", "") != "SQLITE_NOTADB":
                raise
            if self._key is not None:
                raise StoreLocked(f"The store {self.path} does not open with the key given: the key is not this "
                                  "store's, or the file is not an encrypted kiosk store.") from None
            if not plain:
                raise StoreLocked(f"The store {self.path} is encrypted (or is not an SQLite file at all), but it "
                                  "was opened without a key (store.encryption = none): set store.encryption = "
                                  "sqlcipher and give the store's key.") from None
            raise
        return conn

    @property
    def encrypted(self) -> bool:
        """Whether the file is encrypted (SQLCipher) rather than plain SQLite."""
        return self._key is not None

    def reopen(self, **options) -> "Store":
        """Another connection to the same file, with the same key (one connection per thread); ``options``
        (kiosk_id, power_safe) differ from this one's where given."""
        return Store(self.path, key=self._key, **{"kiosk_id": self.kiosk_id, "power_safe": self.power_safe,
                                                   **options})

    def close(self) -> None:
        self.db.close()

    def applied_migrations(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

    # --- admissions ---

    def save_admission(self, admission: Admission, *, queue_prefix: str = "A",
                       destinations: tuple[str, ...] = (), prints: tuple[str, ...] = ()) -> Admission:
        """Store an admission whole, give it the next queue number of its day, queue it for each
        destination (hospital transport) and queue its print jobs (``prints``: the kinds the kiosk prints
        at check-in; ``print_started`` takes them up), so that a kiosk stopped before it printed leaves
        them to ``interrupt_prints``. Returns the admission with its queue number.

        :raises DB_ERRORS: nothing was stored (disk full, file unwritable...)
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
        return self.db.execute("SELECT count(*) FROM outbox WHERE status IN ('pending', 'dead') AND destination != ?",
                               [destination]).fetchone()[0]

    def outbox_delivered(self, row_id: int, response: str = "") -> None:
        """The hospital system took the message. One that staff withdrew (cancelled the admission) while
        it was on its way is delivered all the same: it is marked so, with an incident telling staff to
        cancel it in the hospital system too."""
        with self._write():
            done = self.db.execute(
                "UPDATE outbox SET status = 'delivered', delivered_at = ?, response = ?, last_error = '' "
                "WHERE id = ? AND status IN ('pending', 'withdrawn') "
                "RETURNING admission_id, destination, (SELECT cancelled_at FROM admissions a "
                "WHERE a.id = outbox.admission_id)",
                [_now(), response, row_id]).fetchone()
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
            return len(self._requeue_dead("destination", destination, actor))

    def _requeue_dead(self, column: str, value: str, actor: str) -> list:
        """Set the refused (dead) messages whose ``column`` (destination or admission_id) is ``value``
        pending again, each audited; inside a write transaction. Returns their rows."""
        rows = self.db.execute(
            "UPDATE outbox SET status = 'pending', refusals = 0, next_attempt_at = ? "
            f"WHERE {column} = ? AND status = 'dead' RETURNING admission_id, destination", [_now(), value]).fetchall()
        for admission_id, destination in rows:
            self._audit(actor, "outbox.requeued", admission_id, destination)
        return rows

    # --- incidents and audit ---

    def raise_incident(self, incident: Incident) -> int:
        """Record an incident for staff; returns its id. A state of the kiosk's devices that is already
        open (``IncidentKind.about_the_kiosk``, same detail) is not raised again: its id is returned."""
        with self._write():
            return self._insert_incident(incident)

    def _insert_incident(self, incident: Incident) -> int:
        if incident.kind.about_the_kiosk:
            rows = self.db.execute(
                "SELECT id FROM incidents WHERE status != 'resolved' AND admission_id IS NULL AND kind = ? "
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

    def kiosk_incident_open(self, kind: IncidentKind) -> bool:
        """Whether an incident of this kind about the kiosk itself is open or taken (not resolved)."""
        return self.db.execute("SELECT 1 FROM incidents WHERE status != 'resolved' AND admission_id IS NULL "
                               "AND kind = ? LIMIT 1", [kind.value]).fetchone() is not None

    def resolve_kiosk_incidents(self, kind: IncidentKind, actor: str, *, how: str = "done", note: str = "") -> int:
        """Close the open (or taken) incidents of one kind about the kiosk itself (e.g. the hospital
        system being unreachable, once it answers again); returns how many."""
        with self._write():
            ids = [r[0] for r in self.db.execute(
                "SELECT id FROM incidents WHERE status != 'resolved' AND admission_id IS NULL AND kind = ?",
                [kind.value]).fetchall()]
            for row_id in ids:
                self._resolve(row_id, actor, how, note)
        return len(ids)

    def resolve_incidents(self, admission_id: str, kind: IncidentKind, actor: str, *, about: str = "",
                          how: str = "done", note: str = "") -> int:
        """Close the open (or taken) incidents of one kind for an admission whose detail starts with
        ``about`` (e.g. its ticket's printer fault, once the ticket is reprinted); returns how many."""
        with self._write():
            ids = [r[0] for r in self.db.execute(
                "SELECT id FROM incidents WHERE status != 'resolved' AND admission_id = ? AND kind = ? "
                "AND substr(detail, 1, ?) = ?", [admission_id, kind.value, len(about), about]).fetchall()]
            for row_id in ids:
                self._resolve(row_id, actor, how, note)
        return len(ids)

    def take_incident(self, incident_id: int, actor: str) -> dict | None:
        """Mark an incident as being seen to by ``actor`` (again, when someone else had taken it).
        Returns the incident as it was, or None when there is none (or it is resolved)."""
        with self._write():
            row = self._incident(incident_id)
            if row is None or row["status"] == "resolved":
                return row
            self.db.execute("UPDATE incidents SET status = 'taken', taken_by = ?, taken_at = ? WHERE id = ?",
                            [actor, _now(), incident_id])
            self._audit(actor, "incident.taken", str(incident_id), row["kind"])
        return row

    def resolve_incident(self, incident_id: int, actor: str, how: str, note: str = "") -> dict | None:
        """Close one incident: by whom, how (a word from kiosk.desk.staff.RESOLUTIONS) and a note. Returns
        the incident as it was, or None when there is none; a resolved one is left as it is."""
        with self._write():
            row = self._incident(incident_id)
            if row is not None and row["status"] != "resolved":
                self._resolve(incident_id, actor, how, note)
        return row

    def _incident(self, incident_id: int) -> dict | None:
        cursor = self.db.execute("SELECT * FROM incidents WHERE id = ?", [incident_id])
        row = cursor.fetchone()
        return dict(zip((c[0] for c in cursor.description), row)) if row else None

    def _resolve(self, incident_id: int, actor: str, how: str, note: str) -> None:
        kind = self.db.execute(
            "UPDATE incidents SET status = 'resolved', resolved_by = ?, resolved_at = ?, resolution = ?, note = ? "
            "WHERE id = ? RETURNING kind", [actor, _now(), how, note, incident_id]).fetchone()[0]
        # The note is free text typed by staff (it may name the patient): it stays on the incident row.
        self._audit(actor, "incident.resolved", str(incident_id), f"{kind} {how}")

    # --- print jobs ---

    def print_started(self, admission_id: str, kind: str, actor: str) -> int:
        """Record that a ticket or wristband of this admission is being printed (the job ``actor`` queued
        with the admission, or a new one); returns the job id.

        :raises PrintInProgress: the same one is printing right now, or queued by someone else
        """
        with self._write():
            queued = self.db.execute("SELECT id FROM prints WHERE admission_id = ? AND kind = ? AND actor = ? "
                                     "AND status = 'queued'", [admission_id, kind, actor]).fetchone()
            if queued:
                self.db.execute("UPDATE prints SET status = 'printing', started_at = ? WHERE id = ?",
                                [_now(), queued[0]])
                self._audit(actor, "print.started", admission_id, kind)
                return queued[0]
            busy = self.db.execute("SELECT 1 FROM prints WHERE admission_id = ? AND kind = ? "
                                   "AND status IN ('queued', 'printing')", [admission_id, kind]).fetchone()
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
        """Jobs left 'printing' by a kiosk that stopped mid-job, or still 'queued' by one that stopped
        between storing the admission and printing, end as 'interrupted' (they may or may not have printed:
        staff decide). Called when the kiosk starts; returns those jobs."""
        with self._write():
            rows = list(self.db["prints"].rows_where("status IN ('queued', 'printing')"))
            for row in rows:
                self.db["prints"].update(row["id"], {"status": "interrupted", "finished_at": _now()})
        return rows

    def prints(self, admission_id: str | None = None) -> list[dict]:
        where, args = ("admission_id = ?", [admission_id]) if admission_id else (None, None)
        return list(self.db["prints"].rows_where(where, args, order_by="id"))

    def incidents(self, status: str | None = "open") -> list[dict]:
        """Incidents of one status (open, taken, resolved; "unresolved": open or taken), or all, oldest first."""
        if status == "unresolved":
            where, args = "status != 'resolved'", None
        else:
            where, args = ("status = ?", [status]) if status else (None, None)
        return list(self.db["incidents"].rows_where(where, args, order_by="id"))

    def incidents_for_staff(self, include_resolved: bool = False) -> list[dict]:
        """Unresolved incidents (and resolved ones when asked), newest first, with their admission's
        queue number ("" when none) and whether it is cancelled (``admission_cancelled``, 0 or 1)."""
        where = "" if include_resolved else "WHERE i.status != 'resolved' "
        cursor = self.db.execute(
            "SELECT i.*, coalesce(a.queue_number, '') AS queue_number, "
            "coalesce(a.cancelled_at, '') != '' AS admission_cancelled FROM incidents i "
            f"LEFT JOIN admissions a ON a.id = i.admission_id {where}ORDER BY i.id DESC")
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    # --- staff ---

    def add_staff(self, name: str, pin_hash: str, badges: tuple[str, ...], actor: str) -> bool:
        """Add a member of staff; False when the name is taken."""
        with self._write():
            if self.db.execute("SELECT 1 FROM staff WHERE name = ?", [name]).fetchone():
                return False
            self.db["staff"].insert({"name": name, "pin_hash": pin_hash, "badges": json.dumps(list(badges)),
                                     "wrong_pins": 0, "locked_until": "", "created_at": _now()})
            self._audit(actor, "staff.added", name, f"{len(badges)} badge(s)")
        return True

    def remove_staff(self, name: str, actor: str) -> bool:
        """False when there is no such member."""
        with self._write():
            gone = self.db.execute("DELETE FROM staff WHERE name = ? RETURNING name", [name]).fetchone()
            if gone:
                self._audit(actor, "staff.removed", name)
        return bool(gone)

    def staff(self) -> list[dict]:
        """Every member (with the PIN hash: for kiosk.desk.staff only), by name; badges as a list."""
        return [{**row, "badges": json.loads(row["badges"] or "[]")}
                for row in self.db["staff"].rows_where(order_by="name")]

    def staff_member(self, name: str) -> dict | None:
        row = next(iter(self.db["staff"].rows_where("name = ?", [name])), None)
        return {**row, "badges": json.loads(row["badges"] or "[]")} if row else None

    def staff_signed_in(self, name: str, where: str, how: str = "pin") -> None:
        """A right PIN (or badge): the count of wrong ones starts again."""
        with self._write():
            self.db.execute("UPDATE staff SET wrong_pins = 0, locked_until = '' WHERE name = ?", [name])
            self._audit(name, "staff.signed_in", name, f"{how} {where}")

    def staff_signed_out(self, name: str, where: str, how: str) -> None:
        """A member left staff mode (``how``: tap or idle)."""
        with self._write():
            self._audit(name, "staff.signed_out", name, f"{how} {where}")

    def staff_pin_try(self, name: str, where: str, max_wrong: int, now: datetime, lock_until: str) -> dict:
        """Reserve one PIN check for the name typed, in one write transaction, before the PIN is looked at:
        a locked name is refused (audited, actor ``where``); else the try is counted as wrong already, and
        the ``max_wrong``-th in a row locks the name until ``lock_until`` (the count starts again), so that
        no more than ``max_wrong`` checks happen per name and lock, however many come at once. A right PIN
        then clears count and lock (``staff_signed_in``).

        Names that are no member count the same way, under a keyed hash of the name (in ``kiosk_state``,
        with the time of the last try): a name typed that is no member is never written down.

        Returns ``{"refused": lock time or "", "pin_hash": the member's or "", "subject": the member's name
        or "name#<hash>", "locks": lock time if this try locked the name, else ""}``.
        """
        with self._write():
            row = self.db.execute("SELECT pin_hash, wrong_pins, locked_until FROM staff WHERE name = ?",
                                  [name]).fetchone()
            if row:
                pin_hash, wrong, until = row
                subject, state_key = name, ""
            else:
                digest = self._name_digest(name)
                pin_hash, subject, state_key = "", f"name#{digest[:16]}", f"sign_in_tries:{digest}"
                stored = self.db.execute("SELECT value FROM kiosk_state WHERE key = ?", [state_key]).fetchone()
                wrong, until, _ = _tries(stored[0] if stored else "")
            if until and times.moment(until) > now:
                self._audit(where, "staff.refused_locked", subject)
                return {"refused": until, "pin_hash": "", "subject": subject, "locks": ""}
            wrong, until = wrong + 1, ""
            if wrong >= max_wrong:
                wrong, until = 0, lock_until
            if state_key:     # "<count> <locked until> <last try>" (purge_personal_data forgets old ones)
                self.db.execute("INSERT INTO kiosk_state (key, value) VALUES (?, ?) "
                                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                [state_key, f"{wrong} {until} {now.isoformat(timespec='seconds')}"])
            else:
                self.db.execute("UPDATE staff SET wrong_pins = ?, locked_until = ? WHERE name = ?",
                                [wrong, until, name])
        return {"refused": "", "pin_hash": pin_hash or "", "subject": subject, "locks": until}

    def staff_pin_wrong(self, subject: str, where: str, locked_until: str = "") -> None:
        """Audit a wrong PIN (counted already by ``staff_pin_try``): the actor is the place it was typed at,
        the subject the member (or "name#<hash>"); and the lock it set, if any."""
        with self._write():
            self._audit(where, "staff.pin_wrong", subject, "" if not subject.startswith("name#") else "no such name")
            if locked_until:
                self._audit(where, "staff.locked", subject, locked_until)

    def _name_digest(self, name: str) -> str:
        """A keyed hash of a name (the key is the kiosk's own, made on first use): the same name gives the
        same digest on this kiosk, and a list of names does not turn it back into one. Within a write."""
        row = self.db.execute("SELECT value FROM kiosk_state WHERE key = 'sign_in_name_key'").fetchone()
        key = row[0] if row else secrets.token_hex(32)
        if not row:
            self.db.execute("INSERT INTO kiosk_state (key, value) VALUES ('sign_in_name_key', ?)", [key])
        return hmac.new(bytes.fromhex(key), name.encode("utf-8"), hashlib.sha256).hexdigest()

    def staff_refused(self, name: str, where: str, why: str) -> None:
        """A sign-in refused without looking at the PIN: an unknown badge."""
        with self._write():
            self._audit(name or "unknown", f"staff.refused_{why}", name, where)

    # --- admissions for staff ---

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
                            [_now(), actor, admission_id])
            withdrawn = self.db.execute(
                "UPDATE outbox SET status = 'withdrawn', last_error = 'cancelled' "
                "WHERE admission_id = ? AND status IN ('pending', 'dead') RETURNING destination",
                [admission_id]).fetchall()
            delivered = self.db.execute("SELECT count(*) FROM outbox WHERE admission_id = ? AND status = 'delivered'",
                                        [admission_id]).fetchone()[0]
            self._audit(actor, "admission.cancelled", admission_id,
                        f"{len(withdrawn)} withdrawn, {delivered} delivered")
            for (row_id,) in self.db.execute("SELECT id FROM incidents WHERE status != 'resolved' AND admission_id = ?",
                                             [admission_id]).fetchall():
                self._resolve(row_id, actor, "cancelled", note)
        return len(withdrawn), delivered

    # --- the kiosk's own state ---

    def kiosk_state(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM kiosk_state WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_kiosk_state(self, key: str, value: str, actor: str, note: str = "") -> None:
        with self._write():
            self.db.execute("INSERT INTO kiosk_state (key, value) VALUES (?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])
            self._audit(actor, f"kiosk.{key}", value, note)

    def outbox_figures(self) -> dict:
        """For the device status: pending and refused (dead) counts, the creation time of the oldest
        pending message ("" when none) and the time of the last delivery ("" when never)."""
        pending, dead, oldest, last = self.db.execute(
            "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead'), "
            "coalesce(min(created_at) FILTER (WHERE status = 'pending'), ''), coalesce(max(delivered_at), '') "
            "FROM outbox").fetchone()
        return {"pending": pending, "dead": dead, "oldest_pending_at": oldest, "last_delivered_at": last}

    def audit_trail(self) -> list[dict]:
        return list(self.db["audit"].rows_where(order_by="id"))

    # --- retention ---

    def purge_personal_data(self, older_than: datetime, actor: str = "retention", *,
                            batch_size: int = PURGE_BATCH) -> int:
        """Wipe the personal data of the admissions checked in before ``older_than`` that have nothing
        left to do: no message pending or refused (delivered, withdrawn or none at all; one withdrawn less
        than an hour ago may still be delivered, so waits for a later run) and no incident open or taken.
        Returns how many were wiped (one audit line says so, every run).

        The candidates are looked up without the write lock, then wiped ``batch_size`` at a time, each batch
        its own short write transaction that checks each admission again (one that got a message or an
        incident since stays), with a pause between batches: a check-in on another connection waits for
        one batch at most.

        A wiped admission keeps what staff and figures need (``_KEPT``: queue number, times, kiosk, how
        the patient was identified, language, consent; cancelled and wiped_at in their columns) and loses
        name, birth date, identifiers, address, phone, coverage, appointment, answers and signature. Its
        messages lose what the hospital system answered (``response``; ``last_error`` keeps the reason
        code), its incidents the note staff typed (``detail`` holds codes only); so do incidents about no
        admission resolved before ``older_than``. Wrong-PIN counts of names that are no member are
        forgotten once a lock period has passed since their last try. Then the WAL is checkpointed and
        emptied, unless another connection is using it right then (the purge does not wait: the next run
        empties it): with secure_delete, the old data is overwritten in the file and gone from the WAL.
        """
        from kiosk.desk.staff import LOCK_S  # the staff module owns the lock rules (and imports this one)
        now = datetime.now(timezone.utc)
        candidates = self._purge_candidates(older_than, now)
        wiped = 0
        for start in range(0, len(candidates), batch_size):
            if start:
                time.sleep(PURGE_PAUSE_S)
            wiped += self._wipe_batch(candidates[start:start + batch_size], older_than, now)
        forget = now - timedelta(seconds=LOCK_S)
        with self._write():
            self.db.execute("UPDATE incidents SET note = '' WHERE admission_id IS NULL AND status = 'resolved' "
                            "AND note != '' AND julianday(resolved_at) < julianday(?)", [times.utc(older_than).isoformat()])
            for key, value in self.db.execute("SELECT key, value FROM kiosk_state WHERE key LIKE 'sign_in_tries:%'"
                                              ).fetchall():
                _, until, last = _tries(value)
                if not (until and times.moment(until) > now) and (not last or times.moment(last) < forget):
                    self.db.execute("DELETE FROM kiosk_state WHERE key = ?", [key])
            self._audit(actor, "retention.purged", "", f"{wiped} admission(s)")
        self.db.execute("PRAGMA busy_timeout = 0")      # a connection reading or writing: do not wait for it
        try:
            busy = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if busy:
            log.debug("retention: the WAL is in use by another connection; the next purge empties it")
        return wiped

    def _wipe_params(self, older_than: datetime, now: datetime) -> dict:
        return {"limit": times.utc(older_than).isoformat(), "settled": (now - WITHDRAWN_SETTLE).isoformat()}

    def _purge_candidates(self, older_than: datetime, now: datetime) -> list[str]:
        """The ids of the admissions ``purge_personal_data`` may wipe, oldest first; read only, no write lock."""
        return [r[0] for r in self.db.execute(f"SELECT id FROM admissions a WHERE {_WIPEABLE} "
                                              "ORDER BY julianday(a.created_at)",
                                              self._wipe_params(older_than, now)).fetchall()]

    def _wipe_batch(self, ids: list[str], older_than: datetime, now: datetime) -> int:
        """Wipe those of ``ids`` that may still be wiped (checked again here), in one write transaction;
        returns how many."""
        with self._write():
            rows = self.db.execute(
                f"SELECT id, data FROM admissions a WHERE id IN (SELECT value FROM json_each(:ids)) AND {_WIPEABLE}",
                {**self._wipe_params(older_than, now), "ids": json.dumps(ids)}).fetchall()
            for admission_id, data in rows:
                kept = {k: v for k, v in json.loads(data).items() if k in _KEPT}
                kept["patient"] = {"resourceType": "Patient"}
                self.db.execute("UPDATE admissions SET data = ?, wiped_at = ? WHERE id = ?",
                                [json.dumps(kept, ensure_ascii=False), now.isoformat(timespec="seconds"), admission_id])
                self.db.execute("UPDATE outbox SET response = '', last_error = CASE WHEN instr(last_error, ':') "
                                "THEN substr(last_error, 1, instr(last_error, ':') - 1) ELSE last_error END "
                                "WHERE admission_id = ?", [admission_id])
                self.db.execute("UPDATE incidents SET note = '' WHERE admission_id = ?", [admission_id])
        return len(rows)

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


def _make_private_folder(folder: Path) -> None:
    """Create ``folder`` and its missing parents for this user only (0700); an existing ``folder`` of this
    user's loses group and others' access, its parents stay as they are."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
    _make_private(folder, 0o700)


def _make_private(path: Path, mode: int = 0o600) -> None:
    """Take group and others' access off one of this user's store files or its folder (made before 0600/0700)."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    if status.st_uid == os.geteuid() and status.st_mode & 0o077:
        path.chmod(mode)


def _tries(value: str) -> tuple[int, str, str]:
    """A kiosk_state wrong-PIN count of a name that is no member: (count, locked until, last try), the
    times "" when not set (rows written before the last try was kept have two parts)."""
    count, until, last = (value.split(" ") + ["", "", ""])[:3]
    return int(count or 0), until, last


