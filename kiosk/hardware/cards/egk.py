"""German eGK (elektronische Gesundheitskarte): DF.HCA, EF.StatusVD, EF.PD and EF.VD over the contact interface.

Pure parsers for the card files plus ``read``, the minimal APDU sequence. Sources: gemSpec_eGK_ObjSys_G2_1 (file
system), gematik's Implementierungsleitfaden eGK (gemLF_Impl_eGK: read sequence, file layouts), OpenSC
``src/tools/egk-tool.c``, and gematik ``api-telematik`` ``fa/vsds/Schema_VSD.xsd`` (VSD schema 5.2; 5.1 names as
in Kaupisch-IT/eGK-KVK).
"""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, replace

from kiosk.hardware.cards.apdu import SW_DEACTIVATED, SW_OK, CardDataInvalid, Channel
from kiosk.checkin.model import IK_SYSTEM, KVNR_SYSTEM, Address, CardData, Coverage, Identifier, Person

HCA_AID = bytes.fromhex("D27600000102")
SFI_PD, SFI_VD, SFI_STATUS_VD = 0x01, 0x02, 0x0C
STATUS_VD_LENGTH = 25
MAX_INFLATED = 64 * 1024       # the XML is ~1 KiB; anything far larger is a zip bomb

_NOT_AN_EGK = {0x6A82, 0x6A86, 0x6D00, 0x6E00}
_NS_52 = "http://ws.gematik.de/fa/vsdm/vsd/v5.2"
_NS_51 = "http://ws.gematik.de/fa/vsds/{root}/v5.1"
_PD_ROOT = "UC_PersoenlicheVersichertendatenXML"
_VD_ROOT = "UC_AllgemeineVersicherungsdatenXML"
_GENDER = {"M": "male", "W": "female", "F": "female", "V": "female", "D": "other", "X": "unknown"}
_KVNR = re.compile(r"[A-Z][0-9]{9}")
_DIGITS8 = re.compile(r"[0-9]{8}")
_IK = re.compile(r"[0-9]{9}")
_ISO2 = re.compile(r"[A-Z]{2}")

# DEÜV Anlage 8 (the card's Wohnsitzlaendercode) -> ISO 3166-1 alpha-2. Two-letter DEÜV codes not listed here
# mean the same country in ISO; the ones listed mean a *different* one (DEÜV "FR" is the Faroe Islands, "ES" El
# Salvador, "TJ" China...), per the KBV value set KBV_VS_BASE_GemRS_Anlage_8.
_COUNTRY = {
    "D": "DE", "A": "AT", "CH": "CH", "F": "FR", "B": "BE", "NL": "NL", "L": "LU", "I": "IT", "E": "ES",
    "P": "PT", "PL": "PL", "CZ": "CZ", "DK": "DK", "TR": "TR", "GB": "GB", "S": "SE", "N": "NO", "H": "HU",
    "M": "MT", "V": "VA", "FIN": "FI", "IRL": "IE", "EST": "EE", "SLO": "SI", "RSM": "SM", "AND": "AD",
    "RUS": "RU", "SRB": "RS", "MNE": "ME", "BIH": "BA", "USA": "US", "CDN": "CA", "AUS": "AU", "J": "JP",
    "ROK": "KR", "IND": "IN", "TWN": "TW", "SYR": "SY", "IRQ": "IQ", "AFG": "AF", "RCH": "CL", "RA": "AR",
    "MEX": "MX", "T": "TH", "K": "KH", "C": "CU", "Z": "ZM", "WAN": "NG", "EAK": "KE", "EAT": "TZ",
    "ET": "EG", "BH": "BZ", "BJ": "VG", "DY": "BJ", "RU": "BI", "TJ": "CN", "ES": "SV", "FR": "FO", "LB": "LR",
    "RL": "LB", "MS": "MU", "SY": "SC", "CL": "LK", "SD": "SZ", "AJ": "VI", "HV": "BF", "WD": "DM", "FG": "GF",
    "FP": "PF", "WG": "GD", "RG": "GN", "RH": "HT", "RI": "ID", "JA": "JM", "RM": "MG", "RN": "NE", "RP": "PH",
    "YV": "VE", "SP": "SO", "RB": "BW", "WL": "LC", "WV": "VC",
}


@dataclass(frozen=True)
class StatusVD:
    """EF.StatusVD as read: whether an update of PD/VD is half-done, when it was written, which schema."""

    pending: bool            # an update transaction is open: PD/VD may be half-written
    timestamp: str           # YYYYMMDDhhmmss as on the card
    schema_version: str      # e.g. "5.2.0"


def parse_status_vd(data: bytes) -> StatusVD:
    """EF.StatusVD: status byte '0'/'1', 14-digit ASCII timestamp, 5-byte BCD schema version (gemLF_Impl_eGK).

    :raises CardDataInvalid: too short, unknown status byte, non-digit timestamp or non-BCD version
    """
    if len(data) < 20:
        raise CardDataInvalid(f"EF.StatusVD holds {len(data)} bytes, fewer than the 20 it needs")
    if data[0] not in b"01":
        raise CardDataInvalid(f"EF.StatusVD has an unknown status byte {data[0]:02X}")
    stamp = data[1:15]
    if not all(0x30 <= b <= 0x39 for b in stamp):
        raise CardDataInvalid("the EF.StatusVD timestamp is not 14 digits")
    bcd = data[15:20].hex()
    if not bcd.isdigit():
        raise CardDataInvalid("the EF.StatusVD schema version is not BCD")
    return StatusVD(data[0] == 0x31, stamp.decode("ascii"), f"{int(bcd[:3])}.{int(bcd[3:6])}.{int(bcd[6:])}")


def inflate(data: bytes) -> bytes:
    """Decompress one gzip member, tolerating trailing bytes after it (padding or junk).

    :raises CardDataInvalid: corrupt, truncated (no end of stream) or larger than 64 KiB inflated
    """
    stream = zlib.decompressobj(wbits=47)     # header auto-detected, as OpenSC does: tolerant of odd cards
    try:
        out = stream.decompress(bytes(data), MAX_INFLATED + 1)
    except zlib.error as e:
        raise CardDataInvalid(f"the compressed card data is corrupt ({e})") from None
    if len(out) > MAX_INFLATED:
        raise CardDataInvalid(f"the compressed card data inflates past {MAX_INFLATED} bytes")
    if not stream.eof:
        raise CardDataInvalid("the compressed card data is truncated")
    return out


def kvnr_check_digit_ok(kvnr: str) -> bool:
    """True when the 10th character of a KVNR (``[A-Z][0-9]{9}``) is its check digit: the letter as 01-26 and
    the next 8 digits, weighted 1, 2, 1, 2, ..., the digit sums of the products added up, mod 10."""
    if not _KVNR.fullmatch(kvnr):
        return False
    digits = f"{ord(kvnr[0]) - ord('A') + 1:02d}" + kvnr[1:9]
    total = 0
    for i, digit in enumerate(digits):
        product = int(digit) * (1 if i % 2 == 0 else 2)
        total += product // 10 + product % 10
    return total % 10 == int(kvnr[9])


def parse_pd(ef_pd: bytes) -> tuple[Person, list[str]]:
    """EF.PD (2-byte big-endian gzip length + gzip'd XML; gemSpec_eGK_ObjSys, OpenSC egk-tool.c, Schema_VSD.xsd)
    as a Person plus warnings.

    :raises CardDataInvalid: bad length, gzip or XML, wrong root or namespace, a missing mandatory element,
        an overlong field, an impossible birth date, an unknown gender code or a malformed KVNR
    """
    if len(ef_pd) < 2:
        raise CardDataInvalid("EF.PD is too short to hold its length")
    length = int.from_bytes(ef_pd[:2], "big")
    if length == 0 or len(ef_pd) < 2 + length:
        raise CardDataInvalid(f"EF.PD announces {length} bytes of data but holds {max(0, len(ef_pd) - 2)}")
    root = _xml_root(inflate(ef_pd[2:2 + length]), _PD_ROOT)
    warnings: list[str] = []
    insured = _need(root, "Versicherter")
    kvnr = _text(insured, "Versicherten_ID", 10, required=True)
    if not _KVNR.fullmatch(kvnr):
        raise CardDataInvalid("Versicherten_ID is not a KVNR (a capital letter and 9 digits)")
    if not kvnr_check_digit_ok(kvnr):
        warnings.append("KVNR check digit does not match")
    person = _need(insured, "Person")
    birth = _iso_date(_text(person, "Geburtsdatum", 8, required=True), "Geburtsdatum", partial=True)
    given = _text(person, "Vorname", 45, required=True)
    surname = _text(person, "Nachname", 45, required=True)
    code = _text(person, "Geschlecht", 1, required=True)
    if code not in _GENDER:
        raise CardDataInvalid("Geschlecht holds an unknown code")
    title = _text(person, "Titel", 20)
    family = " ".join(p for p in (_text(person, "Namenszusatz", 20), _text(person, "Vorsatzwort", 20), surname) if p)
    return Person(family=family, given=tuple(given.split()), prefix=(title,) if title else (), birth_date=birth,
                  gender=_GENDER[code], identifiers=(Identifier(KVNR_SYSTEM, kvnr),),
                  address=_address(person, warnings)), warnings


def parse_vd(ef_vd: bytes) -> tuple[Coverage, list[str]]:
    """EF.VD (8-byte offset header + gzip'd XML; gemLF_Impl_eGK, OpenSC egk-tool.c, Schema_VSD.xsd) as a Coverage
    plus warnings.

    ``subscriber_id`` stays empty (the KVNR is in EF.PD). The GVD copy is protected data and is not read.

    :raises CardDataInvalid: offsets outside the file, overlapping the header or ending before they start;
        bad gzip or XML; a missing or malformed Beginn/Ende/Kostentraegerkennung
    """
    if len(ef_vd) < 8:
        raise CardDataInvalid(f"EF.VD holds {len(ef_vd)} bytes, fewer than its 8-byte header")
    start, end = _vd_span(ef_vd[:8])
    if end >= len(ef_vd):
        raise CardDataInvalid(f"EF.VD says its data ends at {end}, past the {len(ef_vd)}-byte file")
    return _coverage(ef_vd[start:end + 1])


def read(channel: Channel, atr: bytes) -> CardData | None:
    """Read an eGK: SELECT DF.HCA, then EF.StatusVD, EF.PD and EF.VD with the fewest READ BINARYs.

    :returns: None when the card has no health application (not an eGK)
    :raises CardDataInvalid: deactivated application, unreadable files or invalid data
    :raises CardRemoved: the card left during the read (from the transport, untouched)
    """
    sw = channel.select_aid(HCA_AID)
    if sw in _NOT_AN_EGK:
        return None
    if sw == SW_DEACTIVATED:
        raise CardDataInvalid("the health application on this card is deactivated")
    if sw != SW_OK:
        raise CardDataInvalid(f"selecting the health application failed (SW {sw:04X})")
    warnings: list[str] = []
    # StatusVD is metadata: a damaged one is worth a warning, not turning the patient away.
    answer = channel.read_binary(0, STATUS_VD_LENGTH, sfi=SFI_STATUS_VD)
    try:
        if not answer.ok:
            raise CardDataInvalid(f"SW {answer.sw:04X}")
        if parse_status_vd(answer.data).pending:
            warnings.append("card data update pending")
    except CardDataInvalid as e:
        warnings.append(f"EF.StatusVD unreadable: {e}")

    # One SFI read per file selects it and brings its header and first chunk; read_range fetches only the rest.
    first = _first_chunk(channel, SFI_PD, "EF.PD", 2)
    length = int.from_bytes(first[:2], "big")
    person, pd_warnings = parse_pd(first[:2] + channel.read_range(2, length, have=first, have_from=0))

    first = _first_chunk(channel, SFI_VD, "EF.VD", 8)
    start, end = _vd_span(first[:8])
    coverage, vd_warnings = _coverage(channel.read_range(start, end - start + 1, have=first, have_from=0))

    kvnr = person.identifiers[0].value
    return CardData(card="egk", atr=atr.hex().upper(), person=person,
                    coverage=replace(coverage, subscriber_id=kvnr),
                    warnings=tuple(warnings + pd_warnings + vd_warnings))


def _first_chunk(channel: Channel, sfi: int, name: str, minimum: int) -> bytes:
    answer = channel.read_binary(0, channel.chunk, sfi=sfi)
    if not answer.ok:
        raise CardDataInvalid(f"reading {name} failed (SW {answer.sw:04X})")
    if len(answer.data) < minimum:
        raise CardDataInvalid(f"{name} is too short ({len(answer.data)} bytes)")
    return answer.data


def _vd_span(header: bytes) -> tuple[int, int]:
    start, end = int.from_bytes(header[0:2], "big"), int.from_bytes(header[2:4], "big")
    if start == 0xFFFF:
        raise CardDataInvalid("EF.VD holds no insurance data")
    if start < 8:
        raise CardDataInvalid(f"EF.VD data starts at {start}, inside its 8-byte header")
    if end < start:
        raise CardDataInvalid(f"EF.VD data ends at {end}, before it starts at {start}")
    return start, end


def _coverage(compressed: bytes) -> tuple[Coverage, list[str]]:
    root = _xml_root(inflate(compressed), _VD_ROOT)
    protection = _need(_need(root, "Versicherter"), "Versicherungsschutz")
    start = _iso_date(_text(protection, "Beginn", 8, required=True), "Beginn", partial=False)
    end = _text(protection, "Ende", 8)
    payor = _need(protection, "Kostentraeger")
    ik = _text(payor, "Kostentraegerkennung", 9, required=True)
    if not _IK.fullmatch(ik):
        raise CardDataInvalid("Kostentraegerkennung is not a 9-digit IK")
    return Coverage(payor_system=IK_SYSTEM, payor_id=ik, payor_name=_text(payor, "Name", 45), subscriber_id="",
                    status="active", start=start,
                    end=_iso_date(end, "Ende", partial=False) if end else ""), []


class _NoDoctype(ET.TreeBuilder):
    def doctype(self, name, pubid, system):
        raise CardDataInvalid("the card data XML carries a DOCTYPE (entities are not allowed)")


def _xml_root(document: bytes, root_name: str) -> ET.Element:
    # The byte check catches ISO-8859-15/UTF-8 documents cheaply; the parser hook catches any other encoding.
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise CardDataInvalid("the card data XML carries a DOCTYPE or ENTITY (not allowed)")
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(document)
        root = parser.close()
    except (ET.ParseError, ValueError, LookupError) as e:
        raise CardDataInvalid(f"the card data is not well-formed XML ({e})") from None
    if not isinstance(root, ET.Element) or not isinstance(root.tag, str):
        raise CardDataInvalid("the card data XML has no root element")
    namespace, _, local = root.tag[1:].rpartition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != root_name:
        raise CardDataInvalid(f"the card data XML root is {local[:60]!r}, not {root_name}")
    if namespace not in (_NS_52, _NS_51.format(root=root_name)):
        raise CardDataInvalid(f"{root_name} is in an unknown namespace {namespace[:80]!r}")
    return root


def _child(parent: ET.Element, name: str) -> ET.Element | None:
    for child in parent:
        if isinstance(child.tag, str) and child.tag.rpartition("}")[2] == name:
            return child
    return None


def _need(parent: ET.Element, name: str) -> ET.Element:
    child = _child(parent, name)
    if child is None:
        raise CardDataInvalid(f"the card data lacks the mandatory element {name}")
    return child


def _text(parent: ET.Element | None, name: str, max_len: int, required: bool = False) -> str:
    child = _child(parent, name) if parent is not None else None
    value = (child.text or "").strip() if child is not None else ""
    if required and not value:
        raise CardDataInvalid(f"the card data lacks the mandatory element {name}")
    if len(value) > max_len:
        raise CardDataInvalid(f"{name} is longer than the {max_len} characters the schema allows")
    return value


def _iso_date(text: str, name: str, partial: bool) -> str:
    """YYYYMMDD -> ISO; with ``partial``, day 00 or month+day 00 keep the precision the card has."""
    if not _DIGITS8.fullmatch(text):
        raise CardDataInvalid(f"{name} is not a date of the form YYYYMMDD")
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    try:
        if partial and day == 0 and month == 0 and year > 0:
            return text[:4]
        if partial and day == 0:
            datetime.date(year, month, 1)
            return f"{text[:4]}-{text[4:6]}"
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        raise CardDataInvalid(f"{name} is not a possible date") from None


def _address(person: ET.Element, warnings: list[str]) -> Address | None:
    street, box = _child(person, "StrassenAdresse"), _child(person, "PostfachAdresse")
    # Validate both (overlong fields are invalid wherever they are); show the street address when there is one.
    box_address = _one_address(box, warnings, street=False) if box is not None else None
    if street is not None:
        return _one_address(street, warnings, street=True)
    return box_address


def _one_address(element: ET.Element, warnings: list[str], street: bool) -> Address:
    postal_code = _text(element, "Postleitzahl", 10)
    city = _text(element, "Ort", 40)
    country = _country(_text(_child(element, "Land"), "Wohnsitzlaendercode", 3), warnings)
    if street:
        first = " ".join(p for p in (_text(element, "Strasse", 46), _text(element, "Hausnummer", 9)) if p)
        lines = tuple(p for p in (first, _text(element, "Anschriftenzusatz", 40)) if p)
    else:
        number = _text(element, "Postfach", 8)
        lines = (f"Postfach {number}",) if number else ()
    return Address(lines=lines, postal_code=postal_code, city=city, country=country)


def _country(code: str, warnings: list[str]) -> str:
    if code in _COUNTRY:
        return _COUNTRY[code]
    if not code or _ISO2.fullmatch(code):
        return code
    warnings.append("the address country code is not a known DEÜV code; kept as on the card")
    return code
