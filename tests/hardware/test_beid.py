"""The Belgian eID module: Fedict TLV, identity and address files, birth dates, national numbers, and the
APDUs ``read`` sends to a T=0 card (Fedict eid-mw)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hardware.cards import beid
from kiosk.hardware.cards.apdu import CardDataInvalid, CardRemoved, Channel
from kiosk.checkin.model import Address, Identifier

ATR = bytes.fromhex("3B9813400AA503010101AD1311")
SSIN = "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin"


# --- building card files: an encoder of our own, written from eid-mw's tlvbuffer.cpp, not from the decoder ---

def tlv(tag: int, value: bytes) -> bytes:
    """Fedict TLV: one tag byte, the length as bytes that are summed while a byte is 0xFF (255 -> FF 00)."""
    out, rest = bytearray([tag]), len(value)
    while rest >= 0xFF:
        out.append(0xFF)
        rest -= 0xFF
    out.append(rest)
    return bytes(out) + value


IDENTITY = {
    0x01: b"592123456789",                                  # card number
    0x02: bytes.fromhex("534C494E33660013934E0A1C2A2B1D11"),  # chip number, binary
    0x03: b"16.03.2021",
    0x04: b"16.03.2031",
    0x05: b"Gent",
    0x06: b"85073003328",
    0x07: b"Van den Broeck-Dupont",
    0x08: b"Marie-Claire Anne",
    0x09: b"J",
    0x0A: b"Belg",
    0x0B: "Liège".encode(),
    0x0C: b"30 JUL 1985",
    0x0D: b"V",
    0x0F: b"1",
    0x10: b"0",
    0x11: bytes.fromhex("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B"),  # photo hash, binary (not UTF-8)
}
ADDRESS = {0x01: b"Rue de la Loi 16", 0x02: b"1000", 0x03: b"Bruxelles"}


def card_file(fields: dict, pad: int = 24, **changes) -> bytes:
    """A version tag, the fields in tag order (a change of None leaves the tag out), then zero padding."""
    merged = dict(fields)
    for name, value in changes.items():
        merged[int(name[1:], 16)] = value
    body = b"".join(tlv(tag, value) for tag, value in sorted(merged.items()) if value is not None)
    return tlv(0x00, b"\x01") + body + bytes(pad)


def identity(**changes) -> bytes:
    return card_file(IDENTITY, **changes)


def address(**changes) -> bytes:
    return card_file(ADDRESS, **changes)


# --- parse_tlv ---

def test_tlv_reads_version_first_and_stops_at_zero_padding():
    data = tlv(0x00, b"\x01") + tlv(0x07, b"Peeters") + tlv(0x0D, b"M") + bytes(40) + tlv(0x08, b"junk")
    assert beid.parse_tlv(data) == {0x00: b"\x01", 0x07: b"Peeters", 0x0D: b"M"}
    assert beid.parse_tlv(b"") == {}
    assert beid.parse_tlv(bytes(100)) == {0x00: b""}


@pytest.mark.parametrize("size, length_bytes", [(254, "FE"), (255, "FF00"), (300, "FF2D"), (510, "FFFF00"),
                                                (600, "FFFF5A")])
def test_tlv_multi_byte_lengths(size, length_bytes):
    value = bytes(range(256)) * 3
    encoded = tlv(0x0B, value[:size])
    assert encoded[1:1 + len(length_bytes) // 2].hex().upper() == length_bytes
    assert beid.parse_tlv(encoded + tlv(0x0C, b"x")) == {0x0B: value[:size], 0x0C: b"x"}


@pytest.mark.parametrize("data, message", [
    (tlv(0x07, b"Peeters")[:-2], "claims 7 bytes, only 5"),
    (b"\x07", "no complete length"),
    (b"\x07\xFF", "no complete length"),
    (b"\x07\xFF\x01" + b"x" * 255, "claims 256 bytes"),
    (tlv(0x00, b"\x01") + tlv(0x07, b"A") + tlv(0x07, b"B"), "appears twice"),
], ids=["value", "no-length", "continuation", "long-length", "duplicate"])
def test_tlv_that_runs_past_the_end_or_repeats_is_invalid(data, message):
    with pytest.raises(CardDataInvalid, match=message):
        beid.parse_tlv(data)


# --- parse_birth_date (month names from eid-viewer dob.cpp) ---

@pytest.mark.parametrize("text, iso", [
    # NL
    ("15 JAN 1980", "1980-01-15"), ("15 MAAR 1980", "1980-03-15"), ("15 MEI 1980", "1980-05-15"),
    ("01 OKT 1975", "1975-10-01"), ("24 DEC 1969", "1969-12-24"), ("15 JAN  1980", "1980-01-15"),
    # FR (the eid-viewer writer pads NL/FR months to four letters)
    ("15 FEV 1980", "1980-02-15"), ("15 FÉV 1980", "1980-02-15"), ("15 FEVR 1980", "1980-02-15"),
    ("15 MARS 1980", "1980-03-15"), ("15 AVR 1980", "1980-04-15"), ("02 MAI 1990", "1990-05-02"),
    ("21 JUIN 1990", "1990-06-21"), ("14 JUIL 1990", "1990-07-14"), ("15 AOUT 1980", "1980-08-15"),
    ("15 AOÛT 1980", "1980-08-15"), ("01 SEPT 1980", "1980-09-01"), ("01 JANV 1980", "1980-01-01"),
    ("01 AVRI 1980", "1980-04-01"), ("01 OCTO 1980", "1980-10-01"), ("01 NOVE 1980", "1980-11-01"),
    ("01 DECE 1980", "1980-12-01"), ("30 JUIL. 1985", "1985-07-30"), ("15 mars 1980", "1980-03-15"),
    # DE
    ("15.MÄR.1980", "1980-03-15"), ("15.MAI.1980", "1980-05-15"), ("24.DEZ.1980", "1980-12-24"),
    ("03.OKT.1990", "1990-10-03"), ("15.MAER.1980", "1980-03-15"), ("15.MÄR. 1980", "1980-03-15"),
    # EN
    ("15 MAR 1980", "1980-03-15"), ("15 MAY 1980", "1980-05-15"), ("31 DEC 1999", "1999-12-31"),
    ("29 FEB 2000", "2000-02-29"), ("1 JUN 2004", "2004-06-01"),
])
def test_birth_dates_in_four_languages(text, iso):
    assert beid.parse_birth_date(text) == iso


@pytest.mark.parametrize("text, iso", [
    ("   MEI 1985", "1985-05"), ("  .MAI.1985", "1985-05"), ("00 JAN 1980", "1980-01"),
    ("00.05.1980", "1980-05"), ("          1980", "1980"), ("00.00.1980", "1980"), ("15     1980", "1980"),
    ("1980", "1980"),
])
def test_birth_dates_keep_the_precision_the_card_has(text, iso):
    assert beid.parse_birth_date(text) == iso


@pytest.mark.parametrize("text", [
    "31 FEB 1990", "29 FEB 1900", "31 APR 2001", "32 JAN 1980", "15 FOO 1980", "15.13.1980", "15 JAN 80",
    "", "JAN", "15 JAN 1980 1981", "15 JAN 0000", "15 Ж 1980", "15 JUI 1980", "123 JAN 1980", "15 J4N 1980",
    "15/01/1980", "1" * 41,
])
def test_impossible_or_garbled_birth_dates_are_invalid(text):
    with pytest.raises(CardDataInvalid):
        beid.parse_birth_date(text)


# --- national_number_ok (97 - (YYMMDDSSS mod 97), 2 prefixed from 2000 on) ---

@pytest.mark.parametrize("nn, birth, ok", [
    ("85073003328", "1985-07-30", True),
    ("85073003328", None, True),
    ("85073003329", "1985-07-30", False),
    ("03051412369", "2003-05-14", True),    # 97 - (2_030_514_123 mod 97) = 69
    ("03051412369", "2003", True),
    ("03051412369", "1903-05-14", False),
    ("03051412340", "2003-05-14", False),   # 40 is the pre-2000 rule's digit
    ("03051412340", "1903-05-14", True),
    ("03051412340", None, True),            # no birth year: either century
    ("03051412340", "", True),
    ("01020304297", "1901-02-03", True),    # 010203042 mod 97 = 0: the check is 97, not 00
    ("01020304229", "2001-02-03", True),
])
def test_national_number_check_digits_for_both_centuries(nn, birth, ok):
    assert beid.national_number_ok(nn, birth) is ok


@pytest.mark.parametrize("nn", ["8507300332", "850730033288", "85.07.30-033.28", "8507300332X", "",
                                "８５０７３００３３２８"])
def test_national_number_that_is_not_11_digits_is_invalid(nn):
    with pytest.raises(CardDataInvalid, match="11 digits"):
        beid.national_number_ok(nn)


# --- parse_identity / parse_address ---

def test_full_identity_and_address():
    person, warnings = beid.parse_identity(identity())
    assert warnings == []
    assert person.family == "Van den Broeck-Dupont"
    assert person.given == ("Marie-Claire", "Anne", "J")
    assert person.birth_date == "1985-07-30" and person.gender == "female"
    assert person.identifiers == (Identifier(SSIN, "85073003328"),)
    assert beid.parse_address(address()) == Address(("Rue de la Loi 16",), "1000", "Bruxelles", "BE")


def test_a_wrong_check_digit_is_read_but_warned():
    person, warnings = beid.parse_identity(identity(t06=b"85073003329"))
    assert person.identifiers[0].value == "85073003329"
    assert warnings == ["national number check digit does not match"]
    _, warnings = beid.parse_identity(identity(t06=b"03051412340", t0C=b"14 MAY 2003"))
    assert warnings == ["national number check digit does not match"]
    _, warnings = beid.parse_identity(identity(t06=b"03051412369", t0C=b"14 MAY 2003"))
    assert warnings == []


@pytest.mark.parametrize("letter, gender", [(b"M", "male"), (b"F", "female"), (b"V", "female"),
                                            (b"W", "female"), (b"X", "unknown"), (b"m", "male")])
def test_gender_letters(letter, gender):
    assert beid.parse_identity(identity(t0D=letter))[0].gender == gender


@pytest.mark.parametrize("letter", [b"Q", b"?", b"MF", b"1"])
def test_unknown_gender_letters_are_invalid(letter):
    with pytest.raises(CardDataInvalid, match="gender"):
        beid.parse_identity(identity(t0D=letter))


@pytest.mark.parametrize("names, third, given", [
    (b"Jan", None, ("Jan",)),
    (b"Jean-Pierre  Marie", b"", ("Jean-Pierre", "Marie")),
    (b"Jan Pieter", b"K", ("Jan", "Pieter", "K")),
    (None, None, ()),
    ("Zoë Ségolène".encode(), None, ("Zoë", "Ségolène")),
])
def test_given_names_one_entry_each(names, third, given):
    assert beid.parse_identity(identity(t08=names, t09=third))[0].given == given


def test_partial_birth_date_and_multi_byte_field_lengths_in_a_real_file():
    person, _ = beid.parse_identity(identity(t0C=b"   MEI 1985", t0B=b"x" * 255, t05=b"y" * 256))
    assert person.birth_date == "1985-05"


@pytest.mark.parametrize("tag, name", [("t06", "national number"), ("t07", "surname"),
                                       ("t0C", "birth date"), ("t0D", "gender")])
def test_missing_mandatory_fields_are_named(tag, name):
    with pytest.raises(CardDataInvalid, match=name):
        beid.parse_identity(identity(**{tag: None}))
    with pytest.raises(CardDataInvalid, match=name):
        beid.parse_identity(identity(**{tag: b"  "}))


@pytest.mark.parametrize("changes", [{"t07": b"Dupr\xe9"}, {"t08": b"\xff\xfe"}, {"t0C": b"15 F\xc9V 1980"}],
                         ids=["surname-latin1", "names", "date"])
def test_invalid_utf8_is_invalid(changes):
    with pytest.raises(CardDataInvalid, match="UTF-8"):
        beid.parse_identity(identity(**changes))
    with pytest.raises(CardDataInvalid, match="UTF-8"):
        beid.parse_address(address(t03=b"Li\xe8ge"))


@pytest.mark.parametrize("changes", [{"t07": b"A" * 111}, {"t08": b"B " * 56}, {"t06": b"850730033280"},
                                     {"t0B": b"C" * 257}, {"t11": bytes(300)}])
def test_overlong_identity_fields_are_invalid(changes):
    with pytest.raises(CardDataInvalid, match="more than"):
        beid.parse_identity(identity(**changes))


def test_surname_at_its_limit_is_read():
    assert beid.parse_identity(identity(t07=b"A" * 110))[0].family == "A" * 110


def test_control_characters_in_names_are_invalid():
    with pytest.raises(CardDataInvalid, match="control"):
        beid.parse_identity(identity(t07=b"Pee\x00ters"))


def test_impossible_birth_date_in_the_file_is_invalid():
    with pytest.raises(CardDataInvalid, match="does not exist"):
        beid.parse_identity(identity(t0C=b"31 FEB 1990"))


def test_overlong_or_empty_address_is_invalid():
    with pytest.raises(CardDataInvalid, match="more than"):
        beid.parse_address(address(t01=b"S" * 257))
    with pytest.raises(CardDataInvalid, match="no address"):
        beid.parse_address(address(t01=None, t02=None, t03=None))
    assert beid.parse_address(address(t01=None)) == Address((), "1000", "Bruxelles", "BE")


# --- read(): a T=0 card in memory (eid-mw card.cpp's read sequence) ---

class FakeEid:
    """A T=0 card holding DF01 with the identity and address files.

    SELECT by path (P1=08) and by FID (P1=02); READ BINARY answers 6Cxx when Le asks for more than is
    left and 6B00 at or past the end, as the Belgian card does; other instructions 6D00.
    """

    def __init__(self, files=None, *, df01=True, path_sw=None, deactivated=(), remove_after=None):
        self.files = {bytes.fromhex("4031"): identity(), bytes.fromhex("4033"): address()} if files is None \
            else files
        self.df01, self.path_sw, self.deactivated = df01, path_sw, set(deactivated)
        self.remove_after = remove_after
        self.sent: list[str] = []
        self.df = self.ef = None

    def __call__(self, apdu):
        command = bytes(apdu)
        if self.remove_after is not None and len(self.sent) >= self.remove_after:
            raise CardRemoved("the card left the reader")
        self.sent.append(command.hex().upper())
        cla, ins, p1, p2 = command[:4]
        if cla != 0x00:
            return [], 0x6E, 0x00
        if ins == 0xA4:
            return self.select(p1, command[5:5 + command[4]])
        if ins == 0xB0:
            return self.read_binary((p1 << 8) | p2, command[4] or 256)
        return [], 0x6D, 0x00

    def select(self, p1, fid):
        if p1 == 0x08:
            if self.path_sw is not None:
                return [], self.path_sw >> 8, self.path_sw & 0xFF
            if len(fid) == 6 and fid[:4] == b"\x3F\x00\xDF\x01" and self.df01:
                self.df = "DF01"
                return self.select_ef(fid[4:])
            return [], 0x6A, 0x82
        if p1 != 0x02 or len(fid) != 2:
            return [], 0x6A, 0x86
        if fid == b"\x3F\x00":
            self.df, self.ef = "MF", None
            return [], 0x90, 0x00
        if fid == b"\xDF\x01" and self.df01:
            self.df, self.ef = "DF01", None
            return [], 0x90, 0x00
        if self.df == "DF01":
            return self.select_ef(fid)
        return [], 0x6A, 0x82

    def select_ef(self, fid):
        if fid not in self.files:
            return [], 0x6A, 0x82
        self.ef = fid
        return ([], 0x62, 0x83) if fid in self.deactivated else ([], 0x90, 0x00)

    def read_binary(self, offset, le):
        if self.ef is None:
            return [], 0x69, 0x86
        content = self.files[self.ef]
        left = len(content) - offset
        if left <= 0:
            return [], 0x6B, 0x00
        if le > left:
            return [], 0x6C, left & 0xFF
        return list(content[offset:offset + le]), 0x90, 0x00


def le(data: bytes) -> str:
    return f"{len(data):02X}"


def test_a_typical_card_takes_six_apdus():
    card = FakeEid()
    channel = Channel(card)
    found = beid.read(channel, ATR)
    ident, addr = card.files[bytes.fromhex("4031")], card.files[bytes.fromhex("4033")]
    assert card.sent == [
        "00A4080C063F00DF014031",                        # SELECT 3F00/DF01/4031 by path
        "00B00000FC", "00B00000" + le(ident),        # READ BINARY 252 -> 6Cxx -> again with Le=xx
        "00A4020C024033",                            # SELECT 4033 (DF01 is current)
        "00B00000FC", "00B00000" + le(addr),
    ]
    assert channel.sent == 6
    assert found.card == "beid" and found.atr == "3B9813400AA503010101AD1311"
    assert found.coverage is None and found.warnings == ()
    assert found.person.family == "Van den Broeck-Dupont"
    assert found.person.address == Address(("Rue de la Loi 16",), "1000", "Bruxelles", "BE")
    patient = found.to_json()["patient"]
    assert patient["identifier"] == [{"system": SSIN, "value": "85073003328"}]
    assert patient["birthDate"] == "1985-07-30" and patient["gender"] == "female"


def test_warnings_reach_the_card_data():
    card = FakeEid({bytes.fromhex("4031"): identity(t06=b"85073003329"), bytes.fromhex("4033"): address()})
    assert beid.read(Channel(card), ATR).warnings == ("national number check digit does not match",)


def test_a_file_of_exactly_one_chunk_ends_at_6b00():
    ident = identity(pad=0)
    ident += bytes(252 - len(ident))
    card = FakeEid({bytes.fromhex("4031"): ident, bytes.fromhex("4033"): address()})
    assert beid.read(Channel(card), ATR) is not None
    assert card.sent[1:3] == ["00B00000FC", "00B000FCFC"]


@pytest.mark.parametrize("path_sw", [0x6A86, 0x6A82, 0x6A81])
def test_falls_back_to_element_by_element_selects(path_sw):
    card = FakeEid(path_sw=path_sw)
    channel = Channel(card)
    found = beid.read(channel, ATR)
    ident, addr = card.files[bytes.fromhex("4031")], card.files[bytes.fromhex("4033")]
    assert card.sent == [
        "00A4080C063F00DF014031",
        "00A4020C023F00", "00A4020C02DF01", "00A4020C024031",
        "00B00000FC", "00B00000" + le(ident),
        "00A4020C024033",
        "00B00000FC", "00B00000" + le(addr),
    ]
    assert channel.sent == 9 and found.person.given == ("Marie-Claire", "Anne", "J")


def test_a_card_without_df01_is_not_a_belgian_eid():
    card = FakeEid(df01=False)
    assert beid.read(Channel(card), ATR) is None
    assert card.sent == ["00A4080C063F00DF014031", "00A4020C023F00", "00A4020C02DF01"]


def test_a_card_without_iso_select_is_not_a_belgian_eid():
    card = FakeEid(path_sw=0x6D00)
    assert beid.read(Channel(card), ATR) is None
    assert card.sent == ["00A4080C063F00DF014031"]


def test_a_df01_without_identity_file_is_not_a_belgian_eid():
    card = FakeEid({bytes.fromhex("4033"): address()}, path_sw=0x6A82)
    assert beid.read(Channel(card), ATR) is None


@pytest.mark.parametrize("fid, what", [("4031", "identity"), ("4033", "address")])
def test_a_deactivated_file_is_invalid(fid, what):
    card = FakeEid(deactivated={bytes.fromhex(fid)})
    with pytest.raises(CardDataInvalid, match=f"{what} file is deactivated"):
        beid.read(Channel(card), ATR)


def test_a_missing_address_file_is_invalid():
    card = FakeEid({bytes.fromhex("4031"): identity()})
    with pytest.raises(CardDataInvalid, match="4033"):
        beid.read(Channel(card), ATR)
    assert card.sent[-2:] == ["00A4020C024033", "00A4080C063F00DF014033"]


def test_corrupt_identity_on_the_card_is_invalid():
    card = FakeEid({bytes.fromhex("4031"): identity(t0C=b"31 FEB 1990"), bytes.fromhex("4033"): address()})
    with pytest.raises(CardDataInvalid, match="does not exist"):
        beid.read(Channel(card), ATR)


def test_a_card_that_streams_without_end_is_cut_off():
    card = FakeEid({bytes.fromhex("4031"): identity(pad=4000), bytes.fromhex("4033"): address()})
    with pytest.raises(CardDataInvalid, match="far longer"):
        beid.read(Channel(card), ATR)
    assert len(card.sent) <= 1 + 2048 // 252 + 2


@pytest.mark.parametrize("changes", [{"t0C": b"31 FEB 1990"}, {"t0C": b"15 XYZ 1985"}, {"t0D": b"Q"},
                                     {"t06": b"8507300332X"}])
def test_error_messages_carry_no_card_data(changes):
    with pytest.raises(CardDataInvalid) as caught:
        beid.parse_identity(identity(**changes))
    value = next(iter(changes.values())).decode()
    assert value not in str(caught.value) and "1985" not in str(caught.value)


@pytest.mark.parametrize("after", [0, 1, 2, 4, 5])
def test_card_removed_mid_read_propagates(after):
    with pytest.raises(CardRemoved):
        beid.read(Channel(FakeEid(remove_after=after)), ATR)


# --- property-based: only CardDataInvalid may come out ---

def only_invalid(parse, *args):
    try:
        return parse(*args)
    except CardDataInvalid:
        return None


@st.composite
def mutated(draw, original: bytes):
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[at]
        elif op == "overwrite" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x80, 0xC3, draw(st.integers(0, 255))]))
    return bytes(data)


def check_person(result):
    if result is not None:
        person, warnings = result
        assert person.family and person.gender in {"male", "female", "unknown"}
        assert re.fullmatch(r"\d{4}(-\d\d(-\d\d)?)?", person.birth_date)
        assert warnings in ([], ["national number check digit does not match"])


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_random_bytes_give_data_or_card_data_invalid(data):
    only_invalid(beid.parse_tlv, data)
    check_person(only_invalid(beid.parse_identity, data))
    only_invalid(beid.parse_address, data)


@settings(max_examples=300)
@given(mutated(identity()))
def test_mutated_identity_files(data):
    only_invalid(beid.parse_tlv, data)
    check_person(only_invalid(beid.parse_identity, data))


@settings(max_examples=300)
@given(mutated(address()))
def test_mutated_address_files(data):
    result = only_invalid(beid.parse_address, data)
    assert result is None or result.country == "BE"


DATES = ["30 JUL 1985", "15.MÄR.1980", "   MEI 1985", "01 AOÛT 2001", "00.00.1980", "29 FEB 2000"]


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=50),
                 st.builds(lambda d, at, s: d[:at] + s + d[at + 1:], st.sampled_from(DATES),
                           st.integers(0, 12), st.text(max_size=3))))
def test_random_and_mutated_birth_dates(text):
    result = only_invalid(beid.parse_birth_date, text)
    assert result is None or re.fullmatch(r"\d{4}(-\d\d(-\d\d)?)?", result)
    assert only_invalid(beid.national_number_ok, text) in (None, True, False)


@settings(max_examples=300)
@given(mutated(identity()), mutated(address()), st.sampled_from([None, 0x6A86]))
def test_read_of_a_card_with_mutated_files(ident, addr, path_sw):
    card = FakeEid({bytes.fromhex("4031"): ident, bytes.fromhex("4033"): addr}, path_sw=path_sw)
    result = only_invalid(beid.read, Channel(card), ATR)
    assert result is None or result.card == "beid"
    assert len(card.sent) <= 30
