"""kiosk/store/staff.py: staff members, their badges and wrong-PIN counts.

A badge is found by a keyed digest of the card's identifier (table ``staff_badges``, migration
m008_badge_digests), so that the check every card goes through reads no member and no PIN hash."""

import hashlib
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
import sqlcipher3
import sqlite_utils

from kiosk.desk.staff import Staff
from kiosk.store import Store, migrations

BADGE, OTHER_BADGE, PATIENT = "X110411675", "56001012345", "T555555555"


@pytest.fixture(params=["sqlcipher", "plain"])
def key(request, store_key):
    """The key to open the test's stores with: the session's (encrypted) or None (plain SQLite)."""
    return store_key if request.param == "sqlcipher" else None


@pytest.fixture
def store(tmp_path, key):
    s = Store(tmp_path / "kiosk.db", key=key)
    yield s
    s.close()


def traced(store: Store, action) -> list[str]:
    """The statements ``action`` makes the store's connection run (with their values, as SQLite expands them)."""
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        action()
    finally:
        store.db.conn.set_trace_callback(None)
    return statements


def test_the_staff_table_keeps_badges_and_counts_wrong_pins(store):
    assert store.add_staff("Dana", "scrypt$x", (BADGE,), "it") is True
    assert store.add_staff("Dana", "scrypt$y", (), "it") is False
    assert store.staff_member("Dana")["badges"] == [BADGE]
    now, until = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc), "2024-03-01T08:05:00+00:00"
    tries = [store.staff_pin_try("Dana", "kiosk", 3, now, until) for _ in range(4)]
    assert [(t["refused"], t["locks"], t["pin_hash"]) for t in tries] == [
        ("", "", "scrypt$x"), ("", "", "scrypt$x"), ("", until, "scrypt$x"), (until, "", "")]
    assert (store.staff_member("Dana")["wrong_pins"], store.staff_member("Dana")["locked_until"]) == (0, until)
    assert store.staff_pin_try("Dana", "kiosk", 3, now + timedelta(minutes=6), until)["refused"] == ""
    assert store.staff_member("Dana")["wrong_pins"] == 1
    store.staff_signed_in("Dana", "kiosk")
    assert (store.staff_member("Dana")["wrong_pins"], store.staff_member("Dana")["locked_until"]) == (0, "")
    assert store.remove_staff("Dana", "it") and store.staff() == [] and not store.remove_staff("Dana", "it")


def test_a_badge_is_found_by_its_digest_and_a_patient_card_reads_no_member(store):
    store.add_staff("Dana", "scrypt$x", (BADGE, OTHER_BADGE), "it")
    store.add_staff("Mehmet", "scrypt$y", (), "it")
    holders: list = []
    statements = traced(store, lambda: holders.extend(store.badge_holder(v) for v in (PATIENT, OTHER_BADGE, "")))
    assert holders == [None, "Dana", None]
    assert statements and not [s for s in statements if re.search(r"\bstaff\b|pin_hash", s)], statements
    assert not [s for s in statements if PATIENT in s or OTHER_BADGE in s], "only digests reach the store"
    # The index holds digests, no identifier; they are keyed (a list of card numbers does not find them).
    digests = [r["digest"] for r in store.db["staff_badges"].rows]
    assert len(digests) == 2 and not {BADGE, OTHER_BADGE} & set(digests)
    assert hashlib.sha256(BADGE.encode()).hexdigest() not in digests


def test_a_removed_members_badges_go_with_it(store):
    store.add_staff("Dana", "scrypt$x", (BADGE,), "it")
    assert store.remove_staff("Dana", "it")
    assert store.badge_holder(BADGE) is None and store.db["staff_badges"].count == 0
    assert store.add_staff("Mehmet", "scrypt$y", (BADGE,), "it") and store.badge_holder(BADGE) == "Mehmet"


def test_a_reopened_store_finds_the_same_badges(tmp_path, key):
    Store(tmp_path / "kiosk.db", key=key).add_staff("Dana", "scrypt$x", (BADGE,), "it")
    again = Store(tmp_path / "kiosk.db", key=key)
    assert again.badge_holder(BADGE) == "Dana"
    again.close()


def test_m008_gives_the_badges_of_a_store_made_before_it_their_digests(tmp_path, key):
    """A store whose members were added by the versions before (badges only in the staff row's JSON)
    opens, and their badges sign in; the first member by name keeps a badge two of them had."""
    path = tmp_path / "kiosk.db"
    conn = sqlcipher3.connect(str(path)) if key else sqlite3.connect(path)
    if key:
        conn.execute(f"PRAGMA key = \"x'{key}'\"")
        conn.execute("PRAGMA cipher_compatibility = 4")
    db = sqlite_utils.Database(conn)
    migrations.apply(db, stop_before="m008_badge_digests")
    db["staff"].insert_all([
        {"name": name, "pin_hash": "scrypt$x", "badges": json.dumps(badges), "wrong_pins": 0, "locked_until": "",
         "created_at": "2024-03-01T08:00:00+00:00"}
        for name, badges in (("Mehmet", [OTHER_BADGE]), ("Dana", [BADGE, OTHER_BADGE]), ("Jonas", []))])
    db.close()
    s = Store(path, key=key)
    try:
        assert "m008_badge_digests" in s.applied_migrations() and migrations.pending(s.db) == []
        assert [s.badge_holder(v) for v in (BADGE, OTHER_BADGE, PATIENT)] == ["Dana", "Dana", None]
        assert Staff(s).sign_in_badge(BADGE, where="kiosk lobby-1") == "Dana"
        assert s.db["staff_badges"].count == 2
    finally:
        s.close()
