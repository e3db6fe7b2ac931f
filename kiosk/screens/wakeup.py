"""A slow frame rate that still answers the first touch at once.

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
