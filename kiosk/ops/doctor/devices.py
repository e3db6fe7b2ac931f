"""The rows of the devices: the card reader (through pcscd), the barcode scanner and each printer."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from urllib.parse import urlsplit

from kiosk.config import Settings
from kiosk.ops.doctor.output import EXIT_NO_DEVICE, EXIT_PRINTER, Row, fail, ok, warn

_FAULT_ACTIONS = {"paper_out": "put in a new roll", "cover_open": "close the cover",
                  "cutter_error": "open the cover and clear the cutter",
                  "printer_error": "switch it off and on, and call its service if that does not help",
                  "offline": "look at its paper, cover and error light"}


def check_reader(settings: Settings) -> Row:
    """pcscd answers and lists a reader that reader.names lets the kiosk use."""
    if settings.reader.kind == "simulated":
        return warn("card reader", "The reader is simulated (reader.kind = simulated): patients cannot check in with "
                                   "their cards, and its sample cards make test data; set reader.kind = pcsc.")
    from kiosk.hardware.pcsc import Pcsc, PcscUnavailable
    names = settings.reader.names
    try:
        pcsc = Pcsc(names)
        try:
            readers = pcsc.readers()
        finally:
            pcsc.close()
    except PcscUnavailable as e:
        return fail("card reader", f"{str(e)[0].upper()}{str(e)[1:]}: systemctl start pcscd; if it runs, check the "
                                   "polkit rule that lets the kiosk user in.", EXIT_NO_DEVICE)
    if not readers:
        which = f" whose name contains {' or '.join(names)} (reader.names)" if names else ""
        return fail("card reader", f"pcscd runs, but there is no reader{which}: plug the reader in; pcsc_scan lists "
                                   "what pcscd sees.", EXIT_NO_DEVICE)
    return ok("card reader", f"pcscd runs and lists {', '.join(readers)}.")


def check_scanner(settings: Settings) -> Row:
    """The device scanner.port or scanner.hid_device names is there and the kiosk user may read it; an HID
    one is an input device that types Enter. It is not opened as the kiosk opens it: a running kiosk holds it."""
    s = settings.scanner
    if s.kind == "none":
        return ok("scanner", "none: no barcode scanner is set (scanner.kind = none).")
    if s.kind == "simulated":
        return warn("scanner", "The scanner is simulated (scanner.kind = simulated): arrival codes cannot be scanned; "
                               "set scanner.kind = serial or hid.")
    key = "scanner.port" if s.kind == "serial" else "scanner.hid_device"
    path = s.port if s.kind == "serial" else s.hid_device
    listing = "ls -l /dev/serial/by-id" if s.kind == "serial" else "ls -l /dev/input/by-id"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
            return fail("scanner", f"There is no {path} ({key}): plug the scanner in, or set {key} to the name "
                                   f"{listing} shows for it.", EXIT_NO_DEVICE)
        if e.errno == errno.EACCES:
            who = "dialout group" if s.kind == "serial" else "udev rule for the scanner (docs/operations.md)"
            return fail("scanner", f"The kiosk user may not read {path} ({key}): check its {who}.", EXIT_NO_DEVICE)
        return fail("scanner", f"{path} ({key}) cannot be opened ({e.strerror}).", EXIT_NO_DEVICE)
    os.close(fd)
    if s.kind == "hid":
        return _check_input_device(path, key)
    return ok("scanner", f"{path} is there and the kiosk user may read it.")


def _check_input_device(path: str, key: str) -> Row:
    try:
        import evdev
    except ImportError:
        return fail("scanner", "evdev, which reads a scanner in keyboard mode (scanner.kind = hid), is not installed: "
                               "run deploy/install.sh again.", EXIT_NO_DEVICE)
    try:
        device = evdev.InputDevice(path)
    except OSError:
        return fail("scanner", f"{path} ({key}) is not an input device: set {key} to the scanner's "
                               "/dev/input/by-id/...-event-kbd.", EXIT_NO_DEVICE)
    try:
        if evdev.ecodes.KEY_ENTER not in device.capabilities().get(evdev.ecodes.EV_KEY, []):
            return fail("scanner", f"{path} ({key}) types no Enter, so it is no keyboard: set {key} to the scanner's "
                                   "-event-kbd device.", EXIT_NO_DEVICE)
        return ok("scanner", f"{path} is the input device {device.name!r}, and the kiosk user may read it.")
    finally:
        device.close()


def check_printer(settings: Settings, kind: str) -> Row:
    """The printer of ``kind`` (ticket, wristband) can be reached and reports paper in, cover closed, online."""
    from kiosk.hardware import printing
    from kiosk.hardware.errors import REASONS, DeviceUnavailable, PrintFault
    from kiosk.hardware.preview import PreviewPrinter
    from kiosk.hardware.printer_uri import open_printer
    name, key = f"{kind} printer", f"printer.{kind}.uri"
    section = getattr(settings.printer, kind)
    uri = section.uri
    if not uri:
        return warn(name, f"No {kind} printer is set ({key} is empty): patients get no {kind}.")
    try:
        printer = open_printer(uri, settings.kiosk.data_dir, profile=section.profile, timeout_s=section.timeout_s)
        if kind == "wristband":
            printing.check_band_profile(printer)
    except DeviceUnavailable as e:
        return fail(name, str(e), EXIT_NO_DEVICE)
    if isinstance(printer, PreviewPrinter):
        return warn(name, f"{uri} writes pictures into {printer.folder}, not on paper: set {key} to the printer.")
    parts = urlsplit(uri)
    if parts.scheme == "cups":
        return warn(name, f"{uri}: CUPS does not pass on the printer's paper and cover state; lpstat -p shows the queue.")
    if parts.scheme == "file" and Path(parts.path).is_file():
        return ok(name, f"{uri} is a plain file, not a printer: what the kiosk prints is written into it.")
    try:
        status = printer.probe()
    except PrintFault:
        return fail(name, f"{uri} cannot be reached within {section.timeout_s:g} s: check that the printer is switched "
                          f"on and connected, and that {key} is its address.", EXIT_NO_DEVICE)
    if status.not_a_printer:
        return fail(name, f"{uri}: {REASONS['not_a_printer']}: set {key} to the printer's address.", EXIT_NO_DEVICE)
    if not status.known:
        return warn(name, f"{uri} is there but does not answer status queries (DLE EOT): the kiosk cannot tell when "
                          "its paper runs out; turn real-time status on in the printer's settings.")
    if status.fault:
        return fail(name, f"{uri}: {REASONS[status.fault]}: {_FAULT_ACTIONS[status.fault]}.", EXIT_PRINTER)
    if status.paper_low:
        return warn(name, f"{uri} is online, but its paper is nearly used up: put in a new roll soon.")
    return ok(name, f"{uri} is online, with paper and its cover closed.")
