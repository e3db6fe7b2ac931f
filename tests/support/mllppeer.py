"""A real MLLP receiver for tests: the ``hl7`` package's asyncio server on 127.0.0.1, on an event loop of
its own in a background thread, answering as scripted (MLLP framing; original-mode ACKs, HL7 v2.5 chapter 2)."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import threading
from typing import Self

import hl7
from hl7.mllp import start_hl7_server

ANSWERS = ("AA", "AE", "AR", "silent", "drop", "hold")
# What a receiver says with AE and AR: MSA-3 and an ERR (ERR-3 from HL7 table 0357, ERR-4 severity E).
ERRORS = {"AE": ("Required field missing", "PID^1^3", "101^Required field missing^HL70357"),
          "AR": ("Application internal error", "", "207^Application internal error^HL70357")}
STOP_TIMEOUT = 5.0                 # seconds for the loop thread to start or to stop


class MllpPeer:
    """``with MllpPeer(answer="AA") as peer:`` a receiver at ``peer.host``/``peer.port`` (``peer.url``).

    ``answer`` (settable at any time) decides what the next message gets: ``"AA"``, ``"AE"`` or ``"AR"``
    (an ACK whose MSA-2 echoes the message's MSH-10; AE and AR with an MSA-3 text and an ERR segment),
    ``"silent"`` (no answer, the connection stays open), ``"drop"`` (the connection is closed unanswered)
    or ``"hold"`` (no answer until ``release()``, then AA: a late or lost ACK). ``messages`` holds every
    message received, in order, as text; ``unique()`` those with an MSH-10 not seen before. With ``tls`` (a
    server-side SSLContext) it speaks MLLP over TLS and ``url`` is ``mllps://``. Leaving the ``with`` block
    closes the server and every connection and ends the thread.
    """

    host = "127.0.0.1"

    def __init__(self, answer: str = "AA", *, tls: ssl.SSLContext | None = None):
        self.answer = answer
        self.tls = tls
        self.messages: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mllp-peer", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task] = set()
        self._released: asyncio.Event | None = None
        self._ack_ids = itertools.count(1)

    @property
    def answer(self) -> str:
        return self._answer

    @answer.setter
    def answer(self, value: str) -> None:
        if value not in ANSWERS:
            raise ValueError(f"answer must be one of {ANSWERS}, not {value!r}")
        self._answer = value

    @property
    def url(self) -> str:
        return f"{'mllps' if self.tls else 'mllp'}://{self.host}:{self.port}"

    def unique(self) -> list[str]:
        """The messages with an MSH-10 not seen before, in order (what a de-duplicating receiver keeps)."""
        seen: set[str] = set()
        kept = []
        for message in list(self.messages):
            control_id = str(hl7.parse(message).segment("MSH")(10))
            if control_id not in seen:
                seen.add(control_id)
                kept.append(message)
        return kept

    def release(self) -> None:
        """Answer AA to every held message, and to later ones sent while ``answer`` is ``"hold"``."""
        self._loop.call_soon_threadsafe(self._released.set)

    def __enter__(self) -> Self:
        self._thread.start()
        self._call(self._start())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self._call(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT)
            self._loop.close()

    def _call(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(STOP_TIMEOUT)

    async def _start(self) -> None:
        self._released = asyncio.Event()
        self._server = await start_hl7_server(self._on_connection, self.host, 0, encoding="utf-8",
                                              ssl=self.tls)

    async def _stop(self) -> None:
        self._server.close()
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    async def _on_connection(self, reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            while True:
                text = (await reader.readblock()).decode("utf-8")
                self.messages.append(text)
                answer = self.answer
                if answer == "drop":
                    break
                if answer == "silent":
                    continue
                if answer == "hold":
                    await self._released.wait()
                    answer = "AA"
                writer.writeblock(self._ack(hl7.parse(text), answer).encode("utf-8"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass                                   # the sender hung up
        finally:
            self._connections.discard(task)
            writer.close()

    def _ack(self, message: hl7.Message, code: str) -> str:
        ack = str(message.create_ack(ack_code=code, message_id=f"PEER-{next(self._ack_ids)}")).rstrip("\r")
        if code in ERRORS:
            text, location, error = ERRORS[code]
            ack += f"|{text}\rERR||{location}|{error}|E"
        return ack
