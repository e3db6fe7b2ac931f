"""Check-ins through the real screens (headless, simulated card reader, a loopback network printer):
memory after many patients, and the time from the patient's last tap to the ticket and the stored admission.

Memory: resident memory after 20 and after 500 scripted check-ins; the baseline is the
figure after 20, so the ratio is the growth. Target: under 10 MB more after 500. The patients run
with Kivy's frame limit off and the script's waits shortened, so that 500 fit in a few minutes; each
still inserts a card, taps through confirm, the intake form's questions, signs the consent with a
drawn stroke, gets a ticket printed and taps Finish.

Latency: from the finger lifting off "I agree" (the last tap) until the admission is
committed to the store and the ticket's last byte has reached the printer, at the kiosk's real 30
frames a second; the baseline, in the same process, stores the same admission in a store of its own
and sends the same ticket bytes over a plain socket to the same printer. Target: under 300 ms.

    .venv/bin/python benchmarks/bench_checkins.py [--patients N] [--timed N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import asyncio, gc, json, os, socket, sys, time, uuid
from dataclasses import replace
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from fakeprinter import NetPrinter
from kiosk import app as kiosk_app
from kiosk.hardware.reader import sample_cards
from kiosk.store.opening import open_store
from kiosk.screens import demo, walk
from kiosk.config import KioskSettings, PrinterSettings, ReaderSettings, Settings, TicketPrinterSettings
from kiosk.checkin.session import State

mode, count, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])


class StampedPrinter(NetPrinter):
    last_byte_at = 0.0

    def feed(self, chunk):
        answer = super().feed(chunk)
        self.last_byte_at = time.perf_counter()
        return answer


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


printer = StampedPrinter().__enter__()
settings = Settings(kiosk=KioskSettings(data_dir=str(out / "data"), languages=("de",)),
                    reader=ReaderSettings(kind="simulated"),
                    printer=PrinterSettings(ticket=TicketPrinterSettings(uri=printer.uri)))
kiosk_app.prepare_kivy(out / "data" / "kivy", headless=True)
if mode == "memory":                      # as fast as the screens go: no frame limit, short waits
    os.environ["KCFG_GRAPHICS_MAXFPS"] = "0"

    async def frames(self, n=3):
        for _ in range(n):
            await asyncio.sleep(0.002)
    demo.Pilot.frames = frames
reader, printers = kiosk_app.open_devices(settings)
app = kiosk_app.build_app(settings, store=open_store(settings), reader=reader, printers=printers)
committed = []
save = app.store.save_admission


def timed_save(*args, **kwargs):
    saved = save(*args, **kwargs)
    committed.append(time.perf_counter())
    return saved


app.store.save_admission = timed_save


async def check_in(app, pilot, card, timed):
    await walk.to_confirm(app, pilot, card)
    await walk.to_consent(app, pilot)
    await pilot.sign()
    app.reader.remove()
    jobs = len(printer.connections)
    button = pilot.button("consent_accepted")
    from kivy.base import EventLoop
    touch = demo._Touch(pilot.window, *button.to_window(*button.center))
    EventLoop.post_dispatch_input("begin", touch)
    await pilot.frames(2)
    lifted = time.perf_counter()
    EventLoop.post_dispatch_input("end", touch)
    await pilot.wait_for(lambda: app.flow.state is State.DONE and app.flow.session.print_status == "printed",
                         "the ticket")
    printer.wait_idle()
    assert len(printer.connections) > jobs, "no ticket reached the printer"
    latency = max(committed[-1], printer.last_byte_at) - lifted
    await pilot.tap("finish")
    return latency


async def script(app, pilot):
    cards = sample_cards()
    figures = {"latency_ms": [], "rss_mib": {}}
    for n in range(1, count + 1):
        latency = await check_in(app, pilot, cards[n % len(cards)], mode == "latency")
        figures["latency_ms"].append(latency * 1000)
        if n in (20, count):
            await pilot.frames(5)
            gc.collect()
            figures["rss_mib"][n] = rss_mib()
    if mode == "latency":                 # the baseline: the same admission stored, the same bytes sent
        last = app.store.last_admission()
        job = printer.connections[-1]
        store = open_store(settings.replace(kiosk=replace(settings.kiosk, data_dir=str(out / "base"))))
        base = []
        for _ in range(count):
            start = time.perf_counter()
            store.save_admission(replace(last, id=str(uuid.uuid4())))
            arrived = len(printer.received)
            with socket.create_connection(("127.0.0.1", printer.port), timeout=5) as sock:
                sock.sendall(job)
                printer.wait_received(arrived + len(job))
            base.append((max(time.perf_counter(), printer.last_byte_at) - start) * 1000)
        figures["baseline_ms"] = base
    return [figures]


summary = demo.run_script(app, out, script)
printer.__exit__(None, None, None)
print(json.dumps(summary["patients"][0]))
"""


def run(mode: str, count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "KIOSK_STORE_KEY": secrets.token_hex(32),
               "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        done = subprocess.run([sys.executable, "-c", CHILD, mode, str(count), tmp, str(ROOT / "tests" / "support")],
                              capture_output=True, text=True, timeout=3600, env=env)
        if done.returncode:
            sys.exit(f"the {mode} run failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=500, help="check-ins for the memory figure (default 500)")
    parser.add_argument("--timed", type=int, default=20, help="check-ins timed for the latency (default 20)")
    args = parser.parse_args()

    memory = run("memory", args.patients)
    rss = {int(k): v for k, v in memory["rss_mib"].items()}
    after20, after_all = rss[20], rss[args.patients]
    print("| memory | after 20 check-ins | after %d | growth | ratio |" % args.patients)
    print("|---|---|---|---|---|")
    print(f"| resident (RSS) | {after20:.1f} MiB | {after_all:.1f} MiB | {after_all - after20:+.1f} MiB "
          f"| {after_all / after20:.2f}x |")
    print()
    latency = run("latency", args.timed)
    kiosk, base = latency["latency_ms"], latency["baseline_ms"]
    print("| last tap to ticket and stored admission | median | max | baseline median | ratio |")
    print("|---|---|---|---|---|")
    print(f"| {len(kiosk)} check-ins, 30 fps | {statistics.median(kiosk):.0f} ms | {max(kiosk):.0f} ms "
          f"| {statistics.median(base):.1f} ms | {statistics.median(kiosk) / statistics.median(base):.1f}x |")


if __name__ == "__main__":
    main()
