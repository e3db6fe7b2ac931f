"""The store's schema: named migrations (``sqlite_utils.migrations``), applied in order when a store opens.

A migration's name is what a store records as applied: a name never changes, and a change to the schema is
a new migration at the end.
"""

from __future__ import annotations

import json
import re

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from kiosk.store import digests

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


@migrations()
def m008_badge_digests(db: Database) -> None:
    # A badge is found by the keyed digest of its identifier (kiosk.store.digests), one row per badge, so
    # that the check every card goes through reads no member. The badges already stored get theirs; one
    # that two members had stays the first one's by name (the one it signed in).
    db.execute("CREATE TABLE staff_badges (digest TEXT PRIMARY KEY, "
               "name TEXT NOT NULL REFERENCES staff(name) ON DELETE CASCADE)")
    db.execute("CREATE INDEX idx_staff_badges_name ON staff_badges (name)")
    key = digests.secret(db, digests.BADGE_SECRET, make=True)
    for name, badges in db.execute("SELECT name, badges FROM staff ORDER BY name").fetchall():
        for badge in json.loads(badges or "[]"):
            db.execute("INSERT OR IGNORE INTO staff_badges (digest, name) VALUES (?, ?)",
                       [digests.keyed(key, badge), name])


@migrations()
def m009_staff_language(db: Database) -> None:
    # The language each member chose for the desk page ("" = the kiosk's first).
    db["staff"].add_column("language", str, not_null_default="")
