"""Taps from the welcome screen to the ticket: a scripted patient with an eGK card walks through the real
screens (headless), once with no intake questions and once with the general intake form.
Target: at most 5 taps without a questionnaire. The consent's signature (on by default) is drawn,
not tapped: the table says so beside the count.

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

WALK = """
import json, sys
from pathlib import Path
from kiosk import app as kiosk_app
from kiosk.hardware.reader import sample_cards
from kiosk.store.opening import open_store
from kiosk.config import FormsSettings, KioskSettings, ReaderSettings, Settings
from kiosk.hardware.printer import PrintOutcome
from kiosk.screens.demo import run_script
from kiosk.screens.walk import check_in

out = Path(sys.argv[2])
settings = Settings(kiosk=KioskSettings(data_dir=str(out / "data"), languages=("de",)),
                    reader=ReaderSettings(kind="simulated"), forms=FormsSettings(intake=sys.argv[1]))
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
    # The card goes in on the welcome screen; the signature is drawn with a finger, not tapped.
    await check_in(app, pilot, sample_cards()[0], card_on_welcome=True, sign=True,
                   printed=lambda status: status == PrintOutcome.PRINTED)
    return [taps]

run_script(app, out, script)
"""


def taps(form: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", WALK, form, tmp], check=True, capture_output=True, timeout=300,
                       # a throwaway key for the walk's own encrypted store, as on a kiosk
                       env={"PATH": "/usr/bin:/bin", "HOME": tmp, "KIOSK_STORE_KEY": secrets.token_hex(32),
                            "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
        return json.loads((Path(tmp) / "screens.json").read_text(encoding="utf-8"))["patients"][0]


def main() -> None:
    print("| eGK patient, welcome to ticket | taps | and | what was tapped |")
    print("|---|---|---|---|")
    for form in ("no-questions", "intake-general"):
        done = taps(form)
        print(f"| {form} | {len(done)} | a signature drawn with a finger | {', '.join(done)} |")


if __name__ == "__main__":
    main()
