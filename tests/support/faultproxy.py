"""A TCP proxy on 127.0.0.1 in front of a test server (the FHIR server, the MLLP peer), with the network's
faults on demand, for the soak benchmark::

    with FaultProxy(server.port) as proxy:          # the kiosk talks to 127.0.0.1:proxy.port
        proxy.down()                                 # refused; open connections reset
        proxy.up()                                   # listening again on the same port
        proxy.reset_next(2)                          # the next two requests reset as they start to arrive
        proxy.delay(3.0)                             # every answer held back 3 s (slow); 0: as it comes

Each connection is two threads copying bytes, one per direction. A reset closes both sockets with SO_LINGER 0
(the peer gets RST); what was read of the request is not passed on, so the server never sees it.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

RESET = struct.pack("ii", 1, 0)          # SO_LINGER on, 0 s: close() sends RST
ACCEPT_POLL_S = 0.1


class FaultProxy:
    host = "127.0.0.1"

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.connections = 0             # accepted while up
        self.resets = 0                  # connections reset (reset_next and down)
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._resets_left = 0
        self._delay = 0.0
        self._closed = False
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, name=f"faultproxy-{self.port}", daemon=True)
        self._thread.start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # --- faults ---

    def down(self) -> None:
        """Stop listening (connections are refused) and reset every open connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            pairs = list(self._pairs)
        if listener is not None:
            listener.close()
        for pair in pairs:
            self._reset(pair)

    def up(self) -> None:
        """Listen again, on the same port."""
        with self._lock:
            if self._listener is None and not self._closed:
                self._listen()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def reset_next(self, times: int = 1) -> None:
        """Reset the next ``times`` requests (on new or open connections) as their first bytes arrive."""
        with self._lock:
            self._resets_left += times

    def delay(self, seconds: float) -> None:
        """Hold every answer of the server back by ``seconds`` before passing it on (0: at once)."""
        self._delay = seconds

    def close(self) -> None:
        self._closed = True
        self.down()
        self._thread.join(5)

    # --- the copying ---

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        listener.settimeout(ACCEPT_POLL_S)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def _accept_loop(self) -> None:
        while not self._closed:
            listener = self._listener
            if listener is None:
                time.sleep(ACCEPT_POLL_S)
                continue
            try:
                client, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
                client.close()
                continue
            for s in (client, server):
                s.settimeout(None)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, server)
            with self._lock:
                self.connections += 1
                self._pairs.add(pair)
            threading.Thread(target=self._copy, args=(pair, client, server, True), daemon=True).start()
            threading.Thread(target=self._copy, args=(pair, server, client, False), daemon=True).start()

    def _copy(self, pair, source: socket.socket, sink: socket.socket, request: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if request:
                    with self._lock:
                        reset = self._resets_left > 0
                        self._resets_left -= reset
                    if reset:
                        self._reset(pair)
                        return
                elif self._delay:
                    time.sleep(self._delay)
                sink.sendall(data)
        except OSError:
            pass
        self._close(pair)

    def _reset(self, pair) -> None:
        with self._lock:
            if pair not in self._pairs:
                return
            self._pairs.discard(pair)
            self.resets += 1
        for s in pair:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
                s.shutdown(socket.SHUT_RD)       # wakes the thread reading it; sends nothing yet
            except OSError:
                pass
            s.close()                            # RST

    def _close(self, pair) -> None:
        with self._lock:
            if pair not in self._pairs:
                return
            self._pairs.discard(pair)
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
