"""An admission as an HL7 v2.5 ADT^A04 message (a pre-check-in as an ADT^A05), the ACK that answers it, and MLLP to carry both.

Everything but ``send_mllp`` is pure text. Segment and field choices follow HL7 v2.5 chapters 2 (control),
3 (patient administration) and 6 (financial management: IN1), the IHE ITI PAM profile (ITI TF-2b 3.31) and,
for IN1, the HL7 Deutschland wiki (https://wiki.hl7.de/index.php/Segment_IN1).
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime

import hl7

from kiosk.checkin.model import IK_SYSTEM, KVNR_SYSTEM, SSIN_SYSTEM, Admission, Identifier
from kiosk import times

# identifier system -> (assigning authority as an HD, namespace&universal id&id type; identifier type, table 0203)
DEFAULT_ASSIGNING_AUTHORITIES = {
    # Krankenversichertennummer, OID of the KVNR namespace (also its FHIR NamingSystem's OID); NII: national
    # insurance identifier.
    KVNR_SYSTEM: ("&1.2.276.0.76.4.8&ISO", "NII"),
    # Belgian national register / BIS number, the eHealth platform's OID; NNBEL: national person id, Belgium.
    SSIN_SYSTEM: ("&2.16.840.1.113883.3.6777.5.1&ISO", "NNBEL"),
    # Institutionskennzeichen of the payor (IN1-3); HL7 Deutschland types the IK in IN1-3 as NII.
    IK_SYSTEM: ("&1.2.276.0.76.4.5&ISO", "NII"),
}

ACK_CODES = ("AA", "AE", "AR", "CA", "CE", "CR")
START_BLOCK, END_BLOCK = b"\x0b", b"\x1c\r"

_SEX = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_CONTROL_ID = re.compile(r"[!-~]+")
_DELIMITERS = "|^~\\&"
_ESCAPES = {ord(c): f"\\{code}\\" for c, code in zip(_DELIMITERS, "FSRET")}
_ESCAPES.update({c: f"\\X{c:02X}\\" for c in range(0x20)})


@dataclass(frozen=True)
class Hl7Options:
    """What the receiving system expects in the parts of an A04 that do not come from the admission."""

    sending_application: str = "KIOSK"           # MSH-3
    sending_facility: str = ""                   # MSH-4
    receiving_application: str = ""              # MSH-5
    receiving_facility: str = ""                 # MSH-6
    patient_class: str = "O"                     # PV1-2: O outpatient, E emergency, I inpatient, P preadmit
    processing_id: str = "P"                     # MSH-11: P production, T training, D debugging
    insurance_plan_id: str = "GKV"               # IN1-2 (required in 2.5; HL7 Deutschland: GKV, PKV, BG)
    # identifier system -> (assigning authority, identifier type code) for PID-3 and IN1-3. The authority is
    # an HD with its parts separated by "&" ("HOSP", or "&<oid>&ISO"). Systems not listed go as "&<uri>&URI".
    assigning_authorities: dict[str, tuple[str, str]] = field(
        default_factory=lambda: dict(DEFAULT_ASSIGNING_AUTHORITIES))


@dataclass(frozen=True)
class Ack:
    """An acknowledgement: ``code`` is MSA-1, ``control_id`` MSA-2 (the MSH-10 it answers), ``text`` MSA-3
    and the ERR details, unescaped, "; "-separated (may carry what the receiver said about the patient)."""

    code: str
    control_id: str
    text: str = ""


def escape(text: str) -> str:
    """``text`` made safe for one HL7 v2 component: the delimiters ``| ^ ~ \\ &`` become ``\\F\\ \\S\\ \\R\\
    \\E\\ \\T\\`` and every C0 control character (CR, LF, tab, and the MLLP framing bytes VT and FS) the hex
    escape ``\\Xhh\\``, so nothing is dropped and a receiver that unescapes gets ``text`` back."""
    return text.translate(_ESCAPES)


def adt(admission: Admission, control_id: str, options: Hl7Options, *, sent_at: datetime,
        pre_admit: bool = False) -> str:
    """The ADT^A04^ADT_A01 ("register a patient") for ``admission``: MSH, EVN, PID, PV1 and, when there is
    a coverage, IN1; segments joined with CR, no trailing CR, to be encoded as UTF-8 (MSH-18).

    With ``pre_admit``, the ADT^A05^ADT_A05 ("pre-admit a patient") the site service sends for a pre-check-in
    before the patient comes. PV1-19 (the visit number) is the pre-check-in's id in both, for a patient who
    pre-checked in (``admission.precheck_id``): the kiosk's A04 at arrival names the visit the A05 announced,
    and carries its own admission id in PV1-50 (alternate visit ID); otherwise PV1-19 is the admission id.

    ``control_id`` goes to MSH-10 and comes back in the ACK's MSA-2: resend the *same* one when an ACK is
    missing. HL7 2.5 gives it 20 characters; printable ASCII without delimiters, else ValueError.
    ``sent_at`` (MSH-7) must carry a time zone. The admission's own times (ISO 8601) are taken as UTC when
    they carry no zone. Answers to intake questions are deliberately not in the message: v2 has no
    faithful place for them, so they travel as a FHIR QuestionnaireResponse or not at all. Test data (sample
    patients) goes with processing ID T (training) in MSH-11, whatever ``options.processing_id`` says.
    """
    if not _CONTROL_ID.fullmatch(control_id) or any(c in _DELIMITERS for c in control_id):
        raise ValueError("the control id must be printable ASCII without HL7 delimiters")
    if sent_at.tzinfo is None:
        raise ValueError("sent_at needs a time zone")
    person, created = admission.person, _timestamp(admission.created_at)
    address = person.address
    segments = [
        "|".join(["MSH", "^~\\&", escape(options.sending_application), escape(options.sending_facility),
                  escape(options.receiving_application), escape(options.receiving_facility),
                  sent_at.strftime("%Y%m%d%H%M%S%z"), "", "ADT^A05^ADT_A05" if pre_admit else "ADT^A04^ADT_A01", control_id,
                  "T" if admission.test_data else escape(options.processing_id), "2.5", "", "", "", "", "",
                  "UNICODE UTF-8"]),
        _segment("EVN", {1: "A05" if pre_admit else "A04", 2: created, 5: escape(admission.kiosk_id)}),
        _segment("PID", {
            1: "1",
            3: "~".join(_cx(i, options) for i in person.identifiers),
            5: _components(person.family, " ".join(person.given), "", "", " ".join(person.prefix), "", "L"),
            7: _date(person.birth_date),
            8: _SEX.get(person.gender, "U"),
            11: _components(address.lines[0] if address.lines else "", ", ".join(address.lines[1:]),
                            address.city, "", address.postal_code, address.country, "H") if address else "",
            # XTN: the number in XTN-1 (what most receivers read), PRN primary residence, PH telephone
            13: _components(person.phone, "PRN", "PH") if person.phone else "",
            15: escape(admission.language),
        }),
        _segment("PV1", {1: "1", 2: escape(options.patient_class),
                         19: escape(admission.precheck_id or admission.id),
                         **({} if pre_admit else {44: created}),
                         **({50: escape(admission.id)} if admission.precheck_id and not pre_admit else {})}),
    ]
    coverage = admission.coverage
    if coverage:                                    # its period may be FHIR dateTimes: DT keeps the day
        segments.append(_segment("IN1", {
            1: "1", 2: escape(options.insurance_plan_id),
            3: _cx(Identifier(coverage.payor_system, coverage.payor_id), options) if coverage.payor_id else "",
            4: escape(coverage.payor_name), 12: _date(coverage.start[:10]), 13: _date(coverage.end[:10]),
            36: escape(coverage.subscriber_id),
        }))
    return "\r".join(segments)


def network_check(options: Hl7Options, control_id: str, *, sent_at: datetime) -> str:
    """An NMQ^N01 (network management query) with one NCK segment: asks the receiver whether it is there,
    with processing ID D (debugging). It carries no patient; a receiver answers it with an NMR^N01 or, when
    it does not take such queries, with an ACK that refuses it: either way an HL7 v2 answer (MSA) whose
    MSA-2 is ``control_id``, which is what ``kiosk doctor`` asks for."""
    if not _CONTROL_ID.fullmatch(control_id) or any(c in _DELIMITERS for c in control_id):
        raise ValueError("the control id must be printable ASCII without HL7 delimiters")
    stamp = sent_at.strftime("%Y%m%d%H%M%S%z")
    return "\r".join([
        "|".join(["MSH", "^~\\&", escape(options.sending_application), escape(options.sending_facility),
                  escape(options.receiving_application), escape(options.receiving_facility), stamp, "",
                  "NMQ^N01^NMQ_N01", control_id, "D", "2.5", "", "", "", "", "", "UNICODE UTF-8"]),
        f"NCK|{stamp}"])


def parse_ack(text: str) -> Ack:
    """The ACK in ``text`` (one message, without MLLP framing). ValueError when it is not a message with an
    MSA segment whose MSA-1 is one of AA, AE, AR, CA, CE, CR. Segments may end in CR, LF or CRLF and blank
    lines are skipped, as some receivers write them."""
    try:
        message = hl7.parse(re.sub(r"[\r\n]+", "\r", text.strip()))
        msa = message.segment("MSA")
    except Exception as exc:             # hl7.parse also asserts on a short MSH: anything odd is "not an ACK"
        raise ValueError("not an HL7 acknowledgement") from exc

    def value(segment: hl7.Segment, number: int) -> str:
        return message.unescape(str(segment(number))) if number < len(segment) else ""

    code = value(msa, 1)
    if code not in ACK_CODES:
        raise ValueError("not an HL7 acknowledgement code in MSA-1")
    errors = [segment for segment in message if str(segment[0]) == "ERR"]
    # ERR-1 is the v2.4 form, ERR-3 the HL7 error code, ERR-7 diagnostics, ERR-8 the message for a user
    texts = [value(msa, 3), *(value(err, number) for err in errors for number in (1, 3, 7, 8))]
    return Ack(code, value(msa, 2), "; ".join(t for t in texts if t))


def send_mllp(host: str, port: int, message: str, timeout: float, *, context: ssl.SSLContext | None = None) -> str:
    """Send ``message`` framed for MLLP over a new TCP connection (TLS with ``context``, checked against
    ``host``) and return the text of the first complete frame that comes back (the ACK; bytes before its
    start block are ignored). ``timeout`` bounds the whole exchange, connecting and TLS handshake included,
    in seconds: TimeoutError when no complete frame arrived in time, ConnectionError when the peer closed
    first, ssl.SSLError when TLS fails, OSError for anything else the network refuses. The message is sent
    as UTF-8; the ACK is decoded as UTF-8, undecodable bytes replaced."""
    deadline = time.monotonic() + timeout
    with connect(host, port, deadline, context) as sock:
        sock.settimeout(_remaining(deadline))
        sock.sendall(START_BLOCK + message.encode("utf-8") + END_BLOCK)
        received = b""
        while True:
            start = received.find(START_BLOCK)
            end = received.find(END_BLOCK, start + 1) if start >= 0 else -1
            if end >= 0:
                return received[start + 1:end].decode("utf-8", errors="replace")
            if start < 0:
                received = b""                       # nothing of a frame yet: drop the noise
            sock.settimeout(_remaining(deadline))
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the MLLP peer closed the connection before a complete acknowledgement")
            received += chunk


def connect(host: str, port: int, deadline: float, context: ssl.SSLContext | None) -> socket.socket:
    """A TCP connection to the receiver (TLS with ``context``, checked against ``host``), within ``deadline``."""
    sock = socket.create_connection((host, port), timeout=_remaining(deadline))
    try:
        sock.settimeout(_remaining(deadline))
        return context.wrap_socket(sock, server_hostname=host) if context else sock
    except BaseException:
        sock.close()
        raise


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("no complete MLLP acknowledgement in time")
    return left


def _segment(name: str, fields: dict[int, str]) -> str:
    """A segment from {field number: encoded value}, without trailing empty fields."""
    values = [""] * max(fields)
    for number, value in fields.items():
        values[number - 1] = value
    return "|".join([name, *values]).rstrip("|")


def _components(*values: str) -> str:
    """Plain values escaped and joined as components, without trailing empty ones."""
    return "^".join(escape(v) for v in values).rstrip("^")


def _cx(identifier: Identifier, options: Hl7Options) -> str:
    """``value^^^authority^type``: the authority from the options, else the system URI as an HD of type URI."""
    configured = options.assigning_authorities.get(identifier.system)
    parts, type_code = (configured[0].split("&"), configured[1]) if configured else (("", identifier.system, "URI"), "")
    hd = "&".join(escape(part) for part in parts)
    return f"{escape(identifier.value)}^^^{hd}^{escape(type_code)}".rstrip("^")


def _date(iso: str) -> str:
    """An ISO date of any precision (1980, 1980-07, 1980-07-14) as HL7 DT (1980, 198007, 19800714)."""
    if not iso:
        return ""
    if not _PARTIAL_DATE.fullmatch(iso):
        raise ValueError("not an ISO date (YYYY, YYYY-MM or YYYY-MM-DD)")
    return iso.replace("-", "")


def _timestamp(iso: str) -> str:
    """An ISO 8601 date-time as HL7 TS to the second with its offset (UTC when it has none)."""
    return times.moment(iso).strftime("%Y%m%d%H%M%S%z")
