"""The kiosk's figures for Prometheus: check-ins, incidents, the outbox, printers, reader, out of service.

``gather`` reads them from the store (so that counters survive restarts) and from the device status
(``kiosk.desk.staff.Staff.device_status``) into a ``Snapshot``; ``Exporter`` publishes the latest snapshot
where ``[metrics]`` says: a file for the node exporter's textfile collector and/or ``/metrics`` on
127.0.0.1. The housekeeping thread (kiosk/ops/housekeeping.py) calls both every ``metrics.interval_s``.

No label holds anything personal: only kinds, states, printer kinds, how patients identified (card
type, code, name) and the version. The kiosk is told apart by the scrape (the node exporter's
``instance``); ``kiosk_build_info`` carries the kiosk id to join on.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

from kiosk import __version__
from kiosk.hardware.printer import PrinterState
from kiosk.hardware.reader import ReaderState
from kiosk.checkin.model import IncidentKind
from kiosk import times
from kiosk.files import write_whole

log = logging.getLogger(__name__)

# kiosk.desk.staff.printer_condition's words: the printer prints in the first two.
PRINTER_STATES = (PrinterState.READY, PrinterState.PAPER_LOW, PrinterState.PAPER_OUT, PrinterState.COVER_OPEN,
                  PrinterState.CUTTER_ERROR, PrinterState.PRINTER_ERROR, PrinterState.OFFLINE,
                  PrinterState.NOT_A_PRINTER, PrinterState.UNKNOWN)
PRINTER_UP = (PrinterState.READY, PrinterState.PAPER_LOW)
# How patients identify (kiosk.checkin.identify: card:<the card module's name>, code, name): counted from 0 on.
IDENTIFIED_BY = ("card:egk", "card:beid", "code", "name")
READER_UP = (ReaderState.EMPTY, ReaderState.READING, ReaderState.CARD_PRESENT)
RUN_LOCK, EXPORT_LOCK = "metrics-run.lock", "metrics.lock"     # in data_dir: see Exporter


@dataclass(frozen=True)
class Snapshot:
    """The figures at one moment (``taken_at``, seconds since the epoch)."""

    taken_at: float
    checkins: dict = field(default_factory=dict)            # identified_by -> admissions stored
    incidents: dict = field(default_factory=dict)           # kind -> incidents raised
    incidents_open: dict = field(default_factory=dict)      # kind -> open or taken (not resolved)
    outbox_pending: int = 0
    outbox_dead: int = 0
    oldest_pending_s: float = 0.0
    last_delivered_at: float = 0.0                          # 0: never
    printers: dict = field(default_factory=dict)            # kind (ticket, wristband) -> PRINTER_STATES word
    reader: str = ""                                        # ReaderState value; "" = not known to this process
    out_of_service: bool = False


def gather(store, status) -> Snapshot:
    """The figures of ``store`` and of ``status`` (a kiosk.desk.staff.DeviceStatus taken just now)."""
    # Read straight from the store's tables: counts only, nothing of a patient.
    checkins = dict(store.db.execute("SELECT identified_by, count(*) FROM admissions GROUP BY 1").fetchall())
    incidents, incidents_open = {}, {}
    for kind, unresolved, count in store.db.execute(
            "SELECT kind, status != 'resolved', count(*) FROM incidents GROUP BY 1, 2").fetchall():
        incidents[kind] = incidents.get(kind, 0) + count
        if unresolved:
            incidents_open[kind] = count
    return Snapshot(taken_at=time.time(), checkins=checkins, incidents=incidents, incidents_open=incidents_open,
                    outbox_pending=status.outbox_pending, outbox_dead=status.outbox_refused,
                    oldest_pending_s=status.oldest_pending_s or 0.0,
                    last_delivered_at=_epoch(status.last_delivered_at), printers=dict(status.printers),
                    reader=status.reader, out_of_service=status.out_of_service)


def _epoch(text: str) -> float:
    return times.moment(text).timestamp() if text else 0.0


class KioskCollector:
    """A prometheus_client collector that serves the latest snapshot (none yet: only the build info)."""

    def __init__(self, kiosk_id: str):
        self.kiosk_id = kiosk_id
        self.snapshot: Snapshot | None = None

    def collect(self):
        info = InfoMetricFamily("kiosk_build", "The kiosk's version and id (always 1).")
        info.add_metric([], {"version": __version__, "kiosk": self.kiosk_id})
        yield info
        s = self.snapshot
        if s is None:
            return
        yield _gauge("kiosk_last_update_timestamp_seconds", "When these figures were taken (Unix time).", s.taken_at)
        checkins = CounterMetricFamily("kiosk_checkins", "Admissions stored, by how the patient identified "
                                       "(card:egk, card:beid, code, name, precheck).", labels=["identified_by"])
        for how in sorted(set(IDENTIFIED_BY) | set(s.checkins)):
            checkins.add_metric([how or "unknown"], s.checkins.get(how, 0))
        yield checkins
        kinds = sorted({k.value for k in IncidentKind} | set(s.incidents))     # every kind, 0 when none yet
        total = CounterMetricFamily("kiosk_incidents", "Incidents raised for staff, by kind.", labels=["kind"])
        unresolved = GaugeMetricFamily("kiosk_incidents_open", "Incidents not resolved yet (open or taken), by kind.",
                                       labels=["kind"])
        for kind in kinds:
            total.add_metric([kind], s.incidents.get(kind, 0))
            unresolved.add_metric([kind], s.incidents_open.get(kind, 0))
        yield total
        yield unresolved
        yield _gauge("kiosk_outbox_pending", "Messages waiting to be delivered to the hospital system.",
                     s.outbox_pending)
        yield _gauge("kiosk_outbox_dead", "Messages the hospital system refused; they wait for staff.",
                     s.outbox_dead)
        yield _gauge("kiosk_outbox_oldest_age_seconds", "How long the oldest waiting message has waited "
                     "(0: none waits).", s.oldest_pending_s)
        yield _gauge("kiosk_last_sync_success_timestamp_seconds", "When a message last reached the hospital system "
                     "(Unix time; 0: never).", s.last_delivered_at)
        yield _gauge("kiosk_out_of_service", "1 while staff have set the kiosk out of service.", int(s.out_of_service))
        if s.printers:
            up = GaugeMetricFamily("kiosk_printer_up", "1 when the printer can print (ready or paper low).",
                                   labels=["printer"])
            state = GaugeMetricFamily("kiosk_printer_state", "The printer's state: 1 for the one it is in.",
                                      labels=["printer", "state"])
            for kind, condition in sorted(s.printers.items()):
                up.add_metric([kind], int(condition in PRINTER_UP))
                for name in PRINTER_STATES if condition in PRINTER_STATES else (*PRINTER_STATES, condition):
                    state.add_metric([kind, name], int(name == condition))
            yield up
            yield state
        if s.reader:
            yield _gauge("kiosk_reader_up", "1 when the card reader is there and working.", int(s.reader in READER_UP))
            state = GaugeMetricFamily("kiosk_reader_state", "The card reader's state: 1 for the one it is in.",
                                      labels=["state"])
            for name in [r.value for r in ReaderState]:
                state.add_metric([name], int(name == s.reader))
            yield state


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class Exporter:
    """Publishes snapshots: to ``metrics.textfile`` when its folder exists, and at
    ``http://127.0.0.1:<metrics.port>/metrics`` when the port is not 0.

    One process of a kiosk exports at a time (two would overwrite each other's file and fight over the
    port): ``kiosk run`` (``preferred``: it knows the reader and printers) whenever it runs, else the
    first of the others (``kiosk sync``, ``kiosk desk`` on their own). Locks in data_dir decide: the
    preferred process holds RUN_LOCK for its life; the exporting one holds EXPORT_LOCK, and lets go of it
    (and of the port) once it sees RUN_LOCK held by another.
    """

    def __init__(self, settings, *, preferred: bool = False):
        m = settings.metrics
        self.textfile = Path(m.textfile) if m.textfile else None
        self.port = m.port
        self.preferred = preferred
        self.folder = settings.data_path
        self.collector = KioskCollector(settings.kiosk.id)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._locks: dict[str, int] = {}       # lock name -> fd held
        self._http = None

    @property
    def wanted(self) -> bool:
        """Whether any export is configured (and, for the file, its folder is there)."""
        return bool(self.port) or (self.textfile is not None and self.textfile.parent.is_dir())

    def may_export(self) -> bool:
        """Whether this process is the one that exports now (see the class); takes or drops the locks."""
        if self.preferred and RUN_LOCK not in self._locks:
            self._lock(RUN_LOCK)
        if RUN_LOCK not in self._locks and self._held_elsewhere(RUN_LOCK):
            self._unlock(EXPORT_LOCK)
            self._stop_http()
            return False
        return EXPORT_LOCK in self._locks or self._lock(EXPORT_LOCK)

    def export(self, snapshot: Snapshot) -> None:
        """Publish ``snapshot`` where configured. :raises OSError: the file cannot be written"""
        self.collector.snapshot = snapshot
        if self.port and self._http is None:
            try:
                self._http, _thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
                log.info("metrics at http://127.0.0.1:%d/metrics", self.port)
            except OSError as e:          # the port is taken (by the process exporting before): next time
                log.warning("metrics port %d not open: %s", self.port, e.strerror or type(e).__name__)
        if self.textfile is not None and self.textfile.parent.is_dir():
            write_textfile(self.textfile, self.registry)

    def close(self) -> None:
        self._stop_http()
        for name in list(self._locks):
            self._unlock(name)

    def _stop_http(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def _lock(self, name: str) -> bool:
        fd = os.open(self.folder / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._locks[name] = fd
        return True

    def _unlock(self, name: str) -> None:
        fd = self._locks.pop(name, None)
        if fd is not None:
            os.close(fd)                   # closing the file releases its lock

    def _held_elsewhere(self, name: str) -> bool:
        if not self._lock(name):
            return True
        self._unlock(name)
        return False


def write_textfile(path: Path, registry) -> None:
    """prometheus_client.write_to_textfile (a temporary file renamed over ``path``: the node exporter never
    reads half a file), but mode 0644 whatever the kiosk's umask (0077): the node exporter runs as
    another user, and the figures hold nothing personal. The temporary name does not end in .prom."""
    # write_whole's temporary file is made with O_EXCL: whoever else may write to the node exporter's folder
    # cannot plant a symlink there to make the kiosk truncate or chmod a file of its own.
    write_whole(path, generate_latest(registry), 0o644)
