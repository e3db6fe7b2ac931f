"""kiosk/desk/staff.py: what front-desk staff do, on a real store in tmp_path (and real printers and transports)."""

from datetime import datetime, timedelta, timezone

import pytest
from fakeprinter import NetPrinter

from kiosk import config
from kiosk.hardware import printing
from kiosk.hospital import outbox, transports
from kiosk import signin
from kiosk.hardware.escpos_printer import EscposPrinter
from kiosk.hardware.preview import PreviewPrinter
from kiosk.hardware.printer import Printer
from kiosk.hardware.reader import ReaderState
from kiosk.i18n import Catalogs
from kiosk.checkin.model import Admission, Identifier, Incident, IncidentKind, Person, Severity
from kiosk.desk.staff import RESOLUTIONS, DeviceStatus, Staff, printer_condition
from kiosk.signin import LOCK_S, Locked, StaffError, WrongPin, hash_pin, verify_pin
from kiosk.store import Store

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)
PIN = "482913"
KVNR = "X110411675"          # a staff member's own eGK (test KVNR from the gematik test card set)


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def admission(n: int) -> Admission:
    return Admission(id=f"0b6c7f2e-1d2a-4c57-9f0e-{n:012d}", kiosk_id="lobby-1",
                     created_at=(T0 + timedelta(minutes=n)).isoformat(), language="de", identified_by="card:egk",
                     person=Person(family="Öztürk", given=("Ayşe",), birth_date="1975-02-03",
                                   identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", "T012345678"),)))


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    yield s
    s.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def staff(store, clock):
    s = Staff(store, now=clock)
    s.add_member("Dana", PIN, (KVNR,))
    return s


def actions(store, actor=None):
    return [(a["actor"], a["action"], a["subject"], a["detail"]) for a in store.audit_trail()
            if actor is None or a["actor"] == actor]


# --- PINs ------------------------------------------------------------------------------------------

def test_a_pin_hash_is_salted_scrypt_and_verifies_only_the_right_pin():
    one, two = hash_pin(PIN), hash_pin(PIN)
    assert one != two, "a fresh salt each time"
    algorithm, n, r, p, salt, key = one.split("$")
    assert (algorithm, n, r, p) == ("scrypt", "16384", "8", "1") and len(salt) == 24 and len(key) == 44
    assert PIN not in one
    assert verify_pin(one, PIN) and verify_pin(two, PIN)
    assert not verify_pin(one, "482914") and not verify_pin(one, "")


@pytest.mark.parametrize("stored", ["", "bcrypt$x", "scrypt$16384$8$1$!!$!!", "plain482913"])
def test_a_stored_value_that_is_not_a_hash_matches_nothing(stored):
    assert verify_pin(stored, PIN) is False


# --- members ---------------------------------------------------------------------------------------

def test_members_are_added_listed_and_removed_without_their_hash(store, staff):
    staff.add_member("Mehmet", "1234", actor="it")
    assert staff.members() == [{"name": "Dana", "badges": [KVNR], "locked_until": ""},
                               {"name": "Mehmet", "badges": [], "locked_until": ""}]
    assert store.staff_member("Dana")["pin_hash"].startswith("scrypt$")
    staff.remove_member("Mehmet")
    assert [m["name"] for m in staff.members()] == ["Dana"]
    assert ("it", "staff.added", "Mehmet", "0 badge(s)") in actions(store)
    assert ("it", "staff.removed", "Mehmet", "") in actions(store)
    with pytest.raises(StaffError, match="no staff member"):
        staff.remove_member("Mehmet")


@pytest.mark.parametrize("name,pin,sentence", [
    ("", "1234", "name"), ("   ", "1234", "name"), ("x" * 65, "1234", "name"), ("Dana\n", "1234", "already"),
    ("Lea", "123", "4 to 12 digits"), ("Lea", "1234567890123", "4 to 12 digits"), ("Lea", "12a4", "4 to 12 digits"),
    ("Lea", "١٢٣٤", "4 to 12 digits"), ("Lea", " 1234", "4 to 12 digits"),
])
def test_a_bad_name_or_pin_is_refused(staff, name, pin, sentence):
    with pytest.raises(StaffError, match=sentence):
        staff.add_member(name, pin)
    assert [m["name"] for m in staff.members()] == ["Dana"]


def test_a_badge_belongs_to_one_member(staff):
    with pytest.raises(StaffError, match="another staff member"):
        staff.add_member("Lea", "1234", (KVNR,))


# --- signing in ------------------------------------------------------------------------------------

def test_sign_in_with_the_right_pin_is_audited_without_the_pin(store, staff):
    assert staff.sign_in(" Dana ", PIN, where="kiosk lobby-1") == "Dana"
    assert actions(store)[-1] == ("Dana", "staff.signed_in", "Dana", "pin kiosk lobby-1")
    assert not any(PIN in str(field) for line in actions(store) for field in line)


def test_a_wrong_pin_and_an_unknown_name_get_the_same_sentence(store, staff):
    with pytest.raises(WrongPin) as wrong:
        staff.sign_in("Dana", "000000", where="desk 10.0.0.5")
    with pytest.raises(WrongPin) as unknown:
        staff.sign_in("Nobody", PIN, where="desk 10.0.0.5")
    assert str(wrong.value) == str(unknown.value) == "The name or the PIN is not right."
    # The actor is the place the PIN was typed at (whoever typed it), the member the subject; a name that
    # is no member is only a keyed hash of it.
    assert actions(store)[-2][:3] == ("desk 10.0.0.5", "staff.pin_wrong", "Dana")
    actor, action, subject, detail = actions(store)[-1]
    assert (actor, action, detail) == ("desk 10.0.0.5", "staff.pin_wrong", "no such name")
    assert subject.startswith("name#") and len(subject) == len("name#") + 16
    assert not any(PIN in str(field) or "Nobody" in str(field) for line in actions(store) for field in line)
    assert "Nobody" not in repr(list(store.db.execute("SELECT * FROM kiosk_state")))


def test_five_wrong_pins_lock_the_name_for_five_minutes(store, staff, clock):
    for _ in range(4):
        with pytest.raises(WrongPin):
            staff.sign_in("Dana", "111111", where="kiosk")
    with pytest.raises(Locked) as locked:
        staff.sign_in("Dana", "111111", where="kiosk")
    assert locked.value.until == (T0 + timedelta(seconds=LOCK_S)).isoformat(timespec="milliseconds")
    assert "locked for five minutes" in str(locked.value)
    assert staff.members()[0]["locked_until"] == locked.value.until
    clock.advance(299)
    with pytest.raises(Locked):
        staff.sign_in("Dana", PIN, where="kiosk")       # even the right PIN, while locked
    assert actions(store)[-1] == ("kiosk", "staff.refused_locked", "Dana", "")
    clock.advance(2)
    assert staff.members()[0]["locked_until"] == ""
    assert staff.sign_in("Dana", PIN, where="kiosk") == "Dana"
    assert [a for a in actions(store) if a[1] == "staff.locked"] == [("kiosk", "staff.locked", "Dana", locked.value.until)]
    assert not [a for a in actions(store, "Dana") if a[1] != "staff.signed_in"], "Dana only signed in herself"


def test_a_right_pin_starts_the_count_again(staff):
    for _ in range(2):
        for _ in range(4):
            with pytest.raises(WrongPin):
                staff.sign_in("Dana", "111111", where="kiosk")
        assert staff.sign_in("Dana", PIN, where="kiosk") == "Dana"


def test_wrong_pins_for_an_unknown_name_lock_that_name_only(store, staff, clock, monkeypatch):
    checks = []
    real = signin.verify_pin
    monkeypatch.setattr(signin, "verify_pin", lambda stored, pin: checks.append(stored) or real(stored, pin))
    for _ in range(4):
        with pytest.raises(WrongPin):
            staff.sign_in("Nobody", "111111", where="kiosk")
    with pytest.raises(Locked):
        staff.sign_in("Nobody", "111111", where="kiosk")
    with pytest.raises(Locked) as locked:
        staff.sign_in("Nobody", "111111", where="kiosk")
    assert str(locked.value) == "Too many wrong PINs: this name is locked for five minutes."
    assert len(checks) == 5, "a scrypt for each try that was not refused, as for a member"
    assert staff.sign_in("Dana", PIN, where="kiosk") == "Dana"
    with pytest.raises(WrongPin):
        staff.sign_in("Somebody", "111111", where="kiosk")
    clock.advance(LOCK_S + 1)
    with pytest.raises(WrongPin):
        staff.sign_in("Nobody", "111111", where="kiosk")
    assert not any("Nobody" in str(field) or "Somebody" in str(field) for line in actions(store) for field in line)


def test_parallel_tries_check_at_most_five_pins_per_name(tmp_path, monkeypatch):
    """16 sign-ins at once, each on a thread with a store of its own on one file: no more than five
    PIN checks (scrypt) before the name is locked, for a member and for a name that is none."""
    import threading
    path = tmp_path / "kiosk.db"
    first = Store(path)
    Staff(first).add_member("Dana", PIN)
    checks, lock = [], threading.Lock()
    real = signin.verify_pin

    def counting(stored, pin):
        with lock:
            checks.append(stored)
        return real(stored, pin)

    monkeypatch.setattr(signin, "verify_pin", counting)
    for name in ("Dana", "Nobody"):
        checks.clear()
        start, outcomes = threading.Barrier(16), []

        def guess():
            store = Store(path)              # SQLite connections stay on their thread
            try:
                start.wait()
                Staff(store).sign_in(name, "111111", where="desk 10.0.0.5")
            except (WrongPin, Locked) as e:
                with lock:
                    outcomes.append(type(e).__name__)
            finally:
                store.close()

        threads = [threading.Thread(target=guess) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(outcomes) == 16, name
        assert len(checks) <= 5, (name, len(checks))
        assert outcomes.count("WrongPin") == 4 and outcomes.count("Locked") == 12, name
    assert [a[1] for a in actions(first) if a[2] == "Dana"].count("staff.pin_wrong") == 5
    first.close()


def test_signing_out_is_audited(store, staff):
    staff.signed_out("Dana", where="kiosk lobby-1", idle=False)
    staff.signed_out("Dana", where="kiosk lobby-1", idle=True)
    assert actions(store)[-2:] == [("Dana", "staff.signed_out", "Dana", "tap kiosk lobby-1"),
                                   ("Dana", "staff.signed_out", "Dana", "idle kiosk lobby-1")]


def test_a_badge_signs_in_its_member_and_an_unknown_card_is_not_written_down(store, staff):
    assert staff.sign_in_badge(KVNR, where="kiosk lobby-1") == "Dana"
    assert actions(store)[-1] == ("Dana", "staff.signed_in", "Dana", "badge kiosk lobby-1")
    assert staff.sign_in_badge("T012345678", where="kiosk lobby-1") is None
    assert staff.sign_in_badge("", where="kiosk lobby-1") is None
    assert actions(store)[-1] == ("unknown", "staff.refused_badge", "", "kiosk lobby-1")
    assert not any("T012345678" in str(field) for line in actions(store) for field in line)


# --- incidents -------------------------------------------------------------------------------------

def test_an_incident_is_taken_then_resolved_and_each_step_names_the_actor(store, staff):
    stored = store.save_admission(admission(1))
    incident_id = store.raise_incident(Incident(IncidentKind.COVERAGE_ENDED, Severity.MEDIUM, "ended 2023-12-31",
                                                admission_id=stored.id))
    [row] = staff.incidents()
    assert (row["id"], row["status"], row["queue_number"], row["taken_by"]) == (incident_id, "open", "A-001", "")
    staff.take(incident_id, "Dana")
    [row] = staff.incidents()
    assert (row["status"], row["taken_by"]) == ("taken", "Dana") and row["taken_at"]
    staff.resolve(incident_id, "Mehmet", "done", "new card shown at the desk")
    assert staff.incidents() == []
    [row] = staff.incidents(include_resolved=True)
    assert (row["status"], row["resolved_by"], row["resolution"], row["note"]) == (
        "resolved", "Mehmet", "done", "new card shown at the desk")
    assert actions(store)[-2:] == [("Dana", "incident.taken", str(incident_id), "coverage_ended"),
                                   ("Mehmet", "incident.resolved", str(incident_id), "coverage_ended done")]


def test_a_resolved_incident_does_not_change_again(store, staff):
    incident_id = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    staff.resolve(incident_id, "Dana")
    trail = actions(store)
    with pytest.raises(StaffError, match="resolved already"):
        staff.resolve(incident_id, "Mehmet", "not_needed")
    with pytest.raises(StaffError, match="resolved already"):
        staff.take(incident_id, "Mehmet")
    assert actions(store) == trail
    assert staff.incidents(include_resolved=True)[0]["resolved_by"] == "Dana"


@pytest.mark.parametrize("how", ["", "fixed", "DONE", "reprinted "])
def test_only_the_listed_resolutions_are_taken(store, staff, how):
    incident_id = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    with pytest.raises(StaffError, match="how the incident was resolved"):
        staff.resolve(incident_id, "Dana", how)
    assert staff.incidents()[0]["status"] == "open"


def test_no_such_incident(staff):
    for act in (lambda: staff.take(999, "Dana"), lambda: staff.resolve(999, "Dana")):
        with pytest.raises(StaffError, match="no such incident"):
            act()


@pytest.mark.parametrize("kind", list(IncidentKind), ids=lambda k: k.value)
def test_every_kind_of_incident_can_be_cleared(store, staff, kind):
    stored = store.save_admission(admission(1))
    incident_id = store.raise_incident(Incident(kind, Severity.HIGH, "x",
                                                admission_id=None if kind.about_the_kiosk else stored.id))
    assert [i["kind"] for i in staff.incidents()] == [kind.value]
    staff.take(incident_id, "Dana")
    staff.resolve(incident_id, "Dana", RESOLUTIONS[-1])
    assert staff.incidents() == []
    assert actions(store)[-1] == ("Dana", "incident.resolved", str(incident_id), f"{kind.value} not_needed")


def test_incidents_are_newest_first_without_personal_data(store, staff):
    stored = store.save_admission(admission(1))
    store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM, admission_id=stored.id))
    store.raise_incident(Incident(IncidentKind.READER_FAULT, Severity.HIGH, "no_reader"))
    rows = staff.incidents()
    assert [r["kind"] for r in rows] == ["reader_fault", "help_requested"]
    assert set(rows[0]) == {"id", "kiosk_id", "created_at", "kind", "severity", "status", "detail", "admission_id",
                            "queue_number", "taken_by", "taken_at", "resolved_by", "resolved_at", "resolution", "note",
                            "admission_cancelled"}
    assert rows[1]["admission_cancelled"] is False
    staff.cancel(stored.id, "Dana")
    [row] = [r for r in staff.incidents(include_resolved=True) if r["kind"] == "help_requested"]
    assert row["admission_cancelled"] is True
    assert (rows[0]["admission_id"], rows[0]["queue_number"], rows[1]["queue_number"]) == ("", "", "A-001")
    assert "Öztürk" not in repr(rows) and "T012345678" not in repr(rows)


def test_a_taken_device_incident_is_not_raised_twice_and_the_kiosk_still_closes_it(store, staff):
    first = store.raise_incident(Incident(IncidentKind.HOSPITAL_UNREACHABLE, Severity.HIGH, "fhir"))
    staff.take(first, "Dana")
    assert store.raise_incident(Incident(IncidentKind.HOSPITAL_UNREACHABLE, Severity.HIGH, "fhir")) == first
    assert store.resolve_kiosk_incidents(IncidentKind.HOSPITAL_UNREACHABLE, "sync") == 1
    [row] = staff.incidents(include_resolved=True)
    assert (row["resolved_by"], row["resolution"]) == ("sync", "done")


# --- reprint, resend, cancel -----------------------------------------------------------------------

def staff_with_printer(store, printer, clock) -> Staff:
    settings, catalogs = config.Settings(), Catalogs(["de"])
    return Staff(store, printers={"ticket": printer}, now=clock,
                 layout_for=lambda kind, adm: printing.layout_for(kind, adm, catalogs, settings))


def test_a_reprint_prints_and_clears_that_printer_fault(store, tmp_path, clock):
    stored = store.save_admission(admission(1))
    ticket = store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket: paper_out",
                                           admission_id=stored.id))
    band = store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "wristband: paper_out",
                                         admission_id=stored.id))
    printer = PreviewPrinter(tmp_path / "tickets")
    staff = staff_with_printer(store, printer, clock)
    printer.fault = "paper_out"
    assert staff.reprint(stored.id, "ticket", "Dana").status == "failed"
    assert {i["id"] for i in staff.incidents()} == {ticket, band}
    printer.fault = None
    outcome = staff.reprint(stored.id, "ticket", "Dana")
    assert outcome.status == "printed" and printer.last["ticket"].exists()
    assert [i["id"] for i in staff.incidents()] == [band]
    resolved = next(i for i in staff.incidents(include_resolved=True) if i["id"] == ticket)
    assert (resolved["resolved_by"], resolved["resolution"]) == ("Dana", "reprinted")
    assert ("Dana", "print.printed", stored.id, "ticket") in actions(store)
    with pytest.raises(StaffError, match="no printer"):
        staff.reprint(stored.id, "wristband", "Dana")
    with pytest.raises(StaffError, match="no such admission"):
        staff.reprint("nope", "ticket", "Dana")


def test_a_reprint_while_it_prints_is_refused(store, tmp_path, clock):
    stored = store.save_admission(admission(1))
    store.print_started(stored.id, "ticket", "kiosk")
    with pytest.raises(StaffError, match="printed right now"):
        staff_with_printer(store, PreviewPrinter(tmp_path), clock).reprint(stored.id, "ticket", "Dana")


@pytest.mark.parametrize("action", ["reprint", "resend"])
def test_an_admission_whose_data_was_wiped_is_not_reprinted_or_resent(store, tmp_path, clock, action):
    stored = store.save_admission(admission(1))
    assert store.purge_personal_data(T0 + timedelta(hours=1), forget_tries_after=timedelta(seconds=LOCK_S)) == 1
    printer = PreviewPrinter(tmp_path / "tickets")
    staff = staff_with_printer(store, printer, clock)
    with pytest.raises(StaffError, match=r"^The personal data of this admission was wiped after .*store\.retention_h"):
        staff.reprint(stored.id, "ticket", "Dana") if action == "reprint" else staff.resend(stored.id, "Dana")
    assert store.prints() == [] and not (tmp_path / "tickets").exists()


def refuse(store, stored) -> None:
    """The hospital system refused the admission's message (what kiosk.hospital.outbox does with a 422)."""
    [row] = [r for r in store.outbox() if r["admission_id"] == stored.id]
    store.outbox_dead(row["id"], "rejected: invalid", "{}", Incident(
        IncidentKind.SYNC_REJECTED, Severity.HIGH, "folder: rejected", admission_id=stored.id))


def folder_worker(store, folder, clock) -> outbox.Sync:
    settings = config.Settings(hospital=config.HospitalSettings(transport="folder", url=f"file://{folder}"))
    return outbox.Sync(store, transports.open_transport(settings), now=clock)


def test_a_resend_queues_the_refused_message_again_and_clears_the_incident(store, tmp_path, clock):
    folder = tmp_path / "drop"
    folder.mkdir()
    stored = store.save_admission(admission(1), destinations=("folder",))
    refuse(store, stored)
    woken = []
    staff = Staff(store, now=clock, wake=lambda: woken.append(True))
    assert staff.resend(stored.id, "Dana") == 1 and woken == [True]
    assert [r["status"] for r in store.outbox()] == ["pending"]
    [incident] = staff.incidents(include_resolved=True)
    assert (incident["status"], incident["resolved_by"], incident["resolution"]) == ("resolved", "Dana", "resent")
    assert ("Dana", "outbox.requeued", stored.id, "folder") in actions(store)
    assert staff.resend(stored.id, "Dana") == 0 and woken == [True]
    clock.now = datetime.now(timezone.utc)
    assert folder_worker(store, folder, clock).run_once().delivered == 1
    assert [p.name for p in folder.iterdir()] == [f"{stored.id}.json"]


def test_a_cancel_withdraws_what_was_not_sent_and_the_worker_sends_nothing(store, tmp_path, clock):
    folder = tmp_path / "drop"
    folder.mkdir()
    one = store.save_admission(admission(1), destinations=("folder",))
    two = store.save_admission(admission(2), destinations=("folder",))
    refuse(store, two)
    store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM, admission_id=one.id))
    staff = Staff(store, now=clock)
    assert staff.cancel(one.id, "Dana", "left before the desk") == (
        "The admission is cancelled. Nothing of it had reached the hospital system.")
    assert staff.cancel(two.id, "Dana") == "The admission is cancelled. Nothing of it had reached the hospital system."
    assert [r["status"] for r in store.outbox()] == ["withdrawn", "withdrawn"]
    assert {(i["kind"], i["resolution"], i["note"]) for i in staff.incidents(include_resolved=True)} == {
        ("help_requested", "cancelled", "left before the desk"), ("sync_rejected", "cancelled", "")}
    assert ("Dana", "admission.cancelled", one.id, "1 withdrawn, 0 delivered") in actions(store)
    assert store.get_admission(one.id).person.family == "Öztürk", "the admission stays the record"
    assert store.admission_state(one.id)["cancelled_by"] == "Dana"
    progress = folder_worker(store, folder, clock).run_once(now_or_never=True)
    assert (progress.delivered, progress.waiting) == (0, 0) and list(folder.iterdir()) == []
    assert store.undelivered_elsewhere("fhir") == 0, "withdrawn messages wait for nothing"
    with pytest.raises(StaffError, match="cancelled"):
        staff.cancel(one.id, "Dana")
    for act in (lambda: staff.resend(two.id, "Dana"), lambda: staff.reprint(one.id, "ticket", "Dana")):
        with pytest.raises(StaffError, match="cancelled"):
            act()
    with pytest.raises(StaffError, match="no such admission"):
        staff.cancel("nope", "Dana")


def test_a_delivered_admission_is_cancelled_here_and_must_be_cancelled_there(store, tmp_path, clock):
    folder = tmp_path / "drop"
    folder.mkdir()
    stored = store.save_admission(admission(1), destinations=("folder",))
    clock.now = datetime.now(timezone.utc)
    assert folder_worker(store, folder, clock).run_once().delivered == 1
    sentence = Staff(store, now=clock).cancel(stored.id, "Dana")
    assert sentence.endswith("cancel it there too.")
    assert [r["status"] for r in store.outbox()] == ["delivered"]


def test_a_message_delivered_while_it_was_cancelled_tells_staff(store, clock):
    """The worker had sent it when staff cancelled: its answer still counts, and staff hear of it: cancel it
    in the hospital system too (not "refused", and nothing to reprint, send or cancel here)."""
    from kiosk.desk.incidents import KIND_TEXTS, actions as incident_actions
    stored = store.save_admission(admission(1), destinations=("fhir",))
    row = store.outbox_head("fhir")
    Staff(store, now=clock).cancel(stored.id, "Dana")
    store.outbox_delivered(row["id"], "{}")
    assert [r["status"] for r in store.outbox()] == ["delivered"]
    [incident] = Staff(store).incidents()
    assert (incident["kind"], incident["severity"], incident["detail"]) == (
        "cancel_in_hospital", "medium", "fhir")
    assert KIND_TEXTS[IncidentKind.CANCEL_IN_HOSPITAL].endswith("cancel it there too.")
    assert incident_actions(incident, admission_cancelled=incident["admission_cancelled"],
                            printers=("ticket", "wristband")) == ["take", "resolve"]


# --- the kiosk -------------------------------------------------------------------------------------

def test_out_of_service_survives_reopening_the_store(tmp_path, clock):
    store = Store(tmp_path / "kiosk.db")
    staff = Staff(store, now=clock)
    assert staff.out_of_service() is False
    staff.set_out_of_service(True, "Dana", "printer being repaired")
    store.close()
    store = Store(tmp_path / "kiosk.db")
    try:
        assert Staff(store).out_of_service() is True
        assert actions(store)[-1] == ("Dana", "kiosk.out_of_service", "on", "printer being repaired")
        Staff(store).set_out_of_service(False, "Mehmet")
        assert Staff(store).out_of_service() is False
    finally:
        store.close()


class Broken(Printer):
    def status(self):
        raise OSError("the driver fell over")


def test_device_status_figures(store, tmp_path, clock):
    one = store.save_admission(admission(1), destinations=("fhir",))
    store.save_admission(admission(2), destinations=("fhir",))
    three = store.save_admission(admission(3), destinations=("fhir",))
    rows = store.outbox()
    store.outbox_delivered(rows[0]["id"])
    refuse_row = rows[2]
    store.outbox_dead(refuse_row["id"], "rejected", "{}", Incident(IncidentKind.SYNC_REJECTED, Severity.HIGH,
                                                                   admission_id=three.id))
    ready, jammed = PreviewPrinter(tmp_path / "a"), PreviewPrinter(tmp_path / "b")
    jammed.fault = "paper_out"
    clock.now = T0 + timedelta(minutes=12)             # admission 2 was made at T0 + 2 min
    staff = Staff(store, now=clock, reader_state=lambda: ReaderState.EMPTY,
                  printers={"ticket": ready, "wristband": jammed, "label": Broken(), "other": Printer()})
    status = staff.device_status()
    assert status == DeviceStatus(
        reader="empty", printers={"ticket": "ready", "wristband": "paper_out", "label": "unknown", "other": "unknown"},
        outbox_pending=1, outbox_refused=1, oldest_pending_s=600.0,
        last_delivered_at=store.outbox("delivered")[0]["delivered_at"], out_of_service=False)
    assert one.id == store.outbox("delivered")[0]["admission_id"]


def test_device_status_of_an_empty_kiosk_with_a_reader_that_cannot_say(store, clock):
    def fails():
        raise RuntimeError("no reader thread")
    status = Staff(store, now=clock, reader_state=fails).device_status()
    assert status == DeviceStatus(reader="", printers={}, outbox_pending=0, outbox_refused=0, oldest_pending_s=None,
                                  last_delivered_at="", out_of_service=False)


@pytest.mark.parametrize("state,word", [("ready", "ready"), ("paper_low", "paper_low"), ("paper_out", "paper_out"),
                                        ("cover_open", "cover_open"), ("silent", "unknown")])
def test_a_network_printer_says_how_it_is(state, word):
    with NetPrinter(state=state) as fake:
        assert printer_condition(EscposPrinter(fake.uri, "TM-T88V", timeout_s=0.5)) == word
