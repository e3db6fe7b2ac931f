"""Card readers behind one small interface, with a simulated twin.

A reader reports what happens through its ``on_*`` callbacks, called from the reader's own thread;
the app's bridge moves them onto the UI thread. ``PcscReader`` drives real readers (``pcsc.py``);
``SimulatedReader`` plays sample cards.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import json
import threading
from pathlib import Path
from typing import Callable, Sequence

from kiosk.checkin.model import CardData
from kiosk.paths import ASSETS


class ReaderState(enum.StrEnum):
    NO_READER = "no_reader"      # not connected, or pcscd not running
    EMPTY = "empty"              # ready, no card
    READING = "reading"
    CARD_PRESENT = "card_present"
    FAULT = "fault"


class CardReader:
    """The interface the app sees. Subclasses call ``_set_state`` and the ``on_*`` callbacks."""

    def __init__(self) -> None:
        self.state = ReaderState.NO_READER
        self.on_card_inserted: Callable[[], None] = lambda: None
        self.on_card_read: Callable[[CardData], None] = lambda card: None
        self.on_card_removed: Callable[[], None] = lambda: None
        self.on_card_failed: Callable[[str], None] = lambda reason: None   # unsupported | unreadable
        self.on_fault: Callable[[str], None] = lambda reason: None

    def start(self) -> None:
        """Begin watching for cards."""

    def stop(self) -> None:
        """Stop watching; no callback is called after this returns."""


class SimulatedReader(CardReader):
    """A reader that 'inserts' sample cards on request, one after the other. Every card it reads is a sample
    (``CardData.sample``): an admission made with one is test data, never a patient's.

    ``unplug()`` makes it report a fault as a real reader does when it is pulled out or pcscd goes away (a
    card in it is lost, none is read), ``plug_in()`` brings it back; for demos, tests and the soak benchmark.

    :param cards: the sample cards, used in turn
    :param read_s: how long a read takes (seconds), so screens show the 'reading' state
    """

    def __init__(self, cards: Sequence[CardData], read_s: float = 0.3):
        super().__init__()
        if not cards:
            raise ValueError("a simulated reader needs at least one sample card")
        self._cards = itertools.cycle(cards)
        self._read_s = read_s
        self._lock = threading.Lock()
        self._removed = threading.Event()

    def start(self) -> None:
        self.state = ReaderState.EMPTY

    def stop(self) -> None:
        self.state = ReaderState.NO_READER

    def insert(self, card: CardData | None = None) -> threading.Thread:
        """Insert ``card`` (default: the next sample card) and read it on a thread of its own."""
        card = card or next(self._cards)
        thread = threading.Thread(target=self._read, args=(card,), name="simulated-reader", daemon=True)
        thread.start()
        return thread

    def remove(self) -> None:
        with self._lock:
            self.state = ReaderState.EMPTY
            self._removed.set()
        self.on_card_removed()

    def unplug(self, reason: str = "no_reader") -> None:
        """The reader is gone: a card in it counts as removed, ``on_fault(reason)`` is called, and no card
        is read until ``plug_in``."""
        with self._lock:
            had_card = self.state in (ReaderState.READING, ReaderState.CARD_PRESENT)
            self.state = ReaderState.NO_READER
            self._removed.set()
        if had_card:
            self.on_card_removed()
        self.on_fault(reason)

    def plug_in(self) -> None:
        """The reader is back and empty (like PcscReader's "ready", without a callback)."""
        with self._lock:
            if self.state is ReaderState.NO_READER:
                self.state = ReaderState.EMPTY

    def _read(self, card: CardData) -> None:
        with self._lock:
            if self.state is ReaderState.NO_READER:
                return
            self.state = ReaderState.READING
            self._removed.clear()
        self.on_card_inserted()
        self._removed.wait(self._read_s)      # a removal ends the read at once
        with self._lock:
            if self.state is not ReaderState.READING:
                return               # removed during the read
            self.state = ReaderState.CARD_PRESENT
        self.on_card_read(dataclasses.replace(card, sample=True))    # whoever it names, it is no patient's card


def sample_cards(path: Path | None = None) -> list[CardData]:
    """Sample patients in the ``read-card --json`` shape (default: the built-in ones)."""
    path = path or ASSETS / "demo" / "patients.json"
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path} must hold a JSON list of at least one card")
    return [CardData.from_json(item) for item in data]


class PcscReader(CardReader):
    """Real readers through pcscd (pyscard), watched on a thread of their own.

    :param names: only readers whose name contains one of these (empty: every reader)
    """

    def __init__(self, names: Sequence[str] = ()):
        super().__init__()
        from kiosk.hardware.pcsc import Watcher
        self._watcher = Watcher(names, self._on_event)

    def start(self) -> None:
        self._watcher.start()

    def stop(self) -> None:
        self._watcher.stop()
        self.state = ReaderState.NO_READER

    def _on_event(self, kind: str, *args) -> None:
        if kind == "inserted":
            self.state = ReaderState.READING
            self.on_card_inserted()
        elif kind == "read":
            self.state = ReaderState.CARD_PRESENT
            self.on_card_read(*args)
        elif kind == "failed":
            self.state = ReaderState.CARD_PRESENT
            self.on_card_failed(*args)
        elif kind == "removed":
            self.state = ReaderState.EMPTY
            self.on_card_removed()
        elif kind == "ready":
            self.state = ReaderState.EMPTY
        elif kind == "fault":
            self.state = ReaderState.NO_READER
            self.on_fault(*args)


def open_reader(kind: str, cards: Sequence[CardData] = (), names: Sequence[str] = ()) -> CardReader:
    """The reader the config names (``reader.kind``, ``reader.names``)."""
    if kind == "simulated":
        return SimulatedReader(cards)
    return PcscReader(names)
