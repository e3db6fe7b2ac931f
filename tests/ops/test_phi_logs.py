"""Patients with a distinctive name, birth date and KVNR check in, and none of these appears in any
log output or any file outside the store.

End to end, with real parts: a config like a kiosk's (hospital.transport fhir to the in-process FHIR server
of tests/support/fhirserver.py, log.level debug, metrics into a node-exporter folder, an encrypted store), and
the `kiosk` command in processes of its own, each with $HOME and $TMPDIR pointing at test folders:

- ``kiosk staff add`` (for the desk page), then ``kiosk --debug demo --headless --send-samples --patients
  FILE``: three patients check in through the real screens (one with ended coverage), which also asks the
  FHIR server for their appointments by KVNR, and the demo sends them to it as test data;
- the same three admissions stored in the kiosk's store as check-ins waiting for the hospital system (the
  demo writes nothing there), with the ended coverage's incident; ``kiosk sync`` (the long-running worker)
  while the server answers the first message with a 503 and then a 422 whose OperationOutcome quotes the
  patient, as real servers do: retried, then refused (an incident); the rest delivered. It stops once its
  metrics file says nothing is pending;
- ``kiosk sync --once --retry-refused``; ``kiosk desk`` with a staff member signing in and taking an
  incident; ``kiosk doctor --json``; ``kiosk print ticket`` and ``wristband`` of the last admission.

Then every process's stdout and stderr, the metrics file, and every file under data_dir (Kivy's home is
there), $HOME and $TMPDIR are searched for the needles (names case-insensitively, the birth dates in every
format the kiosk could write them). Left out, on purpose, and why:

- the store files (kiosk.db, -wal, -shm): the one place personal data belongs (encrypted);
- the demo's output folder (--out: screenshots, tickets and admissions as stored: what the demo is for) and
  the preview printers' folders (data_dir/tickets, where the demo prints, and --printer preview:DIR of
  kiosk print): they stand for the paper a printer hands to the patient.

The same search over the store (opened with its key) and over the demo's output must find every patient:
that shows the probe can see what it looks for.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import requests
import sqlcipher3
from fhirserver import FhirServer
from needles import date_formats, encodings
from prometheus_client.parser import text_string_to_metric_families

from kiosk.checkin.model import Admission, Incident, IncidentKind, Severity
from kiosk.store import Store

KIOSK = str(Path(sys.executable).parent / "kiosk")
STORE_FILES = ("kiosk.db", "kiosk.db-wal", "kiosk.db-shm")
KVNR = "http://fhir.de/sid/gkv/kvid-10"
STAFF, PIN = "Dana Desk", "4711"


def card(family: str, given: str, birth: str, kvnr: str, street: str, coverage_end: str | None = None) -> dict:
    period = {"start": "2015-01-01", **({"end": coverage_end} if coverage_end else {})}
    return {"card": "egk", "atr": "3BD396FF81B1FE451F078081052D",
            "patient": {"resourceType": "Patient", "identifier": [{"system": KVNR, "value": kvnr}],
                        "name": [{"family": family, "given": [given]}], "gender": "female", "birthDate": birth,
                        "address": [{"line": [street], "postalCode": "42103", "city": "Wuppertal", "country": "D"}]},
            "coverage": {"resourceType": "Coverage", "status": "active", "subscriberId": kvnr, "period": period,
                         "payor": [{"identifier": {"system": "http://fhir.de/sid/arge-ik/iknr", "value": "109500969"},
                                    "display": "Test GKV Sozialversicherung"}]},
            "warnings": []}


# KVNRs with valid check digits (kiosk.hardware.cards.egk.kvnr_check_digit_ok).
PATIENTS = [
    card("Zyxwvutsqrona", "Quillimara", "1987-03-19", "Z618033986", "Xerxesgasse 7"),
    card("Vexholm-Zyxwvutsqrona", "Ottilindis", "1929-11-07", "Y271828185", "Quappenweg 3", coverage_end="2021-12-31"),
    card("Brquvaltz", "Zenobiah", "2001-02-28", "W141421356", "Jvarrstraße 12"),
]


def needles(patient: dict) -> set[str]:
    p = patient["patient"]
    return {p["name"][0]["family"], *p["name"][0]["given"], p["identifier"][0]["value"], p["address"][0]["line"][0],
            *date_formats(p["birthDate"])}


NEEDLES = {form for patient in PATIENTS for text in needles(patient) for form in encodings(text)}


def found_in(text: str) -> set[str]:
    low = text.casefold()
    return {n for n in NEEDLES if n.casefold() in low}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Run:
    root: Path
    data: Path
    demo_out: Path
    prints: Path
    textfile: Path
    key: str
    outputs: dict = field(default_factory=dict)      # "<command> stdout|stderr" -> text
    codes: dict = field(default_factory=dict)        # command -> exit code

    def kiosk(self, name: str, *argv: str, env: dict, stdin: str = "", timeout: float = 120) -> int:
        done = subprocess.run([KIOSK, *argv], input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
        self.keep(name, done.stdout, done.stderr, done.returncode)
        return done.returncode

    def keep(self, name: str, stdout: str, stderr: str, code: int) -> None:
        self.outputs[f"{name} stdout"], self.outputs[f"{name} stderr"] = stdout, stderr
        self.codes[name] = code


def wait_for(condition, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return result


def figures(textfile: Path) -> dict:
    if not textfile.exists():
        return {}
    return {s.name: s.value for family in text_string_to_metric_families(textfile.read_text())
            for s in family.samples if not s.labels}


def operation_outcome(text: str) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing",
                                                           "diagnostics": text}]}


def stop(process: subprocess.Popen, name: str, run: Run) -> None:
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    run.keep(name, stdout, stderr, process.returncode)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("phi")
    r = Run(root=root, data=root / "data", demo_out=root / "demo-out", prints=root / "printed",
            textfile=root / "node-exporter" / "kiosk.prom", key=os.urandom(32).hex())
    for folder in ("home", "tmp", "node-exporter"):
        (root / folder).mkdir()
    (root / "patients.json").write_text(json.dumps(PATIENTS, ensure_ascii=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "KIOSK_CONFIG", "JOURNAL_STREAM") and not k.startswith("XDG_")}
    env.update(HOME=str(root / "home"), TMPDIR=str(root / "tmp"), KIOSK_STORE_KEY=r.key)
    desk_port = free_port()
    with FhirServer() as fhir:
        cfg = root / "kiosk.toml"
        cfg.write_text(f'[kiosk]\nid = "lobby-phi"\ndata_dir = "{r.data}"\nlanguages = ["de", "en"]\n'
                       f'[hospital]\ntransport = "fhir"\nurl = "{fhir.base}"\nretry_max_s = 1.0\n'
                       f'[desk]\nport = {desk_port}\n[log]\nlevel = "debug"\n'
                       f'[metrics]\ntextfile = "{r.textfile}"\ninterval_s = 0.5\n', encoding="utf-8")
        config = ("--config", str(cfg))
        assert r.kiosk("staff add", "staff", "add", STAFF, *config, env=env, stdin=f"{PIN}\n") == 0
        # --debug: every library logs at DEBUG too (all but those kiosk.ops.logs keeps quiet).
        assert r.kiosk("demo", "--debug", "demo", "--headless", "--send-samples", "--out", str(r.demo_out),
                       "--patients", str(root / "patients.json"), *config, env=env, timeout=600) == 0, \
            r.outputs["demo stderr"]

        # The same patients' check-ins wait in the kiosk's outbox (queued while the hospital system was away),
        # and the worker delivers them while the server first has a fault, then refuses the first one quoting
        # the patient; the rest it takes.
        queue_again(r, (1, 2, 3))
        family, birth = PATIENTS[0]["patient"]["name"][0]["family"], PATIENTS[0]["patient"]["birthDate"]
        fhir.fail_next(503, retry_after=1, body=operation_outcome(f"Patient {family} ({birth}): try later"))
        fhir.fail_next(422, body=operation_outcome(f"Patient {family} born {birth} already exists as 4711"))
        worker = subprocess.Popen([KIOSK, "sync", *config], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        try:
            wait_for(lambda: figures(r.textfile).get("kiosk_outbox_pending") == 0
                     and figures(r.textfile).get("kiosk_outbox_dead") == 1, "the worker to deliver all but one")
        finally:
            stop(worker, "sync", r)
        r.kiosk("sync --once", "sync", "--once", "--retry-refused", *config, env=env)

        desk = subprocess.Popen([KIOSK, "desk", *config], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        try:
            url = f"http://127.0.0.1:{desk_port}"
            session = requests.Session()
            page = wait_for(lambda: _get(session, f"{url}/login"), "the desk page")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            assert session.post(f"{url}/login", data={"name": STAFF, "pin": PIN, "csrf_token": token}).ok
            csrf = re.search(r'"csrf": "([^"]+)"', session.get(f"{url}/").text).group(1)
            listed = session.get(f"{url}/api/incidents").json()
            incident = next(i for i in _rows(listed) if i.get("kind") == "coverage_ended")
            assert session.post(f"{url}/api/incidents/{incident['id']}/take", headers={"X-CSRF-Token": csrf}).ok
        finally:
            stop(desk, "desk", r)
        r.kiosk("doctor", "doctor", "--json", *config, env=env)
        for what in ("ticket", "wristband"):
            r.kiosk(f"print {what}", "print", what, "--printer", f"preview:{r.prints}", *config, env=env)
    return r


def queue_again(r: Run, patients: tuple[int, ...]) -> None:
    """Store the demo's admissions of ``patients`` in the kiosk's store, as real check-ins waiting for the
    hospital system (and the incident the kiosk raises for an ended coverage)."""
    store = Store(r.data / "kiosk.db", key=r.key, kiosk_id="lobby-phi")
    try:
        for n in patients:
            stored = Admission.from_json(json.loads((r.demo_out / f"p{n}-admission.json").read_text(encoding="utf-8")))
            again = replace(stored, id=str(uuid.uuid4()), created_at=datetime.now(timezone.utc).isoformat(),
                            test_data=False)
            store.save_admission(again, destinations=("fhir",))
            if again.coverage and again.coverage.ended_before(date.today().isoformat()):
                store.raise_incident(Incident(IncidentKind.COVERAGE_ENDED, Severity.MEDIUM, admission_id=again.id))
    finally:
        store.close()


def _get(session: requests.Session, url: str):
    try:
        return session.get(url, timeout=2)
    except requests.ConnectionError:
        return None


def _rows(listed) -> list[dict]:
    """The incidents of the desk API's answer (a list, or an object with a list of them)."""
    if isinstance(listed, list):
        return listed
    return next(v for v in listed.values() if isinstance(v, list))


def places_outside_the_store(r: Run) -> dict[str, str]:
    """Where personal data must not be: every output, and every file but the store's and the printers'."""
    places = dict(r.outputs)
    excluded = (r.demo_out, r.prints, r.data / "tickets")
    for folder in (r.data, r.root / "home", r.root / "tmp", r.textfile.parent):
        for path in folder.rglob("*"):
            if path.is_file() and not (path.parent == r.data and path.name in STORE_FILES) \
                    and not any(path.is_relative_to(e) for e in excluded):
                places[str(path.relative_to(r.root))] = path.read_bytes().decode("utf-8", "replace")
    return places


def test_the_kiosk_did_what_the_patients_and_staff_asked(run):
    assert run.codes["sync"] == 0 and run.codes["sync --once"] == 0 and run.codes["desk"] == 0
    assert run.codes["print ticket"] == 0 and run.codes["print wristband"] == 0
    assert run.codes["doctor"] is not None and json.loads(run.outputs["doctor stdout"])["checks"]
    summary = json.loads((run.demo_out / "screens.json").read_text(encoding="utf-8"))
    assert [p["queue_number"] for p in summary["patients"]] == ["A-001", "A-002", "A-003"]
    assert figures(run.textfile)["kiosk_outbox_pending"] == 0
    logged = run.outputs["demo stderr"] + run.outputs["sync stderr"]
    assert "admission stored queue=A-003" in logged and "level=debug" in logged      # the log is there, at DEBUG
    assert "rejected" in run.outputs["sync stderr"]                                   # the refusal was logged
    assert figures(run.textfile)["kiosk_outbox_pending"] == 0


def test_no_patient_data_in_any_output_or_file_outside_the_store(run):
    places = places_outside_the_store(run)
    assert len(places) > 10 and run.textfile.relative_to(run.root).as_posix() in places
    leaks = {place: sorted(found) for place, text in places.items() if (found := found_in(text))}
    assert leaks == {}


def test_the_probe_finds_every_patient_where_they_are_meant_to_be(run):
    conn = sqlcipher3.connect(str(run.data / "kiosk.db"))
    conn.execute(f"PRAGMA key = \"x'{run.key}'\"")
    stored = json.dumps([row for table in ("admissions", "outbox") for row in conn.execute(f"SELECT * FROM {table}")],
                        ensure_ascii=False)
    conn.close()
    shown = (run.demo_out / "screens.json").read_text(encoding="utf-8")
    for patient in PATIENTS:
        p = patient["patient"]
        for text in (stored, shown):
            assert {p["name"][0]["family"], p["identifier"][0]["value"]} <= found_in(text)
        assert p["birthDate"] in found_in(stored)
        assert date_formats(p["birthDate"]) & found_in(shown)       # the confirm screen writes it out
