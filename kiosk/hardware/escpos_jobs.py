"""Layouts as ESC/POS bytes (pure: no device).

A whole job is built in memory with python-escpos's ``Dummy`` for the printer's capability profile and
sent in one write, so a slow or vanishing printer never leaves half a job queued in the driver.
"""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
import threading
from functools import lru_cache, wraps

from kiosk.hardware.layouts import TicketLayout, WristbandLayout
from kiosk.hardware.escpos_lib import escpos_module

# python-escpos prints hints to stdout; silencing them swaps sys.stdout for the whole process, so
# jobs are built one at a time (a ticket in 0.1 ms, a wristband in about 17 ms).
_QUIET = threading.Lock()
_SIZES = {"normal": 1, "large": 2, "huge": 4}    # character magnification (GS !)
_SPACES = re.compile(r"[\u00a0\u2000-\u200b\u202f\u205f\u3000]")   # e.g. Babel's narrow space in "8:15 AM"
# python-escpos sends a whole line with a Chinese character as raw GB18030, which only Chinese-firmware
# printers read: such letters print as "?" (as any letter no code page has) and the line stays readable.
_CJK = re.compile(r"[\u4e00-\u9fa5]")
# Real-time commands a printer executes wherever they appear, even inside picture data.
_REALTIME = re.compile(rb"\x10[\x04\x05\x14]")
_RASTER = re.compile(rb"\x1dv0[\x00-\x03\x30-\x33](..)(..)", re.DOTALL)


@lru_cache(maxsize=8)
def _encoder(profile: str):
    """The profile's code page tables, built once (python-escpos would build them for every job)."""
    from escpos.capabilities import get_profile
    from escpos.magicencode import Encoder
    return Encoder(get_profile(profile).get_code_pages())


def _dummy(profile: str):
    printer = escpos_module().Dummy(profile=profile, magic_encode_args={"encoder": _encoder(profile)})
    printer.hw("INIT")        # ESC @ first: a known code page, sizes and alignment
    return printer


def _quietly(build):
    @wraps(build)
    def built(*args) -> bytes:
        with _QUIET, contextlib.redirect_stdout(io.StringIO()):
            return defuse(build(*args))
    return built


@_quietly
def ticket_job(layout: TicketLayout, profile: str) -> bytes:
    """The ticket as text in the printer's own fonts (code pages chosen per character for the
    profile), the queue number magnified, a native QR code where the profile has one, and a cut."""
    p = _dummy(profile)
    columns = p.profile.get_columns("a")
    for line in layout.lines:
        scale = _SIZES[line.size]
        p.set(align="center", bold=line.bold, custom_size=True, width=scale, height=scale)
        text = _CJK.sub("?", _SPACES.sub(" ", line.text))
        for part in textwrap.wrap(text, max(4, columns // scale)) or [""]:
            p.textln(part)
    p.set(align="center", bold=False, custom_size=True, width=1, height=1)
    if p.profile.supports("qrCode"):
        p.qr(layout.qr, native=True, size=6)
    else:
        p.qr(layout.qr, size=6, image_arguments={"impl": "bitImageRaster", "center": True})
    p.cut()
    return p.output


@_quietly
def wristband_job(layout: WristbandLayout, profile: str) -> bytes:
    """The band as one raster picture (GS v 0) from its start, then a cut."""
    from kiosk.hardware.raster import wristband_raster     # Pillow's drawing: loaded at the first band, not at start
    p = _dummy(profile)
    p.set(align="left")
    p.image(wristband_raster(layout), impl="bitImageRaster", center=False)
    p.cut()
    return p.output


def defuse(job: bytes) -> bytes:
    """Break real-time commands (DLE EOT/ENQ/DC4) that happen to occur inside picture data.

    Printers execute them wherever they appear: a stray DLE EOT answers a status query nobody asked,
    which would then be taken for the reply to ours. Clearing one dot (0x10 -> 0x00) breaks it.
    """
    out = bytearray(job)
    for header in _RASTER.finditer(job):
        start = header.end()
        size = int.from_bytes(header.group(1), "little") * int.from_bytes(header.group(2), "little")
        for hit in _REALTIME.finditer(job, start, start + size):
            if hit.start() + 1 < start + size:
                out[hit.start()] = 0x00
    return bytes(out)
