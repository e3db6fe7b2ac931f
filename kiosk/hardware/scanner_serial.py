"""A barcode scanner on a serial port or a USB-CDC one (``/dev/ttyACM0``), through pyserial.

Such a scanner sends each scan as a line of text: the code, then the suffix set in the scanner (CR, LF or
CR LF). ``Lines`` cuts the bytes into scans; ``SerialScanner`` reads the port and opens it again when it
goes away (a USB scanner unplugged).
"""

from __future__ import annotations

import codecs
import logging
import re

import serial

from kiosk.hardware.scanner import MAX_SCAN, DeviceScanner

log = logging.getLogger(__name__)

# How each line_ending setting ends a scan; "any" takes CR, LF and CR LF alike (the empty line between
# CR and LF is no scan).
LINE_ENDINGS = {"any": re.compile(rb"\r|\n"), "cr": re.compile(rb"\r"), "lf": re.compile(rb"\n"),
                "crlf": re.compile(rb"\r\n")}


class Lines:
    """Bytes in, finished scans out: split at the line ending, decoded in the scanner's character set (a
    byte that is not valid in it becomes U+FFFD), stripped; empty lines are dropped. A line longer than
    ``max_bytes`` is dropped whole, up to its end, so a scanner that never sends the suffix cannot grow it.
    """

    def __init__(self, line_ending: str = "any", encoding: str = "utf-8", max_bytes: int = MAX_SCAN):
        self._split = LINE_ENDINGS[line_ending]
        codecs.lookup(encoding)                                 # a bad name fails here, not at the first scan
        self._encoding = encoding
        self._max = max_bytes
        self._buffer = b""
        self._overlong = False

    def feed(self, data: bytes) -> list[str]:
        *lines, self._buffer = self._split.split(self._buffer + data)
        scans = []
        for line in lines:
            if self._overlong or len(line) > self._max:
                log.warning("barcode scanner: a scan of over %d bytes was dropped", self._max)
                self._overlong = False
                continue
            text = line.decode(self._encoding, errors="replace").strip()
            if text:
                scans.append(text)
        if len(self._buffer) > self._max:
            self._buffer, self._overlong = b"", True
        return scans


class SerialScanner(DeviceScanner):
    """A scanner on a serial or USB-CDC port.

    :param port: the port, best its stable /dev/serial/by-id/... name
    :param baudrate: as set in the scanner (a USB-CDC port ignores it)
    :param line_ending: the scanner's suffix: any, cr, lf or crlf
    :param encoding: the character set it sends, a Python codec name
    """

    kind = "serial"

    def __init__(self, port: str, *, baudrate: int = 9600, line_ending: str = "any", encoding: str = "utf-8",
                 retry_s: float = 1.0):
        super().__init__(port, retry_s)
        self.baudrate = baudrate
        self._lines = lambda: Lines(line_ending, encoding)
        self._lines()                                   # a bad line_ending or encoding fails at once

    def _open(self) -> tuple[serial.Serial, Lines]:
        # exclusive: a second program (or kiosk) opening the same scanner fails instead of taking half its scans
        port = serial.Serial(self.path, self.baudrate, timeout=0.2, exclusive=True)
        return port, self._lines()                      # what was half-read before an unplug is dropped

    def _read(self, device: tuple[serial.Serial, Lines]) -> list[str]:
        port, lines = device
        return lines.feed(port.read(port.in_waiting or 1))

    def _close(self, device: tuple[serial.Serial, Lines]) -> None:
        device[0].close()
