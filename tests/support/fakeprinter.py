"""Fake ESC/POS printers that tests reach over real transports: a TCP port-9100 printer (``NetPrinter``) and a
serial printer on a pseudo-terminal (``PtyPrinter``). Both record what arrives and answer real-time status
queries (DLE EOT n) with Epson reply bytes (the TM-T88III and TM-U220 specifications)::

    with NetPrinter(state="paper_out") as printer:
        kiosk_print(printer.uri)
        printer.wait_idle()
        assert decode(printer.connections[-1]).cuts == 1

Both can also play a device that is not a printer but sits where one is expected: ``answer`` says what it
answers to each chunk it receives (``echo``, ``modem``, ``web_server_400``, ``noise``), ``greeting`` what it
says before it was asked anything (``SSH_BANNER``, ``NMEA_SENTENCE``)::

    with NetPrinter(greeting=SSH_BANNER) as ssh_server: ...
"""

from __future__ import annotations

import os
import queue
import random
import select
import socket
import threading
import tty
from collections.abc import Callable
from typing import Self

# DLE EOT n -> reply byte per state. Every reply has bits 1 and 4 set and bits 0 and 7 clear.
# n=1 bit 3: offline. n=2 bit 2: cover open, bit 5: stopped by paper end, bit 6: error.
# n=3 bit 3: autocutter error. n=4 bits 2+3: paper near end, bits 5+6: paper end.
STATUS_BYTES = {
    "ready":        {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12},
    "paper_low":    {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x1E},
    "paper_out":    {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x7E},
    "cover_open":   {1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12},
    "offline":      {1: 0x1A, 2: 0x12, 3: 0x12, 4: 0x12},
    "cutter_error": {1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12},
    "no_gs_r":      {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12},   # ready, but its firmware has no GS r
}
STATES = (*STATUS_BYTES, "silent", "garbage")   # silent: never answers; garbage: answers b"\x00\xff"
# GS r 1 (paper sensor) is answered in order, once everything before it is processed, and only by a
# printer that can print: bits 0+1 paper near end, bit 4 always 0 (which tells it from a DLE EOT reply).
GS_R_BYTES = {"ready": 0x00, "paper_low": 0x03}
_DLE_EOT = b"\x10\x04"

# What devices that are not printers say.
SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"                    # on connect, before anything
NMEA_SENTENCE = b"$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76\r\n"   # a GPS receiver


def echo(chunk: bytes) -> bytes:
    """A terminal or an echo service: everything comes back."""
    return chunk


def modem(chunk: bytes) -> bytes:
    """A modem in command mode, echo off (ATE0): it answers whatever it got."""
    return b"\r\nOK\r\n"


def web_server_400(chunk: bytes) -> bytes:
    """A web server that rejects a request at its first byte that cannot start one, as nginx does."""
    return b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def noise(seed: int) -> Callable[[bytes], bytes]:
    """A device that answers anything with 32 random bytes (always the same ones for one seed)."""
    rng = random.Random(seed)
    return lambda chunk: rng.randbytes(32)


class PrinterBehaviour:
    """What a printer does with the bytes it receives; thread-safe, every setting may change at any time.

    ``state``: one of ``STATES``. ``drop_after``: close the connection once that many bytes of it have arrived
    (power lost mid-job; bytes beyond are not recorded). ``switch_to_after=(n, state)``: once n bytes of the
    current connection have arrived, the printer is in ``state`` (paper runs out mid-job); fires once.
    ``answer``: no printer, but a device that answers each chunk it receives with ``answer(chunk)``;
    ``greeting``: what it says first, on each connection (NetPrinter) or once it is there (PtyPrinter).
    """

    def __init__(self, state: str = "ready", *, drop_after: int | None = None,
                 switch_to_after: tuple[int, str] | None = None, answer: Callable[[bytes], bytes] | None = None,
                 greeting: bytes = b"") -> None:
        self._changed = threading.Condition()
        self._connections: list[bytearray] = []
        self._tail = b""          # a DLE or DLE EOT at the end of the last chunk
        self._unparsed = b""      # the start of a command split over chunks (GS r, GS v 0 header)
        self._picture_left = 0    # bytes of GS v 0 picture data still to come: not commands
        self.state = state
        self.paused = False       # True: reads nothing more (a printer whose buffer is full)
        self.drop_after = drop_after
        self.switch_to_after = switch_to_after
        self.answer = answer
        self.greeting = greeting

    @property
    def state(self) -> str:
        with self._changed:
            return self._state

    @state.setter
    def state(self, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown printer state {state!r}; one of {STATES}")
        with self._changed:
            self._state = state

    @property
    def connections(self) -> list[bytes]:
        """Bytes received, one entry per connection (the current one included)."""
        with self._changed:
            return [bytes(c) for c in self._connections]

    @property
    def received(self) -> bytes:
        """All bytes received, over all connections."""
        return b"".join(self.connections)

    def jobs_with(self, needle: bytes) -> list[bytes]:
        """The connections whose bytes contain ``needle``."""
        return [c for c in self.connections if needle in c]

    def reply(self, n: int) -> bytes:
        """The answer to DLE EOT n in the current state (b"" for n outside 1..4 and when silent)."""
        state = self.state
        if state == "silent" or n not in (1, 2, 3, 4):
            return b""
        return b"\x00\xff" if state == "garbage" else bytes([STATUS_BYTES[state][n]])

    def new_connection(self) -> None:
        """Start recording a new connection (transports call this)."""
        with self._changed:
            self._connections.append(bytearray())
            self._tail, self._unparsed, self._picture_left = b"", b"", 0
            self._changed.notify_all()

    def feed(self, chunk: bytes) -> bytes:
        """Take the next received bytes and return the replies to send: DLE EOT n is answered wherever
        ``10 04 n`` occurs, even inside image data or split over chunks, as real printers do."""
        with self._changed:
            if not self._connections:
                self._connections.append(bytearray())
            record = self._connections[-1]
            if self.drop_after is not None:
                chunk = chunk[:max(0, self.drop_after - len(record))]
            buffer, first = self._tail + chunk, len(record) - len(self._tail)   # first: offset of buffer[0]
            record += chunk
            if self.answer is not None:
                self._changed.notify_all()
                return self.answer(chunk) if chunk else b""
            replies, i = [], buffer.find(_DLE_EOT)
            while 0 <= i < len(buffer) - 2:
                self._maybe_switch(first + i + 3)
                replies.append(self.reply(buffer[i + 2]))
                i = buffer.find(_DLE_EOT, i + (3 if buffer[i + 2] in (1, 2, 3, 4) else 1))
            self._tail = _DLE_EOT if buffer.endswith(_DLE_EOT) else b"\x10" if buffer.endswith(b"\x10") else b""
            self._maybe_switch(len(record))
            replies.append(self._in_order(chunk))
            self._changed.notify_all()
            return b"".join(replies)

    def _in_order(self, chunk: bytes) -> bytes:
        """Answer GS r 1 wherever it stands as a command (not inside GS v 0 picture data)."""
        data, i, replies = self._unparsed + chunk, 0, b""
        while i < len(data):
            if self._picture_left:
                step = min(self._picture_left, len(data) - i)
                self._picture_left -= step
                i += step
            elif data[i] == 0x1D and len(data) - i < {b"": 2, b"v": 8, b"r": 3}.get(data[i + 1:i + 2], 0):
                break                                    # wait for the rest of the command
            elif data.startswith(b"\x1dv0", i):
                self._picture_left = (data[i + 4] | data[i + 5] << 8) * (data[i + 6] | data[i + 7] << 8)
                i += 8
            elif data.startswith(b"\x1dr", i) and data[i + 2] in (1, 0x31):
                if self.state in GS_R_BYTES:
                    replies += bytes([GS_R_BYTES[self.state]])
                i += 3
            else:
                i += 1
        self._unparsed = data[i:]
        return replies

    def should_drop(self) -> bool:
        """True once the current connection has received ``drop_after`` bytes."""
        with self._changed:
            return (self.drop_after is not None and bool(self._connections)
                    and len(self._connections[-1]) >= self.drop_after)

    def wait_received(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` bytes have arrived in all; raises TimeoutError after ``timeout`` seconds."""
        self._wait(lambda: sum(map(len, self._connections)) >= count, timeout, f"{count} bytes received")

    def _maybe_switch(self, arrived: int) -> None:
        if self.switch_to_after is not None and arrived >= self.switch_to_after[0]:
            self.state, self.switch_to_after = self.switch_to_after[1], None

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise TimeoutError(f"fake printer: not {what} within {timeout} s")


class _Loop:
    """A thread that waits on file descriptors and runs calls from other threads between events."""

    def __init__(self) -> None:
        self._calls: queue.Queue = queue.Queue()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def _readers(self) -> list:
        """What to wait on besides the wake-up socket."""
        raise NotImplementedError

    def _ready(self, reader) -> None:
        """``reader`` can be read."""
        raise NotImplementedError

    def _call(self, fn: Callable[[], None], timeout: float = 5.0) -> None:
        """Run ``fn`` on the loop thread and wait for it."""
        done = threading.Event()
        self._calls.put((fn, done))
        self._wake_w.send(b"!")
        if not done.wait(timeout):
            raise TimeoutError(f"fake printer thread did not answer within {timeout} s")

    def _start(self) -> None:
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread.start()

    def _stop(self) -> None:
        def stop() -> None:
            self._stopping = True
        self._call(stop)
        self._thread.join(5)
        self._wake_r.close()
        self._wake_w.close()

    def _run(self) -> None:
        while not self._stopping:
            readable, _, _ = select.select([self._wake_r, *self._readers()], [], [])
            if self._wake_r in readable:
                self._wake_r.recv(4096)
                while not self._calls.empty():
                    fn, done = self._calls.get()
                    fn()
                    done.set()
            else:
                self._ready(readable[0])


class NetPrinter(PrinterBehaviour, _Loop):
    """A raw TCP printer on 127.0.0.1 (ephemeral ``port``, ``uri`` "tcp://127.0.0.1:PORT") that serves one
    connection at a time like a port-9100 printer; further clients wait in the listen backlog. Use as a
    context manager; leaving it closes every socket and ends its thread."""

    def __init__(self, state: str = "ready", **behaviour) -> None:
        PrinterBehaviour.__init__(self, state, **behaviour)
        _Loop.__init__(self)
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self.port = 0

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._listen()
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self.power_off()
        self._stop()

    def power_off(self) -> None:
        """Close the listening socket and any open connection: connects are refused until ``power_on``."""
        def off() -> None:
            with self._changed:
                self._hang_up()
                if self._listener:
                    self._listener.close()
                    self._listener = None
        self._call(off)

    def power_on(self) -> None:
        """Listen again, on the same port."""
        def on() -> None:
            with self._changed:
                if not self._listener:
                    self._listen()
        self._call(on)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no client is connected or waiting and all received bytes are processed."""
        self._wait(self._idle, timeout, "idle")

    def _idle(self) -> bool:
        backlog = self._listener is not None and select.select([self._listener], [], [], 0)[0]
        return self._client is None and not backlog

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        self._listener, self.port = listener, listener.getsockname()[1]

    def _readers(self) -> list:
        if self.paused:
            return []
        return [self._client] if self._client else [self._listener] if self._listener else []

    def _ready(self, reader) -> None:
        if reader is self._listener:
            with self._changed:
                self._client = self._listener.accept()[0]
                self.new_connection()
                if self.greeting:
                    self._client.sendall(self.greeting)
            return
        try:
            chunk = self._client.recv(65536)
            replies = self.feed(chunk)
            if replies:
                self._client.sendall(replies)
        except OSError:
            chunk = b""
        if not chunk or self.should_drop():
            self._hang_up()

    def _hang_up(self) -> None:
        with self._changed:
            if self._client:
                self._client.close()
                self._client = None
            self._changed.notify_all()


class PtyPrinter(PrinterBehaviour, _Loop):
    """A serial printer on a pseudo-terminal: open ``path`` (``serial_uri`` / ``file_uri``) like a device.

    Both ends are raw; this side keeps the device open, so clients may open and close it at will, and
    everything they write is one record (``received``). ``drop_after`` hangs the terminal up: the device then
    fails with EIO like an unplugged USB-serial adapter.
    """

    def __init__(self, state: str = "ready", **behaviour) -> None:
        PrinterBehaviour.__init__(self, state, **behaviour)
        _Loop.__init__(self)
        self._master: int | None = None
        self._slave: int | None = None
        self.path = ""

    @property
    def serial_uri(self) -> str:
        return f"serial://{self.path}?baudrate=19200"

    @property
    def file_uri(self) -> str:
        return f"file://{self.path}"

    def __enter__(self) -> Self:
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.new_connection()
        if self.greeting:
            os.write(self._master, self.greeting)
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop()
        self._hang_up()
        os.close(self._slave)

    def _readers(self) -> list:
        return [self._master] if self._master is not None and not self.paused else []

    def _ready(self, reader) -> None:
        try:
            replies = self.feed(os.read(self._master, 65536))
            if replies:
                os.write(self._master, replies)
        except OSError:
            return
        if self.should_drop():
            self._hang_up()

    def _hang_up(self) -> None:
        if self._master is not None:
            os.close(self._master)
            self._master = None
