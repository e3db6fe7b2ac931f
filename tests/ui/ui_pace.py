"""The frame rate follows use: ``python tests/ui/ui_pace.py OUT_DIR``.

The real app on the welcome screen, untouched, slows to ``display.idle_fps``; a touch brings the full
rate back at once, and so does a card (a patient on any other screen keeps it); back on the welcome
screen and untouched again, it slows down again. The wait before slowing down is cut to 1.5 s here
(``QUIET_AFTER_S``, 5 s on a kiosk). Records ``Clock._max_fps`` (the limit Kivy's loop keeps to) and
how many frames the loop ran in a second of each. Writes ``OUT_DIR/screens.json``.
"""

import asyncio
import sys
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.screens import wakeup
from kiosk.config import DisplaySettings
from kiosk.screens.demo import run_script
from kiosk.checkin.session import State

wakeup.QUIET_AFTER_S = 1.5
QUIET_S = 1.8                  # waited before each quiet sample


def main(out: Path) -> None:
    app = app_for(settings_for(out, display=DisplaySettings(idle_fps=4.0)))

    async def script(app, pilot):
        from kivy.clock import Clock

        async def sample(name: str) -> None:
            frames = Clock.frames
            await asyncio.sleep(1.0)
            seen[name] = {"max_fps": Clock._max_fps, "frames_in_1s": Clock.frames - frames,
                          "state": app.flow.state.value}

        seen = {}
        await pilot.wait_state(State.WELCOME)
        await asyncio.sleep(QUIET_S)
        await sample("welcome_untouched")
        await pilot.tap("language:en")                  # a touch on the welcome screen
        # The slow loop takes the touch at its next frame (no wake-up under the offscreen driver).
        await pilot.wait_for(lambda: app.tr.language == "en", "the touch to be taken")
        seen["welcome_touched"] = {"max_fps": Clock._max_fps}
        await asyncio.sleep(QUIET_S)
        await sample("welcome_untouched_again")
        app.reader.insert()                             # a card, no touch
        await pilot.wait_state(State.CONFIRM)
        await asyncio.sleep(QUIET_S)                        # a patient reading the confirm screen, not touching
        await sample("confirm_untouched")
        await pilot.tap("back")                         # confirm -> identify -> welcome (wiped)
        await pilot.wait_state(State.IDENTIFY)
        await pilot.tap("back")
        await pilot.wait_state(State.WELCOME)
        await asyncio.sleep(QUIET_S)
        await sample("welcome_after_the_patient")
        return [seen]

    run_script(app, out, script)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
