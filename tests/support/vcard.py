"""A virtual smart card for the tests: an ISO 7816-4 file system and a client for the vsmartcard
``vpcd`` reader driver so the card can sit in a real pcscd. Card contents: ``cardfiles.py``.

Sources: the eGK's file system, APDUs, file layouts and status words from gemSpec_eGK_ObjSys_G2_1 and
gemLF_Impl_eGK, its XML from gematik ``Schema_VSD.xsd`` v5.2; the Belgian eID's files, read sequence, T=0
61xx / 6Cxx behaviour and TLV from Fedict eid-mw (``card.cpp``, ``tlvbuffer.cpp`` ParseTLV); the vpcd wire
protocol from frankmorgner/vsmartcard ``virtualsmartcard/src/vpcd/vpcd.c``.

Like the builders in ``cardfiles.py``, this imports nothing from ``kiosk.hardware.cards`` but
``CardRemoved``, the exception the kiosk expects from a transport.

In-process::

    card = egk_card()          # from cardfiles
    channel = Channel(card.transmit)

Through pcscd (the ``pcscd`` fixture in conftest.py starts it)::

    with Vpcd(beid_card(), port=pcscd.port):
        ...  # pyscard sees a card in "Virtual PCD 00 00"
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field

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
