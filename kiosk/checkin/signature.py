"""The patient's signature on the consent, as a PNG in memory (pure: no Kivy, no files).

A signature arrives as strokes: each stroke the points one finger passed through, as fractions of the
signature pad (x from the left, y from the bottom, as Kivy counts), from 0 to 1. ``render_png`` draws
them dark on white at the pad's size. The PNG goes on the admission and nowhere else: it is personal data
(never logged, never written to a file outside the store).
"""

from __future__ import annotations

import hashlib
import io

Stroke = tuple[tuple[float, float], ...]

LINE_WIDTH_PX = 4          # about as thick as the line the patient saw under the finger


def text_id(text: str) -> str:
    """The version of a consent text: the first 16 hex digits of the SHA-256 of the text as shown (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def has_ink(strokes) -> bool:
    """True when the strokes hold at least one point (a tap leaves a dot: that counts)."""
    return any(len(stroke) > 0 for stroke in strokes)


def render_png(strokes, size: tuple[int, int]) -> bytes:
    """The strokes as a greyscale PNG of ``size`` (width, height in pixels): black ink on white.

    :param strokes: a sequence of strokes, each a sequence of (x, y) fractions of the pad, 0..1, y upwards;
        points outside are drawn at the edge
    :raises ValueError: no points at all (there is no signature to draw), or a size under 16 x 16 pixels
    """
    from PIL import Image, ImageDraw

    if not has_ink(strokes):
        raise ValueError("a signature needs at least one point")
    width, height = (round(v) for v in size)
    if width < 16 or height < 16:
        raise ValueError(f"a signature image must be at least 16 x 16 pixels, not {width} x {height}")
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    radius = LINE_WIDTH_PX / 2
    for stroke in strokes:
        points = [(min(max(float(x), 0.0), 1.0) * (width - 1), (1.0 - min(max(float(y), 0.0), 1.0)) * (height - 1))
                  for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=0, width=LINE_WIDTH_PX, joint="curve")
        for x, y in (points[0], points[-1]) if points else ():     # round ends; a single tap is a dot
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
