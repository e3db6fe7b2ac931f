"""Where the waiting list's changes meet the connections that wait for them (the displays' and the staff
pages' Server-Sent Events): each change (``tell``, a SiteDb listener) wakes every stream at once, and a stream
that heard nothing for ``HEARTBEAT_S`` sends a comment, so that a connection that died is noticed and a proxy
does not close an idle one. One per instance; ``stop`` ends every stream (the server can then stop)."""

from __future__ import annotations

import threading
from typing import Callable, Iterator

HEARTBEAT_S = 15.0
RETRY_MS = 2000                  # how soon a browser reconnects after a lost stream


class Hub:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.version = 0
        self.stopping = False

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
        """Server-Sent Events: ``snapshot()`` (JSON) as ``event`` at once and after every change that changes
        it, a comment after each quiet ``heartbeat_s``; until the hub stops."""
        yield f"retry: {RETRY_MS}\n\n"
        sent = None
        while not self.stopping:
            version = self.version
            data = snapshot()
            if data != sent:
                yield f"event: {event}\ndata: {data}\n\n"
                sent = data
            if self.wait(version, heartbeat_s) == version and not self.stopping:
                yield ": still here\n\n"
