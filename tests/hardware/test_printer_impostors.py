"""Something that is not a printer at a printer's address: a web server on port 80, an SSH server, an echo,
a modem or a GPS receiver on the serial line, /dev/zero. For every printer URI scheme the kiosk knows,
``kiosk print`` (the real command), the kiosk's own print jobs, staff reprints and ``kiosk doctor`` must say
"not a printer" (exit 3 and one sentence), never "printed"; and a device that says nothing at all, or a
link with no way back, must still come out "unconfirmed", not failed.

What cannot be met here: no USB gadget (usb:// is walked through its link with a stand-in for pyusb's
device), and CUPS passes nothing back from the printer (a stand-in for its client commands shows the job
going out unconfirmed). ``preview:`` has no device at all.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fakeprinter import (NMEA_SENTENCE, SSH_BANNER, NetPrinter, PrinterBehaviour, PtyPrinter, echo, modem, noise,
                         web_server_400)
from kiosk import config
from kiosk.ops.doctor import devices as doctor_devices
from kiosk.checkin import forms
from kiosk.hardware import printing
from kiosk.checkin.events import PrintFinished, RaiseIncident
from kiosk.checkin.flow import CheckIn
from kiosk.hardware import printer_links
from kiosk.hardware.errors import REASONS, PrintFault
from kiosk.hardware.escpos_printer import EscposPrinter
from kiosk.hardware.printer_links import TRANSPORTS
from kiosk.hardware.printer_uri import open_printer, uri_problem
from kiosk.i18n import Catalogs
from kiosk.checkin.model import Admission, Identifier, IncidentKind, Person
from kiosk.desk.staff import Staff
from kiosk.store import Store

KIOSK = str(Path(sys.executable).parent / "kiosk")
SCHEMES = {*TRANSPORTS, "preview"}
TIMEOUT_S = 0.5
JOB_START = b"\x1b@"                      # ESC @: every ticket and wristband job begins with it
NOT_A_PRINTER = REASONS["not_a_printer"]
UNCONFIRMED = ["Printed the ticket of A-000.",
               "The printer did not report its status after the job: check that it came out."]


@dataclass
class Device:
    uri: str
    received: Callable[[], bytes] | None = None     # what reached the device so far; None: it cannot tell


# --- the devices --------------------------------------------------------------------------------------

@contextlib.contextmanager
def net(**behaviour) -> Iterator[Device]:
    with NetPrinter(**behaviour) as fake:
        def received() -> bytes:
            fake.wait_idle()
            return fake.received
        yield Device(fake.uri, received)


class _QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def python_http_server() -> Iterator[Device]:
    """Python's http.server: silent until a line ends, then "400 Bad request"."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Device(f"tcp://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def pty(scheme: str, **behaviour) -> Iterator[Device]:
    with PtyPrinter(**behaviour) as fake:
        def received() -> bytes:
            # Bytes come through the terminal in order: once a marker written now has arrived, so has
            # everything the kiosk wrote before it.
            marker = b"<end of test %d>" % len(fake.received)
            fd = os.open(fake.path, os.O_WRONLY | os.O_NOCTTY)
            try:
                os.write(fd, marker)
            finally:
                os.close(fd)
            fake._wait(lambda: marker in fake.received, 5.0, "the marker")
            return fake.received.split(marker)[0]
        yield Device(fake.serial_uri if scheme == "serial" else fake.file_uri, received)


@contextlib.contextmanager
def node(path: str) -> Iterator[Device]:
    yield Device(f"file://{path}")


@contextlib.contextmanager
def plain_file(tmp_path: Path) -> Iterator[Device]:
    target = tmp_path / "capture.bin"
    target.write_bytes(b"")
    yield Device(f"file://{target}", target.read_bytes)


@contextlib.contextmanager
def named_pipe(tmp_path: Path) -> Iterator[Device]:
    """A FIFO another program reads: one way only, so nothing can come back."""
    path = tmp_path / "printer.fifo"
    os.mkfifo(path)
    got, stop = bytearray(), threading.Event()

    def drain() -> None:
        fd = os.open(path, os.O_RDWR)            # never at end of file while the test runs
        try:
            while not stop.is_set():
                got.extend(os.read(fd, 65536))
        finally:
            os.close(fd)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield Device(f"file://{path}", lambda: bytes(got))
    finally:
        stop.set()
        with open(path, "wb") as wake:           # let the reader see stop
            wake.write(b"\0")
        reader.join(5)


@contextlib.contextmanager
def cups_queue(tmp_path: Path) -> Iterator[Device]:
    """A raw CUPS queue, through stand-ins for the CUPS client commands (lp, lpstat), which this machine
    lacks: what python-escpos' LP pipes into lp lands in a file."""
    bin_dir, jobs = tmp_path / "cups-bin", tmp_path / "cups-jobs"
    bin_dir.mkdir()
    jobs.mkdir()
    (bin_dir / "lpstat").write_text('#!/bin/sh\ncase "$1" in -e) echo tickets;; '
                                    '-v) echo "device for tickets: socket://127.0.0.1:9100";; esac\n')
    (bin_dir / "lp").write_text(f'#!/bin/sh\ncat > "{jobs}/job-$$"\n')
    for tool in ("lpstat", "lp"):
        (bin_dir / tool).chmod(0o755)
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{bin_dir}:{path}"
    try:
        yield Device("cups://tickets", lambda: b"".join(p.read_bytes() for p in sorted(jobs.iterdir())))
    finally:
        os.environ["PATH"] = path


# Things that are not printers, by the scheme they are reached through: (name, device, whether it gives
# itself away before the job; after the job only Python's http.server does, which answers once a line ended).
IMPOSTORS = [
    ("tcp", "web server (python http.server)", lambda tmp: python_http_server(), False),
    ("tcp", "web server that answers at once (nginx)", lambda tmp: net(answer=web_server_400, drop_after=1), True),
    ("tcp", "ssh server (banner)", lambda tmp: net(greeting=SSH_BANNER, state="silent"), True),
    ("tcp", "echo service", lambda tmp: net(answer=echo), True),
    ("tcp", "random bytes", lambda tmp: net(answer=noise(18)), True),
    ("serial", "modem", lambda tmp: pty("serial", answer=modem), True),
    ("serial", "terminal that echoes", lambda tmp: pty("serial", answer=echo), True),
    ("serial", "random bytes", lambda tmp: pty("serial", answer=noise(18)), True),
    ("file", "gps receiver on a terminal", lambda tmp: pty("file", greeting=NMEA_SENTENCE, state="silent"), True),
    ("file", "terminal that echoes", lambda tmp: pty("file", answer=echo), True),
    ("file", "/dev/zero", lambda tmp: node("/dev/zero"), True),
]
# Schemes where `kiosk print` cannot meet something that is not a printer on this machine, and why.
NO_IMPOSTOR_HERE = {
    "usb": "no USB gadget here: test_the_usb_link_hears_through_the_same_check drives its link instead",
    "cups": "CUPS passes nothing back from the printer: whatever the queue's device is, the job is unconfirmed",
    "preview": "there is no device: the picture is written",
}
# Devices and links that say nothing: the job goes out and stays unconfirmed; preview: prints.
QUIET = [
    ("tcp", "printer with status off", lambda tmp: net(state="silent"), UNCONFIRMED),
    ("serial", "printer with status off", lambda tmp: pty("serial", state="silent"), UNCONFIRMED),
    ("file", "printer with status off", lambda tmp: pty("file", state="silent"), UNCONFIRMED),
    ("file", "plain file", plain_file, UNCONFIRMED),
    ("file", "named pipe", named_pipe, UNCONFIRMED),
    ("file", "/dev/null", lambda tmp: node("/dev/null"), UNCONFIRMED),
    ("cups", "raw queue", cups_queue, UNCONFIRMED),
]
NO_QUIET_HERE = {"usb": NO_IMPOSTOR_HERE["usb"], "preview": NO_IMPOSTOR_HERE["preview"]}


def test_every_printer_scheme_is_walked():
    """A scheme added to the printers' transports needs its cases here."""
    impostors = {scheme for scheme, *_ in IMPOSTORS}
    assert impostors | set(NO_IMPOSTOR_HERE) == SCHEMES and not impostors & set(NO_IMPOSTOR_HERE)
    quiet = {scheme for scheme, *_ in QUIET}
    assert quiet | set(NO_QUIET_HERE) == SCHEMES and not quiet & set(NO_QUIET_HERE)


def test_the_sentence_for_an_address_the_kiosk_does_not_understand_names_every_scheme():
    sentence = uri_problem("ipp://printer.example/tickets")
    assert set(re.findall(r"(\w+):(?://|DIR)", sentence.split("; use ")[1])) == SCHEMES


# --- `kiosk print`, the kiosk's jobs, staff reprints and doctor ------------------------------------

def write_config(tmp_path: Path, uri: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[reader]\nkind = "simulated"\n'
                    f'[store]\nencryption = "none"\n[printer.ticket]\nuri = "{uri}"\ntimeout_s = {TIMEOUT_S}\n',
                    encoding="utf-8")
    return path


def kiosk_print(tmp_path: Path, uri: str) -> subprocess.CompletedProcess:
    return subprocess.run([KIOSK, "print", "ticket", "--sample", "--printer", uri,
                           "--config", str(write_config(tmp_path, uri))], capture_output=True, text=True, timeout=120)


def sample_admission() -> Admission:
    return Admission(id="7d1e4c2a-0000-4000-8000-000000000018", kiosk_id="lobby-1",
                     created_at=datetime(2026, 12, 7, 8, 15, tzinfo=timezone.utc).isoformat(), language="en",
                     identified_by="card:egk", queue_number="",
                     person=Person(family="Yılmaz", given=("Zoë",), birth_date="1971-02-03",
                                   identifiers=(Identifier("kvid", "X110611111"),)))


@pytest.mark.parametrize("scheme,name,device,before_job", IMPOSTORS, ids=[f"{s}: {n}" for s, n, *_ in IMPOSTORS])
def test_kiosk_print_says_it_is_not_a_printer(tmp_path, scheme, name, device, before_job):
    with device(tmp_path) as impostor:
        run = kiosk_print(tmp_path, impostor.uri)
        assert (run.returncode, run.stdout) == (3, ""), run.stderr
        assert run.stderr.splitlines() == [f"kiosk: The ticket was not printed: {NOT_A_PRINTER} ({impostor.uri})."]
        if before_job and impostor.received:
            assert JOB_START not in impostor.received(), "nothing of the job went out"


@pytest.mark.parametrize("scheme,name,device,before_job", IMPOSTORS, ids=[f"{s}: {n}" for s, n, *_ in IMPOSTORS])
def test_the_kiosk_staff_and_doctor_say_it_is_not_a_printer(tmp_path, scheme, name, device, before_job):
    settings = config.load(write_config(tmp_path, "preview:tickets"))
    catalogs = Catalogs(["en"])
    store = Store(tmp_path / "kiosk.db")
    try:
        stored = store.save_admission(sample_admission(), queue_prefix="B")
        with device(tmp_path) as impostor:
            printer = open_printer(impostor.uri, tmp_path, timeout_s=TIMEOUT_S)
            layout = printing.layout_for("ticket", stored, catalogs, settings)
            # The kiosk's own job (kiosk.effects: printing.attempt on the print thread, then PrintFinished).
            outcome = printing.attempt(printer, layout)
            assert (outcome.status, outcome.reason) == ("failed", "not_a_printer")
            flow = CheckIn(kiosk_id="lobby-1", languages=("en",), form=forms.load("intake-basic"))
            [effect] = flow.handle(PrintFinished(stored.id, "ticket", outcome.status, outcome.reason))
            assert isinstance(effect, RaiseIncident) and effect.incident.kind is IncidentKind.PRINTER_FAULT
            assert effect.incident.detail == "ticket:not_a_printer"
            store.raise_incident(effect.incident)
            # Staff: the device list, and a reprint that fails the same way and leaves the incident open.
            staff = Staff(store, printers={"ticket": printer},
                          layout_for=lambda kind, adm: printing.layout_for(kind, adm, catalogs, settings))
            assert staff.device_status().printers == {"ticket": "not_a_printer"}
            again = staff.reprint(stored.id, "ticket", "Dana K.")
            assert (again.status, again.reason) == ("failed", "not_a_printer")
            assert [i["detail"] for i in store.incidents()] == ["ticket:not_a_printer"]
            assert [(p["actor"], p["status"], p["reason"]) for p in store.prints(stored.id)] == [
                ("Dana K.", "failed", "not_a_printer")]
            # kiosk doctor's row for that printer.
            row = doctor_devices.check_printer(config.load(write_config(tmp_path, impostor.uri)), "ticket")
            assert (row.status, row.exit_code) == ("fail", 3)
            assert row.detail == f"{impostor.uri}: {NOT_A_PRINTER}: set printer.ticket.uri to the printer's address."
            if before_job and impostor.received:
                assert JOB_START not in impostor.received(), "nothing of the job went out"
    finally:
        store.close()


@pytest.mark.parametrize("scheme,name,device,lines", QUIET, ids=[f"{s}: {n}" for s, n, *_ in QUIET])
def test_a_device_that_says_nothing_gets_the_job_unconfirmed(tmp_path, scheme, name, device, lines):
    with device(tmp_path) as quiet:
        run = kiosk_print(tmp_path, quiet.uri)
        assert (run.returncode, run.stdout.splitlines()) == (0, lines), run.stderr
        if quiet.received:
            assert b"A-000" in quiet.received(), "the job went out"


def test_a_preview_printer_prints_the_picture(tmp_path):
    run = kiosk_print(tmp_path, f"preview:{tmp_path / 'pictures'}")
    assert run.returncode == 0, run.stderr
    [picture] = (tmp_path / "pictures").glob("ticket-A-000-*.png")
    assert run.stdout.splitlines() == [f"Printed the ticket of A-000 to {picture}."]


# --- usb:// through its link ----------------------------------------------------------------------------

class UsbStandIn:
    """Stands in for python-escpos' Usb printer and its pyusb device (no USB gadget on this machine): what
    the kiosk writes goes to a fake printer's behaviour, whose answers come back from the IN endpoint."""

    in_ep = 0x82

    def __init__(self, behaviour: PrinterBehaviour):
        self.behaviour, self.pending, self.timeout = behaviour, b"", 0
        self.device = self                        # pyusb's device: read(endpoint, size, timeout_ms)
        self.written = b""

    def _raw(self, data: bytes) -> None:
        self.written += data
        self.pending += self.behaviour.feed(data)

    def read(self, endpoint: int, size: int, timeout_ms: int):
        import usb.core
        if not self.pending:
            raise usb.core.USBTimeoutError("Operation timed out", None, 110)
        data, self.pending = self.pending[:size], self.pending[size:]
        return bytearray(data)

    def close(self) -> None:
        pass


def usb_printer(behaviour: PrinterBehaviour) -> tuple[EscposPrinter, UsbStandIn]:
    printer = open_printer("usb://04b8:0e15", "/nonexistent", timeout_s=TIMEOUT_S)
    stand_in = UsbStandIn(behaviour)
    printer._connect_once = lambda timeout_s: printer_links._UsbLink(stand_in)
    return printer, stand_in


@pytest.mark.parametrize("behaviour", [dict(answer=echo), dict(answer=modem), dict(answer=noise(18)),
                                       dict(state="garbage")], ids=["echo", "modem", "random bytes", "garbage"])
def test_the_usb_link_hears_through_the_same_check(behaviour):
    printer, device = usb_printer(PrinterBehaviour(**behaviour))
    with pytest.raises(PrintFault, match="not_a_printer"):
        printer.print_layout(printing.layout_for("ticket", sample_admission(), Catalogs(["en"]),
                                                 config.load(None)))
    assert JOB_START not in device.written
    assert printer.status().fault == "not_a_printer"


@pytest.mark.parametrize("state,confirmed", [("ready", True), ("silent", False), ("no_gs_r", False)])
def test_the_usb_link_still_prints_on_a_printer(state, confirmed):
    printer, device = usb_printer(PrinterBehaviour(state))
    layout = printing.layout_for("ticket", sample_admission(), Catalogs(["en"]), config.load(None))
    assert printer.print_layout(layout).confirmed is confirmed
    assert JOB_START in device.written
