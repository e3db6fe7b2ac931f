"""Printing: bytes sent and time from "print" to the printer's last answer, the kiosk beside a raw-socket
baseline, in the same run, against the same loopback port-9100 printer (tests/support/fakeprinter.py).

The kiosk side is ``EscposPrinter.print_layout(layout)``: the layout drawn into ESC/POS bytes (text and
native QR for a ticket, a 192 x 2200 dot picture for a wristband), status asked (DLE EOT 1-4), the job
sent with GS r 1 and its answer awaited, status asked again. The baseline has the finished bytes
already and holds the same conversation (DLE EOT 1-4, the job and GS r 1, DLE EOT 1-4) with a plain
socket. The "bytes already drawn" rows time the kiosk's printer transport alone (the same finished
bytes on both sides). Runs alternate so that machine noise hits both alike. Also printed: the CPU
time to get a ticket's bytes ready, in a fresh process (first ticket, imports included) and warm.
Targets: within 1.5x of the baseline; a ticket ready in under 150 ms of CPU.

    .venv/bin/python benchmarks/bench_print.py [--rounds N]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from fakeprinter import NetPrinter  # noqa: E402

from kiosk.hardware import escpos_jobs, layouts  # noqa: E402
from kiosk.hardware.escpos_printer import EscposPrinter  # noqa: E402
from kiosk.i18n import Catalogs  # noqa: E402
from kiosk.checkin.model import Admission, Identifier, Person  # noqa: E402

STATUS = [b"\x10\x04" + bytes([n]) for n in (1, 2, 3, 4)]
GS_R_1 = b"\x1dr\x01"          # "tell me when you are through the job"
ADMISSION = Admission(id="7d1e4c2a-0000-4000-8000-000000000001", kiosk_id="lobby-1",
                      created_at="2026-11-27T08:15:00+00:00", language="de", identified_by="card:egk",
                      queue_number="A-042",
                      person=Person(family="Müller-Lüdenscheidt", given=("Jürgen", "Heinz"), birth_date="1958-03-21",
                                    identifiers=(Identifier("kvid", "X110411675"),)))
CATALOGS = Catalogs(["de"])
COLD = """
import time
t = time.process_time()
from kiosk.hardware import escpos_jobs, layouts
from kiosk.i18n import Catalogs
import bench_print
escpos_jobs.ticket_job(layouts.ticket_for(bench_print.ADMISSION, Catalogs(["de"])), "TM-T88V")
print(time.process_time() - t)
"""


def baseline(port: int, job: bytes) -> int:
    """The same conversation over a plain socket; returns the bytes sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)     # as the kiosk does
        sent = 0
        for part in (STATUS, [job + GS_R_1], STATUS):
            for message in part:
                sock.sendall(message)
                sent += len(message)
                assert sock.recv(16)
    return sent


def measure(layout, profile: str, build, rounds: int, drawn: bool = False) -> dict:
    """``drawn``: the kiosk side also starts from the finished bytes (its transport alone)."""
    job = build(layout, profile)
    times = {"kiosk": [], "baseline": []}
    sent = {}
    with NetPrinter() as fake:
        printer = EscposPrinter(fake.uri, profile)
        for i in range(rounds * 2):
            who = ("kiosk", "baseline")[(i + i // 2) % 2]      # k b b k k b ...: neither always goes first
            before = len(fake.received)
            start = time.perf_counter()
            if who == "kiosk":
                assert (printer._send(job) if drawn else printer.print_layout(layout)).confirmed
            else:
                baseline(fake.port, job)
            times[who].append(time.perf_counter() - start)
            fake.wait_idle()
            sent[who] = len(fake.received) - before
    return {"bytes": sent, "median_ms": {k: statistics.median(v) * 1000 for k, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="jobs per side and layout (default 30)")
    args = parser.parse_args()
    here = Path(__file__).resolve().parent
    path = f"{here.parent}:{here}:{here.parent / 'tests' / 'support'}"    # this checkout's kiosk, not an installed one
    cold = float(subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True,
                                cwd=here, env={"PYTHONPATH": path}).stdout)
    warm = []
    for _ in range(args.rounds):
        t = time.process_time()
        escpos_jobs.ticket_job(layouts.ticket_for(ADMISSION, CATALOGS), "TM-T88V")
        warm.append(time.process_time() - t)
    ticket, band = layouts.ticket_for(ADMISSION, CATALOGS), layouts.wristband_for(ADMISSION, CATALOGS)
    rows = [("ticket (TM-T88V), from print", measure(ticket, "TM-T88V", escpos_jobs.ticket_job, args.rounds)),
            ("wristband (TM-L90), from print", measure(band, "TM-L90", escpos_jobs.wristband_job, args.rounds)),
            ("ticket, bytes already drawn", measure(ticket, "TM-T88V", escpos_jobs.ticket_job, args.rounds, True)),
            ("wristband, bytes already drawn", measure(band, "TM-L90", escpos_jobs.wristband_job, args.rounds, True))]
    print("| print job | bytes kiosk | bytes baseline | median kiosk | median baseline | ratio |")
    print("|---|---|---|---|---|---|")
    for name, r in rows:
        k, b = r["median_ms"]["kiosk"], r["median_ms"]["baseline"]
        print(f"| {name} | {r['bytes']['kiosk']} | {r['bytes']['baseline']} | {k:.1f} ms | {b:.1f} ms | {k / b:.2f}x |")
    print()
    print(f"CPU to get a ticket's bytes ready: first in a fresh process {cold * 1000:.0f} ms (imports included), "
          f"then median {statistics.median(warm) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
