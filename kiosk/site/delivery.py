"""What a patient finished at home reaches the hospital system before they come: through the kiosk's own
outbox worker (kiosk.hospital.outbox.Sync), transports and rules (in order, retried, refused ones set aside
for staff, each message idempotent at the receiver), from the site service's outbox (``site_outbox``).

A finished pre-check-in goes as a pre-admission: the FHIR transaction with a ``planned`` Encounter for the
appointment, the answers and the consent, or an ADT^A05, or a file in the drop folder
(kiosk.hospital.fhir.transaction, kiosk.hospital.hl7v2.adt with ``pre_admit``). A change the patient makes
after finishing goes again. The kiosk the patient arrives at sends the arrival with the same identifiers,
so that the hospital has one visit (docs/site.md).

Several instances of the service (on one PostgreSQL) each run a worker; one delivers at a time (an
advisory lock; on the embedded file, a file lock), and the others look every ``POLL_S`` for what was queued
on another instance.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from kiosk.checkin.arrival import admission_of, answered
from kiosk.checkin.forms import Form
from kiosk.checkin.model import Admission, Incident, IncidentKind
from kiosk.files import FileLock
from kiosk.hospital.outbox import NothingToSend, SyncThread
from kiosk.hospital.site_client import pre_check_in
from kiosk.hospital.transports import open_transport
from kiosk.site.arrivals import Found
from kiosk.site.db import SITE_FILE, SiteDb
from kiosk.site.schema import incidents, insert_incident, outbox
from kiosk.site.invitations import find

log = logging.getLogger(__name__)

POLL_S = 10.0                 # how often a worker looks for pre-check-ins queued by another instance
LOCK_ID = 0x6B696F736B01      # the PostgreSQL advisory lock the delivering worker holds ("kiosk", 1)


class AdvisoryLock:
    """One worker at a time across instances on PostgreSQL: a session-level advisory lock on a connection
    of its own, held while the block runs (released with the connection should the instance die)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.held = False

    def __enter__(self) -> AdvisoryLock:
        self.conn = self.engine.connect()
        return self

    def try_acquire(self) -> bool:
        self.held = bool(self.conn.execute(sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": LOCK_ID}).scalar())
        self.conn.commit()
        return self.held

    def __exit__(self, *_) -> None:
        try:
            if self.held and not self.conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID}).scalar():
                self.conn.invalidate()           # not released: this connection must not go back to the pool
            self.conn.commit()
        except sa.exc.SQLAlchemyError:
            self.conn.invalidate()               # (closing the server's session releases the lock)
        finally:
            self.conn.close()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


class SiteOutbox:
    """The site service's outbox and incidents, with the methods ``Sync`` asks a store for. Its rows name
    the pre-check-in as ``admission_id``; the pre-admission is made from it when it is sent, so a row
    carries what the patient has entered by then."""

    def __init__(self, site: SiteDb, form: Form, site_id: str, folder=None):
        """:param folder: where the embedded database lies (its lock file goes beside it); None on PostgreSQL"""
        self.site, self.form, self.site_id, self.folder = site, form, site_id, folder

    def delivery_lock(self):
        if self.site.postgres:
            return AdvisoryLock(self.site.engine)
        return FileLock(self.folder / (SITE_FILE + ".sync-lock"))

    def outbox_head(self, destination: str) -> dict | None:
        with self.site.engine.connect() as conn:
            row = conn.execute(sa.select(outbox).where(outbox.c.destination == destination, outbox.c.status == "pending")
                               .order_by(outbox.c.id).limit(1)).mappings().first()
        return {**row, "admission_id": row["invitation_id"]} if row else None

    def get_admission(self, invitation_id: str) -> Admission:
        """The pre-admission of the pre-check-in as it is now; its waiting rows are marked read, so that a
        change from here on is queued anew. :raises LookupError: it is gone; ValueError: it does not fit"""
        with self.site.engine.begin() as conn:
            first = conn.execute(sa.update(outbox).where(outbox.c.invitation_id == invitation_id,
                                                         outbox.c.status == "pending").values(taken=True)
                                 .returning(outbox.c.id, outbox.c.created_at)).all()
        invitation = find(self.site, invitation_id=invitation_id, now=0)
        if not first or (invitation is not None and invitation.arrived_at):
            # Withdrawn since the worker looked, or arrived: a pre-admit after the arrival would undo it.
            raise NothingToSend("arrived")
        if invitation is None or not invitation.finished_at:
            raise LookupError("no finished pre-check-in")
        a = pre_check_in(Found(invitation).as_json(self.form.url))
        _, given, response = answered(self.form, a.answers)
        queued = min((r.created_at for r in first), default=invitation.finished_at)
        return admission_of(a, invitation.id, self.site_id, _iso(queued), language=a.language,
                            identified_by="precheck", coverage=None, answers=given, response=response, test_data=False)

    def outbox_delivered(self, row_id: int, response: str = "") -> None:
        with self.site.engine.begin() as conn:
            conn.execute(sa.update(outbox).where(outbox.c.id == row_id, outbox.c.status == "pending")
                         .values(status="delivered", delivered_at=int(time.time()), response=response, last_error=""))

    def outbox_retry(self, row_id: int, error: str, next_attempt_at: str, *, refused: bool = False) -> int:
        with self.site.engine.begin() as conn:
            attempts = conn.execute(sa.update(outbox).where(outbox.c.id == row_id, outbox.c.status == "pending").values(
                attempts=outbox.c.attempts + 1, refusals=outbox.c.refusals + int(refused), last_error=error,
                next_attempt_at=next_attempt_at).returning(outbox.c.attempts)).scalar()
        return attempts or 0

    def outbox_dead(self, row_id: int, error: str, response: str, incident: Incident) -> None:
        with self.site.engine.begin() as conn:
            done = conn.execute(sa.update(outbox).where(outbox.c.id == row_id, outbox.c.status == "pending").values(
                status="dead", attempts=outbox.c.attempts + 1, last_error=error, response=response)).rowcount
            if done:
                insert_incident(conn, incident)

    def outbox_count(self, destination: str, status: str = "pending") -> int:
        with self.site.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(outbox).where(
                outbox.c.destination == destination, outbox.c.status == str(status))).scalar_one()

    def raise_incident(self, incident: Incident) -> int:
        with self.site.engine.begin() as conn:
            return insert_incident(conn, incident)

    def kiosk_incident_open(self, kind: IncidentKind) -> bool:
        """Whether an incident of this kind about the service itself is open."""
        with self.site.engine.connect() as conn:
            return conn.execute(sa.select(incidents.c.id).where(
                incidents.c.kind == kind.value, incidents.c.status != "resolved",
                incidents.c.invitation_id.is_(None)).limit(1)).first() is not None

    def resolve_kiosk_incidents(self, kind: IncidentKind, actor: str, *, how: str = "done", note: str = "") -> int:
        with self.site.engine.begin() as conn:
            return conn.execute(sa.update(incidents).where(
                incidents.c.kind == kind.value, incidents.c.status != "resolved", incidents.c.invitation_id.is_(None))
                .values(status="resolved", resolved_at=int(time.time()), resolved_by=actor[:64], note=note)).rowcount

    def close(self) -> None:
        pass                  # the engine is the service's


def open_incidents(site: SiteDb) -> list[dict]:
    """The incidents staff have not resolved (open or taken), oldest first (no personal data in them)."""
    with site.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(incidents).where(incidents.c.status != "resolved")
                                              .order_by(incidents.c.id)).mappings()]


def act_on_incident(site: SiteDb, incident_id: int, action: str, actor: str, how: str = "done", note: str = "") -> bool:
    """``take`` an open incident or ``resolve`` one not resolved yet, as ``actor``; False when it is not (any more)."""
    now = int(time.time())
    change = (sa.update(incidents).where(incidents.c.id == incident_id, incidents.c.status == "open")
              .values(status="taken", taken_by=actor[:200]) if action == "take" else
              sa.update(incidents).where(incidents.c.id == incident_id, incidents.c.status != "resolved")
              .values(status="resolved", resolved_at=now, resolved_by=actor[:200], note=f"{how}: {note}"[:500]))
    with site.engine.begin() as conn:
        return conn.execute(change).rowcount == 1


def follow_the_destination(site: SiteDb) -> int:
    """After ``hospital.transport`` changed: what still waits goes to the new destination (each message is made
    when it is sent), or, with none, is withdrawn (the arrival carries it); how many rows changed."""
    with site.engine.begin() as conn:
        changed = conn.execute(sa.update(outbox).where(outbox.c.status == "pending",
                                                       outbox.c.destination != (site.deliver_to or "-"))
                               .values(destination=site.deliver_to) if site.deliver_to else
                               sa.update(outbox).where(outbox.c.status == "pending").values(status="withdrawn")).rowcount
    if changed:
        log.warning("%d waiting pre-check-ins %s", changed,
                    f"now go to {site.deliver_to}" if site.deliver_to else "withdrawn: hospital.transport is none")
    return changed


def delivery_thread(site: SiteDb, settings, form: Form) -> SyncThread | None:
    """The worker that delivers the site's outbox beside the service (None when pre-check-ins go to the
    hospital only with the arrival: ``hospital.transport`` is none)."""
    follow_the_destination(site)
    if not site.deliver_to:
        return None
    folder = None if site.postgres else settings.data_path
    store = SiteOutbox(site, form, settings.site.id, folder)
    thread = SyncThread(settings, form, lambda *_, **__: store, poll_s=POLL_S, destination=(
        site.deliver_to, lambda s: open_transport(s, pre_admit=True, sender=s.site.id)))
    site.queued = thread.wake
    return thread
