"""The Belgian eID: identity (3F00/DF01/4031) and address (4033) files, read without a PIN.

Sources: Fedict eid-mw (``cardcomm/pkcs11/src/common/tlvbuffer.cpp``, ``cardcomm/pkcs11/src/cardlayer/card.cpp``,
eid-viewer ``conversions/dob.cpp`` and ``genderconv.cpp``). The parsers are pure and raise only
``CardDataInvalid``; ``read`` adds the APDUs. The photo and the signature files are never read.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import replace

from kiosk.hardware.cards.apdu import (
                                       SW_DEACTIVATED,
                                       SW_NOT_FOUND,
                                       SW_OK,
                                       SW_WRONG_P1P2,
                                       CardDataInvalid,
                                       Channel,
                                       )
from kiosk.checkin.model import SSIN_SYSTEM, Address, CardData, Identifier, Person

NN_MISMATCH = "national number check digit does not match"

MF, DF_ID = bytes.fromhex("3F00"), bytes.fromhex("DF01")
EF_IDENTITY, EF_ADDRESS = bytes.fromhex("4031"), bytes.fromhex("4033")
MAX_FILE = 2048            # both files are a few hundred bytes; a card that streams forever is cut here
MAX_FIELD = 256
# Upper bounds with room above the Fedict layout's sizes; longer values are corrupt data, not long names.
FIELD_LIMITS = {0x06: 11, 0x07: 110, 0x08: 110, 0x09: 4, 0x0C: 24, 0x0D: 4}
# INS / CLA not supported: the card does not speak ISO SELECT at all, trying other forms is pointless.
SW_NOT_THIS_CARD = frozenset({0x6D00, 0x6E00})

GENDERS = {"M": "male", "F": "female", "V": "female", "W": "female", "X": "unknown"}

# The eid-viewer month table (NL/FR/DE/EN) plus third-party spellings, keyed by the first three letters
# without accents: MÄR -> MAR, FÉV -> FEV, AOÛT -> AOU. JUIN/JUIL share "JUI" and are told apart below.
MONTHS = {
    "JAN": 1, "FEB": 2, "FEV": 2, "MAA": 3, "MAR": 3, "MAE": 3, "APR": 4, "AVR": 4, "MEI": 5, "MAI": 5,
    "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "AOU": 8, "SEP": 9, "OKT": 10, "OCT": 10, "NOV": 11,
    "DEC": 12, "DEZ": 12,
}


def parse_tlv(data: bytes) -> dict[int, bytes]:
    """Fedict TLV (eid-mw ``tlvbuffer.cpp``): one-byte tag, length bytes summed while a byte is 0xFF, value.

    A 0x00 tag is the version when it comes first; anywhere later it is the zero padding that ends
    the file.

    :raises CardDataInvalid: a length runs past the end, or a tag appears twice
    """
    fields: dict[int, bytes] = {}
    end, i = len(data), 0
    while i < end:
        tag, start = data[i], i
        if tag == 0x00 and i > 0:
            break
        i += 1
        length = 0
        while True:
            if i >= end:
                raise CardDataInvalid(f"TLV tag {tag:02X} at offset {start} has no complete length")
            length += data[i]
            i += 1
            if data[i - 1] != 0xFF:
                break
        if i + length > end:
            raise CardDataInvalid(f"TLV tag {tag:02X} at offset {start} claims {length} bytes, "
                                  f"only {end - i} are left")
        if tag in fields:
            raise CardDataInvalid(f"TLV tag {tag:02X} appears twice")
        fields[tag] = bytes(data[i:i + length])
        i += length
    return fields


def _month(token: str) -> int:
    if re.fullmatch(r"[0-9]{1,2}", token):
        if int(token) > 12:
            raise CardDataInvalid("the birth date's month number is above 12")
        return int(token)
    if len(token) < 3 or not token.isalpha():
        raise CardDataInvalid("the birth date's month is not a month name")
    if token.startswith("JUI") and len(token) > 3 and token[3] in "NL":
        return 6 if token[3] == "N" else 7
    try:
        return MONTHS[token[:3]]
    except KeyError:
        raise CardDataInvalid("the birth date's month is not a month name") from None


def parse_birth_date(text: str) -> str:
    """The card's localized birth date ("30 JUL 1985", "30.JUL.1985", "30 JUIL. 1985", "   MAI 1985")
    as ISO with the precision it has: ``1985-07-30``, ``1985-07`` (day blank or 00) or ``1985`` (month
    blank or 00). Month names are NL/FR/DE/EN, matched on their first letters, accents optional.

    :raises CardDataInvalid: no 4-digit year, an unknown month name, or a day the month does not have
    """
    if len(text) > 40:
        raise CardDataInvalid("the birth date is too long")
    # Accents come off (MÄR, FÉV, AOÛT); anything still not ASCII cannot be part of a date.
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    if not folded.isascii():
        raise CardDataInvalid("the birth date holds characters that are not part of a date")
    plain = folded.upper()
    tokens = [t for t in re.split(r"[\s.]+", plain) if t]
    if not tokens or not re.fullmatch(r"[0-9]{4}", tokens[-1]):
        raise CardDataInvalid("the birth date has no 4-digit year")
    year = int(tokens[-1])
    if not 1800 <= year <= 2199:
        raise CardDataInvalid("the birth year is before 1800 or after 2199")
    *head, _ = tokens
    if len(head) > 2:
        raise CardDataInvalid("the birth date is not DD MMM YYYY")
    day, month = 0, 0
    if len(head) == 2:
        if not re.fullmatch(r"[0-9]{1,2}", head[0]):
            raise CardDataInvalid("the birth day is not a number")
        day, month = int(head[0]), _month(head[1])
    elif head and re.fullmatch(r"[0-9]{1,2}", head[0]):
        day = int(head[0])             # "15     1980": a day with a blank month says nothing
    elif head:
        month = _month(head[0])
    if not month:
        return f"{year:04d}"
    if not day:
        return f"{year:04d}-{month:02d}"
    if day > calendar.monthrange(year, month)[1]:
        raise CardDataInvalid("the birth date does not exist (a day its month does not have)")
    return f"{year:04d}-{month:02d}-{day:02d}"


def national_number_ok(nn: str, birth_iso: str | None = None) -> bool:
    """Whether the check digits of a national number ``YYMMDDSSSCC`` match: CC = 97 - (YYMMDDSSS mod 97)
    for births before 2000, with 2 prefixed (2_000_000_000 + YYMMDDSSS) from 2000 on. Without a birth
    year (``birth_iso`` None, empty or not starting with one) either rule is accepted.

    :raises CardDataInvalid: not exactly 11 digits
    """
    if not re.fullmatch(r"[0-9]{11}", nn):
        raise CardDataInvalid("the national number is not 11 digits")
    body, check = int(nn[:9]), int(nn[9:])
    before_2000 = 97 - body % 97 == check
    from_2000 = 97 - (2_000_000_000 + body) % 97 == check
    if birth_iso and re.match(r"[0-9]{4}", birth_iso):
        return from_2000 if int(birth_iso[:4]) >= 2000 else before_2000
    return before_2000 or from_2000


def _text(fields: dict[int, bytes], tag: int, what: str, file: str) -> str:
    raw = fields.get(tag, b"")
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CardDataInvalid(f"the {what} in the {file} file is not UTF-8") from None
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise CardDataInvalid(f"the {what} in the {file} file holds control characters")
    return value.strip()


def _fields(data: bytes, file: str) -> dict[int, bytes]:
    fields = parse_tlv(data)
    for tag, value in fields.items():
        limit = FIELD_LIMITS.get(tag, MAX_FIELD) if file == "identity" else MAX_FIELD
        if len(value) > limit:
            raise CardDataInvalid(f"field {tag:02X} of the {file} file is {len(value)} bytes, "
                                  f"more than {limit}")
    return fields


def parse_identity(data: bytes) -> tuple[Person, list[str]]:
    """The person in identity file 4031, and warnings for what was read but looks wrong.

    Tags: 06 national number, 07 surname, 08 first names (one given entry each), 09 initial of the
    third given name, 0C birth date, 0D gender (M; F, V, W female; X unknown).

    :raises CardDataInvalid: bad TLV, a missing or empty 06/07/0C/0D, invalid UTF-8, an overlong field,
        an unknown gender letter, an impossible birth date, or a national number that is not 11 digits
    """
    fields = _fields(data, "identity")
    names = {0x06: "national number", 0x07: "surname", 0x08: "first names", 0x09: "third initial",
             0x0C: "birth date", 0x0D: "gender"}
    values = {tag: _text(fields, tag, what, "identity") for tag, what in names.items()}
    for tag in (0x06, 0x07, 0x0C, 0x0D):
        if not values[tag]:
            raise CardDataInvalid(f"the identity file has no {names[tag]} (tag {tag:02X})")
    gender = GENDERS.get(values[0x0D].upper())
    if gender is None:
        raise CardDataInvalid("the gender letter is none of M, F, V, W, X")
    birth_date = parse_birth_date(values[0x0C])
    warnings = [] if national_number_ok(values[0x06], birth_date) else [NN_MISMATCH]
    given = tuple(values[0x08].split()) + ((values[0x09],) if values[0x09] else ())
    person = Person(family=values[0x07], given=given, birth_date=birth_date, gender=gender,
                    identifiers=(Identifier(SSIN_SYSTEM, values[0x06]),))
    return person, warnings


def parse_address(data: bytes) -> Address:
    """The address in file 4033: 01 street and number, 02 postal code, 03 municipality; country BE.

    :raises CardDataInvalid: bad TLV, invalid UTF-8, an overlong field, or none of the three present
    """
    fields = _fields(data, "address")
    street, postal_code, city = (_text(fields, tag, what, "address")
                                 for tag, what in ((0x01, "street"), (0x02, "postal code"), (0x03, "city")))
    if not (street or postal_code or city):
        raise CardDataInvalid("the address file holds no address")
    return Address(lines=(street,) if street else (), postal_code=postal_code, city=city, country="BE")


def _select_elements(channel: Channel, fid: bytes) -> int:
    # eid-mw's fallback: "the Belpic card doesn't support select by path" on old cards.
    for part in (MF, DF_ID, fid):
        sw = channel.select_fid(part)
        if sw != SW_OK:
            return sw
    return SW_OK


def _deactivated(sw: int, what: str) -> None:
    if sw == SW_DEACTIVATED:
        raise CardDataInvalid(f"the card says its {what} is deactivated (6283)")


def _read_file(channel: Channel, what: str) -> bytes:
    data = channel.read_to_end(MAX_FILE)
    if len(data) >= MAX_FILE:
        raise CardDataInvalid(f"the {what} file is {MAX_FILE} bytes or more, far longer than an eID's")
    return data


def read(channel: Channel, atr: bytes) -> CardData | None:
    """Read a Belgian eID: SELECT 3F00/DF01/4031 by path (with 3F00, the form third-party readers use
    on real cards; element by element when the card refuses it), READ BINARY to the end, SELECT 4033,
    READ BINARY to the end. None when there is no 3F00/DF01/4031, i.e. this is not a Belgian eID.

    :raises CardDataInvalid: a deactivated file (6283), a read that fails, or unusable file contents
    :raises CardRemoved: the card left during the read (from the transport, untouched)
    """
    sw = channel.select_path(MF + DF_ID + EF_IDENTITY)
    _deactivated(sw, "identity file")
    by_path = sw == SW_OK
    if sw in SW_NOT_THIS_CARD:
        return None
    if not by_path:
        sw = _select_elements(channel, EF_IDENTITY)
        _deactivated(sw, "identity file")
        if sw != SW_OK:
            return None
    person, warnings = parse_identity(_read_file(channel, "identity"))

    sw = channel.select_fid(EF_ADDRESS)
    if sw in (SW_NOT_FOUND, SW_WRONG_P1P2):
        sw = channel.select_path(MF + DF_ID + EF_ADDRESS) if by_path else _select_elements(channel, EF_ADDRESS)
    _deactivated(sw, "address file")
    if sw != SW_OK:
        raise CardDataInvalid(f"the eID has no readable address file 4033 (SW {sw:04X})")
    address = parse_address(_read_file(channel, "address"))
    return CardData(card="beid", atr=atr.hex().upper(), person=replace(person, address=address),
                    coverage=None, warnings=tuple(warnings))
