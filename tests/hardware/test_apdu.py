"""The APDU layer against scripted card answers (ISO 7816-4; Fedict eid-mw card.cpp)."""

import pytest

from kiosk.hardware.cards.apdu import CardDataInvalid, CardRemoved, Channel


class Script:
    """A card that answers each command from a table: {command bytes: [(data, sw), ...]} in turn."""

    def __init__(self, answers):
        self.answers = {bytes.fromhex(k): list(v) for k, v in answers.items()}
        self.sent = []

    def __call__(self, apdu):
        command = bytes(apdu)
        self.sent.append(command.hex().upper())
        data, sw = self.answers[command].pop(0)
        return list(data), sw >> 8, sw & 0xFF


def test_6cxx_resends_with_the_length_the_card_asked_for():
    card = Script({"00B00000FC": [(b"", 0x6C10)], "00B0000010": [(bytes(range(16)), 0x9000)]})
    channel = Channel(card)
    answer = channel.read_binary(0, 0xFC)
    assert answer.data == bytes(range(16)) and answer.ok
    assert card.sent == ["00B00000FC", "00B0000010"] and channel.sent == 2


def test_61xx_collects_every_get_response():
    card = Script({"00A4040C03A00001": [(b"", 0x6105)], "00C0000005": [(b"12345", 0x6102)],
                   "00C0000002": [(b"67", 0x9000)]})
    channel = Channel(card)
    answer = channel.send(bytes.fromhex("00A4040C03A00001"))
    assert answer.data == b"1234567" and answer.sw == 0x9000 and channel.sent == 3


def test_read_range_reuses_bytes_already_read_and_asks_in_chunks():
    body = bytes(range(256)) * 2
    card = Script({"00B000FC0A": [(body[252:262], 0x9000)]})
    channel = Channel(card)
    assert channel.read_range(2, 260, have=body[:252]) == body[2:262]
    assert card.sent == ["00B000FC0A"]


def test_read_range_refuses_a_file_shorter_than_promised():
    card = Script({"00B0000010": [(b"short", 0x6282)]})
    with pytest.raises(CardDataInvalid, match="ends at 5"):
        Channel(card).read_range(0, 16)


def test_read_to_end_stops_at_6b00_and_short_answers():
    card = Script({"00B0000004": [(b"abcd", 0x9000)], "00B0000404": [(b"", 0x6B00)]})
    assert Channel(card, chunk=4).read_to_end() == b"abcd"
    card = Script({"00B0000004": [(b"ab", 0x9000)]})
    assert Channel(card, chunk=4).read_to_end() == b"ab"


def test_read_to_end_failing_at_the_start_is_invalid():
    card = Script({"00B00000FC": [(b"", 0x6986)]})
    with pytest.raises(CardDataInvalid, match="6986"):
        Channel(card).read_to_end()


def test_offsets_beyond_15_bits_are_invalid_card_data():
    with pytest.raises(CardDataInvalid):
        Channel(Script({})).read_binary(0x8000, 4)


def test_card_removed_from_the_transport_passes_through():
    def gone(_apdu):
        raise CardRemoved("pulled")
    with pytest.raises(CardRemoved):
        Channel(gone).select_aid(bytes.fromhex("D27600000102"))


def test_cards_are_recognised_by_their_answer_the_atr_only_orders_the_questions():
    from cardfiles import BEID_ATR, EGK_ATR, beid_card, egk_card, unknown_card

    from kiosk.hardware.cards import UnsupportedCard, read_card
    eid = beid_card()
    assert read_card(Channel(eid.transmit), BEID_ATR).card == "beid" and len(eid.apdus) == 6
    eid = beid_card()
    assert read_card(Channel(eid.transmit), EGK_ATR).card == "beid" and len(eid.apdus) == 7  # eGK asked first
    egk = egk_card()
    assert read_card(Channel(egk.transmit), BEID_ATR).card == "egk"
    with pytest.raises(UnsupportedCard):
        read_card(Channel(unknown_card().transmit), b"\x3b\x00")


def test_a_card_that_never_stops_answering_61xx_is_invalid_not_a_hang():
    def endless(apdu):
        return [0] * 16, 0x61, 0x10
    with pytest.raises(CardDataInvalid, match="61xx"):
        Channel(endless).send(bytes.fromhex("00A4040C03A00001"))
