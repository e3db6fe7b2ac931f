"""The site service's data: one schema on two engines, through SQLAlchemy Core.

By default an encrypted SQLite file (SQLCipher, with the store's key, ``kiosk.store.db.connect_file``) in
``kiosk.data_dir``: one instance on one machine. With ``site.database_url`` PostgreSQL (psycopg 3): several
instances behind the hospital's proxy share it, and with it the lockouts and rate limits. Every statement
here is written once and runs on both; times are whole seconds since the epoch (UTC), so comparisons are
plain integer comparisons on either engine.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.pysqlcipher import SQLiteDialect_pysqlcipher
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from kiosk.store.db import connect_file, make_private, make_private_folder

SITE_FILE = "site.db"
SCHEMA_VERSION = "1"

metadata = sa.MetaData()

# One row per appointment a patient was invited for. What identifies the patient (the FHIR Patient, with
# the birth date the link is opened with) is personal data: wiped (NULL) after the link expires.
invitations = sa.Table(
    "invitations", metadata,
    sa.Column("id", sa.String(32), primary_key=True),               # random, names it in the API and logs
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),   # SHA-256 of the link's token
    sa.Column("appointment_id", sa.String(128), nullable=False, unique=True),
    sa.Column("starts_at", sa.String(40), nullable=False),           # ISO 8601 with its offset, as given
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("patient", sa.Text),                                   # FHIR Patient JSON; NULL once wiped
    sa.Column("failed_tries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    # What the patient did on their pages (personal data too; kiosk.site.precheck): the address and phone
    # they corrected, their answers, their consent, when they finished and the arrival code's SHA-256.
    sa.Column("contact", sa.Text),                                   # JSON: the correction, NULL = none
    sa.Column("answers", sa.Text),                                   # JSON: {linkId: value}
    sa.Column("consent", sa.Text),                                   # JSON: decision, text id, signature
    sa.Column("finished_at", sa.BigInteger),
    sa.Column("arrival_hash", sa.String(64), unique=True),
    # The arrival at a kiosk: when, at which kiosk, as which of its admissions.
    sa.Column("arrived_at", sa.BigInteger),
    sa.Column("arrived_kiosk", sa.String(64)),
    sa.Column("arrived_admission", sa.String(64)),
)

# Rate limits, one counter per key ("address:..." or "link:...") in a fixed window: in the database, so
# that they hold across instances.
limits = sa.Table(
    "limits", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
)

# The service's own secrets and markers (the key that signs patients' session cookies, the schema
# version): made once by whichever instance comes first, the same for all.
settings_table = sa.Table(
    "site_settings", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

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

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
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
    site = SiteDb(engine)
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
