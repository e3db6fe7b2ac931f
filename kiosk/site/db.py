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
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.pysqlcipher import SQLiteDialect_pysqlcipher
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from kiosk.checkin.model import Incident
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

# What is to reach the hospital system before the patient comes (kiosk.site.delivery): one row per finished
# pre-check-in, and one more for each change the patient makes after finishing, delivered in order by the
# kiosk's own outbox worker (kiosk.hospital.outbox.Sync). ``taken``: a worker has read the pre-check-in for
# this row, so a later change needs a row of its own. ``response`` may quote the patient: the rows go with
# their invitation.
outbox = sa.Table(
    "site_outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("invitation_id", sa.String(32), nullable=False, index=True),
    sa.Column("destination", sa.String(16), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),                 # as kiosk.store.OutboxStatus
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("next_attempt_at", sa.String(40), nullable=False),       # ISO 8601, UTC (as the kiosk's outbox)
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("refusals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("taken", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    sa.Column("response", sa.Text, nullable=False, server_default=""),
    sa.Column("delivered_at", sa.BigInteger),
    sa.Index("site_outbox_queue", "status", "destination", "id"),
)

# What staff must look at (kiosk.checkin.model.IncidentKind): a pre-check-in the hospital system refused,
# the hospital system away, an answer at home that needs a person (PHQ-9 item 9).
incidents = sa.Table(
    "site_incidents", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),              # open | taken | resolved
    sa.Column("taken_by", sa.String(200)),                           # "<member> via desk <kiosk>"
    sa.Column("invitation_id", sa.String(32)),                       # NULL: about the service itself
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("resolved_at", sa.BigInteger),
    sa.Column("resolved_by", sa.String(200)),
    sa.Column("note", sa.Text),
)


# The waiting list (kiosk.site.tickets): every ticket any kiosk of the site printed, with its number of the day
# in its queue, and what staff did with it. Nothing personal: numbers, queues, times, ids of the kiosk, the
# admission and the pre-check-in. ``reserved``: a number handed to a kiosk for a ticket not stored yet; the
# kiosk's outbox then puts it on the list (``waiting``), or a number of the kiosk's own (printed while the
# service was away).
tickets = sa.Table(
    "site_tickets", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("admission_id", sa.String(64), nullable=False, unique=True),
    sa.Column("kiosk_id", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),                 # the site's local day, YYYY-MM-DD
    sa.Column("queue", sa.String(4), nullable=False),
    sa.Column("number", sa.String(16), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),              # reserved | waiting | called | done | no_show
    sa.Column("created_at", sa.BigInteger, nullable=False),          # the check-in, by the kiosk's clock
    sa.Column("registered_at", sa.BigInteger),                       # on the list since
    sa.Column("appointment_at", sa.BigInteger),
    sa.Column("invitation_id", sa.String(32)),                       # pre-checked in
    sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("called_at", sa.BigInteger),
    sa.Column("called_by", sa.String(64)),
    sa.Column("counter", sa.String(40)),
    sa.Column("finished_at", sa.BigInteger),
    sa.Index("site_tickets_list", "day", "queue", "status"),
)

# The next number per queue and day (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``: one statement, safe
# with several instances).
numbers = sa.Table(
    "site_numbers", metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("queue", sa.String(4), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
)


def undelivered():
    """The condition "an invitation with a version the hospital system has not taken": one waiting, or one
    refused and set aside while staff have not resolved the incident about it (once they have, it goes as
    any other: the kiosk's arrival carries it all again)."""
    def of_it(table):
        return sa.exists().where(table.c.invitation_id == invitations.c.id)
    return (of_it(outbox).where(outbox.c.status == "pending")
            | (of_it(outbox).where(outbox.c.status == "dead") & of_it(incidents).where(incidents.c.status != "resolved")))


def insert_incident(conn: sa.Connection, incident: Incident) -> int:
    """In ``conn``'s transaction: record an incident for staff (``admission_id``: the invitation's id); its
    id. One already open of the same kind, about the same invitation (or the service itself) with the same
    detail is not raised again."""
    open_id = conn.execute(sa.select(incidents.c.id).where(
        incidents.c.kind == incident.kind.value, incidents.c.status != "resolved", incidents.c.detail == incident.detail,
        incidents.c.invitation_id == incident.admission_id if incident.admission_id
        else incidents.c.invitation_id.is_(None))).scalar()
    if open_id is not None:
        return open_id
    return conn.execute(sa.insert(incidents).values(
        created_at=int(time.time()), kind=incident.kind.value, severity=incident.severity.value, status="open",
        invitation_id=incident.admission_id, detail=incident.detail).returning(incidents.c.id)).scalar_one()


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

    def __init__(self, engine: sa.Engine, *, deliver_to: str = ""):
        """:param deliver_to: the outbox destination of finished pre-check-ins (the hospital's transport:
            fhir, hl7v2, folder), "" when they go to the hospital only with the arrival"""
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.deliver_to = deliver_to
        self.queued = lambda: None           # called after a pre-check-in was queued (wakes the delivery)
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
