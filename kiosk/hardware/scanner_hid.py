"""A barcode scanner in USB keyboard (HID) mode, read from its input device with evdev.

Such a scanner types each scan as key presses and ends it with Enter. The kiosk grabs the device
(EVIOCGRAB): its keys then reach only the kiosk, never a focused field of the screens, and a scan is
never taken for a person typing. ``Keys`` turns key events into scans (a pure function of the events:
tested on event sequences as evtest shows them); ``HidScanner`` reads the device and opens it again when
it goes away. evdev is imported only when an HID scanner is opened.

The keys are read as a US keyboard layout (the default of scanners): set the scanner to it.
"""

from __future__ import annotations

import logging
import select
from typing import Any, Iterable

from kiosk.hardware.scanner import MAX_SCAN, DeviceScanner

log = logging.getLogger(__name__)

# From linux/input-event-codes.h (the kernel's ABI; tests/hardware/test_scanner.py checks them against
# evdev's names).
EV_KEY = 1
KEY_ENTER, KEY_KPENTER = 28, 96
SHIFTS = {42, 54}                                   # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
RELEASE, PRESS = 0, 1                               # 2 is autorepeat: a scanner does not hold keys


def _rows(first: int, plain: str, shifted: str) -> dict[int, tuple[str, str]]:
    return {first + i: (p, s) for i, (p, s) in enumerate(zip(plain, shifted, strict=True))}


# The US layout: key code -> (character, with shift).
US_KEYS = {
    **_rows(2, "1234567890-=", "!@#$%^&*()_+"),     # KEY_1 .. KEY_EQUAL
    **_rows(16, "qwertyuiop[]", "QWERTYUIOP{}"),    # KEY_Q .. KEY_RIGHTBRACE
    **_rows(30, "asdfghjkl;'`", 'ASDFGHJKL:"~'),    # KEY_A .. KEY_GRAVE
    **_rows(43, "\\zxcvbnm,./", "|ZXCVBNM<>?"),     # KEY_BACKSLASH .. KEY_SLASH
    57: (" ", " "),                                 # KEY_SPACE
    # The keypad (as with Num Lock on), which some scanners type digits on.
    **{code: (c, c) for code, c in {55: "*", 71: "7", 72: "8", 73: "9", 74: "-", 75: "4", 76: "5", 77: "6",
                                    78: "+", 79: "1", 80: "2", 81: "3", 82: "0", 83: ".", 98: "/"}.items()},
}


class Keys:
    """Key events in, finished scans out. Shift (either) shifts; keys outside the US layout are left out;
    Enter ends the scan, which is stripped (an empty one is none). A scan longer than ``max_chars`` is
    dropped whole, up to its Enter."""

    def __init__(self, max_chars: int = MAX_SCAN):
        self._max = max_chars
        self._chars: list[str] = []
        self._shift: set[int] = set()
        self._overlong = False

    def feed(self, type_: int, code: int, value: int) -> str | None:
        """One event (the fields of a struct input_event); the scan it ends, if it ends one."""
        if type_ != EV_KEY:
            return None
        if code in SHIFTS:
            (self._shift.add if value else self._shift.discard)(code)
            return None
        if value != PRESS:
            return None
        if code in (KEY_ENTER, KEY_KPENTER):
            text, overlong = "".join(self._chars).strip(), self._overlong
            self._chars, self._overlong = [], False
            if overlong:
                log.warning("barcode scanner: a scan of over %d characters was dropped", self._max)
                return None
            return text or None
        if code in US_KEYS and not self._overlong:
            self._chars.append(US_KEYS[code][bool(self._shift)])
            if len(self._chars) > self._max:
                self._chars, self._overlong = [], True
        return None


def scans(events: Iterable[tuple[int, int, int]]) -> list[str]:
    """The scans in a sequence of (type, code, value) events."""
    keys = Keys()
    return [text for event in events if (text := keys.feed(*event)) is not None]


class HidScanner(DeviceScanner):
    """A scanner in USB keyboard mode, grabbed so that its keys reach nothing else.

    :param device: its input device, best its stable /dev/input/by-id/usb-...-event-kbd name
    :param open_device: opens the device and grabs it (default: evdev's InputDevice); what it returns has
        ``fd``, ``read()`` (the waiting events, each with ``type``, ``code``, ``value``) and ``close()``
    """

    kind = "hid"

    def __init__(self, device: str, *, retry_s: float = 1.0, open_device=None):
        super().__init__(device, retry_s)
        self._open_device = open_device or _evdev_device

    def _open(self) -> tuple[Any, Keys]:
        return self._open_device(self.path), Keys()

    def _read(self, device: tuple[Any, Keys]) -> list[str]:
        dev, keys = device
        if not select.select([dev.fd], [], [], 0.2)[0]:
            return []
        try:
            events = list(dev.read())
        except BlockingIOError:                         # woken, but the events were gone
            return []
        return [text for e in events if (text := keys.feed(e.type, e.code, e.value)) is not None]

    def _close(self, device: tuple[Any, Keys]) -> None:
        try:
            device[0].close()                           # closing ends the grab
        except OSError:
            pass                                        # already gone with the device


def _evdev_device(path: str) -> Any:
    import evdev                                        # only a kiosk with an HID scanner needs it
    device = evdev.InputDevice(path)
    try:
        device.grab()                                   # EVIOCGRAB; EBUSY when another program holds it
    except OSError:
        device.close()
        raise
    return device
