"""PC/SC through pyscard: find readers, wait for cards, read one card exclusively.

Uses pyscard's thin ``smartcard.scard`` layer rather than its CardMonitor: the monitor is a process-wide
singleton whose thread dies when pcscd restarts (github.com/LudovicRousseau/pyscard/issues/82 and /128). Here
one loop owns a PC/SC context, and a context that stops working is thrown away and established again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from smartcard import scard

from kiosk.hardware.cards import read_card
from kiosk.hardware.cards.apdu import CardError, CardRemoved, Channel
from kiosk.checkin.model import CardData

log = logging.getLogger(__name__)

_POLL_MS = 500


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


_GONE = {_code(h) for h in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_RESET_CARD)}


class PcscUnavailable(Exception):
    """pcscd is not running, or no matching reader is connected."""

    exit_code = 3


@dataclass(frozen=True)
class Slot:
    """A reader, whether it holds a card now, and pcsc-lite's count of card events in it (a card
    swapped between two looks changes the count, not ``present``)."""

    reader: str
    present: bool
    events: int = 0


def _message(hresult: int) -> str:
    return scard.SCardGetErrorMessage(hresult).strip().rstrip(".")


class Pcsc:
    """One PC/SC context. Not thread-safe: one thread uses it.

    :param names: only readers whose name contains one of these (empty: every reader)
    """

    def __init__(self, names: Sequence[str] = ()):
        self.names = tuple(names)
        hresult, self._context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise PcscUnavailable(f"the PC/SC service (pcscd) is not running ({_message(hresult)})")
        self._states: dict[str, int] = {}

    def close(self) -> None:
        scard.SCardReleaseContext(self._context)

    def readers(self) -> list[str]:
        hresult, readers = scard.SCardListReaders(self._context, [])
        if _code(hresult) == _code(scard.SCARD_E_NO_READERS_AVAILABLE):
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise PcscUnavailable(f"the PC/SC service stopped answering ({_message(hresult)})")
        return [r for r in readers if not self.names or any(n in r for n in self.names)]

    def wait(self, timeout_ms: int = _POLL_MS) -> list[Slot]:
        """Every matching reader after its state changed, or after ``timeout_ms`` (empty list: no reader)."""
        readers = self.readers()
        # Forget readers that went away: a stale state handed back for a returning reader misleads pcscd.
        self._states = {r: self._states[r] for r in readers if r in self._states}
        if not readers:
            return []
        states = [(r, self._states.get(r, scard.SCARD_STATE_UNAWARE)) for r in readers]
        hresult, new = scard.SCardGetStatusChange(self._context, timeout_ms, states)
        if _code(hresult) == _code(scard.SCARD_E_UNKNOWN_READER):
            time.sleep(0.1)                  # a reader unplugged between listing and asking: as before
            new = [(r, self._states.get(r, 0), b"") for r in readers]
        elif _code(hresult) == _code(scard.SCARD_E_TIMEOUT):
            new = [(r, self._states.get(r, 0), b"") for r in readers]
        elif hresult != scard.SCARD_S_SUCCESS:
            raise PcscUnavailable(f"the PC/SC service stopped answering ({_message(hresult)})")
        slots = []
        for reader, state, _atr in new:
            self._states[reader] = state & ~(scard.SCARD_STATE_CHANGED | scard.SCARD_STATE_IGNORE |
                                             scard.SCARD_STATE_UNKNOWN)
            slots.append(Slot(reader, bool(state & scard.SCARD_STATE_PRESENT), state >> 16))
        return slots

    def read(self, reader: str) -> CardData:
        """Read the card in ``reader``, holding it exclusively for the length of the read.

        :raises CardError: unsupported, invalid or removed card (``.reason``, ``.exit_code``)
        """
        hresult, card, protocol = scard.SCardConnect(
            self._context, reader, scard.SCARD_SHARE_EXCLUSIVE, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hresult != scard.SCARD_S_SUCCESS:
            if _code(hresult) in _GONE:
                raise CardRemoved("the card left before it could be read")
            raise CardError(f"the card does not answer ({_message(hresult)})")
        try:
            hresult, _name, _state, _protocol, atr = scard.SCardStatus(card)
            if hresult != scard.SCARD_S_SUCCESS:
                raise CardRemoved("the card left as it was being read")

            def transmit(apdu: list[int]) -> tuple[list[int], int, int]:
                hresult, response = scard.SCardTransmit(card, protocol, apdu)
                if hresult != scard.SCARD_S_SUCCESS:
                    if _code(hresult) in _GONE:
                        raise CardRemoved("the card was removed during the read")
                    raise CardError(f"the card stopped answering ({_message(hresult)})")
                if len(response) < 2:
                    # What a reader reports when the card leaves mid-command (vpcd does the same).
                    raise CardRemoved("the card stopped answering in the middle of a command")
                return response[:-2], response[-2], response[-1]

            return read_card(Channel(transmit), bytes(atr))
        finally:
            scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)


def read_one(names: Sequence[str], wait_s: float, stop: Callable[[], bool] = lambda: False) -> CardData:
    """Wait up to ``wait_s`` seconds for a card in a matching reader and read it (``kiosk read-card``).

    :raises PcscUnavailable: pcscd down or no matching reader
    :raises TimeoutError: no card came
    :raises CardError: the card could not be read
    """
    pcsc = Pcsc(names)
    try:
        if not pcsc.readers():
            raise PcscUnavailable("no card reader is connected" +
                                  (f" whose name contains {' or '.join(names)}" if names else ""))
        deadline = time.monotonic() + wait_s
        while not stop():
            for slot in pcsc.wait(_POLL_MS):
                if slot.present:
                    return pcsc.read(slot.reader)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no card was inserted within {wait_s:g} seconds")
        raise TimeoutError("stopped while waiting for a card")
    finally:
        pcsc.close()


class Watcher:
    """The kiosk's card loop on a thread of its own: reports insert, read, failure, removal and
    faults through callbacks, and survives pcscd restarts and readers coming and going.

    :param on_event: called with ("inserted",), ("read", CardData), ("failed", reason), ("removed",),
        ("fault", reason), ("ready",) on the watcher's thread
    """

    def __init__(self, names: Sequence[str], on_event: Callable[..., None], retry_s: float = 1.0):
        self.names = tuple(names)
        self.on_event = on_event
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pcsc-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        fault = None
        while not self._stop.is_set():
            try:
                pcsc = Pcsc(self.names)
            except PcscUnavailable:
                fault = self._fault(fault, "pcscd_unavailable")
                self._stop.wait(self.retry_s)
                continue
            try:
                fault = self._watch(pcsc, fault)
            except PcscUnavailable:
                fault = self._fault(fault, "pcscd_unavailable")
                self._stop.wait(self.retry_s)
            except Exception as e:            # never let the thread die: the kiosk would stop reading cards
                log.error("card watcher failed (%s); starting again", type(e).__name__)
                fault = self._fault(fault, "reader_error")
                self._stop.wait(self.retry_s)
            finally:
                pcsc.close()

    def _fault(self, current: str | None, reason: str) -> str:
        if current != reason:
            log.warning("card reader fault: %s", reason)
            self.on_event("fault", reason)
        return reason

    def _watch(self, pcsc: Pcsc, fault: str | None) -> str | None:
        seen: dict[str, Slot] = {}            # per reader: the card in it as last reported
        while not self._stop.is_set():
            slots = pcsc.wait(_POLL_MS)
            for gone in set(seen) - {slot.reader for slot in slots}:
                if seen.pop(gone).present:     # unplugged with the card in it
                    self.on_event("removed")
            if not slots:
                fault = self._fault(fault, "no_reader")
                self._stop.wait(self.retry_s)
                continue
            if fault is not None:
                log.info("card reader ready")
                self.on_event("ready")
                fault = None
            for slot in slots:
                before = seen.get(slot.reader)
                was = before is not None and before.present
                swapped = was and slot.present and before.events != slot.events
                if was and (swapped or not slot.present):
                    self.on_event("removed")
                if slot.present and (swapped or not was):
                    slot = replace(slot, present=self._read(pcsc, slot.reader))
                seen[slot.reader] = slot
        return fault

    def _read(self, pcsc: Pcsc, reader: str) -> bool:
        """Read the new card; returns whether it is still in the reader."""
        self.on_event("inserted")
        try:
            card = pcsc.read(reader)
        except CardRemoved:
            log.info("card removed during the read")
            self.on_event("removed")
            return False
        except CardError as e:
            log.info("card not read: %s", e.reason)   # the message may quote card data: not logged
            self.on_event("failed", e.reason)
        except Exception as e:                # a parser bug must cost one card, not the reader
            log.error("card read failed: %s", type(e).__name__)
            self.on_event("failed", "unreadable")
        else:
            log.info("card read: %s", card.card)
            self.on_event("read", card)
        return True
