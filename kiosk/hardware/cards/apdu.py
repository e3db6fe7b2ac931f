"""ISO 7816-4 APDUs over any transport (pure: no pyscard here).

A transport is a function ``transmit(apdu: list[int]) -> (data: list[int], sw1, sw2)``: pyscard's
``CardConnection.transmit`` in the kiosk, a replayed recording in tests. ``Channel`` adds what pyscard
does not do: 61xx GET RESPONSE, 6Cxx resend with the right Le, 6282 end-of-file, and chunked READ BINARY
sized for common readers. Sources: ISO 7816-4; Fedict eid-mw ``cardcomm/pkcs11/src/cardlayer/card.cpp`` (61xx,
6Cxx, 6B00, chunk sizes); gemLF_Impl_eGK (the eGK's read sequence and status words).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

Transmit = Callable[[list[int]], tuple[list[int], int, int]]

# 252 bytes: what the Belgian eid-mw reads, and below the 0xFE that SCM SCR335 readers reject.
CHUNK = 0xFC
MAX_GET_RESPONSE = 64        # 64 x 256 bytes: far beyond any file a patient card holds

SW_OK = 0x9000
SW_EOF = 0x6282            # end of file reached before Le bytes
SW_DEACTIVATED = 0x6283    # selected file or application deactivated
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_OFFSET_TOO_BIG = 0x6B00


class CardError(Exception):
    """A card the kiosk cannot use. ``reason`` goes to the flow (and staff), ``exit_code`` to the CLI."""

    reason = "unreadable"
    exit_code = 6


class UnsupportedCard(CardError):
    """Not a card this kiosk reads (no eGK health application, no Belgian eID applet)."""

    reason = "unsupported"
    exit_code = 5


class CardDataInvalid(CardError):
    """The card answered, but what it holds cannot be used (corrupt, truncated, deactivated...)."""

    reason = "invalid"
    exit_code = 6


class CardRemoved(CardError):
    """The card left the reader during the read."""

    reason = "removed"
    exit_code = 7


@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw in (SW_OK, SW_EOF)


class Channel:
    """APDUs to one card, with T=0 response handling and a count of what was sent.

    :param transmit: sends one command APDU, returns (data, sw1, sw2); raises CardRemoved when the
        card is gone
    :param chunk: longest READ BINARY answer to ask for (bytes)
    """

    def __init__(self, transmit: Transmit, chunk: int = CHUNK):
        self._transmit = transmit
        self.chunk = chunk
        self.sent = 0          # every APDU that went to the card, GET RESPONSE and resends included

    def send(self, apdu: bytes) -> Response:
        """One command, following 6Cxx (resend with Le=xx) and 61xx (GET RESPONSE) to the end."""
        data, sw1, sw2 = self._raw(apdu)
        if sw1 == 0x6C:
            apdu = apdu[:-1] + bytes([sw2])          # the same command, with the Le the card asked for
            data, sw1, sw2 = self._raw(apdu)
        out = bytearray(data)
        for _ in range(MAX_GET_RESPONSE):
            if sw1 != 0x61:
                break
            data, sw1, sw2 = self._raw(bytes([0x00, 0xC0, 0x00, 0x00, sw2]))
            out += bytes(data)
        else:
            raise CardDataInvalid("the card keeps answering 61xx: more data than any card file holds")
        return Response(bytes(out), (sw1 << 8) | sw2)

    def _raw(self, apdu: bytes) -> tuple[list[int], int, int]:
        self.sent += 1
        return self._transmit(list(apdu))

    def select_aid(self, aid: bytes) -> int:
        """SELECT by application identifier, no FCI; returns the status word."""
        return self.send(bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid).sw

    def select_path(self, path: bytes) -> int:
        """SELECT by path from the MF (P1=08), no FCI; returns the status word."""
        return self.send(bytes([0x00, 0xA4, 0x08, 0x0C, len(path)]) + path).sw

    def select_fid(self, fid: bytes) -> int:
        """SELECT a file or DF by its 2-byte identifier in the current DF, no FCI."""
        return self.send(bytes([0x00, 0xA4, 0x02, 0x0C, 0x02]) + fid).sw

    def read_binary(self, offset: int, length: int, sfi: int | None = None) -> Response:
        """READ BINARY ``length`` (1..256) bytes at ``offset``; with ``sfi`` the EF is selected by the
        command itself (offset 0..255 then)."""
        if sfi is not None:
            if not 0 <= offset <= 0xFF:
                raise ValueError("an SFI read reaches offsets 0..255 only")
            p1, p2 = 0x80 | sfi, offset
        else:
            if not 0 <= offset <= 0x7FFF:
                raise CardDataInvalid(f"offset {offset} is past what READ BINARY can address")
            p1, p2 = offset >> 8, offset & 0xFF
        return self.send(bytes([0x00, 0xB0, p1, p2, length & 0xFF]))

    def read_range(self, start: int, length: int, *, have: bytes = b"", have_from: int = 0) -> bytes:
        """``length`` bytes from ``start`` of the current EF, in chunks; ``have`` holds bytes already
        read from offset ``have_from`` (e.g. by an SFI read) so they are not asked for twice.

        :raises CardDataInvalid: the file ends before ``start + length``
        """
        end = start + length
        out = bytearray(have[max(0, start - have_from):max(0, end - have_from)])
        offset = start + len(out)
        while offset < end:
            answer = self.read_binary(offset, min(self.chunk, end - offset))
            if not answer.ok or not answer.data:
                raise CardDataInvalid(f"the file ends at {offset}, before {end} (SW {answer.sw:04X})")
            out += answer.data
            offset += len(answer.data)
            if answer.sw == SW_EOF and offset < end:
                raise CardDataInvalid(f"the file ends at {offset}, before {end}")
        return bytes(out[:length])

    def read_to_end(self, limit: int = 0x7FFF) -> bytes:
        """The whole current EF: chunks until a short answer, 6282, or 6B00 past the start."""
        out = bytearray()
        while len(out) < limit:
            answer = self.read_binary(len(out), min(self.chunk, limit - len(out)))
            if answer.sw == SW_OFFSET_TOO_BIG and out:
                break
            if not answer.ok:
                raise CardDataInvalid(f"reading the file failed at {len(out)} (SW {answer.sw:04X})")
            out += answer.data
            if answer.sw == SW_EOF or len(answer.data) < self.chunk:
                break
        return bytes(out)
