"""Barcode scanners behind one small interface, with a simulated twin.

A scanner reports what happens through its ``on_*`` callbacks, called from the scanner's own thread, as a
card reader does (``reader.py``). ``SerialScanner`` (``scanner_serial.py``) reads a scanner on a serial or
USB-CDC port, ``HidScanner`` (``scanner_hid.py``) one in USB keyboard mode; both are a ``DeviceScanner``:
a device file read on a thread of its own, opened again when it goes away. ``SimulatedScanner`` scans what
it is given. ``scanning.open_scanner`` opens the one the config names.

What a scanner reads is never logged: an arrival code stands for a patient's check-in.
"""

from __future__ import annotations

import enum
import errno
import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)

MAX_SCAN = 4096                          # longest scan taken (characters; a QR code holds at most 7089 digits,
                                         # an arrival code some dozens): a stuck scanner cannot fill the memory

# What an OSError's errno says about the device: gone (unplugged, never there) or there but not usable.
_GONE = {errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO, None}


class ScannerState(enum.StrEnum):
    NO_SCANNER = "no_scanner"    # not started, not connected, or unplugged
    READY = "ready"              # open, waiting for a scan
    FAULT = "fault"              # there, but cannot be used (permissions, another program holds it)


class BarcodeScanner:
    """The interface the app sees. Subclasses set ``state`` and call the ``on_*`` callbacks."""

    def __init__(self) -> None:
        self.state = ScannerState.NO_SCANNER
        self.on_scan: Callable[[str], None] = lambda text: None
        self.on_fault: Callable[[str], None] = lambda reason: None    # no_scanner | scanner_error
        self.on_ready: Callable[[], None] = lambda: None              # open: at start, and back after a fault

    def start(self) -> None:
        """Begin waiting for scans."""

    def stop(self) -> None:
        """Stop waiting; no callback is called after this returns."""


class SimulatedScanner(BarcodeScanner):
    """A scanner that 'scans' the texts it is handed, for demos, tests and benchmarks.

    ``unplug()`` makes it report a fault as a real scanner does when it is pulled out, ``plug_in()`` brings
    it back.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self.state = ScannerState.READY
        self.on_ready()

    def stop(self) -> None:
        with self._lock:
            self.state = ScannerState.NO_SCANNER

    def scan(self, text: str) -> threading.Thread:
        """Scan ``text`` on a thread of its own (nothing happens while the scanner is not ready)."""
        thread = threading.Thread(target=self._scan, args=(text,), name="simulated-scanner", daemon=True)
        thread.start()
        return thread

    def _scan(self, text: str) -> None:
        with self._lock:
            if self.state is not ScannerState.READY:
                return
            self.on_scan(text)

    def unplug(self, reason: str = "no_scanner") -> None:
        """The scanner is gone: ``on_fault(reason)``, and no scan until ``plug_in``."""
        with self._lock:
            self.state = ScannerState.NO_SCANNER
        self.on_fault(reason)

    def plug_in(self) -> None:
        """The scanner is back: ``on_ready()``."""
        with self._lock:
            if self.state is ScannerState.READY:
                return
            self.state = ScannerState.READY
        self.on_ready()


class DeviceScanner(BarcodeScanner):
    """A scanner on a device file, read on a thread of its own; a device that goes away (unplugged) is a
    fault, and is opened again every ``retry_s`` seconds until it is back.

    Subclasses open the device (``_open``; an OSError whose errno says "not there" is ``no_scanner``, any
    other ``scanner_error``), read what it sent within about 0.2 s as finished scans (``_read``; an OSError
    means it went away), and close it (``_close``).

    :param path: the device file
    """

    kind = "device"

    def __init__(self, path: str, retry_s: float = 1.0):
        super().__init__()
        self.path = path
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.kind}-scanner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5)
        self.state = ScannerState.NO_SCANNER

    def _open(self) -> Any:
        raise NotImplementedError

    def _read(self, device: Any) -> list[str]:
        raise NotImplementedError

    def _close(self, device: Any) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        fault: str | None = None
        while not self._stop.is_set():
            try:
                device = self._open()
            except Exception as e:            # OSError: its errno tells gone from unusable; else a driver's bug
                gone = isinstance(e, OSError) and e.errno in _GONE
                fault = self._fault(fault, "no_scanner" if gone else "scanner_error", e)
                self._stop.wait(self.retry_s)
                continue
            self.state = ScannerState.READY
            if fault is not None:
                log.info("barcode scanner ready")
                fault = None
            self.on_ready()
            try:
                while not self._stop.is_set():
                    for text in self._read(device):
                        if self._stop.is_set():
                            break
                        log.debug("barcode scanned (%d characters)", len(text))
                        self.on_scan(text)
            except OSError as e:
                fault = self._fault(fault, "no_scanner", e)
            except Exception as e:            # never let the thread die: the kiosk would stop taking scans
                log.error("barcode scanner failed (%s); opening it again", type(e).__name__)
                fault = self._fault(fault, "scanner_error", e)
            finally:
                self._close(device)
            self._stop.wait(self.retry_s)

    def _fault(self, current: str | None, reason: str, error: Exception) -> str:
        self.state = ScannerState.NO_SCANNER if reason == "no_scanner" else ScannerState.FAULT
        if current != reason:
            log.warning("barcode scanner fault: %s (%s: %s)", reason, self.path, getattr(error, "strerror", None)
                        or type(error).__name__)
            self.on_fault(reason)
        return reason

