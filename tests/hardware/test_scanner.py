"""Barcode scanners (kiosk/hardware/scanner*.py): the simulated twin; the serial driver against a real
pseudo-terminal (pyserial opens the slave's path, the test types into the master as a scanner would); the
key decoding of a scanner in keyboard mode on event sequences as evtest shows them; the HID driver's read
loop over a real pipe of kernel input_event structs (this machine has no /dev/input and no uinput: evdev's
open and grab of a real input device are not run here); the config section and ``open_scanner``.

Waits are deadlines for a failure, never a timing that must hold: each step waits for the callback it needs.
"""

from __future__ import annotations

import errno
import os
import queue
import struct
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import evdev
import pytest

from kiosk import config
from kiosk.config import ConfigError, Settings
from kiosk.config.sections import ScannerSettings
from kiosk.hardware.scanner import ScannerState, SimulatedScanner
from kiosk.hardware.scanning import open_scanner
from kiosk.hardware.scanner_hid import US_KEYS, HidScanner, Keys, scans
from kiosk.hardware.scanner_serial import Lines, SerialScanner

WAIT_S = 10


class Events:
    """What a scanner reported, in order: ("scan", text), ("fault", reason), ("ready",)."""

    def __init__(self, scanner):
        self.queue: queue.Queue = queue.Queue()
        self.threads: set[str] = set()
        scanner.on_scan = lambda text: self._put("scan", text)
        scanner.on_fault = lambda reason: self._put("fault", reason)
        scanner.on_ready = lambda: self._put("ready")

    def _put(self, *event) -> None:
        self.threads.add(threading.current_thread().name)
        self.queue.put(event)

    def next(self) -> tuple:
        return self.queue.get(timeout=WAIT_S)


# --- the simulated scanner ------------------------------------------------------------------------------

def test_simulated_scanner_scans_on_its_own_thread_and_not_while_unplugged():
    scanner = SimulatedScanner()
    events = Events(scanner)
    scanner.scan("before start").join()
    scanner.start()
    assert scanner.state is ScannerState.READY
    scanner.scan("AR-1").join()
    scanner.unplug()
    scanner.scan("while unplugged").join()
    scanner.plug_in()
    scanner.scan("AR-2").join()
    scanner.stop()
    scanner.scan("after stop").join()
    assert [events.next() for _ in range(5)] == [("ready",), ("scan", "AR-1"), ("fault", "no_scanner"), ("ready",),
                                                 ("scan", "AR-2")]
    assert events.queue.empty()
    assert events.threads == {"simulated-scanner", threading.current_thread().name}   # scans on its thread


# --- serial: the lines ----------------------------------------------------------------------------------

@pytest.mark.parametrize("ending, data, expected", [
    ("any", b"A1\rB2\nC3\r\nD4\r\n\r\n", ["A1", "B2", "C3", "D4"]),
    ("cr", b"A1\rB2\r", ["A1", "B2"]),
    ("lf", b"A1\nB2\n", ["A1", "B2"]),
    ("crlf", b"A1\r\nB\r2\r\n", ["A1", "B\r2"]),       # a lone CR inside a scan is part of it
    ("cr", b"A1\nB2\r", ["A1\nB2"]),
])
def test_lines_end_where_the_scanners_suffix_says(ending, data, expected):
    assert Lines(ending).feed(data) == expected


def test_lines_come_together_across_reads_and_a_crlf_cut_in_two_is_one_ending():
    lines = Lines("any")
    assert lines.feed(b"AR-") == []
    assert lines.feed(b"0042\r") == ["AR-0042"]
    assert lines.feed(b"\nXY") == []
    assert lines.feed(b"Z\r\n") == ["XYZ"]


def test_lines_are_stripped_and_empty_ones_are_no_scan():
    assert Lines().feed(b"  AR-7 \t\r\r \r\n") == ["AR-7"]


def test_bytes_are_decoded_as_the_scanners_charset_and_invalid_ones_do_not_stop_it():
    assert Lines(encoding="utf-8").feed(b"\xff\xfeAB\r\xc3\xa4\r") == ["\ufffd\ufffdAB", "ä"]
    assert Lines(encoding="latin-1").feed(b"M\xfcller\r") == ["Müller"]
    assert Lines(encoding="cp437").feed(b"\x81\r") == ["ü"]
    # A character cut between two reads is whole again: bytes are decoded per line, not per read.
    lines = Lines()
    assert lines.feed(b"\xc3") == [] and lines.feed(b"\xa4\r") == ["ä"]


def test_an_overlong_line_is_dropped_whole_and_the_buffer_stays_small():
    lines = Lines(max_bytes=10)
    assert lines.feed(b"0123456789" * 5) == []
    assert len(lines._buffer) <= 10
    assert lines.feed(b"tail of it\rAR-1\r") == ["AR-1"]        # the rest of the long one is dropped too
    assert lines.feed(b"0123456789X\rAR-2\r") == ["AR-2"]       # one too long within a single read
    assert lines.feed(b"0123456789\r") == ["0123456789"]        # exactly the cap is taken


# --- serial: the driver on a pseudo-terminal ---------------------------------------------------------------

class Pty:
    """A pseudo-terminal whose slave a symlink names (as /dev/serial/by-id/... names a USB scanner's
    port); ``type`` writes into the master as the scanner would, ``unplug`` closes it and takes the name
    away, ``plug_in`` makes a new one under the same name."""

    def __init__(self, link: Path):
        self.link = link
        self.master = self.slave = None

    def plug_in(self) -> None:
        self.master, self.slave = os.openpty()
        self.link.symlink_to(os.ttyname(self.slave))

    def ready(self) -> None:
        """The driver has it open: the test's own slave end is not needed any more."""
        os.close(self.slave)
        self.slave = None

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        self.link.unlink()
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None


@contextmanager
def serial_scanner(path: Path, **options):
    scanner = SerialScanner(str(path), retry_s=0.05, **options)
    events = Events(scanner)
    scanner.start()
    try:
        yield scanner, events
    finally:
        scanner.stop()


def test_serial_scans_arrive_whole_from_partial_writes_and_garbage_does_not_stop_them(tmp_path):
    pty = Pty(tmp_path / "usb-Scanner-if00")
    pty.plug_in()
    with serial_scanner(pty.link) as (scanner, events):
        assert events.next() == ("ready",)         # pyserial empties the port as it opens it: type after that
        pty.type(b"AR-0001\r")
        assert events.next() == ("scan", "AR-0001")
        pty.ready()
        assert scanner.state is ScannerState.READY
        pty.type(b"AR-00")
        pty.type(b"02\r\n")
        assert events.next() == ("scan", "AR-0002")
        pty.type(b"\xff\x00\xc3(\r")
        assert events.next() == ("scan", "\ufffd\x00\ufffd(")
        pty.type(b"AR-0003\r")
        assert events.next() == ("scan", "AR-0003")
        assert events.threads == {"serial-scanner"}
    pty.unplug()


def test_serial_port_that_vanishes_is_a_fault_until_it_comes_back(tmp_path):
    pty = Pty(tmp_path / "usb-Scanner-if00")
    pty.plug_in()
    with serial_scanner(pty.link) as (scanner, events):
        assert events.next() == ("ready",)
        pty.type(b"AR-1\r")
        assert events.next() == ("scan", "AR-1")
        pty.ready()
        pty.type(b"half a sc")                 # cut off by the unplug: never a scan
        pty.unplug()
        assert events.next() == ("fault", "no_scanner")
        assert scanner.state is ScannerState.NO_SCANNER
        pty.plug_in()
        assert events.next() == ("ready",)
        assert scanner.state is ScannerState.READY
        pty.type(b"AR-2\r")
        assert events.next() == ("scan", "AR-2")
    pty.unplug()


def test_serial_port_missing_at_start_is_a_fault_then_ready_when_plugged_in(tmp_path):
    pty = Pty(tmp_path / "usb-Scanner-if00")
    with serial_scanner(pty.link) as (scanner, events):
        assert events.next() == ("fault", "no_scanner")          # reported once, however often it retries
        pty.plug_in()
        assert events.next() == ("ready",)
        pty.type(b"AR-3\r")
        assert events.next() == ("scan", "AR-3")
        assert events.queue.empty()
    pty.unplug()
    assert scanner.state is ScannerState.NO_SCANNER


def test_a_second_program_on_the_same_port_is_refused_not_given_half_the_scans(tmp_path):
    pty = Pty(tmp_path / "usb-Scanner-if00")
    pty.plug_in()
    with serial_scanner(pty.link, line_ending="cr") as (_, first):
        assert first.next() == ("ready",)
        pty.type(b"AR-1\r")
        assert first.next() == ("scan", "AR-1")              # the first holds the port now
        with serial_scanner(pty.link) as (second, events):
            assert events.next() == ("fault", "scanner_error")
            assert second.state is ScannerState.FAULT
    pty.unplug()


def test_serial_scanner_refuses_an_unknown_charset_at_once():
    with pytest.raises(LookupError):
        SerialScanner("/dev/ttyACM0", encoding="no-such-charset")


# --- HID: the keys ------------------------------------------------------------------------------------

def evtest(text: str) -> list[tuple[int, int, int]]:
    """The (type, code, value) of each event line of evtest's output."""
    events = []
    for line in text.strip().splitlines():
        if "SYN_REPORT" in line:
            events.append((0, 0, 0))
            continue
        _, rest = line.split(", type ", 1)
        type_, rest = rest.split(" ", 1)
        code = rest.split("code ", 1)[1].split(" ", 1)[0]
        value = rest.rsplit("value ", 1)[1]
        events.append((int(type_), int(code), int(value, 16) if type_ == "4" else int(value)))
    return events


def typed(keys: str) -> str:
    """evtest's lines for a HID keyboard pressing and releasing each key of ``keys`` (US layout), with left
    shift around shifted characters, as a scanner types a code: MSC_SCAN (the HID usage), the key,
    SYN_REPORT."""
    codes = {c: (code, i == 1) for code, pair in US_KEYS.items() for i, c in enumerate(pair) if code < 55}
    codes["\n"] = (28, False)
    lines, t = [], 1733590000.0

    def key(code: int, value: int) -> None:
        nonlocal t
        t += 0.0005
        name = evdev.ecodes.KEY[code]
        lines.append(f"Event: time {t:.6f}, type 4 (EV_MSC), code 4 (MSC_SCAN), value 700{code:02x}")
        lines.append(f"Event: time {t:.6f}, type 1 (EV_KEY), code {code} ({name}), value {value}")
        lines.append(f"Event: time {t:.6f}, -------------- SYN_REPORT ------------")

    for c in keys:
        code, shift = codes[c]
        if shift:
            key(42, 1)
        key(code, 1)
        key(code, 0)
        if shift:
            key(42, 0)
    return "\n".join(lines)


def test_key_codes_are_the_kernels():
    ecodes = evdev.ecodes.ecodes
    names = {"MINUS": "-", "EQUAL": "=", "LEFTBRACE": "[", "RIGHTBRACE": "]", "SEMICOLON": ";", "APOSTROPHE": "'",
             "GRAVE": "`", "BACKSLASH": "\\", "COMMA": ",", "DOT": ".", "SLASH": "/", "SPACE": " ",
             "KPASTERISK": "*", "KPMINUS": "-", "KPPLUS": "+", "KPDOT": ".", "KPSLASH": "/",
             **{c: c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, **{d: d for d in "0123456789"},
             **{f"KP{d}": d for d in "0123456789"}}
    assert {ecodes[f"KEY_{name}"]: c for name, c in names.items()} == {code: pair[0] for code, pair in US_KEYS.items()}
    from kiosk.hardware import scanner_hid
    assert (scanner_hid.EV_KEY, scanner_hid.KEY_ENTER, scanner_hid.KEY_KPENTER) == \
        (ecodes["EV_KEY"], ecodes["KEY_ENTER"], ecodes["KEY_KPENTER"])
    assert scanner_hid.SHIFTS == {ecodes["KEY_LEFTSHIFT"], ecodes["KEY_RIGHTSHIFT"]}


def test_a_typed_code_with_shifted_characters_is_one_scan_per_enter():
    assert scans(evtest(typed("AR-0042\nhttps://k.example/a?c=Xy_9\n"))) == ["AR-0042", "https://k.example/a?c=Xy_9"]


def test_keys_outside_the_layout_autorepeat_and_lone_releases_add_nothing():
    ctrl, f1, a, enter, right_shift = 29, 59, 30, 28, 54
    events = [(1, ctrl, 1), (1, f1, 1), (1, a, 1), (1, a, 2), (1, a, 2), (1, a, 0), (1, 31, 0),
              (1, right_shift, 1), (1, a, 1), (1, right_shift, 0), (1, a, 1), (1, enter, 1)]
    assert scans(events) == ["aAa"]


def test_keypad_digits_and_keypad_enter():
    kp = {"1": 79, "2": 80, "0": 82, ".": 83}
    events = [e for c in "12.0" for e in ((1, kp[c], 1), (1, kp[c], 0))] + [(1, 96, 1)]
    assert scans(events) == ["12.0"]


def test_empty_enter_is_no_scan_and_an_overlong_scan_is_dropped_whole():
    keys = Keys(max_chars=5)
    press = [(1, 2, 1), (1, 2, 0)]               # KEY_1
    enter = [(1, 28, 1), (1, 28, 0)]
    events = enter + press * 9 + enter + press * 5 + enter
    assert [text for e in events if (text := keys.feed(*e)) is not None] == ["11111"]


# --- HID: the driver's loop over a real pipe ---------------------------------------------------------------

INPUT_EVENT = struct.Struct("llHHi")              # struct input_event on this machine (timeval, type, code, value)


class PipeDevice:
    """Stands in for an evdev InputDevice: the read end of a pipe the test writes input_event structs into.
    Its end of file is what reading an unplugged input device gives: ENODEV."""

    def __init__(self):
        self.fd, self.writer = os.pipe()

    def read(self):
        data = os.read(self.fd, INPUT_EVENT.size * 64)
        if not data:
            raise OSError(errno.ENODEV, "No such device")
        return [evdev.InputEvent(*fields) for fields in INPUT_EVENT.iter_unpack(data)]

    def type(self, events) -> None:
        os.write(self.writer, b"".join(INPUT_EVENT.pack(1733590000, 0, *e) for e in events))

    def close(self) -> None:
        os.close(self.fd)


class Plug:
    """The opener of the stand-in devices: nothing plugged in is ENOENT, as for a missing /dev/input path."""

    def __init__(self):
        self.device: PipeDevice | None = None
        self.refuse: OSError | None = None

    def __call__(self, path: str) -> PipeDevice:
        if self.refuse:
            raise self.refuse
        device, self.device = self.device, None
        if device is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return device


def test_hid_loop_reads_scans_and_reopens_a_device_that_went_away():
    plug = Plug()
    plug.device = first = PipeDevice()
    scanner = HidScanner("/dev/input/by-id/usb-Scanner-event-kbd", retry_s=0.05, open_device=plug)
    events = Events(scanner)
    scanner.start()
    try:
        assert events.next() == ("ready",)
        first.type(evtest(typed("AR-")))        # one scan over several reads
        first.type(evtest(typed("0042\n")))
        assert events.next() == ("scan", "AR-0042")
        assert scanner.state is ScannerState.READY
        first.type(evtest(typed("half")))
        os.close(first.writer)                  # unplugged
        assert events.next() == ("fault", "no_scanner")
        plug.device = second = PipeDevice()
        assert events.next() == ("ready",)
        second.type(evtest(typed("AR-7\n")))
        assert events.next() == ("scan", "AR-7")        # nothing of the half scan before the unplug
        assert events.threads == {"hid-scanner"}
    finally:
        scanner.stop()
    os.close(second.writer)


def test_hid_device_the_kiosk_may_not_read_is_a_fault_not_a_missing_scanner():
    plug = Plug()
    plug.refuse = PermissionError(errno.EACCES, "Permission denied")
    scanner = HidScanner("/dev/input/event3", retry_s=0.05, open_device=plug)
    events = Events(scanner)
    scanner.start()
    try:
        assert events.next() == ("fault", "scanner_error")
        assert scanner.state is ScannerState.FAULT
    finally:
        scanner.stop()


@pytest.mark.parametrize("path, reason", [("/dev/null", "scanner_error"), ("/nonexistent/event-kbd", "no_scanner")])
def test_hid_scanner_through_evdev_on_what_is_no_input_device(path, reason):
    scanner = HidScanner(path, retry_s=0.05)
    events = Events(scanner)
    scanner.start()
    try:
        assert events.next() == ("fault", reason)
    finally:
        scanner.stop()


# --- config and open_scanner ----------------------------------------------------------------------------------

def test_no_scanner_by_default_and_open_scanner_follows_the_kind():
    assert Settings().scanner.kind == "none" and open_scanner(Settings()) is None
    simulated = open_scanner(Settings().replace(scanner=ScannerSettings(kind="simulated")))
    assert isinstance(simulated, SimulatedScanner)
    serial = open_scanner(Settings().replace(scanner=ScannerSettings(kind="serial", port="/dev/ttyACM0",
                                                                   baudrate=115200)))
    assert isinstance(serial, SerialScanner) and (serial.path, serial.baudrate) == ("/dev/ttyACM0", 115200)
    hid = open_scanner(Settings().replace(scanner=ScannerSettings(kind="hid", hid_device="/dev/input/event3")))
    assert isinstance(hid, HidScanner) and hid.path == "/dev/input/event3"


@pytest.mark.parametrize("values, words", [
    ({"kind": "serial"}, "'scanner.port' must be set when scanner.kind is serial"),
    ({"kind": "hid"}, "'scanner.hid_device' must be set when scanner.kind is hid"),
    ({"kind": "serial", "port": "ttyACM0"}, "'scanner.port' must be an absolute path"),
    ({"encoding": "klingon"}, "'scanner.encoding' must be the name of a character set"),
    ({"encoding": "rot13"}, "'scanner.encoding' must be the name of a character set"),
    ({"line_ending": "tab"}, "'scanner.line_ending' must be one of any, cr, lf, crlf"),
    ({"baudrate": 300}, "'scanner.baudrate' must be between 1200 and 921600 bits per second"),
])
def test_config_names_the_bad_scanner_setting(tmp_path, values, words):
    path = tmp_path / "kiosk.toml"
    path.write_text("[scanner]\n" + "".join(f"{k} = {v!r}\n" if isinstance(v, int) else f'{k} = "{v}"\n'
                                             for k, v in values.items()))
    with pytest.raises(ConfigError) as e:
        config.load(path)
    assert words in str(e.value)


def test_scanners_are_opened_without_evdev_which_only_an_hid_one_imports_as_it_starts():
    code = ("import sys; sys.modules['evdev'] = None\n"           # import evdev now fails
            "from kiosk.config import Settings; from kiosk.config.sections import ScannerSettings\n"
            "from kiosk.hardware.scanning import open_scanner\n"
            "for kind in ('serial', 'hid'):\n"
            "    open_scanner(Settings().replace(scanner=ScannerSettings(kind=kind, port='/dev/ttyACM0', "
            "hid_device='/dev/input/event3')))\n"
            "assert sys.modules['evdev'] is None\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr
