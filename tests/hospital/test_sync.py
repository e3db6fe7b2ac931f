"""The outbox worker: order, pauses, refusals, and the three transports against real peers (a FHIR
server in-process, an MLLP receiver, a folder), with their faults: outages, resets, answers lost after a
commit, refusals, missing ACKs, TLS failures, and the worker killed half-way."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiosk import config
from kiosk.hospital import outbox, transports
from kiosk.hospital.appointments import AppointmentLookup
from kiosk.checkin.model import Admission, Coverage, Identifier, IncidentKind, Person
from kiosk.store import Store

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def admission(n: int, **changes) -> Admission:
    return replace(Admission(
        id=f"0b6c7f2e-1d2a-4c57-9f0e-{n:012d}", kiosk_id="lobby-1", created_at=(T0 - timedelta(minutes=60 - n)).isoformat(),
        language="de", identified_by="card:egk",
        person=Person(family="Müller", given=("Jürgen",), birth_date="1958-03-21", gender="male",
                      identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", f"X{n:09d}"),)),
        coverage=Coverage(payor_system="http://fhir.de/sid/arge-ik/iknr", payor_id="104212505",
                          payor_name="AOK Rheinland/Hamburg", subscriber_id=f"X{n:09d}", start="2020-01-01"),
        answers=(), consent="accepted"), **changes)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    yield s
    s.close()


def queue(store, destination, count, first=1):
    return [store.save_admission(admission(n), destinations=(destination,)) for n in range(first, first + count)]


class Scripted:
    """A transport whose answers the test writes down (for the worker's own rules; the real
    transports are tested against real peers below)."""

    name = "fhir"

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[str] = []

    def send(self, admission, row):
        self.sent.append(admission.queue_number)
        return self.answers.pop(0) if self.answers else transports.Attempt("delivered", answered=True)

    def close(self):
        pass


# --- the worker's rules -------------------------------------------------------------------------------

def test_messages_go_in_order_and_a_failure_holds_the_later_ones_back(store):
    queue(store, "fhir", 3)
    clock = Clock()
    transport = Scripted(transports.Attempt("retry", "unreachable"))
    worker = outbox.Sync(store, transport, now=clock, jitter=lambda: 1.0)
    progress = worker.run_once()
    assert transport.sent == ["A-001"] and progress.waiting == 3 and progress.delivered == 0
    assert progress.next_due == T0 + timedelta(seconds=1)
    assert worker.run_once().delivered == 0, "not due yet: nothing is sent"
    clock.advance(1)
    progress = worker.run_once()
    assert transport.sent == ["A-001", "A-001", "A-002", "A-003"] and progress.delivered == 3
    assert progress.waiting == 0 and [r["status"] for r in store.outbox()] == ["delivered"] * 3


def test_pauses_double_with_jitter_up_to_the_ceiling_and_retry_after_wins(store):
    queue(store, "fhir", 1)
    clock = Clock()
    jitters = iter([0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    worker = outbox.Sync(store, Scripted(*[transports.Attempt("retry", "http_503")] * 5,
                                       transports.Attempt("retry", "http_503", retry_after_s=120)),
                       retry_max_s=8, now=clock, jitter=lambda: next(jitters))
    pauses = []
    for _ in range(6):
        progress = worker.run_once()
        pauses.append((progress.next_due - clock.now).total_seconds())
        clock.now = progress.next_due
    assert pauses == [0.5, 2.0, 2.0, 8.0, 8.0, 120.0]


def test_a_refused_message_is_set_aside_with_an_incident_and_the_next_one_goes(store):
    first, second = queue(store, "fhir", 2)
    transport = Scripted(transports.Attempt("dead", "rejected: error invalid Patient.birthDate", '{"resourceType": "OperationOutcome"}'))
    progress = outbox.Sync(store, transport, now=Clock()).run_once()
    assert (progress.delivered, progress.dead, progress.waiting) == (1, 1, 0)
    rows = store.outbox()
    assert [(r["status"], r["last_error"]) for r in rows] == [("dead", "rejected: error invalid Patient.birthDate"),
                                                               ("delivered", "")]
    assert rows[0]["response"] == '{"resourceType": "OperationOutcome"}'
    [incident] = store.incidents()
    assert (incident["kind"], incident["admission_id"]) == ("sync_rejected", first.id)


def test_a_duplicate_patient_at_the_hospital_is_its_own_incident(store):
    queue(store, "fhir", 1)
    outbox.Sync(store, Scripted(transports.Attempt("dead", "possible_duplicate_patient: error multiple-matches")),
              now=Clock()).run_once()
    assert [i["kind"] for i in store.incidents()] == ["duplicate_patient"]


def test_a_long_outage_is_one_incident_that_ends_when_the_hospital_answers(store):
    queue(store, "fhir", 2)
    clock = Clock()
    worker = outbox.Sync(store, Scripted(*[transports.Attempt("retry", "unreachable")] * 7), now=clock)
    for attempt in range(1, 8):
        progress = worker.run_once()
        assert [i["kind"] for i in store.incidents()] == (["hospital_unreachable"] if attempt >= 5 else [])
        clock.now = progress.next_due
    assert worker.run_once().delivered == 2
    assert store.incidents() == []


def test_an_outage_resolved_by_hand_while_it_lasts_is_raised_again(store):
    """Staff resolve hospital_unreachable by hand, the hospital system is still away: they hear of it
    again at the next failed attempt, from the same worker (not only after a restart)."""
    from kiosk.desk.staff import Staff
    queue(store, "fhir", 1)
    clock = Clock()
    worker = outbox.Sync(store, Scripted(*[transports.Attempt("retry", "unreachable")] * 7), now=clock)
    for _ in range(5):
        clock.now = worker.run_once().next_due
    [incident] = store.incidents()
    Staff(store).resolve(incident["id"], "Dana", "not_needed")
    assert store.incidents() == []
    clock.now = worker.run_once().next_due
    assert [(i["kind"], i["status"]) for i in store.incidents()] == [("hospital_unreachable", "open")]
    clock.now = worker.run_once().next_due
    assert len(store.incidents("unresolved")) == 1, "one at a time"


def test_an_outage_raised_by_another_worker_ends_when_the_hospital_answers(store):
    queue(store, "fhir", 1)
    clock = Clock()
    worker = outbox.Sync(store, Scripted(transports.Attempt("retry", "unreachable")), now=clock)
    clock.now = worker.run_once().next_due           # this worker has seen the outage begin
    from kiosk.checkin.model import Incident, Severity
    store.raise_incident(Incident(IncidentKind.HOSPITAL_UNREACHABLE, Severity.HIGH, "fhir"))  # kiosk sync did
    assert worker.run_once().delivered == 1
    assert store.incidents("unresolved") == []


def test_an_admission_that_cannot_be_written_as_a_message_is_set_aside(store):
    class Unwritable(Scripted):
        def send(self, admission, row):
            raise ValueError("answer 'x' is not an option of question 'reason'")
    queue(store, "fhir", 1)
    assert outbox.Sync(store, Unwritable(), now=Clock()).run_once().dead == 1
    assert store.outbox("dead")[0]["last_error"].startswith("unsendable: answer 'x'")
    [incident] = store.incidents()
    assert incident["detail"] == "fhir:unsendable", "the incident names the reason, not the data"


def test_messages_for_another_transport_are_left_alone(store):
    queue(store, "hl7v2", 1)
    transport = Scripted()
    assert outbox.Sync(store, transport, now=Clock()).run_once().waiting == 0
    assert transport.sent == [] and store.outbox()[0]["status"] == "pending"


# --- the drop folder ----------------------------------------------------------------------------------

def folder_settings(folder: Path, fmt: str = "fhir"):
    return config.Settings(hospital=config.HospitalSettings(transport="folder", url=f"file://{folder}",
                                                            folder_format=fmt))


@pytest.mark.parametrize("fmt,suffix", [("fhir", ".json"), ("hl7v2", ".hl7")])
def test_the_drop_folder_gets_one_whole_file_per_admission(store, tmp_path, fmt, suffix):
    folder = tmp_path / "drop"
    folder.mkdir()
    stored = queue(store, "folder", 2)
    transport = transports.open_transport(folder_settings(folder, fmt))
    assert outbox.Sync(store, transport, now=Clock()).run_once().delivered == 2
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{a.id}{suffix}" for a in stored)
    content = (folder / f"{stored[0].id}{suffix}").read_text(encoding="utf-8")
    if fmt == "fhir":
        assert json.loads(content)["type"] == "transaction"
    else:
        assert content.startswith("MSH|^~\\&|") and "ADT^A04" in content
    # A resend (the kiosk died before it recorded the delivery) writes the same file again, whole.
    before = (folder / f"{stored[0].id}{suffix}").read_bytes()
    assert transport.send(stored[0], {"id": 1, "attempts": 0}).kind == "delivered"
    assert (folder / f"{stored[0].id}{suffix}").read_bytes() == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "no temporary files left"


def test_a_missing_drop_folder_is_retried_until_it_is_there(store, tmp_path):
    folder = tmp_path / "not-yet"
    queue(store, "folder", 1)
    clock = Clock()
    worker = outbox.Sync(store, transports.open_transport(folder_settings(folder)), now=clock)
    progress = worker.run_once()
    assert progress.waiting == 1 and progress.last_reason.startswith("folder_unwritable")
    folder.mkdir()
    clock.now = progress.next_due
    assert worker.run_once().delivered == 1 and len(list(folder.iterdir())) == 1


# --- FHIR against a real server (SEKMET in-process) ----------------------------------------------------

from fhirserver import FhirServer  # noqa: E402
from mllppeer import MllpPeer  # noqa: E402


@pytest.fixture
def server():
    with FhirServer() as s:
        yield s


def fhir_settings(url: str, timeout_s: float = 5.0):
    return config.Settings(hospital=config.HospitalSettings(transport="fhir", url=url, timeout_s=timeout_s))


def fhir_worker(store, url, clock, timeout_s=5.0):
    return outbox.Sync(store, transports.open_transport(fhir_settings(url, timeout_s)), now=clock, jitter=lambda: 0.0)


def drain(worker, clock, rounds=10):
    """Run the worker until nothing is left or ``rounds`` are used, jumping the clock over each pause."""
    for _ in range(rounds):
        progress = worker.run_once()
        if not progress.waiting:
            return progress
        clock.now = progress.next_due
    return progress


def assert_exactly_once(server, stored):
    assert server.count("Patient") == len({a.person.identifiers[0].value for a in stored})
    assert server.count("Encounter") == len(stored)
    assert server.count("Consent") == len(stored)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_admissions_queued_while_the_hospital_is_down_arrive_once_and_in_order(store, server):
    stored = queue(store, "fhir", 5)
    clock = Clock()
    down = fhir_worker(store, f"http://127.0.0.1:{free_port()}/fhir", clock)
    for _ in range(3):
        progress = down.run_once()
        clock.now = progress.next_due
    assert progress.waiting == 5 and progress.last_reason == "unreachable"
    assert drain(fhir_worker(store, server.base, clock), clock).waiting == 0
    assert_exactly_once(server, stored)
    encounters = sorted(server.search("Encounter"), key=lambda e: e["meta"]["lastUpdated"])
    ids = [next(i["value"] for i in e["identifier"]) for e in encounters]
    assert ids == [a.id for a in stored], "delivered in the order they were admitted"


def test_a_connection_reset_mid_request_is_retried(store, server):
    import socket
    import threading
    stored = queue(store, "fhir", 1)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def reset_once():
        conn, _ = listener.accept()
        conn.recv(100)                 # the request has started to arrive...
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()                   # ...and the connection is reset
    threading.Thread(target=reset_once, daemon=True).start()
    clock = Clock()
    progress = fhir_worker(store, f"http://127.0.0.1:{listener.getsockname()[1]}/fhir", clock).run_once()
    listener.close()
    assert progress.waiting == 1 and progress.last_reason == "unreachable"
    clock.now = progress.next_due
    assert fhir_worker(store, server.base, clock).run_once().delivered == 1
    assert_exactly_once(server, stored)


def test_a_response_lost_after_the_server_committed_creates_nothing_twice(store, server):
    stored = queue(store, "fhir", 2)
    clock = Clock()
    worker = fhir_worker(store, server.base, clock, timeout_s=0.5)
    server.hold_responses()
    progress = worker.run_once()
    assert server.wait_held(1) and progress.last_reason == "timeout"
    server.release()
    server.fail_next(500, after_commit=True)       # and once more: committed, but the answer is an error
    clock.now = progress.next_due
    progress = worker.run_once()
    assert progress.last_reason == "http_500"
    clock.now = progress.next_due
    assert worker.run_once().delivered == 2
    assert_exactly_once(server, stored)


@pytest.mark.parametrize("status,retry_after,pause", [(503, 7, 7.0), (503, None, 0.5), (500, None, 0.5),
                                                       (429, "30", 30.0)])
def test_server_errors_are_retried_after_the_pause_the_server_asks_for(store, server, status, retry_after, pause):
    stored = queue(store, "fhir", 1)
    clock = Clock()
    worker = fhir_worker(store, server.base, clock)
    server.fail_next(status, retry_after=retry_after)
    progress = worker.run_once()
    assert progress.waiting == 1 and (progress.next_due - clock.now).total_seconds() == pause
    clock.now = progress.next_due
    assert worker.run_once().delivered == 1
    assert_exactly_once(server, stored)


@pytest.mark.parametrize("status", [400, 422])
def test_a_refusal_with_an_operation_outcome_is_set_aside_and_later_admissions_flow(store, server, status):
    first, second = queue(store, "fhir", 2)
    server.fail_next(status)
    progress = fhir_worker(store, server.base, Clock()).run_once()
    assert (progress.dead, progress.delivered) == (1, 1)
    dead = store.outbox("dead")[0]
    assert dead["admission_id"] == first.id and "fault injected by the test server" in dead["response"]
    assert dead["last_error"].startswith("rejected")
    assert [(i["kind"], i["admission_id"]) for i in store.incidents()] == [("sync_rejected", first.id)]
    assert server.count("Encounter") == 1
    audit = json.dumps(store.audit_trail())
    assert "fault injected" not in audit, "what the server said stays on the outbox row, not in the audit"


def test_two_patients_with_one_insurance_number_at_the_hospital_is_a_duplicate_for_staff(store, server):
    stored = queue(store, "fhir", 1)
    kvnr = stored[0].person.identifiers[0]
    for _ in range(2):
        server.create({"resourceType": "Patient", "identifier": [{"system": kvnr.system, "value": kvnr.value}]})
    progress = fhir_worker(store, server.base, Clock()).run_once()
    assert progress.dead == 1
    assert [i["kind"] for i in store.incidents()] == ["duplicate_patient"]
    assert server.count("Encounter") == 0


def test_a_tls_failure_is_retried_not_sent_in_the_clear(store, server):
    queue(store, "fhir", 1)
    progress = fhir_worker(store, server.base.replace("http://", "https://"), Clock()).run_once()
    assert progress.waiting == 1 and progress.last_reason == "tls_failed"
    assert server.count("Encounter") == 0


# --- HL7 v2 over MLLP against a real receiver ---------------------------------------------------------

def mllp_worker(store, url, clock, timeout_s=2.0):
    settings = config.Settings(hospital=config.HospitalSettings(transport="hl7v2", url=url, timeout_s=timeout_s))
    return outbox.Sync(store, transports.open_transport(settings), now=clock, jitter=lambda: 0.0)


def test_mllp_accepted_messages_are_delivered_whole(store):
    import hl7
    stored = queue(store, "hl7v2", 2)
    with MllpPeer() as peer:
        assert mllp_worker(store, peer.url, Clock()).run_once().delivered == 2
        messages = [hl7.parse(m) for m in peer.messages]
    assert [str(m.segment("PV1")(19)) for m in messages] == [a.id for a in stored]
    assert [str(m.segment("MSH")(10)) for m in messages] == [transports.control_id_for(a) for a in stored]
    assert "AA" in store.outbox()[0]["response"]


def test_mllp_application_error_is_set_aside_with_the_ack_kept(store):
    [stored] = queue(store, "hl7v2", 1)
    with MllpPeer("AE") as peer:
        assert mllp_worker(store, peer.url, Clock()).run_once().dead == 1
        assert len(peer.messages) == 1
    dead = store.outbox("dead")[0]
    assert dead["admission_id"] == stored.id and "MSA|AE|" in dead["response"]
    assert dead["last_error"].startswith("rejected_AE")
    assert [(i["kind"], i["admission_id"]) for i in store.incidents()] == [("sync_rejected", stored.id)]


def test_mllp_reject_is_tried_again_then_set_aside(store):
    queue(store, "hl7v2", 1)
    clock = Clock()
    with MllpPeer("AR") as peer:
        worker = mllp_worker(store, peer.url, clock)
        for _ in range(outbox.REFUSALS - 1):
            progress = worker.run_once()
            assert progress.waiting == 1 and progress.last_reason == "rejected_AR"
            clock.now = progress.next_due
        assert worker.run_once().dead == 1
        assert len(peer.messages) == outbox.REFUSALS and len(peer.unique()) == 1
    assert store.outbox("dead")[0]["last_error"].startswith("given_up: rejected_AR")


@pytest.mark.parametrize("answer,reason", [("silent", "timeout"), ("drop", "unreachable")])
def test_mllp_without_an_ack_is_resent_with_the_same_control_id(store, answer, reason):
    queue(store, "hl7v2", 1)
    clock = Clock()
    with MllpPeer(answer) as peer:
        worker = mllp_worker(store, peer.url, clock, timeout_s=0.5)
        progress = worker.run_once()
        assert progress.waiting == 1 and progress.last_reason == reason
        peer.answer = "AA"
        clock.now = progress.next_due
        assert worker.run_once().delivered == 1
        assert len(peer.messages) == 2 and len(peer.unique()) == 1, "a de-duplicating receiver keeps one"


# --- `kiosk sync`, and the process killed half-way ----------------------------------------------------

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

KIOSK = str(Path(sys.executable).parent / "kiosk")


def sync_config(tmp_path, url, name="kiosk.toml"):
    path = tmp_path / name
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[hospital]\ntransport = "fhir"\nurl = "{url}"\n'
                    'timeout_s = 2.0\nretry_max_s = 1.0\n', encoding="utf-8")
    return path


def kiosk_sync(*args):
    return subprocess.run([KIOSK, "sync", *map(str, args)], capture_output=True, text=True, timeout=120)


def data_store(tmp_path):
    """The store `kiosk sync` opens: with the session's key (tests/conftest.py), as the config says."""
    return Store(tmp_path / "data" / "kiosk.db", kiosk_id="lobby-1", key=os.environ["KIOSK_STORE_KEY"])


def test_sync_once_exits_0_only_when_nothing_is_left(tmp_path, server):
    store = data_store(tmp_path)
    stored = queue(store, "fhir", 2)
    down = kiosk_sync("--once", "--config", sync_config(tmp_path, f"http://127.0.0.1:{free_port()}/fhir", "down.toml"))
    assert down.returncode == 9 and down.stdout.startswith("Delivered 0 admission(s)")
    assert down.stderr.startswith("kiosk: 2 admission(s) still wait to be delivered: unreachable;")
    up = kiosk_sync("--once", "--config", sync_config(tmp_path, server.base))
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == "Delivered 2 admission(s) to the hospital system (fhir)."
    assert_exactly_once(server, stored)
    for word in ("Müller", "Jürgen", "1958", "X00000000"):
        assert word not in down.stderr + down.stdout + up.stderr + up.stdout
    store.close()


def test_sync_killed_between_commit_and_send_delivers_once_after_the_restart(tmp_path, server):
    store = data_store(tmp_path)
    stored = queue(store, "fhir", 3)
    worker = subprocess.Popen([KIOSK, "sync", "--config",
                               sync_config(tmp_path, f"http://127.0.0.1:{free_port()}/fhir", "down.toml")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not store.outbox()[0]["attempts"]:
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.05)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    assert kiosk_sync("--once", "--config", sync_config(tmp_path, server.base)).returncode == 0
    assert_exactly_once(server, stored)
    store.close()


def test_sync_killed_between_send_and_answer_delivers_once_after_the_restart(tmp_path, server):
    store = data_store(tmp_path)
    stored = queue(store, "fhir", 3)
    cfg = sync_config(tmp_path, server.base)
    server.hold_responses()
    worker = subprocess.Popen([KIOSK, "sync", "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert server.wait_held(1, timeout=60), "the first admission never reached the server"
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    server.release()
    assert server.count("Encounter") == 1, "the server committed the first one; the kiosk never heard"
    run = kiosk_sync("--once", "--config", cfg)
    assert run.returncode == 0, run.stderr
    assert_exactly_once(server, stored)
    assert [r["status"] for r in store.outbox()] == ["delivered"] * 3
    store.close()


# --- appointments: found while the patient confirms, arrived once the admission is in ---------------

def book(server, patient_id, start, status="booked"):
    return server.create({"resourceType": "Appointment", "status": status, "description": "Kardiologie",
                          "start": start, "end": start.replace(":00:00Z", ":30:00Z"),
                          "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}]})


def test_the_appointment_of_today_is_found_and_marked_arrived_once(store, server):
    from datetime import date
    from kiosk.checkin.model import Appointment
    first = admission(1)
    mrn = "urn:oid:1.2.276.0.76.3.1.999.1"           # the hospital's own patient numbers
    patient = server.create({**first.person.to_fhir(),
                             "identifier": [*first.person.to_fhir()["identifier"], {"system": mrn, "value": "M-4711"}]})
    booked = book(server, patient["id"], "2026-11-27T10:00:00Z")
    book(server, patient["id"], "2026-11-28T10:00:00Z")
    settings = fhir_settings(server.base)
    settings = settings.replace(hospital=replace(settings.hospital, patient_id_system=mrn))
    found = AppointmentLookup(settings.hospital).find_appointment(first.person.identifiers[0], date(2026, 11, 27),
                                                                   timeout=2.0)
    transport = transports.open_transport(settings)
    assert found == Appointment(booked["id"], "2026-11-27T10:00:00Z", "Kardiologie", patient_number="M-4711")
    stored = store.save_admission(replace(first, appointment_id=found.id), destinations=("fhir",))
    assert outbox.Sync(store, transport, now=Clock()).run_once().delivered == 1
    assert server.search("Appointment", _id=booked["id"])[0]["status"] == "arrived"
    [encounter] = server.search("Encounter")
    assert encounter["appointment"][0]["reference"] == f"Appointment/{booked['id']}"
    # A resend after a lost answer finds it arrived already: that counts as done.
    assert transport.send(stored, {"id": 1, "attempts": 1}).kind == "delivered"
    assert server.count("Patient") == 1 and server.count("Encounter") == 1


def test_an_unreachable_hospital_makes_the_patient_a_walk_in(server):
    from datetime import date
    lookup = AppointmentLookup(fhir_settings(f"http://127.0.0.1:{free_port()}/fhir").hospital)
    assert lookup.find_appointment(admission(1).person.identifiers[0], date(2026, 11, 27), timeout=0.5) is None
    slow = AppointmentLookup(fhir_settings(server.base).hospital)
    server.hold_responses()
    assert slow.find_appointment(admission(1).person.identifiers[0], date(2026, 11, 27), timeout=0.3) is None
    server.release()


def test_two_workers_on_one_store_take_turns(tmp_path, server):
    import fcntl
    store = data_store(tmp_path)
    stored = queue(store, "fhir", 1)
    with open(store.path.with_name("kiosk.db.sync-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)                 # the app's sync thread is in a round
        other = subprocess.Popen([KIOSK, "sync", "--once", "--config", sync_config(tmp_path, server.base)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        assert other.poll() is None and server.count("Encounter") == 0, "it waits for its turn"
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    assert_exactly_once(server, stored)
    store.close()


def test_the_bearer_token_and_request_id_go_with_every_request_and_nowhere_else(store, tmp_path, caplog):
    import http.server
    import threading
    seen = []

    class Hospital(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.headers["Authorization"], self.headers["X-Request-Id"], self.headers["Content-Type"]))
            self.send_response(503)
            self.send_header("Retry-After", "5")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hospital)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = tmp_path / "token"
    token.write_text("s3cr3t-t0ken\n", encoding="utf-8")
    settings = config.Settings(hospital=config.HospitalSettings(
        transport="fhir", url=f"http://127.0.0.1:{server.server_port}/fhir", token_file=str(token)))
    queue(store, "fhir", 1)
    with caplog.at_level("DEBUG"):
        progress = outbox.Sync(store, transports.open_transport(settings), now=Clock()).run_once()
    server.shutdown()
    assert seen == [("Bearer s3cr3t-t0ken", "lobby-1-1", "application/fhir+json")]
    assert progress.last_reason == "http_503" and (progress.next_due - T0).total_seconds() == 5
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in json.dumps(store.outbox())


# --- what the review found: nothing on this side stops the queue -------------------------------------

def test_an_admission_the_store_cannot_give_back_is_set_aside_and_the_rest_goes(store):
    first, second = queue(store, "fhir", 2)
    store.db.execute("UPDATE admissions SET data = '{}' WHERE id = ?", [first.id])
    transport = Scripted()
    progress = outbox.Sync(store, transport, now=Clock()).run_once()
    assert (progress.dead, progress.delivered) == (1, 1) and transport.sent == ["A-002"]
    assert store.outbox("dead")[0]["last_error"] == "unreadable_admission: KeyError"
    assert [(i["kind"], i["admission_id"]) for i in store.incidents()] == [("sync_rejected", first.id)]


def test_a_fault_of_this_side_while_sending_is_retried_not_fatal(store):
    class Broken(Scripted):
        def send(self, admission, row):
            raise RuntimeError("a bug")
    queue(store, "fhir", 1)
    progress = outbox.Sync(store, Broken(), now=Clock()).run_once()
    assert progress.waiting == 1 and progress.last_reason == "internal_RuntimeError"
    assert store.outbox()[0]["attempts"] == 1


def test_pauses_stay_bounded_however_long_the_outage_or_odd_the_server(store):
    worker = outbox.Sync(store, Scripted(), retry_max_s=300, jitter=lambda: 1.0)
    assert worker._pause(2000, None) == 300, "no overflow after days of retries"
    assert worker._pause(1, 86_400_000) == outbox.RETRY_AFTER_MAX_S
    assert worker._pause(1, 0) == outbox.FIRST_PAUSE_S, "Retry-After: 0 does not make a busy loop"


def test_a_clock_that_went_back_does_not_stall_the_queue(store):
    queue(store, "fhir", 1)
    store.db.execute("UPDATE outbox SET next_attempt_at = '2026-11-28T20:00:00+00:00'")   # set by a clock 36 h fast
    assert outbox.Sync(store, Scripted(), now=Clock()).run_once().delivered == 1


def test_a_conflict_that_stays_for_one_admission_is_given_up_after_a_few_answers(store, server):
    first, second = queue(store, "fhir", 2)
    clock = Clock()
    worker = fhir_worker(store, server.base, clock)
    server.fail_next(409, times=outbox.REFUSALS)
    for _ in range(outbox.REFUSALS):
        progress = worker.run_once()
        clock.now = progress.next_due or clock.now
    assert progress.delivered == 1 and progress.dead == 1
    assert store.outbox("dead")[0]["last_error"] == "given_up: http_409"
    assert server.count("Encounter") == 1


@pytest.mark.parametrize("status", [401, 403, 404, 503])
def test_an_endpoint_problem_holds_the_queue_without_setting_admissions_aside(store, server, status):
    stored = queue(store, "fhir", 3)
    clock = Clock()
    worker = fhir_worker(store, server.base, clock)
    server.fail_next(status, times=2 * outbox.REFUSALS)
    for _ in range(2 * outbox.REFUSALS):
        progress = worker.run_once()
        clock.now = progress.next_due
    assert store.outbox("dead") == [] and [i["kind"] for i in store.incidents()] == ["hospital_unreachable"]
    assert worker.run_once().delivered == 3 and store.incidents() == [], "fixed: all go, the incident ends"
    assert_exactly_once(server, stored)


def test_an_appointment_that_cannot_be_marked_leaves_the_admission_delivered(store, server):
    stored = store.save_admission(replace(admission(1), appointment_id="no-such-appointment"), destinations=("fhir",))
    progress = fhir_worker(store, server.base, Clock()).run_once()
    assert progress.delivered == 1 and store.outbox()[0]["status"] == "delivered"
    assert [(i["kind"], i["admission_id"], i["detail"]) for i in store.incidents()] == [
        ("appointment_not_arrived", stored.id, "fhir:appointment_not_arrived")]


def https_hospital(cert, key):
    """An HTTPS endpoint on 127.0.0.1 that takes any transaction (the TLS is the point here)."""
    import http.server
    import ssl
    import threading

    class Hospital(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hospital)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_certificate_the_kiosk_does_not_trust_is_retried_and_the_right_ca_lets_it_through(store, tls_certificate):
    cert, key = tls_certificate
    hospital = https_hospital(cert, key)
    url = f"https://127.0.0.1:{hospital.server_port}/fhir"
    queue(store, "fhir", 1)
    clock = Clock()
    progress = outbox.Sync(store, transports.open_transport(fhir_settings(url)), now=clock).run_once()
    assert progress.waiting == 1 and progress.last_reason == "tls_failed"
    trusted = config.Settings(hospital=config.HospitalSettings(transport="fhir", url=url, ca_file=str(cert)))
    clock.now = progress.next_due
    assert outbox.Sync(store, transports.open_transport(trusted), now=clock).run_once().delivered == 1
    hospital.shutdown()


def test_mllp_over_tls_is_verified(store, tls_certificate):
    import ssl
    cert, key = tls_certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    queue(store, "hl7v2", 1)
    clock = Clock()
    with MllpPeer(tls=server_context) as peer:
        url = peer.url
        untrusted = mllp_worker(store, url, clock).run_once()
        assert untrusted.last_reason == "tls_failed" and peer.messages == []
        settings = config.Settings(hospital=config.HospitalSettings(transport="hl7v2", url=url, ca_file=str(cert)))
        clock.now = untrusted.next_due
        assert outbox.Sync(store, transports.open_transport(settings), now=clock).run_once().delivered == 1
        assert len(peer.messages) == 1


def test_refused_admissions_can_be_sent_again_once_the_cause_is_fixed(tmp_path, server):
    store = data_store(tmp_path)
    stored = queue(store, "fhir", 2)
    server.fail_next(422)
    cfg = sync_config(tmp_path, server.base)
    first = kiosk_sync("--once", "--config", cfg)
    assert first.returncode == 9 and "1 admission(s) were refused" in first.stderr
    again = kiosk_sync("--once", "--retry-refused", "--config", cfg)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == "1 refused admission(s) queued again."
    assert_exactly_once(server, stored)
    store.close()


def test_mllp_sync_killed_between_send_and_ack_is_one_message_at_the_receiver(tmp_path):
    store = data_store(tmp_path)
    stored = queue(store, "hl7v2", 3)
    with MllpPeer("hold") as peer:
        cfg = tmp_path / "mllp.toml"
        cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[hospital]\ntransport = "hl7v2"\n'
                       f'url = "{peer.url}"\ntimeout_s = 30.0\n', encoding="utf-8")
        worker = subprocess.Popen([KIOSK, "sync", "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not peer.messages:
                assert time.monotonic() < deadline and worker.poll() is None
                time.sleep(0.05)
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
        peer.answer = "AA"
        run = kiosk_sync("--once", "--config", cfg)
        assert run.returncode == 0, run.stderr
        assert len(peer.messages) == 4 and len(peer.unique()) == 3, "the first one twice, with one control id"
    assert [r["status"] for r in store.outbox()] == ["delivered"] * 3 and len(stored) == 3
    store.close()


def test_kiosk_sync_picks_up_new_admissions_and_stops_on_sigterm(tmp_path, server):
    store = data_store(tmp_path)
    worker = subprocess.Popen([KIOSK, "sync", "--config", sync_config(tmp_path, server.base)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        stored = queue(store, "fhir", 1)             # the app stores one while kiosk sync runs apart
        deadline = time.monotonic() + 60
        while server.count("Encounter") < 1:
            assert time.monotonic() < deadline and worker.poll() is None, "not picked up"
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert_exactly_once(server, stored)
    store.close()
