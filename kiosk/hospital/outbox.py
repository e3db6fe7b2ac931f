"""Delivering the outbox to the hospital system, through one of ``kiosk.hospital.transports``.

The outbox is the only way data leaves the kiosk. Per destination, messages go one at a time and in
order: the oldest undelivered one first, and none after it until it is delivered or set aside. Each
answer is sorted into

- delivered: done (what the system answered is kept on the row);
- retry: the system is unreachable, busy, failing or misconfigured (timeouts, TLS, 5xx, 429, 401,
  404, MLLP AR): the same message is tried again after an exponential pause with jitter, or when
  ``Retry-After`` says; later messages wait, so the backlog reaches the hospital in order once it
  answers again (a message refused "not now" five times is given up);
- dead: the system refused this message (400/422 with an OperationOutcome, 412, MLLP AE): it is set
  aside with the answer kept on the row and an incident for staff, and the next message goes.

Every message is idempotent at the receiver, so delivering at least once is delivering exactly once.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable

from kiosk.checkin.answers import form_response
from kiosk.checkin.forms import Form
from kiosk.checkin.model import Admission, Incident, IncidentKind, Severity
from kiosk.config import Settings
from kiosk.hospital.transports import Attempt, open_transport
from kiosk.store import OutboxStatus, Store
from kiosk.times import moment

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 1.0            # after the first failed attempt; doubles with every further one
RETRY_AFTER_MAX_S = 3600.0     # the longest pause a server's Retry-After gets (when longer than retry_max_s)
UNREACHABLE_AFTER = 5          # failed attempts in a row before staff and IT get an incident
REFUSALS = 5                   # answers that say "not now" to the same message (MLLP AR, an ACK for
                               # another message, FHIR 409) before it is set aside for staff
LOCK_POLL_S = 1.0              # how often a worker waiting for the other one's round looks again


class NothingToSend(LookupError):
    """From a store's ``get_admission``: the row no longer needs sending (the site service's pre-check-in
    whose patient has arrived: the kiosk's admission carries it); it counts as done, nothing is sent."""


@dataclass
class Progress:
    delivered: int = 0
    dead: int = 0
    waiting: int = 0                      # still in the outbox for this transport
    next_due: datetime | None = None      # when the head of the queue may be tried again
    last_reason: str = ""


class Sync:
    """Delivers the outbox of ``store`` through ``transport``. Not thread-safe: one per thread, with a
    Store of its own (SQLite connections stay on the thread that opened them).

    ``store`` is the kiosk's ``Store``, or the site service's outbox (``kiosk.site.delivery.SiteOutbox``: the
    pre-check-ins delivered before the patients arrive); both give the outbox, incident and lock methods
    used here, with the same meaning."""

    def __init__(self, store: Store, transport, *, form: Form | None = None, retry_max_s: float = 300.0,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 jitter: Callable[[], float] = random.random, alive: Callable[[], None] = lambda: None):
        """
        :param form: the intake form, for an admission stored before admissions carried the form as
            answered (``Admission.form_response``): its answers are joined with this form, as they were
            then; without it such an admission with answers is set aside
        :param alive: called after each message tried, while waiting for the other worker's round, and
            once a round: ``kiosk sync`` pings systemd's watchdog with it
        """
        self.store, self.transport, self.form = store, transport, form
        self.retry_max_s = retry_max_s
        self._now, self._jitter, self._alive = now, jitter, alive

    def run_once(self, *, now_or_never: bool = False, stop: threading.Event | None = None) -> Progress:
        """Deliver every message that is due now, in order; stop at the first one that must wait.
        Only one worker per store delivers at a time (the app's thread and ``kiosk sync`` take turns),
        so no message is ever sent twice at once.

        :param now_or_never: try the first message at once even while it pauses after a failure
            (someone asked: ``kiosk sync --once``)
        :param stop: when it is set while the other worker delivers, give up waiting for it (nothing done)
        """
        with self.store.delivery_lock() as lock:
            # The other worker may hold the lock for a whole round (a backlog after an outage): waited for
            # in short sleeps, each one alive, rather than in one blocking call nobody can see or stop. The
            # lock is released when the block ends, or the process dies.
            while not lock.try_acquire():
                self._alive()
                if (stop or threading.Event()).wait(LOCK_POLL_S):    # (a sleep when nobody can stop it)
                    return Progress()
            return self._deliver(now_or_never)

    def _deliver(self, now_or_never: bool) -> Progress:
        progress = Progress()
        destination = self.transport.name
        while (row := self.store.outbox_head(destination)) is not None:
            due, now = moment(row["next_attempt_at"]), self._now()
            # A pause longer than any this worker gives means the clock went back (NTP after a wrong
            # start): the message is due rather than stuck for hours.
            if now < due <= now + timedelta(seconds=self._longest_pause()) and not now_or_never:
                progress.next_due = due
                break
            attempt, admission = self._attempt(row)
            self._alive()
            queue_number = (admission.queue_number or admission.id) if admission else "?"   # (a pre-check-in: its id)
            if attempt.answered:
                self._hospital_answers()
            if attempt.kind == "retry" and attempt.refused and row["refusals"] + 1 >= REFUSALS:
                attempt = Attempt("dead", f"given_up: {attempt.reason}", attempt.response, answered=True)
            if attempt.kind == "delivered":
                self.store.outbox_delivered(row["id"], attempt.response)
                if attempt.note:
                    self._set_aside_note(row, attempt.note)
                log.info("delivered queue=%s to %s", queue_number, destination)
                progress.delivered += 1
            elif attempt.kind == "dead":
                kind = (IncidentKind.DUPLICATE_PATIENT if attempt.reason.startswith("possible_duplicate_patient")
                        else IncidentKind.SYNC_REJECTED)
                self.store.outbox_dead(row["id"], attempt.reason, attempt.response,
                                       Incident(kind, Severity.HIGH, f"{destination}:{code(attempt.reason)}",
                                                admission_id=row["admission_id"]))
                log.error("not accepted by %s, queue=%s set aside for staff: %s", destination, queue_number,
                          code(attempt.reason))
                progress.dead += 1
            else:
                pause = self._pause(row["attempts"] + 1, attempt.retry_after_s)
                due = self._now() + timedelta(seconds=pause)
                attempts = self.store.outbox_retry(row["id"], attempt.reason, due.isoformat(timespec="milliseconds"),
                                                   refused=attempt.refused)
                log.warning("%s: %s; queue=%s tried again in %.0f s (attempt %d)", destination, attempt.reason,
                            queue_number, pause, attempts)
                # Asked of the store, not remembered: staff may have resolved it by hand meanwhile, and
                # while the system stays away they hear of it again.
                unreachable = IncidentKind.HOSPITAL_UNREACHABLE
                if attempts >= UNREACHABLE_AFTER and not self.store.kiosk_incident_open(unreachable):
                    self.store.raise_incident(Incident(IncidentKind.HOSPITAL_UNREACHABLE, Severity.HIGH, destination))
                progress.next_due, progress.last_reason = due, attempt.reason
                break
        progress.waiting = self.store.outbox_count(destination, OutboxStatus.PENDING)
        return progress

    def _attempt(self, row: dict) -> tuple[Attempt, Admission | None]:
        """Send one row; whatever goes wrong on this side ends as an Attempt, never as an exception that
        would stop the worker with the queue behind it."""
        try:
            admission = self.store.get_admission(row["admission_id"])
        except NothingToSend as e:         # superseded meanwhile (a pre-check-in whose patient arrived): done
            return Attempt("delivered", "", str(e)), None
        except Exception as e:             # a row the store cannot give back: staff must look, the rest goes on
            return Attempt("dead", f"unreadable_admission: {type(e).__name__}"), None
        try:
            if admission.form_response is None and admission.answers and self.form is not None:
                admission = replace(admission, form_response=form_response(self.form, admission.answers))
            return self.transport.send(admission, row), admission
        except ValueError as e:            # it cannot be written as a message (answers that do not fit the form...)
            return Attempt("dead", f"unsendable: {e}"[:300]), admission
        except Exception as e:             # a fault of this side: try again later (a resend is harmless)
            log.error("sending queue=%s failed: %s", admission.queue_number, type(e).__name__)
            log.debug("the traceback", exc_info=True)
            return Attempt("retry", f"internal_{type(e).__name__}"), admission

    def _hospital_answers(self) -> None:
        if self.store.kiosk_incident_open(IncidentKind.HOSPITAL_UNREACHABLE):
            self.store.resolve_kiosk_incidents(IncidentKind.HOSPITAL_UNREACHABLE, "sync",
                                               note="the hospital system answers again")

    def _set_aside_note(self, row: dict, note: str) -> None:
        """The admission is in, but one part of it needs staff (the appointment could not be marked arrived)."""
        kind = (IncidentKind.APPOINTMENT_NOT_ARRIVED if code(note) == "appointment_not_arrived"
                else IncidentKind.SYNC_REJECTED)
        self.store.raise_incident(Incident(kind, Severity.MEDIUM, f"{self.transport.name}:{code(note)}",
                                           admission_id=row["admission_id"]))
        log.warning("delivered to %s, but %s", self.transport.name, code(note))

    def _longest_pause(self) -> float:
        return max(self.retry_max_s, RETRY_AFTER_MAX_S)

    def _pause(self, attempts: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:                      # the server said when, within reason
            return min(max(retry_after_s, FIRST_PAUSE_S), self._longest_pause())
        ceiling = min(self.retry_max_s, FIRST_PAUSE_S * 2 ** min(attempts - 1, 30))
        return ceiling * (0.5 + self._jitter() / 2)        # jitter: kiosks that lost the server together
                                                           # do not all come back in the same second

    def run_forever(self, stop: threading.Event, wake: threading.Event | None = None,
                    poll_s: float | None = None) -> None:
        """Deliver until ``stop`` is set; sleeps until the next message is due, ``wake`` is set (the
        app sets it when it stores an admission) or ``poll_s`` has passed (a worker apart from the app
        looks for new admissions that often)."""
        wake = wake or threading.Event()
        while not stop.is_set():
            try:
                progress = self.run_once(stop=stop)
            except Exception as e:         # the store itself failed (disk, lock): try again later
                log.error("sync round failed: %s", type(e).__name__)
                progress = Progress(next_due=self._now() + timedelta(seconds=self.retry_max_s))
            self._alive()
            wait = (progress.next_due - self._now()).total_seconds() if progress.next_due else 3600.0
            wake.wait(max(0.05, min(wait, poll_s or wait)))
            wake.clear()


def code(reason: str) -> str:
    """The reason code before any text the hospital system sent (which may quote patient data)."""
    return reason.split(":")[0]


class SyncThread:
    """The worker as a thread beside the kiosk app, with a store connection of its own. If the
    connection to the hospital system cannot even be set up (a broken certificate file...), it says so
    (log and incident) and tries again every ``retry_max_s``: the kiosk keeps admitting meanwhile."""

    def __init__(self, settings: Settings, form: Form, open_store: Callable[..., Store],
                 destination: tuple[str, Callable[[Settings], object]] | None = None, poll_s: float | None = None):
        """
        :param form: the intake form (for admissions stored before they carried it as answered: ``Sync``)
        :param open_store: ``open_store(settings, power_safe=...)`` opens the store, called on the thread
        :param destination: (name, opens its transport from the settings) for a destination other than the
            hospital system's (``site``: kiosk.hospital.site_client.SiteArrivals)
        :param poll_s: look for new messages that often besides being woken (where others queue them too)
        """
        self.settings, self.form, self.open_store = settings, form, open_store
        self.name, self.open_transport = destination or (settings.hospital.transport, open_transport)
        self.poll_s = poll_s
        self.stop_event, self.wake_event = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"sync-{self.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self.wake_event.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.wake_event.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        h = self.settings.hospital
        # See kiosk sync: only FHIR resends (and the site service's arrivals, answered the same again) are free.
        store = self.open_store(self.settings, power_safe=self.name not in ("fhir", "site"))
        try:
            while not self.stop_event.is_set():
                try:
                    transport = self.open_transport(self.settings)
                except Exception as e:
                    log.error("the connection to %s cannot be set up: %s", self.name, type(e).__name__)
                    store.raise_incident(Incident(IncidentKind.HOSPITAL_UNREACHABLE, Severity.HIGH, self.name))
                    self.stop_event.wait(h.retry_max_s)
                    continue
                try:
                    Sync(store, transport, form=self.form, retry_max_s=h.retry_max_s).run_forever(
                        self.stop_event, self.wake_event, self.poll_s)
                finally:
                    transport.close()
        finally:
            store.close()
