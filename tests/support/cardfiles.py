"""Real card contents for the virtual cards: eGK (EF.PD, EF.VD, EF.StatusVD: gzip'd ISO-8859-15 XML
of schema 5.1 and 5.2) and Belgian eID (Fedict TLV identity and address files), and the cards that
hold them.

Sources: the eGK's file system and file layouts from gemSpec_eGK_ObjSys_G2_1 and gemLF_Impl_eGK, its XML
from gematik ``Schema_VSD.xsd`` v5.2; the Belgian eID's files and Fedict TLV from eid-mw (``beid_p11.h``,
``card.cpp``, ``tlvbuffer.cpp`` ParseTLV). These builders encode independently of the kiosk's parsers.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from types import MappingProxyType
from typing import Mapping
from xml.sax.saxutils import escape

from vcard import DF, EF, VirtualCard

# ------------------------------------------------------------------------------------------------
# eGK contents
# ------------------------------------------------------------------------------------------------

EGK_ATR = bytes.fromhex("3BD396FF81B1FE451F078081052D")           # eGK G2 (pcsc-tools ATR list)
EGK_MF_AID = bytes.fromhex("D2760001448000")
EGK_HCA_AID = bytes.fromhex("D27600000102")
# EF.ATR: the example in gemLF_Impl_eGK (max C-APDU data 0x0123, max R-APDU 0x0234)
EGK_EF_ATR = bytes.fromhex("E01002020123020202340202045602020789")
EGK_ICCSN = bytes.fromhex("80276883110000017222")                 # EF.GDO's ICCSN (BCD; 80 276: Germany)

_NS_52 = "http://ws.gematik.de/fa/vsdm/vsd/v5.2"
_NS_51 = "http://ws.gematik.de/fa/vsds/{root}/v5.1"

EGK_STREET_ADDRESS = MappingProxyType({
    "Postleitzahl": "50667", "Ort": "Köln", "Wohnsitzlaendercode": "D",
    "Strasse": "Hohe Straße", "Hausnummer": "12a",
})


def _xml_doc(root: str, prefix: str, version: str, body: str) -> bytes:
    if version == "5.2":
        ns, cdm = _NS_52, "5.2.0"
    elif version == "5.1":
        ns, cdm = _NS_51.format(root=root), "5.1.0"
    else:
        raise ValueError(f"schema version {version!r}: 5.1 or 5.2")
    text = (f'<?xml version="1.0" encoding="ISO-8859-15" standalone="yes"?>\n'
            f'<{prefix}:{root} xmlns:{prefix}="{ns}" CDM_VERSION="{cdm}">{body}</{prefix}:{root}>')
    return text.encode("iso-8859-15", "xmlcharrefreplace")


def _el(prefix: str, name: str, value: str | None) -> str:
    return "" if value is None else f"<{prefix}:{name}>{escape(str(value))}</{prefix}:{name}>"


def egk_pd_xml(*, kvnr: str = "X110411675", given: str = "Jürgen Heinz",
               family: str = "Müller-Lüdenscheidt", birth: str = "19580321", sex: str = "M",
               vorsatzwort: str | None = None, namenszusatz: str | None = None,
               titel: str | None = None,
               street_address: Mapping[str, str] | None = EGK_STREET_ADDRESS,
               postbox_address: Mapping[str, str] | None = None, version: str = "5.2",
               extra_xml: str = "") -> bytes:
    """UC_PersoenlicheVersichertendatenXML (EF.PD content before gzip), ISO-8859-15.

    Addresses are dicts keyed by element name: street ``Postleitzahl, Ort, Wohnsitzlaendercode,
    Strasse, Hausnummer, Anschriftenzusatz``; post box ``Postleitzahl, Ort, Postfach,
    Wohnsitzlaendercode``; missing keys are left out. ``extra_xml`` goes verbatim at the end of
    ``Person`` (use the ``vsdp:`` prefix for an element in the namespace).
    """
    p = "vsdp"
    person = (_el(p, "Geburtsdatum", birth) + _el(p, "Vorname", given) + _el(p, "Nachname", family)
              + _el(p, "Geschlecht", sex) + _el(p, "Vorsatzwort", vorsatzwort)
              + _el(p, "Namenszusatz", namenszusatz) + _el(p, "Titel", titel))
    if postbox_address is not None:
        a = postbox_address
        person += (f"<{p}:PostfachAdresse>" + _el(p, "Postleitzahl", a.get("Postleitzahl"))
                   + _el(p, "Ort", a.get("Ort")) + _el(p, "Postfach", a.get("Postfach"))
                   + _land(p, a) + f"</{p}:PostfachAdresse>")
    if street_address is not None:
        a = street_address
        person += (f"<{p}:StrassenAdresse>" + _el(p, "Postleitzahl", a.get("Postleitzahl"))
                   + _el(p, "Ort", a.get("Ort")) + _land(p, a) + _el(p, "Strasse", a.get("Strasse"))
                   + _el(p, "Hausnummer", a.get("Hausnummer"))
                   + _el(p, "Anschriftenzusatz", a.get("Anschriftenzusatz"))
                   + f"</{p}:StrassenAdresse>")
    body = (f"<{p}:Versicherter>" + _el(p, "Versicherten_ID", kvnr)
            + f"<{p}:Person>{person}{extra_xml}</{p}:Person></{p}:Versicherter>")
    return _xml_doc("UC_PersoenlicheVersichertendatenXML", p, version, body)


def _land(p: str, address: Mapping[str, str]) -> str:
    code = address.get("Wohnsitzlaendercode")
    return "" if code is None else f"<{p}:Land>{_el(p, 'Wohnsitzlaendercode', code)}</{p}:Land>"


def egk_vd_xml(*, begin: str = "20200101", end: str | None = None, ik: str = "109500969",
               payor: str = "Test GKV", country: str = "D", versichertenart: str = "1",
               wop: str = "38", version: str = "5.2", extra_xml: str = "") -> bytes:
    """UC_AllgemeineVersicherungsdatenXML (EF.VD's first container before gzip), ISO-8859-15.
    ``extra_xml`` goes verbatim at the end of ``Versicherter`` (prefix ``vsda:``)."""
    p = "vsda"
    payer = (f"<{p}:Kostentraeger>" + _el(p, "Kostentraegerkennung", ik)
             + _el(p, "Kostentraegerlaendercode", country) + _el(p, "Name", payor)
             + f"</{p}:Kostentraeger>")
    if version == "5.1":
        gkv = (_el(p, "Rechtskreis", "1") + _el(p, "Versichertenart", versichertenart)
               + _el(p, "Versichertenstatus_RSA", "0")
               + f"<{p}:Zusatzinfos_Abrechnung_GKV>" + _el(p, "Kostenerstattung_ambulant", "0")
               + _el(p, "Kostenerstattung_stationaer", "0") + _el(p, "WOP", wop)
               + f"</{p}:Zusatzinfos_Abrechnung_GKV>")
    else:
        gkv = (_el(p, "Versichertenart", versichertenart)
               + f"<{p}:Zusatzinfos_Abrechnung_GKV>{_el(p, 'WOP', wop)}"
               + f"</{p}:Zusatzinfos_Abrechnung_GKV>")
    body = (f"<{p}:Versicherter><{p}:Versicherungsschutz>" + _el(p, "Beginn", begin)
            + _el(p, "Ende", end) + payer + f"</{p}:Versicherungsschutz>"
            + f"<{p}:Zusatzinfos><{p}:ZusatzinfosGKV>{gkv}</{p}:ZusatzinfosGKV></{p}:Zusatzinfos>"
            + f"{extra_xml}</{p}:Versicherter>")
    return _xml_doc("UC_AllgemeineVersicherungsdatenXML", p, version, body)


def egk_gvd_xml(*, zuzahlung_status: str = "0", version: str = "5.2", extra_xml: str = "") -> bytes:
    """A minimal UC_GeschuetzteVersichertendatenXML (the GVD copy in EF.VD)."""
    p = "vsdg"
    body = (f"<{p}:Zuzahlungsstatus>{_el(p, 'Status', zuzahlung_status)}</{p}:Zuzahlungsstatus>"
            f"<{p}:Selektivvertraege>{_el(p, 'Aerztlich', '9')}{_el(p, 'Zahnaerztlich', '9')}"
            f"</{p}:Selektivvertraege>{extra_xml}")
    return _xml_doc("UC_GeschuetzteVersichertendatenXML", p, version, body)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _pad(data: bytes, size: int | None) -> bytes:
    return data if size is None or size <= len(data) else data + bytes(size - len(data))


def egk_pd_file(xml: bytes, *, size: int | None = None) -> bytes:
    """EF.PD: big-endian uint16 length of the gzip data (prefix not counted), the gzip, then zeros
    up to ``size`` (real EFs have a fixed size larger than their content)."""
    packed = _gzip(xml)
    return _pad(struct.pack(">H", len(packed)) + packed, size)


def egk_vd_file(vd_xml: bytes, gvd_xml: bytes | None = None, *, size: int | None = None) -> bytes:
    """EF.VD: StartVD, EndVD (inclusive), StartGVD, EndGVD (uint16 BE; FFFF = absent), then the
    gzip'd VD and GVD, then zeros up to ``size``."""
    vd = _gzip(vd_xml)
    gvd = _gzip(gvd_xml) if gvd_xml is not None else b""
    start_vd = 8
    end_vd = start_vd + len(vd) - 1
    if gvd:
        start_gvd, end_gvd = end_vd + 1, end_vd + len(gvd)
    else:
        start_gvd = end_gvd = 0xFFFF
    return _pad(struct.pack(">4H", start_vd, end_vd, start_gvd, end_gvd) + vd + gvd, size)


def egk_status_vd(pending: bool = False, timestamp: str = "20261127093000",
                  version: tuple[int, int, int] = (5, 2, 0)) -> bytes:
    """EF.StatusVD, 25 bytes: '0' (consistent) or '1' (update pending), YYYYMMDDhhmmss, the CDM
    version as BCD XXXYYYZZZZ, 5 reserved bytes."""
    x, y, z = version
    return (b"1" if pending else b"0") + timestamp.encode("ascii") \
        + bytes.fromhex(f"{x:03d}{y:03d}{z:04d}") + bytes(5)


def egk_card(*, pd: bytes | None = None, vd: bytes | None = None, status: bytes | None = None,
             deactivated: bool = False, atr: bytes = EGK_ATR) -> VirtualCard:
    """An eGK (T=1): MF (AID D2760001448000) with EF.ATR 2F01/SFI 1D and EF.GDO 2F02/SFI 02, and
    DF.HCA (AID D27600000102) with EF.PD D001/01, EF.VD D002/02, EF.StatusVD D00C/0C. File contents
    default to the builders' defaults (PD padded to 850 bytes, VD with a GVD copy to 1250)."""
    if pd is None:
        pd = egk_pd_file(egk_pd_xml(), size=850)
    if vd is None:
        vd = egk_vd_file(egk_vd_xml(), egk_gvd_xml(), size=1250)
    if status is None:
        status = egk_status_vd()
    hca = DF({0xD001: EF(pd, sfi=0x01), 0xD002: EF(vd, sfi=0x02), 0xD00C: EF(status, sfi=0x0C)},
             aid=EGK_HCA_AID, deactivated=deactivated)
    mf = DF({0x2F01: EF(EGK_EF_ATR, sfi=0x1D),
             0x2F02: EF(b"\x5A\x0A" + EGK_ICCSN, sfi=0x02),
             EGK_HCA_AID: hca}, aid=EGK_MF_AID)
    return VirtualCard(atr, "T=1", mf)


# ------------------------------------------------------------------------------------------------
# Belgian eID contents (Fedict eid-mw)
# ------------------------------------------------------------------------------------------------

BEID_ATR = bytes.fromhex("3B9813400AA503010101AD1311")
BEID_APPLET_AID = bytes.fromhex("A00000003029057000AD13100101FF")

# Identity file 4031 tags (Fedict eid-mw); values are str (UTF-8) or bytes (binary)
BEID_IDENTITY_TAGS = {
    "card_number": 0x01, "chip_number": 0x02, "validity_begin": 0x03, "validity_end": 0x04,
    "issuing_municipality": 0x05, "national_number": 0x06, "surname": 0x07, "first_names": 0x08,
    "third_initial": 0x09, "nationality": 0x0A, "birth_place": 0x0B, "birth_date": 0x0C,
    "gender": 0x0D, "noble_condition": 0x0E, "document_type": 0x0F, "special_status": 0x10,
    "photo_hash": 0x11,
}
BEID_ADDRESS_TAGS = {"street": 0x01, "zip": 0x02, "municipality": 0x03}

# A fictitious photo: JPEG markers around filler, long enough to need several READ BINARY chunks
BEID_PHOTO = b"\xFF\xD8\xFF\xE0" + bytes(range(256)) * 3 + b"\xFF\xD9"

BEID_IDENTITY_DEFAULTS = MappingProxyType({
    "card_number": "592011034237",           # 5920110342 mod 97 = 37
    "chip_number": bytes.fromhex("534C494E336600296CFF2623660B0826"),
    "validity_begin": "15.03.2021", "validity_end": "15.03.2031",
    "issuing_municipality": "Bruxelles",
    "national_number": "85073003427",        # 30 July 1985, serial 034 (even: female), check 27
    "surname": "Dubois-Lefèvre", "first_names": "Marie-Claire", "third_initial": None,
    "nationality": "Belge", "birth_place": "Ixelles", "birth_date": "30 JUIL 1985",
    "gender": "F", "noble_condition": "", "document_type": "1", "special_status": "0",
    "photo_hash": hashlib.sha1(BEID_PHOTO).digest(),
})
BEID_ADDRESS_DEFAULTS = MappingProxyType({
    "street": "Rue de l'Étuve 52", "zip": "1000", "municipality": "Bruxelles",
})


def fedict_tlv(items: list[tuple[int, bytes]], *, padding: int = 0) -> bytes:
    """Fedict TLV: one-byte tag, length in bytes where 0xFF means "add the next byte", value;
    then ``padding`` zero bytes."""
    out = bytearray()
    for tag, value in items:
        out.append(tag)
        n = len(value)
        while n >= 0xFF:
            out.append(0xFF)
            n -= 0xFF
        out.append(n)
        out += value
    return bytes(out) + bytes(padding)


def _beid_file(tags: Mapping[str, int], defaults: Mapping[str, object], fields: dict,
               raw: Mapping[int, bytes] | None, version: bytes | None, padding: int) -> bytes:
    unknown = set(fields) - set(tags)
    if unknown:
        raise TypeError(f"unknown field(s) {sorted(unknown)}; known: {sorted(tags)}")
    values: dict[int, bytes] = {}
    for name, tag in tags.items():
        value = fields.get(name, defaults.get(name))
        if value is not None:
            values[tag] = value if isinstance(value, bytes) else str(value).encode("utf-8")
    values.update(raw or {})
    version = values.get(0x00, version)
    items = [(0x00, version)] if version is not None else []
    items += sorted((tag, value) for tag, value in values.items() if tag != 0x00)
    return fedict_tlv(items, padding=padding)


def beid_identity(*, raw: Mapping[int, bytes] | None = None, version: bytes | None = b"\x01",
                  padding: int = 16, **fields: str | bytes | None) -> bytes:
    """Identity file 4031. Fields (see ``BEID_IDENTITY_TAGS``) default to a fictitious person;
    a field set to None is left out; ``raw`` sets any tag's bytes (e.g. ``{0x0C: b"31 FEB 1990"}``)."""
    return _beid_file(BEID_IDENTITY_TAGS, BEID_IDENTITY_DEFAULTS, fields, raw, version, padding)


def beid_address(*, raw: Mapping[int, bytes] | None = None, version: bytes | None = b"\x01",
                 padding: int = 16, **fields: str | bytes | None) -> bytes:
    """Address file 4033: ``street``, ``zip``, ``municipality`` (UTF-8), as ``beid_identity``."""
    return _beid_file(BEID_ADDRESS_TAGS, BEID_ADDRESS_DEFAULTS, fields, raw, version, padding)


def beid_card(*, identity: bytes | None = None, address: bytes | None = None,
              atr: bytes = BEID_ATR, get_response: bool = False) -> VirtualCard:
    """A Belgian eID (T=0: a short READ answers 6Cxx): MF 3F00 (also selected by the applet AID)
    with DF01 holding 4031 identity, 4032/4034 dummy signatures, 4033 address, 4035 photo."""
    df01 = DF({0x4031: identity if identity is not None else beid_identity(),
               0x4032: bytes(range(1, 129)) * 2,                  # dummy RSA-2048 signature
               0x4033: address if address is not None else beid_address(),
               0x4034: bytes(range(128, 256)) * 2,
               0x4035: BEID_PHOTO})
    mf = DF({0xDF01: df01}, aid=BEID_APPLET_AID)
    return VirtualCard(atr, "T=0", mf, get_response=get_response)


# ------------------------------------------------------------------------------------------------
# A card the kiosk does not read
# ------------------------------------------------------------------------------------------------

PAYMENT_ATR = bytes.fromhex("3B6800000073C84013009000")
PAYMENT_AID = bytes.fromhex("A0000000041010")                    # an EMV payment application


def unknown_card() -> VirtualCard:
    """A payment card (T=0) with no ISO 7816 MF: SELECT answers 6A82 except for its own AID (9000);
    READ BINARY answers 6A82 with an SFI, 6986 without (no current EF)."""
    app = DF({}, aid=PAYMENT_AID)
    return VirtualCard(PAYMENT_ATR, "T=0", DF({PAYMENT_AID: app}), mf_fid=None)
