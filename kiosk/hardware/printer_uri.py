"""The printer a URI names (``open_printer``), and the config's check of such a URI (``uri_problem``)."""

from __future__ import annotations

import threading
from pathlib import Path

from kiosk.hardware.errors import DeviceUnavailable
from kiosk.hardware.escpos_lib import known_profiles
from kiosk.hardware.escpos_printer import EscposPrinter
from kiosk.hardware.preview import PreviewPrinter
from kiosk.hardware.printer import Printer
from kiosk.hardware.printer_links import transport


def uri_problem(uri: str) -> str | None:
    """Why ``uri`` names no printer (a sentence), or None: the config's check."""
    if uri.startswith("preview:") and uri != "preview:":
        return None
    try:
        transport(uri)
    except DeviceUnavailable as e:
        return str(e)
    return None


def open_printer(uri: str, data_dir: str | Path, *, profile: str = "TM-T88V", timeout_s: float = 5.0,
                 lock: threading.Lock | None = None) -> Printer:
    """The printer a URI names; a relative ``preview:DIR`` is inside ``data_dir``. Nothing is opened
    yet: each job opens the printer itself.

    :raises DeviceUnavailable: a malformed URI, an unknown profile, or a missing system tool
    """
    if uri.startswith("preview:"):
        return PreviewPrinter(Path(data_dir) / uri.removeprefix("preview:"))
    printer = EscposPrinter(uri, profile, timeout_s, lock)    # checks the URI
    if profile not in known_profiles():
        raise DeviceUnavailable(f"The printer profile {profile!r} is not one python-escpos knows; "
                                f"use one of {', '.join(sorted(known_profiles()))}.")
    return printer
