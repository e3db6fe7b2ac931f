"""Printers behind one small interface, chosen by URI: ESC/POS printers through python-escpos
(tcp://, usb://, serial://, file://, cups://) and a PNG-writing twin (``preview:DIR``).

Every job opens the printer, asks its real-time status (DLE EOT 1-4), sends the whole job in one
write, asks again, and closes. A printer that was switched off and on is therefore simply found again
by the next job, and nothing is ever sent twice on its own: a job is retried only while nothing of it
has been sent (the printer was not there yet); once bytes went out, a failure is reported, and a
second copy is only printed when someone asks for a reprint.
"""

from __future__ import annotations

import enum
import os
import select
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from kiosk.hardware.layouts import TicketLayout, WristbandLayout
from kiosk.hardware.reader import DeviceUnavailable

STATUS_QUERIES = (1, 2, 3, 4)     # DLE EOT n: printer, offline cause, error cause, roll paper sensor
RECONNECT_PAUSE_S = 0.25          # between attempts to reach a printer that is not there (yet)
Layout = TicketLayout | WristbandLayout


class PrinterState(enum.Enum):
    UNKNOWN = "unknown"
    READY = "ready"
    PRINTING = "printing"
    FAULT = "fault"


class PrintFault(RuntimeError):
    """A job that did not print; ``reason`` is a short code for staff (see REASONS)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# Every reason a job can fail for, as staff read it (the desk and `kiosk print` show these).
REASONS = {
    "paper_out": "the printer is out of paper",
    "cover_open": "the printer's cover is open",
    "cutter_error": "the printer's paper cutter is stuck",
    "printer_error": "the printer reports an error (e.g. an overheated head)",
    "offline": "the printer is offline",
    "unreachable": "the printer cannot be reached (switched off, unplugged or wrong address)",
    "connection_lost": "the connection to the printer broke off during the job",
    "preview_unwritable": "the preview folder cannot be written",
    "interrupted": "the kiosk stopped during the job, so it may or may not have printed",
    "printer_error_unexpected": "the printer driver failed (see the log)",
}


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself. ``known`` is False when it gave no valid reply: then
    nothing is claimed either way (no reply is "unknown", never "fine")."""

    known: bool = False
    online: bool = False
    cover_open: bool = False
    paper_out: bool = False
    paper_low: bool = False
    cutter_error: bool = False
    error: bool = False

    @property
    def fault(self) -> str | None:
        """Why it cannot print, as a reason code, or None when it can (or cannot tell)."""
        if not self.known:
            return None
        for reason, flag in (("paper_out", self.paper_out), ("cover_open", self.cover_open),
                             ("cutter_error", self.cutter_error), ("printer_error", self.error),
                             ("offline", not self.online)):
            if flag:
                return reason
        return None


def valid_reply(reply: bytes) -> bool:
    """A DLE EOT reply is one byte with bits 1 and 4 set and bits 0 and 7 clear."""
    return len(reply) == 1 and reply[0] & 0x93 == 0x12


def parse_status(replies: dict[int, bytes]) -> PrinterStatus:
    """The status from the replies to DLE EOT 1..4; a missing or malformed reply makes it unknown."""
    if not all(valid_reply(replies.get(n, b"")) for n in STATUS_QUERIES):
        return PrinterStatus()
    printer, offline, error, paper = (replies[n][0] for n in STATUS_QUERIES)
    return PrinterStatus(
        known=True,
        online=not printer & 0x08,
        cover_open=bool(offline & 0x04),
        paper_out=bool(offline & 0x20 or paper & 0x60 == 0x60),
        paper_low=paper & 0x0C == 0x0C and paper & 0x60 != 0x60,
        cutter_error=bool(error & 0x08),
        error=bool(error & 0x60 or offline & 0x40 and not error & 0x08),
    )


@dataclass(frozen=True)
class PrintResult:
    confirmed: bool                  # the printer answered after the job that all is well
    paper_low: bool = False          # printed, but the roll is nearly used up
    path: Path | None = None         # the PNG a preview printer wrote


class Printer:
    """The interface the app sees. ``print_layout`` blocks: call it off the UI thread."""

    state = PrinterState.UNKNOWN

    def print_layout(self, layout: Layout) -> PrintResult:
        """Print one ticket or wristband; raises PrintFault when it did not print."""
        raise NotImplementedError

    def status(self) -> PrinterStatus:
        return PrinterStatus()


class PreviewPrinter(Printer):
    """Renders each ticket and wristband as a PNG in ``folder`` instead of printing it.

    ``fault`` (e.g. "paper_out") makes the next jobs fail as a real printer would, for demos and tests.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.fault: str | None = None
        self.last: dict[str, Path] = {}          # "ticket" / "wristband" -> the newest PNG
        self.state = PrinterState.READY
        self._lock = threading.Lock()

    def status(self) -> PrinterStatus:
        return PrinterStatus(known=True, online=self.fault is None, paper_out=self.fault == "paper_out",
                             cover_open=self.fault == "cover_open")

    def print_layout(self, layout: Layout) -> PrintResult:
        from kiosk.hardware import raster
        kind = "ticket" if isinstance(layout, TicketLayout) else "wristband"
        with self._lock:
            if self.fault:
                self.state = PrinterState.FAULT
                raise PrintFault(self.fault)
            self.state = PrinterState.PRINTING
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                path = self.folder / f"{kind}-{getattr(layout, 'queue_number', '')}-{layout.admission_id[:8]}.png"
                image = raster.ticket_png(layout) if kind == "ticket" else raster.wristband_landscape(layout)
                image.save(path)
            except OSError as e:
                self.state = PrinterState.FAULT
                raise PrintFault("preview_unwritable") from e
            self.state = PrinterState.READY
            self.last[kind] = path
            return PrintResult(confirmed=True, path=path)


class EscposPrinter(Printer):
    """An ESC/POS printer at ``uri`` with the python-escpos capability ``profile``.

    :param timeout_s: longest wait to reach the printer and for a write; a status reply is waited
        for at most one second of it
    """

    def __init__(self, uri: str, profile: str, timeout_s: float = 5.0):
        self.uri, self.profile, self.timeout_s = uri, profile, timeout_s
        self._connect_once = _transport(uri, timeout_s)
        self._lock = threading.Lock()
        self.last_status = PrinterStatus()

    def status(self) -> PrinterStatus:
        """Ask the printer now (opens and closes a connection); unknown when it cannot be reached."""
        with self._lock:
            try:
                link = self._connect()
            except PrintFault:
                return PrinterStatus()
            try:
                return self._query(link)
            except OSError:
                return PrinterStatus()
            finally:
                link.close()

    def print_layout(self, layout: Layout) -> PrintResult:
        from kiosk.hardware import escpos_jobs
        if isinstance(layout, TicketLayout):
            job = escpos_jobs.ticket_job(layout, self.profile)
        else:
            job = escpos_jobs.wristband_job(layout, self.profile)
        with self._lock:
            self.state = PrinterState.PRINTING
            try:
                result = self._send(job)
            except PrintFault:
                self.state = PrinterState.FAULT
                raise
            self.state = PrinterState.READY if result.confirmed else PrinterState.UNKNOWN
            return result

    def _send(self, job: bytes) -> PrintResult:
        link = self._connect()
        try:
            try:
                before = self._query(link)
            except OSError:
                raise PrintFault("unreachable") from None
            if before.fault:
                raise PrintFault(before.fault)
            try:
                link.write(job)
                after = self._query(link)
            except OSError:
                raise PrintFault("connection_lost") from None
        finally:
            link.close()
        if after.fault:
            raise PrintFault(after.fault)
        return PrintResult(confirmed=after.known, paper_low=after.paper_low)

    def _connect(self) -> "_Link":
        """Open the printer, trying again until ``timeout_s`` (it may be starting after a power cycle)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                return self._connect_once()
            except Exception as e:    # python-escpos raises DeviceNotFoundError, pyusb USBError, ...
                if isinstance(e, DeviceUnavailable) or time.monotonic() + RECONNECT_PAUSE_S > deadline:
                    raise PrintFault("unreachable") from e
                time.sleep(RECONNECT_PAUSE_S)

    def _query(self, link: "_Link") -> PrinterStatus:
        replies = {}
        wait = min(1.0, self.timeout_s)
        link.drain()                     # a late reply to an earlier question must not answer these
        for n in STATUS_QUERIES:
            link.write(b"\x10\x04" + bytes([n]))
            reply = link.read(wait)[-1:]
            if not valid_reply(reply):
                break                    # it does not answer: do not wait four times
            replies[n] = reply
        self.last_status = parse_status(replies)
        return self.last_status


class _Link:
    """An open python-escpos device, plus the reading that python-escpos 3.1 lacks or gets wrong
    (its reads block for the whole timeout, or do not exist for files and CUPS)."""

    def __init__(self, device):
        self.device = device

    def write(self, data: bytes) -> None:
        try:
            self.device._raw(data)
        except OSError:
            raise
        except Exception as e:           # pyusb's USBError is an OSError; serial's is an IOError too
            raise OSError(str(e)) from e

    def read(self, timeout: float) -> bytes:
        return b""                       # no way back from this printer: its status stays unknown

    def drain(self) -> None:
        while self.read(0):
            pass

    def close(self) -> None:
        try:
            self.device.close()
        except Exception:                # closing a connection the printer already dropped
            pass


class _SocketLink(_Link):
    def __init__(self, device):
        super().__init__(device)
        # A status question right after the job must not wait for the job's ACK (Nagle against
        # delayed ACK costs 40 ms a question).
        device.device.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read(self, timeout: float) -> bytes:
        sock = self.device.device
        sock.settimeout(timeout or None) if timeout else sock.setblocking(False)
        try:
            data = sock.recv(16)
        except (socket.timeout, BlockingIOError):
            return b""
        finally:
            sock.settimeout(self.device.timeout)
        if not data:
            raise ConnectionResetError("the printer closed the connection")
        return data


class _SerialLink(_Link):
    def read(self, timeout: float) -> bytes:
        port = self.device.device
        port.timeout = timeout
        data = port.read(1)
        return data + port.read(port.in_waiting) if data else b""

    def drain(self) -> None:
        self.device.device.reset_input_buffer()


class _FileLink(_Link):
    """file:// — a device node such as /dev/usb/lp0, opened for reading too (usblp passes the
    printer's replies back), or a plain file, which gives no replies."""

    def read(self, timeout: float) -> bytes:
        fd = self.device.device.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            return b""
        return os.read(fd, 16)


class _UsbLink(_Link):
    def read(self, timeout: float) -> bytes:
        import usb.core
        try:
            return bytes(self.device.device.read(self.device.in_ep, 16, max(1, int(timeout * 1000))))
        except usb.core.USBTimeoutError:
            return b""


def escpos_module():
    """python-escpos's printer classes; its profile cache goes to one folder, not a new one per start."""
    cache = Path(tempfile.gettempdir()) / f"kiosk-escpos-{os.getuid()}"
    cache.mkdir(exist_ok=True)
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(cache))
    from escpos import printer
    return printer


def _transport(uri: str, timeout_s: float):
    """A function that opens the printer at ``uri`` once and returns a _Link. Cheap: only reads the URI.

    :raises DeviceUnavailable: the URI is malformed or names no printer this build can drive
    """
    parts = urlsplit(uri)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        if parts.scheme == "tcp" and parts.hostname:
            host, port = parts.hostname, parts.port or 9100

            def net():
                device = escpos_module().Network(host, port, timeout=timeout_s)
                device.open()
                return _SocketLink(device)
            return net
        if parts.scheme == "usb":
            vendor, product = (int(x, 16) for x in parts.netloc.split(":"))
            eps = {k: int(query[k], 0) for k in ("in_ep", "out_ep") if k in query}

            def usb():
                device = escpos_module().Usb(idVendor=vendor, idProduct=product, timeout=int(timeout_s * 1000), **eps)
                device.open()
                return _UsbLink(device)
            return usb
        if parts.scheme == "serial" and parts.path:
            baudrate = int(query.get("baudrate", 9600))

            def serial():
                device = escpos_module().Serial(parts.path, baudrate=baudrate, timeout=timeout_s)
                device.open()
                return _SerialLink(device)
            return serial
        if parts.scheme == "file" and parts.path:
            def file():
                device = escpos_module().File(parts.path)
                fd = os.open(parts.path, os.O_RDWR | os.O_NOCTTY)    # not "wb": no truncating, and replies
                device.device = os.fdopen(fd, "r+b", buffering=0)
                return _FileLink(device)
            return file
        queue = parts.netloc or parts.path.strip("/")
        if parts.scheme == "cups" and queue:
            if not shutil.which("lp"):
                raise DeviceUnavailable(f"The printer {uri} needs the CUPS command lp, which is not installed "
                                        "(Debian package cups-client).")

            def cups():
                device = escpos_module().LP(queue)
                device.open(job_name="kiosk")
                return _Link(device)
            return cups
    except ValueError:
        pass
    raise DeviceUnavailable(
        f"The printer address {uri!r} is not one the kiosk understands; use tcp://host:9100, usb://VID:PID, "
        "serial:///dev/ttyUSB0?baudrate=19200, file:///dev/usb/lp0, cups://queue or preview:DIR.")


def uri_problem(uri: str) -> str | None:
    """Why ``uri`` names no printer (a sentence), or None: the config's check."""
    if uri.startswith("preview:") and uri != "preview:":
        return None
    try:
        _transport(uri, 1.0)
    except DeviceUnavailable as e:
        return str(e)
    return None


def open_printer(uri: str, data_dir: str | Path, *, profile: str = "TM-T88V", timeout_s: float = 5.0) -> Printer:
    """The printer a URI names; a relative ``preview:DIR`` is inside ``data_dir``. Nothing is opened
    yet: each job opens the printer itself.

    :raises DeviceUnavailable: a malformed URI, an unknown profile, or a missing system tool
    """
    if uri.startswith("preview:"):
        return PreviewPrinter(Path(data_dir) / uri.removeprefix("preview:"))
    printer = EscposPrinter(uri, profile, timeout_s)          # checks the URI
    escpos_module()
    from escpos.capabilities import CAPABILITIES
    if profile not in CAPABILITIES["profiles"]:
        raise DeviceUnavailable(f"The printer profile {profile!r} is not one python-escpos knows; "
                                f"use one of {', '.join(sorted(CAPABILITIES['profiles']))}.")
    return printer
