"""The test harness itself: the virtual card in-process, the card-content builders, and the card in a
real pcscd through vpcd. Facts checked here come from gemLF_Impl_eGK, Fedict eid-mw and vsmartcard's ``vpcd.c``."""

from __future__ import annotations

import gzip
import struct
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager

import pytest

from kiosk.hardware.cards.apdu import CardRemoved, Channel
from cardfiles import (BEID_APPLET_AID, BEID_PHOTO, EGK_HCA_AID, EGK_ICCSN, EGK_MF_AID, PAYMENT_AID,
                       beid_address, beid_card, beid_identity, egk_card, egk_gvd_xml, egk_pd_file, egk_pd_xml,
                       egk_status_vd, egk_vd_file, egk_vd_xml, fedict_tlv, unknown_card)
from vcard import Vpcd

SELECT_HCA = [0x00, 0xA4, 0x04, 0x0C, 0x06, *EGK_HCA_AID]
NS_52 = "{http://ws.gematik.de/fa/vsdm/vsd/v5.2}"


def sw(answer: tuple[list[int], int, int]) -> int:
    return (answer[1] << 8) | answer[2]


def select_fid(fid: int) -> list[int]:
    return [0x00, 0xA4, 0x02, 0x0C, 0x02, fid >> 8, fid & 0xFF]


# ------------------------------------------------------------------------------------------------
# In-process: the card answers like real cards
# ------------------------------------------------------------------------------------------------

def test_egk_select_hca_then_read_status_vd_with_sfi():
    card = egk_card()
    assert sw(card.transmit(SELECT_HCA)) == 0x9000
    data, sw1, sw2 = card.transmit([0x00, 0xB0, 0x8C, 0x00, 0x19])
    assert (sw1, sw2) == (0x90, 0x00)
    assert bytes(data) == egk_status_vd()
    assert card.apdus == [bytes(SELECT_HCA), bytes.fromhex("00B08C0019")]


def test_an_sfi_belongs_to_the_current_df():
    card = egk_card()
    gdo, *_ = card.transmit([0x00, 0xB0, 0x82, 0x00, 0x0C])          # SFI 02 in the MF: EF.GDO
    assert bytes(gdo) == b"\x5A\x0A" + EGK_ICCSN
    card.transmit(SELECT_HCA)
    header, *_ = card.transmit([0x00, 0xB0, 0x82, 0x00, 0x08])       # SFI 02 in DF.HCA: EF.VD
    assert header[:2] == [0x00, 0x08]
    assert sw(card.transmit([0x00, 0xB0, 0x9D, 0x00, 0x00])) == 0x6A82  # EF.ATR is in the MF


def test_an_sfi_read_makes_the_ef_current_for_plain_offsets():
    card = egk_card()
    card.transmit(SELECT_HCA)
    head, *_ = card.transmit([0x00, 0xB0, 0x81, 0x00, 0x02])         # EF.PD length
    length = int.from_bytes(bytes(head), "big")
    body, sw1, _ = card.transmit([0x00, 0xB0, 0x00, 0x02, 0x10])     # offset 2, same EF
    assert sw1 == 0x90 and bytes(body[:3]) == b"\x1F\x8B\x08"
    end = 2 + length
    tail, sw1, _ = card.transmit([0x00, 0xB0, end >> 8, end & 0xFF, 0x04])
    assert sw1 == 0x90 and tail == [0, 0, 0, 0]                       # the EF's zero padding


def test_egk_mf_by_aid_and_by_fid():
    card = egk_card()
    assert sw(card.transmit([0x00, 0xA4, 0x04, 0x0C, 0x07, *EGK_MF_AID])) == 0x9000
    assert sw(card.transmit(select_fid(0x2F01))) == 0x9000
    data, sw1, _ = card.transmit([0x00, 0xB0, 0x00, 0x00, 0x02])
    assert sw1 == 0x90 and data == [0xE0, 0x10]
    assert sw(card.transmit(select_fid(0x3F00))) == 0x9000


def test_beid_select_by_fid_element_by_element_and_by_path():
    card = beid_card()
    assert sw(card.transmit(select_fid(0x4031))) == 0x6A82            # DF01 is not current yet
    for fid in (0x3F00, 0xDF01, 0x4031):
        assert sw(card.transmit(select_fid(fid))) == 0x9000
    assert sw(card.transmit(select_fid(0x4033))) == 0x9000            # sibling in DF01
    assert sw(card.transmit(select_fid(0xDF01))) == 0x9000            # the current DF itself
    assert sw(card.transmit(select_fid(0x4031))) == 0x9000
    assert sw(card.transmit([0x00, 0xA4, 0x08, 0x0C, 0x04, 0xDF, 0x01, 0x40, 0x33])) == 0x9000
    assert sw(card.transmit([0x00, 0xA4, 0x08, 0x0C, 0x06, 0x3F, 0x00, 0xDF, 0x01, 0x40, 0x31])) \
        == 0x9000
    assert sw(card.transmit([0x00, 0xA4, 0x08, 0x0C, 0x04, 0xDF, 0x01, 0x40, 0x39])) == 0x6A82
    assert sw(card.transmit([0x00, 0xA4, 0x04, 0x00, 0x0F, *BEID_APPLET_AID])) == 0x9000
    assert sw(card.transmit(select_fid(0xDF01))) == 0x9000            # the applet AID = the MF


@pytest.mark.parametrize("p2", [0x00, 0x04, 0x0C])
def test_select_by_fid_accepts_p2_with_and_without_fci(p2):
    card = beid_card()
    answer = card.transmit([0x00, 0xA4, 0x02, p2, 0x02, 0xDF, 0x01])
    assert sw(answer) == 0x9000 and answer[0] == []                   # case 3: no data back


def test_select_with_le_returns_an_fcp_with_the_file_size():
    card = beid_card()
    card.transmit(select_fid(0xDF01))
    data, sw1, _ = card.transmit([0x00, 0xA4, 0x02, 0x04, 0x02, 0x40, 0x35, 0x00])
    assert sw1 == 0x90 and data[0] == 0x62
    assert bytes(data[2:6]) == b"\x80\x02" + len(BEID_PHOTO).to_bytes(2, "big")


def test_t1_short_read_returns_the_rest_with_6282():
    card = egk_card()
    card.transmit(SELECT_HCA)
    data, sw1, sw2 = card.transmit([0x00, 0xB0, 0x8C, 0x00, 0x20])
    assert (sw1, sw2) == (0x62, 0x82) and len(data) == 25


def test_t0_short_read_answers_6cxx_without_data_and_the_resend_gets_it():
    card = beid_card()
    card.transmit([0x00, 0xA4, 0x08, 0x0C, 0x04, 0xDF, 0x01, 0x40, 0x33])
    size = len(beid_address())
    assert card.transmit([0x00, 0xB0, 0x00, 0x00, 0x00]) == ([], 0x6C, size)
    data, sw1, sw2 = card.transmit([0x00, 0xB0, 0x00, 0x00, size])
    assert (sw1, sw2) == (0x90, 0x00) and bytes(data) == beid_address()


def test_le_zero_means_256():
    card = beid_card()
    card.transmit([0x00, 0xA4, 0x08, 0x0C, 0x04, 0xDF, 0x01, 0x40, 0x35])
    data, sw1, _ = card.transmit([0x00, 0xB0, 0x00, 0x00, 0x00])
    assert sw1 == 0x90 and bytes(data) == BEID_PHOTO[:256]
    assert card.transmit([0x00, 0xB0, 0x03, 0x00, 0x00]) == ([], 0x6C, len(BEID_PHOTO) - 0x300)


@pytest.mark.parametrize("card, commands, size", [
    (egk_card, [SELECT_HCA, [0x00, 0xB0, 0x8C, 0x00, 0x01]], 25),
    (beid_card, [[0x00, 0xA4, 0x08, 0x0C, 0x04, 0xDF, 0x01, 0x40, 0x33]], len(beid_address())),
])
def test_reading_at_or_past_the_end_answers_6b00(card, commands, size):
    card = card()
    for command in commands:
        assert card.transmit(command)[1] == 0x90
    assert sw(card.transmit([0x00, 0xB0, size >> 8, size & 0xFF, 0x01])) == 0x6B00
    assert sw(card.transmit([0x00, 0xB0, 0x10, 0x00, 0x01])) == 0x6B00


def test_status_words_for_bad_commands():
    card = egk_card()
    assert sw(card.transmit([0x00, 0xB0, 0x00, 0x00, 0x10])) == 0x6986   # no current EF
    assert sw(card.transmit([0x00, 0xCA, 0x01, 0x00, 0x00])) == 0x6D00   # unknown INS
    assert sw(card.transmit([0x80, 0xB0, 0x00, 0x00, 0x10])) == 0x6E00   # unknown CLA
    assert sw(card.transmit([0x00, 0xA4, 0x04, 0x0C, 0x03, 0xA0, 0x00, 0x00])) == 0x6A82
    assert sw(card.transmit([0x00, 0xB0])) == 0x6700                     # too short
    assert sw(card.transmit([0x00, 0xC0, 0x00, 0x00, 0x10])) == 0x6D00   # T=1: no GET RESPONSE


def test_a_deactivated_health_application_answers_6283():
    card = egk_card(deactivated=True)
    assert sw(card.transmit(SELECT_HCA)) == 0x6283
    assert sw(card.transmit([0x00, 0xB0, 0x81, 0x00, 0x02])) != 0x9000


def test_remove_after_pulls_the_card_in_process():
    card = egk_card()
    card.remove_after = 2
    card.transmit(SELECT_HCA)
    card.transmit([0x00, 0xB0, 0x81, 0x00, 0x02])
    with pytest.raises(CardRemoved):
        card.transmit([0x00, 0xB0, 0x00, 0x02, 0xFC])
    with pytest.raises(CardRemoved):
        card.transmit(SELECT_HCA)
    assert len(card.apdus) == 2 and card.removed


def test_transmit_wants_a_list_like_pyscard():
    with pytest.raises(TypeError):
        egk_card().transmit(bytes(SELECT_HCA))


def test_get_response_option_serves_61xx():
    card = beid_card(get_response=True)
    card.transmit(select_fid(0xDF01))
    data, sw1, length = card.transmit([0x00, 0xA4, 0x02, 0x04, 0x02, 0x40, 0x31, 0x00])  # case 4
    assert (data, sw1) == ([], 0x61) and length > 4
    first, sw1, rest = card.transmit([0x00, 0xC0, 0x00, 0x00, 0x04])
    assert len(first) == 4 and first[0] == 0x62 and (sw1, rest) == (0x61, length - 4)
    assert card.transmit([0x00, 0xC0, 0x00, 0x00, rest + 1]) == ([], 0x6C, rest)
    tail, sw1, sw2 = card.transmit([0x00, 0xC0, 0x00, 0x00, rest])
    assert (sw1, sw2) == (0x90, 0x00) and len(first + tail) == length
    assert sw(card.transmit([0x00, 0xC0, 0x00, 0x00, 0x04])) == 0x6985    # nothing pending


def test_the_kiosk_channel_follows_61xx_and_6cxx():
    card = beid_card(get_response=True)
    channel = Channel(card.transmit)
    assert channel.select_path(bytes.fromhex("DF01")) == 0x9000
    fcp = channel.send(bytes.fromhex("00A4020402403100"))
    assert fcp.sw == 0x9000 and fcp.data[:2] == bytes([0x62, len(fcp.data) - 2])
    assert channel.read_to_end() == beid_identity()
    assert any(apdu[:2] == b"\x00\xC0" for apdu in card.apdus)


def test_power_cycle_resets_the_current_file():
    card = egk_card()
    card.transmit(SELECT_HCA)
    card.reset()
    assert sw(card.transmit([0x00, 0xB0, 0x8C, 0x00, 0x19])) == 0x6A82     # SFI 0C is in DF.HCA


def test_unknown_card_answers_6a82_except_to_its_own_application():
    card = unknown_card()
    assert sw(card.transmit(SELECT_HCA)) == 0x6A82
    assert sw(card.transmit(select_fid(0x3F00))) == 0x6A82
    assert sw(card.transmit([0x00, 0xA4, 0x08, 0x0C, 0x04, 0xDF, 0x01, 0x40, 0x31])) == 0x6A82
    assert sw(card.transmit([0x00, 0xB0, 0x81, 0x00, 0x02])) == 0x6A82
    assert sw(card.transmit([0x00, 0xA4, 0x04, 0x00, 0x07, *PAYMENT_AID])) == 0x9000


# ------------------------------------------------------------------------------------------------
# Builders: the card contents follow the reference
# ------------------------------------------------------------------------------------------------

def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def test_pd_xml_is_iso_8859_15_with_prefix_namespace_and_schema_order():
    xml = egk_pd_xml(vorsatzwort="von", namenszusatz="Freiherr", titel="Dr.",
                     postbox_address={"Postleitzahl": "50668", "Ort": "Köln", "Postfach": "101010",
                                      "Wohnsitzlaendercode": "D"})
    assert xml.startswith(b'<?xml version="1.0" encoding="ISO-8859-15"')
    assert b"<vsdp:UC_PersoenlicheVersichertendatenXML" in xml
    assert "Jürgen".encode("iso-8859-15") in xml and "Jürgen".encode("utf-8") not in xml
    root = ET.fromstring(xml)
    assert root.tag == NS_52 + "UC_PersoenlicheVersichertendatenXML"
    assert root.get("CDM_VERSION") == "5.2.0"
    assert root.findtext(f"{NS_52}Versicherter/{NS_52}Versicherten_ID") == "X110411675"
    person = root.find(f"{NS_52}Versicherter/{NS_52}Person")
    assert [local(e.tag) for e in person] == [
        "Geburtsdatum", "Vorname", "Nachname", "Geschlecht", "Vorsatzwort", "Namenszusatz",
        "Titel", "PostfachAdresse", "StrassenAdresse"]
    assert person.findtext(f"{NS_52}Nachname") == "Müller-Lüdenscheidt"
    street = person.find(f"{NS_52}StrassenAdresse")
    assert [local(e.tag) for e in street] == ["Postleitzahl", "Ort", "Land", "Strasse", "Hausnummer"]
    assert street.findtext(f"{NS_52}Strasse") == "Hohe Straße"
    box = person.find(f"{NS_52}PostfachAdresse")
    assert [local(e.tag) for e in box] == ["Postleitzahl", "Ort", "Postfach", "Land"]


def test_pd_xml_version_5_1_uses_its_own_namespace():
    root = ET.fromstring(egk_pd_xml(version="5.1", street_address=None))
    assert root.tag == ("{http://ws.gematik.de/fa/vsds/UC_PersoenlicheVersichertendatenXML/v5.1}"
                        "UC_PersoenlicheVersichertendatenXML")
    assert root.get("CDM_VERSION") == "5.1.0"
    assert not any(local(e.tag) == "StrassenAdresse" for e in root.iter())


def test_vd_and_gvd_xml():
    root = ET.fromstring(egk_vd_xml(end="20291231", extra_xml="<vsda:Unbekannt>1</vsda:Unbekannt>"))
    cover = root.find(f"{NS_52}Versicherter/{NS_52}Versicherungsschutz")
    assert [local(e.tag) for e in cover] == ["Beginn", "Ende", "Kostentraeger"]
    assert cover.findtext(f"{NS_52}Kostentraeger/{NS_52}Kostentraegerkennung") == "109500969"
    assert root.findtext(f".//{NS_52}WOP") == "38"
    assert root.find(f".//{NS_52}Unbekannt") is not None
    old = ET.fromstring(egk_vd_xml(version="5.1"))
    assert old.tag.endswith("/UC_AllgemeineVersicherungsdatenXML/v5.1}"
                            "UC_AllgemeineVersicherungsdatenXML")
    assert [local(e.tag) for e in old.find(".//{*}ZusatzinfosGKV")] == [
        "Rechtskreis", "Versichertenart", "Versichertenstatus_RSA", "Zusatzinfos_Abrechnung_GKV"]
    gvd = ET.fromstring(egk_gvd_xml())
    assert local(gvd.tag) == "UC_GeschuetzteVersichertendatenXML"
    assert gvd.findtext(f"{NS_52}Zuzahlungsstatus/{NS_52}Status") == "0"


def test_pd_file_is_length_prefixed_gzip():
    xml = egk_pd_xml()
    content = egk_pd_file(xml, size=850)
    length = struct.unpack(">H", content[:2])[0]
    assert content[2:5] == b"\x1F\x8B\x08"
    assert gzip.decompress(content[2:2 + length]) == xml
    assert len(content) == 850 and set(content[2 + length:]) == {0}


def test_vd_file_offsets_are_inclusive_and_ffff_when_absent():
    vd, gvd = egk_vd_xml(), egk_gvd_xml()
    content = egk_vd_file(vd, gvd)
    start_vd, end_vd, start_gvd, end_gvd = struct.unpack(">4H", content[:8])
    assert start_vd == 8
    assert gzip.decompress(content[start_vd:end_vd + 1]) == vd
    assert gzip.decompress(content[start_gvd:end_gvd + 1]) == gvd
    assert end_gvd == len(content) - 1
    alone = egk_vd_file(vd)
    assert struct.unpack(">4H", alone[:8])[2:] == (0xFFFF, 0xFFFF)


def test_status_vd_layout():
    status = egk_status_vd()
    assert len(status) == 25 and status[:1] == b"0"
    assert status[1:15] == b"20261127093000"
    assert status[15:20] == bytes.fromhex("0050020000")
    assert egk_status_vd(pending=True)[:1] == b"1"
    assert egk_status_vd(version=(7, 3, 1))[15:20] == bytes.fromhex("0070030001")  # spec example


def decode_fedict_tlv(data: bytes) -> dict[int, bytes]:
    """A tiny independent decoder (eid-mw ``tlvbuffer.cpp``): stop at a 0x00 tag after the first."""
    out, i = {}, 0
    while i + 1 < len(data):
        tag = data[i]
        if tag == 0x00 and i > 0:
            break
        i += 1
        length = 0
        while data[i] == 0xFF:
            length += 0xFF
            i += 1
        length += data[i]
        i += 1
        out[tag] = data[i:i + length]
        i += length
    return out


def test_beid_identity_tlv_round_trip():
    data = beid_identity()
    assert data[:3] == b"\x00\x01\x01" and data.endswith(bytes(16))
    fields = decode_fedict_tlv(data)
    assert fields[0x06] == b"85073003427"
    national = fields[0x06].decode()
    assert 97 - int(national[:9]) % 97 == int(national[9:])
    assert fields[0x07].decode("utf-8") == "Dubois-Lefèvre"
    assert fields[0x08] == b"Marie-Claire"
    assert fields[0x0C] == b"30 JUIL 1985" and fields[0x0D] == b"F"
    assert len(fields[0x02]) == 16


def test_beid_raw_tags_long_values_and_omitted_fields():
    long_name = "Ç" * 200                                            # 400 bytes of UTF-8
    data = beid_identity(surname=long_name, first_names=None, raw={0x0C: b"31 FEB 1990"})
    fields = decode_fedict_tlv(data)
    assert fields[0x07].decode() == long_name and 0x08 not in fields
    assert fields[0x0C] == b"31 FEB 1990"
    assert fedict_tlv([(0x07, bytes(255))])[:3] == b"\x07\xFF\x00"
    assert fedict_tlv([(0x07, bytes(300))])[:3] == b"\x07\xFF\x2D"


def test_beid_address_tlv():
    fields = decode_fedict_tlv(beid_address())
    assert fields[0x01].decode() == "Rue de l'Étuve 52"
    assert (fields[0x02], fields[0x03]) == (b"1000", b"Bruxelles")
    with pytest.raises(TypeError):
        beid_address(stret="typo")


# ------------------------------------------------------------------------------------------------
# Through a real pcscd and the vpcd driver
# ------------------------------------------------------------------------------------------------

def wait_until(condition, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still not {what} after {timeout} s")
        time.sleep(0.05)


def card_present(reader_name: str) -> bool:
    from smartcard import scard
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(reader_name, scard.SCARD_STATE_UNAWARE)])
        assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
        return bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(context)


def reader(pcscd):
    from smartcard.System import readers
    found = [r for r in readers() if str(r) == pcscd.reader_name]
    assert found, f"{pcscd.reader_name} not among {readers()}"
    return found[0]


@contextmanager
def in_reader(pcscd, card):
    """The card inserted in the vpcd reader until the block ends, then pulled; waits both ways."""
    vpcd = Vpcd(card, port=pcscd.port)
    vpcd.insert()
    try:
        wait_until(lambda: card_present(pcscd.reader_name), "inserted")
        yield vpcd
    finally:
        vpcd.remove()
    wait_until(lambda: not card_present(pcscd.reader_name), "removed")


@contextmanager
def connected(pcscd):
    conn = reader(pcscd).createConnection()
    conn.connect()
    try:
        yield conn
    finally:
        conn.disconnect()
        conn.release()


def test_egk_through_pcscd_is_t1_and_readable(pcscd):
    from smartcard.CardConnection import CardConnection
    from smartcard.System import readers
    card = egk_card()
    assert pcscd.reader_name in [str(r) for r in readers()]
    with in_reader(pcscd, card):
        with connected(pcscd) as conn:
            assert bytes(conn.getATR()) == card.atr
            assert conn.getProtocol() == CardConnection.T1_protocol
            assert sw(conn.transmit(SELECT_HCA)) == 0x9000
            data, sw1, sw2 = conn.transmit([0x00, 0xB0, 0x8C, 0x00, 0x19])
            assert (sw1, sw2) == (0x90, 0x00) and bytes(data) == egk_status_vd()
            data, sw1, sw2 = conn.transmit([0x00, 0xB0, 0x8C, 0x00, 0x20])
            assert (sw1, sw2) == (0x62, 0x82) and len(data) == 25
    assert not card_present(pcscd.reader_name)
    assert bytes.fromhex("00B08C0019") in card.apdus


def test_beid_through_pcscd_is_t0_and_the_channel_follows_6cxx(pcscd):
    from smartcard.CardConnection import CardConnection
    card = beid_card()
    with in_reader(pcscd, card):
        with connected(pcscd) as conn:
            assert bytes(conn.getATR()) == card.atr
            assert conn.getProtocol() == CardConnection.T0_protocol
            channel = Channel(conn.transmit)
            assert channel.select_path(bytes.fromhex("3F00DF014031")) == 0x9000
            assert channel.read_to_end() == beid_identity()
            assert channel.select_fid(bytes.fromhex("4033")) == 0x9000
            assert channel.read_to_end() == beid_address()
    size = len(beid_identity())
    assert bytes([0x00, 0xB0, 0x00, 0x00, 0xFC]) in card.apdus           # asked for a full chunk,
    assert bytes([0x00, 0xB0, 0x00, 0x00, size]) in card.apdus           # resent after 6Cxx


def test_power_off_on_disconnect_resets_the_card_state(pcscd):
    card = egk_card()
    with in_reader(pcscd, card):
        with connected(pcscd) as conn:
            assert sw(conn.transmit(SELECT_HCA)) == 0x9000
        with connected(pcscd) as conn:
            assert sw(conn.transmit([0x00, 0xB0, 0x8C, 0x00, 0x19])) == 0x6A82


def test_a_card_pulled_mid_read_through_pcscd(pcscd):
    from smartcard.Exceptions import CardConnectionException
    card = egk_card()
    card.remove_after = 1
    vpcd = Vpcd(card, port=pcscd.port).insert()
    try:
        wait_until(lambda: card_present(pcscd.reader_name), "inserted")
        conn = reader(pcscd).createConnection()
        conn.connect()
        try:
            assert sw(conn.transmit(SELECT_HCA)) == 0x9000
            with pytest.raises(CardConnectionException):
                conn.transmit([0x00, 0xB0, 0x81, 0x00, 0x02])
        finally:
            conn.release()
        wait_until(lambda: not vpcd.inserted, "closed by the card")
        wait_until(lambda: not card_present(pcscd.reader_name), "seen as removed")
    finally:
        vpcd.remove()
    assert len(card.apdus) == 1


def test_the_same_card_can_be_inserted_again(pcscd):
    card = egk_card()
    vpcd = Vpcd(card, port=pcscd.port)
    for _ in range(2):
        with vpcd:
            wait_until(lambda: card_present(pcscd.reader_name), "inserted")
            with connected(pcscd) as conn:
                assert sw(conn.transmit(SELECT_HCA)) == 0x9000
        wait_until(lambda: not card_present(pcscd.reader_name), "removed")
    assert not vpcd.inserted and card.apdus == [bytes(SELECT_HCA)] * 2
