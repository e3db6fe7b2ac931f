"""kiosk/hospital/hl7v2.py: the ADT^A04 of an admission read back with the ``hl7`` package (and validated with
hl7apy), escaping, ACKs, and MLLP against a real receiver (tests/support/mllppeer.py)."""

import json
import socket
import ssl
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hypothesis import given, settings
from hypothesis import strategies as st
from mllppeer import MllpPeer

from kiosk.hospital.hl7v2 import (
                                  KVNR_SYSTEM,
                                  SSIN_SYSTEM,
                                  Hl7Options,
                                  adt,
                                  escape,
                                  parse_ack,
                                  send_mllp,
                                  )
from kiosk.checkin.model import Address, Admission, Answer, CardData, Identifier

# The demo card data (assets/demo/patients.json): an eGK with its coverage, and a Belgian eID without one.
CARDS = {c["card"]: CardData.from_json(c)
         for c in json.loads((Path(__file__).parents[2] / "assets/demo/patients.json").read_text())}
SENT_AT = datetime(2024, 3, 1, 9, 16, 5, tzinfo=timezone(timedelta(hours=1)))
OPTIONS = Hl7Options()
CONTROL_ID = "KIOSK-000042"
HOSTILE = "O'Brien|Smith^&~\\"
WAIT = 5.0                          # seconds an exchange with the test peer may take when it answers


def admission(card: str = "egk", **changes) -> Admission:
    data = CARDS[card]
    base = Admission(id="0b6c7f2e-1d2a-4c57-9f0e-000000000001", kiosk_id="lobby-1",
                     created_at="2024-03-01T08:15:00+00:00", language="de", identified_by=f"card:{card}",
                     person=data.person, coverage=data.coverage, answers=(Answer("allergies", "Penicillin"),))
    return replace(base, **changes)


def a04(adm: Admission, options: Hl7Options = OPTIONS) -> hl7.Message:
    return hl7.parse(adt(adm, CONTROL_ID, options, sent_at=SENT_AT))


def value(message: hl7.Message, segment: str, field: int, repetition: int = 1, component: int = 1,
          subcomponent: int = 1) -> str:
    """One value as the receiver sees it: walked down the parse tree raw, then ``message.unescape``."""
    node = message.segment(segment)
    if field >= len(node):
        return ""
    node = node(field)
    for index in (repetition, component, subcomponent):
        if isinstance(node, str):
            if index > 1:
                return ""
            continue
        if index > len(node):
            return ""
        node = node(index)
    return message.unescape(str(node))


def segment_names(message: hl7.Message) -> list[str]:
    return [str(segment[0]) for segment in message]


def test_egk_a04_read_back_field_by_field():
    message = a04(admission("egk"))
    assert segment_names(message) == ["MSH", "EVN", "PID", "PV1", "IN1"]
    assert str(message.segment("MSH")(9)) == "ADT^A04^ADT_A01"
    assert [value(message, "MSH", n) for n in (3, 7, 10, 11, 12, 18)] == [
        "KIOSK", "20240301091605+0100", CONTROL_ID, "P", "2.5", "UNICODE UTF-8"]
    assert value(message, "EVN", 2) == "20240301081500+0000"
    assert value(message, "EVN", 5) == "lobby-1"
    assert [value(message, "PID", 3, 1, c) for c in (1, 5)] == ["X110411675", "NII"]
    assert [value(message, "PID", 3, 1, 4, s) for s in (1, 2, 3)] == ["", "1.2.276.0.76.4.8", "ISO"]
    assert [value(message, "PID", 5, 1, c) for c in (1, 2, 3, 5, 7)] == [
        "Müller-Lüdenscheidt", "Jürgen Heinz", "", "Dr.", "L"]
    assert value(message, "PID", 7) == "19580321"
    assert value(message, "PID", 8) == "M"
    assert [value(message, "PID", 11, 1, c) for c in (1, 3, 5, 6, 7)] == [
        "Königsallee 12", "Düsseldorf", "40212", "DE", "H"]
    assert value(message, "PID", 15) == "de"
    assert value(message, "PV1", 2) == "O"
    assert str(message.segment("PV1")(19)) == admission().id
    assert value(message, "PV1", 44) == "20240301081500+0000"
    assert [value(message, "IN1", n) for n in (1, 2, 4, 12, 13, 36)] == [
        "1", "GKV", "Test GKV Sozialversicherung", "20200101", "", "X110411675"]
    assert [value(message, "IN1", 3, 1, c) for c in (1, 5)] == ["109500969", "NII"]
    assert value(message, "IN1", 3, 1, 4, 2) == "1.2.276.0.76.4.5"


def test_beid_a04_has_the_ssin_and_no_insurance():
    message = a04(admission("beid", language="fr"))
    assert segment_names(message) == ["MSH", "EVN", "PID", "PV1"]
    assert [value(message, "PID", 3, 1, c) for c in (1, 5)] == ["85073003328", "NNBEL"]
    assert value(message, "PID", 3, 1, 4, 2) == "2.16.840.1.113883.3.6777.5.1"
    assert [value(message, "PID", 5, 1, c) for c in (1, 2, 5, 7)] == ["Dubois-Lefèvre", "Marie-Claire", "", "L"]
    assert value(message, "PID", 7) == "19850730"
    assert value(message, "PID", 8) == "F"
    assert [value(message, "PID", 11, 1, c) for c in (1, 3, 5, 6)] == ["Rue de l'Étuve 52", "Bruxelles", "1000", "BE"]
    assert value(message, "PID", 15) == "fr"


def test_pid3_repeats_every_identifier_with_its_authority():
    person = replace(CARDS["egk"].person, identifiers=(
        Identifier(KVNR_SYSTEM, "X110411675"), Identifier(SSIN_SYSTEM, "85073003328"),
        Identifier("https://hospital.example/mrn?a=1&b=2", "MRN-7")))
    options = replace(OPTIONS, assigning_authorities={KVNR_SYSTEM: ("GKV", "NII")})
    message = a04(admission(person=person), options)
    field = message.segment("PID")(3)
    assert len(field) == 3
    assert [value(message, "PID", 3, 1, c) for c in (1, 4, 5)] == ["X110411675", "GKV", "NII"]
    # not in the options any more: the system URI is the authority (HD type URI), with no type code
    assert [value(message, "PID", 3, 2, 4, s) for s in (1, 2, 3)] == ["", SSIN_SYSTEM, "URI"]
    assert [value(message, "PID", 3, 3, 4, s) for s in (2, 3)] == ["https://hospital.example/mrn?a=1&b=2", "URI"]
    assert value(message, "PID", 3, 3, 5) == ""


@pytest.mark.parametrize("birth_date, expected", [
    ("1958-03-21", "19580321"), ("1958-03", "195803"), ("1958", "1958"), ("", "")])
def test_pid7_keeps_the_precision_the_card_has(birth_date, expected):
    person = replace(CARDS["egk"].person, birth_date=birth_date)
    assert value(a04(admission(person=person)), "PID", 7) == expected


@pytest.mark.parametrize("gender, sex", [("male", "M"), ("female", "F"), ("other", "O"), ("unknown", "U"),
                                         ("", "U")])
def test_pid8_from_fhir_gender(gender, sex):
    person = replace(CARDS["egk"].person, gender=gender)
    assert value(a04(admission(person=person)), "PID", 8) == sex


def test_options_reach_msh_and_pv1():
    options = replace(OPTIONS, sending_facility="ER-LOBBY", receiving_application="ORBIS",
                      receiving_facility="HOSP", patient_class="E", processing_id="T")
    message = a04(admission(), options)
    assert [value(message, "MSH", n) for n in (4, 5, 6, 11)] == ["ER-LOBBY", "ORBIS", "HOSP", "T"]
    assert value(message, "PV1", 2) == "E"


def test_coverage_end_and_period_times_become_dates():
    coverage = replace(CARDS["egk"].coverage, start="2020-01-01T00:00:00+01:00", end="2029-12-31")
    message = a04(admission(coverage=coverage))
    assert [value(message, "IN1", n) for n in (12, 13)] == ["20200101", "20291231"]


def test_answers_are_not_in_the_a04():
    assert "Penicillin" not in adt(admission(), CONTROL_ID, OPTIONS, sent_at=SENT_AT)


@pytest.mark.parametrize("control_id", ["", "A|B", "A^B", "ÄB", "A B", "A\rB"])
def test_a_control_id_that_cannot_be_echoed_unchanged_is_refused(control_id):
    with pytest.raises(ValueError):
        adt(admission(), control_id, OPTIONS, sent_at=SENT_AT)


def test_a_time_without_zone_or_a_malformed_birth_date_is_refused():
    with pytest.raises(ValueError):
        adt(admission(), CONTROL_ID, OPTIONS, sent_at=SENT_AT.replace(tzinfo=None))
    with pytest.raises(ValueError):
        a04(admission(person=replace(CARDS["egk"].person, birth_date="21.03.1958")))


@pytest.mark.parametrize("card", ["egk", "beid"])
def test_hl7apy_validates_the_structure_strictly(card):
    text = adt(admission(card), CONTROL_ID, OPTIONS, sent_at=SENT_AT)
    message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT)
    assert message.validate()
    assert message.msh.msh_9.to_er7() == "ADT^A04^ADT_A01"


@pytest.mark.parametrize("card", ["egk", "beid"])
def test_a_pre_check_in_is_a_valid_a05_and_its_arrival_an_a04_of_the_same_visit(card):
    pre_checked = admission(card, precheck_id="9f2c41d07a3b5e68")
    a05 = adt(replace(pre_checked, id=pre_checked.precheck_id), CONTROL_ID, OPTIONS, sent_at=SENT_AT, pre_admit=True)
    message = parse_message(a05, validation_level=VALIDATION_LEVEL.STRICT)
    assert message.validate()
    assert message.msh.msh_9.to_er7() == "ADT^A05^ADT_A05" and message.evn.evn_1.to_er7() == "A05"
    arrival = a04(pre_checked)
    assert parse_message(adt(pre_checked, CONTROL_ID, OPTIONS, sent_at=SENT_AT),
                         validation_level=VALIDATION_LEVEL.STRICT).validate()
    assert value(hl7.parse(a05), "PV1", 19) == value(arrival, "PV1", 19) == "9f2c41d07a3b5e68"
    assert value(arrival, "PV1", 50) == pre_checked.id and value(hl7.parse(a05), "PV1", 44) == ""
    assert value(a04(admission(card)), "PV1", 19) == admission(card).id          # without a pre-check-in


def test_escape_uses_the_hl7_sequences():
    assert escape(HOSTILE) == "O'Brien\\F\\Smith\\S\\\\T\\\\R\\\\E\\"
    assert escape("a\rb\nc\x0bd\x1c") == "a\\X0D\\b\\X0A\\c\\X0B\\d\\X1C\\"
    assert escape("Müller-Lüdenscheidt") == "Müller-Lüdenscheidt"


def test_hostile_names_and_addresses_survive_the_round_trip():
    hostile_address = Address((f"Street {HOSTILE}\r\n5", "c/o\x0bB\x1c"), "12|34", "Köln~&", "D^E")
    person = replace(CARDS["egk"].person, family=HOSTILE, given=("Jean\\Paul", "&Co"), prefix=("~",),
                     address=hostile_address,
                     identifiers=(Identifier(KVNR_SYSTEM, "X^1|2"),))
    text = adt(admission(person=person, kiosk_id="lobby|1"), CONTROL_ID, OPTIONS, sent_at=SENT_AT)
    assert text.count("\r") == 4 and not set(text) & set("\n\x0b\x1c")
    message = hl7.parse(text)
    assert segment_names(message) == ["MSH", "EVN", "PID", "PV1", "IN1"]
    assert [value(message, "PID", 5, 1, c) for c in (1, 2, 5)] == [HOSTILE, "Jean\\Paul &Co", "~"]
    assert [value(message, "PID", 11, 1, c) for c in (1, 2, 3, 5, 6)] == [
        f"Street {HOSTILE}\r\n5", "c/o\x0bB\x1c", "Köln~&", "12|34", "D^E"]
    assert value(message, "PID", 3, 1, 1) == "X^1|2"
    assert value(message, "EVN", 5) == "lobby|1"
    assert parse_message(text, validation_level=VALIDATION_LEVEL.STRICT).validate()


@given(st.text())
def test_any_text_survives_escape_parse_unescape(text):
    message = hl7.parse(f"MSH|^~\\&|KIOSK\rPID|1||{escape(text)}^x~y|z")
    assert value(message, "PID", 3, 1, 1) == text
    assert value(message, "PID", 4) == "z"


@settings(max_examples=50)
@given(family=st.text(), given_name=st.text(), line=st.text(), city=st.text(), payor=st.text())
def test_any_admission_text_survives_the_a04(family, given_name, line, city, payor):
    person = replace(CARDS["egk"].person, family=family, given=(given_name,), address=Address((line,), city=city))
    coverage = replace(CARDS["egk"].coverage, payor_name=payor)
    message = a04(admission(person=person, coverage=coverage))
    assert [value(message, "PID", 5, 1, c) for c in (1, 2)] == [family, given_name]
    assert [value(message, "PID", 11, 1, c) for c in (1, 3)] == [line, city]
    assert value(message, "IN1", 4) == payor
    assert value(message, "IN1", 36) == "X110411675"


def ack_for(code: str, extra: str = "") -> str:
    sent = a04(admission())
    return str(sent.create_ack(ack_code=code, message_id="HIS-1")).rstrip("\r") + extra


@pytest.mark.parametrize("code", ["AA", "AE", "AR", "CA"])
def test_parse_ack_reads_code_and_control_id(code):
    ack = parse_ack(ack_for(code))
    assert (ack.code, ack.control_id, ack.text) == (code, CONTROL_ID, "")


def test_parse_ack_gathers_msa3_and_err_and_takes_lf_endings():
    text = ack_for("AE", "|Bad \\T\\ data\rERR||PID^1^7|102^Data type error^HL70357|E|||bad date|ask the desk")
    ack = parse_ack(text.replace("\r", "\r\n"))
    assert (ack.code, ack.control_id) == ("AE", CONTROL_ID)
    assert ack.text == "Bad & data; 102^Data type error^HL70357; bad date; ask the desk"


@pytest.mark.parametrize("text", [
    "", "garbage", "\x0b\x1c\r", "PID|1||X", "MSH|^~\\&|HIS||||||ACK^A04^ACK|1|P|2.5",
    "MSH|^~\\&|HIS||||||ACK^A04^ACK|1|P|2.5\rMSA|OK|KIOSK-000042",
    "MSH|^~\\&|HIS||||||ACK^A04^ACK|1|P|2.5\rMSA"])
def test_parse_ack_refuses_what_is_not_an_ack(text):
    with pytest.raises(ValueError):
        parse_ack(text)


def test_parse_ack_refuses_the_a04_itself():
    with pytest.raises(ValueError):
        parse_ack(adt(admission(), CONTROL_ID, OPTIONS, sent_at=SENT_AT))


def message_text(control_id: str = CONTROL_ID, card: str = "egk") -> str:
    return adt(admission(card), control_id, OPTIONS, sent_at=SENT_AT)


@pytest.mark.parametrize("answer", ["AA", "AE", "AR"])
def test_send_mllp_returns_the_peers_ack(answer):
    text = message_text()
    with MllpPeer(answer=answer) as peer:
        assert peer.url == f"mllp://127.0.0.1:{peer.port}" and peer.port > 0
        ack = parse_ack(send_mllp(peer.host, peer.port, text, timeout=WAIT))
        assert peer.messages == [text]
    assert (ack.code, ack.control_id) == (answer, CONTROL_ID)
    assert ("HL70357" in ack.text) == (answer != "AA")


def test_send_mllp_carries_utf8_and_hostile_text_unchanged():
    person = replace(CARDS["egk"].person, family=HOSTILE + "\x1c\r\x0b")
    text = adt(admission(person=person), CONTROL_ID, OPTIONS, sent_at=SENT_AT)
    with MllpPeer() as peer:
        assert parse_ack(send_mllp(peer.host, peer.port, text, timeout=WAIT)).code == "AA"
        received = hl7.parse(peer.messages[0])
    assert value(received, "PID", 5, 1, 1) == HOSTILE + "\x1c\r\x0b"
    assert value(received, "PID", 5, 1, 2) == "Jürgen Heinz"


@pytest.fixture(scope="module")
def tls_contexts(tls_certificate):
    """(server, client) SSL contexts around the throwaway certificate for 127.0.0.1."""
    cert, key = tls_certificate
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=cert)


def test_send_mllp_over_tls(tls_contexts):
    server, client = tls_contexts
    text = message_text()
    with MllpPeer("AE", tls=server) as peer:
        assert peer.url.startswith("mllps://")
        ack = parse_ack(send_mllp(peer.host, peer.port, text, timeout=WAIT, context=client))
        with pytest.raises(ssl.SSLError):
            send_mllp(peer.host, peer.port, text, timeout=WAIT, context=ssl.create_default_context())
        assert peer.messages == [text]
    assert (ack.code, ack.control_id) == ("AE", CONTROL_ID)


def test_tls_to_a_silent_peer_is_a_timeout(tls_contexts):
    server, client = tls_contexts
    with MllpPeer("silent", tls=server) as peer, pytest.raises(TimeoutError):
        send_mllp(peer.host, peer.port, message_text(), timeout=0.5, context=client)


def test_a_silent_peer_is_a_timeout():
    with MllpPeer(answer="silent") as peer:
        with pytest.raises(TimeoutError):
            send_mllp(peer.host, peer.port, message_text(), timeout=0.5)
        assert len(peer.messages) == 1


def test_a_peer_that_hangs_up_is_an_os_error():
    with MllpPeer(answer="drop") as peer, pytest.raises(OSError):
        send_mllp(peer.host, peer.port, message_text(), timeout=WAIT)


def test_nobody_listening_is_an_os_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError):
        send_mllp("127.0.0.1", port, message_text(), timeout=WAIT)


def test_a_resend_after_a_lost_ack_is_counted_once():
    text = message_text()
    with MllpPeer(answer="hold") as peer:
        with pytest.raises(TimeoutError):
            send_mllp(peer.host, peer.port, text, timeout=0.5)
        peer.answer = "AA"
        ack = parse_ack(send_mllp(peer.host, peer.port, text, timeout=WAIT))
        peer.release()
        assert (ack.code, ack.control_id) == ("AA", CONTROL_ID)
        assert peer.messages == [text, text]
        assert peer.unique() == [text]
        send_mllp(peer.host, peer.port, message_text("KIOSK-000043", "beid"), timeout=WAIT)
        assert len(peer.unique()) == 2


def test_a_held_message_is_answered_on_release():
    with MllpPeer(answer="hold") as peer:
        result = {}
        sender = threading.Thread(target=lambda: result.update(
            ack=send_mllp(peer.host, peer.port, message_text(), timeout=WAIT)))
        sender.start()
        while not peer.messages and sender.is_alive():
            sender.join(0.01)
        peer.release()
        sender.join()
    assert parse_ack(result["ack"]).code == "AA"


def test_the_peer_leaves_no_thread_behind():
    with MllpPeer(answer="silent") as peer, pytest.raises(TimeoutError):
        send_mllp(peer.host, peer.port, message_text(), timeout=0.2)
    assert not [t for t in threading.enumerate() if t.name == "mllp-peer"]


class ScriptedPeer:
    """A bare TCP peer that reads one MLLP frame and then sends ``chunks`` one ``send`` at a time and
    closes: for framing the hl7 server never produces (noise, frames split across reads, cut-off frames)."""

    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(WAIT)
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.thread.join(WAIT)
        self.server.close()

    def _serve(self):
        connection, _ = self.server.accept()
        with connection:
            connection.settimeout(WAIT)
            received = b""
            while not received.endswith(b"\x1c\r"):
                received += connection.recv(4096)
            for chunk in self.chunks:
                connection.sendall(chunk)
                time.sleep(0.01)                       # separate segments on the wire


def test_send_mllp_reassembles_a_split_frame_after_noise():
    ack = ack_for("AA").encode()
    chunks = [b"noise\x1c\r", b"\x0b" + ack[:5], ack[5:20], ack[20:] + b"\x1c", b"\r", b"\x0btrailing"]
    with ScriptedPeer(chunks) as peer:
        received = send_mllp("127.0.0.1", peer.port, message_text(), timeout=WAIT)
    assert received == ack.decode()


def test_a_frame_cut_off_by_the_peer_is_a_connection_error():
    with ScriptedPeer([b"\x0b" + ack_for("AA").encode()]) as peer, pytest.raises(ConnectionError):
        send_mllp("127.0.0.1", peer.port, message_text(), timeout=WAIT)
