"""kiosk/ops/metrics.py and kiosk/ops/housekeeping.py: the figures of a real store (admissions, outbox, incidents,
out of service), a real network printer (tests/support/fakeprinter.py) and the simulated reader, written by the
housekeeping thread to a textfile and served on 127.0.0.1, both read back with prometheus_client's own
parser; one exporting process per kiosk; the retention purge on the thread; a failing round does not
end the thread."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fakeprinter import NetPrinter
from prometheus_client.parser import text_string_to_metric_families

from kiosk import __version__
from kiosk.ops import metrics
from kiosk.config import KioskSettings, MetricsSettings, Settings, StoreSettings
from kiosk.hardware.preview import PreviewPrinter
from kiosk.hardware.printer_uri import open_printer
from kiosk.hardware.reader import SimulatedReader
from kiosk.ops.housekeeping import Housekeeping
from kiosk.checkin.model import Admission, CardData, Identifier, Incident, IncidentKind, Person, Severity
from kiosk.desk.staff import OUT_OF_SERVICE
from kiosk.store import Store

FAMILY = "Quonzebrecht"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admission(n: int, identified_by: str, age: timedelta) -> Admission:
    return Admission(id=f"0b6c7f2e-1d2a-4c57-9f0e-{n:012d}", kiosk_id="lobby-test",
                     created_at=(datetime.now(timezone.utc) - age).isoformat(timespec="seconds"), language="de",
                     identified_by=identified_by,
                     person=Person(family=FAMILY, given=("Ilse",), birth_date="1941-12-24",
                                   identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", "Q111111116"),)))


def settings_for(tmp_path: Path, **metrics_options) -> Settings:
    options = {"textfile": str(tmp_path / "node-exporter" / "kiosk.prom"), "interval_s": 0.1, **metrics_options}
    return Settings(kiosk=KioskSettings(id="lobby-test", data_dir=str(tmp_path / "data")),
                    store=StoreSettings(retention_h=24.0), metrics=MetricsSettings(**options))


@pytest.fixture
def store(tmp_path, store_key):
    """A store with: an admission delivered two days ago (due for the purge), one waiting 10 minutes, one
    refused (dead, with its incident), a help call still open, a reader fault resolved, out of service."""
    s = Store(tmp_path / "data" / "kiosk.db", key=store_key, kiosk_id="lobby-test")
    delivered = s.save_admission(admission(1, "card:egk", timedelta(days=2)), destinations=("fhir",))
    s.save_admission(admission(2, "card:egk", timedelta(minutes=10)), destinations=("fhir",))
    refused = s.save_admission(admission(3, "name", timedelta(minutes=5)), destinations=("fhir",))
    rows = {row["admission_id"]: row["id"] for row in s.outbox()}
    s.outbox_delivered(rows[delivered.id])
    s.outbox_dead(rows[refused.id], "rejected: Patient.name", "", Incident(
        IncidentKind.SYNC_REJECTED, Severity.HIGH, "fhir: rejected", admission_id=refused.id))
    s.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM, "", admission_id=refused.id))
    s.raise_incident(Incident(IncidentKind.READER_FAULT, Severity.HIGH, "no_reader"))
    s.resolve_kiosk_incidents(IncidentKind.READER_FAULT, "it")
    s.set_kiosk_state(OUT_OF_SERVICE, "on", "it")
    s.made_at = time.time()
    yield s
    s.close()


@pytest.fixture
def reader():
    r = SimulatedReader([CardData.from_json(json.loads((Path(__file__).parents[2] / "assets" / "demo" /
                                                        "patients.json").read_text())[0])])
    r.start()
    return r


def samples(text: str) -> dict:
    """{(name, (label pairs...)): value} of an exposition, through prometheus_client's parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def wait_for(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


def test_the_figures_of_store_printers_and_reader_in_the_textfile_and_on_localhost(tmp_path, store, reader):
    port = free_port()
    settings = settings_for(tmp_path, port=port)
    textfile = Path(settings.metrics.textfile)
    textfile.parent.mkdir()
    umask = os.umask(0o077)                   # as under `kiosk`: the file must still be readable by the exporter
    try:
        with NetPrinter("paper_out") as printer:
            printers = {"ticket": open_printer(printer.uri, settings.data_path, timeout_s=2.0),
                        "wristband": PreviewPrinter(tmp_path / "bands")}
            housekeeping = Housekeeping(settings, store.reopen, printers=printers, reader_state=lambda: reader.state,
                                        preferred=True).start()
            try:
                wait_for(textfile.exists)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                    served = samples(answer.read().decode())
            finally:
                housekeeping.stop()
    finally:
        os.umask(umask)
    assert textfile.stat().st_mode & 0o777 == 0o644
    written = samples(textfile.read_text())
    for figures in (written, served):
        assert figures[("kiosk_build_info", (("kiosk", "lobby-test"), ("version", __version__)))] == 1
        assert figures[("kiosk_checkins_total", (("identified_by", "card:egk"),))] == 2
        assert figures[("kiosk_checkins_total", (("identified_by", "name"),))] == 1
        assert figures[("kiosk_checkins_total", (("identified_by", "code"),))] == 0
        assert figures[("kiosk_incidents_total", (("kind", "sync_rejected"),))] == 1
        assert figures[("kiosk_incidents_open", (("kind", "sync_rejected"),))] == 1
        assert figures[("kiosk_incidents_total", (("kind", "help_requested"),))] == 1
        assert figures[("kiosk_incidents_total", (("kind", "reader_fault"),))] == 1
        assert figures[("kiosk_incidents_open", (("kind", "reader_fault"),))] == 0
        assert figures[("kiosk_incidents_total", (("kind", "paper_low"),))] == 0      # every kind is there
        assert figures[("kiosk_outbox_pending", ())] == 1
        assert figures[("kiosk_outbox_dead", ())] == 1
        assert 600 <= figures[("kiosk_outbox_oldest_age_seconds", ())] <= 600 + time.time() - store.made_at + 2
        assert store.made_at - 5 < figures[("kiosk_last_sync_success_timestamp_seconds", ())] <= time.time()
        assert figures[("kiosk_out_of_service", ())] == 1
        assert figures[("kiosk_printer_up", (("printer", "ticket"),))] == 0
        assert figures[("kiosk_printer_state", (("printer", "ticket"), ("state", "paper_out")))] == 1
        assert figures[("kiosk_printer_state", (("printer", "ticket"), ("state", "ready")))] == 0
        assert figures[("kiosk_printer_up", (("printer", "wristband"),))] == 1
        assert figures[("kiosk_reader_up", ())] == 1
        assert figures[("kiosk_reader_state", (("state", "empty"),))] == 1
        assert figures[("kiosk_reader_state", (("state", "no_reader"),))] == 0
        assert abs(figures[("kiosk_last_update_timestamp_seconds", ())] - time.time()) < 60
        assert not [key for key in figures if FAMILY in str(key)]


def test_the_thread_purges_at_start_what_is_older_than_the_retention(tmp_path, store):
    housekeeping = Housekeeping(settings_for(tmp_path, textfile=""), store.reopen).start()
    try:
        wait_for(lambda: any(row["action"] == "retention.purged" for row in store.audit_trail()))
    finally:
        housekeeping.stop()
    rows = {row["id"]: row["data"] for row in store.db["admissions"].rows}
    assert FAMILY not in rows["0b6c7f2e-1d2a-4c57-9f0e-000000000001"]       # delivered two days ago
    assert FAMILY in rows["0b6c7f2e-1d2a-4c57-9f0e-000000000002"]           # still waiting to be delivered
    assert not Path(settings_for(tmp_path).metrics.textfile).parent.exists()  # no export configured: none


def test_a_process_with_the_devices_exports_and_the_others_step_back(tmp_path, store):
    port = free_port()
    settings = settings_for(tmp_path, port=port)
    Path(settings.metrics.textfile).parent.mkdir()
    sync = metrics.Exporter(settings)                     # `kiosk sync` on its own: first, so it exports
    desk = metrics.Exporter(settings)
    run = metrics.Exporter(settings, preferred=True)      # `kiosk run` (reader and printers) starts later
    snapshot = metrics.Snapshot(taken_at=time.time())
    try:
        assert sync.may_export() and not desk.may_export()
        sync.export(snapshot)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).status == 200
        assert not run.may_export()          # sync still holds the export: it sees `kiosk run` next round
        assert not sync.may_export() and not desk.may_export()
        assert run.may_export()
        run.export(snapshot)                 # the port sync let go of
        assert run._http is not None and run._http.server_address == ("127.0.0.1", port)
        run.close()                          # `kiosk run` stops: one of the others takes over
        assert sync.may_export() != desk.may_export()
    finally:
        for exporter in (sync, desk, run):
            exporter.close()


def test_a_failing_round_is_logged_and_the_thread_goes_on(tmp_path, store, caplog):
    settings = settings_for(tmp_path)
    Path(settings.metrics.textfile).parent.mkdir()
    calls = []

    def open_store():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the disk is not there yet")
        return store.reopen()
    housekeeping = Housekeeping(settings, open_store).start()
    try:
        wait_for(Path(settings.metrics.textfile).exists)
    finally:
        housekeeping.stop()
    [failed] = [r for r in caplog.records if r.getMessage() == "housekeeping round failed"]
    assert failed.exc_info[0] is OSError
    assert ("kiosk_outbox_pending", ()) in samples(Path(settings.metrics.textfile).read_text())


def test_the_thread_sleeps_between_rounds_and_stops_at_once(tmp_path, store):
    housekeeping = Housekeeping(settings_for(tmp_path, interval_s=3600.0), store.reopen).start()
    wait_for(lambda: any(row["action"] == "retention.purged" for row in store.audit_trail()))
    started = time.monotonic()
    housekeeping.stop()
    assert time.monotonic() - started < 2 and not housekeeping._thread.is_alive()


def test_kiosk_run_exports_the_figures_of_its_reader_and_printer(tmp_path, store_key):
    # `kiosk run` wants a display: SDL's offscreen driver stands in for it (cmd_run only looks for $DISPLAY).
    textfile = tmp_path / "node-exporter" / "kiosk.prom"
    textfile.parent.mkdir()
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[reader]\nkind = "simulated"\n'
                   f'[metrics]\ntextfile = "{textfile}"\ninterval_s = 0.2\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    env.update(DISPLAY=":99", SDL_VIDEODRIVER="offscreen", KIOSK_STORE_KEY=store_key, HOME=str(tmp_path))
    kiosk = subprocess.Popen([str(Path(sys.executable).parent / "kiosk"), "run", "--config", str(cfg)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # The first round may come before the app has started the reader (no_reader): the next ones after.
        figures = wait_for(lambda: textfile.exists() and (f := samples(textfile.read_text()))
                           and f[("kiosk_reader_up", ())] == 1 and f, timeout=60)
    finally:
        kiosk.terminate()
        kiosk.communicate(timeout=30)
    assert figures[("kiosk_reader_state", (("state", "empty"),))] == 1
    assert figures[("kiosk_printer_state", (("printer", "ticket"), ("state", "ready")))] == 1
    assert figures[("kiosk_checkins_total", (("identified_by", "card:egk"),))] == 0
