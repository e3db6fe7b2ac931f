"""One admission as a FHIR R4 transaction, and what the hospital system's answer means (pure, no I/O).

The sync worker POSTs ``transaction(...)`` to ``[base]`` and hands the answer to ``classify``. Every entry
is idempotent, so a bundle whose answer was lost can be sent again unchanged (FHIR R4 http.html, conditional
create and update, and transaction processing rules):

- Patient: conditional create on the person's first identifier (the card's KVNR or SSIN). A person
  without one (typed name, no card) gets ``options.patient_system|<admission id>``, so each such check-in
  creates a Patient of its own for the desk to match (the flow raises identity_unverified for it). An
  existing Patient is left as the hospital has it (a conditional create that matches changes nothing): the
  kiosk does not overwrite master data.
- Coverage: conditional create on ``beneficiary.identifier`` and the payor's IK, so a second visit with the
  same card adds none. A coverage without a payor is not valid R4 (payor 1..*) and is left out.
- Encounter: conditional create on ``options.admission_system|<admission id>``. ``Encounter.appointment``
  refers to ``Appointment/<admission.appointment_id>`` when the kiosk found the booking, and carries a
  typed appointment code as the reference's identifier (a logical reference when the id is unknown).
- QuestionnaireResponse: PUT to an id derived from the admission id (update-as-create), since servers such
  as SEKMET have no ``identifier`` search on QuestionnaireResponse.
- Consent: conditional create on ``options.consent_system|<admission id>``. The patient's signature, when
  there is one, is its ``sourceAttachment`` (PNG, base64); which consent text was shown is a ``policy.uri``
  (``urn:kiosk:consent-text:<text id>``, kiosk.checkin.signature.text_id).

``fullUrl``s are ``urn:uuid`` values derived (uuid5) from the admission id: the same admission always
gives the identical bundle.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from kiosk.checkin.model import Admission

V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# The security label of test data (sample patients of the demo): ActReason HTEST "test health data".
TEST_DATA = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST",
             "display": "test health data"}
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
ARRIVED = ("arrived", "checked-in", "fulfilled")       # Appointment statuses that need no arrival any more
RETRY_STATUSES = (408, 409, 429, 500, 502, 503, 504)
RETRY_ISSUES = ("transient", "lock-error", "timeout", "throttled")
_NAMESPACE = uuid.UUID("4f1d7e2a-3c1b-5b8e-9a40-6b7c2d9e0f13")    # of this kiosk's uuid5 fullUrls and ids


@dataclass(frozen=True)
class FhirOptions:
    """How admissions are written for one hospital system."""

    encounter_status: str = "arrived"       # "arrived" in plain R4; "in-progress" for ISiK-style servers
    encounter_class: str = "AMB"            # v3-ActCode: AMB ambulatory, EMER emergency, IMP inpatient
    admission_system: str = "urn:kiosk:admission"     # Encounter.identifier system of the admission id
    consent_system: str = "urn:kiosk:consent"         # Consent.identifier system (value: the admission id)
    patient_system: str = "urn:kiosk:patient"         # Patient.identifier of a person without a card
    appointment_system: str = "urn:kiosk:appointment-code"   # identifier system of typed appointment codes
    consent_text_system: str = "urn:kiosk:consent-text"     # Consent.policy.uri prefix of the consent text's id
    precheck_system: str = "urn:kiosk:precheck"       # Encounter.identifier system of a pre-check-in (its id)


@dataclass(frozen=True)
class Entry:
    """One entry of a transaction-response: HTTP status, and the server's type, id and version."""

    status: int
    type: str
    id: str
    version: str


@dataclass(frozen=True)
class Verdict:
    """What to do with an outbox row after an attempt.

    ``kind``: delivered | retry | dead. ``reason``: a short code for staff and metrics (``no_response``,
    ``http_503``, ``transient``, ``unauthorized``, ``possible_duplicate_patient``, ``rejected`` ...).
    ``retry_after_s``: the server's Retry-After in seconds, when it gave one with a retry.
    """

    kind: str
    reason: str
    retry_after_s: float | None = None


def _urn(of: Admission | str, resource_type: str) -> str:
    """The fullUrl of one resource of an admission (or of a pre-check-in: its id)."""
    key = of if isinstance(of, str) else of.id
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{key}/{resource_type}')}"


def _token(system: str, value: str) -> str:
    """A token search value for a query string: FHIR escapes (``\\`` before , | $ \\), then URL escapes."""
    def esc(s: str) -> str:
        return quote(re.sub(r"([\\,|$])", r"\\\1", s), safe=":/")
    return f"{esc(system)}|{esc(value)}" if system else esc(value)


PATIENT_ENTERED_TAG = ("urn:kiosk:tag", "patient-entered")     # Patient.meta.tag: typed at the kiosk, verify


def _mark_patient_entered(patient: dict, admission: Admission) -> None:
    """Mark the address and phone the patient typed over the card's, so that staff verify them.

    Chosen: a ``meta.tag`` on the Patient (display: the field names, never values) plus ``period.start`` =
    the check-in day on each patient-entered Address/ContactPoint ("as the patient said on that day").
    A tag is plain R4 that every server keeps without knowing a profile, and the HIS can list what to
    verify with ``Patient?_tag=urn:kiosk:tag|patient-entered``. An extension on the element would need a
    StructureDefinition the receiver knows; a Provenance (``targetElement``) would be a further resource
    without a business identifier to make it idempotent. An existing Patient is not overwritten,
    so there the mark does not reach the HIS: the kiosk's ``details_corrected`` incident tells the desk.
    """
    if not admission.patient_entered:
        return
    fields = ", ".join(admission.patient_entered)
    patient["meta"] = {"tag": [_coding(*PATIENT_ENTERED_TAG, f"Entered by the patient at the kiosk, verify: {fields}")]}
    day = admission.created_at[:10]
    for name, key in (("address", "address"), ("phone", "telecom")):
        if name in admission.patient_entered:
            for element in patient.get(key, ()):
                element["period"] = {"start": day}


def _coding(system: str, code: str, display: str = "") -> dict:
    return {k: v for k, v in (("system", system), ("code", code), ("display", display)) if v}


def transaction(admission: Admission, options: FhirOptions = FhirOptions(), *, pre_admit: bool = False) -> dict:
    """The R4 transaction Bundle of one admission, identical every time for the same admission.

    Its QuestionnaireResponse holds ``admission.form_response``, the form as the patient answered it.

    A patient who pre-checked in at home (``admission.precheck_id``) is written twice, by two systems: first
    by the site service before they come (``pre_admit``: the Encounter ``planned``, created only where no
    Encounter has the pre-check-in's identifier yet, so it never undoes an arrival), then by the kiosk they
    arrive at (the same Encounter, found by that identifier, updated to arrived, with the admission's
    identifier added). The QuestionnaireResponse and the Consent are the pre-check-in's in both (its id in
    theirs; updated, so an answer changed at home replaces the one delivered before), never two of each.
    Raises ValueError when the admission has answers but no form response (stored before admissions
    carried one: ``kiosk.checkin.answers.form_response`` makes it) or the consent is neither accepted nor
    declined.
    """
    if admission.consent not in ("accepted", "declined"):
        raise ValueError(f"consent must be accepted or declined, not {admission.consent!r}")
    patient_urn, encounter_urn = _urn(admission, "Patient"), _urn(admission, "Encounter")
    patient = admission.person.to_fhir()
    _mark_patient_entered(patient, admission)
    precheck = admission.precheck_id
    key = precheck or admission.id        # of the answers, the consent and a patient without a card's number:
                                          # the pre-check-in's, where there is one (one of each, from both)
    patient.setdefault("identifier", [{"system": options.patient_system, "value": key}])
    first_id = patient["identifier"][0]
    entries = [(patient_urn, patient, {"method": "POST", "url": "Patient",
                                       "ifNoneExist": f"identifier={_token(first_id['system'], first_id['value'])}"})]

    coverage = admission.coverage.to_fhir() if admission.coverage else {}
    if coverage.get("payor"):
        coverage["beneficiary"] = {"reference": patient_urn}
        match = f"beneficiary.identifier={_token(first_id['system'], first_id['value'])}"
        if admission.coverage.payor_id:
            match += f"&payor:identifier={_token(admission.coverage.payor_system, admission.coverage.payor_id)}"
        entries.append((_urn(admission, "Coverage"), coverage,
                        {"method": "POST", "url": "Coverage", "ifNoneExist": match}))

    identifiers = ([] if pre_admit else [{"system": options.admission_system, "value": admission.id}]) + (
        [{"system": options.precheck_system, "value": precheck}] if precheck else [])
    encounter: dict = {
        "resourceType": "Encounter",
        "identifier": identifiers,
        "status": "planned" if pre_admit else options.encounter_status,
        "class": _coding(V3_ACT_CODE, options.encounter_class),
        "subject": {"reference": patient_urn},
    }
    if not pre_admit:
        encounter["period"] = {"start": admission.created_at}
    appointment = {"type": "Appointment"}
    if admission.appointment_id:
        appointment["reference"] = f"Appointment/{admission.appointment_id}"
    if admission.appointment_code:
        appointment["identifier"] = {"system": options.appointment_system, "value": admission.appointment_code}
    if len(appointment) > 1:
        encounter["appointment"] = [appointment]
    if precheck and not pre_admit:
        request = {"method": "PUT", "url": f"Encounter?identifier={_token(options.precheck_system, precheck)}"}
    else:
        first = identifiers[0]
        request = {"method": "POST", "url": "Encounter",
                   "ifNoneExist": f"identifier={_token(first['system'], first['value'])}"}
    entries.append((encounter_urn, encounter, request))

    answered = admission.form_response
    if answered is None and admission.answers:
        raise ValueError("the answers come without the form they answer (no form response)")
    if answered is not None and answered.items:
        qr_urn = _urn(key, "QuestionnaireResponse")
        qr_id = qr_urn.removeprefix("urn:uuid:")
        response = {"resourceType": "QuestionnaireResponse", "id": qr_id,
                    **({"questionnaire": answered.questionnaire} if answered.questionnaire else {}),
                    "status": "completed", "subject": {"reference": patient_urn},
                    "encounter": {"reference": encounter_urn}, "authored": admission.created_at,
                    "source": {"reference": patient_urn}, "item": list(answered.items)}
        entries.append((qr_urn, response, {"method": "PUT", "url": f"QuestionnaireResponse/{qr_id}"}))

    accepted = admission.consent == "accepted"
    consent = {
        "resourceType": "Consent",
        "identifier": [{"system": options.consent_system, "value": key}],
        "status": "active" if accepted else "rejected",
        "scope": {"coding": [_coding(CONSENT_SCOPE, "patient-privacy")]},
        "category": [{"coding": [_coding(LOINC, "59284-0", "Patient Consent")]}],
        "patient": {"reference": patient_urn},
        "dateTime": admission.created_at,
        # ppc-1 wants a policy or policyRule: the base rule is opt-in; provision says what the patient chose.
        "policyRule": {"coding": [_coding(V3_ACT_CODE, "OPTIN")]},
        "provision": {"type": "permit" if accepted else "deny"},
    }
    if admission.consent_text_id:
        # The text the patient read, by version: the hospital keeps the texts each id stands for.
        consent["policy"] = [{"uri": f"{options.consent_text_system}:{admission.consent_text_id}"}]
    if admission.consent_signature:
        consent["sourceAttachment"] = {
            "contentType": "image/png", "language": admission.language,
            "data": base64.b64encode(admission.consent_signature).decode("ascii"),
            "title": "Signature of the patient", "creation": admission.created_at}
    match = f"identifier={_token(options.consent_system, key)}"
    entries.append((_urn(admission, "Consent"), consent, {"method": "PUT", "url": f"Consent?{match}"} if precheck
                    else {"method": "POST", "url": "Consent", "ifNoneExist": match}))
    if admission.test_data:               # sample patients: no hospital may take them for real ones
        for _, resource, _ in entries:
            resource.setdefault("meta", {}).setdefault("security", []).append(dict(TEST_DATA))
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"fullUrl": u, "resource": r, "request": q} for u, r, q in entries]}


def parse_transaction_response(body: dict) -> list[Entry]:
    """The entries of a transaction-response Bundle, in request order.

    ``location`` may be relative or absolute (``[base/]Type/id/_history/vid``); without ``_history`` the
    version comes from the entry's ETag (``W/"3"``). Versions are opaque strings.
    """
    out = []
    for e in body.get("entry") or ():
        response = e.get("response") or {}
        code = re.match(r"\s*(\d{3})", response.get("status", ""))
        parts = response.get("location", "").split("?")[0].rstrip("/").split("/")
        version = ""
        if "_history" in parts:
            at = parts.index("_history")
            version, parts = "/".join(parts[at + 1:at + 2]), parts[:at]
        version = version or response.get("etag", "").removeprefix("W/").strip('"')
        rtype, rid = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
        out.append(Entry(int(code.group(1)) if code else 0, rtype, rid, version))
    return out


def _issues(body: dict | None) -> list[dict]:
    if not isinstance(body, dict):
        return []
    if body.get("resourceType") == "OperationOutcome":
        return list(body.get("issue") or ())
    if body.get("resourceType") == "Bundle":
        return [i for e in body.get("entry") or () for i in _issues((e.get("response") or {}).get("outcome"))]
    return []


def outcome_summary(body: dict | None, limit: int = 300) -> str:
    """The OperationOutcome issues as one line for staff: ``error structure: <diagnostics>; ...``.

    Diagnostics are the server's words and may quote submitted values: show them at the desk, keep them
    out of logs and metrics.
    """
    parts = []
    for i in _issues(body):
        text = i.get("diagnostics") or (i.get("details") or {}).get("text") or ", ".join(i.get("expression", ()))
        parts.append(" ".join(f"{i.get('severity', '')} {i.get('code', '')}: {text}".split()))
    line = "; ".join(parts) or "no OperationOutcome"
    return line if len(line) <= limit else line[:limit - 1] + "…"


# Answers about the connection (credentials, address, proxy), not about the admission sent.
ENDPOINT_STATUSES = {401: "unauthorized", 403: "forbidden", 404: "http_404", 405: "http_405", 407: "http_407"}


def _retry_after(headers: Mapping, now: datetime | None) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)       # "-0000": UTC, says RFC 5322
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def classify(status_code: int | None, body: dict | None, headers: Mapping,
             now: datetime | None = None) -> Verdict:
    """Deliver, retry or dead-letter, from the answer to one transaction POST (FHIR R4 operationoutcome.html).

    ``status_code`` None means no answer (network error, timeout). Retried: no answer, 408, 409 (a write
    conflict on the server; every entry is conditional, so a resend is safe), 429, 500, 502, 503, 504 and
    any issue coded transient, lock-error, timeout or throttled, with Retry-After (seconds or HTTP date,
    measured from ``now``, an aware datetime) honoured. Also retried, because they are about the
    connection and not about this admission (every later one would fail alike, and setting them all
    aside would bury the fault under one incident each): 401 ``unauthorized``, 403 ``forbidden``, 404,
    405 and 407 (a wrong address or proxy), and a 2xx that is not a transaction-response (a proxy's page,
    ``unexpected_response``). Dead: 412 multiple-matches (``possible_duplicate_patient``: staff must
    merge), a 2xx holding a failed entry (a non-atomic server), anything else (``rejected``: 400, 422...).
    """
    if status_code is None:
        return Verdict("retry", "no_response")
    issues = _issues(body)
    if 200 <= status_code < 300:
        if not (isinstance(body, dict) and body.get("type") == "transaction-response"):
            return Verdict("retry", "unexpected_response")
        if any(e.status >= 400 for e in parse_transaction_response(body)):
            return Verdict("dead", "rejected")
        return Verdict("delivered", "ok")
    transient = next((i["code"] for i in issues if i.get("code") in RETRY_ISSUES), None)
    if transient or status_code in RETRY_STATUSES:
        return Verdict("retry", transient or f"http_{status_code}", _retry_after(headers, now))
    if status_code in ENDPOINT_STATUSES:
        return Verdict("retry", ENDPOINT_STATUSES[status_code])
    if status_code == 412 and any(i.get("code") == "multiple-matches" for i in issues):
        return Verdict("dead", "possible_duplicate_patient")
    return Verdict("dead", "rejected")


def appointment_search(identifier_system: str, identifier_value: str, day: date) -> tuple[str, dict]:
    """``(path, params)`` to find a patient's booked appointments on ``day``: GET ``[base]/<path>?<params>``.

    Chains through the Patient's identifier (``patient.identifier``); ``patient:identifier`` would only
    match appointments that name the patient by a logical reference. The day is the server's day. The
    Patient comes along (``_include``): its identifiers hold the hospital's own patient number.
    """
    return "Appointment", {"patient.identifier": f"{identifier_system}|{identifier_value}",
                           "date": day.isoformat(), "status": "booked", "_include": "Appointment:patient"}


def appointments_from(bundle: dict, patient_id_system: str = "") -> list[dict]:
    """The Appointments of a search Bundle as ``{"id", "start", "status", "description", "patient_number"}``;
    ``patient_number`` is the value of the included Patient's identifier of ``patient_id_system`` (the
    hospital's own number), "" when there is none or no system is given."""
    resources = [e.get("resource") or {} for e in bundle.get("entry") or ()]
    numbers = {}
    for r in resources:
        if r.get("resourceType") == "Patient" and patient_id_system:
            numbers[f"Patient/{r.get('id', '')}"] = next(
                (i.get("value", "") for i in r.get("identifier") or () if i.get("system") == patient_id_system), "")

    def number(appointment: dict) -> str:
        actors = ((p.get("actor") or {}).get("reference", "") for p in appointment.get("participant") or ())
        return next((numbers[ref] for ref in actors if numbers.get(ref)), "")

    return [{"id": r.get("id", ""), "start": r.get("start", ""), "status": r.get("status", ""),
             "description": r.get("description", ""), "patient_number": number(r)}
            for r in resources if r.get("resourceType") == "Appointment"]


def arrival_patch() -> list[dict]:
    """JSON Patch for ``PATCH [base]/Appointment/<id>`` (Content-Type application/json-patch+json).

    Its ``test`` makes a second patch fail (SEKMET: 422) instead of overwriting a later status; then read
    the Appointment again and ask ``arrived``.
    """
    return [{"op": "test", "path": "/status", "value": "booked"},
            {"op": "replace", "path": "/status", "value": "arrived"}]


def arrived(appointment: dict) -> bool:
    """True when the Appointment needs no arrival: already arrived, checked in or fulfilled."""
    return appointment.get("status") in ARRIVED
