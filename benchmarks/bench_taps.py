"""Taps from the welcome screen to the ticket, and the time they take: a scripted patient with an eGK card walks
through the real screens (headless), with no intake questions, with the general intake form and with the
basic one; beside them, in the same run, a patient who pre-checked in on their phone (the basic form, a
real site service in this process) scans their arrival code at the kiosk (the simulated scanner) and says
"Yes, this is me". Time: from the card going in (or the scan) to the ticket printed, the taps made as
fast as the screens take them; the ratio is the pre-checked patient's over the card's with the same form.
Targets: at most 5 taps without a questionnaire; 1 for a pre-checked patient. The consent's signature (on
by default) is drawn, not tapped: the table says so beside the count.

    .venv/bin/python benchmarks/bench_taps.py
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from precheckin import site_with_a_pre_checked_patient  # noqa: E402

WALK = """
import json, sys, time
from pathlib import Path
from kiosk import app as kiosk_app
from kiosk.hardware.reader import sample_cards
from kiosk.store.opening import open_store
from kiosk.checkin.session import State
from kiosk.config import DeskSettings, FormsSettings, KioskSettings, ReaderSettings, Settings, SiteSettings
from kiosk.config.sections import ScannerSettings
from kiosk.hardware.printer import PrintOutcome
from kiosk.screens.demo import run_script
from kiosk.screens.walk import check_in

form, out, scanned = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
site = {}
if scanned:        # site URL, the site's secret file, the arrival QR
    site = {"site": SiteSettings(url=scanned[0]), "desk": DeskSettings(peer_secret_file=scanned[1]),
            "scanner": ScannerSettings(kind="simulated")}
settings = Settings(kiosk=KioskSettings(data_dir=str(out / "data"), languages=("de",)),
                    reader=ReaderSettings(kind="simulated"), forms=FormsSettings(intake=form), **site)
kiosk_app.prepare_kivy(out / "data" / "kivy", headless=True)
reader, printers = kiosk_app.open_devices(settings)
app = kiosk_app.build_app(settings, store=open_store(settings), reader=reader, printers=printers)

async def script(app, pilot):
    taps = []
    tap = pilot.tap

    async def counted(action):
        taps.append(action)
        await tap(action)
    pilot.tap = counted
    began = time.perf_counter()
    if scanned:
        app.scanner.scan(scanned[2]).join()
        await pilot.wait_for(lambda: app.flow.state is State.ARRIVAL and not app.flow.session.arrival_asked,
                             "Is this you?")
        await pilot.tap("this_is_me")
        await pilot.wait_for(lambda: app.flow.state is State.DONE and app.flow.session.print_status == PrintOutcome.PRINTED,
                             "the ticket printed")
    else:
        # The card goes in on the welcome screen; the signature is drawn with a finger, not tapped.
        await check_in(app, pilot, sample_cards()[0], card_on_welcome=True, sign=True,
                       printed=lambda status: status == PrintOutcome.PRINTED)
    return [{"taps": taps, "seconds": time.perf_counter() - began}]

run_script(app, out, script)
"""


def walk(form: str, *scan: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", WALK, form, tmp, *scan], check=True, capture_output=True, timeout=300,
                       # a throwaway key for the walk's own encrypted store, as on a kiosk
                       env={"PATH": "/usr/bin:/bin", "HOME": tmp, "KIOSK_STORE_KEY": secrets.token_hex(32),
                            "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
        return json.loads((Path(tmp) / "screens.json").read_text(encoding="utf-8"))["patients"][0]


def main() -> None:
    rows = {form: walk(form) for form in ("no-questions", "intake-general", "intake-basic")}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("KIOSK_STORE_KEY", secrets.token_hex(32))      # the site service's own file
        service, secret, qr = site_with_a_pre_checked_patient(Path(tmp))
        try:
            rows["intake-basic, pre-checked"] = walk("intake-basic", service.api.url, str(secret), qr)
        finally:
            service.stop()
    card = rows["intake-basic"]["seconds"]
    print("| patient, welcome to ticket | taps | and | card in (or scan) to ticket | ratio | what was tapped |")
    print("|---|---|---|---|---|---|")
    for name, done in rows.items():
        how = "the arrival code scanned" if "pre-checked" in name else "a signature drawn with a finger"
        ratio = f"{done['seconds'] / card:.2f}x" if name.startswith("intake-basic") else ""
        print(f"| {name} | {len(done['taps'])} | {how} | {done['seconds']:.2f} s | {ratio} | {', '.join(done['taps'])} |")


if __name__ == "__main__":
    main()
