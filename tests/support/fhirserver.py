"""A real FHIR R4 server for tests: SEKMET (sekmet-fhir 0.1.1) in-process, with faults on demand.

``FhirServer()`` starts SEKMET with uvicorn in a daemon thread on 127.0.0.1 and a port the OS picks, on an
in-memory database, with its simulator off (it would move booked Appointments on by itself) and without
its traffic log. Nothing it logs carries a request body or a query string: uvicorn's access log is off, and
SEKMET itself logs only 5xx messages.

Faults for the sync tests sit in a small ASGI wrapper in front of SEKMET: ``fail_next`` answers the next
requests itself (before SEKMET sees them, or after SEKMET committed them), and ``hold_responses`` keeps
SEKMET's answers back until ``release`` (a response lost after the commit, when the client times out).
The helper's own calls (``count``, ``search``, ``create``) bypass the faults and use
``Prefer: handling=strict``, so a search parameter SEKMET does not know is an error, not ignored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass

import requests

FHIR_JSON = "application/fhir+json"
PROBE_HEADER = "x-fhirserver-probe"         # marks the helper's own requests: never failed nor held
STARTUP_DEADLINE = 20.0                     # seconds for SEKMET to answer GET /fhir/metadata
ISSUE_CODES = {400: "invalid", 408: "timeout", 409: "conflict", 422: "processing", 429: "throttled",
               500: "exception", 503: "transient"}


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    body: dict | None
    after_commit: bool
    method: str | None = None            # only requests with this method get it (None: any)


class _Faults:
    """ASGI middleware: injected answers (``failures``) and held responses (closed ``gate``)."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.failures: list[_Failure] = []
        self.gate = threading.Event()
        self.gate.set()
        self.held = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or any(k == PROBE_HEADER.encode() for k, _ in scope.get("headers", ())):
            return await self.app(scope, receive, send)
        with self.lock:
            failure = next((f for f in self.failures if f.method in (None, scope["method"])), None)
            if failure is not None:
                self.failures.remove(failure)
        if failure is not None:
            if failure.after_commit:
                await self.app(scope, receive, _discard)
            return await _answer(send, failure)
        if self.gate.is_set():
            return await self.app(scope, receive, send)
        buffered: list[dict] = []

        async def keep(message):
            buffered.append(message)

        await self.app(scope, receive, keep)
        with self.lock:
            self.held += 1
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        with self.lock:
            self.held -= 1
        for message in buffered:
            await send(message)


async def _discard(message) -> None:
    pass


async def _answer(send, failure: _Failure) -> None:
    body = json.dumps(failure.body).encode() if failure.body is not None else b""
    headers = [(b"content-type", FHIR_JSON.encode())] if body else []
    if failure.retry_after is not None:
        headers.append((b"retry-after", failure.retry_after.encode()))
    await send({"type": "http.response.start", "status": failure.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FhirServer:
    """SEKMET on ``http://127.0.0.1:<port>/fhir`` (``.base``), running until ``stop()`` or the end of a
    ``with`` block. Each instance has its own empty database."""

    def __init__(self):
        import uvicorn
        from sekmet.config import Settings
        from sekmet.main import create_app

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        settings = Settings(base_url=self.base, host="127.0.0.1", port=self.port, db_path=":memory:",
                            simulator={"enabled": False}, log_inbound=False)
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        app = create_app(settings)          # it calls logging.basicConfig(INFO): undo that
        root.handlers[:], root.level = handlers, level
        self._faults = _Faults(app)
        self._server = uvicorn.Server(uvicorn.Config(self._faults, loop="asyncio", lifespan="off",
                                                     log_config=None, access_log=False, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"fhirserver-{self.port}", daemon=True)
        self._session = requests.Session()
        self._session.headers.update({PROBE_HEADER: "1", "Accept": FHIR_JSON, "Prefer": "handling=strict"})
        self._thread.start()
        deadline = time.monotonic() + STARTUP_DEADLINE
        while True:
            try:
                if self._session.get(f"{self.base}/metadata", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"SEKMET did not answer on {self.base} within {STARTUP_DEADLINE:.0f} s")
            time.sleep(0.05)

    def __enter__(self) -> FhirServer:
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def stop(self) -> None:
        """Release held responses, stop the server and wait for its thread."""
        self.release()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._session.close()

    # --- looking and seeding, past the faults ---

    def _get(self, resource_type: str, params: dict) -> dict:
        r = self._session.get(f"{self.base}/{resource_type}", params=params, timeout=10)
        r.raise_for_status()
        return r.json()

    def count(self, resource_type: str, **search) -> int:
        """How many resources of the type match ``search`` (all of them without): the server's total.
        Parameters whose names are not identifiers go in as ``**{"patient.identifier": "sys|val"}``."""
        return self._get(resource_type, {**search, "_summary": "count"})["total"]

    def search(self, resource_type: str, **params) -> list[dict]:
        """The matching resources (up to 1000)."""
        bundle = self._get(resource_type, {"_count": "1000", **params})
        return [e["resource"] for e in bundle.get("entry", ()) if e.get("search", {}).get("mode") == "match"]

    def create(self, resource: dict) -> dict:
        """POST one resource as it is (no conditions); the stored resource with its id."""
        r = self._session.post(f"{self.base}/{resource['resourceType']}", json=resource,
                               headers={"Content-Type": FHIR_JSON, "Prefer": "return=representation"}, timeout=10)
        r.raise_for_status()
        return r.json()

    # --- faults ---

    def fail_next(self, status: int, retry_after: int | str | None = None, times: int = 1, body: dict | None = None,
                  after_commit: bool = False, method: str | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (and Retry-After when given; seconds or an
        HTTP date). The body is an OperationOutcome whose issue code suits the status unless ``body`` is
        given. ``after_commit``: SEKMET handles the request first (and commits), then the client gets the
        fault instead of SEKMET's answer. ``method`` (e.g. "POST": deliveries, not appointment searches):
        only the next requests with that method get it."""
        if body is None:
            body = {"resourceType": "OperationOutcome", "issue": [{
                "severity": "error", "code": ISSUE_CODES.get(status, "processing"),
                "diagnostics": f"fault injected by the test server ({status})"}]}
        failure = _Failure(status, None if retry_after is None else str(retry_after), body, after_commit, method)
        with self._faults.lock:
            self._faults.failures.extend([failure] * times)

    def heal(self) -> None:
        """No more faults: the injected answers not yet given are dropped, held answers are sent."""
        with self._faults.lock:
            self._faults.failures.clear()
        self.release()

    def hold_responses(self) -> None:
        """From now on, SEKMET handles requests (and commits) but their answers wait for ``release``."""
        self._faults.gate.clear()

    def release(self) -> None:
        """Send the held answers (to clients that may have given up) and stop holding."""
        self._faults.gate.set()

    def wait_held(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``count`` answers are being held (their requests are committed); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._faults.held < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True
