"""The barcode scanner the config names (``[scanner]``). Apart from ``scanner.py`` so that the drivers,
which build on it, are imported only here, and only the one the config asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.hardware.scanner import BarcodeScanner, SimulatedScanner

if TYPE_CHECKING:                        # handed in: the hardware sits below the config
    from kiosk.config import Settings


def open_scanner(settings: Settings) -> BarcodeScanner | None:
    """The scanner the config names (``scanner.kind``; None for ``none``). The drivers' libraries are
    imported only for the kind that needs them: a kiosk without an HID scanner runs without evdev."""
    s = settings.scanner
    if s.kind == "simulated":
        return SimulatedScanner()
    if s.kind == "serial":
        from kiosk.hardware.scanner_serial import SerialScanner
        return SerialScanner(s.port, baudrate=s.baudrate, line_ending=s.line_ending, encoding=s.encoding)
    if s.kind == "hid":
        from kiosk.hardware.scanner_hid import HidScanner
        return HidScanner(s.hid_device)
    return None
