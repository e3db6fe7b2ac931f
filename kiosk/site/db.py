"""The site service's data: one schema on two engines, through SQLAlchemy Core.

By default an encrypted SQLite file (SQLCipher, with the store's key, ``kiosk.store.db.connect_file``) in
``kiosk.data_dir``: one instance on one machine. With ``site.database_url`` PostgreSQL (psycopg 3): several
instances behind the hospital's proxy share it, and with it the lockouts and rate limits. Every statement
here is written once and runs on both; times are whole seconds since the epoch (UTC), so comparisons are
plain integer comparisons on either engine.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.pysqlcipher import SQLiteDialect_pysqlcipher
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from kiosk.site.schema import incidents, invitations, limits, metadata, outbox, settings_table, undelivered
from kiosk.store.db import connect_file, make_private, make_private_folder

SITE_FILE = "site.db"
CHANNEL = "kiosk_site"                   # PostgreSQL NOTIFY channel of the waiting list's changes
SCHEMA_VERSION = "1"

# Both engines take INSERT ... ON CONFLICT and RETURNING (SQLite since 3.35; SQLCipher 4.6 carries 3.45+).
_HIT = sa.text(
    "INSERT INTO limits (key, window_start, hits) VALUES (:key, :now, 1) "
    "ON CONFLICT (key) DO UPDATE SET "
    "hits = CASE WHEN limits.window_start <= :now - :window THEN 1 ELSE limits.hits + 1 END, "
    "window_start = CASE WHEN limits.window_start <= :now - :window THEN :now ELSE limits.window_start END "
    "RETURNING hits, window_start")
_PUT_ONCE = sa.text("INSERT INTO site_settings (name, value) VALUES (:name, :value) ON CONFLICT (name) DO NOTHING")


class SiteDb:
    """The site service's engine and the statements shared by the invitations, the limits and the pages."""

    def __init__(self, engine: sa.Engine, *, deliver_to: str = ""):
        """:param deliver_to: the outbox destination of finished pre-check-ins (the hospital's transport:
            fhir, hl7v2, folder), "" when they go to the hospital only with the arrival"""
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.deliver_to = deliver_to
        self.queued = lambda: None           # called after a pre-check-in was queued (wakes the delivery)
        self.listeners: list = []            # called with what changed on the waiting list ("list", "call")
        self._secrets: dict[str, bytes] = {}

    def create_schema(self) -> None:
        """Create what is missing. On PostgreSQL under a transaction-scoped advisory lock, so that instances
        starting together do not race to create the same table."""
        with self.engine.begin() as conn:
            if self.postgres:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": 0x6B696F736B})   # "kiosk"
            metadata.create_all(conn)
            conn.execute(_PUT_ONCE, {"name": "schema_version", "value": SCHEMA_VERSION})

    def secret(self, name: str) -> bytes:
        """A random 32-byte secret, made by the first instance that asks and the same for every instance (it
        never changes: kept once read)."""
        if name not in self._secrets:
            with self.engine.begin() as conn:
                conn.execute(_PUT_ONCE, {"name": name, "value": secrets.token_hex(32)})
                value = conn.execute(sa.select(settings_table.c.value)
                                     .where(settings_table.c.name == name)).scalar_one()
            self._secrets[name] = bytes.fromhex(value)
        return self._secrets[name]

    def hit(self, key: str, window_s: float, now: float | None = None) -> tuple[int, int]:
        """Count one request against ``key``: how many in the current window, this one included, and the
        seconds until that window ends."""
        now_s = int(time.time() if now is None else now)
        with self.engine.begin() as conn:
            hits, start = conn.execute(_HIT, {"key": key, "now": now_s, "window": int(window_s)}).one()
        return hits, max(1, start + int(window_s) - now_s)

    def forget_limits(self, window_s: float, now: float | None = None) -> int:
        """Drop the counters whose window has ended; how many."""
        now_s = int(time.time() if now is None else now)
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(limits).where(limits.c.window_start <= now_s - int(window_s))).rowcount

    def queue_delivery(self, conn: sa.Connection, invitation_id: str, now: int) -> bool:
        """In ``conn``'s transaction: queue the pre-check-in for delivery, unless a row of it waits that no
        worker has read yet (that one will carry this change). True when a row was added."""
        if not self.deliver_to:
            return False
        waiting = conn.execute(sa.select(outbox.c.id).where(
            outbox.c.invitation_id == invitation_id, outbox.c.status == "pending", outbox.c.taken.is_(False))
            .with_for_update()).first()       # (a worker taking it meanwhile waits, or is waited for)
        if waiting is not None:
            return False
        conn.execute(sa.insert(outbox).values(
            invitation_id=invitation_id, destination=self.deliver_to, status="pending", created_at=now,
            next_attempt_at=datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")))
        return True

    @contextlib.contextmanager
    def begin(self):
        """A transaction (as ``engine.begin()``) whose ``changed`` calls reach the listeners once it committed."""
        changes: set[str] = set()
        with self.engine.begin() as conn:
            conn.info["changes"] = changes
            try:
                yield conn
            finally:
                conn.info.pop("changes", None)
        for what in sorted(changes):
            self.tell(what)

    def changed(self, conn: sa.Connection, what: str) -> None:
        """In ``conn``'s transaction (``begin``): the waiting list changed (``what``: "list", or "call" for a
        call the displays show). Once it commits, every instance's ``listeners`` hear it: on PostgreSQL
        through NOTIFY on CHANNEL, which each instance LISTENs to (kiosk.site.events), on the embedded file
        (one instance) directly."""
        if self.postgres:
            conn.execute(sa.text("SELECT pg_notify(:channel, :what)"), {"channel": CHANNEL, "what": what})
        else:
            conn.info["changes"].add(what)

    def tell(self, what: str) -> None:
        """Hand a change to this instance's listeners (never raises: a listener's failure is its own)."""
        for listener in list(self.listeners):
            try:
                listener(what)
            except Exception:
                logging.getLogger(__name__).warning("a listener of the waiting list failed", exc_info=True)

    def wipe(self, conn: sa.Connection, due) -> int:
        """In ``conn``'s transaction: delete the invitations ``due`` (a condition on them) with their outbox
        rows and incidents (staff's notes, the appointment id), keeping those with a version not delivered (pending, or refused and set aside for staff): a
        pre-check-in is never lost before the hospital system has it. How many went."""
        gone = [r.id for r in conn.execute(sa.select(invitations.c.id).where(due, ~undelivered()))]
        for chunk in range(0, len(gone), 500):
            ids = gone[chunk:chunk + 500]
            conn.execute(sa.delete(outbox).where(outbox.c.invitation_id.in_(ids)))
            conn.execute(sa.delete(incidents).where(incidents.c.invitation_id.in_(ids)))
            conn.execute(sa.delete(invitations).where(invitations.c.id.in_(ids)))
        return len(gone)

    def dispose(self) -> None:
        self.engine.dispose()


def open_site_db(settings) -> SiteDb:
    """The site service's database as ``settings.site.database_url`` names it, its schema made.

    :raises kiosk.store.db.StoreLocked: the embedded file's key is missing or wrong
    :raises sqlalchemy.exc.OperationalError: PostgreSQL cannot be reached or refuses the connection
    """
    url = settings.site.database_url
    if url:
        url = sa.make_url(url).set(drivername="postgresql+psycopg")
        # pool_pre_ping: a connection that a PostgreSQL restart closed is replaced, not handed to a request.
        engine = sa.create_engine(url, pool_size=8, max_overflow=4, pool_pre_ping=True)
    else:
        from kiosk.store.db import read_key
        engine = file_engine(settings.data_path / SITE_FILE, read_key(settings.store))
    transport = settings.hospital.transport
    site = SiteDb(engine, deliver_to="" if transport == "none" else transport)
    site.create_schema()
    return site


class KeyedCipherDialect(SQLiteDialect_pysqlcipher):
    """sqlcipher3 as SQLAlchemy's pysqlcipher dialect drives it, without the dialect's own ``PRAGMA key`` from
    the URL: ``connect_file`` has keyed the connection already (a raw key, no PBKDF2 at each connection)."""

    supports_statement_cache = True

    def on_connect_url(self, url):
        return SQLiteDialect_pysqlite.on_connect_url(self, url)


sa.dialects.registry.register("sqlite.kiosk_sqlcipher", __name__, "KeyedCipherDialect")


def file_engine(path: Path, key: str | None) -> sa.Engine:
    """An engine on the SQLite file ``path``, SQLCipher-encrypted with ``key`` (None: plain), one connection
    per server thread at a time."""
    make_private_folder(path.parent)
    if not path.exists():
        path.touch(mode=0o600)
    engine = sa.create_engine("sqlite+kiosk_sqlcipher://" if key else "sqlite://",
                              creator=lambda: connect_file(path, key, check_same_thread=False),
                              poolclass=sa.QueuePool, pool_size=8, max_overflow=4)

    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=FULL")

    # The DB-API module's own transaction handling is off: SQLAlchemy's BEGIN is the only one, and IMMEDIATE
    # takes the write lock at once, so two threads writing wait (busy timeout) instead of failing half-way.
    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @sa.event.listens_for(engine, "connect", insert=True)
    def _autocommit(dbapi_conn, _record):
        dbapi_conn.isolation_level = None

    with engine.connect():
        pass
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        make_private(name)
    return engine
