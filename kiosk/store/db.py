"""The store's file and connection: its key (SQLCipher, ``read_key``), how a connection opens it, and the
one write path every part of the store shares (``Connection._write``: a transaction, all or nothing, with
its audit lines written inside it by ``_audit``).
"""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import sqlcipher3
from sqlite_utils import Database

from kiosk.store.schema import migrations

if TYPE_CHECKING:
    from kiosk.config import StoreSettings

# What a store connection raises: the plain one (sqlite3) and the encrypted one (sqlcipher3) each have
# their own exception classes.
DB_ERRORS = (sqlite3.Error, sqlcipher3.Error)
# What a store call raises when the store or the disk under it fails: logged, and the kiosk goes on.
STORE_ERRORS = (*DB_ERRORS, OSError)
KEY_ENV = "KIOSK_STORE_KEY"
KEY_CREDENTIAL = "store-key"          # systemd LoadCredential= name, read from $CREDENTIALS_DIRECTORY
_KEY = re.compile(r"[0-9a-fA-F]{64}")   # a raw 256-bit key: SQLCipher uses it as it is, no PBKDF2 at each open
_SQLITE_HEADER = b"SQLite format 3\x00"   # how a plain SQLite file starts; an encrypted one starts with its salt
# How long a connection waits for another one's write transaction (a purge batch, the sync worker) before
# it gives up: well above the longest write the kiosk makes, so that a check-in does not fail for it.
BUSY_TIMEOUT_MS = 15000


class StoreLocked(Exception):
    """The store cannot be opened with the key at hand (none, a wrong one, or one for a plain file); the
    message is one sentence for IT."""


def checked_key(key: str, where: str) -> str:
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
        return checked_key(os.environ[KEY_ENV], f"in {KEY_ENV}")
    places = [Path(settings.key_file)]
    if os.environ.get("CREDENTIALS_DIRECTORY"):
        places.insert(0, Path(os.environ["CREDENTIALS_DIRECTORY"]) / KEY_CREDENTIAL)
    for place in places:
        try:
            return checked_key(place.read_text(encoding="ascii", errors="replace"), f"in {place}")
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


class Connection:
    """One connection to the kiosk's SQLite file (one per thread), the kiosk's own state (``kiosk_state``)
    and the audit trail; the parts of the store (``kiosk.store.Store``) write through its ``_write``."""

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
        self._key = None if key is None else checked_key(key, "given")
        make_private_folder(self.path.parent)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))    # SQLite gives -wal and -shm its mode
        # No sqlite-utils plugins: none is wanted on the store's connection, and looking them up scans every
        # installed package's entry points at start-up.
        self.db = Database(self._connect(), execute_plugins=False)
        self.db.enable_wal()
        for name in (self.path, *(self.path.with_name(self.path.name + end) for end in ("-wal", "-shm"))):
            make_private(name)
        # FULL: a committed admission survives a power cut, not only a crash of the process.
        self.db.execute(f"PRAGMA synchronous={'FULL' if power_safe else 'NORMAL'}")
        self.db.execute("PRAGMA foreign_keys=ON")
        if migrate:
            migrations.apply(self.db)

    def _connect(self) -> sqlite3.Connection:
        return connect_file(self.path, self._key)

    @property
    def encrypted(self) -> bool:
        """Whether the file is encrypted (SQLCipher) rather than plain SQLite."""
        return self._key is not None

    def reopen(self, **options) -> "Connection":
        """Another connection to the same file, with the same key (one connection per thread); ``options``
        (kiosk_id, power_safe) differ from this one's where given."""
        return type(self)(self.path, key=self._key, **{"kiosk_id": self.kiosk_id, "power_safe": self.power_safe,
                                                       **options})

    def close(self) -> None:
        self.db.close()

    def applied_migrations(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

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
                        [now_iso(), actor, action, subject, detail])

    def kiosk_state(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM kiosk_state WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_kiosk_state(self, key: str, value: str, actor: str, note: str = "") -> None:
        with self._write():
            self.db.execute("INSERT INTO kiosk_state (key, value) VALUES (?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])
            self._audit(actor, f"kiosk.{key}", value, note)

    def audit_trail(self) -> list[dict]:
        return list(self.db["audit"].rows_where(order_by="id"))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect_file(path: Path, key: str | None, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection that has read the SQLite file ``path``: with ``key`` (64 hexadecimal digits) when there is
    one; deleted data is overwritten. ``check_same_thread`` False for a pool that hands connections between
    threads (one thread at a time).

    :raises StoreLocked: the key is missing, wrong, or given for a plain file
    """
    with path.open("rb") as f:
        plain = f.read(len(_SQLITE_HEADER)) in (_SQLITE_HEADER, b"")    # empty: a new store
    if key is None:
        conn = sqlite3.connect(path, check_same_thread=check_same_thread)
    else:
        if plain and path.stat().st_size:
            raise StoreLocked(f"The store {path} is a plain SQLite file, but it was opened with a key "
                              "(store.encryption = sqlcipher): set store.encryption = none, or encrypt the file "
                              "(sqlcipher_export, see the operations notes).")
        conn = sqlcipher3.connect(str(path), check_same_thread=check_same_thread)
        # SQLCipher's own log goes to stderr ("hmac check failed" for a wrong key): StoreLocked says it.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key}'\"")
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
        if key is not None:
            raise StoreLocked(f"The store {path} does not open with the key given: the key is not this "
                              "store's, or the file is not an encrypted kiosk store.") from None
        if not plain:
            raise StoreLocked(f"The store {path} is encrypted (or is not an SQLite file at all), but it "
                              "was opened without a key (store.encryption = none): set store.encryption = "
                              "sqlcipher and give the store's key.") from None
        raise
    return conn


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` and its missing parents for this user only (0700); an existing ``folder`` of this
    user's loses group and others' access, its parents stay as they are."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
    make_private(folder, 0o700)


def make_private(path: Path, mode: int = 0o600) -> None:
    """Take group and others' access off one of this user's store files or its folder (made before 0600/0700)."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    if status.st_uid == os.geteuid() and status.st_mode & 0o077:
        path.chmod(mode)


