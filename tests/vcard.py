"""A virtual smart card for the tests: an ISO 7816-4 file system, real eGK and Belgian eID contents,
and a client for the vsmartcard ``vpcd`` reader driver so the card can sit in a real pcscd.

Sources (``../shared/reference/smartcards.md``): eGK file system 1.2, APDUs 1.3, file layouts 1.4,
XML 1.6 (checked against gematik ``Schema_VSD.xsd`` v5.2), status words 1.7; Belgian eID files 2.2,
read sequence 2.3, Fedict TLV 2.4 (eid-mw ``tlvbuffer.cpp`` ParseTLV); vpcd wire protocol 4.2;
T=0 61xx / 6Cxx behaviour 5.4.

The builders here encode independently of the kiosk's parsers: they import nothing from
``kiosk.hardware.cards`` but ``CardRemoved``, the exception the kiosk expects from a transport.

In-process::

    card = egk_card()
    channel = Channel(card.transmit)

Through pcscd (the ``pcscd`` fixture in conftest.py starts it)::

    with Vpcd(beid_card(), port=pcscd.port):
        ...  # pyscard sees a card in "Virtual PCD 00 00"
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping
from xml.sax.saxutils import escape

from kiosk.hardware.cards.apdu import CardRemoved

# ------------------------------------------------------------------------------------------------
# File system and card
# ------------------------------------------------------------------------------------------------


@dataclass
class EF:
    """A transparent elementary file; ``sfi`` makes it readable with READ BINARY P1=0x80|SFI."""

    data: bytes
    sfi: int | None = None


@dataclass
class DF:
    """A dedicated file. ``files`` maps a FID (int, e.g. 0xD001) to an EF, DF or plain bytes (an EF
    without SFI); a DF without a FID (DF.HCA) is keyed by its AID (bytes) instead.
    ``deactivated``: SELECT answers 6283 and its EFs cannot be read (6985)."""

    files: dict[int | bytes, "EF | DF | bytes"] = field(default_factory=dict)
    aid: bytes | None = None
    deactivated: bool = False


def _index(df: DF, parents: dict[int, DF]) -> dict[int, DF]:
    """Turn plain-bytes entries into EFs in the whole tree; returns id(DF) -> its parent DF."""
    for key, node in list(df.files.items()):
        if isinstance(node, (bytes, bytearray)):
            df.files[key] = EF(bytes(node))
        elif isinstance(node, DF):
            parents[id(node)] = df
            _index(node, parents)
    return parents


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


SW_OK = _sw(0x9000)


class VirtualCard:
    """An ISO 7816-4 card answering like real ones (see the module docstring for sources).

    :param atr: the answer to reset; pcscd derives T=0 / T=1 from it
    :param protocol: "T=0" (short READ answers 6Cxx) or "T=1" (short READ answers data + 6282)
    :param mf: the master file: a DF, or a dict of its files (see ``DF.files``)
    :param mf_fid: FID that selects the MF (None: a card without a 7816 MF, e.g. a payment card)
    :param get_response: answer case-4 commands that return data with 61xx and serve GET RESPONSE
    """

    def __init__(self, atr: bytes, protocol: str, mf: DF | dict, *, mf_fid: int | None = 0x3F00,
                 get_response: bool = False):
        if protocol not in ("T=0", "T=1"):
            raise ValueError(f"protocol must be 'T=0' or 'T=1', not {protocol!r}")
        self.atr = bytes(atr)
        self.protocol = protocol
        self.mf = mf if isinstance(mf, DF) else DF(mf)
        self.mf_fid = mf_fid
        self.get_response = get_response
        self.apdus: list[bytes] = []           # every command APDU the card received
        self.remove_after: int | None = None   # answer this many APDUs, then the card is pulled
        self._lock = threading.Lock()
        self._parents = _index(self.mf, {})
        self.reset()

    # -- state --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on state (also after vpcd's power off / reset): the MF is the current DF, no
        current EF, no pending response. The APDU log and ``remove_after`` are kept."""
        with self._lock:
            self._df: DF = self.mf
            self._ef: EF | None = None
            self._pending = b""

    @property
    def removed(self) -> bool:
        """True once ``remove_after`` APDUs were answered: the card has left the reader."""
        return self.remove_after is not None and len(self.apdus) >= self.remove_after

    # -- transports ---------------------------------------------------------------------------
    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]:
        """Like pyscard's ``CardConnection.transmit``: a list of ints in, (data, sw1, sw2) out.

        :raises CardRemoved: the card was pulled (``remove_after``)
        """
        if not isinstance(apdu, list):
            raise TypeError("Expected a list object.")   # pyscard's own message for bytes
        answer = self.process(bytes(b & 0xFF for b in apdu))
        return list(answer[:-2]), answer[-2], answer[-1]

    def process(self, apdu: bytes) -> bytes:
        """One command APDU in, the response APDU (data + SW1 SW2) out.

        :raises CardRemoved: the card was pulled; the APDU is not logged
        """
        with self._lock:
            if self.removed:
                raise CardRemoved("the virtual card was pulled out")
            self.apdus.append(bytes(apdu))
            pending, self._pending = self._pending, b""
            return self._dispatch(bytes(apdu), pending)

    # -- commands -----------------------------------------------------------------------------
    def _dispatch(self, apdu: bytes, pending: bytes) -> bytes:
        parsed = _parse(apdu)
        if parsed is None:
            return _sw(0x6700)
        cla, ins, p1, p2, data, ne = parsed
        if cla != 0x00:
            return _sw(0x6E00)
        if ins == 0xA4:
            answer = self._select(p1, p2, data, ne)
        elif ins == 0xB0:
            answer = self._read_binary(p1, p2, data, ne)
        elif ins == 0xC0 and self.get_response:
            return self._get_response(p1, p2, ne, pending)
        else:
            return _sw(0x6D00)
        if self.get_response and data and ne is not None and len(answer) > 2:
            # T=0 case 4: the data waits for GET RESPONSE
            self._pending = answer[:-2]
            return bytes([0x61, min(len(self._pending), 256) & 0xFF])
        return answer

    def _select(self, p1: int, p2: int, data: bytes, ne: int | None) -> bytes:
        if p2 not in (0x00, 0x04, 0x0C):
            return _sw(0x6A86)
        if p1 == 0x04:
            target, parent = self._find_aid(self.mf, data), None
        elif p1 in (0x00, 0x02):
            target, parent = self._find_fid(data)
        elif p1 == 0x08:
            target, parent = self._find_path(data)
        else:
            return _sw(0x6A86)
        if target is None:
            return _sw(0x6A82)
        if isinstance(target, DF):
            self._df, self._ef = target, None
        else:
            self._df, self._ef = parent, target
        deactivated = self._df.deactivated
        fci = b"" if p2 == 0x0C or ne is None else _fcp(target, data, p2)
        if deactivated:
            return fci + _sw(0x6283)
        return fci + SW_OK

    def _find_aid(self, df: DF, aid: bytes) -> DF | None:
        if df.aid is not None and df.aid == aid:
            return df
        for node in df.files.values():
            if isinstance(node, DF):
                found = self._find_aid(node, aid)
                if found is not None:
                    return found
        return None

    def _find_fid(self, data: bytes) -> tuple[EF | DF | None, DF | None]:
        if len(data) == 0 or (self.mf_fid is not None and data == self.mf_fid.to_bytes(2, "big")):
            return (self.mf, None) if self.mf_fid is not None else (None, None)
        if len(data) != 2:
            return None, None
        fid = int.from_bytes(data, "big")
        # ISO 7816-4 search order: children of the current DF, then of its parent (siblings)
        for df in (self._df, self._parents.get(id(self._df))):
            if df is not None and fid in df.files:
                return df.files[fid], df
        return None, None

    def _find_path(self, data: bytes) -> tuple[EF | DF | None, DF | None]:
        if self.mf_fid is None or len(data) % 2 or not data:
            return None, None
        fids = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
        if fids[0] == self.mf_fid:          # tolerated: many readers send 3F00 first (ref. 2.3)
            fids = fids[1:]
        node: EF | DF = self.mf
        parent: DF | None = None
        for fid in fids:
            if not isinstance(node, DF) or fid not in node.files:
                return None, None
            parent, node = node, node.files[fid]
        return node, parent

    def _read_binary(self, p1: int, p2: int, data: bytes, ne: int | None) -> bytes:
        if data or ne is None:
            return _sw(0x6700)
        if p1 & 0x80:
            if p1 & 0x60:
                return _sw(0x6A86)
            sfi = p1 & 0x1F
            ef = next((n for n in self._df.files.values() if isinstance(n, EF) and n.sfi == sfi),
                      None)
            if ef is None:
                return _sw(0x6A82)
            self._ef, offset = ef, p2
        else:
            if self._ef is None:
                return _sw(0x6986)
            offset = (p1 << 8) | p2
        if self._df.deactivated:
            return _sw(0x6985)
        content = self._ef.data
        if offset >= len(content):
            return _sw(0x6B00)
        chunk = content[offset:offset + ne]
        if len(chunk) == ne:
            return chunk + SW_OK
        if self.protocol == "T=0" and ne <= 256:
            return bytes([0x6C, len(chunk) & 0xFF])
        return chunk + _sw(0x6282)

    def _get_response(self, p1: int, p2: int, ne: int | None, pending: bytes) -> bytes:
        if p1 or p2:
            return _sw(0x6A86)
        if ne is None:
            return _sw(0x6700)
        if not pending:
            return _sw(0x6985)
        if len(pending) < ne:
            self._pending = pending
            return bytes([0x6C, len(pending) & 0xFF])
        out, self._pending = pending[:ne], pending[ne:]
        if self._pending:
            return out + bytes([0x61, min(len(self._pending), 256) & 0xFF])
        return out + SW_OK


def _parse(apdu: bytes) -> tuple[int, int, int, int, bytes, int | None] | None:
    """(CLA, INS, P1, P2, data, Ne or None) of a short or extended command APDU; None if malformed."""
    if len(apdu) < 4:
        return None
    head, body = apdu[:4], apdu[4:]
    if not body:
        return (*head, b"", None)
    if len(body) == 1:
        return (*head, b"", body[0] or 256)
    if body[0] != 0:
        lc = body[0]
        if len(body) == 1 + lc:
            return (*head, body[1:], None)
        if len(body) == 2 + lc:
            return (*head, body[1:-1], body[-1] or 256)
        return None
    if len(body) == 3:
        return (*head, b"", int.from_bytes(body[1:3], "big") or 65536)
    lc = int.from_bytes(body[1:3], "big")
    if lc and len(body) == 3 + lc:
        return (*head, body[3:], None)
    if lc and len(body) == 5 + lc:
        return (*head, body[3:-2], int.from_bytes(body[-2:], "big") or 65536)
    return None


def _fcp(node: EF | DF, selected_by: bytes, p2: int) -> bytes:
    """A minimal FCP (P2=04, tag 62) or FCI (P2=00, tag 6F) template for a SELECT that asks for one."""
    if isinstance(node, EF):
        body = b"\x80\x02" + len(node.data).to_bytes(2, "big") + b"\x82\x01\x01"
        if len(selected_by) == 2:
            body += b"\x83\x02" + selected_by
        if node.sfi is not None:
            body += b"\x88\x01" + bytes([node.sfi << 3])
    else:
        body = b"\x82\x01\x38"
        if node.aid:
            body += b"\x84" + bytes([len(node.aid)]) + node.aid
    return bytes([0x62 if p2 == 0x04 else 0x6F, len(body)]) + body


# ------------------------------------------------------------------------------------------------
# vpcd client: the card in a real pcscd
# ------------------------------------------------------------------------------------------------

_CTRL_OFF, _CTRL_ON, _CTRL_RESET, _CTRL_ATR = 0x00, 0x01, 0x02, 0x04

# pcscd polls a vpcd slot every ~0.4 s. A card pulled during a transmit makes pcscd mark the reader
# empty from the disconnect path while its polling thread still believes a card is present; if the
# next card is accepted before that thread has polled an empty slot, pcscd never reports it. So a
# slot stays empty for two polls after every removal.
REINSERT_GAP = 1.0
_removed_at: dict[int, float] = {}
_removed_lock = threading.Lock()


class Vpcd:
    """Plays ``card`` in the vpcd reader on ``port`` (35963 = "Virtual PCD 00 00", 35964 = "… 00 01").

    ``insert()`` connects (pcscd must already run: vpcd is the server) and serves in a daemon
    thread; ``remove()`` closes the socket, which pcscd sees as the card being pulled. Also a
    context manager. Wire protocol: reference section 4.2.
    """

    def __init__(self, card: VirtualCard, port: int = 35963, host: str = "127.0.0.1"):
        self.card = card
        self.port = port
        self.host = host
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._sock_lock = threading.Lock()

    def insert(self, timeout: float = 15.0) -> "Vpcd":
        """Connect to vpcd and start answering it; returns once vpcd has polled this card.

        vpcd serves one card per slot and queues further connections, so a slot held by another
        card (another test run on the same machine) shows as a wait here, then a clear error.

        :raises ConnectionRefusedError: no pcscd with the vpcd driver is listening on ``port``
        :raises TimeoutError: vpcd did not talk to this card within ``timeout`` seconds
        """
        if self.inserted:
            raise RuntimeError("the card is already inserted")
        self.remove()                   # a thread that ended by itself (remove_after): join it
        with _removed_lock:
            gap = _removed_at.get(self.port, 0.0) + REINSERT_GAP - time.monotonic()
        if gap > 0:
            time.sleep(gap)
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        polled = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(sock, polled), daemon=True,
                                        name=f"vpcd-card-{self.port}")
        self._thread.start()
        if not polled.wait(timeout):
            self.remove()
            raise TimeoutError(f"vpcd on port {self.port} did not poll the card within {timeout} s:"
                               " another card holds this slot, or pcscd is not running")
        return self

    def remove(self) -> None:
        """Pull the card: close the socket and wait for the serving thread to end."""
        self._close(self._sock)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def inserted(self) -> bool:
        """True while the connection to vpcd is open."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "Vpcd":
        return self.insert()

    def __exit__(self, *exc) -> None:
        self.remove()

    def _close(self, sock: socket.socket | None) -> None:
        with self._sock_lock:
            if sock is None or sock is not self._sock:
                return
            try:
                sock.shutdown(socket.SHUT_RDWR)   # wakes the thread blocked in recv
            except OSError:
                pass
            sock.close()
            self._sock = None
        with _removed_lock:
            _removed_at[self.port] = time.monotonic()

    def _serve(self, sock: socket.socket, polled: threading.Event) -> None:
        try:
            while True:
                head = _recv_exact(sock, 2)
                if head is None:
                    return
                polled.set()
                payload = _recv_exact(sock, struct.unpack("!H", head)[0])
                if payload is None:
                    return
                if len(payload) == 1:
                    code = payload[0]
                    if code in (_CTRL_OFF, _CTRL_ON, _CTRL_RESET):
                        self.card.reset()
                    elif code == _CTRL_ATR:
                        sock.sendall(struct.pack("!H", len(self.card.atr)) + self.card.atr)
                    continue
                if not payload:
                    continue
                try:
                    answer = self.card.process(payload)
                except CardRemoved:
                    return
                sock.sendall(struct.pack("!H", len(answer)) + answer)
        except OSError:
            return
        finally:
            self._close(sock)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    """Exactly ``n`` bytes (recv may return fewer), or None when the connection closed."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


# ------------------------------------------------------------------------------------------------
# eGK contents (reference 1.4, 1.6)
# ------------------------------------------------------------------------------------------------

EGK_ATR = bytes.fromhex("3BD396FF81B1FE451F078081052D")           # eGK G2 (reference 1.1)
EGK_MF_AID = bytes.fromhex("D2760001448000")
EGK_HCA_AID = bytes.fromhex("D27600000102")
# EF.ATR: the spec example quoted in reference 1.4.4 (max C-APDU data 0x0123, max R-APDU 0x0234)
EGK_EF_ATR = bytes.fromhex("E01002020123020202340202045602020789")
EGK_ICCSN = bytes.fromhex("80276883110000017222")                 # reference 1.4.6

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
# Belgian eID contents (reference 2.2, 2.4)
# ------------------------------------------------------------------------------------------------

BEID_ATR = bytes.fromhex("3B9813400AA503010101AD1311")
BEID_APPLET_AID = bytes.fromhex("A00000003029057000AD13100101FF")

# Identity file 4031 tags (reference 2.4); values are str (UTF-8) or bytes (binary)
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
