"""kiosk/ops/logs.py: one event per line as logfmt (level, logger, msg, the fields passed), the journal's
priority prefix instead of a timestamp when stderr is the journal, exceptions without their message
unless --debug, and the library loggers kept quiet. The journal is detected as systemd does it: the
test points $JOURNAL_STREAM at the device and inode of the file it gives the process as stderr."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from kiosk.ops import logs

KIOSK = str(Path(sys.executable).parent / "kiosk")
PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s"]+)(?: |$)')
SECRET = "Zyxwvutsqrona"          # stands for what a patient gave, inside an exception's message


def parse(line: str) -> dict:
    """One logfmt line (without a journal prefix) as a dict; it must consist of key=value pairs only."""
    pairs = PAIR.findall(line)
    assert " ".join(f"{k}={v}" for k, v in pairs) == line, f"not logfmt: {line!r}"
    return {k: json.loads(v) if v.startswith('"') else v for k, v in pairs}


@pytest.fixture
def logged(monkeypatch):
    """logs.setup in this process, writing into a buffer; undone afterwards."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(logging, "raiseExceptions", logging.raiseExceptions)
    buffer = io.StringIO()
    levels = {name: logging.getLogger(name).level for name in ("", "kiosk", *logs.QUIET)}

    def setup(level="info", debug=False):
        logs.setup(level, debug=debug, stream=buffer)
        return buffer
    yield setup
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logs._Handler)]:
        root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)


@pytest.mark.parametrize("value", ["A-017", "", "two words", 'key="quoted" \\ back', "line one\nline two\r\n\tend",
                                   "\x1b[31mred\x1b[0m", "\x85next\u2028line", "Çelik 😀", "=", "a=b"])
def test_values_come_back_as_given_and_never_span_lines(value):
    line = f"msg={logs.quote(value)}"
    assert len(line.splitlines()) == 1 and line.isprintable()
    assert parse(line) == {"msg": value}


def test_a_record_is_one_line_of_level_logger_msg_the_fields_passed_and_a_timestamp(logged):
    out = logged()
    logging.getLogger("kiosk.hospital.outbox").warning("delivered queue=%s to %s\nthen more", "A-017", "fhir",
                                            extra={"queue": "A-017", "attempt": 3})
    [line] = out.getvalue().splitlines()
    fields = parse(line)
    assert list(fields) == ["ts", "level", "logger", "msg", "queue", "attempt"]
    assert fields["level"] == "warning" and fields["logger"] == "kiosk.hospital.outbox"
    assert fields["msg"] == "delivered queue=A-017 to fhir\nthen more"
    assert fields["queue"] == "A-017" and fields["attempt"] == "3"
    stamp = datetime.fromisoformat(fields["ts"])
    assert stamp.tzinfo is not None and abs(stamp.timestamp() - time.time()) < 60


def _fail():
    {}[SECRET]


def test_an_exception_is_its_class_and_where_it_was_raised_not_its_message(logged):
    out = logged("debug")                  # settings.log.level = debug is not --debug: still no message
    try:
        _fail()
    except KeyError:
        logging.getLogger("kiosk").error("card read failed", exc_info=True)
    [line] = out.getvalue().splitlines()
    fields = parse(line)
    assert fields["exc_type"] == "KeyError"
    assert fields["exc_where"].startswith("ops/test_logs.py:")
    assert " _fail < ops/test_logs.py:" in fields["exc_where"]
    assert SECRET not in line and "exc" not in fields


def test_with_debug_the_whole_traceback_is_one_line(logged):
    out = logged(debug=True)
    try:
        _fail()
    except KeyError:
        logging.getLogger("kiosk").exception("card read failed")
    [line] = out.getvalue().splitlines()
    fields = parse(line)
    assert fields["exc"].startswith("Traceback (most recent call last):\n") and SECRET in fields["exc"]


def test_levels_follow_the_setting_and_libraries_stay_at_warning(logged):
    out = logged("warning")
    logging.getLogger("kiosk.app").info("not at warning")
    logging.getLogger("kiosk.app").warning("kiosk warning")
    logs.set_level("debug")
    logging.getLogger("kiosk.app").debug("kiosk debug")
    logging.getLogger("PIL.PngImagePlugin").info("library info")
    logging.getLogger("PIL.PngImagePlugin").warning("library warning")
    assert [parse(line)["msg"] for line in out.getvalue().splitlines()] == [
        "kiosk warning", "kiosk debug", "library warning"]


def test_debug_lets_libraries_speak_except_those_that_log_what_patients_gave(logged):
    out = logged(debug=True)
    logging.getLogger("PIL.PngImagePlugin").debug("STREAM b'IHDR'")
    logging.getLogger("urllib3.connectionpool").debug('"GET /fhir/Patient?identifier=X110000000 HTTP/1.1" 200')
    logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
    assert [parse(line)["msg"] for line in out.getvalue().splitlines()] == [
        "STREAM b'IHDR'", "Connection pool is full"]


def test_warnings_are_log_lines(logged):
    import warnings
    out = logged()
    warnings.warn("something old", DeprecationWarning, stacklevel=1)
    [line] = out.getvalue().splitlines()         # the warning and the source line it quotes: one line
    fields = parse(line)
    assert fields["logger"] == "py.warnings" and fields["level"] == "warning"
    assert "DeprecationWarning: something old\n" in fields["msg"]


@pytest.mark.parametrize("level,prefix", [(logging.CRITICAL, "<2>"), (logging.ERROR, "<3>"), (logging.WARNING, "<4>"),
                                          (logging.INFO, "<6>"), (logging.DEBUG, "<7>")])
def test_journal_lines_start_with_their_syslog_priority_and_have_no_timestamp(level, prefix):
    record = logging.makeLogRecord({"name": "kiosk", "levelno": level, "levelname": logging.getLevelName(level),
                                    "msg": "some event"})
    line = logs.LogfmtFormatter(journal=True).format(record)
    assert line.startswith(prefix)
    assert parse(line.removeprefix(prefix)) == {"level": logging.getLevelName(level).lower(), "logger": "kiosk",
                                                "msg": "some event"}


# --- the kiosk command, as systemd runs it ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def journal_stream(path: Path) -> str:
    st = path.stat()
    return f"{st.st_dev}:{st.st_ino}"


@pytest.fixture
def desk_config(tmp_path):
    """`kiosk desk` with its metrics port taken by someone else (so that it logs a warning) and a store key."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[printer.ticket]\nuri = ""\n'
                   f'[desk]\nport = {free_port()}\n[metrics]\ntextfile = ""\nport = {taken.getsockname()[1]}\n'
                   f'interval_s = 0.2\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("KIOSK_CONFIG", "JOURNAL_STREAM")}
    env["KIOSK_STORE_KEY"] = os.urandom(32).hex()
    yield cfg, env
    taken.close()


def run_desk(cfg: Path, env: dict, stderr: Path) -> list[str]:
    """Start `kiosk desk`, wait for its page and the metrics warning, stop it (SIGTERM); its stderr lines."""
    with stderr.open("w") as err:
        process = subprocess.Popen([KIOSK, "desk", "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=err,
                                   env=env)
    try:
        deadline = time.monotonic() + 30
        while "metrics port" not in stderr.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, stderr.read_text()
    return stderr.read_text().splitlines()


def test_the_kiosk_in_the_journal(desk_config, tmp_path):
    cfg, env = desk_config
    stderr = tmp_path / "stderr"
    stderr.touch()
    lines = run_desk(cfg, {**env, "JOURNAL_STREAM": journal_stream(stderr)}, stderr)
    events = [(line[:3], parse(line[3:])) for line in lines]
    assert all(re.fullmatch(r"<[2-7]>", prefix) for prefix, _ in events), lines
    assert all("ts" not in fields for _, fields in events)
    assert ("<6>", "info", "kiosk.serving") in [(p, f["level"], f["logger"]) for p, f in events]
    [(prefix, warning)] = [(p, f) for p, f in events if f["msg"].startswith("metrics port")]
    assert prefix == "<4>" and warning["level"] == "warning" and warning["logger"] == "kiosk.ops.metrics"


def test_the_kiosk_outside_the_journal(desk_config, tmp_path):
    cfg, env = desk_config
    stderr, elsewhere = tmp_path / "stderr", tmp_path / "elsewhere"
    elsewhere.touch()             # $JOURNAL_STREAM names another file: stderr was redirected, it is no journal
    lines = run_desk(cfg, {**env, "JOURNAL_STREAM": journal_stream(elsewhere)}, stderr)
    events = [parse(line) for line in lines]
    assert events and all(datetime.fromisoformat(f["ts"]).tzinfo for f in events)
    assert "desk page at" in " ".join(f["msg"] for f in events)


def test_a_failing_command_with_debug_is_one_journal_entry_per_event(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[kiosk]\ncolour = "blue"\n', encoding="utf-8")
    stderr = tmp_path / "stderr"
    with stderr.open("w") as err:
        env = {**os.environ, "JOURNAL_STREAM": journal_stream(stderr)}
        done = subprocess.run([KIOSK, "--debug", "sync", "--once", "--config", str(bad)], stderr=err,
                              stdout=subprocess.DEVNULL, env=env, timeout=60)
    assert done.returncode == 2
    traceback, sentence = stderr.read_text().splitlines()
    fields = parse(traceback.removeprefix("<3>"))
    assert fields["msg"] == "command failed" and fields["exc"].startswith("Traceback")
    assert sentence.startswith("<3>kiosk: ") and "'kiosk.colour'" in sentence


def test_an_uncaught_exception_in_a_thread_is_one_line_without_its_message(tmp_path):
    script = ("import threading\nfrom kiosk.ops import logs\nlogs.setup()\n"
              f"t = threading.Thread(target=lambda: {{}}[{SECRET!r}], name='reader')\nt.start()\nt.join()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    [line] = done.stderr.splitlines()
    fields = parse(line)
    assert fields["level"] == "critical" and fields["msg"] == "uncaught exception in thread reader"
    assert fields["exc_type"] == "KeyError" and SECRET not in line
