"""The one background thread of routine chores: the figures for Prometheus every ``metrics.interval_s``
(while an export is configured), and the retention purge at start and then every hour.

It sleeps between rounds (an Event wait), so an idle kiosk costs nothing; it opens a store connection
of its own (SQLite connections belong to the thread that opened them); whatever fails is logged (by
kiosk.ops.logs: the exception's class and where, not its message) and tried again next round: the thread
never dies of it.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from kiosk.hardware.preview import PreviewPrinter, forget_pictures
from kiosk.desk.staff import staff_builder
from kiosk.signin import LOCK_S

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


class Housekeeping:
    """
    :param open_store: opens the thread's own Store (called on the thread)
    :param printers: the process's printers by kind, for their state (none: no printer figures)
    :param reader_state: returns the reader's state (None: this process has no reader, no reader figures)
    :param preferred: this process knows the devices (``kiosk run``): its figures win (metrics.Exporter)
    """

    def __init__(self, settings, open_store: Callable, *, printers: dict | None = None,
                 reader_state: Callable[[], object] | None = None, preferred: bool = False):
        self.settings = settings
        self._open_store = open_store
        self._printers = dict(printers or {})
        self._staff_for = staff_builder(settings, printers=self._printers, reader_state=reader_state or (lambda: ""))
        self._preferred = preferred
        self.exporter = None              # made on the thread: prometheus_client is imported there, not at start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)
        self._next_purge = 0.0            # time.monotonic() of the next purge: at the first round
        self._first_round_s = 0.0

    def start(self, *, after_s: float = 0.0) -> "Housekeeping":
        """Start the thread; its first round ``after_s`` from now (the kiosk lets its screen come up first)."""
        self._first_round_s = after_s
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to end and wait for it (a round under way finishes first)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        store = None
        try:
            # The first round's wait comes first: importing prometheus_client takes the interpreter's lock
            # for tens of milliseconds, which the kiosk's start-up would otherwise share.
            if self._stop.wait(self._first_round_s):
                return
            from kiosk.ops import metrics
            self.exporter = metrics.Exporter(self.settings, preferred=self._preferred)
            while not self._stop.is_set():
                failed = False
                try:
                    store = store or self._open_store()
                    self.run_once(store)
                except Exception:             # e.g. the store cannot be opened now: next round
                    log.exception("housekeeping round failed")
                    failed = True
                # Without an export there is nothing to do before the next purge: no wake-ups meanwhile
                # (a failed round is tried again after interval_s, not every second).
                self._stop.wait(self.settings.metrics.interval_s if self.exporter.wanted or failed
                                else max(1.0, self._next_purge - time.monotonic()))
        finally:
            if store is not None:
                store.close()
            if self.exporter is not None:
                self.exporter.close()

    def run_once(self, store) -> None:
        """One round on ``store``: the purge when it is due, then the figures; each failing on its own."""
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_EVERY_S
            try:
                self.purge(store)
            except Exception:
                log.exception("retention purge failed")
        if self.exporter.wanted and self.exporter.may_export():
            try:
                from kiosk.ops import metrics
                self.exporter.export(metrics.gather(store, self.device_status(store)))
            except Exception:
                log.exception("metrics not updated")

    def purge(self, store) -> int:
        """Wipe the personal data of admissions older than store.retention_h that need nothing more, and
        the pictures ``preview:`` printers made before then; returns how many admissions were wiped."""
        older_than = datetime.now(timezone.utc) - timedelta(hours=self.settings.store.retention_h)
        # The default preview folder, whatever the printers are now (trials before the real printers came,
        # `kiosk demo`), and the folder of each preview printer this process has.
        folders = {self.settings.data_path / "tickets",
                   *(p.folder for p in self._printers.values() if isinstance(p, PreviewPrinter))}
        try:
            pictures = sum(forget_pictures(folder, older_than.timestamp()) for folder in folders)
            if pictures:
                log.info("retention: %d preview printer picture(s) deleted", pictures)
        except OSError:
            log.exception("preview printer pictures not deleted")     # the store's purge goes on
        wiped = store.purge_personal_data(older_than, forget_tries_after=timedelta(seconds=LOCK_S))
        if wiped:
            log.info("retention: personal data of %d admission(s) wiped", wiped)
        return wiped

    def device_status(self, store):
        return self._staff_for(store).device_status()
