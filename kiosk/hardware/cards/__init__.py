"""Reading patient cards: the APDU layer (``apdu``) and one module per card (``egk``, ``beid``).

A card is recognised by what it answers (SELECT of its application), not by its ATR alone.
"""

from __future__ import annotations

from kiosk.hardware.cards.apdu import Channel, UnsupportedCard
from kiosk.checkin.model import CardData


def read_card(channel: Channel, atr: bytes) -> CardData:
    """Read whichever supported card is in the reader.

    :raises UnsupportedCard: no supported application answered
    :raises CardDataInvalid: a supported card whose data cannot be used
    :raises CardRemoved: the card left during the read
    """
    from kiosk.hardware.cards import beid, egk
    # The ATR only decides which card is asked first, to save an APDU; the answer decides what it is.
    for card in ((beid, egk) if looks_like_beid(atr) else (egk, beid)):
        found = card.read(channel, atr)
        if found is not None:
            return found
    raise UnsupportedCard("neither an eGK health application nor a Belgian eID applet answered")


def looks_like_beid(atr: bytes) -> bool:
    """Belgian eID ATRs: 3B 98 ?? 40 0A A5 03 01 01 01 AD 13 ?? and the v1.8 applet's (pcsc-tools ATR list)."""
    if len(atr) == 13 and atr[:2] == b"\x3B\x98" and atr[3:12] == bytes.fromhex("400AA503010101AD13"):
        return True
    return atr.startswith(bytes.fromhex("3B7F96000080318065B085"))
