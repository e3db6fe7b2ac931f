"""Layouts drawn as black-and-white pictures with Pillow (pure functions, no device).

The wristband is always printed as a picture: a band is read along its length, so everything on it,
text and codes alike, is drawn in landscape and turned a quarter for the printer. The ticket picture
is its preview (``preview:DIR``); on paper the ticket is ESC/POS text, which prints sharper and faster.
"""

from __future__ import annotations

import importlib.util
import textwrap
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from kiosk.hardware.layouts import TicketLayout, WristbandLayout

DPI = 203                    # the thermal printers' 8 dots per mm
TICKET_WIDTH = 576           # 80 mm paper, 72 mm printable
BAND_WIDTH = 192             # across a 25 mm band: 24 mm printed (a multiple of 8 dots for GS v 0)
BAND_LENGTH = 2200           # along the band: 275 mm, inside the 250-280 mm of adult bands
BAND_START = 320             # 40 mm left blank at the start for the clasp
BAND_MODULE = 2              # CODE128 narrowest bar: 2 dots (0.25 mm)


@lru_cache(maxsize=8)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    # Kivy's wheel ships Roboto (Latin, Greek, Cyrillic); found without importing Kivy, as this runs
    # on a print thread.
    kivy_dir = Path(importlib.util.find_spec("kivy").origin).parent
    name = "Roboto-Bold.ttf" if bold else "Roboto-Regular.ttf"
    return ImageFont.truetype(str(kivy_dir / "data" / "fonts" / name), size)


def qr_image(content: str, box: int = 0, *, border: int = 2, fit: int = 0) -> Image.Image:
    """A QR code (error correction M), ``box`` dots per module, or as many as fit in ``fit`` dots."""
    import qrcode
    code = qrcode.QRCode(border=border)
    code.add_data(content)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    box = box or max(2, fit // size)
    modules = Image.frombytes("L", (size, size), bytes(0 if dark else 255 for row in matrix for dark in row))
    return modules.resize((size * box, size * box), Image.Resampling.NEAREST)


def ticket_png(layout: TicketLayout) -> Image.Image:
    """The ticket as it comes out of an 80 mm printer, 576 dots wide."""
    sizes = {"normal": 26, "large": 40, "huge": 110}
    rows = []
    for line in layout.lines:
        face = font(sizes[line.size], line.bold or line.size == "huge")
        width = max(8, int(TICKET_WIDTH / (sizes[line.size] * 0.55)))
        for part in textwrap.wrap(line.text, width) or [""]:
            rows.append((part, face, int(sizes[line.size] * 1.35)))
    qr = qr_image(layout.qr, 6)
    image = Image.new("L", (TICKET_WIDTH, 40 + sum(h for _, _, h in rows) + qr.height + 40), 255)
    draw = ImageDraw.Draw(image)
    y = 30
    for text, face, h in rows:
        draw.text((TICKET_WIDTH // 2, y + h // 2), text, font=face, fill=0, anchor="mm")
        y += h
    image.paste(qr, ((TICKET_WIDTH - qr.width) // 2, y + 10))
    return image


def code128(content: str, height: int) -> Image.Image:
    """A CODE128 symbol with its 10-module quiet zones, ``BAND_MODULE`` dots per module."""
    import barcode
    modules = "0" * 10 + barcode.get("code128", content).build()[0] + "0" * 10
    image = Image.new("L", (len(modules) * BAND_MODULE, height), 255)
    draw = ImageDraw.Draw(image)
    for i, bit in enumerate(modules):
        if bit == "1":
            draw.rectangle((i * BAND_MODULE, 0, (i + 1) * BAND_MODULE - 1, height - 1), fill=0)
    return image


def _fit(draw: ImageDraw.ImageDraw, text: str, size: int, bold: bool, width: int) -> ImageFont.FreeTypeFont:
    """The largest face up to ``size`` in which ``text`` fits ``width`` dots (long names shrink)."""
    while size > 14 and draw.textlength(text, font=font(size, bold)) > width:
        size -= 2
    return font(size, bold)


def wristband_landscape(layout: WristbandLayout) -> Image.Image:
    """The band as a person reads it on the wrist: BAND_LENGTH wide, BAND_WIDTH high.

    From the clasp end: name, birth date and the number the band may carry (none when the site allows
    none); the QR code; the barcode of that number; "Sample" on test data.
    """
    image = Image.new("L", (BAND_LENGTH, BAND_WIDTH), 255)
    draw = ImageDraw.Draw(image)
    x, text_width = BAND_START, 720
    draw.text((x, 18), layout.name, font=_fit(draw, layout.name, 46, True, text_width), fill=0)
    for y, text in ((92, layout.birth_date), (138, layout.number)):
        if text:
            draw.text((x, y), text, font=_fit(draw, text, 32, False, text_width), fill=0)
    x += text_width + 40
    qr = qr_image(layout.qr, border=1, fit=BAND_WIDTH - 8)
    image.paste(qr, (x, (BAND_WIDTH - qr.height) // 2))
    x += qr.width + 40
    if layout.barcode:
        bars = code128(layout.barcode, 150)
        if x + bars.width > BAND_LENGTH:
            raise ValueError(f"the patient number {len(layout.barcode)} characters long does not fit on the band")
        image.paste(bars, (x, (BAND_WIDTH - bars.height) // 2))
        x += bars.width + 40
    if layout.sample:
        width = BAND_LENGTH - x - 20
        face = _fit(draw, layout.sample, 40, True, width)
        draw.text((x, (BAND_WIDTH - face.size) // 2), layout.sample, font=face, fill=0)
    return image


def wristband_raster(layout: WristbandLayout) -> Image.Image:
    """The band as the printer draws it: turned a quarter clockwise, so the clasp end comes out first."""
    return wristband_landscape(layout).rotate(-90, expand=True)
