"""Where the waiting list's changes meet the connections that wait for them (the displays' and the staff
pages' Server-Sent Events): each change (``tell``, a SiteDb listener) wakes every stream at once, and a stream
that heard nothing for ``HEARTBEAT_S`` sends a comment, so that a connection that died is noticed and a proxy
does not close an idle one. One per instance; ``stop`` ends every stream (the server can then stop)."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

HEARTBEAT_S = 15.0
RETRY_MS = 2000                  # how soon a browser reconnects after a lost stream
STREAM_S = 600.0                 # a stream ends after this long (the browser reconnects at once): none is forever
MAX_STREAMS = 100                # at once per instance, so that the site listener keeps threads for the APIs


class Hub:
    def __init__(self, max_streams: int | None = None) -> None:
        self._changed = threading.Condition()
        self._slots = threading.BoundedSemaphore(max_streams or MAX_STREAMS)
        self.version = 0
        self.stopping = False

    def admit(self) -> bool:
        """A slot for one more stream, or False: MAX_STREAMS are connected (the route answers 503, and the
        browser tries again). The stream gives it back when it ends."""
        return self._slots.acquire(blocking=False)

    def tell(self, what: str = "list") -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """The version after ``seen`` changed, or ``seen`` after ``timeout`` s without a change."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen or self.stopping, timeout)
            return self.version

    def stop(self) -> None:
        with self._changed:
            self.stopping = True
            self._changed.notify_all()

    def stream(self, snapshot: Callable[[], str], event: str, heartbeat_s: float = HEARTBEAT_S) -> Iterator[str]:
        """Server-Sent Events, on a slot ``admit`` gave: ``snapshot()`` (JSON) as ``event`` at once and after
        every change that changes it, a comment after each quiet ``heartbeat_s``; until the hub stops or
        STREAM_S have passed."""
        ends = time.monotonic() + STREAM_S
        try:
            yield f"retry: {RETRY_MS}\n\n"
            sent = None
            while not self.stopping and time.monotonic() < ends:
                version = self.version
                data = snapshot()
                if data != sent:
                    yield f"event: {event}\ndata: {data}\n\n"
                    sent = data
                quiet = min(heartbeat_s, max(0.0, ends - time.monotonic()))
                if self.wait(version, quiet) == version and not self.stopping and time.monotonic() < ends:
                    yield ": still here\n\n"
        finally:
            self._slots.release()
