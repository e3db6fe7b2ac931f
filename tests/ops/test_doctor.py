"""``kiosk doctor`` (kiosk/ops/doctor/) against real parts: the vpcd reader in a real pcscd, loopback network
printers, SEKMET over HTTP, an MLLP peer, real files and a real store; the CLI runs as its console script.

The clock row reads this machine's kernel clock: where a test expects "all else passes", it accepts the exit
code the clock row gives (0 synchronised, 1 not), and the decoding is tested as a pure function.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import hl7
import pytest

from kiosk import config
from kiosk.ops import doctor
from kiosk.ops.doctor import devices, files, hospital, local, output
from kiosk.checkin.model import Admission, Incident, IncidentKind, Person, Severity
from kiosk.store import Store

from fakeprinter import SSH_BANNER, NetPrinter, echo
from fhirserver import FhirServer
from mllppeer import MllpPeer

KIOSK = str(Path(sys.executable).parent / "kiosk")
ORDER = ["config", "permissions", "store", "card reader", "scanner", "ticket printer", "hospital", "site", "outbox", "disk",
         "clock"]


def toml(sections: dict) -> str:
    """A config file from {section: {key: value}} (strings and lists of strings as JSON, which TOML reads)."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            text = ("true" if value else "false") if isinstance(value, bool) else \
                repr(value) if isinstance(value, (int, float)) else json.dumps(value)
            lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_config(tmp_path):
    """Writes kiosk.toml (mode 0600) for a kiosk with its data in tmp_path, a simulated reader, a preview ticket
    printer, no hospital and a plain store, with ``sections`` merged over that; returns its path."""
    def make(mode: int = 0o600, **sections) -> Path:
        base = {"kiosk": {"id": "test-kiosk", "data_dir": str(tmp_path / "data")}, "reader": {"kind": "simulated"},
                "printer.ticket": {"uri": "preview:tickets"}, "store": {"encryption": "none"}}
        for section, values in sections.items():
            base.setdefault(section.replace("__", "."), {}).update(values)
        path = tmp_path / "kiosk.toml"
        path.write_text(toml(base), encoding="utf-8")
        path.chmod(mode)
        return path
    return make


def doctor_cli(path: Path, *options: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The console script; a store key comes only from the config's key_file."""
    env = {k: v for k, v in os.environ.items()
           if k not in (config.CONFIG_ENV, "NO_COLOR", "KIOSK_STORE_KEY", "CREDENTIALS_DIRECTORY")}
    return subprocess.run([KIOSK, "doctor", "--config", str(path), *options], capture_output=True, text=True,
                          env=env, timeout=timeout)


def doctor_json(path: Path) -> tuple[int, dict[str, dict]]:
    """(exit code, rows by check name) of ``kiosk doctor --json``."""
    result = doctor_cli(path, "--json")
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert report["exit_code"] == result.returncode
    return result.returncode, {row["check"]: row for row in report["checks"]}


def clock_exit(rows: dict[str, dict]) -> int:
    """What the exit code is when nothing but the clock may fail: this machine's clock decides."""
    return 1 if rows["clock"]["status"] == "fail" else 0


def store_at(make_config) -> Store:
    """The store the config's kiosk opens (kiosk.store.opening.open_store: kiosk.db in data_dir), plain."""
    settings = config.load(make_config())
    return Store(settings.data_path / "kiosk.db", kiosk_id="test-kiosk")


# --- card reader: a real pcscd with the vpcd reader (these run first: see conftest) ---------------------

def test_reader_row_passes_with_the_vpcd_reader(pcscd, make_config):
    code, rows = doctor_json(make_config(reader={"kind": "pcsc"}))
    assert rows["card reader"]["status"] == "ok", rows["card reader"]
    assert pcscd.reader_name in rows["card reader"]["detail"]
    assert code == clock_exit(rows)


def test_reader_row_fails_when_no_reader_matches_reader_names(pcscd, make_config):
    code, rows = doctor_json(make_config(reader={"kind": "pcsc", "names": ["Cherry ST-1144"]}))
    row = rows["card reader"]
    assert (row["status"], row["exit_code"], code) == ("fail", 3, 3)
    assert "no reader" in row["detail"] and "Cherry ST-1144" in row["detail"]


def test_reader_row_fails_with_exit_3_when_pcscd_is_stopped(pcscd, make_config):
    if not pcscd.started_here:
        pytest.skip("the pcscd running here was not started by the tests: it is not theirs to stop")
    path = make_config(reader={"kind": "pcsc"})
    pcscd.process.terminate()
    pcscd.process.wait(timeout=10)
    try:
        code, rows = doctor_json(path)
    finally:
        pcscd.restart()
    row = rows["card reader"]
    assert (row["status"], row["exit_code"], code) == ("fail", 3, 3)
    assert "(pcscd) is not running" in row["detail"] and "systemctl start pcscd" in row["detail"]


def test_simulated_reader_is_a_warning(make_config):
    _, rows = doctor_json(make_config())
    assert rows["card reader"]["status"] == "warn"
    assert "reader.kind = simulated" in rows["card reader"]["detail"]


# --- barcode scanner: a real pseudo-terminal for a serial one; this machine has no input device ------------

def scanner_row(make_config, **values) -> output.Row:
    return devices.check_scanner(config.load(make_config(scanner=values)))


def test_no_scanner_is_ok_and_a_simulated_one_a_warning(make_config):
    row = scanner_row(make_config)
    assert (row.status, row.exit_code) == ("ok", 0) and row.detail.startswith("none")
    row = scanner_row(make_config, kind="simulated")
    assert row.status == "warn" and "scanner.kind = simulated" in row.detail


def test_site_row_asks_the_site_service_and_only_ever_warns(make_config, tmp_path):
    """Not set: ok. A real site service (tests/support/precheckin.py) with the site's secret: ok; with another
    secret, at a port nobody listens on, or at something that is no site service: a warning saying what to fix."""
    import socket
    from precheckin import site_with_a_pre_checked_patient
    assert hospital.check_site(config.load(make_config())).status == "ok"
    (tmp_path / "site").mkdir()
    service, secret, _ = site_with_a_pre_checked_patient(tmp_path / "site")
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("0" * 64 + "\n")
    wrong.chmod(0o600)
    with socket.socket() as nobody:
        nobody.bind(("127.0.0.1", 0))
        rows = {}
        try:
            for name, url, secret_file in (("right", service.api.url, secret), ("wrong", service.api.url, wrong),
                                           ("nobody", f"http://127.0.0.1:{nobody.getsockname()[1]}", secret),
                                           ("pages", service.patient.url, secret)):
                rows[name] = hospital.check_site(config.load(make_config(
                    site={"url": url, "timeout_s": 2.0}, desk={"peer_secret_file": str(secret_file)},
                    kiosk={"queue_prefix": "K1"})))
        finally:
            service.stop()
    assert (rows["right"].status, rows["right"].detail) == (
        "ok", f"The site service at {service.api.url} answers and takes this kiosk's secret.")
    assert all(rows[n].status == "warn" and rows[n].exit_code == 0 for n in ("wrong", "nobody", "pages"))
    assert "refuses this kiosk's secret" in rows["wrong"].detail
    assert "cannot be reached" in rows["nobody"].detail
    assert "does not answer as a site service does" in rows["pages"].detail


def test_serial_scanner_row_passes_on_a_port_and_fails_with_exit_3_without_one(make_config, tmp_path):
    master, slave = os.openpty()
    try:
        row = scanner_row(make_config, kind="serial", port=os.ttyname(slave))
        assert (row.status, row.exit_code) == ("ok", 0), row
    finally:
        os.close(master)
        os.close(slave)
    row = scanner_row(make_config, kind="serial", port=str(tmp_path / "usb-Scanner-if00"))
    assert (row.status, row.exit_code) == ("fail", 3)
    assert "scanner.port" in row.detail and "plug the scanner in" in row.detail and "/dev/serial/by-id" in row.detail


def test_hid_scanner_row_fails_with_exit_3_for_a_missing_path_and_for_what_is_no_input_device(make_config, tmp_path):
    row = scanner_row(make_config, kind="hid", hid_device=str(tmp_path / "usb-Scanner-event-kbd"))
    assert (row.status, row.exit_code) == ("fail", 3)
    assert "scanner.hid_device" in row.detail and "/dev/input/by-id" in row.detail
    row = scanner_row(make_config, kind="hid", hid_device="/dev/null")
    assert (row.status, row.exit_code) == ("fail", 3) and "is not an input device" in row.detail


def test_a_failing_scanner_row_decides_the_exit_code_after_the_reader(make_config, tmp_path):
    code, rows = doctor_json(make_config(scanner={"kind": "serial", "port": str(tmp_path / "gone")}))
    assert (rows["scanner"]["status"], code) == ("fail", 3)


# --- output ------------------------------------------------------------------------------------------

def test_table_is_aligned_in_order_with_a_summary_and_no_colour_in_a_pipe(make_config):
    result = doctor_cli(make_config())
    lines = result.stdout.rstrip("\n").split("\n")
    header, rows, blank, summary = lines[0], lines[1:-2], lines[-2], lines[-1]
    assert header.split() == ["CHECK", "STATUS", "WHAT", "IT", "FOUND", "/", "WHAT", "TO", "DO"]
    status_at, detail_at = header.index("STATUS"), header.index("WHAT IT FOUND")
    assert [line[:status_at].strip() for line in rows] == ORDER
    assert all(line[status_at:detail_at].strip() in ("ok", "warn", "fail") for line in rows)
    assert all(line[detail_at - 1] == " " and line[detail_at] != " " for line in rows)
    assert blank == ""
    assert "\033[" not in result.stdout
    statuses = {line[:status_at].strip(): line[status_at:detail_at].strip() for line in rows}
    assert statuses["config"] == "ok" and statuses["ticket printer"] == "warn" and statuses["hospital"] == "warn"
    if statuses["clock"] == "fail":
        assert result.returncode == 1 and summary.endswith("exit 1 (the first failing check: clock).")
    else:
        assert result.returncode == 0 and summary.startswith("All 9 checks pass")
    assert result.stderr == ""


def test_table_wraps_the_last_column_to_the_width_given():
    rows = [output.ok("config", "word " * 40), output.fail("disk", "Only a little free.", 1)]
    lines = output.table(rows, width=60).split("\n")
    assert all(len(line) <= 60 for line in lines)
    indent = lines[0].index("WHAT")
    continued = [line for line in lines[2:] if line.startswith(" ")]
    assert continued and all(line[:indent].strip() == "" and line[indent] != " " for line in continued)
    assert lines[-1] == "1 of 2 checks fail: exit 1 (the first failing check: disk)."
    coloured = output.table(rows, colour=True)
    assert "\033[31mfail\033[0m" in coloured and "\033[32mok\033[0m" in coloured


def test_json_is_one_object_with_every_check(make_config):
    result = doctor_cli(make_config(), "--json")
    report = json.loads(result.stdout)              # nothing but the object on stdout
    assert set(report) == {"ok", "exit_code", "checks"}
    assert [row["check"] for row in report["checks"]] == ORDER
    for row in report["checks"]:
        assert set(row) == {"check", "status", "detail", "exit_code"}
        assert row["status"] in ("ok", "warn", "fail")
        assert row["detail"].endswith(".") and len(row["detail"]) > 20
        assert (row["exit_code"] != 0) == (row["status"] == "fail")
    assert report["ok"] == (report["exit_code"] == 0) == (result.returncode == 0)


def test_doctor_help_names_the_rows_and_exit_codes():
    result = subprocess.run([KIOSK, "doctor", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "exit 0 only when all pass" in result.stdout
    assert "--json" in result.stdout and "8 printer fault" in result.stdout
    top = subprocess.run([KIOSK, "--help"], capture_output=True, text=True, timeout=60)
    assert "1 the kiosk itself (doctor: permissions, store, disk, clock)" in " ".join(top.stdout.split())


# --- config and permissions -------------------------------------------------------------------------------

def test_broken_config_is_the_config_row_and_exit_2(make_config):
    path = make_config()
    path.write_text('[kiosk\nid = "lobby-1"\n')          # not TOML
    for options in ((), ("--json",)):
        result = doctor_cli(path, *options)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert [row["check"] for row in report["checks"]] == ["config"]
    assert report["checks"][0]["status"] == "fail" and "is not valid TOML" in report["checks"][0]["detail"]
    table = doctor_cli(path).stdout
    assert table.split("\n")[1].startswith("config") and "fail" in table.split("\n")[1]


def test_unknown_key_is_named_in_the_config_row(make_config):
    path = make_config(printer__ticket={"width_mm": 80})
    code, rows = doctor_json(path)
    assert code == 2
    assert "'printer.ticket.width_mm'" in rows["config"]["detail"]


def test_missing_config_file_exit_2(tmp_path):
    # --config naming no file is a usage error (kiosk.cli.arguments); $KIOSK_CONFIG naming none is the config row.
    usage = doctor_cli(tmp_path / "nowhere.toml", "--json")
    assert (usage.returncode, usage.stdout) == (2, "") and "kiosk: --config names no file" in usage.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("KIOSK_STORE_KEY", "CREDENTIALS_DIRECTORY")}
    result = subprocess.run([KIOSK, "doctor", "--json"], capture_output=True, text=True, timeout=60,
                            env={**env, config.CONFIG_ENV: str(tmp_path / "nowhere.toml")})
    rows = {row["check"]: row for row in json.loads(result.stdout)["checks"]}
    assert result.returncode == 2 and "does not exist" in rows["config"]["detail"]


def test_world_readable_token_file_fails_the_permissions_row(make_config, tmp_path):
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJIUzI1NiJ9.secret\n")
    token.chmod(0o644)
    path = make_config(hospital={"token_file": str(token)})
    code, rows = doctor_json(path)
    row = rows["permissions"]
    assert (row["status"], row["exit_code"], code) == ("fail", 1, 1)
    assert "hospital.token_file" in row["detail"] and "every user" in row["detail"] and "chmod o-r" in row["detail"]
    token.chmod(0o640)                               # root:kiosk 0640 is how the kiosk user gets to read it
    assert doctor_json(path)[1]["permissions"]["status"] == "ok"


def test_a_client_cert_counts_as_a_secret_only_when_it_holds_its_key(make_config, tmp_path, tls_certificate):
    cert, key = tls_certificate
    alone, both = tmp_path / "cert.pem", tmp_path / "both.pem"
    alone.write_bytes(cert.read_bytes())
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    for pem in (alone, both):
        pem.chmod(0o644)
    assert doctor_json(make_config(hospital={"client_cert": str(alone)}))[1]["permissions"]["status"] == "ok"
    row = doctor_json(make_config(hospital={"client_cert": str(both)}))[1]["permissions"]
    assert row["status"] == "fail" and "hospital.client_cert" in row["detail"]


def test_config_writable_by_others_fails(make_config):
    code, rows = doctor_json(make_config(mode=0o666))
    assert code == 1 and rows["permissions"]["status"] == "fail"
    assert "can be changed by other users" in rows["permissions"]["detail"]


def test_config_must_be_roots_even_when_doctor_runs_as_the_kiosk_user():
    """Under sudo, doctor goes on as the owner of data_dir (the kiosk user, kiosk.cli.privileges.run_as_data_owner)
    before it checks: a config that user owns, and could change, must fail all the same. The check runs in a
    process that has become uid 1000 (the interpreter here lives under root's home, out of that user's reach:
    what it needs is imported before), on a config in a folder that user can reach."""
    home = Path(tempfile.mkdtemp(prefix="kiosk-doctor-"))
    check = ("import os, sys\nfrom pathlib import Path\nfrom kiosk import config\nfrom kiosk.ops.doctor import files\n"
             "path = Path(sys.argv[1])\nsettings = config.load(path)\nos.setgid(1000)\nos.setuid(1000)\n"
             "row = files.check_permissions(settings, path)\nprint(row.status, row.detail)\n")
    try:
        home.chmod(0o755)
        path = home / "kiosk.toml"
        path.write_text('[store]\nencryption = "none"\n')
        path.chmod(0o600)
        os.chown(path, 1000, 1000)
        done = subprocess.run([sys.executable, "-c", check, str(path)], capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"fail The config file {path} belongs to user id 1000, who could change what the "
                                  f"kiosk does: chown root {path}.")


def test_config_folder_writable_by_others_fails(make_config, tmp_path):
    path = make_config()
    tmp_path.chmod(0o770)                                  # a group may replace the file
    try:
        code, rows = doctor_json(path)
    finally:
        tmp_path.chmod(0o700)
    assert (rows["permissions"]["status"], code) == ("fail", 1)
    assert f"The folder {tmp_path} can be changed by a user other than root" in rows["permissions"]["detail"]
    assert doctor_json(path)[1]["permissions"]["status"] == "ok"


def test_the_services_environment_file_must_not_be_readable_by_others(make_config, tmp_path):
    """/etc/default/kiosk may hold KIOSK_STORE_KEY (install.sh writes it 0640 root:root)."""
    path = make_config()
    settings = config.load(path)
    environment = tmp_path / "default-kiosk"
    assert files.check_permissions(settings, path, environment).status == "ok"     # none: nothing to check
    environment.write_text("KIOSK_STORE_KEY=" + "0" * 64 + "\n")
    environment.chmod(0o644)
    row = files.check_permissions(settings, path, environment)
    assert row.status == "fail" and f"environment file {environment} can be read by every user" in row.detail
    environment.chmod(0o640)
    assert files.check_permissions(settings, path, environment).status == "ok"
    assert files.ENVIRONMENT_FILE == Path("/etc/default/kiosk")


@pytest.mark.parametrize("url,credential", [
    ("http://127.0.0.1:9/fhir?_format=json", False),
    ("http://kiosk:hunter2@127.0.0.1:9/fhir", True),
    ("http://127.0.0.1:9/fhir?access_token=hunter2", True),
])
def test_a_credential_in_a_world_readable_config_fails(make_config, url, credential):
    hospital = {"transport": "fhir", "url": url, "timeout_s": 1.0}
    _, readable = doctor_json(make_config(mode=0o644, hospital=hospital))
    _, private = doctor_json(make_config(mode=0o600, hospital=hospital))
    assert readable["permissions"]["status"] == ("fail" if credential else "ok")
    if credential:
        assert "hospital.url holds a credential" in readable["permissions"]["detail"]
    assert private["permissions"]["status"] == "ok"
    assert "hunter2" not in json.dumps(readable)          # nor in the hospital row, which names the server
    assert "127.0.0.1:9/fhir" in readable["hospital"]["detail"]


def test_inline_secrets_are_found_in_the_url():
    def settings(url: str) -> config.Settings:
        return config.Settings(hospital=config.HospitalSettings(url=url))
    assert files._inline_secrets(settings("https://his.example/fhir?api_token=abc")) == ["hospital.url"]
    assert files._inline_secrets(settings("https://user:pw@his.example/fhir")) == ["hospital.url"]
    assert files._inline_secrets(settings("https://his.example/fhir?_format=json")) == []
    assert hospital._without_credentials("https://user:pw@his.example:8443/fhir?token=x") == "https://his.example:8443/fhir"


# --- store and outbox -----------------------------------------------------------------------------------

def test_no_store_yet_is_a_warning_and_doctor_does_not_make_one(make_config, tmp_path):
    _, rows = doctor_json(make_config())
    assert rows["store"]["status"] == "warn" and "no store yet" in rows["store"]["detail"]
    assert rows["outbox"]["status"] == "ok"
    assert not (tmp_path / "data" / "kiosk.db").exists()


def test_no_store_and_no_key_fails_before_the_kiosk_does(make_config, tmp_path):
    code, rows = doctor_json(make_config(store={"encryption": "sqlcipher", "key_file": str(tmp_path / "no.key")}))
    assert (rows["store"]["status"], code) == ("fail", 1)
    assert "no key" in rows["store"]["detail"] and "openssl rand -hex 32" in rows["store"]["detail"]


def test_plain_store_is_a_warning(make_config):
    store_at(make_config).close()
    _, rows = doctor_json(make_config())
    assert rows["store"]["status"] == "warn"
    assert "not encrypted" in rows["store"]["detail"] and "takes writes" in rows["store"]["detail"]


def test_encrypted_store_passes_and_a_wrong_key_fails(make_config, tmp_path, monkeypatch):
    from kiosk.store.opening import open_store
    monkeypatch.delenv("KIOSK_STORE_KEY", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    key = tmp_path / "store.key"
    key.write_text(os.urandom(32).hex() + "\n")
    key.chmod(0o600)
    path = make_config(store={"encryption": "sqlcipher", "key_file": str(key)})
    open_store(config.load(path)).close()
    code, rows = doctor_json(path)
    assert rows["store"]["status"] == "ok", rows["store"]
    assert "SQLCipher" in rows["store"]["detail"] and "migrations" in rows["store"]["detail"]
    key.write_text(os.urandom(32).hex() + "\n")
    code, rows = doctor_json(path)
    assert (rows["store"]["status"], rows["store"]["exit_code"], code) == ("fail", 1, 1)
    assert "key" in rows["store"]["detail"]
    assert rows["outbox"]["status"] == "warn" and "store row" in rows["outbox"]["detail"]


def test_a_store_of_an_older_version_fails_and_doctor_leaves_it_so(make_config):
    """A kiosk of the version before may be running on it: doctor looks, it never migrates."""
    from kiosk.store import migrations
    path = make_config()
    store = Store(config.load(path).data_path / "kiosk.db", kiosk_id="test-kiosk", migrate=False)
    try:
        migrations.apply(store.db, stop_before="m009_staff_language")   # what the version before made
    finally:
        store.close()
    code, rows = doctor_json(path)
    row = rows["store"]
    assert (row["status"], row["exit_code"], code) == ("fail", 1, 1)
    assert "lacks the migrations m009_staff_language of this version" in row["detail"]
    assert "systemctl restart kiosk" in row["detail"]
    assert rows["outbox"]["status"] == "warn" and "not up to date" in rows["outbox"]["detail"]
    store = Store(config.load(path).data_path / "kiosk.db", migrate=False)
    try:
        assert [m.name for m in migrations.pending(store.db)] == ["m009_staff_language"]
    finally:
        store.close()


def test_outbox_row_reports_waiting_and_refused_admissions(make_config, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    store = store_at(make_config)
    two_hours_ago = (datetime.now(timezone.utc) - timedelta(hours=2, minutes=5)).isoformat(timespec="seconds")
    try:
        for n in (1, 2):
            store.save_admission(Admission(id=f"7d0c1e9a-0000-4000-8000-00000000000{n}", kiosk_id="test-kiosk",
                                           created_at=two_hours_ago, language="de", identified_by="card:egk",
                                           person=Person(family="Zwiebelkuchen", given=("Hedwig",))),
                                 destinations=("folder",))
        first = store.outbox_head("folder")
        store.outbox_dead(first["id"], "rejected_AE", "", Incident(IncidentKind.SYNC_REJECTED, Severity.HIGH, "folder"))
    finally:
        store.close()
    code, rows = doctor_json(make_config(hospital={"transport": "folder", "url": f"file://{drop}"}))
    row = rows["outbox"]
    assert row["status"] == "warn" and row["exit_code"] == 0
    assert "1 admission(s) wait to be delivered, the oldest for 2 h" in row["detail"]
    assert "1 admission(s) were refused" in row["detail"]
    assert "Zwiebelkuchen" not in json.dumps(rows)
    assert code == clock_exit(rows)


def test_outbox_row_from_figures():
    now = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert local.outbox_row(0, 0, "", 0, now).status == "ok"
    fresh = local.outbox_row(3, 0, "2024-03-01T11:50:00+00:00", 0, now)
    assert fresh.status == "ok" and fresh.detail == "3 admission(s) wait to be delivered, the oldest for 10 min."
    old = local.outbox_row(1, 0, "2024-03-01T10:30:00", 0, now)           # a time without zone is UTC
    assert old.status == "warn" and "90 min" in old.detail
    assert local.outbox_row(0, 2, "", 0, now).status == "warn"
    assert local.outbox_row(0, 0, "", 4, now).status == "warn"
    assert local.outbox_row(1, 0, "2024-03-01T11:00:00+00:00", 0, now, warn_age_s=30 * 60).status == "warn"


# --- printers: a loopback network printer ---------------------------------------------------------------------

@pytest.mark.parametrize("state,status,code,words", [
    ("ready", "ok", None, "online, with paper"),
    ("paper_low", "warn", None, "nearly used up"),
    ("paper_out", "fail", 8, "out of paper"),
    ("cover_open", "fail", 8, "close the cover"),
    ("offline", "fail", 8, "offline"),
    ("silent", "warn", None, "does not answer status queries"),
])
def test_ticket_printer_row(make_config, state, status, code, words):
    with NetPrinter(state) as printer:
        exit_code, rows = doctor_json(make_config(printer__ticket={"uri": printer.uri, "timeout_s": 1.0}))
    row = rows["ticket printer"]
    assert row["status"] == status and words in row["detail"], row
    assert exit_code == (code if code is not None else clock_exit(rows))
    assert row["exit_code"] == (code or 0)


def test_printer_nobody_listens_on_fails_with_exit_3(make_config):
    with NetPrinter() as printer:
        printer.power_off()
        started = time.monotonic()
        code, rows = doctor_json(make_config(printer__ticket={"uri": printer.uri, "timeout_s": 1.0}))
    row = rows["ticket printer"]
    assert (row["status"], row["exit_code"], code) == ("fail", 3, 3)
    assert "cannot be reached" in row["detail"] and "printer.ticket.uri" in row["detail"]
    assert time.monotonic() - started < 15


class _QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def web_server():
    """Python's http.server on 127.0.0.1: it answers nothing until a request line ends (or the client stops
    sending), as Apache and Go's servers do, where a printer on port 9100 was meant."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize("impostor", ["web server", "ssh server", "echo"])
def test_something_else_at_the_printers_address_fails_with_exit_3(make_config, web_server, impostor):
    with NetPrinter(greeting=SSH_BANNER, state="silent") as ssh, NetPrinter(answer=echo) as echoes:
        uri = {"web server": web_server, "ssh server": ssh.uri, "echo": echoes.uri}[impostor]
        code, rows = doctor_json(make_config(printer__ticket={"uri": uri, "timeout_s": 1.0}))
    row = rows["ticket printer"]
    assert (row["status"], row["exit_code"], code) == ("fail", 3, 3)
    assert row["detail"] == (f"{uri}: something other than a printer answers at that address (a wrong port, such as "
                             "80 or 443 instead of 9100, or another device on that serial line or device file): set "
                             "printer.ticket.uri to the printer's address.")


def test_each_configured_printer_has_a_row_and_the_first_failure_decides(make_config):
    with NetPrinter("paper_out") as ticket, NetPrinter() as band:
        band.power_off()
        code, rows = doctor_json(make_config(printer__ticket={"uri": ticket.uri, "timeout_s": 1.0},
                                             printer__wristband={"uri": band.uri, "timeout_s": 1.0}))
    assert list(rows)[5:7] == ["ticket printer", "wristband printer"]
    assert rows["ticket printer"]["exit_code"] == 8 and rows["wristband printer"]["exit_code"] == 3
    assert code == 8


def test_printer_uri_of_a_plain_file_passes_with_a_note(make_config, tmp_path):
    target = tmp_path / "printed.bin"
    target.touch()
    row = doctor_json(make_config(printer__ticket={"uri": f"file://{target}"}))[1]["ticket printer"]
    assert row["status"] == "ok" and "plain file" in row["detail"]
    assert target.read_bytes() == b""


# --- hospital ------------------------------------------------------------------------------------------------

def test_fhir_server_answering_passes_and_a_stopped_one_fails_with_exit_9(make_config):
    server = FhirServer()
    try:
        path = make_config(hospital={"transport": "fhir", "url": server.base})
        code, rows = doctor_json(path)
        assert rows["hospital"]["status"] == "ok", rows["hospital"]
        assert "FHIR 4.0.1" in rows["hospital"]["detail"]
        assert code == clock_exit(rows)
        wrong = doctor_json(make_config(hospital={"transport": "fhir", "url": server.base + "/Patient"}))[1]
        assert wrong["hospital"]["status"] == "fail" and "CapabilityStatement" in wrong["hospital"]["detail"]
    finally:
        server.stop()
    code, rows = doctor_json(make_config(hospital={"transport": "fhir", "url": server.base}))
    row = rows["hospital"]
    assert (row["status"], row["exit_code"], code) == ("fail", 9, 9)
    assert "cannot be reached" in row["detail"]


def test_mllp_peer_answering_passes_and_a_closed_port_fails(make_config):
    with MllpPeer() as peer:
        path = make_config(hospital={"transport": "hl7v2", "url": peer.url, "timeout_s": 2.0})
        code, rows = doctor_json(path)
        assert rows["hospital"]["status"] == "ok" and "HL7 v2 receiver" in rows["hospital"]["detail"]
        # One network check, no patient: NMQ^N01 with processing ID D (debugging) and nothing but MSH and NCK.
        [check] = [hl7.parse(m) for m in peer.messages]
        assert str(check.segment("MSH")(9)) == "NMQ^N01^NMQ_N01" and str(check.segment("MSH")(11)) == "D"
        assert [str(segment[0]) for segment in check] == ["MSH", "NCK"]
        peer.answer = "silent"                            # takes the connection, answers nothing in time
        code, rows = doctor_json(path)
        assert (rows["hospital"]["status"], rows["hospital"]["exit_code"]) == ("warn", 0)
        assert "network check" in rows["hospital"]["detail"]
    code, rows = doctor_json(path)
    assert (rows["hospital"]["status"], code) == ("fail", 9)
    assert "cannot be reached" in rows["hospital"]["detail"]


def test_mllp_over_tls_is_verified(make_config, tls_certificate):
    cert, key = tls_certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with MllpPeer(tls=context) as peer:
        untrusted = doctor_json(make_config(hospital={"transport": "hl7v2", "url": peer.url, "timeout_s": 2.0}))
        trusted = doctor_json(make_config(hospital={"transport": "hl7v2", "url": peer.url, "timeout_s": 2.0,
                                                    "ca_file": str(cert)}))
    assert untrusted[0] == 9 and "TLS" in untrusted[1]["hospital"]["detail"]
    assert trusted[1]["hospital"]["status"] == "ok" and "over TLS" in trusted[1]["hospital"]["detail"]


def test_drop_folder_must_exist_and_take_files(make_config, tmp_path):
    drop = tmp_path / "drop"
    code, rows = doctor_json(make_config(hospital={"transport": "folder", "url": f"file://{drop}"}))
    assert (rows["hospital"]["status"], code) == ("fail", 9) and str(drop) in rows["hospital"]["detail"]
    drop.mkdir()
    rows = doctor_json(make_config(hospital={"transport": "folder", "url": f"file://{drop}"}))[1]
    assert rows["hospital"]["status"] == "ok"
    assert list(drop.iterdir()) == []                      # the probe file is gone again


# --- disk, clock and the guard: pure parts, and the machine's own state ------------------------------------------

def test_disk_row_thresholds():
    where = Path("/var/lib/kiosk")
    assert local.disk_row(10 << 30, where).status == "ok"
    assert local.disk_row(3 << 30, where).status == "warn"
    low = local.disk_row(512 << 20, where)
    assert (low.status, low.exit_code) == ("fail", 1) and "0.5 GiB free" in low.detail
    assert local.disk_row(3 << 30, where, fail_below=4 << 30, warn_below=8 << 30).status == "fail"
    assert local.disk_row(3 << 30, where, fail_below=1 << 20, warn_below=2 << 20).status == "ok"


def test_disk_row_of_this_machine_is_the_free_space_of_data_dir(make_config, tmp_path):
    row = doctor_json(make_config())[1]["disk"]
    reported = float(re.search(r"([\d.]+) GiB free on the filesystem of (\S+)\.", row["detail"]).group(1))
    assert row["detail"].endswith(f"of {tmp_path}.")       # data_dir does not exist yet: its nearest parent
    assert abs(reported - shutil.disk_usage(tmp_path).free / (1 << 30)) < 0.5


@pytest.mark.parametrize("state,status,expected", [
    (0, 0x0001, "ok"),                     # TIME_OK, STA_PLL: synchronised by an NTP daemon
    (1, 0x2001, "ok"),                     # TIME_INS: a leap second is coming, still synchronised
    (5, 0x0040, "fail"),                   # TIME_ERROR with STA_UNSYNC: what a clock nobody sets says
    (5, 0x0000, "fail"),
    (0, 0x0041, "fail"),                   # STA_UNSYNC alone
])
def test_clock_row_decodes_adjtimex(state, status, expected):
    row = local.clock_row(state, status)
    assert row.status == expected
    assert row.exit_code == (1 if expected == "fail" else 0)


def test_clock_row_of_this_machine_is_what_the_kernel_says(make_config):
    state, status = local.kernel_clock()
    assert 0 <= state <= 5
    assert doctor_json(make_config())[1]["clock"]["status"] == local.clock_row(state, status).status


def test_a_crashing_check_is_a_failing_row_with_the_exception_class():
    def crash() -> output.Row:
        raise KeyError("Zwiebelkuchen")
    row = doctor.guarded("store", crash, 5.0, 1)
    assert (row.check, row.status, row.exit_code) == ("store", "fail", 1)
    assert "KeyError" in row.detail and "Zwiebelkuchen" not in row.detail


def test_a_hanging_check_is_given_up_after_its_timeout():
    started = time.monotonic()
    row = doctor.guarded("hospital", lambda: time.sleep(30), 0.3, 9)
    assert time.monotonic() - started < 5
    assert (row.status, row.exit_code) == ("fail", 9) and "did not finish within 0.3 seconds" in row.detail


def test_exit_code_is_the_first_failing_rows():
    rows = [output.ok("config", "x."), output.warn("store", "y."), output.fail("ticket printer", "z.", 8),
            output.fail("hospital", "w.", 9)]
    assert doctor.exit_code(rows) == 8
    assert doctor.exit_code(rows[:2]) == 0
    assert doctor.report(rows)["ok"] is False
