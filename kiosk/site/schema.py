"""The site service's tables, one schema for both engines (kiosk.site.db): the invitations and their
delivery, the site's incidents, the waiting list (tickets, numbers, calls), the site's staff and audit
trail, the rate limits and the service's own settings; and the statements several modules share on them.
Times are whole seconds since the epoch (UTC)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from kiosk.checkin.model import Incident

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
    sa.Column("order_at", sa.BigInteger),                            # its place: the check-in, or a "not here"
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


# Every call of a ticket (its first, and each "call again"): what the lobby displays show, newest first, and
# what the waits are measured by. Numbers and places only.
calls = sa.Table(
    "site_calls", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("ticket_id", sa.Integer, nullable=False, index=True),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("queue", sa.String(4), nullable=False),
    sa.Column("number", sa.String(16), nullable=False),
    sa.Column("counter", sa.String(40), nullable=False),
    sa.Column("member", sa.String(64), nullable=False),
    sa.Index("site_calls_day", "day", "id"),
)

# The tickets whose patient was e-mailed that their turn is near (kiosk.site.turns): the row is claimed before
# the mail goes, so of several instances one sends it, once.
turn_mails = sa.Table(
    "site_turn_mails", metadata,
    sa.Column("ticket_id", sa.Integer, primary_key=True),
    sa.Column("at", sa.BigInteger, nullable=False),
)

# The site's members of staff (kiosk.site.staff): kept once per site, signed in by the rule of kiosk.signin.
staff = sa.Table(
    "site_staff", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("pin_hash", sa.Text, nullable=False),
    sa.Column("language", sa.String(2), nullable=False, server_default=""),   # their pages' ("" = the site's)
    sa.Column("wrong_pins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.String(40), nullable=False, server_default=""),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

# Wrong PINs of names that are no member, under a keyed hash of the name (it is never written down).
name_tries = sa.Table(
    "site_name_tries", metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("wrong_pins", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.String(40), nullable=False),
    sa.Column("last_try", sa.BigInteger, nullable=False),
)

# Who did what on the site's staff pages: sign-ins, calls, "not here", "done" (actor: the member's name, or
# where a refused try came from).
audit = sa.Table(
    "site_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False, server_default=""),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
)


def write_audit(conn: sa.Connection, actor: str, action: str, subject: str = "", detail: str = "") -> None:
    """In ``conn``'s transaction: one line of the site's audit trail."""
    conn.execute(sa.insert(audit).values(at=int(time.time()), actor=actor, action=action, subject=subject,
                                         detail=detail))


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


# Who is signed in to the staff pages, by the SHA-256 of their cookie's token (in the database, so that every
# instance knows them): the member, the page's CSRF token, the counter and queues they chose.
sessions = sa.Table(
    "site_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("counter", sa.String(40), nullable=False, server_default=""),
    sa.Column("queues", sa.String(100), nullable=False, server_default=""),       # prefixes, space-separated
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)
