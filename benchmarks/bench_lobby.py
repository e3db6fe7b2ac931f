"""Calling a number: from the staff's "Call" to the lobby displays, with 50 displays and 10 staff pages
connected to the site service (their Server-Sent Events streams), beside a bare SSE echo on the same server
software (cheroot, the site listener's thread count, Flask) in the same run: one POST, a message to every
connected stream. And the staff's waiting list page (GET /staff) with the displays connected, beside none.

The site service runs in this process on its embedded SQLCipher file; each display and staff stream is read by
a thread of its own (http.client). A call's latency is the time from sending the staff's POST to a display
reading the event that carries the call (median and p99 over every display and call).

    .venv/bin/python benchmarks/bench_lobby.py [--displays 50] [--staff 10] [--calls 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Reader:
    """One event stream, read on a thread: the arrival time of every ``data:`` line, by what it holds."""

    def __init__(self, url: str, cookies: dict | None = None):
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())} if cookies else {}
        self.connection.request("GET", parts.path, headers=headers)
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.status
        self.seen: list[tuple[float, bytes]] = []
        self.first = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while line := self.response.readline():
                if line.startswith(b"data: "):
                    self.seen.append((time.perf_counter(), line[6:]))
                    self.first.set()
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass

    def arrival(self, needle: bytes, after: float) -> float | None:
        return next((at for at, data in self.seen if at >= after and needle in data), None)

    def close(self) -> None:
        try:
            self.connection.sock.shutdown(2)
        except OSError:
            pass
        self.connection.close()


def bare_echo(threads: int):
    """The baseline: a Flask app on cheroot whose /events streams every message POSTed to /send."""
    from flask import Flask, Response, request

    from kiosk.serving import WsgiServer
    app, changed, messages, stopping = Flask("bare"), threading.Condition(), [], threading.Event()

    @app.get("/events")
    def events():
        def stream():
            seen = len(messages)
            yield "retry: 2000\n\n"
            while not stopping.is_set():
                with changed:
                    changed.wait_for(lambda: len(messages) > seen or stopping.is_set(), 15)
                    new, seen = messages[seen:], len(messages)
                for message in new:
                    yield f"data: {message}\n\n"
        return Response(stream(), mimetype="text/event-stream")

    @app.post("/send")
    def send():
        with changed:
            messages.append(request.get_data(as_text=True))
            changed.notify_all()
        return "", 204
    server = WsgiServer(app, bind="127.0.0.1", port=0, what="bare echo", thread="bare", threads=threads).start()

    def stop() -> None:
        stopping.set()
        with changed:
            changed.notify_all()
        server.stop()
    return server, stop


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def site_service(folder: Path):
    from kiosk import config
    from kiosk.site.db import open_site_db
    from kiosk.site.server import SiteService
    from kiosk.site.staff import SiteStaff
    os.environ["KIOSK_STORE_KEY"] = secrets.token_hex(32)
    settings = config.Settings().replace(
        kiosk=config.KioskSettings(data_dir=str(folder / "data")),
        site=config.SiteSettings(public_url="http://127.0.0.1:8044", patient_port=0, site_port=0),
        queues=config.QueueSettings(displays=("lobby: / de en",), counters=("Desk 1", "Desk 2")))
    service = SiteService(open_site_db(settings), settings).start()
    SiteStaff(service.site).add("Bench", "4711")
    return service


def sign_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/staff", timeout=30)
    session.post(f"{base}/staff/sign-in", data={"csrf_token": CSRF.search(page.text).group(1), "name": "Bench",
                                                "pin": "4711"}, timeout=30)
    page = session.get(f"{base}/staff", timeout=30)
    session.post(f"{base}/staff/settings", data={"csrf_token": CSRF.search(page.text).group(1), "counter": "Desk 1",
                                                 "queue": ["A"]}, timeout=30)
    session.csrf = CSRF.search(session.get(f"{base}/staff", timeout=30).text).group(1)
    return session


def staff_page_ms(session: requests.Session, base: str, rounds: int = 40) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        session.get(f"{base}/staff", timeout=30).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--displays", type=int, default=50)
    parser.add_argument("--staff", type=int, default=10)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    from kiosk.site import tickets
    from kiosk.site.server import SITE_THREADS

    with tempfile.TemporaryDirectory() as folder:
        service = site_service(Path(folder))
        base = service.api.url
        staff = sign_in(base)
        alone_ms = staff_page_ms(staff, base)
        now = datetime.now().astimezone().isoformat()
        for n in range(1, args.calls + 1):
            tickets.register(service.site, tickets.parse_registration(f"adm-{n}", {
                "kiosk": "bench", "queue": "A", "number": f"A-{n:03d}", "created_at": now}))
        displays = [Reader(f"{base}/display/lobby/events") for _ in range(args.displays)]
        pages = [Reader(f"{base}/staff/events", dict(sign_in(base).cookies)) for _ in range(args.staff)]
        for reader in displays + pages:
            reader.first.wait(30)
        crowded_ms = staff_page_ms(staff, base)
        site_latency = []
        for n in range(1, args.calls + 1):
            start = time.perf_counter()
            answer = staff.post(f"{base}/staff/next", data={"csrf_token": staff.csrf},
                                headers={"Accept": "application/json"}, timeout=30)
            answer.raise_for_status()
            needle = f'"number": "A-{n:03d}"'.encode()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(d.arrival(needle, start) is None for d in displays):
                time.sleep(0.002)
            site_latency += [(d.arrival(needle, start) - start) * 1000 for d in displays if d.arrival(needle, start)]
        for reader in displays + pages:
            reader.close()
        service.stop()

    echo, stop_echo = bare_echo(SITE_THREADS)
    readers = [Reader(f"{echo.url}/events") for _ in range(args.displays + args.staff)]
    time.sleep(0.5)
    bare_latency = []
    with requests.Session() as session:
        for n in range(1, args.calls + 1):
            start = time.perf_counter()
            session.post(f"{echo.url}/send", data=json.dumps({"number": f"A-{n:03d}"}), timeout=30)
            needle = f'"A-{n:03d}"'.encode()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(r.arrival(needle, start) is None for r in readers[:args.displays]):
                time.sleep(0.002)
            bare_latency += [(r.arrival(needle, start) - start) * 1000 for r in readers[:args.displays]
                             if r.arrival(needle, start)]
    for reader in readers:
        reader.close()
    stop_echo()

    print(f"{args.displays} displays and {args.staff} staff pages connected, {args.calls} calls "
          f"({len(site_latency)} of {args.displays * args.calls} display events seen)\n")
    print("| what | median | p99 | baseline median | baseline p99 | ratio (median) |")
    print("|---|---|---|---|---|---|")
    print(f"| call to display (site service) vs bare SSE echo | {statistics.median(site_latency):.1f} ms | "
          f"{percentile(site_latency, 0.99):.1f} ms | {statistics.median(bare_latency):.1f} ms | "
          f"{percentile(bare_latency, 0.99):.1f} ms | {statistics.median(site_latency) / statistics.median(bare_latency):.2f}x |")
    print(f"| staff page (GET /staff), displays connected vs none | {crowded_ms:.1f} ms | | {alone_ms:.1f} ms | | "
          f"{crowded_ms / alone_ms:.2f}x |")


if __name__ == "__main__":
    main()
