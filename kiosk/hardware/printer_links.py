"""How the kiosk reaches an ESC/POS printer: one link per URI scheme (tcp://, usb://, serial://, file://,
cups://) over python-escpos's devices, with reads that time out and writes that keep a deadline, and the
kiosk's side of the conversation (which questions the device still owes an answer)."""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import shutil
import socket
import stat
import time
from urllib.parse import parse_qs, urlsplit

from kiosk.hardware.errors import DeviceUnavailable, NotAPrinter
from kiosk.hardware.escpos_lib import escpos_module
from kiosk.hardware.escpos_status import DLE_EOT, GS_R_1, valid_reply


class Link:
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


class _SocketLink(Link):
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


class _SerialLink(Link):
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


class _FileLink(Link):
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


class _UsbLink(Link):
    def write(self, data: bytes, deadline: float) -> None:
        self.device.timeout = max(1, int((deadline - time.monotonic()) * 1000))
        super().write(data, deadline)

    def read(self, timeout: float) -> bytes:
        import usb.core
        try:
            return bytes(self.device.device.read(self.device.in_ep, 16, max(1, int(timeout * 1000))))
        except usb.core.USBTimeoutError:
            return b""


def _tcp(parts, query: dict, uri: str):
    if not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or 9100

    def net(timeout_s: float) -> Link:
        device = escpos_module().Network(host, port, timeout=timeout_s)
        device.open()
        return _SocketLink(device)
    return net


def _usb(parts, query: dict, uri: str):
    vendor, product = (int(x, 16) for x in parts.netloc.split(":"))
    eps = {k: int(query[k], 0) for k in ("in_ep", "out_ep") if k in query}

    def usb(timeout_s: float) -> Link:
        device = escpos_module().Usb(idVendor=vendor, idProduct=product, timeout=int(timeout_s * 1000), **eps)
        device.open()
        return _UsbLink(device)
    return usb


def _serial(parts, query: dict, uri: str):
    if not parts.path:
        return None
    baudrate = int(query.get("baudrate", 9600))

    def serial(timeout_s: float) -> Link:
        device = escpos_module().Serial(parts.path, baudrate=baudrate, timeout=timeout_s)
        device.open()
        return _SerialLink(device)
    return serial


def _file(parts, query: dict, uri: str):
    if not parts.path:
        return None

    def file(timeout_s: float) -> Link:
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

    def cups(timeout_s: float) -> Link:
        device = escpos_module().LP(queue)
        device.open(job_name="kiosk")
        return Link(device)
    return cups


# The URI schemes of ESC/POS printers, each with what reads its URI (None, or ValueError: malformed).
# preview:DIR is not among them: no printer, see open_printer.
TRANSPORTS = {"tcp": _tcp, "usb": _usb, "serial": _serial, "file": _file, "cups": _cups}


def transport(uri: str):
    """A function ``open(timeout_s)`` that opens the printer at ``uri`` once and returns a Link.
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
