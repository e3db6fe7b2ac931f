"""kiosk/store/: the SQLite store (db.py, schema.py: sqlite-utils, named migrations, WAL), admissions and what
their save writes in the same transaction (admissions.py, outbox.py), incidents.py and prints.py. Staff
members are in test_store_staff.py, retention in test_retention.py, the key in test_store_crypto.py.

Every test that takes ``key`` runs twice: on an encrypted store (SQLCipher, the default) and on a plain one."""

import sqlite3
from dataclasses import replace

import pytest
import sqlcipher3
import sqlite_utils

from kiosk import store as store_module
from kiosk.checkin.model import Address, Admission, Answer, Coverage, Identifier, Incident, IncidentKind, Person, Severity
from kiosk.store import DB_ERRORS, Store

TABLES = {"admissions", "outbox", "incidents", "audit", "prints", "staff", "kiosk_state", "staff_badges"}
MIGRATIONS = ["m001_create_tables", "m002_create_prints", "m003_outbox_outcome", "m004_staff", "m005_retention",
              "m006_purge_indexes", "m007_incident_detail_codes", "m008_badge_digests", "m009_staff_language"]

# A German eGK holder, in the shape docs/cli.md gives for read-card --json (KVNR and IK systems from there).
PERSON = Person(
    family="Müller-Lüdenscheidt",
    given=("Jürgen", "Anna-Lena"),
    prefix=("Dr.",),
    birth_date="1980-07",
    gender="male",
    identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", "A123456780"),),
    address=Address(("Hauptstraße 5",), "50667", "Köln", "D"),
)
COVERAGE = Coverage(
    payor_system="http://fhir.de/sid/arge-ik/iknr", payor_id="104212505", payor_name="AOK Rheinland/Hamburg",
    subscriber_id="A123456780", status="active", start="2020-01-01", end="2029-12-31",
)
ANSWERS = (Answer("allergies", "Penicillin, Nüsse"), Answer("pain_score", 7), Answer("pregnant", False),
           Answer("medication", ["Ibuprofen", "Ramipril"]))


def admission(admission_id: str = "0b6c7f2e-1d2a-4c57-9f0e-000000000001",
              created_at: str = "2024-03-01T08:15:00+00:00", **changes) -> Admission:
    base = Admission(
        id=admission_id, kiosk_id="lobby-1", created_at=created_at, language="de", identified_by="card:egk",
        person=PERSON, coverage=COVERAGE, appointment_code="K7Q2", answers=ANSWERS, consent="accepted",
    )
    return replace(base, **changes)


@pytest.fixture(params=["sqlcipher", "plain"])
def key(request, store_key):
    """The key to open the test's stores with: the session's (encrypted) or None (plain SQLite)."""
    return store_key if request.param == "sqlcipher" else None


def connect(path, key):
    """A raw connection to a store file, as another program would open it (with the key, if any)."""
    if key is None:
        return sqlite3.connect(path, check_same_thread=False)
    conn = sqlcipher3.connect(str(path), check_same_thread=False)
    conn.execute(f"PRAGMA key = \"x'{key}'\"")
    return conn


@pytest.fixture
def store(tmp_path, key):
    s = Store(tmp_path / "kiosk.db", key=key)
    yield s
    s.close()


def test_new_file_gets_every_table(tmp_path, key):
    path = tmp_path / "data" / "kiosk.db"
    s = Store(path, key=key)
    try:
        assert path.exists()
        assert TABLES <= set(s.db.table_names())
        assert s.applied_migrations() == MIGRATIONS
        assert store_module.migrations.pending(s.db) == []
    finally:
        s.close()


def test_reopening_applies_nothing_twice(tmp_path, key):
    path = tmp_path / "kiosk.db"
    Store(path, key=key).close()
    s = Store(path, key=key)
    try:
        assert s.applied_migrations() == MIGRATIONS
        assert s.db["_sqlite_migrations"].count == len(MIGRATIONS)
        assert store_module.migrations.pending(s.db) == []
    finally:
        s.close()


def test_file_is_in_wal_mode(store, tmp_path, key):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # WAL is a property of the file, not only of this connection.
    other = sqlite_utils.Database(connect(tmp_path / "kiosk.db", key))
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_foreign_keys_are_enforced(store):
    with pytest.raises(DB_ERRORS, match="constraint failed"):
        store.db["outbox"].insert({"admission_id": "no-such-admission", "destination": "fhir", "status": "pending"})


def test_admission_survives_close_and_reopen(tmp_path, key):
    path = tmp_path / "kiosk.db"
    s = Store(path, key=key)
    stored = s.save_admission(admission())
    s.close()
    assert stored.queue_number == "A-001"
    assert stored == replace(admission(), queue_number="A-001")

    s = Store(path, key=key)
    try:
        again = s.get_admission(stored.id)
        assert again == stored
        assert again.person.family == "Müller-Lüdenscheidt"
        assert again.person.given == ("Jürgen", "Anna-Lena")
        assert again.person.address.city == "Köln"
        assert again.coverage == COVERAGE
        assert again.answers == ANSWERS
        assert s.admissions() == [stored]
        assert s.last_admission() == stored
    finally:
        s.close()


def test_umlauts_are_stored_as_text_not_escapes(store):
    store.save_admission(admission())
    data = store.db["admissions"].get(admission().id)["data"]
    assert "Müller-Lüdenscheidt" in data
    assert "\\u00fc" not in data


def test_admission_columns_for_staff(store):
    store.save_admission(admission())
    row = store.db["admissions"].get(admission().id)
    assert row["kiosk_id"] == "lobby-1"
    assert row["day"] == "2024-03-01"
    assert row["queue_seq"] == 1
    assert row["queue_number"] == "A-001"
    assert row["identified_by"] == "card:egk"
    assert row["language"] == "de"
    assert row["consent"] == "accepted"


def test_admission_without_coverage_or_answers(store):
    bare = admission(person=Person(family="Peeters", given=("Marie",), gender="female"), coverage=None,
                     answers=(), identified_by="name", appointment_code="")
    stored = store.save_admission(bare)
    assert store.get_admission(bare.id) == stored
    assert store.get_admission(bare.id).coverage is None


def test_get_missing_admission_raises(store):
    with pytest.raises(sqlite_utils.db.NotFoundError):
        store.get_admission("no-such-admission")


def test_empty_store(store):
    assert store.admissions() == []
    assert store.last_admission() is None
    assert store.outbox() == []
    assert store.incidents() == []
    assert store.audit_trail() == []


@pytest.fixture
def local_time(monkeypatch):
    """Set the machine's time zone for one test (a POSIX TZ string: no tzdata needed)."""
    import time

    def use(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def test_queue_numbers_count_up_per_day(store, local_time):
    local_time("UTC0")
    numbers = [
        store.save_admission(admission("a1", "2024-03-01T08:00:00+00:00")).queue_number,
        store.save_admission(admission("a2", "2024-03-01T08:05:00+00:00")).queue_number,
        store.save_admission(admission("a3", "2024-03-01T09:30:00+00:00")).queue_number,
        store.save_admission(admission("b1", "2024-03-02T07:00:00+00:00")).queue_number,
        store.save_admission(admission("b2", "2024-03-02T07:01:00+00:00")).queue_number,
        store.save_admission(admission("a4", "2024-03-01T23:59:59+00:00")).queue_number,
    ]
    assert numbers == ["A-001", "A-002", "A-003", "A-001", "A-002", "A-004"]
    assert [a.id for a in store.admissions()] == ["a1", "a2", "a3", "a4", "b1", "b2"]
    assert store.last_admission().id == "b2"


def test_queue_numbers_start_again_at_local_midnight(store, local_time):
    local_time("CET-1CEST,M3.5.0,M10.5.0/3")        # Germany: 23:30 UTC on 1 March is 00:30 on 2 March
    assert store.save_admission(admission("a1", "2024-03-01T22:30:00+00:00")).queue_number == "A-001"
    assert store.save_admission(admission("b1", "2024-03-01T23:30:00+00:00")).queue_number == "A-001"
    assert store.save_admission(admission("b2", "2024-03-02T08:00:00+00:00")).queue_number == "A-002"


def test_a_save_waits_for_another_writer_instead_of_failing(tmp_path, key):
    import threading
    path = tmp_path / "kiosk.db"
    Store(path, key=key).close()
    other = connect(path, key)
    other.execute("BEGIN IMMEDIATE")                  # e.g. the sync worker writing the outbox
    other.execute("INSERT INTO audit (at, actor, action, subject, detail) VALUES ('t', 'sync', 'x', 'y', '')")
    threading.Timer(0.3, other.commit).start()
    kiosk = Store(path, key=key)
    try:
        assert kiosk.save_admission(admission("a1")).queue_number == "A-001"
        assert [r["actor"] for r in kiosk.audit_trail()] == ["sync", "kiosk"]
    finally:
        kiosk.close()
        other.close()


def test_queue_prefix_is_honoured_and_the_site_s_numbers_are_kept(store):
    """The kiosk's own numbers count per prefix; a number the site service gave is stored as given and does
    not count among them."""
    assert store.save_admission(admission("a1"), queue_prefix="B").queue_number == "B-001"
    assert store.save_admission(admission("a2"), queue_prefix="ER").queue_number == "ER-001"
    assert store.save_admission(admission("a3"), queue_prefix="ER", queue_number="A-017").queue_number == "A-017"
    assert store.save_admission(admission("a4"), queue_prefix="ER").queue_number == "ER-002"
    assert [store.get_admission(a).queue_number for a in ("a2", "a3", "a4")] == ["ER-001", "A-017", "ER-002"]


def test_queue_numbers_are_per_kiosk(tmp_path, key):
    path = tmp_path / "kiosk.db"
    lobby, ward = Store(path, key=key, kiosk_id="lobby-1"), Store(path, key=key, kiosk_id="ward-3")
    try:
        assert lobby.save_admission(admission("a1")).queue_number == "A-001"
        assert ward.save_admission(admission("w1", kiosk_id="ward-3")).queue_number == "A-001"
        assert lobby.save_admission(admission("a2")).queue_number == "A-002"
        assert lobby.db["admissions"].get("w1")["kiosk_id"] == "ward-3"
    finally:
        lobby.close()
        ward.close()


def test_destination_gives_one_pending_outbox_row(store):
    stored = store.save_admission(admission(), destinations=("fhir",))
    rows = store.outbox()
    assert len(rows) == 1
    row = rows[0]
    assert row["admission_id"] == stored.id
    assert row["destination"] == "fhir"
    assert row["status"] == "pending"
    assert row["attempts"] == 0
    assert row["next_attempt_at"] == stored.created_at
    assert store.outbox("pending") == rows
    assert store.outbox("sent") == []


def test_no_destination_gives_no_outbox_row(store):
    store.save_admission(admission(), destinations=())
    assert store.outbox() == []
    assert store.db["outbox"].count == 0


def test_one_outbox_row_per_destination(store):
    store.save_admission(admission(), destinations=("fhir", "folder"))
    assert [r["destination"] for r in store.outbox()] == ["fhir", "folder"]


def test_save_writes_an_audit_line(store):
    stored = store.save_admission(admission())
    trail = store.audit_trail()
    assert len(trail) == 1
    assert trail[0]["action"] == "admission.stored"
    assert trail[0]["subject"] == stored.id
    assert trail[0]["detail"] == "A-001"
    assert trail[0]["actor"] == "kiosk"
    # The audit line names the admission, never the patient.
    assert "Müller" not in str(trail[0])


def test_saving_is_all_or_nothing(store):
    first = store.save_admission(admission(), destinations=("fhir",))
    clash = admission(person=Person(family="Someone Else"), created_at="2024-03-01T10:00:00+00:00")
    with pytest.raises(DB_ERRORS, match="constraint failed"):
        store.save_admission(clash, destinations=("fhir",))
    assert len(store.outbox()) == 1
    assert [a["action"] for a in store.audit_trail()] == ["admission.stored"]
    assert store.get_admission(first.id) == first
    assert store.admissions() == [first]
    assert not store.db.conn.in_transaction
    # The store is still usable afterwards, and the failed save used no queue number.
    assert store.save_admission(admission("second")).queue_number == "A-002"


def test_raise_incident(store):
    stored = store.save_admission(admission())
    incident_id = store.raise_incident(Incident(IncidentKind.COVERAGE_ENDED, Severity.MEDIUM,
                                                "coverage ended before today", admission_id=stored.id))
    rows = store.incidents()
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == incident_id
    assert row["kind"] == "coverage_ended"
    assert row["severity"] == "medium"
    assert row["status"] == "open"
    assert row["admission_id"] == stored.id
    assert row["kiosk_id"] == "lobby-1"
    assert row["detail"] == "coverage ended before today"
    assert store.incidents(None) == rows
    assert store.incidents("closed") == []
    assert [(a["action"], a["subject"], a["detail"]) for a in store.audit_trail()] == [
        ("admission.stored", stored.id, "A-001"),
        ("incident.raised", str(incident_id), "coverage_ended"),
    ]


@pytest.mark.parametrize("kind,severity", [
    (IncidentKind.HELP_REQUESTED, Severity.MEDIUM),
    (IncidentKind.PRINTER_FAULT, Severity.HIGH),
    (IncidentKind.DETAILS_WRONG, Severity.LOW),
])
def test_incident_without_admission(store, kind, severity):
    first = store.raise_incident(Incident(kind, severity))
    second = store.raise_incident(Incident(kind, severity))
    assert second > first
    rows = store.incidents()
    assert [r["kind"] for r in rows] == [kind.value, kind.value]
    assert {r["severity"] for r in rows} == {severity.value}
    assert {r["admission_id"] for r in rows} == {None}
    assert [a["action"] for a in store.audit_trail()] == ["incident.raised", "incident.raised"]


@pytest.mark.parametrize("table", ["outbox", "audit"])
def test_failure_after_the_admission_row_rolls_it_back(store, table):
    # A trigger stands in for a write that fails half-way (disk full, a locked file): the admission row
    # is already inserted when the outbox or audit insert fails.
    store.db.execute(f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} "
                     "BEGIN SELECT RAISE(ABORT, 'write failed'); END")
    with pytest.raises(DB_ERRORS, match="write failed"):
        store.save_admission(admission(), destinations=("fhir",))
    assert store.db["admissions"].count == 0
    assert store.db["outbox"].count == 0
    assert store.db["audit"].count == 0
    assert store.last_admission() is None
    assert not store.db.conn.in_transaction
    store.db.execute(f"DROP TRIGGER fail_{table}")
    assert store.save_admission(admission(), destinations=("fhir",)).queue_number == "A-001"
    assert len(store.outbox()) == 1


def test_failed_incident_leaves_no_audit_line(store):
    store.db.execute("CREATE TRIGGER fail_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'write failed'); END")
    with pytest.raises(DB_ERRORS, match="write failed"):
        store.raise_incident(Incident(IncidentKind.READER_FAULT, Severity.HIGH))
    assert store.incidents(None) == []


def test_a_device_state_already_open_is_not_raised_again(store):
    first = store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "ticket printer"))
    assert store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "ticket printer")) == first
    other = store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "wristband printer"))
    assert other != first
    assert [r["detail"] for r in store.incidents()] == ["ticket printer", "wristband printer"]
    store.db["incidents"].update(first, {"status": "resolved"})
    assert store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "ticket printer")) not in (first, other)


def test_print_jobs_are_queued_with_the_admission_so_a_kiosk_stopped_before_printing_leaves_them_to_staff(store):
    """The soak benchmark's finding: a kiosk killed between committing an admission and starting its ticket left
    the admission with no print job and no incident. Its jobs are now stored with it, in one transaction."""
    printed = store.save_admission(admission(), prints=("ticket", "wristband"))
    assert [(p["kind"], p["status"]) for p in store.prints(printed.id)] == [("ticket", "queued"), ("wristband", "queued")]
    with pytest.raises(store_module.PrintInProgress):
        store.print_started(printed.id, "ticket", "staff")        # the kiosk is about to print it
    job = store.print_started(printed.id, "ticket", "kiosk")       # the kiosk takes up its queued job
    assert job == store.prints(printed.id)[0]["id"] and store.prints(printed.id)[0]["status"] == "printing"
    store.print_finished(job, "printed")
    stopped = store.save_admission(admission("0b6c7f2e-1d2a-4c57-9f0e-000000000002"), prints=("ticket",))  # killed
    assert [(j["admission_id"], j["kind"]) for j in store.interrupt_prints()] == [
        (printed.id, "wristband"), (stopped.id, "ticket")]
    assert [p["status"] for p in store.prints()] == ["printed", "interrupted", "interrupted"]


def test_print_jobs_are_recorded_and_a_second_one_at_the_same_time_is_refused(store):
    stored = store.save_admission(admission())
    job = store.print_started(stored.id, "ticket", "kiosk")
    with pytest.raises(store_module.PrintInProgress):
        store.print_started(stored.id, "ticket", "staff")
    store.print_started(stored.id, "wristband", "kiosk")   # another kind is another job
    store.print_finished(job, "failed", "paper_out")
    again = store.print_started(stored.id, "ticket", "staff")
    store.print_finished(again, "printed")
    assert [(p["kind"], p["actor"], p["status"], p["reason"]) for p in store.prints(stored.id)] == [
        ("ticket", "kiosk", "failed", "paper_out"), ("wristband", "kiosk", "printing", ""),
        ("ticket", "staff", "printed", "")]
    assert [(j["admission_id"], j["kind"]) for j in store.interrupt_prints()] == [(stored.id, "wristband")]
    assert store.prints(stored.id)[1]["status"] == "interrupted" and store.prints(stored.id)[1]["finished_at"]
    assert [(a["actor"], a["action"], a["detail"]) for a in store.audit_trail()][-4:] == [
        ("kiosk", "print.started", "wristband"), ("kiosk", "print.failed", "ticket paper_out"),
        ("staff", "print.started", "ticket"), ("staff", "print.printed", "ticket")]


def test_resolving_a_printer_fault_touches_only_that_admission_and_print(store):
    one, two = store.save_admission(admission("one")), store.save_admission(admission("two"))
    for adm, detail in ((one, "ticket: paper_out"), (one, "wristband: paper_out"), (two, "ticket: paper_out")):
        store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, detail, admission_id=adm.id))
    assert store.resolve_incidents(one.id, IncidentKind.PRINTER_FAULT, "staff", about="ticket:") == 1
    assert [(r["admission_id"], r["detail"]) for r in store.incidents()] == [
        (one.id, "wristband: paper_out"), (two.id, "ticket: paper_out")]
    assert store.audit_trail()[-1]["action"] == "incident.resolved"


# --- m004: staff, the incident life cycle, cancelled admissions -----------------------------------------

def test_m004_upgrades_a_store_that_has_incidents_and_keeps_their_status(tmp_path, key):
    path = tmp_path / "kiosk.db"
    db = sqlite_utils.Database(connect(path, key))
    store_module.migrations.apply(db, stop_before="m004_staff")
    db["incidents"].insert_all([
        {"kiosk_id": "lobby-1", "created_at": "2024-03-01T08:00:00+00:00", "kind": "help_requested",
         "severity": "medium", "status": "open", "admission_id": None, "detail": ""},
        {"kiosk_id": "lobby-1", "created_at": "2024-03-01T08:01:00+00:00", "kind": "paper_low",
         "severity": "low", "status": "resolved", "admission_id": None, "detail": "ticket printer"}])
    db.close()
    s = Store(path, key=key)
    try:
        assert s.applied_migrations() == MIGRATIONS
        assert [(r["kind"], r["status"], r["resolved_by"], r["resolution"]) for r in s.incidents(None)] == [
            ("help_requested", "open", None, None), ("paper_low", "resolved", None, None)]
        assert {"taken_by", "taken_at", "resolved_by", "resolved_at", "resolution", "note"} <= set(
            s.db["incidents"].columns_dict)
        assert {"cancelled_at", "cancelled_by"} <= set(s.db["admissions"].columns_dict)
        assert s.db["staff"].pks == ["name"] and s.db["kiosk_state"].pks == ["key"]
    finally:
        s.close()


def test_the_kiosk_resolving_incidents_says_who_and_how(store):
    stored = store.save_admission(admission())
    store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket: paper_out", admission_id=stored.id))
    store.raise_incident(Incident(IncidentKind.HOSPITAL_UNREACHABLE, Severity.HIGH, "fhir"))
    assert store.resolve_incidents(stored.id, IncidentKind.PRINTER_FAULT, "cli", about="ticket:", how="reprinted") == 1
    assert store.resolve_kiosk_incidents(IncidentKind.HOSPITAL_UNREACHABLE, "sync", note="answers again") == 1
    assert [(r["status"], r["resolved_by"], r["resolution"], r["note"], bool(r["resolved_at"]))
            for r in store.incidents(None)] == [("resolved", "cli", "reprinted", "", True),
                                                ("resolved", "sync", "done", "answers again", True)]
    assert [(a["actor"], a["detail"]) for a in store.audit_trail()][-2:] == [
        ("cli", "printer_fault reprinted"), ("sync", "hospital_unreachable done")]


def test_unresolved_incidents_are_open_and_taken_ones(store):
    first = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    second = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    third = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    store.take_incident(second, "Dana")
    store.resolve_incident(third, "Dana", "done")
    assert [r["id"] for r in store.incidents("unresolved")] == [first, second]
    assert [r["id"] for r in store.incidents_for_staff()] == [second, first]
    assert [r["id"] for r in store.incidents_for_staff(include_resolved=True)] == [third, second, first]


def test_a_cancel_is_all_or_nothing(store):
    stored = store.save_admission(admission(), destinations=("fhir",))
    store.db.execute("CREATE TRIGGER fail_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'write failed'); END")
    with pytest.raises(DB_ERRORS, match="write failed"):
        store.cancel_admission(stored.id, "Dana")
    assert store.admission_state(stored.id) == {"id": stored.id, "queue_number": "A-001", "cancelled_at": None,
                                                "cancelled_by": None, "wiped_at": None, "outbox": ["pending"]}
    assert not store.db.conn.in_transaction
