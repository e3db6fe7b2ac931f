"""A printer that writes each ticket and wristband as a PNG (``preview:DIR``), and the purge of what it wrote."""

from __future__ import annotations

import threading
from pathlib import Path

from kiosk.hardware.errors import PrintFault
from kiosk.hardware.layouts import TicketLayout
from kiosk.hardware.printer import Layout, Printer, PrinterState, PrinterStatus, PrintResult


class PreviewPrinter(Printer):
    """Renders each ticket and wristband as a PNG in ``folder`` instead of printing it.

    ``fault`` (e.g. "paper_out") makes the next jobs fail as a real printer would, for demos and tests.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.fault: str | None = None
        self.last: dict[str, Path] = {}          # "ticket" / "wristband" -> the newest PNG
        self.state = PrinterState.READY
        self._lock = threading.Lock()

    def status(self) -> PrinterStatus:
        return PrinterStatus(known=True, online=self.fault is None, paper_out=self.fault == PrinterState.PAPER_OUT,
                             cover_open=self.fault == PrinterState.COVER_OPEN)

    def print_layout(self, layout: Layout) -> PrintResult:
        from kiosk.hardware import raster
        kind = "ticket" if isinstance(layout, TicketLayout) else "wristband"
        with self._lock:
            if self.fault:
                self.state = PrinterState.FAULT
                raise PrintFault(self.fault)
            self.state = PrinterState.PRINTING
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                path = self.folder / f"{kind}-{getattr(layout, 'queue_number', '')}-{layout.admission_id[:8]}.png"
                image = raster.ticket_png(layout) if kind == "ticket" else raster.wristband_landscape(layout)
                image.save(path)
            except OSError as e:
                self.state = PrinterState.FAULT
                raise PrintFault("preview_unwritable") from e
            self.state = PrinterState.READY
            self.last[kind] = path
            return PrintResult(confirmed=True, path=path)


def forget_pictures(folder: Path, before: float) -> int:
    """Delete the pictures a PreviewPrinter wrote into ``folder`` before ``before`` (a time.time()); returns
    how many. A wristband's shows the patient's name: the retention purge calls this (kiosk.ops.housekeeping).
    Other files in the folder are left alone."""
    removed = 0
    for path in [*folder.glob("ticket-*.png"), *folder.glob("wristband-*.png")]:
        try:
            if path.stat().st_mtime < before:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed
