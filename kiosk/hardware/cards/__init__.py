"""Reading patient cards: the APDU layer (``apdu``) and one module per card (``egk``, ``beid``).

A card is recognised by what it answers (SELECT of its application), not by its ATR alone.
"""

from __future__ import annotations

from kiosk.hardware.cards.apdu import Channel, UnsupportedCard
from kiosk.model import CardData


def read_card(channel: Channel, atr: bytes) -> CardData:
    """Read whichever supported card is in the reader.

    :raises UnsupportedCard: no supported application answered
    :raises CardDataInvalid: a supported card whose data cannot be used
    :raises CardRemoved: the card left during the read
    """
    from kiosk.hardware.cards import beid, egk
    for card in (egk, beid):
        found = card.read(channel, atr)
        if found is not None:
            return found
    raise UnsupportedCard("neither an eGK health application nor a Belgian eID applet answered")
