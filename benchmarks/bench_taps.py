"""Taps from the welcome screen to the ticket: a scripted patient with an eGK card walks through the real
screens (headless), once with no intake questions and once with the general intake form.
Target (issue 6): at most 5 taps without a questionnaire. The consent's signature (on by default) is drawn,
not tapped: the table says so beside the count.

    .venv/bin/python benchmarks/bench_taps.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

WALK = """
import json, sys
from pathlib import Path
from kiosk import app as kiosk_app
from kiosk.config import FormsSettings, KioskSettings, ReaderSettings, Settings
from kiosk.screens.demo import answer_question, run_script
from kiosk.checkin.session import State

out = Path(sys.argv[2])
settings = Settings(kiosk=KioskSettings(data_dir=str(out / "data"), languages=("de",)),
                    reader=ReaderSettings(kind="simulated"), forms=FormsSettings(intake=sys.argv[1]))
kiosk_app.prepare_kivy(out / "data" / "kivy", headless=True)
reader, printers = kiosk_app.open_devices(settings)
app = kiosk_app.build_app(settings, store=kiosk_app.open_store(settings), reader=reader, printers=printers)

async def script(app, pilot):
    taps = []
    tap = pilot.tap

    async def counted(action):
        taps.append(action)
        await tap(action)
    pilot.tap = counted
    await pilot.wait_state(State.WELCOME)
    app.reader.insert(kiosk_app.sample_cards()[0])        # the card goes in on the welcome screen
    await pilot.wait_state(State.CONFIRM)
    await pilot.tap("details_confirmed")
    while app.flow.state is State.QUESTIONS:
        await answer_question(app, pilot, app.flow.question)
    await pilot.wait_state(State.CONSENT)
    await pilot.sign()                  # drawn with a finger, not a tap
    await pilot.tap("consent_accepted")
    await pilot.wait_for(lambda: app.flow.state is State.DONE and app.flow.session.print_status == "printed",
                         "the ticket")
    return [taps]

run_script(app, out, script)
"""


def taps(form: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", WALK, form, tmp], check=True, capture_output=True, timeout=300,
                       env={"PATH": "/usr/bin:/bin", "HOME": tmp})
        return json.loads((Path(tmp) / "screens.json").read_text(encoding="utf-8"))["patients"][0]


def main() -> None:
    print("| eGK patient, welcome to ticket | taps | and | what was tapped |")
    print("|---|---|---|---|")
    for form in ("no-questions", "intake-general"):
        done = taps(form)
        print(f"| {form} | {len(done)} | a signature drawn with a finger | {', '.join(done)} |")


if __name__ == "__main__":
    main()
