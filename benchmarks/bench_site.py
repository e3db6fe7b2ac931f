"""The patient pages under load: N patients at once (200 by default) each open their link, type their birth
date, confirm their details, answer the intake form (intake-basic: three questions), sign the consent,
finish and fetch their arrival code, against `kiosk site serve` in a process of its own; beside a bare Flask
page served the same way (cheroot, the patient listener's thread count, in a process of its own) taking the
same number of requests from the same number of patients at once, in the same run. Both backends: the
embedded SQLCipher file and PostgreSQL (Debian's, started in a temporary folder).

Each request is timed alone (redirects not followed). The table gives median and p99 per page, and the
page's median over the bare page's.

    .venv/bin/python benchmarks/bench_site.py [--patients N]
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

import requests  # noqa: E402
from postgres import Postgres  # noqa: E402
from processes import stop  # noqa: E402


STROKES = json.dumps([[[0.1, 0.5], [0.3, 0.7], [0.5, 0.4]], [[0.6, 0.5], [0.9, 0.5]]])
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("open link", "birth date", "details", "question", "consent", "finish", "arrival code")

BARE = """
import sys
from flask import Flask, render_template_string
from kiosk.serving import WsgiServer
app = Flask("bare")
@app.get("/")
def page():
    return render_template_string("<!doctype html><html lang=en><title>{{ t }}</title><p>{{ t }}</p></html>", t="bare")
server = WsgiServer(app, bind="127.0.0.1", port=int(sys.argv[1]), what="bare page", thread="bare", threads=8).start()
print("ready", flush=True)
sys.stdin.read()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_site(folder: Path, database_url: str) -> tuple[subprocess.Popen, str, str, str]:
    key, token = folder / "store.key", secrets.token_hex(32)
    key.write_text(secrets.token_hex(32) + "\n")
    (folder / "api.token").write_text(token + "\n")
    for path in (key, folder / "api.token"):
        path.chmod(0o600)
    patient_port, site_port = free_port(), free_port()
    config = folder / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{folder / "data"}"\n[forms]\nintake = "intake-basic"\n'
                      f'[store]\nkey_file = "{key}"\n[log]\nlevel = "warning"\n'
                      f'[site]\npublic_url = "http://127.0.0.1:{patient_port}"\npatient_port = {patient_port}\n'
                      f'site_port = {site_port}\napi_token_file = "{folder / "api.token"}"\n'
                      f'database_url = "{database_url}"\naddress_limit = 10000\n')
    process = subprocess.Popen([sys.executable, "-m", "kiosk", "site", "serve", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if "Patient pages at" not in process.stdout.readline():
        stop(process)
        raise SystemExit("kiosk site serve did not start")
    return process, f"http://127.0.0.1:{patient_port}", f"http://127.0.0.1:{site_port}", token


def invite(api: str, token: str, n: int) -> list[str]:
    start = (datetime.now().astimezone() + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    paths = []
    with requests.Session() as session:
        for i in range(n):
            body = {"appointment": {"id": f"bench-{i}", "start": start.isoformat(), "location": "Cardiology"},
                    "patient": {"resourceType": "Patient", "name": [{"family": f"Bench{i}", "given": ["Pat"]}],
                                "birthDate": "1980-07-14"}, "language": "en"}
            answer = session.post(f"{api}/api/v1/invitations", json=body, timeout=30,
                                  headers={"Authorization": f"Bearer {token}"})
            answer.raise_for_status()
            paths.append("/p/" + answer.json()["link"].rsplit("/p/", 1)[1])
    return paths


def patient(base: str, path: str) -> list[tuple[str, float]]:
    """One patient's walk; each request timed alone."""
    timed: list[tuple[str, float]] = []
    with requests.Session() as browser:
        def go(page: str, method: str, url: str, data=None) -> requests.Response:
            began = time.perf_counter()
            answer = browser.request(method, base + url, data=data, timeout=120, allow_redirects=False)
            timed.append((page, time.perf_counter() - began))
            if answer.status_code >= 400:
                raise RuntimeError(f"{method} {url}: {answer.status_code}")
            return answer

        go("open link", "GET", path)
        csrf = CSRF.search(go("birth date", "GET", "/checkin").text)[1]
        go("birth date", "POST", "/checkin/birth-date", {"day": "14", "month": "7", "year": "1980", "csrf_token": csrf})
        go("details", "GET", "/checkin/details")
        go("details", "POST", "/checkin/details", {"street": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin",
                                                   "phone": "", "csrf_token": csrf})
        for number, answer in ((1, "appointment"), (2, "false"), (3, "false")):
            go("question", "GET", f"/checkin/questions/{number}")
            go("question", "POST", f"/checkin/questions/{number}", {"answer": answer, "csrf_token": csrf})
        go("consent", "GET", "/checkin/consent")
        go("consent", "POST", "/checkin/consent", {"decision": "accepted", "signature": STROKES, "csrf_token": csrf})
        go("finish", "POST", "/checkin/finish", {"csrf_token": csrf})
        go("arrival code", "GET", "/checkin")
        go("arrival code", "GET", "/checkin/arrival.png")
    return timed


def bare_patient(base: str, requests_each: int) -> list[tuple[str, float]]:
    timed = []
    with requests.Session() as browser:
        for _ in range(requests_each):
            began = time.perf_counter()
            browser.get(base + "/", timeout=120).raise_for_status()
            timed.append(("bare", time.perf_counter() - began))
    return timed


def at_once(work, n: int) -> dict[str, list[float]]:
    by_page: dict[str, list[float]] = defaultdict(list)
    with ThreadPoolExecutor(max_workers=n) as pool:
        for timed in pool.map(work, range(n)):
            for page, seconds in timed:
                by_page[page].append(seconds)
    return by_page


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run(backend: str, database_url: str, n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        folder = Path(tmp)
        site, base, api, token = serve_site(folder, database_url)
        bare_port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE, str(bare_port)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert bare.stdout.readline().strip() == "ready"
            paths = invite(api, token, n)
            pages = at_once(lambda i: patient(base, paths[i]), n)
            each = sum(len(v) for v in pages.values()) // n
            baseline = at_once(lambda i: bare_patient(f"http://127.0.0.1:{bare_port}", each), n)["bare"]
        finally:
            stop(site)
            stop(bare)
    bare_median = statistics.median(baseline)
    print(f"| {backend}, {n} patients at once | requests | median | p99 | bare page median | bare page p99 | ratio |")
    print("|---|---|---|---|---|---|---|")
    for page in PAGES:
        times = pages[page]
        print(f"| {page} | {len(times)} | {statistics.median(times) * 1000:.1f} ms | {p99(times) * 1000:.1f} ms | "
              f"{bare_median * 1000:.1f} ms | {p99(baseline) * 1000:.1f} ms | "
              f"{statistics.median(times) / bare_median:.2f}x |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200, help="patients at once (default 200)")
    args = parser.parse_args()
    run("SQLCipher file", "", args.patients)
    postgres = Postgres().start()
    try:
        run("PostgreSQL", postgres.database(), args.patients)
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
