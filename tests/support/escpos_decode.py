"""Read back what was sent to an ESC/POS printer: commands, text per code page, images, QR and barcodes.

Independent of ``kiosk.*`` and python-escpos on purpose, so tests check the kiosk's bytes against a second
reading of the spec (the command bytes and the ``GS v 0`` raster as the Epson, Citizen and HPRT command
manuals give them)::

    printout = decode(dummy.output)
    assert "MÜLLER Anna" in printout.text
    assert printout.codepages_for("MÜLLER") == {"cp437"}
    assert ("QRCode", "ADMISSION:42") in read_codes(printout.images()[0])

Bytes the tokenizer does not know raise ``ValueError`` naming the offset, so garbage fails a test loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import zxingcpp
from PIL import Image, ImageOps

# ESC t n slots, Epson numbering (TM-T88V table), as Python codec names.
CODEPAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 13: "cp857", 16: "cp1252",
             17: "cp866", 18: "cp852", 19: "cp858", 45: "cp1250", 46: "cp1251"}

_CONTROLS = {0x0A: "LF", 0x0D: "CR", 0x09: "HT", 0x0C: "FF"}
_PREFIXES = {0x1B: "ESC", 0x1D: "GS", 0x10: "DLE"}
_FIXED = {  # command name: number of argument bytes
    "ESC @": 0, "ESC 2": 0, "ESC a": 1, "ESC E": 1, "ESC -": 1, "ESC M": 1, "ESC !": 1, "ESC t": 1,
    "ESC d": 1, "ESC 3": 1, "ESC V": 1, "ESC {": 1, "GS !": 1, "GS B": 1, "GS h": 1, "GS w": 1, "GS H": 1,
    "GS f": 1, "GS r": 1, "DLE EOT": 1,
    "GS b": 1, "GS |": 1,  # smoothing and density, sent by python-escpos set(smooth=..., density=...)
}
_TEXT = re.compile(rb"[\x20-\xff]+")
_INVERT = bytes(255 - b for b in range(256))   # ESC/POS 1 = black; PIL mode "1" 1 = white


@dataclass(frozen=True)
class Token:
    """One command or text run. ``args``: the argument bytes of simple commands, a tuple for structured ones
    (see ``tokenize``); ``text``: the decoded characters of a ``TEXT`` run, else None."""

    name: str
    args: bytes | tuple
    text: str | None = None


def tokenize(data: bytes) -> list[Token]:
    """Split an ESC/POS stream into tokens, in order.

    Names are the manual's ("ESC a", "GS ( k", "DLE EOT", "LF", ...) and "TEXT" for printable runs.
    Structured ``args``: TEXT ``(slot,)``; GS k ``(m, data)``; GS ( k ``(cn, fn, payload)``;
    GS ( L ``(m, fn, payload)``; GS v 0 ``(m, bytes_per_row, rows, data)``; ESC * ``(m, columns, data)``.
    Raises ValueError on unknown or truncated commands and on an ``ESC t`` slot not in ``CODEPAGES``.
    """
    tokens: list[Token] = []
    slot, i = 0, 0
    while i < len(data):
        if data[i] in _CONTROLS:
            tokens.append(Token(_CONTROLS[data[i]], b""))
            i += 1
        elif data[i] >= 0x20:
            run = _TEXT.match(data, i)
            tokens.append(Token("TEXT", (slot,), run.group().decode(CODEPAGES[slot])))
            i = run.end()
        else:
            name, end, args = _command(data, i)
            if name == "ESC @":
                slot = 0
            elif name == "ESC t":
                if args[0] not in CODEPAGES:
                    raise ValueError(f"ESC t {args[0]} at offset {i}: code page slot not in CODEPAGES")
                slot = args[0]
            tokens.append(Token(name, args))
            i = end
    return tokens


def _command(data: bytes, i: int) -> tuple[str, int, bytes | tuple]:
    """The command at ``data[i]``: (name, offset after it, args)."""
    if data[i] not in _PREFIXES or i + 1 >= len(data):
        raise _unknown(data, i)
    name = "DLE EOT" if data[i + 1] == 0x04 else f"{_PREFIXES[data[i]]} {chr(data[i + 1])}"
    at = i + 2

    def take(count: int) -> bytes:
        nonlocal at
        if at + count > len(data):
            raise ValueError(f"truncated {name} at offset {i}: needs {at + count - i} bytes, {len(data) - i} left")
        at += count
        return data[at - count:at]

    def until_nul() -> bytes:
        nonlocal at
        end = data.find(b"\x00", at)
        if end < 0:
            raise ValueError(f"truncated {name} at offset {i}: no NUL after the data")
        start, at = at, end + 1
        return data[start:end]

    args: bytes | tuple | None = None
    if name in _FIXED:
        args = take(_FIXED[name])
    elif name == "GS V":
        m = take(1)
        if m[0] in (65, 66, 97, 98, 103, 104):     # feed, then cut: one more byte
            args = m + take(1)
        elif m[0] in (0, 1, 48, 49):
            args = m
    elif name == "GS k":
        m = take(1)[0]
        if m <= 6:                                 # function A
            args = (m, until_nul())
        elif 65 <= m <= 78:                        # function B: length byte
            args = (m, take(take(1)[0]))
    elif name == "GS (" and data[at:at + 1] in (b"k", b"L"):
        name = f"GS ( {take(1).decode()}"
        length = take(2)
        body = take(length[0] + 256 * length[1])
        if len(body) >= 2:
            args = (body[0], body[1], body[2:])
    elif name == "GS v" and data[at:at + 1] == b"0":
        name = "GS v 0"
        m, xl, xh, yl, yh = take(6)[1:]
        x, y = xl + 256 * xh, yl + 256 * yh
        args = (m, x, y, take(x * y))
    elif name == "ESC *":
        m, nl, nh = take(3)
        if m in (0, 1, 32, 33):                    # 8-dot or 24-dot columns
            n = nl + 256 * nh
            args = (m, n, take(n * (3 if m >= 32 else 1)))
    elif name == "ESC D":                          # tab stops (python-escpos control("HT"))
        args = until_nul()
    if args is None:
        raise _unknown(data, i)
    return name, at, args


def _unknown(data: bytes, i: int) -> ValueError:
    return ValueError(f"unknown ESC/POS bytes at offset {i}: {data[i:i + 4].hex(' ')}")


@dataclass
class Printout:
    """A decoded stream: its tokens and what they printed."""

    tokens: list[Token]

    @property
    def text(self) -> str:
        """All text runs joined, "\n" for each LF."""
        return "".join(t.text if t.name == "TEXT" else "\n" for t in self.tokens if t.name in ("TEXT", "LF"))

    @property
    def cuts(self) -> int:
        """Number of GS V (cut) commands."""
        return sum(t.name == "GS V" for t in self.tokens)

    @property
    def status_queries(self) -> list[int]:
        """n of each DLE EOT n, in order."""
        return [t.args[0] for t in self.tokens if t.name == "DLE EOT"]

    def codepages_for(self, word: str) -> set[str]:
        """Codec names of the text runs that printed any occurrence of ``word`` (empty if it was not printed)."""
        spans, pos = [], 0
        for t in self.tokens:
            if t.name == "TEXT":
                spans.append((pos, pos + len(t.text), CODEPAGES[t.args[0]]))
                pos += len(t.text)
            elif t.name == "LF":
                pos += 1
        return {codec for m in re.finditer(re.escape(word), self.text)
                for start, end, codec in spans if start < m.end() and m.start() < end}

    def qr_codes(self) -> list[str]:
        """Payloads of native QR store commands (GS ( k cn=49 fn=80), UTF-8."""
        return [t.args[2][1:].decode("utf-8") for t in self.tokens if t.name == "GS ( k" and t.args[:2] == (49, 80)]

    def barcodes(self) -> list[tuple[int, bytes]]:
        """Hardware barcodes (GS k) as (m, data)."""
        return [t.args for t in self.tokens if t.name == "GS k"]

    def images(self) -> list[Image.Image]:
        """Printed images, mode "1", black on white, one pixel per dot (density modes are not applied).

        Fragments of one kind and width that follow each other are stacked into one image: GS v 0 blocks,
        GS ( L raster graphics (fn=112 store, printed by fn=50) and ESC * column stripes (LF and line spacing
        commands between them are part of the image).
        """
        images: list[Image.Image] = []
        pieces: list[Image.Image] = []
        kind, stored = None, None

        def flush() -> None:
            if pieces:
                images.append(_stack(pieces))
                pieces.clear()

        for t in self.tokens:
            if t.name == "GS v 0":
                _, x, y, data = t.args
                piece = _raster(x * 8, x, y, data)
            elif t.name == "GS ( L" and t.args[1] == 112:
                payload = t.args[2]
                x, y = payload[4] + 256 * payload[5], payload[6] + 256 * payload[7]
                stored = _raster(x, (x + 7) // 8, y, payload[8:8 + (x + 7) // 8 * y])
                continue
            elif t.name == "GS ( L" and t.args[1] == 50 and stored is not None:
                piece, stored = stored, None
            elif t.name == "ESC *":
                m, n, data = t.args
                k = 3 if m >= 32 else 1
                piece = Image.frombytes("1", (8 * k, n), data.translate(_INVERT)).transpose(Image.Transpose.TRANSPOSE)
            elif t.name in ("LF", "ESC 3", "ESC 2") and kind == "ESC *":   # between stripes and fragments
                continue
            else:
                flush()
                kind = None
                continue
            if pieces and (kind != t.name or pieces[-1].width != piece.width):
                flush()
            kind = t.name
            pieces.append(piece)
        flush()
        return images


def decode(data: bytes) -> Printout:
    """Tokenize ``data`` into a ``Printout``."""
    return Printout(tokenize(data))


def _raster(width: int, bytes_per_row: int, rows: int, data: bytes) -> Image.Image:
    image = Image.frombytes("1", (bytes_per_row * 8, rows), data.translate(_INVERT))
    return image.crop((0, 0, width, rows)) if width < bytes_per_row * 8 else image


def _stack(pieces: list[Image.Image]) -> Image.Image:
    stacked = Image.new("1", (pieces[0].width, sum(p.height for p in pieces)), 1)
    top = 0
    for piece in pieces:
        stacked.paste(piece, (0, top))
        top += piece.height
    return stacked


def read_codes(image: Image.Image, quiet_zone: int = 40) -> list[tuple[str, str]]:
    """(format name, text) of the 1D/2D codes zxing-cpp finds in ``image`` padded with a white quiet zone,
    as printed and rotated by 90 degrees (wristbands print sideways); each code once."""
    padded = ImageOps.expand(image.convert("L"), border=quiet_zone, fill=255)
    found: list[tuple[str, str]] = []
    for candidate in (padded, padded.rotate(90, expand=True)):
        for result in zxingcpp.read_barcodes(candidate):
            if (result.format.name, result.text) not in found:
                found.append((result.format.name, result.text))
    return found
