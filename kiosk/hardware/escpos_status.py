"""The ESC/POS status questions and what their answers mean.

Only a printer's own answers count: every byte that comes back must be the reply to a question the
kiosk asked and has not had answered yet (``valid_reply``). Anything else (a web server's or SSH
server's words, an echo, a modem's "OK") means something other than a printer is at that address:
``not_a_printer``, decided before the job whenever the device gives itself away that early. A device
that says nothing at all is "unknown", as printers and links without a way back (CUPS, a plain file) are.
"""

from __future__ import annotations

from kiosk.hardware.printer import PrinterStatus

STATUS_QUERIES = (1, 2, 3, 4)     # DLE EOT n: printer, offline cause, error cause, roll paper sensor
NOT_A_PRINTER = PrinterStatus(known=True, not_a_printer=True)
DLE_EOT = b"\x10\x04"                    # + n: real-time status, answered at once, even mid-job
GS_R_1 = b"\x1dr\x01"                     # transmit paper sensor status: processed in order


def valid_reply(reply: bytes, question: bytes = DLE_EOT) -> bool:
    """Whether ``reply`` is how an ESC/POS printer answers ``question`` (DLE EOT n or GS r 1): exactly
    one byte; to DLE EOT with bits 1 and 4 set and bits 0 and 7 clear, to GS r 1 with bits 4 and 7 clear.
    Those are the bits the manuals fix (Epson, Bixolon, Citizen, HPRT); GS r's bits 5 and 6 are
    "reserved" or "undefined" there, so a printer may set them. What tells a printer from something else
    is mostly the count: one byte per question asked (``Link.hear``)."""
    if len(reply) != 1:
        return False
    mask, bits = (0x90, 0x00) if question == GS_R_1 else (0x93, 0x12)
    return reply[0] & mask == bits


def parse_status(replies: dict[int, bytes]) -> PrinterStatus:
    """The status from the replies to DLE EOT 1..4; a missing or malformed reply makes it unknown."""
    if not all(valid_reply(replies.get(n, b"")) for n in STATUS_QUERIES):
        return PrinterStatus()
    printer, offline, error, paper = (replies[n][0] for n in STATUS_QUERIES)
    return PrinterStatus(
        known=True,
        online=not printer & 0x08,
        cover_open=bool(offline & 0x04),
        paper_out=bool(offline & 0x20 or paper & 0x60 == 0x60),
        paper_low=paper & 0x0C == 0x0C and paper & 0x60 != 0x60,
        cutter_error=bool(error & 0x08),
        error=bool(error & 0x60 or offline & 0x40 and not error & 0x08),
    )
