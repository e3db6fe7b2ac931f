"""The quiet kiosk answers a real touch at once: ``python tests/ui/ui_wakeup.py OUT_DIR`` on an X display.

The app runs as ``kiosk run`` does (``App.run``, SDL's x11 driver) at ``display.idle_fps`` 1 once its
welcome screen is quiet. Another thread then clicks "Start" through the X server (XTest, as a touch panel's
pointer emulation would arrive), clicks Back, and once quiet again inserts a card from the reader thread. Written to OUT_DIR/result.json: how many of the
loop's sleeps input cut short, the frame limit before and after, and the states reached.
"""

import ctypes
import json
import sys
import threading
import time
from pathlib import Path

from uirun import settings_for

from kiosk import app as kiosk_app
from kiosk.store.opening import open_store
from kiosk.screens import wakeup
from kiosk.config import DisplaySettings
from kiosk.checkin.session import State

wakeup.QUIET_AFTER_S = 0.5


def click(x: int, y: int) -> None:
    """A left click at screen position (x, y) through the X server's XTest extension."""
    x11, xtst = ctypes.CDLL("libX11.so.6"), ctypes.CDLL("libXtst.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    for f in (x11.XFlush, x11.XCloseDisplay, xtst.XTestFakeMotionEvent, xtst.XTestFakeButtonEvent):
        f.argtypes = (ctypes.c_void_p, *f.argtypes) if f.argtypes else None
    display = x11.XOpenDisplay(None)
    xtst.XTestFakeMotionEvent(ctypes.c_void_p(display), -1, x, y, 0)
    x11.XFlush(ctypes.c_void_p(display))
    time.sleep(0.05)
    for down in (1, 0):
        xtst.XTestFakeButtonEvent(ctypes.c_void_p(display), 1, down, 0)
        x11.XFlush(ctypes.c_void_p(display))
        time.sleep(0.05)
    x11.XCloseDisplay(ctypes.c_void_p(display))


def main(out: Path) -> None:
    settings = settings_for(out, display=DisplaySettings(idle_fps=1.0))
    kiosk_app.prepare_kivy(settings.data_path / "kivy", headless=False)
    reader, printers = kiosk_app.open_devices(settings)
    app = kiosk_app.build_app(settings, store=open_store(settings), reader=reader, printers=printers)
    result = {}

    def drive() -> None:
        from kivy.clock import Clock
        try:
            time.sleep(2.0)                      # quiet: the loop now sleeps a second a frame
            result.update(wake=app.pacer.wake is not None, quiet_fps=Clock._max_fps,
                          woken_before=app.pacer.wake.woken())
            button = next(w for w in app.frame.walk(restrict=True) if getattr(w, "action", None) == "start")
            x, y = button.to_window(*button.center)
            click(int(x), int(app.root_window.height - y))
            deadline = time.monotonic() + 10
            while app.flow.state is State.WELCOME and time.monotonic() < deadline:
                time.sleep(0.01)
            result.update(after_click=app.flow.state.value, woken_after_click=app.pacer.wake.woken(),
                          fps_after_click=Clock._max_fps)
            time.sleep(0.5)                      # the identify screen drawn
            button = next(w for w in app.frame.walk(restrict=True) if getattr(w, "action", None) == "back")
            x, y = button.to_window(*button.center)
            click(int(x), int(app.root_window.height - y))   # back to the welcome screen: quiet again
            time.sleep(2.0)
            woken = app.pacer.wake.woken()
            result.update(quiet_again=(app.flow.state.value, Clock._max_fps))
            app.reader.insert()                  # a card from the reader's thread: no X input at all
            deadline = time.monotonic() + 10
            while app.flow.state is State.WELCOME and time.monotonic() < deadline:
                time.sleep(0.01)
            result.update(after_card=app.flow.state.value, woken_by_card=app.pacer.wake.woken() - woken)
        finally:
            (out / "result.json").write_text(json.dumps(result), encoding="utf-8")
            Clock.schedule_once(lambda _dt: app.stop())

    threading.Thread(target=drive, daemon=True).start()
    app.run()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
