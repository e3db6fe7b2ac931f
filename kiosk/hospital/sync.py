"""Delivering the outbox to the hospital system: FHIR R4, HL7 v2 over MLLP, or a drop folder.

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

Every message is idempotent at the receiver (conditional FHIR interactions, the same MSH-10 on every
resend, the same file name), so delivering at least once is delivering exactly once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import random
import ssl
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from kiosk.hospital import fhir, hl7v2
from kiosk.config import HospitalSettings, Settings
from kiosk.checkin.forms import Form
from kiosk.checkin.model import Admission, Appointment, Identifier, Incident, IncidentKind, Severity
from kiosk.store import Store
from kiosk.times import moment

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 1.0            # after the first failed attempt; doubles with every further one
RETRY_AFTER_MAX_S = 3600.0     # the longest pause a server's Retry-After gets (when longer than retry_max_s)
UNREACHABLE_AFTER = 5          # failed attempts in a row before staff and IT get an incident
REFUSALS = 5                   # answers that say "not now" to the same message (MLLP AR, an ACK for
                               # another message, FHIR 409) before it is set aside for staff
LOCK_POLL_S = 1.0              # how often a worker waiting for the other one's round looks again


@dataclass(frozen=True)
class Attempt:
    """How one delivery attempt ended: ``kind`` delivered | retry | dead."""

    kind: str
    reason: str = ""                      # a code, then what the system said (only the code reaches logs)
    response: str = ""                    # what the system answered, kept on the outbox row
    retry_after_s: float | None = None
    answered: bool = False                # the hospital system answered (it is there)
    refused: bool = False                 # ... and said "not now" about this very message (MLLP AR, an
                                          # ACK for another one, FHIR 409): counts towards giving it up
    note: str = ""                        # delivered, but a part needs staff (reason code first)


# --- transports -----------------------------------------------------------------------------------

class FhirTransport:
    """One transaction Bundle per admission, POSTed to the FHIR base (reference §1)."""

    name = "fhir"

    def __init__(self, hospital: HospitalSettings, form: Form):
        import requests
        self.base = hospital.url.rstrip("/")
        self.form = form
        self.options = fhir.FhirOptions(encounter_status=hospital.encounter_status)
        self.timeout = hospital.timeout_s
        self.patient_id_system = hospital.patient_id_system     # the hospital's own patient numbers
        self.session = requests.Session()
        # Per request, not on the session: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        self.verify = hospital.ca_file or True
        if hospital.client_cert:
            self.session.cert = (hospital.client_cert, hospital.client_key) if hospital.client_key else hospital.client_cert
        self.session.headers.update({"Content-Type": "application/fhir+json", "Accept": "application/fhir+json",
                                     "Prefer": "return=minimal"})
        if hospital.token_file:
            token = Path(hospital.token_file).read_text(encoding="utf-8").strip()
            self.session.headers["Authorization"] = f"Bearer {token}"

    def find_appointment(self, identifier: Identifier, day: date, timeout: float) -> Appointment | None:
        """The patient's first booked appointment on ``day``, or None: none, or no answer in ``timeout``
        (the patient then checks in as a walk-in)."""
        import requests
        path, params = fhir.appointment_search(identifier.system, identifier.value, day)
        try:
            answer = self.session.get(f"{self.base}/{path}", params=params, timeout=timeout, verify=self.verify)
            answer.raise_for_status()
            found = sorted(fhir.appointments_from(answer.json(), self.patient_id_system), key=lambda a: a["start"])
        except (requests.RequestException, ValueError) as e:
            log.warning("appointment lookup failed (%s): walk-in", type(e).__name__)
            return None
        return Appointment(found[0]["id"], found[0]["start"], found[0]["description"],
                           found[0]["patient_number"]) if found else None

    def _arrive(self, appointment_id: str) -> str | None:
        """Mark the Appointment arrived (its own step, after the admission is in). None when done (a
        second try finds it arrived already, which counts as done); else why not, for staff. Never a
        reason to send the admission again: it is in."""
        import requests
        url = f"{self.base}/Appointment/{appointment_id}"
        try:
            answer = self.session.patch(url, data=json.dumps(fhir.arrival_patch()), timeout=self.timeout,
                                        headers={"Content-Type": "application/json-patch+json"}, verify=self.verify)
            if answer.ok:
                return None
            current = self.session.get(url, timeout=self.timeout, verify=self.verify)
            if current.ok and fhir.arrived(current.json()):
                return None
            return f"appointment_not_arrived: http_{answer.status_code}"
        except (requests.exceptions.RequestException, ValueError) as e:
            return f"appointment_not_arrived: {type(e).__name__}"

    def send(self, admission: Admission, row: dict) -> Attempt:
        import requests
        body = json.dumps(fhir.transaction(admission, self.form, self.options), ensure_ascii=False)
        try:
            answer = self.session.post(self.base, data=body.encode("utf-8"), timeout=self.timeout, verify=self.verify,
                                       headers={"X-Request-Id": f"{admission.kiosk_id}-{row['id']}"})
        except requests.exceptions.SSLError:
            return Attempt("retry", "tls_failed")
        except requests.exceptions.Timeout:
            return Attempt("retry", "timeout")
        except requests.exceptions.RequestException:
            return Attempt("retry", "unreachable")
        try:
            payload = answer.json()
        except ValueError:
            payload = None
        verdict = fhir.classify(answer.status_code, payload, answer.headers)
        reason = verdict.reason or f"http_{answer.status_code}"
        if verdict.kind == "dead" and payload is not None:
            reason = f"{reason}: {fhir.outcome_summary(payload)}"[:300]
        note = self._arrive(admission.appointment_id) if verdict.kind == "delivered" and admission.appointment_id else ""
        # A 5xx, 429 or 401 is about the server or the connection, not this admission: it is retried
        # for as long as it lasts (the hospital_unreachable incident tells IT); a 409 is about it.
        return Attempt(verdict.kind, reason, answer.text, verdict.retry_after_s, answered=True,
                       refused=answer.status_code == 409, note=note or "")

    def close(self) -> None:
        self.session.close()


class MllpTransport:
    """One ADT^A04 per admission over MLLP (``mllps://`` with TLS); MSH-10 is derived from the
    admission, so a resend after a lost ACK carries the same control id."""

    name = "hl7v2"

    def __init__(self, hospital: HospitalSettings, kiosk_id: str):
        parts = urlsplit(hospital.url)
        self.host, self.port = parts.hostname, parts.port or 2575
        self.timeout = hospital.timeout_s
        self.options = hl7_options(hospital, kiosk_id)
        self.context = _tls_context(hospital) if parts.scheme == "mllps" else None

    def send(self, admission: Admission, row: dict) -> Attempt:
        control_id = control_id_for(admission)
        # MSH-7 is the check-in time, so that a resend is the same message, byte for byte.
        message = hl7v2.adt_a04(admission, control_id, self.options, sent_at=moment(admission.created_at))
        try:
            answer = hl7v2.send_mllp(self.host, self.port, message, self.timeout, context=self.context)
        except ssl.SSLError:
            return Attempt("retry", "tls_failed")
        except TimeoutError:
            return Attempt("retry", "timeout")
        except OSError:
            return Attempt("retry", "unreachable")
        try:
            ack = hl7v2.parse_ack(answer)
        except ValueError:
            return Attempt("retry", "not_an_ack", answer, answered=True, refused=True)
        if ack.control_id != control_id:
            return Attempt("retry", "ack_for_another_message", answer, answered=True, refused=True)
        if ack.code in ("AA", "CA"):
            return Attempt("delivered", "", answer, answered=True)
        if ack.code in ("AR", "CR"):           # the receiver could not take it now: again, a few times
            return Attempt("retry", f"rejected_{ack.code}", answer, answered=True, refused=True)
        return Attempt("dead", f"rejected_{ack.code}: {ack.text}"[:300], answer, answered=True)

    def close(self) -> None:
        pass


def hl7_options(hospital: HospitalSettings, kiosk_id: str) -> hl7v2.Hl7Options:
    return hl7v2.Hl7Options(sending_facility=kiosk_id, receiving_application=hospital.hl7_receiving_application,
                            receiving_facility=hospital.hl7_receiving_facility, patient_class=hospital.hl7_patient_class)


def control_id_for(admission: Admission) -> str:
    """MSH-10: 20 characters (the most v2.5 allows), the same for every resend of an admission: a hash
    of its id, so that ids sharing a beginning still get different control ids."""
    return hashlib.sha256(admission.id.encode()).hexdigest()[:20].upper()


class FolderTransport:
    """One file per admission in a folder an integration engine watches: written to a temporary name,
    synced to disk, then renamed, so the engine never sees half a file; a resend writes the same name."""

    name = "folder"

    def __init__(self, hospital: HospitalSettings, form: Form, kiosk_id: str):
        self.folder = Path(urlsplit(hospital.url).path)
        self.format = hospital.folder_format
        self.form = form
        self.fhir_options = fhir.FhirOptions(encounter_status=hospital.encounter_status)
        self.hl7_options = hl7_options(hospital, kiosk_id)

    def send(self, admission: Admission, row: dict) -> Attempt:
        if self.format == "fhir":
            name = f"{admission.id}.json"
            content = json.dumps(fhir.transaction(admission, self.form, self.fhir_options), ensure_ascii=False, indent=1)
        else:
            name = f"{admission.id}.hl7"
            content = hl7v2.adt_a04(admission, control_id_for(admission), self.hl7_options,
                                    sent_at=moment(admission.created_at))
        try:
            write_atomically(self.folder / name, content.encode("utf-8"))
        except OSError as e:
            return Attempt("retry", f"folder_unwritable: {e.strerror or type(e).__name__}")
        return Attempt("delivered", "", name)

    def close(self) -> None:
        pass


def write_atomically(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` whole, or is untouched: temp file, fsync, rename, fsync of the folder."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _tls_context(hospital: HospitalSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=hospital.ca_file or None)
    if hospital.client_cert:
        context.load_cert_chain(hospital.client_cert, hospital.client_key or None)
    return context


def open_transport(settings: Settings, form: Form):
    """The transport ``hospital.transport`` names (None for "none")."""
    h = settings.hospital
    if h.transport == "fhir":
        return FhirTransport(h, form)
    if h.transport == "hl7v2":
        return MllpTransport(h, settings.kiosk.id)
    if h.transport == "folder":
        return FolderTransport(h, form, settings.kiosk.id)
    return None


# --- the worker -----------------------------------------------------------------------------------

@dataclass
class Progress:
    delivered: int = 0
    dead: int = 0
    waiting: int = 0                      # still in the outbox for this transport
    next_due: datetime | None = None      # when the head of the queue may be tried again
    last_reason: str = ""


class Sync:
    """Delivers the outbox of ``store`` through ``transport``. Not thread-safe: one per thread, with a
    Store of its own (SQLite connections stay on the thread that opened them)."""

    def __init__(self, store: Store, transport, *, retry_max_s: float = 300.0,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 jitter: Callable[[], float] = random.random, alive: Callable[[], None] = lambda: None):
        """
        :param alive: called after each message tried, while waiting for the other worker's round, and
            once a round: ``kiosk sync`` pings systemd's watchdog with it
        """
        self.store, self.transport = store, transport
        self.retry_max_s = retry_max_s
        self._now, self._jitter, self._alive = now, jitter, alive
        self._lock_path = store.path.with_name(store.path.name + ".sync-lock")

    def run_once(self, *, now_or_never: bool = False, stop: threading.Event | None = None) -> Progress:
        """Deliver every message that is due now, in order; stop at the first one that must wait.
        Only one worker per store delivers at a time (the app's thread and ``kiosk sync`` take turns),
        so no message is ever sent twice at once.

        :param now_or_never: try the first message at once even while it pauses after a failure
            (someone asked: ``kiosk sync --once``)
        :param stop: when it is set while the other worker delivers, give up waiting for it (nothing done)
        """
        with open(self._lock_path, "a") as lock:
            # The other worker may hold the lock for a whole round (a backlog after an outage): waited for
            # in short sleeps, each one alive, rather than in one flock() nobody can see or stop. The lock
            # is released when the file closes, or the process dies.
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
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
            queue_number = admission.queue_number if admission else "?"
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
        progress.waiting = self.store.outbox_count(destination, "pending")
        return progress

    def _attempt(self, row: dict) -> tuple[Attempt, Admission | None]:
        """Send one row; whatever goes wrong on this side ends as an Attempt, never as an exception that
        would stop the worker with the queue behind it."""
        try:
            admission = self.store.get_admission(row["admission_id"])
        except Exception as e:             # a row the store cannot give back: staff must look, the rest goes on
            return Attempt("dead", f"unreadable_admission: {type(e).__name__}"), None
        try:
            return self.transport.send(admission, row), admission
        except ValueError as e:            # it cannot be written as a message (answers no longer fit the form...)
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

    def __init__(self, settings: Settings, form: Form):
        self.settings, self.form = settings, form
        self.stop_event, self.wake_event = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="sync", daemon=True)

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
        from kiosk.app import open_store      # the one way to the store file and its key
        store = open_store(self.settings, power_safe=h.transport != "fhir")   # see kiosk sync: only FHIR resends are free
        try:
            while not self.stop_event.is_set():
                try:
                    transport = open_transport(self.settings, self.form)
                except Exception as e:
                    log.error("the connection to the hospital system cannot be set up: %s", type(e).__name__)
                    store.raise_incident(Incident(IncidentKind.HOSPITAL_UNREACHABLE, Severity.HIGH, h.transport))
                    self.stop_event.wait(h.retry_max_s)
                    continue
                try:
                    Sync(store, transport, retry_max_s=h.retry_max_s).run_forever(self.stop_event, self.wake_event)
                finally:
                    transport.close()
        finally:
            store.close()
