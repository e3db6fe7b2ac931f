"""Draining a backlog: 1,000 admissions into the loopback FHIR server (SEKMET, in-process) and into an
MLLP receiver, the kiosk's sync worker beside a bare loop that sends the same messages, in the same run.

FHIR: the kiosk side is ``Sync.run_once`` over a store holding the backlog (each admission read from
SQLite, its transaction Bundle built, POSTed, the answer classified, the row updated). The baseline POSTs
the same Bundles, built beforehand, with a bare ``requests.Session`` loop. Each side drains into a fresh
server. MLLP: the same with ADT^A04 messages against a bare socket loop. Memory: the worker's Python heap
(tracemalloc) after each tenth of the drain, which should stay flat.
Target: within 1.25x of the baseline, memory flat.

    .venv/bin/python benchmarks/bench_sync.py [--admissions N]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

import requests  # noqa: E402
from fhirserver import FhirServer  # noqa: E402
from mllppeer import MllpPeer  # noqa: E402

from kiosk import config
from kiosk.hospital import fhir, hl7v2, outbox, transports
from kiosk.checkin.model import Admission, Coverage, Identifier, Person  # noqa: E402
from kiosk.store import Store  # noqa: E402


def admissions(n: int) -> list[Admission]:
    base = Admission(id="", kiosk_id="lobby-1", created_at="2026-11-27T08:00:00+00:00", language="de",
                     identified_by="card:egk", person=Person(family="Müller", given=("Jürgen",), birth_date="1958-03-21"),
                     coverage=None, consent="accepted")
    out = []
    for i in range(n):
        kvnr = f"X{i:09d}"
        out.append(replace(base, id=f"0b6c7f2e-1d2a-4c57-9f0e-{i:012d}",
                           person=replace(base.person, identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", kvnr),)),
                           coverage=Coverage(payor_system="http://fhir.de/sid/arge-ik/iknr", payor_id="104212505",
                                             payor_name="AOK", subscriber_id=kvnr, start="2020-01-01")))
    return out


def fill(store: Store, backlog: list[Admission], destination: str) -> None:
    for a in backlog:
        store.save_admission(a, destinations=(destination,))


def kiosk_drain(settings: config.Settings, backlog, destination: str, *, trace: bool = False) -> tuple[float, list[int]]:
    """Drain ``backlog`` with the kiosk's worker; with ``trace``, also the heap the worker's side
    (kiosk, SQLite, requests) holds after each tenth (tracing slows it: timed runs do not trace)."""
    with tempfile.TemporaryDirectory() as tmp:
        Store(Path(tmp) / "kiosk.db").close()
        fill_store = Store(Path(tmp) / "kiosk.db")
        fill(fill_store, backlog, destination)
        fill_store.close()
        # As the worker opens it: fsync per delivery record for HL7 v2 (receivers may not de-duplicate a
        # resend after a power cut), none for FHIR.
        store = Store(Path(tmp) / "kiosk.db", power_safe=destination != "fhir")
        transport = transports.open_transport(settings)
        worker = outbox.Sync(store, transport)
        heap: list[int] = []
        if trace:
            tracemalloc.start()
            step, head, seen = max(1, len(backlog) // 10), store.outbox_head, [0]

            def sampling_head(dest):
                seen[0] += 1
                if seen[0] % step == 0:
                    ours = tracemalloc.take_snapshot().filter_traces(
                        [tracemalloc.Filter(True, f"*{part}*") for part in ("/kiosk/", "sqlite", "requests", "urllib3")])
                    heap.append(sum(stat.size for stat in ours.statistics("filename")))
                return head(dest)
            store.outbox_head = sampling_head
        start = time.perf_counter()
        total = worker.run_once().delivered
        elapsed = time.perf_counter() - start
        if trace:
            tracemalloc.stop()
        transport.close()
        store.close()
    assert total == len(backlog), total
    return elapsed, heap


def fhir_baseline(base: str, bodies: list[bytes]) -> float:
    session = requests.Session()
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json", "Prefer": "return=minimal"}
    start = time.perf_counter()
    for body in bodies:
        assert session.post(base, data=body, headers=headers, timeout=30).status_code == 200
    return time.perf_counter() - start


def mllp_baseline(host: str, port: int, messages: list[str]) -> float:
    start = time.perf_counter()
    for message in messages:
        with socket.create_connection((host, port), timeout=30) as sock:
            sock.sendall(b"\x0b" + message.encode("utf-8") + b"\x1c\r")
            answer = b""
            while not answer.endswith(b"\x1c\r"):
                answer += sock.recv(4096)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admissions", type=int, default=1000)
    args = parser.parse_args()
    backlog = admissions(args.admissions)
    rows = []
    options = fhir.FhirOptions()
    bodies = [json.dumps(fhir.transaction(a, options), ensure_ascii=False).encode("utf-8") for a in backlog]
    with FhirServer() as server:
        base_s = fhir_baseline(server.base, bodies)
    def kiosk(settings_for, destination, fresh):
        with fresh() as peer:
            seconds, _ = kiosk_drain(settings_for(peer), backlog, destination)
        with fresh() as peer:
            _, heap = kiosk_drain(settings_for(peer), backlog, destination, trace=True)
        return seconds, heap

    fhir_settings = lambda server: config.Settings(  # noqa: E731
        hospital=config.HospitalSettings(transport="fhir", url=server.base))
    rows.append(("FHIR transaction", *kiosk(fhir_settings, "fhir", FhirServer), base_s))
    h7 = hl7v2.Hl7Options(sending_facility="lobby-1")
    messages = [hl7v2.adt(a, transports.control_id_for(a), h7, sent_at=datetime.now(timezone.utc)) for a in backlog]
    with MllpPeer() as peer:
        base_s = mllp_baseline(peer.host, peer.port, messages)
    mllp_settings = lambda peer: config.Settings(  # noqa: E731
        hospital=config.HospitalSettings(transport="hl7v2", url=peer.url))
    rows.append(("HL7 v2 over MLLP", *kiosk(mllp_settings, "hl7v2", MllpPeer), base_s))
    print(f"| drain {args.admissions} admissions | kiosk | baseline | ratio | worker heap per tenth of the drain |")
    print("|---|---|---|---|---|")
    for name, k, heap, b in rows:
        tenths = " ".join(f"{h / 1024:.0f}" for h in heap)
        print(f"| {name} | {k:.2f} s | {b:.2f} s | {k / b:.2f}x | {tenths} KiB |")


if __name__ == "__main__":
    main()
