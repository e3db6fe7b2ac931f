"""kiosk/hospital/fhir.py: admission transactions checked by the R4B models and sent to a real FHIR server (SEKMET,
tests/support/fhirserver.py), the answers classified, and a booked appointment marked arrived."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from fhirserver import FhirServer
from kiosk.hospital import fhir
from kiosk.checkin import forms
from kiosk.checkin.answers import form_response
from kiosk.hospital.fhir import FhirOptions, Verdict
from kiosk.checkin.model import Admission, Answer, CardData, Person
from kiosk.paths import ASSETS

FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
SEND = {**FHIR_JSON, "Prefer": "return=minimal"}          # what the sync worker sends with a transaction
FORM = forms.load("intake-basic")
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
# The two sample cards of assets/demo/patients.json: an eGK (gematik test KVNR X110411675, with its
# coverage) and a Belgian eID (the SSIN of the eID test card set), without coverage.
EGK, BEID = (CardData.from_json(c) for c in json.loads((ASSETS / "demo/patients.json").read_text(encoding="utf-8")))
KVNR = ("http://fhir.de/sid/gkv/kvid-10", "X110411675")
ANSWERS = (Answer("reason", "acute"), Answer("allergies", True), Answer("contact-changed", False))
TYPED = Person(family="Yılmaz", given=("Ayşe",), birth_date="1990-02-03")


def admission(n: int = 1, card: CardData | None = EGK, **changes) -> Admission:
    person, coverage = (card.person, card.coverage) if card else (TYPED, None)
    base = Admission(id=f"00000000-0000-4000-8000-{n:012d}", kiosk_id="lobby-1",
                     created_at=(NOW + timedelta(days=n - 1)).isoformat(timespec="seconds"), language="de",
                     identified_by=f"card:{card.card}" if card else "name", person=person, coverage=coverage,
                     answers=ANSWERS)
    base = replace(base, **changes)
    # The form as answered, made when the patient finished (kiosk.checkin.flow), unless the test gives one.
    return base if "form_response" in changes else replace(base, form_response=form_response(FORM, base.answers))


SAMPLES = {
    "egk": admission(),
    "beid declined": admission(2, BEID, consent="declined", language="fr"),
    "typed name with code": admission(3, None, appointment_code="AB12-CD34", answers=(Answer("reason", "appointment"),)),
    "no answers, in-progress": admission(4, answers=()),
    "found appointment": admission(5, appointment_id="a-17", appointment_code="AB12-CD34"),
}


@pytest.fixture
def server():
    with FhirServer() as s:
        yield s


def post(server, bundle) -> requests.Response:
    return requests.post(server.base, json=bundle, headers=SEND, timeout=10)


def statuses(response) -> list[int]:
    return [e.status for e in fhir.parse_transaction_response(response.json())]


# --- the bundle itself ---

@pytest.mark.parametrize("name", SAMPLES)
def test_bundle_is_valid_r4(name):
    options = FhirOptions(encounter_status="in-progress") if "in-progress" in name else FhirOptions()
    bundle = fhir.transaction(SAMPLES[name], options)
    Bundle.model_validate(bundle)
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert len(full_urls) == len(bundle["entry"])                                        # bdl-7
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        refs = [v["reference"] for v in _references(resource)]
        assert all(r in full_urls for r in refs if r.startswith("urn:uuid:"))            # all resolve in the bundle
    by_type = {e["resource"]["resourceType"]: e for e in bundle["entry"]}
    consent = by_type["Consent"]["resource"]
    assert consent.get("policy") or consent.get("policyRule")                              # ppc-1
    assert by_type["Encounter"]["resource"]["status"] == options.encounter_status


def _references(node):
    if isinstance(node, dict):
        if "reference" in node:
            yield node
        for v in node.values():
            yield from _references(v)
    elif isinstance(node, list):
        for v in node:
            yield from _references(v)


def test_bundle_content_follows_admission_and_form():
    bundle = fhir.transaction(SAMPLES["egk"])
    entries = {e["resource"]["resourceType"]: e for e in bundle["entry"]}
    assert list(entries) == ["Patient", "Coverage", "Encounter", "QuestionnaireResponse", "Consent"]
    assert entries["Patient"]["request"]["ifNoneExist"] == "identifier=http://fhir.de/sid/gkv/kvid-10|X110411675"
    assert entries["Coverage"]["resource"]["beneficiary"] == {"reference": entries["Patient"]["fullUrl"]}
    qr = entries["QuestionnaireResponse"]["resource"]
    assert qr["questionnaire"] == "urn:kiosk:questionnaire:intake-basic"
    assert qr["encounter"] == {"reference": entries["Encounter"]["fullUrl"]}
    # a choice answer carries the Coding of the form's answerOption (system and code)
    assert qr["item"][0]["answer"] == [{"valueCoding": {"system": "urn:kiosk:intake-basic", "code": "acute",
                                                        "display": "New complaint or pain"}}]
    assert [i["answer"][0] for i in qr["item"][1:]] == [{"valueBoolean": True}, {"valueBoolean": False}]
    assert entries["Encounter"]["resource"]["period"] == {"start": "2026-11-27T09:30:00+00:00"}
    consent = entries["Consent"]["resource"]
    assert (consent["status"], consent["provision"]["type"]) == ("active", "permit")
    assert consent["category"][0]["coding"][0]["code"] == "59284-0"
    declined = {e["resource"]["resourceType"]: e["resource"] for e in
                fhir.transaction(SAMPLES["beid declined"])["entry"]}
    assert "Coverage" not in declined
    assert (declined["Consent"]["status"], declined["Consent"]["provision"]["type"]) == ("rejected", "deny")


def test_bundle_is_the_same_for_the_same_admission():
    first = fhir.transaction(SAMPLES["egk"])
    stored_and_loaded = Admission.from_json(json.loads(json.dumps(SAMPLES["egk"].to_json())))
    assert json.dumps(fhir.transaction(stored_and_loaded)) == json.dumps(first)
    other = fhir.transaction(admission(9))
    assert not {e["fullUrl"] for e in first["entry"]} & {e["fullUrl"] for e in other["entry"]}


@pytest.mark.parametrize("bad, message", [
    (admission(answers=(Answer("pets", True),), form_response=None), "pets"),
    (admission(answers=(Answer("reason", "bored"),), form_response=None), "options"),
    (admission(answers=(Answer("allergies", "yes"),), form_response=None), "true or false"),
    (admission(consent="maybe"), "consent"),
])
def test_answers_outside_the_form_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        fhir.transaction(replace(bad, form_response=form_response(FORM, bad.answers)))


def test_answers_without_the_form_they_answer_are_refused():
    with pytest.raises(ValueError, match="no form response"):
        fhir.transaction(admission(form_response=None))
    assert fhir.transaction(admission(answers=(), form_response=None))    # no answers: nothing to join


# --- against SEKMET ---

def test_egk_patient_is_created_once_even_when_sent_twice(server):
    bundle = fhir.transaction(SAMPLES["egk"])
    first = post(server, bundle)
    assert first.status_code == 200
    assert statuses(first) == [201] * 5
    assert fhir.classify(first.status_code, first.json(), first.headers) == Verdict("delivered", "ok")
    again = post(server, bundle)                         # the first answer was lost: the outbox sends again
    assert again.status_code == 200 and set(statuses(again)) == {200}
    assert [(e.type, e.id) for e in fhir.parse_transaction_response(again.json())] == \
        [(e.type, e.id) for e in fhir.parse_transaction_response(first.json())]
    counts = {t: server.count(t) for t in ("Patient", "Encounter", "Coverage", "QuestionnaireResponse", "Consent")}
    assert counts == dict.fromkeys(counts, 1)
    patient_id = fhir.parse_transaction_response(first.json())[0].id
    qr = server.search("QuestionnaireResponse")[0]
    assert qr["subject"] == qr["source"] == {"reference": f"Patient/{patient_id}"}


def test_second_visit_reuses_patient_and_coverage(server):
    first, second = (post(server, fhir.transaction(admission(n))) for n in (1, 2))
    assert statuses(first) == [201] * 5
    assert statuses(second) == [200, 200, 201, 201, 201]       # Patient and Coverage were there already
    assert server.count("Patient") == 1 and server.count("Coverage") == 1
    assert server.count("Encounter", **{"patient.identifier": "|".join(KVNR)}) == 2
    assert server.count("Consent", **{"patient.identifier": "|".join(KVNR)}) == 2


def test_new_insurer_adds_a_coverage(server):
    post(server, fhir.transaction(admission(1)))
    switched = replace(EGK.coverage, payor_id="101575519", payor_name="Techniker Krankenkasse")
    assert statuses(post(server, fhir.transaction(admission(2, coverage=switched))))[:2] == [200, 201]
    assert server.count("Patient") == 1 and server.count("Coverage") == 2


def test_typed_name_patient_gets_a_patient_per_check_in(server):
    typed = SAMPLES["typed name with code"]
    bundle = fhir.transaction(typed)
    assert statuses(post(server, bundle)) == [201] * 4                       # no Coverage without a card
    assert set(statuses(post(server, bundle))) == {200}
    assert statuses(post(server, fhir.transaction(admission(5, None))))[0] == 201   # same name, new visit
    assert server.count("Patient", family="Yılmaz") == 2
    patient = server.search("Patient", identifier=f"urn:kiosk:patient|{typed.id}")[0]
    encounter = server.search("Encounter", patient=f"Patient/{patient['id']}")[0]
    assert encounter["appointment"] == [{"type": "Appointment", "identifier": {
        "system": "urn:kiosk:appointment-code", "value": "AB12-CD34"}}]


def test_belgian_eid_patient_with_declined_consent(server):
    response = post(server, fhir.transaction(SAMPLES["beid declined"]))
    assert response.status_code == 200 and statuses(response) == [201] * 4
    ssin = BEID.person.identifiers[0]
    [consent] = server.search("Consent", **{"patient.identifier": f"{ssin.system}|{ssin.value}"})
    assert (consent["status"], consent["provision"]["type"]) == ("rejected", "deny")
    assert server.count("Coverage") == 0


def test_two_patients_with_one_identifier_are_a_possible_duplicate(server):
    for _ in range(2):
        server.create(EGK.person.to_fhir())
    response = post(server, fhir.transaction(SAMPLES["egk"]))
    assert response.status_code == 412
    verdict = fhir.classify(response.status_code, response.json(), response.headers)
    assert verdict == Verdict("dead", "possible_duplicate_patient")
    assert "multiple-matches" in fhir.outcome_summary(response.json())
    assert server.count("Encounter") == 0                     # all or nothing


def test_structurally_bad_resource_is_rejected_with_a_readable_summary(server):
    bad = admission(person=replace(EGK.person, birth_date="21.03.1958"))        # as printed, not ISO
    response = post(server, fhir.transaction(bad))
    assert response.status_code == 400
    assert fhir.classify(response.status_code, response.json(), response.headers) == Verdict("dead", "rejected")
    summary = fhir.outcome_summary(response.json())
    assert summary.startswith("error structure:") and "birthDate" in summary and "\n" not in summary
    assert len(summary) <= 300
    assert server.count("Patient") == 0


def test_server_output_holds_no_patient_data(server, capfd, caplog):
    post(server, fhir.transaction(SAMPLES["egk"]))
    post(server, fhir.transaction(admission(2, person=replace(EGK.person, birth_date="21.03.1958"))))
    server.fail_next(500, after_commit=True)
    post(server, fhir.transaction(admission(3)))
    server.count("Patient", identifier="|".join(KVNR))
    out, err = capfd.readouterr()
    for text in (out, err, caplog.text):
        assert KVNR[1] not in text and "Lüdenscheidt" not in text


# --- classify ---

OO = {"resourceType": "OperationOutcome"}
RESPONSE = {"resourceType": "Bundle", "type": "transaction-response",
            "entry": [{"response": {"status": "201 Created", "location": "Patient/1/_history/1"}}]}


def oo(code):
    return {**OO, "issue": [{"severity": "error", "code": code, "diagnostics": "..."}]}


@pytest.mark.parametrize("status, body, headers, expected", [
    (None, None, {}, Verdict("retry", "no_response")),
    (200, RESPONSE, {}, Verdict("delivered", "ok")),
    (200, {**OO, "issue": []}, {}, Verdict("retry", "unexpected_response")),   # e.g. a proxy answered
    (200, None, {}, Verdict("retry", "unexpected_response")),
    (200, {**RESPONSE, "entry": [{"response": {"status": "412 Precondition Failed"}}]}, {},
     Verdict("dead", "rejected")),                                        # a non-atomic server's half-done transaction
    (408, None, {}, Verdict("retry", "http_408")),
    (409, oo("conflict"), {}, Verdict("retry", "http_409")),
    (429, oo("throttled"), {"Retry-After": "120"}, Verdict("retry", "throttled", 120.0)),
    (500, oo("exception"), {}, Verdict("retry", "http_500")),
    (502, None, {"retry-after": "5"}, Verdict("retry", "http_502", 5.0)),
    (503, None, {"Retry-After": format_datetime(NOW + timedelta(seconds=90), usegmt=True)},
     Verdict("retry", "http_503", 90.0)),
    (503, None, {"Retry-After": format_datetime(NOW - timedelta(hours=1), usegmt=True)},
     Verdict("retry", "http_503", 0.0)),
    (503, None, {"Retry-After": "Fri, 27 Nov 2026 09:31:00 -0000"}, Verdict("retry", "http_503", 60.0)),
    (503, None, {"Retry-After": "soon"}, Verdict("retry", "http_503")),
    (504, None, {}, Verdict("retry", "http_504")),
    (400, oo("transient"), {}, Verdict("retry", "transient")),
    (422, oo("lock-error"), {}, Verdict("retry", "lock-error")),
    (400, oo("timeout"), {}, Verdict("retry", "timeout")),
    (400, oo("structure"), {}, Verdict("dead", "rejected")),
    (401, None, {}, Verdict("retry", "unauthorized")),
    (403, oo("forbidden"), {}, Verdict("retry", "forbidden")),
    (404, oo("not-supported"), {}, Verdict("retry", "http_404")),
    (405, None, {}, Verdict("retry", "http_405")),
    (410, None, {}, Verdict("dead", "rejected")),
    (412, oo("multiple-matches"), {}, Verdict("dead", "possible_duplicate_patient")),
    (412, oo("conflict"), {}, Verdict("dead", "rejected")),
    (422, oo("business-rule"), {"Retry-After": "5"}, Verdict("dead", "rejected")),
])
def test_classify(status, body, headers, expected):
    assert fhir.classify(status, body, headers, now=NOW) == expected


@pytest.mark.parametrize("response, expected", [
    ({"status": "201 Created", "location": "http://h/fhir/Patient/p1/_history/3"}, fhir.Entry(201, "Patient", "p1", "3")),
    ({"status": "200 OK", "location": "Encounter/e-7", "etag": 'W/"a1b2"'}, fhir.Entry(200, "Encounter", "e-7", "a1b2")),
    ({"status": "200"}, fhir.Entry(200, "", "", "")),
])
def test_parse_transaction_response(response, expected):
    assert fhir.parse_transaction_response({"entry": [{"response": response}]}) == [expected]


def test_outcome_summary_is_one_short_line():
    body = {**OO, "issue": [{"severity": "error", "code": "required", "diagnostics": "Encounter.class\n  missing\n"},
                            {"severity": "warning", "code": "invalid", "expression": ["Patient.gender"]}]}
    assert fhir.outcome_summary(body) == "error required: Encounter.class missing; warning invalid: Patient.gender"
    assert len(fhir.outcome_summary({**OO, "issue": [{"severity": "error", "code": "x",
                                                      "diagnostics": "y" * 1000}]})) == 300
    assert fhir.outcome_summary(None) == "no OperationOutcome"


# --- appointments ---

MRN_SYSTEM = "urn:oid:1.2.276.0.76.3.1.999.1"      # a hospital's patient number system (hospital.patient_id_system)


def test_appointment_search_and_arrival(server):
    # The hospital's Patient: the card's KVNR and the hospital's own number (its MRN), which comes along.
    patient = SAMPLES["egk"].person.to_fhir()
    patient["identifier"].append({"system": MRN_SYSTEM, "value": "M-0012345"})
    patient_id = server.create(patient)["id"]
    other = server.create(BEID.person.to_fhir())["id"]

    def book(who, start, status="booked", description="Kardiologie, Kontrolle"):
        return server.create({"resourceType": "Appointment", "status": status, "description": description,
                              "start": start, "end": start.replace(":00:00Z", ":30:00Z"),
                              "participant": [{"actor": {"reference": f"Patient/{who}"}, "status": "accepted"}]})

    booked = book(patient_id, "2026-11-27T10:00:00Z")
    book(patient_id, "2026-11-28T10:00:00Z")                        # tomorrow
    book(patient_id, "2026-11-27T14:00:00Z", status="cancelled")
    book(other, "2026-11-27T11:00:00Z")                             # someone else
    path, params = fhir.appointment_search(*KVNR, date(2026, 11, 27))
    found = requests.get(f"{server.base}/{path}", params=params, headers={**FHIR_JSON, "Prefer": "handling=strict"},
                         timeout=10)
    assert found.status_code == 200
    assert fhir.appointments_from(found.json()) == [{"id": booked["id"], "start": "2026-11-27T10:00:00Z",
                                                     "status": "booked", "description": "Kardiologie, Kontrolle",
                                                     "patient_number": ""}]
    assert [a["patient_number"] for a in fhir.appointments_from(found.json(), MRN_SYSTEM)] == ["M-0012345"]
    assert [a["patient_number"] for a in fhir.appointments_from(found.json(), "urn:oid:9.9")] == [""]
    assert not fhir.arrived(booked)

    url = f"{server.base}/Appointment/{booked['id']}"
    patch_headers = {"Content-Type": "application/json-patch+json", "Accept": "application/fhir+json"}
    first = requests.patch(url, json=fhir.arrival_patch(), headers=patch_headers, timeout=10)
    assert first.status_code == 200 and first.json()["status"] == "arrived"
    again = requests.patch(url, json=fhir.arrival_patch(), headers=patch_headers, timeout=10)
    assert again.status_code == 422                                   # the test op failed: re-read and ask
    assert fhir.arrived(requests.get(url, headers=FHIR_JSON, timeout=10).json())
    assert fhir.appointments_from(requests.get(f"{server.base}/{path}", params=params, headers=FHIR_JSON,
                                               timeout=10).json()) == []
    # the admission then names the appointment it arrived for
    post(server, fhir.transaction(admission(2, appointment_id=booked["id"])))
    encounter = server.search("Encounter", identifier=f"urn:kiosk:admission|{admission(2).id}")[0]
    assert encounter["appointment"] == [{"type": "Appointment", "reference": f"Appointment/{booked['id']}"}]


# --- the test server's faults ---

def test_fail_next_answers_before_the_server_sees_the_request(server):
    bundle = fhir.transaction(SAMPLES["egk"])
    server.fail_next(503, retry_after=7, times=2)
    assert server.count("Patient") == 0                               # the helper's own calls pass
    for _ in range(2):
        response = post(server, bundle)
        assert response.status_code == 503 and response.headers["Retry-After"] == "7"
        assert fhir.classify(response.status_code, response.json(), response.headers) == \
            Verdict("retry", "transient", 7.0)
    assert server.count("Patient") == 0
    server.fail_next(400)
    response = post(server, bundle)
    assert fhir.classify(response.status_code, response.json(), response.headers) == Verdict("dead", "rejected")
    assert "fault injected" in fhir.outcome_summary(response.json())
    assert post(server, bundle).status_code == 200


def test_fail_next_after_commit(server):
    bundle = fhir.transaction(SAMPLES["egk"])
    server.fail_next(500, after_commit=True)
    response = post(server, bundle)
    assert response.status_code == 500 and fhir.classify(500, response.json(), response.headers).kind == "retry"
    assert server.count("Patient") == 1 and server.count("Encounter") == 1
    assert set(statuses(post(server, bundle))) == {200}


def test_held_response_is_committed_and_a_resend_creates_nothing(server):
    bundle = fhir.transaction(SAMPLES["egk"])
    server.hold_responses()
    with pytest.raises(requests.Timeout):
        requests.post(server.base, json=bundle, headers=SEND, timeout=0.5)
    assert server.wait_held(1)
    assert server.count("Encounter") == 1                              # committed, the answer lost
    server.release()
    response = post(server, bundle)
    assert fhir.classify(response.status_code, response.json(), response.headers).kind == "delivered"
    assert set(statuses(response)) == {200}
    assert server.count("Patient") == 1 and server.count("Encounter") == 1


def test_stop_ends_the_server_even_with_a_held_response():
    server = FhirServer()
    server.hold_responses()
    with pytest.raises(requests.Timeout):
        requests.get(f"{server.base}/Patient", timeout=0.5)
    assert server.wait_held(1)
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.base}/metadata", timeout=2)
