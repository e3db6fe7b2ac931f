"""The eGK parsers and read sequence against card files built here.

The samples are encoded in this file, independently of the decoder: XML written per gematik ``Schema_VSD.xsd``
(v5.2; v5.1 element names as in Kaupisch-IT/eGK-KVK), gzip'd with ``gzip.compress``, wrapped in the containers
of gemLF_Impl_eGK (EF.StatusVD, EF.PD's length prefix, EF.VD's offset header).
"""

from __future__ import annotations

import gzip
import random
import struct
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.hardware.cards.apdu import CardDataInvalid, CardRemoved, Channel
from kiosk.hardware.cards.egk import StatusVD, inflate, kvnr_check_digit_ok, parse_pd, parse_status_vd, parse_vd, read
from kiosk.checkin.model import Address, Identifier

# ---------------------------------------------------------------------------------------------------------------
# Encoders (Schema_VSD.xsd for the XML, gemLF_Impl_eGK for the containers)

NS52 = "http://ws.gematik.de/fa/vsdm/vsd/v5.2"
PD_ROOT, VD_ROOT = "UC_PersoenlicheVersichertendatenXML", "UC_AllgemeineVersicherungsdatenXML"


def ns51(root):
    return f"http://ws.gematik.de/fa/vsds/{root}/v5.1"


def render(prefix, items):
    """[(name, text or nested items), ...] -> XML elements with an optional namespace prefix."""
    tag = f"{prefix}:" if prefix else ""
    out = []
    for name, value in items:
        inner = render(prefix, value) if isinstance(value, list) else escape(value)
        out.append(f"<{tag}{name}>{inner}</{tag}{name}>")
    return "".join(out)


def document(root, body, version="5.2", namespace=None, prefix=None):
    """A VSD document: v5.2 with a prefix and the shared namespace, v5.1 with a per-root default namespace."""
    if namespace is None:
        namespace = NS52 if version == "5.2" else ns51(root)
    if prefix is None:
        prefix = {"5.2": "vsd", "5.1": ""}[version]
    decl = f'xmlns:{prefix}="{namespace}"' if prefix else f'xmlns="{namespace}"'
    tag = f"{prefix}:{root}" if prefix else root
    xml = (f'<?xml version="1.0" encoding="ISO-8859-15" standalone="yes"?>\n'
           f'<{tag} CDM_VERSION="{version}.0" {decl}>{render(prefix, body)}</{tag}>')
    return xml.encode("iso-8859-15")


STREET = [("Postleitzahl", "10117"), ("Ort", "Berlin"), ("Land", [("Wohnsitzlaendercode", "D")]),
          ("Strasse", "Friedrichstraße"), ("Hausnummer", "12a")]
POSTBOX = [("Postleitzahl", "99084"), ("Ort", "Erfurt"), ("Postfach", "123456"),
           ("Land", [("Wohnsitzlaendercode", "D")])]
PERSON_ORDER = ["Geburtsdatum", "Vorname", "Nachname", "Geschlecht", "Vorsatzwort", "Namenszusatz", "Titel",
                "PostfachAdresse", "StrassenAdresse"]
PERSON = {"Geburtsdatum": "19800714", "Vorname": "Anna-Lena Marie", "Nachname": "Müller", "Geschlecht": "W",
          "StrassenAdresse": STREET}


def person(**changes):
    fields = {**PERSON, **changes}
    unknown = [name for name in changes if name not in PERSON_ORDER]      # appended after the schema's own
    return [(name, fields[name]) for name in PERSON_ORDER + unknown if fields.get(name) is not None]


def pd_xml(version="5.2", kvnr="T115774582", extra=(), **changes):
    insured = ([("Versicherten_ID", kvnr)] if kvnr is not None else []) + [("Person", person(**changes))]
    return document(PD_ROOT, [("Versicherter", insured + list(extra))], version)


def vd_xml(version="5.2", beginn="20190101", ende=None, ik="109500969", name="Test-BKK Erfurt"):
    payor = [("Kostentraegerkennung", ik), ("Kostentraegerlaendercode", "D"), ("Name", name)]
    protection = [("Beginn", beginn)] + ([("Ende", ende)] if ende else []) + [("Kostentraeger", payor)]
    if version == "5.2":
        extra = [("ZusatzinfosGKV", [("Versichertenart", "1"),
                                     ("Zusatzinfos_Abrechnung_GKV", [("WOP", "38")])])]
    else:
        extra = [("ZusatzinfosGKV", [("Rechtskreis", "1"), ("Versichertenart", "1"),
                                     ("Versichertenstatus_RSA", "0"),
                                     ("Zusatzinfos_Abrechnung_GKV", [("Kostenerstattung_ambulant", "0"),
                                                                     ("Kostenerstattung_stationaer", "0"),
                                                                     ("WOP", "38")])])]
    body = [("Versicherter", [("Versicherungsschutz", protection), ("Zusatzinfos", extra)])]
    return document(VD_ROOT, body, version)


def gz(data):
    return gzip.compress(data, mtime=0)


def ef_pd(xml, pad_to=850, compressed=None):
    """1.4.2: uint16 BE length of the gzip data (prefix not counted), the gzip data, then file padding."""
    body = gz(xml) if compressed is None else compressed
    data = struct.pack(">H", len(body)) + body
    return data + bytes(max(0, pad_to - len(data)))


def ef_vd(xml, pad_to=1250, compressed=None):
    """1.4.3: StartVD, EndVD (inclusive), StartGVD, EndGVD, then the VD and the GVD copy."""
    vd = gz(xml) if compressed is None else compressed
    gvd = gz(document("UC_GeschuetzteVersichertendatenXML", [("Zuzahlungsstatus", [("Status", "0")])]))
    start = 8
    header = struct.pack(">4H", start, start + len(vd) - 1, start + len(vd), start + len(vd) + len(gvd) - 1)
    data = header + vd + gvd
    return data + bytes(max(0, pad_to - len(data)))


def vd_header(start, end, size=64):
    return (struct.pack(">4H", start, end, 0xFFFF, 0xFFFF) + bytes(size))[:size]


def status_vd(status=b"0", stamp=b"20240301081500", version="0050020000"):
    """1.4.1: status byte, 14-digit timestamp, 5-byte BCD schema version, 5 reserved bytes."""
    return status + stamp + bytes.fromhex(version) + bytes(5)


def noise(n, seed=7):
    """Incompressible letters, to give a sample a known minimum size after gzip."""
    rng = random.Random(seed)
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for _ in range(n))


# ---------------------------------------------------------------------------------------------------------------
# EF.StatusVD


@pytest.mark.parametrize("raw, expected", [
    (status_vd(), StatusVD(False, "20240301081500", "5.2.0")),
    (status_vd(b"1", b"20231224235959"), StatusVD(True, "20231224235959", "5.2.0")),
    (status_vd(version="0070030001"), StatusVD(False, "20240301081500", "7.3.1")),     # gemLF_Impl_eGK's example
    (status_vd()[:20], StatusVD(False, "20240301081500", "5.2.0")),                    # reserved bytes absent
])
def test_status_vd(raw, expected):
    assert parse_status_vd(raw) == expected


@pytest.mark.parametrize("raw", [b"", status_vd()[:19], status_vd(b"2"), status_vd(b"\x00"),
                                 status_vd(stamp=b"2024030108150 "), status_vd(version="00A0020000")])
def test_status_vd_rejects(raw):
    with pytest.raises(CardDataInvalid):
        parse_status_vd(raw)


# ---------------------------------------------------------------------------------------------------------------
# gzip

XML = pd_xml()


@pytest.mark.parametrize("data", [gz(XML), gz(XML) + bytes(16), gz(XML) + b"junk after the member\xff"],
                         ids=["exact", "trailing zeros", "trailing junk"])
def test_inflate_accepts_trailing_bytes(data):
    assert inflate(data) == XML


@pytest.mark.parametrize("data, message", [
    (gz(XML)[:-1], "truncated"), (gz(XML)[:-8], "truncated"), (gz(XML)[:40], "truncated"), (b"", "truncated"),
    (b"\x1f\x8c" + gz(XML)[2:], "corrupt"),                                  # bad magic
    (gz(XML)[:-8] + b"\0\0\0\0" + gz(XML)[-4:], "corrupt"),                  # CRC does not match
    (gz(XML)[:20] + bytes(b ^ 0x55 for b in gz(XML)[20:40]) + gz(XML)[40:], "corrupt|truncated"),
    (gz(bytes(1 << 20)), "inflates past"),                                   # zip bomb: 1 MiB of zeros
])
def test_inflate_rejects(data, message):
    with pytest.raises(CardDataInvalid, match=message):
        inflate(data)


# ---------------------------------------------------------------------------------------------------------------
# EF.PD


@pytest.mark.parametrize("version", ["5.2", "5.1"])
def test_pd_full_document(version):
    found, warnings = parse_pd(ef_pd(pd_xml(version)))
    assert warnings == []
    assert found.family == "Müller" and found.given == ("Anna-Lena", "Marie") and found.prefix == ()
    assert found.gender == "female" and found.birth_date == "1980-07-14"
    assert found.identifiers == (Identifier("http://fhir.de/sid/gkv/kvid-10", "T115774582"),)
    assert found.address == Address(("Friedrichstraße 12a",), "10117", "Berlin", "DE")


def test_pd_name_parts_as_printed():
    found, _ = parse_pd(ef_pd(pd_xml(Vorsatzwort="von", Namenszusatz="Freiherr", Titel="Dr. med.",
                                     Vorname="Karl-Theodor", Nachname="Müller-Lüdenscheidt")))
    assert found.family == "Freiherr von Müller-Lüdenscheidt"
    assert found.given == ("Karl-Theodor",) and found.prefix == ("Dr. med.",)
    assert found.to_fhir()["name"] == [{"family": "Freiherr von Müller-Lüdenscheidt", "given": ["Karl-Theodor"],
                                        "prefix": ["Dr. med."]}]


def test_pd_iso_8859_15_text():
    # ISO-8859-15 differs from Latin-1 at 0xA4 (€) and 0xBE (Ÿ): the declaration must be honoured.
    found, _ = parse_pd(ef_pd(pd_xml(Nachname="Ÿvon€")))
    assert found.family == "Ÿvon€"


@pytest.mark.parametrize("street, expected_lines", [
    (STREET, ("Friedrichstraße 12a",)),
    (STREET + [("Anschriftenzusatz", "bei Schmidt")], ("Friedrichstraße 12a", "bei Schmidt")),
    ([("Postleitzahl", "10117"), ("Ort", "Berlin"), ("Land", [("Wohnsitzlaendercode", "D")])], ()),
])
def test_pd_street_address(street, expected_lines):
    found, _ = parse_pd(ef_pd(pd_xml(StrassenAdresse=street)))
    assert found.address.lines == expected_lines and found.address.city == "Berlin"


def test_pd_post_box_only():
    found, _ = parse_pd(ef_pd(pd_xml(StrassenAdresse=None, PostfachAdresse=POSTBOX)))
    assert found.address == Address(("Postfach 123456",), "99084", "Erfurt", "DE")


def test_pd_street_wins_over_post_box():
    found, _ = parse_pd(ef_pd(pd_xml(PostfachAdresse=POSTBOX)))
    assert found.address.lines == ("Friedrichstraße 12a",)


def test_pd_no_address():
    found, _ = parse_pd(ef_pd(pd_xml(StrassenAdresse=None)))
    assert found.address is None


@pytest.mark.parametrize("code, iso, warned", [
    ("D", "DE", False), ("A", "AT", False), ("CH", "CH", False), ("F", "FR", False), ("B", "BE", False),
    ("NL", "NL", False), ("L", "LU", False), ("I", "IT", False), ("E", "ES", False), ("P", "PT", False),
    ("PL", "PL", False), ("CZ", "CZ", False), ("DK", "DK", False), ("TR", "TR", False), ("GB", "GB", False),
    ("GR", "GR", False),                                   # two letters, same in ISO: kept
    ("FR", "FO", False), ("ES", "SV", False), ("TJ", "CN", False),   # DEÜV codes meaning another ISO country
    ("KOS", "KOS", True), ("ZZZ", "ZZZ", True),           # no ISO equivalent: kept, warned
])
def test_pd_country_codes(code, iso, warned):
    street = [("Ort", "X"), ("Land", [("Wohnsitzlaendercode", code)])]
    found, warnings = parse_pd(ef_pd(pd_xml(StrassenAdresse=street)))
    assert found.address.country == iso
    assert bool(warnings) == warned


@pytest.mark.parametrize("raw, iso", [("19800714", "1980-07-14"), ("19800700", "1980-07"), ("19800000", "1980"),
                                      ("20000229", "2000-02-29")])
def test_pd_birth_date_precision(raw, iso):
    assert parse_pd(ef_pd(pd_xml(Geburtsdatum=raw)))[0].birth_date == iso


@pytest.mark.parametrize("raw", ["19900231", "19901301", "19000229", "19800014", "00000000", "1980071",
                                 "1980-07-14", "198007140", "1980O714"])
def test_pd_impossible_birth_date(raw):
    with pytest.raises(CardDataInvalid, match="Geburtsdatum"):
        parse_pd(ef_pd(pd_xml(Geburtsdatum=raw)))


@pytest.mark.parametrize("letter, gender", [("M", "male"), ("W", "female"), ("F", "female"), ("V", "female"),
                                            ("D", "other"), ("X", "unknown")])
def test_pd_gender(letter, gender):
    assert parse_pd(ef_pd(pd_xml(Geschlecht=letter)))[0].gender == gender


@pytest.mark.parametrize("letter", ["U", "m", "MW"])
def test_pd_unknown_gender(letter):
    with pytest.raises(CardDataInvalid, match="Geschlecht"):
        parse_pd(ef_pd(pd_xml(Geschlecht=letter)))


@pytest.mark.parametrize("kvnr", ["T115774582", "J012345677", "D123456786"])   # gematik test IDs (ref. 1.6)
def test_kvnr_check_digit_valid(kvnr):
    assert kvnr_check_digit_ok(kvnr)
    assert parse_pd(ef_pd(pd_xml(kvnr=kvnr)))[1] == []


def test_kvnr_wrong_check_digit_is_read_with_a_warning():
    assert not kvnr_check_digit_ok("T115774583")
    found, warnings = parse_pd(ef_pd(pd_xml(kvnr="T115774583")))
    assert found.identifiers[0].value == "T115774583"
    assert warnings == ["KVNR check digit does not match"]


@pytest.mark.parametrize("kvnr", ["t115774582", "1115774582", "T11577458", "T1157745820", "TT15774582"])
def test_kvnr_malformed(kvnr):
    assert not kvnr_check_digit_ok(kvnr)
    with pytest.raises(CardDataInvalid, match="Versicherten_ID"):
        parse_pd(ef_pd(pd_xml(kvnr=kvnr)))


def test_pd_unknown_elements_are_ignored():
    street = STREET + [("Stadtteil", "Mitte")]
    xml = pd_xml(extra=[("Zukunftsfeld", [("Wert", "1")])], StrassenAdresse=street, Spitzname="Anni")
    found, warnings = parse_pd(ef_pd(xml))
    assert found.family == "Müller" and found.address.lines == ("Friedrichstraße 12a",) and warnings == []


def test_pd_prefix_free_v52_document():
    # Local names are matched: an unprefixed default-namespace v5.2 document reads the same.
    xml = document(PD_ROOT, [("Versicherter", [("Versicherten_ID", "T115774582"), ("Person", person())])],
                   "5.2", prefix="")
    assert parse_pd(ef_pd(xml))[0].family == "Müller"


@pytest.mark.parametrize("namespace", ["http://ws.gematik.de/fa/vsdm/vsd/v5.3", "http://example.com/vsd",
                                       ns51(VD_ROOT), "urn:x"])
def test_pd_wrong_namespace(namespace):
    xml = document(PD_ROOT, [("Versicherter", [("Versicherten_ID", "T115774582"), ("Person", person())])],
                   namespace=namespace)
    with pytest.raises(CardDataInvalid, match="namespace"):
        parse_pd(ef_pd(xml))


def test_pd_no_namespace():
    xml = b'<?xml version="1.0" encoding="ISO-8859-15"?><UC_PersoenlicheVersichertendatenXML/>'
    with pytest.raises(CardDataInvalid, match="namespace"):
        parse_pd(ef_pd(xml))


def test_pd_wrong_root():
    with pytest.raises(CardDataInvalid, match="root"):
        parse_pd(ef_pd(vd_xml()))


@pytest.mark.parametrize("missing", ["Geburtsdatum", "Vorname", "Nachname", "Geschlecht"])
def test_pd_missing_mandatory_person_element(missing):
    with pytest.raises(CardDataInvalid, match=missing):
        parse_pd(ef_pd(pd_xml(**{missing: None})))


@pytest.mark.parametrize("empty", ["Vorname", "Nachname"])
def test_pd_empty_mandatory_element(empty):
    with pytest.raises(CardDataInvalid, match=empty):
        parse_pd(ef_pd(pd_xml(**{empty: "  "})))


def test_pd_missing_kvnr():
    with pytest.raises(CardDataInvalid, match="Versicherten_ID"):
        parse_pd(ef_pd(pd_xml(kvnr=None)))


def test_pd_missing_person():
    xml = document(PD_ROOT, [("Versicherter", [("Versicherten_ID", "T115774582")])])
    with pytest.raises(CardDataInvalid, match="Person"):
        parse_pd(ef_pd(xml))


# Schema maxima (Schema_VSD.xsd): at the limit accepted, one over rejected.
PERSON_LIMITS = [("Vorname", 45), ("Nachname", 45), ("Vorsatzwort", 20), ("Namenszusatz", 20), ("Titel", 20)]
STREET_LIMITS = [("Ort", 40), ("Strasse", 46), ("Hausnummer", 9), ("Anschriftenzusatz", 40), ("Postleitzahl", 10)]


def with_field(items, name, value):
    return [(n, v) for n, v in items if n != name] + [(name, value)]


@pytest.mark.parametrize("name, limit", PERSON_LIMITS)
def test_pd_person_field_limits(name, limit):
    parse_pd(ef_pd(pd_xml(**{name: "ä" * limit})))
    with pytest.raises(CardDataInvalid, match=f"{name} is longer than the {limit}"):
        parse_pd(ef_pd(pd_xml(**{name: "ä" * (limit + 1)})))


@pytest.mark.parametrize("name, limit", STREET_LIMITS)
def test_pd_street_field_limits(name, limit):
    parse_pd(ef_pd(pd_xml(StrassenAdresse=with_field(STREET, name, "7" * limit))))
    with pytest.raises(CardDataInvalid, match=f"{name} is longer than the {limit}"):
        parse_pd(ef_pd(pd_xml(StrassenAdresse=with_field(STREET, name, "7" * (limit + 1)))))


@pytest.mark.parametrize("name, value", [("Postfach", "123456789"), ("Ort", "O" * 41), ("Postleitzahl", "1" * 11)])
def test_pd_post_box_field_limits(name, value):
    with pytest.raises(CardDataInvalid, match=name):
        parse_pd(ef_pd(pd_xml(PostfachAdresse=with_field(POSTBOX, name, value))))


def test_pd_country_code_limit():
    street = with_field(STREET, "Land", [("Wohnsitzlaendercode", "DEUT")])
    with pytest.raises(CardDataInvalid, match="Wohnsitzlaendercode"):
        parse_pd(ef_pd(pd_xml(StrassenAdresse=street)))


BILLION_LAUGHS = (b'<?xml version="1.0" encoding="ISO-8859-15"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                  b'<vsd:UC_PersoenlicheVersichertendatenXML xmlns:vsd="' + NS52.encode() + b'">&lol2;'
                  b'</vsd:UC_PersoenlicheVersichertendatenXML>')


@pytest.mark.parametrize("xml", [
    BILLION_LAUGHS,
    pd_xml().replace(b"?>", b"?><!DOCTYPE x SYSTEM \"file:///etc/passwd\">", 1),
    # The same DOCTYPE in UTF-16, where a byte search for "<!DOCTYPE" finds nothing.
    BILLION_LAUGHS.replace(b"ISO-8859-15", b"UTF-16").decode("ascii").encode("utf-16"),
], ids=["billion laughs", "external DTD", "UTF-16 DOCTYPE"])
def test_pd_doctype_rejected(xml):
    with pytest.raises(CardDataInvalid, match="DOCTYPE"):
        parse_pd(ef_pd(xml))


@pytest.mark.parametrize("xml", [b"", b"not xml", pd_xml()[:-20], pd_xml() + b"<second/>",
                                 pd_xml().replace(b"ISO-8859-15", b"x-no-such-encoding")])
def test_pd_broken_xml(xml):
    with pytest.raises(CardDataInvalid):
        parse_pd(ef_pd(xml))


@pytest.mark.parametrize("raw", [
    b"", b"\x01",
    struct.pack(">H", 0) + gz(XML),                                         # length 0
    ef_pd(XML, pad_to=0)[:-1],                                              # file shorter than its length
    struct.pack(">H", len(gz(XML)) - 8) + gz(XML),                          # length cuts the gzip trailer
    struct.pack(">H", 200) + bytes(200),                                    # an empty (erased) file
])
def test_pd_bad_container(raw):
    with pytest.raises(CardDataInvalid):
        parse_pd(raw)


def test_pd_container_with_trailing_junk_inside_length():
    body = gz(XML) + b"\xde\xad\xbe\xef"
    assert parse_pd(ef_pd(XML, compressed=body))[0].family == "Müller"


# ---------------------------------------------------------------------------------------------------------------
# EF.VD


@pytest.mark.parametrize("version", ["5.2", "5.1"])
def test_vd_full_document(version):
    coverage, warnings = parse_vd(ef_vd(vd_xml(version)))
    assert warnings == []
    assert (coverage.payor_system, coverage.payor_id, coverage.payor_name) == (
        "http://fhir.de/sid/arge-ik/iknr", "109500969", "Test-BKK Erfurt")
    assert coverage.status == "active" and coverage.subscriber_id == ""
    assert (coverage.start, coverage.end) == ("2019-01-01", "")


def test_vd_coverage_end():
    coverage, _ = parse_vd(ef_vd(vd_xml(beginn="20230401", ende="20251231")))
    assert (coverage.start, coverage.end) == ("2023-04-01", "2025-12-31")
    assert coverage.ended_before("2026-01-01") and not coverage.ended_before("2025-12-31")


@pytest.mark.parametrize("changes, message", [
    ({"beginn": "20190231"}, "Beginn"), ({"beginn": "20190100"}, "Beginn"), ({"beginn": ""}, "Beginn"),
    ({"ende": "20251301"}, "Ende"), ({"ik": "10950096"}, "Kostentraegerkennung"),
    ({"ik": "1095009690"}, "Kostentraegerkennung"), ({"ik": "10950096X"}, "Kostentraegerkennung"),
    ({"name": "N" * 46}, "Name"),
])
def test_vd_bad_fields(changes, message):
    with pytest.raises(CardDataInvalid, match=message):
        parse_vd(ef_vd(vd_xml(**changes)))


def test_vd_wrong_namespace_and_root():
    with pytest.raises(CardDataInvalid, match="namespace"):
        parse_vd(ef_vd(document(VD_ROOT, [], namespace=ns51(PD_ROOT))))
    with pytest.raises(CardDataInvalid, match="root"):
        parse_vd(ef_vd(pd_xml()))


def test_vd_missing_coverage_block():
    with pytest.raises(CardDataInvalid, match="Versicherungsschutz"):
        parse_vd(ef_vd(document(VD_ROOT, [("Versicherter", [("Zusatzinfos", [])])])))


def test_vd_gvd_is_ignored():
    # A GVD copy that is garbage, or offsets for it past the file, do not matter.
    vd = gz(vd_xml())
    data = struct.pack(">4H", 8, 8 + len(vd) - 1, 0x7000, 0x7FFF) + vd
    assert parse_vd(data)[0].payor_id == "109500969"


def test_vd_exact_end_with_trailing_gzip_junk():
    vd = gz(vd_xml()) + b"\x00junk"
    data = struct.pack(">4H", 8, 8 + len(vd) - 1, 0xFFFF, 0xFFFF) + vd
    assert parse_vd(data)[0].start == "2019-01-01"


@pytest.mark.parametrize("raw, message", [
    (b"", "8-byte header"), (vd_header(8, 20)[:7], "8-byte header"),
    (vd_header(8, 64), "past the 64-byte file"),              # end outside the file
    (vd_header(60, 9000), "past"),
    (vd_header(40, 30), "before it starts"),                  # end before start
    (vd_header(4, 40), "inside its 8-byte header"),           # overlaps the header
    (vd_header(0, 40), "inside its 8-byte header"),
    (vd_header(0xFFFF, 0xFFFF), "no insurance data"),
    (vd_header(8, 63), "truncated|corrupt"),                  # offsets fine, data all zeros
])
def test_vd_bad_offsets(raw, message):
    with pytest.raises(CardDataInvalid, match=message):
        parse_vd(raw)


def test_vd_truncated_gzip():
    vd = gz(vd_xml())[:-6]
    with pytest.raises(CardDataInvalid, match="truncated"):
        parse_vd(struct.pack(">4H", 8, 8 + len(vd) - 1, 0xFFFF, 0xFFFF) + vd)


# ---------------------------------------------------------------------------------------------------------------
# read(): a DF.HCA in memory answering like a T=1 card (6282 when fewer bytes than Le remain)

HCA = "D27600000102"


class FakeEgk:
    """SELECT by AID; READ BINARY by SFI (P1=80|SFI, offset P2, makes the EF current) or plain 15-bit offset."""

    def __init__(self, files, select_sw=0x9000, remove_at=None):
        self.files, self.select_sw, self.remove_at = files, select_sw, remove_at
        self.current = None
        self.sent = []

    def __call__(self, apdu):
        command = bytes(apdu)
        self.sent.append(command.hex().upper())
        if self.remove_at is not None and len(self.sent) >= self.remove_at:
            raise CardRemoved("the card was removed")
        ins, p1, p2 = command[1], command[2], command[3]
        if ins == 0xA4 and p1 == 0x04:
            if command[5:5 + command[4]].hex().upper() == HCA:
                return [], self.select_sw >> 8, self.select_sw & 0xFF
            return [], 0x6A, 0x82
        if ins != 0xB0:
            return [], 0x6D, 0x00
        if p1 & 0x80:
            if p1 & 0x1F not in self.files:
                return [], 0x6A, 0x82
            self.current, offset = p1 & 0x1F, p2
        elif self.current is None:
            return [], 0x69, 0x86
        else:
            offset = (p1 << 8) | p2
        data, le = self.files[self.current], command[4] or 256
        if offset >= len(data):
            return [], 0x6B, 0x00
        answer = data[offset:offset + le]
        return list(answer), *((0x62, 0x82) if len(answer) < le else (0x90, 0x00))


ATR = bytes.fromhex("3BD396FF81B1FE451F078081052D")


def card_files(pd=None, vd=None, status=None):
    return {0x01: pd if pd is not None else ef_pd(pd_xml()), 0x02: vd if vd is not None else ef_vd(vd_xml()),
            0x0C: status if status is not None else status_vd()}


def test_read_typical_card_sends_the_minimal_sequence():
    # A typical card (EF.PD's L is about 0x016F): PD and VD each span two 0xFC chunks, in files padded
    # to a fixed size, with the GVD copy after the VD.
    pd, vd = ef_pd(pd_xml()), ef_vd(vd_xml())
    pd_end, vd_end = 2 + struct.unpack(">H", pd[:2])[0], struct.unpack(">H", vd[2:4])[0] + 1
    assert 0xFC < pd_end <= 2 * 0xFC and 0xFC < vd_end <= 2 * 0xFC       # the shape this test is about
    card = FakeEgk(card_files(pd, vd))
    channel = Channel(card, chunk=0xFC)
    found = read(channel, ATR)
    assert card.sent == [
        "00A4040C06" + HCA,                      # SELECT DF.HCA
        "00B08C0019",                            # EF.StatusVD, SFI 0C, 25 bytes
        "00B08100FC",                            # EF.PD, SFI 01: length + first 250 bytes of gzip
        f"00B000FC{pd_end - 0xFC:02X}",          # EF.PD rest, from offset 252 exactly
        "00B08200FC",                            # EF.VD, SFI 02: header + start of VD
        f"00B000FC{vd_end - 0xFC:02X}",          # EF.VD rest up to EndVD inclusive
    ]
    assert channel.sent == 6
    assert found.card == "egk" and found.atr == "3BD396FF81B1FE451F078081052D"
    assert found.person.family == "Müller" and found.coverage.subscriber_id == "T115774582"
    assert found.coverage.payor_id == "109500969" and found.warnings == ()


def test_read_unpadded_files_end_exactly_where_the_data_ends():
    # No padding and no GVD copy: the last READ of each file asks for exactly the bytes left, so the card never
    # has to answer 6282 or 6B00.
    pd = ef_pd(pd_xml(), pad_to=0)
    vd_gzip = gz(vd_xml())
    vd = struct.pack(">4H", 8, 8 + len(vd_gzip) - 1, 0xFFFF, 0xFFFF) + vd_gzip
    card = FakeEgk(card_files(pd, vd))
    found = read(Channel(card), ATR)
    assert card.sent == ["00A4040C06" + HCA, "00B08C0019", "00B08100FC", f"00B000FC{len(pd) - 0xFC:02X}",
                         "00B08200FC", f"00B000FC{len(vd) - 0xFC:02X}"]
    assert found.to_json()["coverage"]["subscriberId"] == "T115774582"


def test_read_small_chunks_never_ask_a_byte_twice():
    pd = ef_pd(pd_xml(extra=[("Anmerkung", noise(400))]))
    card = FakeEgk(card_files(pd))
    channel = Channel(card, chunk=0x64)                       # the chunk CardWerk's samples use for SCM readers
    read(channel, ATR)
    pd_end = 2 + struct.unpack(">H", pd[:2])[0]
    pd_reads = card.sent[2:card.sent.index("00B0820064")]
    assert pd_reads[0] == "00B0810064"
    offsets = [(int(c[4:8], 16), int(c[8:10], 16)) for c in pd_reads[1:]]
    expected, position = [], 0x64
    while position < pd_end:
        expected.append((position, min(0x64, pd_end - position)))
        position += 0x64
    assert offsets == expected and channel.sent == len(card.sent)


def test_read_v51_card_with_pending_update_and_wrong_check_digit():
    card = FakeEgk(card_files(ef_pd(pd_xml("5.1", kvnr="T115774583")), ef_vd(vd_xml("5.1", ende="20251231")),
                              status_vd(b"1")))
    found = read(Channel(card), ATR)
    assert found.warnings == ("card data update pending", "KVNR check digit does not match")
    assert found.coverage.end == "2025-12-31"


def test_read_damaged_status_vd_is_a_warning():
    card = FakeEgk(card_files(status=b"\xff" * 25))
    found = read(Channel(card), ATR)
    assert len(found.warnings) == 1 and found.warnings[0].startswith("EF.StatusVD unreadable")


def test_read_not_an_egk():
    card = FakeEgk(card_files(), select_sw=0x6A82)
    assert read(Channel(card), ATR) is None and len(card.sent) == 1


@pytest.mark.parametrize("sw", [0x6A86, 0x6D00, 0x6E00])
def test_read_other_not_found_answers(sw):
    assert read(Channel(FakeEgk(card_files(), select_sw=sw)), ATR) is None


def test_read_deactivated_card():
    card = FakeEgk(card_files(), select_sw=0x6283)
    with pytest.raises(CardDataInvalid, match="deactivated"):
        read(Channel(card), ATR)
    assert len(card.sent) == 1


def test_read_select_failure():
    with pytest.raises(CardDataInvalid, match="6982"):
        read(Channel(FakeEgk(card_files(), select_sw=0x6982)), ATR)


def test_read_missing_pd_file():
    files = card_files()
    del files[0x01]
    with pytest.raises(CardDataInvalid, match="EF.PD"):
        read(Channel(FakeEgk(files)), ATR)


def test_read_vd_offsets_past_the_file():
    vd = vd_header(8, 600, size=300)
    with pytest.raises(CardDataInvalid, match="ends at 300"):
        read(Channel(FakeEgk(card_files(vd=vd))), ATR)


def test_read_vd_end_before_start():
    with pytest.raises(CardDataInvalid, match="before it starts"):
        read(Channel(FakeEgk(card_files(vd=vd_header(40, 30)))), ATR)


def test_read_pd_longer_than_the_file():
    pd = struct.pack(">H", 2000) + bytes(300)
    with pytest.raises(CardDataInvalid, match="ends at 302"):
        read(Channel(FakeEgk(card_files(pd=pd))), ATR)


@pytest.mark.parametrize("remove_at", [1, 2, 3, 4, 5])
def test_read_card_removed_propagates(remove_at):
    pd = ef_pd(pd_xml(extra=[("Anmerkung", noise(300))]))
    with pytest.raises(CardRemoved):
        read(Channel(FakeEgk(card_files(pd), remove_at=remove_at)), ATR)


# ---------------------------------------------------------------------------------------------------------------
# Property-based: random and mutated card files give a result or CardDataInvalid, nothing else


@st.composite
def mutated(draw, base):
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "set"]))
        if op == "truncate":
            del data[draw(st.integers(0, len(data))):]
        elif op == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            at = draw(st.integers(0, len(data) - 1))
            if op == "flip":
                data[at] ^= 1 << draw(st.integers(0, 7))
            elif op == "delete":
                del data[at]
            else:
                data[at] = draw(st.sampled_from(b"\x00\xff<>&\"'/!?:=\x80\xa4 "))
    return bytes(data)


def only_card_data_invalid(parse, data):
    try:
        parse(data)
    except CardDataInvalid:
        pass


PARSERS = {"pd": parse_pd, "vd": parse_vd, "status": parse_status_vd, "inflate": inflate}
SAMPLES = {"pd": ef_pd(pd_xml(Titel="Dr.", Vorsatzwort="von", PostfachAdresse=POSTBOX)),
           "vd": ef_vd(vd_xml(ende="20251231")), "status": status_vd(), "inflate": gz(XML)}


@pytest.mark.parametrize("kind", PARSERS)
@settings(max_examples=300)
@given(data=st.binary(max_size=600))
def test_random_bytes(kind, data):
    only_card_data_invalid(PARSERS[kind], data)


@pytest.mark.parametrize("kind", PARSERS)
@settings(max_examples=300)
@given(data=st.data())
def test_mutated_files(kind, data):
    only_card_data_invalid(PARSERS[kind], data.draw(mutated(SAMPLES[kind])))


@pytest.mark.parametrize("parse, xml", [(parse_pd, pd_xml("5.2", Titel="Dr.", PostfachAdresse=POSTBOX)),
                                        (parse_pd, pd_xml("5.1")), (parse_vd, vd_xml("5.2", ende="20251231")),
                                        (parse_vd, vd_xml("5.1"))], ids=["pd52", "pd51", "vd52", "vd51"])
@settings(max_examples=300)
@given(data=st.data())
def test_mutated_xml_in_valid_containers(parse, xml, data):
    # Mutating the XML before gzip gets past the CRC, so the XML parser and the field rules see the damage.
    wrap = ef_pd if parse is parse_pd else ef_vd
    only_card_data_invalid(parse, wrap(data.draw(mutated(xml))))


@settings(max_examples=300)
@given(offsets=st.tuples(*[st.integers(0, 0xFFFF)] * 4), size=st.integers(0, 700))
def test_vd_random_offsets(offsets, size):
    body = SAMPLES["vd"][8:]
    only_card_data_invalid(parse_vd, (struct.pack(">4H", *offsets) + body)[:size])


@settings(max_examples=300)
@given(data=st.data())
def test_read_with_mutated_files(data):
    files = {sfi: data.draw(mutated(content)) for sfi, content in card_files().items()}
    try:
        read(Channel(FakeEgk(files)), ATR)
    except CardDataInvalid:
        pass
