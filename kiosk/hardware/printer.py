"""What a printer is to the kiosk: one small interface, what a printer says about itself, and the words
for its state and for how a job ended.

The printers behind it: ``EscposPrinter`` (kiosk.hardware.escpos_printer) and ``PreviewPrinter``
(kiosk.hardware.preview), chosen by URI in kiosk.hardware.printer_uri.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from kiosk.hardware.layouts import TicketLayout, WristbandLayout

Layout = TicketLayout | WristbandLayout


class PrinterState(enum.StrEnum):
    """A printer's state in one word, as the printer objects, staff mode, the desk page and the metrics say it.
    The faults it reports itself are among a print job's reasons too (kiosk.hardware.errors.REASONS)."""

    READY = "ready"
    PRINTING = "printing"
    PAPER_LOW = "paper_low"              # prints, but the roll is nearly used up
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    CUTTER_ERROR = "cutter_error"
    PRINTER_ERROR = "printer_error"
    OFFLINE = "offline"
    NOT_A_PRINTER = "not_a_printer"      # something else answers at its address
    FAULT = "fault"                      # its last job did not print (the job's reason says why)
    UNKNOWN = "unknown"                  # it says nothing about itself


class PrintOutcome(enum.StrEnum):
    """Where a print job stands, as the store's ``prints`` table, the check-in and staff record it."""

    PRINTING = "printing"                # not ended yet
    PRINTED = "printed"                  # the printer said after the job that all is well
    UNCONFIRMED = "unconfirmed"          # sent, but the printer did not say whether it printed
    FAILED = "failed"                    # not printed (the job's reason says why)
    INTERRUPTED = "interrupted"          # the kiosk stopped during the job: it may or may not have printed


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself. ``known`` is False when it said nothing: then nothing is
    claimed either way (no reply is "unknown", never "fine"). A device that answered, but not as an
    ESC/POS printer does, is known not to be one (``not_a_printer``: it cannot print)."""

    known: bool = False
    not_a_printer: bool = False
    online: bool = False
    cover_open: bool = False
    paper_out: bool = False
    paper_low: bool = False
    cutter_error: bool = False
    error: bool = False

    @property
    def fault(self) -> PrinterState | None:
        """Why it cannot print, as a reason code, or None when it can (or cannot tell)."""
        if not self.known:
            return None
        for reason, flag in ((PrinterState.NOT_A_PRINTER, self.not_a_printer),
                             (PrinterState.PAPER_OUT, self.paper_out), (PrinterState.COVER_OPEN, self.cover_open),
                             (PrinterState.CUTTER_ERROR, self.cutter_error),
                             (PrinterState.PRINTER_ERROR, self.error), (PrinterState.OFFLINE, not self.online)):
            if flag:
                return reason
        return None


@dataclass(frozen=True)
class PrintResult:
    confirmed: bool                  # the printer answered after the job that all is well
    paper_low: bool = False          # printed, but the roll is nearly used up
    path: Path | None = None         # the PNG a preview printer wrote


class Printer:
    """The interface the app sees. ``print_layout`` blocks: call it off the UI thread."""

    state = PrinterState.UNKNOWN

    def print_layout(self, layout: Layout) -> PrintResult:
        """Print one ticket or wristband; raises PrintFault when it did not print."""
        raise NotImplementedError

    def status(self) -> PrinterStatus:
        return PrinterStatus()
