"""The ways an admission reaches the hospital system: FHIR R4, HL7 v2 over MLLP, or a drop folder.

Each transport turns one admission into its message, sends it, and sorts what came back into an
``Attempt`` (the outbox worker, ``kiosk.hospital.outbox``, decides what follows). Every message is
idempotent at the receiver (conditional FHIR interactions, the same MSH-10 on every resend, the same
file name), so a resend after a lost answer changes nothing there. ``probe()`` looks at the hospital
system without sending an admission (``kiosk doctor``).
"""

from __future__ import annotations

import hashlib
import json
import ssl
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from kiosk.checkin.model import Admission
from kiosk.config import HospitalSettings, Settings
from kiosk.files import write_whole
from kiosk.hospital import fhir, hl7v2
from kiosk.times import moment


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


@dataclass(frozen=True)
class Probe:
    """What a look at the hospital system found, without an admission in it.

    ``problem`` is "" when it answers as the transport expects, else a code: ``tls_failed``, ``timeout``,
    ``unreachable`` (no connection), ``refused`` (FHIR 401/403), ``not_fhir`` (no CapabilityStatement),
    ``silent`` (an MLLP peer took the connection but gave no answer in time), ``closed`` (... closed it
    without one), ``not_an_ack``, ``ack_for_another_message``, ``unwritable`` (the drop folder).
    ``detail``: what the system or library said (a TLS reason, an error text); ``status``: the HTTP status;
    ``software`` and ``version``: the FHIR server's; ``ack_code``: MSA-1 of the MLLP peer's answer.
    """

    problem: str = ""
    detail: str = ""
    status: int | None = None
    software: str = ""
    version: str = ""
    ack_code: str = ""


def http_session(hospital: HospitalSettings):
    """A ``requests.Session`` for the FHIR base with the kiosk's client certificate, bearer token and FHIR
    headers, and the ``verify`` value to pass with each request (requests lets REQUESTS_CA_BUNDLE override
    a session's own)."""
    import requests
    session = requests.Session()
    if hospital.client_cert:
        session.cert = (hospital.client_cert, hospital.client_key) if hospital.client_key else hospital.client_cert
    session.headers.update({"Content-Type": "application/fhir+json", "Accept": "application/fhir+json",
                            "Prefer": "return=minimal"})
    if hospital.token_file:
        token = Path(hospital.token_file).read_text(encoding="utf-8").strip()
        session.headers["Authorization"] = f"Bearer {token}"
    return session, hospital.ca_file or True


class FhirTransport:
    """One transaction Bundle per admission, POSTed to the FHIR base (FHIR R4 http.html#transaction)."""

    name = "fhir"

    def __init__(self, hospital: HospitalSettings, *, pre_admit: bool = False):
        self.base = hospital.url.rstrip("/")
        self.pre_admit = pre_admit
        self.options = fhir.FhirOptions(encounter_status=hospital.encounter_status)
        self.timeout = hospital.timeout_s
        self.session, self.verify = http_session(hospital)

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
        body = json.dumps(fhir.transaction(admission, self.options, pre_admit=self.pre_admit), ensure_ascii=False)
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
        arrives = verdict.kind == "delivered" and admission.appointment_id and not self.pre_admit
        note = self._arrive(admission.appointment_id) if arrives else ""
        # A 5xx, 429 or 401 is about the server or the connection, not this admission: it is retried
        # for as long as it lasts (the hospital_unreachable incident tells IT); a 409 is about it.
        return Attempt(verdict.kind, reason, answer.text, verdict.retry_after_s, answered=True,
                       refused=answer.status_code == 409, note=note or "")

    def probe(self) -> Probe:
        """``GET [base]/metadata`` with the kiosk's own TLS settings and token: a CapabilityStatement, or why not."""
        import requests
        try:
            answer = self.session.get(f"{self.base}/metadata", timeout=self.timeout, verify=self.verify)
        except requests.exceptions.SSLError as e:
            return Probe("tls_failed", type(e).__name__)
        except requests.exceptions.Timeout as e:
            return Probe("timeout", type(e).__name__)
        except requests.exceptions.RequestException as e:
            return Probe("unreachable", type(e).__name__)
        if answer.status_code in (401, 403):
            return Probe("refused", status=answer.status_code)
        try:
            body = answer.json() if answer.ok else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("resourceType") != "CapabilityStatement":
            return Probe("not_fhir", status=answer.status_code)
        return Probe(status=answer.status_code, software=(body.get("software") or {}).get("name", ""),
                     version=body.get("fhirVersion", ""))

    def close(self) -> None:
        self.session.close()


class MllpTransport:
    """One ADT^A04 per admission over MLLP (``mllps://`` with TLS); MSH-10 is derived from the
    admission, so a resend after a lost ACK carries the same control id. With ``pre_admit``: an ADT^A05 per
    outbox row of a pre-check-in (each change the patient made after finishing is a new message)."""

    name = "hl7v2"

    def __init__(self, hospital: HospitalSettings, kiosk_id: str, *, pre_admit: bool = False):
        self.pre_admit = pre_admit
        parts = urlsplit(hospital.url)
        self.host, self.port = parts.hostname, parts.port or 2575
        self.timeout = hospital.timeout_s
        self.options = hl7_options(hospital, kiosk_id)
        self.context = _tls_context(hospital) if parts.scheme == "mllps" else None

    def send(self, admission: Admission, row: dict) -> Attempt:
        control_id = control_id_for(admission, row if self.pre_admit else None)
        # MSH-7 is the check-in time, so that a resend is the same message, byte for byte.
        message = hl7v2.adt(admission, control_id, self.options, sent_at=moment(admission.created_at),
                            pre_admit=self.pre_admit)
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

    def probe(self) -> Probe:
        """A connection as ``send`` opens it (TLS included), then a network check (NMQ^N01, processing ID D:
        no patient in it) that an HL7 v2 receiver answers: only that answer shows an HL7 receiver is there,
        not just something that takes connections (a web server, an SSH server, the wrong port)."""
        try:
            hl7v2.connect(self.host, self.port, time.monotonic() + self.timeout, self.context).close()
        except ssl.SSLError as e:
            return Probe("tls_failed", str(e.reason or e))
        except TimeoutError:
            return Probe("timeout")
        except OSError as e:
            return Probe("unreachable", str(e.strerror or e))
        control_id = f"KIOSKCHK{int(time.time())}"
        check = hl7v2.network_check(self.options, control_id, sent_at=datetime.now(UTC))
        try:
            answer = hl7v2.send_mllp(self.host, self.port, check, self.timeout, context=self.context)
        except TimeoutError:
            return Probe("silent")
        except OSError as e:
            return Probe("closed", str(e.strerror or e))
        try:
            ack = hl7v2.parse_ack(answer)
        except ValueError:
            return Probe("not_an_ack")
        if ack.control_id != control_id:
            return Probe("ack_for_another_message", ack_code=ack.code)
        return Probe(ack_code=ack.code)

    def close(self) -> None:
        pass


def hl7_options(hospital: HospitalSettings, kiosk_id: str) -> hl7v2.Hl7Options:
    return hl7v2.Hl7Options(sending_facility=kiosk_id, receiving_application=hospital.hl7_receiving_application,
                            receiving_facility=hospital.hl7_receiving_facility, patient_class=hospital.hl7_patient_class)


def control_id_for(admission: Admission, row: dict | None = None) -> str:
    """MSH-10: 20 characters (the most v2.5 allows), the same for every resend of an admission: a hash
    of its id, so that ids sharing a beginning still get different control ids. A pre-check-in's outbox
    ``row`` is one version of it, with a control id of its own."""
    key = f"{admission.id}/{row['id']}" if row else admission.id
    return hashlib.sha256(key.encode()).hexdigest()[:20].upper()


class FolderTransport:
    """One file per admission in a folder an integration engine watches: written to a temporary name,
    synced to disk, then renamed, so the engine never sees half a file; a resend writes the same name."""

    name = "folder"

    def __init__(self, hospital: HospitalSettings, kiosk_id: str, *, pre_admit: bool = False):
        self.folder = Path(urlsplit(hospital.url).path)
        self.pre_admit = pre_admit
        self.format = hospital.folder_format
        self.fhir_options = fhir.FhirOptions(encounter_status=hospital.encounter_status)
        self.hl7_options = hl7_options(hospital, kiosk_id)

    def send(self, admission: Admission, row: dict) -> Attempt:
        # A pre-check-in's versions each get a file (``<id>-<row>``): an engine that took the first one
        # finds the patient's change as a new file, not as the old name written over.
        stem = f"{admission.id}-{row['id']}" if self.pre_admit else admission.id
        if self.format == "fhir":
            name = f"{stem}.json"
            content = json.dumps(fhir.transaction(admission, self.fhir_options, pre_admit=self.pre_admit),
                                 ensure_ascii=False, indent=1)
        else:
            name = f"{stem}.hl7"
            content = hl7v2.adt(admission, control_id_for(admission, row if self.pre_admit else None),
                                self.hl7_options, sent_at=moment(admission.created_at), pre_admit=self.pre_admit)
        try:
            write_whole(self.folder / name, content.encode("utf-8"), 0o640)
        except OSError as e:
            return Attempt("retry", f"folder_unwritable: {e.strerror or type(e).__name__}")
        return Attempt("delivered", "", name)

    def probe(self) -> Probe:
        """The folder takes a file (a hidden ``.kiosk-doctor-*.tmp``, removed at once)."""
        try:
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".kiosk-doctor-", suffix=".tmp"):
                pass
        except OSError as e:
            return Probe("unwritable", str(e.strerror or e))
        return Probe()

    def close(self) -> None:
        pass


def _tls_context(hospital: HospitalSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=hospital.ca_file or None)
    if hospital.client_cert:
        context.load_cert_chain(hospital.client_cert, hospital.client_key or None)
    return context


def open_transport(settings: Settings, *, pre_admit: bool = False, sender: str = ""):
    """The transport ``hospital.transport`` names (None for "none"); ``pre_admit`` for the site service's
    pre-check-ins, sent as ``sender`` (MSH-4; default the kiosk's id)."""
    h, sender = settings.hospital, sender or settings.kiosk.id
    if h.transport == "fhir":
        return FhirTransport(h, pre_admit=pre_admit)
    if h.transport == "hl7v2":
        return MllpTransport(h, sender, pre_admit=pre_admit)
    if h.transport == "folder":
        return FolderTransport(h, sender, pre_admit=pre_admit)
    return None

