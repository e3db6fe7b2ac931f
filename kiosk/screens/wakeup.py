"""A slow frame rate that still answers the first touch at once.

``Pacer`` sets the frame rate: the full one while someone uses the screen, ``display.idle_fps`` once the
welcome screen has waited ``QUIET_AFTER_S`` untouched (an idle Kivy loop costs CPU every frame, all night).

While nobody uses the kiosk, Kivy's loop runs at ``display.idle_fps`` and sleeps between frames; a touch
then waits for the end of that sleep. Here the sleep waits on SDL instead (``SDL_WaitEventTimeout`` with no
event to take, so Kivy still gets it), which ends as soon as input arrives; the frame then runs at once.
Device threads wake it the same way through ``wake()`` (``SDL_PushEvent`` is thread-safe). SDL waits
without polling only where its video driver can (x11, which is Xwayland under cage); elsewhere (the
offscreen driver of tests and the demo) nothing changes.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Callable

SDL_USEREVENT = 0x8000
_EVENT_SIZE = 56                          # sizeof(SDL_Event)
QUIET_AFTER_S = 5.0                       # untouched this long, the welcome screen slows to display.idle_fps


def _sdl():
    """Kivy's own SDL library (the wheel bundles it: the same one its window uses), or None."""
    import kivy
    libs = sorted((Path(kivy.__file__).parent.parent / "Kivy.libs").glob("libSDL2-2-*.so*"))
    if not libs:
        return None
    sdl = ctypes.CDLL(str(libs[0]))
    sdl.SDL_GetCurrentVideoDriver.restype = ctypes.c_char_p
    sdl.SDL_WaitEventTimeout.argtypes = (ctypes.c_void_p, ctypes.c_int)
    sdl.SDL_PushEvent.argtypes = (ctypes.c_void_p,)
    sdl.SDL_SetHint.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    return sdl


def install(clock, *, quiet: Callable[[], bool], woken: Callable[[], None]) -> Callable[[], None] | None:
    """Make ``clock``'s sleeps between frames end on input while ``quiet()``; ``woken()`` runs (on the Kivy
    thread) when one did. Returns ``wake`` for other threads, or None where SDL cannot wait for input."""
    sdl = _sdl()
    if sdl is None or sdl.SDL_GetCurrentVideoDriver() != b"x11":
        return None
    # SDL waits on the display's socket only while it need not poll devices: with a joystick (or a sensor)
    # open it would poll every millisecond instead. The kiosk reads neither.
    for hint in (b"SDL_AUTO_UPDATE_JOYSTICKS", b"SDL_AUTO_UPDATE_SENSORS"):
        sdl.SDL_SetHint(hint, b"0")
    sleep, check_ready = clock.usleep, clock._check_ready
    state = {"input": False, "woken": 0}

    def usleep(microseconds: float) -> None:
        if not quiet():
            sleep(microseconds)
        elif sdl.SDL_WaitEventTimeout(None, max(1, int(microseconds / 1000))):
            state["input"] = True
            state["woken"] += 1
            woken()

    def ready(fps, min_sleep, undershoot):
        if state["input"]:                # end this frame's wait now
            state["input"] = False
            return True, 0.0
        return check_ready(fps, min_sleep, undershoot)

    def wake() -> None:
        event = (ctypes.c_uint8 * _EVENT_SIZE)()
        ctypes.c_uint32.from_buffer(event).value = SDL_USEREVENT
        sdl.SDL_PushEvent(event)

    clock.usleep, clock._check_ready = usleep, ready
    wake.woken = lambda: state["woken"]          # sleeps input has cut short so far (for tests)
    return wake


class Pacer:
    """The frame rate follows use: ``full_fps`` while someone uses the screen, ``idle_fps`` once a screen
    where nobody is (``quiet_screen()``) has waited QUIET_AFTER_S untouched, and the full rate again at the
    first touch (``install``: at once, where SDL can wait for input).

    Kivy has no public way to change its frame limit once its clock runs: it reads ``Clock._max_fps`` before
    every frame, so ``_limit`` and ``_set_limit`` are the one place that reads and writes it.
    """

    def __init__(self, clock, *, full_fps: float, idle_fps: float, quiet_screen: Callable[[], bool]):
        self._clock = clock
        self._full_fps = full_fps
        self._idle_fps = idle_fps
        self._quiet_screen = quiet_screen
        self._slow_down = clock.create_trigger(self._quiet, QUIET_AFTER_S)
        self.wake: Callable[[], None] | None = None    # for other threads, once installed (None: no wake-up)

    def install(self) -> None:
        """Let a touch end the slow loop's sleep at once (``install`` above); call once the window exists."""
        self.wake = install(self._clock, quiet=lambda: 0 < self._limit() < self._full_fps,
                            woken=lambda: self.pace(touched=True))

    def pace(self, *, touched: bool = False) -> None:
        """After a touch (``touched``) or a redraw: the full rate unless the screen is quiet and untouched;
        a quiet screen slows down once it has waited QUIET_AFTER_S."""
        if self._full_fps <= 0:
            return                                # no frame limit at all (a benchmark): leave it so
        quiet = self._quiet_screen()
        if touched or not quiet:
            self._set_limit(self._full_fps)
        self._slow_down.cancel()
        if quiet:
            self._slow_down()

    def _quiet(self, _dt) -> None:
        if self._quiet_screen():
            self._set_limit(min(self._full_fps, self._idle_fps))

    def _limit(self) -> float:
        return self._clock._max_fps

    def _set_limit(self, fps: float) -> None:
        self._clock._max_fps = fps                # Kivy reads it before every frame (it has no setter)
