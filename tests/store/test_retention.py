"""Retention: ``Store.purge_personal_data`` wipes the personal data of admissions with nothing left
to deliver or resolve, once they are older than the limit, and nothing of it stays in the file.

The whole-file probes use a plain store, whose bytes show what is in it (an encrypted one shows nothing
either way); the probe finds a patient who is kept, which shows that it can see."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from kiosk import cli
from kiosk.checkin.model import Address, Admission, Answer, Coverage, Identifier, Incident, IncidentKind, Person, Severity
from kiosk.desk.staff import Staff
from kiosk.signin import LOCK_S
from kiosk.store import DB_ERRORS, Store

NOW = datetime.now(timezone.utc).replace(microsecond=0)
LIMIT = NOW - timedelta(hours=24)
OLD, RECENT = NOW - timedelta(hours=30), NOW - timedelta(hours=2)
LOCK = timedelta(seconds=LOCK_S)       # what the kiosk passes: wrong-PIN counts are forgotten a lock period on

# Distinctive words of the patient whose data goes (each must vanish from the file) ...
GONE = {"name": "Wendelgard Quastenbrink", "born": "1941-08-17", "kvnr": "W815472639", "street": "Zypressenweg 47",
        "phone": "0172 9385164", "answer": "Schalentierallergie", "response": "Quastenbrink-Echo",
        "note": "Frau Quastenbrink abgeholt", "payor": "Zwergkasse Nordheide"}
# ... and of one whose data stays (checked in an hour ago).
KEPT_NAME = "Hieronyma Vogelsangerin"


def admission(number: int, created: datetime, **changes) -> Admission:
    return replace(Admission(
        id=f"9a3f0c2e-0000-4000-8000-{number:012d}", kiosk_id="lobby-1", created_at=created.isoformat(),
        language="de", identified_by="card:egk", consent="accepted", appointment_code="K7Q2",
        appointment_id="appt-5531",
        person=Person(family="Quastenbrink", given=("Wendelgard",), birth_date=GONE["born"], gender="female",
                      identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", GONE["kvnr"]),),
                      address=Address((GONE["street"],), "50667", "Köln", "D"), phone=GONE["phone"]),
        coverage=Coverage("http://fhir.de/sid/arge-ik/iknr", "104212505", GONE["payor"], GONE["kvnr"]),
        answers=(Answer("allergies", GONE["answer"]), Answer("pain_score", 7)),
        consent_text_id="consent-de-3", consent_signature=b"\x89PNG signature strokes",
        patient_entered=("phone",)), **changes)


def store_bytes(store: Store) -> bytes:
    return b"".join(p.read_bytes() for p in (store.path, store.path.with_name("kiosk.db-wal"),
                                              store.path.with_name("kiosk.db-shm")) if p.exists())


def left_in(data: bytes) -> list[str]:
    words = [*GONE.values(), "Wendelgard", base64.b64encode(b"\x89PNG signature strokes").decode()]
    return [w for w in words if w.encode("utf-8") in data]


@pytest.fixture(params=["plain", "sqlcipher"])
def store(request, tmp_path):
    s = Store(tmp_path / "kiosk.db", key=request.getfixturevalue("store_key") if request.param == "sqlcipher" else None)
    yield s
    s.close()


@pytest.fixture
def plain(tmp_path):
    s = Store(tmp_path / "kiosk.db")
    yield s
    s.close()


def delivered(store: Store, a: Admission, response: str = "") -> Admission:
    stored = store.save_admission(a, destinations=("fhir",))
    store.outbox_delivered(store.outbox("pending")[-1]["id"], response)
    return stored


def with_resolved_incident(store: Store, a: Admission) -> Admission:
    """Delivered (the answer quoting the patient), with a printer fault resolved by staff with a note naming them."""
    stored = delivered(store, a, response=f'{{"issue": "{GONE["response"]} {GONE["name"]}"}}')
    row_id = store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket: paper_out",
                                           admission_id=stored.id))
    store.resolve_incident(row_id, "Dana", "reprinted", GONE["note"])
    return stored


def row(store: Store, admission_id: str) -> dict:
    return store.db["admissions"].get(admission_id)


# --- what a purge wipes and what it keeps --------------------------------------------------------------------

def test_a_delivered_admission_loses_every_personal_field_and_keeps_what_staff_count(store):
    stored = with_resolved_incident(store, admission(1, OLD))
    assert store.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 1

    wiped = store.get_admission(stored.id)
    assert (wiped.id, wiped.kiosk_id, wiped.created_at, wiped.language, wiped.identified_by, wiped.consent,
            wiped.consent_text_id, wiped.queue_number) == (stored.id, "lobby-1", OLD.isoformat(), "de", "card:egk",
                                                           "accepted", "consent-de-3", "A-001")
    assert wiped.person == Person(family="")
    assert (wiped.coverage, wiped.answers, wiped.appointment_code, wiped.appointment_id, wiped.consent_signature,
            wiped.patient_entered) == (None, (), "", "", b"", ())
    assert store.admissions() == [wiped]
    assert store.last_admission() == wiped
    columns = row(store, stored.id)
    assert (columns["queue_number"], columns["day"], columns["consent"], columns["identified_by"]) == (
        "A-001", OLD.astimezone().date().isoformat(), "accepted", "card:egk")
    assert NOW <= datetime.fromisoformat(store.admission_state(stored.id)["wiped_at"]) <= datetime.now(timezone.utc)
    assert left_in(json.dumps(columns, ensure_ascii=False).encode()) == []

    [message] = store.outbox()
    assert (message["status"], message["response"], message["last_error"], message["destination"]) == (
        "delivered", "", "", "fhir")
    [incident] = store.incidents(None)
    assert (incident["kind"], incident["severity"], incident["detail"], incident["status"], incident["resolved_by"],
            incident["resolution"], incident["note"]) == ("printer_fault", "high", "ticket: paper_out", "resolved",
                                                          "Dana", "reprinted", "")
    assert incident["created_at"] and incident["resolved_at"]
    trail = store.audit_trail()
    assert (trail[-1]["actor"], trail[-1]["action"], trail[-1]["subject"], trail[-1]["detail"]) == (
        "retention", "retention.purged", "", "1 admission(s)")
    assert left_in(json.dumps(trail, ensure_ascii=False).encode()) == []


def test_after_a_purge_nothing_of_the_patient_is_left_in_the_file(plain):
    with_resolved_incident(plain, admission(1, OLD))
    plain.save_admission(admission(2, OLD), destinations=())           # never had a message
    kept = delivered(plain, replace(admission(3, RECENT), person=Person(family=KEPT_NAME), coverage=None, answers=(),
                                    consent_signature=b""))
    assert plain.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    assert len(left_in(store_bytes(plain))) == len(GONE) + 2          # every word is in the file before

    assert plain.purge_personal_data(LIMIT, actor="it", forget_tries_after=LOCK) == 2
    after = store_bytes(plain)
    assert left_in(after) == []
    assert KEPT_NAME.encode() in after                  # the probe sees what is still there
    assert plain.get_admission(kept.id).person.family == KEPT_NAME
    assert plain.path.with_name("kiosk.db-wal").stat().st_size == 0   # checkpointed and emptied
    assert plain.audit_trail()[-1]["actor"] == "it"


def test_without_secure_delete_the_old_data_would_stay_in_the_file(plain):
    # What secure_delete (on for every connection of the store) is for: turned off, a purge leaves the
    # old row's bytes in the page's free space.
    plain.db.execute("PRAGMA secure_delete = OFF")
    with_resolved_incident(plain, admission(1, OLD))
    assert plain.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 1
    assert GONE["kvnr"] in "".join(left_in(store_bytes(plain)))


@pytest.mark.parametrize("scenario", ["pending", "dead", "open incident", "taken incident", "recent"])
def test_an_admission_with_something_left_to_do_keeps_its_data(store, scenario):
    stored = store.save_admission(admission(1, RECENT if scenario == "recent" else OLD), destinations=("fhir",))
    [message] = store.outbox()
    if scenario == "dead":
        store.outbox_dead(message["id"], "rejected_AE: Quastenbrink unknown", GONE["response"],
                          Incident(IncidentKind.SYNC_REJECTED, Severity.HIGH, "fhir: rejected_AE",
                                   admission_id=stored.id))
        store.resolve_incidents(stored.id, IncidentKind.SYNC_REJECTED, "Dana")    # the message waits all the same
    elif scenario == "pending":                          # tried, and waits for the next attempt
        store.outbox_retry(message["id"], f"http_503: {GONE['response']}", NOW.isoformat())
    else:
        store.outbox_delivered(message["id"], GONE["response"])
    if scenario.endswith("incident"):
        row_id = store.raise_incident(Incident(IncidentKind.DETAILS_CORRECTED, Severity.LOW, "phone",
                                               admission_id=stored.id))
        if scenario == "taken incident":
            store.take_incident(row_id, "Dana")

    assert store.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 0
    assert store.get_admission(stored.id) == stored
    assert store.admission_state(stored.id)["wiped_at"] is None
    assert GONE["response"] in str(store.outbox())
    assert store.audit_trail()[-1]["detail"] == "0 admission(s)"


def cancelled_ago(store: Store, a: Admission, ago: timedelta) -> Admission:
    """Stored with a message for fhir, cancelled by staff (the message withdrawn) ``ago``."""
    stored = store.save_admission(a, destinations=("fhir",))
    store.cancel_admission(stored.id, "Dana", note=f"{GONE['name']} left")
    with store._write():
        store.db.execute("UPDATE admissions SET cancelled_at = ? WHERE id = ?",
                         [(datetime.now(timezone.utc) - ago).isoformat(timespec="seconds"), stored.id])
    return stored


def test_a_message_withdrawn_over_an_hour_ago_leaves_nothing_to_do(store):
    stored = cancelled_ago(store, admission(1, OLD), timedelta(minutes=61))
    assert store.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 1
    state = store.admission_state(stored.id)
    assert (state["outbox"], state["cancelled_by"], bool(state["cancelled_at"]), bool(state["wiped_at"])) == (
        ["withdrawn"], "Dana", True, True)
    assert [m["last_error"] for m in store.outbox()] == ["cancelled"]


def test_a_message_withdrawn_within_the_hour_may_still_arrive_so_the_data_waits(store):
    # Cancelled while the message was on its way: the hospital system may still take it (and answer).
    stored = cancelled_ago(store, admission(1, OLD), timedelta(minutes=50))
    assert store.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 0
    store.outbox_delivered(store.outbox()[0]["id"], GONE["response"])
    assert store.get_admission(stored.id) == stored
    store.resolve_incidents(stored.id, IncidentKind.CANCEL_IN_HOSPITAL, "Dana")   # staff cancelled it there too
    with store._write():                       # and the hour is over
        store.db.execute("UPDATE admissions SET cancelled_at = ? WHERE id = ?",
                         [(datetime.now(timezone.utc) - timedelta(minutes=61)).isoformat(), stored.id])
    assert store.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 1
    assert [(m["status"], m["response"]) for m in store.outbox()] == [("delivered", "")]


def test_what_the_hospital_said_is_cut_to_its_reason_code(store):
    stored = store.save_admission(admission(1, OLD), destinations=("fhir", "hl7v2"))
    fhir_row, hl7_row = store.outbox()
    store.outbox_retry(hl7_row["id"], f"rejected_AR: {GONE['name']} unknown", NOW.isoformat(), refused=True)
    store.outbox_delivered(fhir_row["id"], GONE["response"])
    store.outbox_delivered(hl7_row["id"], f"MSA|AA|{GONE['name']}")
    assert store.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 1
    assert [(m["response"], m["last_error"]) for m in store.outbox()] == [("", ""), ("", "")]
    assert store.get_admission(stored.id).person.family == ""


def test_a_second_purge_changes_nothing(store):
    stored = with_resolved_incident(store, admission(1, OLD))
    assert store.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 1
    first = (row(store, stored.id), store.outbox(), store.incidents(None))
    assert store.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 0
    assert (row(store, stored.id), store.outbox(), store.incidents(None)) == first
    assert [a["detail"] for a in store.audit_trail() if a["action"] == "retention.purged"] == [
        "1 admission(s)", "0 admission(s)"]


def test_the_limit_is_a_moment_in_any_time_zone(store):
    store.save_admission(admission(1, datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)))
    store.save_admission(admission(2, datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)))
    cet = timezone(timedelta(hours=1))
    assert store.purge_personal_data(datetime(2024, 3, 1, 9, 0, tzinfo=cet), forget_tries_after=LOCK) == 0     # 08:00 UTC: not before
    assert store.purge_personal_data(datetime(2024, 3, 1, 9, 0), forget_tries_after=LOCK) == 1                 # no zone: UTC
    assert [bool(store.admission_state(a.id)["wiped_at"]) for a in store.admissions()] == [True, False]


def test_notes_on_resolved_incidents_about_no_admission_are_cleared_after_the_limit(store):
    # Help pressed before any admission, a card that could not be read: staff may name the patient all the same.
    old_id, new_id, open_id = (store.raise_incident(Incident(IncidentKind.CARD_UNREADABLE, Severity.MEDIUM, detail))
                               for detail in ("old", "new", "open"))
    for row_id in (old_id, new_id):
        store.resolve_incident(row_id, "Dana", "done", GONE["note"])
    with store._write():
        store.db.execute("UPDATE incidents SET resolved_at = ? WHERE id = ?", [OLD.isoformat(), old_id])
        store.db.execute("UPDATE incidents SET note = ? WHERE id = ?", [GONE["note"], open_id])
    store.purge_personal_data(LIMIT, forget_tries_after=LOCK)
    notes = {r["id"]: (r["status"], r["note"]) for r in store.incidents(None)}
    assert notes == {old_id: ("resolved", ""), new_id: ("resolved", GONE["note"]), open_id: ("open", GONE["note"])}


# --- batches: a check-in goes on while the purge runs ---------------------------------------------------------

def stored_old(store: Store, count: int) -> list[str]:
    """``count`` old admissions with no message and an 8 KB signature each, written in one transaction."""
    ids = []
    with store._write():
        for n in range(count):
            a = replace(admission(100_000 + n, OLD), consent_signature=bytes(range(256)) * 32,
                        queue_number=f"A-{n + 1:04d}")
            store.db["admissions"].insert({
                "id": a.id, "kiosk_id": "lobby-1", "created_at": a.created_at, "day": "2000-01-01",
                "queue_seq": n + 1, "queue_number": a.queue_number, "identified_by": a.identified_by,
                "language": a.language, "consent": a.consent, "data": json.dumps(a.to_json(), ensure_ascii=False)})
            ids.append(a.id)
    return ids


def test_a_check_in_during_a_long_purge_waits_for_one_batch_at_most(plain):
    ids = stored_old(plain, 2000)
    plain.close()
    purger = Store(plain.path)
    running, checking_in, saved, errors = threading.Event(), threading.Event(), [], []

    def check_ins():
        kiosk = purger.reopen()
        kiosk.db.execute("PRAGMA busy_timeout = 100")     # far less than the whole purge takes, more than a batch
        try:
            for n in range(1_000_000):
                try:
                    saved.append(kiosk.save_admission(admission(n, RECENT)).id)
                except DB_ERRORS as e:
                    errors.append(str(e))
                checking_in.set()
                if not running.is_set():
                    return
                time.sleep(0.01)
        finally:
            kiosk.close()
    worker = threading.Thread(target=check_ins)
    running.set()
    worker.start()
    try:
        assert checking_in.wait(10)
        started = time.monotonic()
        assert purger.purge_personal_data(LIMIT, forget_tries_after=LOCK) == len(ids)
        took = time.monotonic() - started
    finally:
        running.clear()
        worker.join()
    try:
        assert errors == []
        assert len(saved) >= 3, took             # check-ins went on while it ran
        assert {a.id for a in purger.admissions() if a.person.family == "Quastenbrink"} == set(saved)
        assert all(purger.admission_state(i)["wiped_at"] for i in ids[:: 97])
    finally:
        purger.close()


@pytest.mark.parametrize("meanwhile", ["open incident", "pending message"])
def test_each_batch_checks_its_admissions_again(store, meanwhile):
    now = datetime.now(timezone.utc)
    first, second = (delivered(store, admission(n, OLD)) for n in (1, 2))
    candidates = store._purge_candidates(LIMIT, now)
    assert sorted(candidates) == sorted([first.id, second.id])
    if meanwhile == "open incident":                 # between the look-up and the batch
        store.raise_incident(Incident(IncidentKind.DETAILS_CORRECTED, Severity.LOW, "phone", admission_id=second.id))
    else:
        with store._write():
            store.db["outbox"].insert({"admission_id": second.id, "destination": "hl7v2", "status": "pending",
                                       "attempts": 0, "next_attempt_at": now.isoformat(), "last_error": "",
                                       "created_at": now.isoformat()})
    assert store._wipe_batch(candidates, LIMIT, now) == 1
    assert store.get_admission(second.id) == second
    assert store.admission_state(first.id)["wiped_at"] and not store.admission_state(second.id)["wiped_at"]


def test_a_purge_does_not_wait_for_a_reader_to_empty_the_wal(plain, caplog):
    with_resolved_incident(plain, admission(1, OLD))
    reader = plain.reopen()
    reader.db.execute("BEGIN")
    reader.db.execute("SELECT count(*) FROM admissions").fetchone()     # holds the snapshot before the purge
    caplog.set_level(logging.DEBUG, logger="kiosk.store.retention")
    try:
        started = time.monotonic()
        assert plain.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 1
        assert time.monotonic() - started < 2
        assert [r.levelname for r in caplog.records] == ["DEBUG"]
        assert left_in(caplog.text.encode()) == [] and "WAL" in caplog.text
        assert left_in(store_bytes(plain)) != []              # still in the WAL ...
    finally:
        reader.db.conn.rollback()
        reader.close()
    assert plain.purge_personal_data(LIMIT, forget_tries_after=LOCK) == 0             # ... until the next run
    assert left_in(store_bytes(plain)) == []
    assert plain.path.with_name("kiosk.db-wal").stat().st_size == 0


# --- wrong-PIN counts of names that are no member -------------------------------------------------------------

def test_counts_of_unknown_names_are_forgotten_a_lock_period_after_the_last_try(store):
    staff = Staff(store)
    now = datetime.now(timezone.utc)     # the purge prunes by the clock, not by LIMIT: not module-import time
    lock = timedelta(seconds=LOCK_S)
    for name, when in (("Old Guess", now - 2 * lock), ("Fresh Guess", now - lock / 2)):
        store.staff_pin_try(name, "kiosk", 5, when, "")
    for _ in range(5):                                   # locked, until a lock period from now
        store.staff_pin_try("Locked Guess", "kiosk", 5, now - 2 * lock, (now + lock).isoformat())
    store.set_kiosk_state("sign_in_tries:" + "0" * 64, "3 ", "test")   # written before the last try was kept
    tries = {r["key"]: r["value"] for r in store.db["kiosk_state"].rows_where("key LIKE 'sign_in_tries:%'")}
    assert len(tries) == 4

    store.purge_personal_data(LIMIT, forget_tries_after=LOCK)
    left = {r["key"] for r in store.db["kiosk_state"].rows_where("key LIKE 'sign_in_tries:%'")}
    assert left == {"sign_in_tries:" + store._name_digest(n) for n in ("Fresh Guess", "Locked Guess")}
    assert store.kiosk_state("sign_in_name_key")       # the kiosk's own key for those hashes stays
    assert staff.members() == []


# --- a wiped admission where staff and IT meet it --------------------------------------------------------------

def test_staff_still_see_the_incidents_of_a_wiped_admission(store):
    stored = with_resolved_incident(store, admission(1, OLD))
    store.purge_personal_data(LIMIT, forget_tries_after=LOCK)
    [incident] = Staff(store).incidents(include_resolved=True)
    assert (incident["queue_number"], incident["admission_id"], incident["note"], incident["status"]) == (
        "A-001", stored.id, "", "resolved")
    assert store.outbox_figures()["last_delivered_at"]


def test_kiosk_print_says_that_a_wiped_admissions_data_is_gone(capsys, tmp_path, store_key):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    store = Store(tmp_path / "data" / "kiosk.db", key=store_key)
    stored = with_resolved_incident(store, admission(1, OLD))
    store.purge_personal_data(LIMIT, forget_tries_after=LOCK)
    store.close()
    for extra in ([], ["--admission", stored.id]):
        code = cli.main(["print", "ticket", "--printer", f"preview:{tmp_path / 'prints'}", "--config", str(cfg),
                         *extra])
        out, err = capsys.readouterr()
        assert (code, out) == (2, "")
        assert err.startswith("kiosk: The personal data of admission A-001 was wiped at ") and err.count("\n") == 1
    assert not (tmp_path / "prints").exists() or not list((tmp_path / "prints").iterdir())


def test_the_purge_deletes_preview_printer_pictures_older_than_the_limit(plain, tmp_path):
    """A wristband picture shows the patient's name: the housekeeping's purge deletes it with the data, in
    the configured preview printer's folder and in data_dir/tickets (the default one, e.g. from trials)."""
    import os

    from kiosk.config import KioskSettings, Settings, StoreSettings
    from kiosk.hardware import layouts
    from kiosk.hardware.preview import PreviewPrinter
    from kiosk.ops.housekeeping import Housekeeping
    from kiosk.i18n import Catalogs

    printer, trials = PreviewPrinter(tmp_path / "bands"), PreviewPrinter(tmp_path / "data" / "tickets")
    catalogs = Catalogs(["de"])
    old = admission(1, OLD, queue_number="A-001")
    new = admission(2, RECENT, queue_number="A-002", id="5c1d7e90-0000-4000-8000-000000000002")
    old_pictures = [printer.print_layout(layouts.wristband_for(old, catalogs)).path,
                    trials.print_layout(layouts.ticket_for(old, catalogs, show_name=True)).path]
    new_picture = printer.print_layout(layouts.wristband_for(new, catalogs)).path
    other = tmp_path / "bands" / "notes-of-it.png"
    other.write_bytes(b"not the kiosk's")
    for path in (*old_pictures, other):
        os.utime(path, (OLD.timestamp(), OLD.timestamp()))
    settings = Settings(kiosk=KioskSettings(data_dir=str(tmp_path / "data")), store=StoreSettings(retention_h=24.0))
    housekeeping = Housekeeping(settings, lambda: plain, printers={"wristband": printer})
    housekeeping.purge(plain)
    assert [p.exists() for p in old_pictures] == [False, False]
    assert new_picture.exists() and other.exists()
    assert housekeeping.purge(plain) == 0 and new_picture.exists()
