"""The kiosk as systemd runs it, watchdog and all: ``python tests/ui/ui_sdnotify.py OUT_DIR``.

Run with $NOTIFY_SOCKET and $WATCHDOG_USEC set. The app starts, shows its welcome screen for a while, then
its Kivy thread hangs for a second between two marks the script sends on the same socket
(``X_TEST=hang``, ``X_TEST=resume``): no watchdog ping may come in between. The garbage collector is
paused at start, as the ``kiosk`` command does (kiosk.__main__). Writes ``OUT_DIR/screens.json``.
"""

import gc
import sys
import time
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.ops import sdnotify
from kiosk.screens.demo import run_script

HANG_S = 1.0


def main(out: Path) -> None:
    gc.disable()
    app = app_for(settings_for(out))

    async def script(app, pilot):
        await pilot.frames(15)             # 0.5 s of welcome screen: a few pings
        sdnotify.notify("X_TEST=hang")
        time.sleep(HANG_S)                 # the Kivy thread (this one) stuck, as in a hung screen
        sdnotify.notify("X_TEST=resume")
        await pilot.frames(15)
        return [{"state": app.flow.state.value, "gc_enabled": gc.isenabled(), "gc_frozen": gc.get_freeze_count()}]

    run_script(app, out, script)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
