"""What the devices raise: a device this build cannot drive, and a print job that did not print."""

from __future__ import annotations

from kiosk.hardware.printer import PrinterState
from kiosk.messages import N_


class DeviceUnavailable(RuntimeError):
    """A device kind or address this build cannot drive; the message is one sentence for IT."""


class PrintFault(RuntimeError):
    """A job that did not print; ``reason`` is a short code for staff (see REASONS)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotAPrinter(PrintFault):
    """What answered is not an ESC/POS printer (see ``Link.hear``)."""

    def __init__(self):
        super().__init__(PrinterState.NOT_A_PRINTER)


# Every reason a job can fail for, as staff read it: English for the command line (`kiosk print`, doctor),
# msgids that staff mode and the desk page translate (kiosk.desk.incidents; every reason needs its translations).
REASONS = {
    "paper_out": N_("the printer is out of paper"),
    "cover_open": N_("the printer's cover is open"),
    "cutter_error": N_("the printer's paper cutter is stuck"),
    "printer_error": N_("the printer reports an error (e.g. an overheated head)"),
    "offline": N_("the printer is offline"),
    "unreachable": N_("the printer cannot be reached (switched off, unplugged or wrong address)"),
    "not_a_printer": N_("something other than a printer answers at that address (a wrong port, such as 80 or 443 "
                        "instead of 9100, or another device on that serial line or device file)"),
    "connection_lost": N_("the connection to the printer broke off during the job"),
    "preview_unwritable": N_("the preview folder cannot be written"),
    "interrupted": N_("the kiosk stopped during the job, so it may or may not have printed"),
    "busy": N_("the same print was being printed from elsewhere (staff or kiosk print) at that moment"),
    "printer_error_unexpected": N_("the printer driver failed (see the log)"),
}
