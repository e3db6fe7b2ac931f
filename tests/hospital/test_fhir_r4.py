"""What the kiosk and the site service send over FHIR, validated against FHIR R4 4.0.1 itself (not the R4B models
of fhir.resources): Medplum's validator with the official StructureDefinitions, FHIRPath invariants and required
bindings (tests/support/fhirvalidator.py). Every transaction Bundle, from every sample card and a typed name,
every form answered both ways, consent given and declined, at the kiosk and as the site service's
pre-admission; and the forms themselves as Questionnaires. A resource that breaks R4 on purpose is refused, so
the check can fail."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from kiosk.checkin import answers, forms
from kiosk.checkin.model import Admission, Answer, Person
from kiosk.hardware.reader import sample_cards
from kiosk.hospital import fhir
from kiosk.hospital.fhir import FhirOptions
from kiosk.paths import ASSETS

FORMS = sorted(p.stem for p in (ASSETS / "forms").glob("*.json"))
CARDS = {card.card + ":" + card.person.family: card for card in sample_cards()} | {"typed name": None}
NOW = datetime(2026, 12, 8, 9, 30, tzinfo=timezone.utc).isoformat(timespec="seconds")


def answered(form, last: bool) -> tuple[Answer, ...]:
    """Every question the patient is shown, answered with the first (or the last) option, yes (or no), a number,
    a date or a word: the two ways cover each enableWhen branch of the project's forms."""
    given: dict = {}
    while (q := next((q for q in answers.enabled(form, given) if q.link_id not in given), None)) is not None:
        if q.options:
            option = q.options[-1 if last else 0]
            value = (option.system, option.code) if q.type == "coding" else option.code
            given[q.link_id] = (value,) if q.repeats else value
        else:
            given[q.link_id] = {"boolean": not last, "integer": 3, "decimal": 1.5, "date": "2026-11-30"}.get(
                q.type, "Kopfschmerzen")
    return tuple(Answer(k, v) for k, v in given.items())


def admission(card, form_name: str, *, last: bool, consent: str) -> Admission:
    form = forms.load(form_name)
    given = answered(form, last)
    person, coverage = (card.person, card.coverage) if card else (Person("Yılmaz", ("Ayşe",), birth_date="1990-02-03"), None)
    return Admission(id="00000000-0000-4000-8000-000000000001", kiosk_id="lobby-1", created_at=NOW, language="de",
                     identified_by=f"card:{card.card}" if card else "name", person=person, coverage=coverage,
                     answers=given, form_response=answers.form_response(form, given), consent=consent,
                     consent_text_id="0123456789abcdef", consent_signature=b"\x89PNG\r\n\x1a\n",
                     appointment_code="" if card else "AB12-CD34")


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("form_name", FORMS)
def test_every_bundle_sent_is_valid_r4_with_its_invariants_and_bindings(r4, card, form_name):
    for last, consent in ((False, "accepted"), (True, "declined")):
        made = admission(CARDS[card], form_name, last=last, consent=consent)
        for sent in (made, replace(made, precheck_id="inv-0001", appointment_id="appt-17")):
            for pre_admit in (False, True) if sent.precheck_id else (False,):
                bundle = fhir.transaction(sent, FhirOptions(), pre_admit=pre_admit)
                assert r4.sent_errors(bundle) == [], (card, form_name, last, consent, pre_admit)
    assert r4.sent_errors(fhir.transaction(replace(made, test_data=True))) == []          # the demo's samples


@pytest.mark.parametrize("form_name", FORMS)
def test_the_forms_are_valid_r4_questionnaires(r4, form_name):
    questionnaire = json.loads((ASSETS / "forms" / f"{form_name}.json").read_text(encoding="utf-8"))
    assert r4.errors(questionnaire) == []


def bundle_with(resource: dict) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0d9c9a8e-2f0b-4c1e-9a43-6f7d2f1b0c11", "resource": resource,
         "request": {"method": "POST", "url": resource["resourceType"]}}]}


def sent(kind: str) -> dict:
    bundle = fhir.transaction(admission(CARDS[next(iter(CARDS))], "intake-basic", last=False, consent="accepted"))
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


@pytest.mark.parametrize("broken, said", [
    (lambda: {k: v for k, v in sent("Consent").items() if k != "scope"}, "scope: Missing required property"),
    (lambda: {k: v for k, v in sent("Consent").items() if k not in ("policy", "policyRule")}, "Constraint ppc-1"),
    (lambda: {**sent("Patient"), "gender": "maennlich"}, '"maennlich" is not in the required ValueSet'),
    (lambda: {**sent("Encounter"), "status": "arrivd"}, '"arrivd" is not in the required ValueSet'),
    (lambda: {**sent("Consent"), "status": "accepted"}, '"accepted" is not in the required ValueSet'),
    (lambda: {**sent("Patient"), "gender": "maennlich", "_gender": {"id": "g"}}, '"maennlich" is not in the required'),
    (lambda: {**sent("Patient"), "birthDate": "14.07.1980"}, "Invalid date format"),
    (lambda: {**sent("Encounter"), "class": [sent("Encounter")["class"]]}, "Expected single value"),
])
def test_what_breaks_r4_is_refused_also_inside_a_bundle(r4, broken, said):
    resource = broken()
    for checked in (resource, bundle_with(resource)):
        assert any(said in error for error in r4.sent_errors(checked)), r4.sent_errors(checked)


def test_a_code_with_an_extension_is_checked_as_its_code(r4):
    assert r4.errors({**sent("Patient"), "gender": "other", "_gender": {"extension": [{
        "url": "http://fhir.de/StructureDefinition/gender-amtlich-de",
        "valueCoding": {"system": "http://fhir.de/CodeSystem/gender-amtlich-de", "code": "D"}}]}}) == []


def test_the_appointment_the_arrival_patch_leaves_is_valid_r4(r4):
    booked = {"resourceType": "Appointment", "id": "appt-17", "status": "booked",
              "start": "2026-12-08T09:30:00+01:00", "end": "2026-12-08T09:50:00+01:00",
              "participant": [{"actor": {"reference": "Patient/p-1"}, "status": "accepted"}]}
    patched = dict(booked)
    for step in fhir.arrival_patch():
        assert step["path"] == "/status"
        if step["op"] == "test":
            assert patched["status"] == step["value"]
        else:
            patched["status"] = step["value"]
    assert patched["status"] == "arrived" and r4.errors(patched) == []
    assert r4.errors({**booked, "status": "angekommen"}) != []
