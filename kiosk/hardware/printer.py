"""Printers behind one small interface, chosen by URI: ESC/POS printers through python-escpos
(tcp://, usb://, serial://, file://, cups://) and a PNG-writing twin (``preview:DIR``).

Every job opens the printer, asks its real-time status (DLE EOT 1-4), sends the whole job followed
by GS r 1 in one write, waits for the answer to GS r (given only once the printer has worked through
the job), asks the status again, and closes; each step within ``timeout_s``. A printer that was
switched off and on is therefore simply found again by the next job, and nothing is ever sent twice
on its own: a job is retried only while nothing of it has been sent (the printer was not there yet);
once bytes went out, a failure is reported, and a second copy is only printed when someone asks.

Only a printer's own answers count: every byte that comes back must be the reply to a question the
kiosk asked and has not had answered yet (``valid_reply``). Anything else (a web server's or SSH
server's words, an echo, a modem's "OK") means something other than a printer is at that address:
``not_a_printer``, decided before the job whenever the device gives itself away that early. A device
that says nothing at all is "unknown", as printers and links without a way back (CUPS, a plain file) are.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import os
import select
import shutil
import socket
import stat
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from kiosk.hardware.layouts import TicketLayout, WristbandLayout
from kiosk.hardware.reader import DeviceUnavailable
from kiosk.messages import N_

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


class NotAPrinter(PrintFault):
    """What answered is not an ESC/POS printer (see ``_Link.hear``)."""

    def __init__(self):
        super().__init__("not_a_printer")


# Every reason a job can fail for, as staff read it: English for the command line (`kiosk print`, doctor),
# msgids that staff mode and the desk page translate (kiosk.desk.incidents; every reason needs its translations).
REASONS = {
    "paper_out": N_("the printer is out of paper"),
    "cover_open": N_("the printer's cover is open"),
    "cutter_error": N_("the printer's paper cutter is stuck"),
    "printer_error": N_("the printer reports an error (e.g. an overheated head)"),
    "offline": N_("the printer is offline"),
    "unreachable": N_("the printer cannot be reached (switched off, unplugged or wrong address)"),
    "not_a_printer": N_("something other than a printer answers at that address (a wrong port, such as 80 or 443 "
                        "instead of 9100, or another device on that serial line or device file)"),
    "connection_lost": N_("the connection to the printer broke off during the job"),
    "preview_unwritable": N_("the preview folder cannot be written"),
    "interrupted": N_("the kiosk stopped during the job, so it may or may not have printed"),
    "busy": N_("the same print was being printed from elsewhere (staff or kiosk print) at that moment"),
    "printer_error_unexpected": N_("the printer driver failed (see the log)"),
}


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself. ``known`` is False when it said nothing: then nothing is
    claimed either way (no reply is "unknown", never "fine"). A device that answered, but not as an
    ESC/POS printer does, is known not to be one (``not_a_printer``: it cannot print)."""

    known: bool = False
    not_a_printer: bool = False
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
        for reason, flag in (("not_a_printer", self.not_a_printer), ("paper_out", self.paper_out),
                             ("cover_open", self.cover_open), ("cutter_error", self.cutter_error),
                             ("printer_error", self.error), ("offline", not self.online)):
            if flag:
                return reason
        return None


NOT_A_PRINTER = PrinterStatus(known=True, not_a_printer=True)
DLE_EOT = b"\x10\x04"                    # + n: real-time status, answered at once, even mid-job
GS_R_1 = b"\x1dr\x01"                     # transmit paper sensor status: processed in order


def valid_reply(reply: bytes, question: bytes = DLE_EOT) -> bool:
    """Whether ``reply`` is how an ESC/POS printer answers ``question`` (DLE EOT n or GS r 1): exactly
    one byte; to DLE EOT with bits 1 and 4 set and bits 0 and 7 clear, to GS r 1 with bits 4 and 7 clear.
    Those are the bits the manuals fix (Epson, Bixolon, Citizen, HPRT); GS r's bits 5 and 6 are
    "reserved" or "undefined" there, so a printer may set them. What tells a printer from something else
    is mostly the count: one byte per question asked (``_Link.hear``)."""
    if len(reply) != 1:
        return False
    mask, bits = (0x90, 0x00) if question == GS_R_1 else (0x93, 0x12)
    return reply[0] & mask == bits


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


def forget_pictures(folder: Path, before: float) -> int:
    """Delete the pictures a PreviewPrinter wrote into ``folder`` before ``before`` (a time.time()); returns
    how many. A wristband's shows the patient's name: the retention purge calls this (kiosk.ops.housekeeping).
    Other files in the folder are left alone."""
    removed = 0
    for path in [*folder.glob("ticket-*.png"), *folder.glob("wristband-*.png")]:
        try:
            if path.stat().st_mtime < before:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


class EscposPrinter(Printer):
    """An ESC/POS printer at ``uri`` with the python-escpos capability ``profile``.

    :param timeout_s: longest wait for each step of a job: reaching the printer and its status, sending
        the job (plus the transfer time of a serial line), the printer finishing it
    :param lock: shared by the EscposPrinters of one address, so their jobs never interleave
    """

    def __init__(self, uri: str, profile: str, timeout_s: float = 5.0, lock: threading.Lock | None = None):
        self.uri, self.profile, self.timeout_s = uri, profile, timeout_s
        self._connect_once = _transport(uri)
        self._lock = lock or threading.Lock()
        self.last_status = PrinterStatus()

    def status(self) -> PrinterStatus:
        """Ask the printer now (opens and closes a connection); unknown when it cannot be reached."""
        with self._lock:
            deadline = time.monotonic() + self.timeout_s
            try:
                link = self._connect(deadline)
            except PrintFault:
                return PrinterStatus()
            try:
                return self._query(link, deadline, last=True)
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
        """Status, job, "done?", status: every step within ``timeout_s``."""
        step = lambda extra=0.0: time.monotonic() + self.timeout_s + extra   # noqa: E731
        link = self._connect(step())
        try:
            try:
                before = self._query(link, step())
            except OSError:
                raise PrintFault("unreachable") from None
            if before.fault:
                raise PrintFault(before.fault)
            finished = False
            try:
                done = link.ask(GS_R_1, step(link.transfer_s(len(job))), after=job)
                # GS r is answered only once the printer has worked through the job before it: a
                # printer that ran out of paper or opened its cover half-way goes offline instead.
                finished = link.answer(done, step()) is not None
                after = self._query(link, step(), last=True)
            except OSError:
                # Sent is not received: a connection that breaks before the printer said it is done
                # most likely took part of the job with it. What came back before it broke counts
                # all the same (a web server answers the job's first line, then hangs up).
                with contextlib.suppress(OSError):
                    link.catch_up(step())
                if not finished:
                    raise PrintFault("connection_lost") from None
                return PrintResult(confirmed=True)
        finally:
            link.close()
        if after.fault:
            raise PrintFault(after.fault)
        return PrintResult(confirmed=finished and after.known, paper_low=after.paper_low)

    def _connect(self, deadline: float) -> "_Link":
        """Open the printer, trying again until ``deadline`` (it may be starting after a power cycle)."""
        while True:
            try:
                return self._connect_once(max(0.05, deadline - time.monotonic()))
            except Exception as e:    # python-escpos raises DeviceNotFoundError, pyusb USBError, ...
                if time.monotonic() + RECONNECT_PAUSE_S > deadline:
                    raise PrintFault("unreachable") from e
                time.sleep(RECONNECT_PAUSE_S)

    def _query(self, link: "_Link", deadline: float, *, last: bool = False) -> PrinterStatus:
        """DLE EOT 1-4; a device that leaves one unanswered for a second is not asked the next.
        ``last``: nothing follows on this connection, so a device that stayed silent is told goodbye
        (``_Link.finish``) and heard once more. Something that answers as no printer does is NOT_A_PRINTER.
        """
        replies = {}
        try:
            link.catch_up(deadline)     # what came before these questions: late replies, or a banner
            for n in STATUS_QUERIES:
                asked = link.ask(DLE_EOT + bytes([n]), deadline)
                reply = link.answer(asked, min(deadline, time.monotonic() + 1.0))
                if reply is None:
                    break                # it does not answer: do not wait four times
                replies[n] = reply
            status = parse_status(replies)
            if last and not status.known:
                link.finish(time.monotonic() + min(1.0, self.timeout_s))     # a step of its own
        except NotAPrinter:
            status = NOT_A_PRINTER
        self.last_status = status
        return status


class _Link:
    """An open python-escpos device, plus what python-escpos 3.1 lacks: reads with a timeout (its
    own block for the whole timeout, or do not exist for files and CUPS) and writes with a deadline;
    and the kiosk's side of the conversation: which questions the device still owes an answer."""

    # Replies an earlier connection may have left behind on a line that outlives it (serial, device
    # file, USB): a late GS r, and a DLE EOT before and after that job left unanswered for a second.
    # More than that, or a byte no printer sends, and it is not a printer.
    leftovers = 3
    skipped = b""                        # bytes of the line itself, not of the device (XON/XOFF)

    def __init__(self, device):
        self.device = device
        self.owed: list[tuple[int, bytes]] = []      # (ticket, question) not answered yet, oldest first
        self.answers: dict[int, bytes] = {}         # ticket -> the reply byte
        self._tickets = itertools.count()

    def ask(self, question: bytes, deadline: float, *, after: bytes = b"") -> int:
        """Send ``after`` (a job), then ``question``; returns the ticket its answer is filed under."""
        ticket = next(self._tickets)
        self.owed.append((ticket, question))
        self.write(after + question, deadline)
        return ticket

    def hear(self, timeout: float) -> bool:
        """Read what comes back within ``timeout`` (0: what is there) and take each byte as the reply
        to the oldest question still owed that it is a valid reply to; False when nothing came.

        :raises NotAPrinter: a byte that answers no question asked: a banner, an echo, a web
            server's reply, more bytes than questions
        """
        data = self.read(timeout)
        for byte in data:
            if byte in self.skipped:
                continue
            reply = bytes([byte])
            owed = next((i for i, (_, question) in enumerate(self.owed) if valid_reply(reply, question)), None)
            if owed is not None:
                self.answers[self.owed.pop(owed)[0]] = reply
            elif self.leftovers and (valid_reply(reply, DLE_EOT) or valid_reply(reply, GS_R_1)):
                self.leftovers -= 1
            else:
                raise NotAPrinter()
        return bool(data)

    def catch_up(self, deadline: float) -> None:
        """Hear what has come so far (until ``deadline`` at most: a line may never fall silent)."""
        while self.hear(0) and time.monotonic() < deadline:
            pass

    def answer(self, ticket: int, deadline: float) -> bytes | None:
        """The reply to the question ``ticket``, once it came (until ``deadline``); None when it did not."""
        while ticket not in self.answers and (left := deadline - time.monotonic()) > 0:
            if not self.hear(left):
                break
        return self.answers.pop(ticket, None)

    def finish(self, deadline: float) -> None:
        """Say that nothing more will be asked, where the link can, and hear what comes back until
        ``deadline`` (a device that answers only once a request ended gives itself away here)."""

    def transfer_s(self, size: int) -> float:
        """How long ``size`` bytes take on the line itself (only a serial line is slow)."""
        return 0.0

    def write(self, data: bytes, deadline: float) -> None:
        try:
            self.device._raw(data)
        except OSError:
            raise
        except Exception as e:           # pyserial's SerialTimeoutException, python-escpos' errors
            raise OSError(str(e)) from e

    def read(self, timeout: float) -> bytes:
        return b""                       # no way back from this printer: its status stays unknown

    def close(self) -> None:
        try:
            self.device.close()
        except Exception:                # closing a connection the printer already dropped
            pass


class _SocketLink(_Link):
    leftovers = 0                        # a new connection starts clean

    def __init__(self, device):
        super().__init__(device)
        # A status question right after the job must not wait for the job's ACK (Nagle against
        # delayed ACK costs 40 ms a question).
        device.device.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes, deadline: float) -> None:
        sock = self.device.device
        sock.settimeout(max(0.05, deadline - time.monotonic()))    # sendall: for all of it (3.5+)
        sock.sendall(data)

    def read(self, timeout: float) -> bytes:
        sock = self.device.device
        sock.settimeout(timeout) if timeout else sock.setblocking(False)
        try:
            data = sock.recv(16)
        except (socket.timeout, BlockingIOError):
            return b""
        if not data:
            raise ConnectionResetError("the printer closed the connection")
        return data

    def finish(self, deadline: float) -> None:
        # A half-close ends the job for a printer, which then closes too; a server that waits for the
        # end of a request (a web server: a line) answers it now.
        with contextlib.suppress(OSError):
            self.device.device.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0 and self.hear(left):
                pass


class _SerialLink(_Link):
    skipped = b"\x11\x13"                # a printer set to XON/XOFF handshaking says when its buffer is full

    def transfer_s(self, size: int) -> float:
        return size * 10 / self.device.baudrate          # 8 data bits, start and stop bit

    def write(self, data: bytes, deadline: float) -> None:
        self.device.device.write_timeout = max(0.05, deadline - time.monotonic())
        super().write(data, deadline)

    def read(self, timeout: float) -> bytes:
        port = self.device.device
        port.timeout = timeout
        data = port.read(1)
        return data + port.read(port.in_waiting) if data else b""

    def close(self) -> None:
        # python-escpos flushes before closing, which waits without end for a printer that stopped
        # reading: what it has not taken by now is dropped.
        try:
            self.device.device.reset_output_buffer()
        except Exception:
            pass
        super().close()


class _FileLink(_Link):
    """file:// — a device node such as /dev/usb/lp0, opened for reading too (usblp passes the
    printer's replies back), or a plain file or named pipe, which gives no replies (a pipe would hand
    back what the kiosk wrote into it)."""

    def __init__(self, device):
        super().__init__(device)
        fd = device.device.fileno()
        mode = os.fstat(fd).st_mode
        self.way_back = not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode))
        if stat.S_ISREG(mode):
            os.lseek(fd, 0, os.SEEK_END)     # a plain file collects the jobs one after the other
        if os.isatty(fd):
            self.skipped = _SerialLink.skipped   # a serial line opened as a file

    def write(self, data: bytes, deadline: float) -> None:
        fd, view = self.device.device.fileno(), memoryview(data)
        while view:                      # a device may take part of it
            if not select.select([], [fd], [], max(0.0, deadline - time.monotonic()))[1]:
                raise TimeoutError("the printer took no more data")
            view = view[os.write(fd, view):]

    def read(self, timeout: float) -> bytes:
        fd = self.device.device.fileno()
        if not self.way_back or not select.select([fd], [], [], timeout)[0]:
            return b""
        return os.read(fd, 16)


class _UsbLink(_Link):
    def write(self, data: bytes, deadline: float) -> None:
        self.device.timeout = max(1, int((deadline - time.monotonic()) * 1000))
        super().write(data, deadline)

    def read(self, timeout: float) -> bytes:
        import usb.core
        try:
            return bytes(self.device.device.read(self.device.in_ep, 16, max(1, int(timeout * 1000))))
        except usb.core.USBTimeoutError:
            return b""


def escpos_module():
    """python-escpos's printer classes. Its profile cache (a pickle it loads) goes to one private folder
    instead of a new temporary one per start; when that folder is not ours alone, to a new one."""
    if "escpos.capabilities" not in sys.modules:
        cache = Path(tempfile.gettempdir()) / f"kiosk-escpos-{os.getuid()}"
        with contextlib.suppress(FileExistsError):
            cache.mkdir(mode=0o700)
        st = os.lstat(cache)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022:
            os.chmod(cache, 0o700)       # nobody else could write to it: it is ours alone
            os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(cache))
    from escpos import printer
    return printer


def _tcp(parts, query: dict, uri: str):
    if not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or 9100

    def net(timeout_s: float) -> _Link:
        device = escpos_module().Network(host, port, timeout=timeout_s)
        device.open()
        return _SocketLink(device)
    return net


def _usb(parts, query: dict, uri: str):
    vendor, product = (int(x, 16) for x in parts.netloc.split(":"))
    eps = {k: int(query[k], 0) for k in ("in_ep", "out_ep") if k in query}

    def usb(timeout_s: float) -> _Link:
        device = escpos_module().Usb(idVendor=vendor, idProduct=product, timeout=int(timeout_s * 1000), **eps)
        device.open()
        return _UsbLink(device)
    return usb


def _serial(parts, query: dict, uri: str):
    if not parts.path:
        return None
    baudrate = int(query.get("baudrate", 9600))

    def serial(timeout_s: float) -> _Link:
        device = escpos_module().Serial(parts.path, baudrate=baudrate, timeout=timeout_s)
        device.open()
        return _SerialLink(device)
    return serial


def _file(parts, query: dict, uri: str):
    if not parts.path:
        return None

    def file(timeout_s: float) -> _Link:
        device = escpos_module().File(parts.path)
        fd = os.open(parts.path, os.O_RDWR | os.O_NOCTTY)    # not "wb": no truncating, and replies
        device.device = os.fdopen(fd, "r+b", buffering=0)
        return _FileLink(device)
    return file


def _cups(parts, query: dict, uri: str):
    queue = parts.netloc or parts.path.strip("/")
    if not queue:
        return None
    if not shutil.which("lp"):
        raise DeviceUnavailable(f"The printer {uri} needs the CUPS command lp, which is not installed "
                                "(Debian package cups-client).")

    def cups(timeout_s: float) -> _Link:
        device = escpos_module().LP(queue)
        device.open(job_name="kiosk")
        return _Link(device)
    return cups


# The URI schemes of ESC/POS printers, each with what reads its URI (None, or ValueError: malformed).
# preview:DIR is not among them: no printer, see open_printer.
TRANSPORTS = {"tcp": _tcp, "usb": _usb, "serial": _serial, "file": _file, "cups": _cups}


def _transport(uri: str):
    """A function ``open(timeout_s)`` that opens the printer at ``uri`` once and returns a _Link.
    Cheap: only reads the URI.

    :raises DeviceUnavailable: the URI is malformed or names no printer this build can drive
    """
    parts = urlsplit(uri)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        connect = parts.scheme in TRANSPORTS and TRANSPORTS[parts.scheme](parts, query, uri)
    except ValueError:
        connect = None
    if connect:
        return connect
    raise DeviceUnavailable(
        f"The printer address {uri!r} is not one the kiosk understands; use tcp://host:9100, usb://VID:PID, "
        "serial:///dev/ttyUSB0?baudrate=19200, file:///dev/usb/lp0, cups://queue or preview:DIR.")


def uri_problem(uri: str) -> str | None:
    """Why ``uri`` names no printer (a sentence), or None: the config's check."""
    if uri.startswith("preview:") and uri != "preview:":
        return None
    try:
        _transport(uri)
    except DeviceUnavailable as e:
        return str(e)
    return None


def open_printer(uri: str, data_dir: str | Path, *, profile: str = "TM-T88V", timeout_s: float = 5.0,
                 lock: threading.Lock | None = None) -> Printer:
    """The printer a URI names; a relative ``preview:DIR`` is inside ``data_dir``. Nothing is opened
    yet: each job opens the printer itself.

    :raises DeviceUnavailable: a malformed URI, an unknown profile, or a missing system tool
    """
    if uri.startswith("preview:"):
        return PreviewPrinter(Path(data_dir) / uri.removeprefix("preview:"))
    printer = EscposPrinter(uri, profile, timeout_s, lock)    # checks the URI
    if profile not in known_profiles():
        raise DeviceUnavailable(f"The printer profile {profile!r} is not one python-escpos knows; "
                                f"use one of {', '.join(sorted(known_profiles()))}.")
    return printer


def known_profiles() -> frozenset[str]:
    """The capability profiles (printer models) python-escpos knows: the config's check and open_printer's."""
    escpos_module()                     # its profile cache in the kiosk's own folder
    from escpos.capabilities import CAPABILITIES
    return frozenset(CAPABILITIES["profiles"])
