"""Printers behind one small interface, chosen by URI, with a PNG-rendering twin (``preview:DIR``).

The ESC/POS adapters (tcp://, usb://, serial://, file://, cups://) come with issue 4.
"""

from __future__ import annotations

import enum
import importlib.util
import textwrap
import threading
from pathlib import Path

from kiosk.hardware.layouts import TicketLayout
from kiosk.hardware.reader import DeviceUnavailable

DOTS_PER_LINE = 576          # 80 mm paper at 203 dpi (72 mm printable)


class PrinterState(enum.Enum):
    UNKNOWN = "unknown"
    READY = "ready"
    PRINTING = "printing"
    FAULT = "fault"


class PrintFault(RuntimeError):
    """A job that did not print; ``reason`` is a short code for staff (paper_out, offline, cover_open...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Printer:
    """The interface the app sees. ``print_ticket`` blocks: call it off the UI thread."""

    state = PrinterState.UNKNOWN

    def print_ticket(self, layout: TicketLayout) -> Path | None:
        """Print one ticket; raises PrintFault when it did not print."""
        raise NotImplementedError


class PreviewPrinter(Printer):
    """Renders each ticket as a PNG in ``folder`` instead of printing it.

    ``fault`` (e.g. "paper_out") makes the next jobs fail as a real printer would, for demos and tests.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.fault: str | None = None
        self.last_ticket: Path | None = None
        self.state = PrinterState.READY
        self._lock = threading.Lock()

    def print_ticket(self, layout: TicketLayout) -> Path:
        with self._lock:
            if self.fault:
                self.state = PrinterState.FAULT
                raise PrintFault(self.fault)
            self.state = PrinterState.PRINTING
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                path = self.folder / f"ticket-{layout.queue_number}-{layout.admission_id[:8]}.png"
                render_png(layout).save(path)
            except OSError as e:
                self.state = PrinterState.FAULT
                raise PrintFault("preview_unwritable") from e
            self.state = PrinterState.READY
            self.last_ticket = path
            return path


def _font_path(bold: bool) -> str:
    # Kivy's wheel ships Roboto; find it without importing Kivy (this runs on a worker thread).
    kivy_dir = Path(importlib.util.find_spec("kivy").origin).parent
    return str(kivy_dir / "data" / "fonts" / ("Roboto-Bold.ttf" if bold else "Roboto-Regular.ttf"))


def render_png(layout: TicketLayout):
    """The ticket as a black-on-white Pillow image, 576 dots wide like 80 mm paper."""
    import qrcode
    from PIL import Image, ImageDraw, ImageFont

    sizes = {"normal": 26, "large": 40, "huge": 110}
    rows = []
    for line in layout.lines:
        font = ImageFont.truetype(_font_path(line.bold or line.size == "huge"), sizes[line.size])
        width = max(8, int(DOTS_PER_LINE / (sizes[line.size] * 0.55)))
        for part in textwrap.wrap(line.text, width) or [""]:
            rows.append((part, font, int(sizes[line.size] * 1.35)))
    qr = qrcode.make(layout.qr, box_size=6, border=2).get_image().convert("L")
    height = 40 + sum(h for _, _, h in rows) + qr.height + 40
    image = Image.new("L", (DOTS_PER_LINE, height), 255)
    draw = ImageDraw.Draw(image)
    y = 30
    for text, font, h in rows:
        draw.text((DOTS_PER_LINE // 2, y + h // 2), text, font=font, fill=0, anchor="mm")
        y += h
    image.paste(qr, ((DOTS_PER_LINE - qr.width) // 2, y + 10))
    return image


def open_printer(uri: str, data_dir: str | Path) -> Printer:
    """The printer a URI names; a relative ``preview:DIR`` is inside ``data_dir``."""
    if uri.startswith("preview:"):
        return PreviewPrinter(Path(data_dir) / uri.removeprefix("preview:"))
    raise DeviceUnavailable(f"The printer {uri!r} cannot be driven by this version yet (issue 4); "
                            "use preview:DIR in printer.ticket.uri to get the tickets as PNG files.")
