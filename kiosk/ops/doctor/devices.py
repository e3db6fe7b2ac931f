"""The rows of the devices: the card reader (through pcscd) and each printer."""

from __future__ import annotations

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
