"""Kivy set for a kiosk, through SDL's own event queue: ``python tests/ui/ui_kiosk_settings.py OUT_DIR``.

The kiosk runs with its screen turned by 90 degrees and a touch panel that reports x mirrored and y
squeezed ([display]). Touches and keys are pushed into SDL (SDL_PushEvent, as X or Xwayland would deliver
them), so they take the whole way a real one takes: Kivy's window, its mouse provider, the calibration,
the rotation, the widgets. A probe square is drawn on the screen and found again in a screenshot, to know
where a finger must go on the glass. Then Escape, F1 and a right click. Writes ``OUT_DIR/screens.json``.
"""

import ctypes
import struct
import sys
from pathlib import Path

from PIL import Image, ImageChops
from uirun import app_for, settings_for

from kiosk.config import DisplaySettings
from kiosk.screens.demo import run_script

DISPLAY = DisplaySettings(rotation=90, touch_x_scale=-1.0, touch_x_offset=1.0, touch_y_scale=0.8, touch_y_offset=0.1)
PROBE = (150, 1000, 120, 120)        # x, y, width, height in the turned window (800 x 1280)

SDL_KEYDOWN, SDL_KEYUP, SDL_MOUSEBUTTONDOWN, SDL_MOUSEBUTTONUP = 0x300, 0x301, 0x401, 0x402
KEYS = {"escape": (41, 27), "f1": (58, 0x4000003A)}       # SDL scancode, SDL keycode
BUTTONS = {"left": 1, "right": 3}


def sdl():
    """The SDL library Kivy's window runs on (the copy inside the Kivy wheel)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        if "libSDL2-2" in line.split()[-1]:
            return ctypes.CDLL(line.split()[-1])
    raise RuntimeError("Kivy's SDL library is not loaded")


def push(lib, *fields) -> None:
    event = ctypes.create_string_buffer(b"".join(fields).ljust(56, b"\0"), 56)     # sizeof(SDL_Event)
    if lib.SDL_PushEvent(event) != 1:
        raise RuntimeError("SDL_PushEvent failed")


def main(out: Path) -> None:
    app = app_for(settings_for(out, display=DISPLAY))

    async def script(app, pilot):
        from kivy.base import EventLoop
        from kivy.core.window import Window
        from kivy.graphics import Color, Rectangle
        from kivy.uix.widget import Widget

        lib = sdl()

        async def click(x: int, y: int, button: str = "left") -> None:
            """A finger (or mouse button) down and up at pixel (x, y) of the screen, from its top left."""
            for kind, state in ((SDL_MOUSEBUTTONDOWN, 1), (SDL_MOUSEBUTTONUP, 0)):
                push(lib, struct.pack("<IIIIBBBBii", kind, 0, 0, 0, BUTTONS[button], state, 1, 0, x, y))
                await pilot.frames(3)

        async def key(name: str) -> None:
            scancode, keycode = KEYS[name]
            for kind, state in ((SDL_KEYDOWN, 1), (SDL_KEYUP, 0)):
                push(lib, struct.pack("<IIIBBBBiiHI", kind, 0, 0, state, 0, 0, 0, scancode, keycode, 0, 0))
                await pilot.frames(3)

        def shot(name: str) -> Image.Image:
            """The screen as the glass shows it. (Window.screenshot reads the turned window's size, not the
            screen's, so it cuts a turned picture.)"""
            from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels
            size = tuple(Window.system_size)
            image = Image.frombytes("RGB", size, glReadPixels(0, 0, *size, GL_RGB, GL_UNSIGNED_BYTE))
            image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)      # OpenGL counts rows from the bottom
            image.save(out / f"{name}.png")
            return image

        class Probe(Widget):
            """Counts the touches that reach it."""

            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.downs, self.ups = [], 0

            def on_touch_down(self, touch):
                if self.collide_point(*touch.pos):
                    self.downs.append(touch.button)
                    return True
                return False

            def on_touch_up(self, touch):
                if self.collide_point(*touch.pos):
                    self.ups += 1
                    return True
                return False

        await pilot.frames(5)
        result = {"window": list(Window.size), "screen": list(Window.system_size), "rotation": Window.rotation}
        before = shot("without-probe")
        probe = Probe(pos=PROBE[:2], size=PROBE[2:], size_hint=(None, None))
        with probe.canvas:
            Color(1, 0, 1)
            Rectangle(pos=probe.pos, size=probe.size)
        Window.add_widget(probe)
        await pilot.frames(5)
        left, top, right, bottom = ImageChops.difference(before, shot("with-probe")).getbbox()
        result["probe_on_screen"] = [left, top, right - left, bottom - top]
        width, height = Window.system_size
        # Where the finger goes on the glass, as fractions of the screen (SDL's pixels from the top left) ...
        glass = ((left + right - 1) / 2 / (width - 1), (top + bottom - 1) / 2 / (height - 1))
        # ... and what this panel reports there: the calibration is glass = panel * scale + offset.
        panel = ((glass[0] - DISPLAY.touch_x_offset) / DISPLAY.touch_x_scale,
                 (glass[1] - DISPLAY.touch_y_offset) / DISPLAY.touch_y_scale)
        result["panel"] = panel
        await click(round(panel[0] * (width - 1)), round(panel[1] * (height - 1)))
        result["probe_after_touch"] = {"downs": list(probe.downs), "ups": probe.ups}
        # The same spot without the calibration misses the probe (the panel's x is mirrored).
        await click(round(glass[0] * (width - 1)), round(glass[1] * (height - 1)))
        result["probe_after_uncalibrated_touch"] = {"downs": list(probe.downs), "ups": probe.ups}
        # A right click is one plain touch too: no multitouch emulation leaves a red dot behind.
        await click(round(panel[0] * (width - 1)), round(panel[1] * (height - 1)), "right")
        result["probe_after_right_click"] = {"downs": list(probe.downs), "ups": probe.ups}
        result["touches_left"] = [t.button for t in EventLoop.touches if t.is_touch]
        Window.remove_widget(probe)

        await pilot.frames(3)
        children = [type(w).__name__ for w in Window.children]
        await key("escape")
        result["after_escape"] = {"event_loop": EventLoop.status, "state": app.flow.state.value}
        await key("f1")
        result["after_f1"] = {"event_loop": EventLoop.status, "window_children": [type(w).__name__ for w in Window.children],
                              "before": children}
        return [result]

    run_script(app, out, script)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
