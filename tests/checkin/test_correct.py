"""The patient corrects address and phone on the confirm screen: the flow (no GUI), the model's JSON and
FHIR shapes, and the corrected admission as a FHIR bundle and an HL7 v2 A04 that real peers accept."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from itertools import count

import hl7
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from kiosk import config
from kiosk.checkin import corrections, forms
from kiosk.hospital import fhir, outbox, transports
from kiosk.checkin.events import (AdmissionStored, Answered, Back, CallStaff, CardInserted, CardRead, ConsentGiven,
                                  CorrectDetails, DetailsConfirmed, DetailsCorrected, DraftChanged, IdleWarning,
                                  RaiseIncident, Start, StillHere)
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.session import State
from kiosk.hospital.hl7v2 import Hl7Options, adt
from kiosk.checkin.model import Address, Admission, CardData, IncidentKind, Person, Severity
from kiosk.paths import ASSETS
from kiosk.store import Store

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
FORM = forms.load("intake-basic")
# The eGK sample of assets/demo/patients.json (gematik test KVNR X110411675): Königsallee 12, 40212 Düsseldorf.
EGK = CardData.from_json(json.loads((ASSETS / "demo/patients.json").read_text(encoding="utf-8"))[0])
NEW = DetailsCorrected(("Hafenstraße 3",), "20457", "Hamburg", "0151 2345678")


@pytest.fixture
def kiosk():
    ids = count(1)
    return CheckIn(kiosk_id="lobby-1", languages=("de", "en", "tr", "fr"), form=FORM,
                   now=lambda: NOW, new_id=lambda: f"adm-{next(ids)}")


def on_confirm(kiosk, card=EGK):
    kiosk.handle(Start())
    kiosk.handle(CardInserted())
    kiosk.handle(CardRead(card))
    assert kiosk.state is State.CONFIRM


def finish(kiosk) -> tuple[Admission, list]:
    kiosk.handle(DetailsConfirmed())
    while kiosk.state is State.QUESTIONS:
        q = kiosk.question
        kiosk.handle(Answered(True if q.type == "boolean" else q.options[0].code))
    [save] = kiosk.handle(ConsentGiven(True))
    effects = kiosk.handle(AdmissionStored("A-001"))
    return save.admission, [e.incident for e in effects if isinstance(e, RaiseIncident)]


# --- the flow ---------------------------------------------------------------------------------------------

def test_the_patient_changes_address_and_phone_and_staff_get_a_low_incident_without_the_values(kiosk):
    on_confirm(kiosk)
    assert kiosk.handle(CorrectDetails()) == []
    assert kiosk.state is State.CORRECT
    assert kiosk.session.draft == {"street": "Königsallee 12", "postal_code": "40212", "city": "Düsseldorf",
                                   "phone": ""}, "the fields start with what the card has"
    assert kiosk.handle(NEW) == []
    assert kiosk.state is State.CONFIRM and kiosk.session.notice == ""
    assert not set(corrections.DRAFT_FIELDS) & set(kiosk.session.draft)
    assert kiosk.session.person == EGK.person, "the card's data stays as it was read"
    admission, raised = finish(kiosk)
    assert admission.person.address == Address(("Hafenstraße 3",), "20457", "Hamburg", "DE")
    assert admission.person.phone == "0151 2345678"
    assert admission.person.family == EGK.person.family and admission.person.identifiers == EGK.person.identifiers
    assert admission.patient_entered == ("address", "phone")
    [incident] = raised
    assert (incident.kind, incident.severity, incident.admission_id) == (
        IncidentKind.DETAILS_CORRECTED, Severity.LOW, "adm-1")
    assert incident.detail == "address,phone"


def test_only_the_phone_added(kiosk):
    on_confirm(kiosk)
    kiosk.handle(CorrectDetails())
    kiosk.handle(DetailsCorrected(("Königsallee  12",), "40212", " Düsseldorf", "+49 (211) 123-456"))
    admission, [incident] = finish(kiosk)
    assert admission.patient_entered == ("phone",) and incident.detail == "phone"
    assert admission.person.address == EGK.person.address, "the address untouched, as the card had it"
    assert admission.person.phone == "+49 (211) 123-456"


def test_a_correction_that_changes_nothing_is_no_correction(kiosk):
    on_confirm(kiosk)
    kiosk.handle(CorrectDetails())
    kiosk.handle(DetailsCorrected(("Königsallee 12",), "40212", "Düsseldorf", ""))
    assert kiosk.state is State.CONFIRM and kiosk.session.correction is None
    admission, raised = finish(kiosk)
    assert admission.patient_entered == () and admission.person == EGK.person
    assert raised == []


def test_changing_back_to_the_card_values_takes_the_correction_and_its_incident_away(kiosk):
    on_confirm(kiosk)
    kiosk.handle(CorrectDetails())
    kiosk.handle(NEW)
    kiosk.handle(CorrectDetails())
    assert kiosk.session.draft["city"] == "Hamburg", "a second visit starts with the corrected values"
    kiosk.handle(DetailsCorrected(("Königsallee 12",), "40212", "Düsseldorf", ""))
    admission, raised = finish(kiosk)
    assert admission.patient_entered == () and raised == []


def test_correcting_twice_raises_one_incident(kiosk):
    on_confirm(kiosk)
    kiosk.handle(CorrectDetails())
    kiosk.handle(DetailsCorrected(("Hafenstraße 3",), "20457", "Hamburg", ""))
    kiosk.handle(CorrectDetails())
    kiosk.handle(NEW)
    _, raised = finish(kiosk)
    assert [i.detail for i in raised] == ["address,phone"]


def test_back_from_correct_changes_nothing(kiosk):
    on_confirm(kiosk)
    kiosk.handle(CorrectDetails())
    kiosk.handle(DraftChanged("city", "Hamburg"))
    kiosk.handle(Back())
    assert kiosk.state is State.CONFIRM and kiosk.session.correction is None
    assert "city" not in kiosk.session.draft
    admission, raised = finish(kiosk)
    assert admission.person == EGK.person and raised == []


def test_back_from_correct_keeps_an_earlier_correction(kiosk):
    on_confirm(kiosk)
    kiosk.handle(CorrectDetails())
    kiosk.handle(NEW)
    kiosk.handle(CorrectDetails())
    kiosk.handle(DraftChanged("city", "Bremen"))
    kiosk.handle(Back())
    admission, raised = finish(kiosk)
    assert admission.person.address.city == "Hamburg" and [i.detail for i in raised] == ["address,phone"]


def test_back_from_confirm_forgets_the_correction(kiosk):
    on_confirm(kiosk)
    kiosk.handle(CorrectDetails())
    kiosk.handle(NEW)
    assert kiosk.state is State.CONFIRM and kiosk.session.correction is not None
    kiosk.handle(Back())
    assert kiosk.state is State.IDENTIFY and kiosk.session.correction is None and kiosk.session.pending == []


def test_what_was_typed_survives_help_and_the_idle_warning(kiosk):
    on_confirm(kiosk)
    kiosk.handle(CorrectDetails())
    kiosk.handle(DraftChanged("postal_code", "2045"))
    kiosk.handle(IdleWarning())
    kiosk.handle(StillHere())
    kiosk.handle(CallStaff())
    assert kiosk.state is State.HELP
    kiosk.handle(Back())
    assert kiosk.state is State.CORRECT and kiosk.session.draft["postal_code"] == "2045"


@pytest.mark.parametrize("typed, problem", [
    ((("Hafenstraße 3",), "2X", "Hamburg", ""), corrections.MSG_POSTAL_CODE),
    ((("Hafenstraße 3",), "20457 Hamburg", "Hamburg", ""), corrections.MSG_POSTAL_CODE),
    ((("Hafenstraße 3",), "", "Hamburg", ""), corrections.MSG_POSTAL_CODE),
    (((" ",), "20457", "Hamburg", ""), corrections.MSG_ADDRESS_INCOMPLETE),
    ((("Hafenstraße 3",), "20457", "", ""), corrections.MSG_ADDRESS_INCOMPLETE),
    (((), "20457", "", ""), corrections.MSG_ADDRESS_INCOMPLETE),
    ((("Hafenstraße 3",), "20457", "Hamburg", "12345"), corrections.MSG_PHONE),
    ((("Hafenstraße 3",), "20457", "Hamburg", "0151 2345678 9012345678"), corrections.MSG_PHONE),
    ((("Hafenstraße 3",), "20457", "Hamburg", "call me: 0151 2345678"), corrections.MSG_PHONE),
    ((("Hafenstraße 3",), "20457", "Hamburg", "+-/()  ()-+/"), corrections.MSG_PHONE),
])
def test_what_cannot_be_used_says_what_to_fix_and_keeps_the_patient_on_the_form(kiosk, typed, problem):
    on_confirm(kiosk)
    kiosk.handle(CorrectDetails())
    assert kiosk.handle(DetailsCorrected(*typed)) == []
    assert kiosk.state is State.CORRECT and kiosk.session.notice == problem
    assert kiosk.session.correction is None
    kiosk.handle(NEW)
    assert kiosk.state is State.CONFIRM and kiosk.session.notice == ""


@pytest.mark.parametrize("postal_code", ["1000", "SW1A 1AA", "75001", "1234-567", "d-40212"])
def test_postal_codes_of_many_countries_are_plausible(postal_code):
    correction, problem = corrections.correct(EGK.person, ("Rue X 1",), postal_code, "Y", "")
    assert problem == "" and correction.address.postal_code == postal_code.upper()


def test_a_patient_without_a_card_may_add_an_address(kiosk):
    from kiosk.checkin.events import ChooseName, NameEntered
    kiosk.handle(Start())
    kiosk.handle(ChooseName())
    kiosk.handle(NameEntered("Çelik", "Ayşe", "31.12.1990"))
    kiosk.handle(CorrectDetails())
    assert kiosk.session.draft == {"street": "", "postal_code": "", "city": "", "phone": ""}
    kiosk.handle(DetailsCorrected(("",), "", "", ""))
    assert kiosk.session.correction is None, "nothing typed, nothing changed"
    kiosk.handle(CorrectDetails())
    kiosk.handle(DetailsCorrected(("Hafenstraße 3",), "20457", "Hamburg", ""))
    admission, raised = finish(kiosk)
    assert admission.person.address == Address(("Hafenstraße 3",), "20457", "Hamburg", "")
    assert admission.patient_entered == ("address",)
    assert {i.kind for i in raised} == {IncidentKind.IDENTITY_UNVERIFIED, IncidentKind.DETAILS_CORRECTED}


def test_several_card_address_lines_left_as_they_were_are_unchanged():
    person = replace(EGK.person, address=Address(("c/o Schmidt", "Königsallee 12"), "40212", "Düsseldorf", "D"))
    assert corrections.draft(person)["street"] == "c/o Schmidt, Königsallee 12"
    correction, _ = corrections.correct(person, ("c/o Schmidt, Königsallee 12",), "40212", "Düsseldorf", "")
    assert correction.fields == () and correction.address is person.address


# Card addresses the correct screen's checks would refuse: a Postfach without a city, an address without a
# postal code, an Icelandic 3-digit postal code. Left as the card had them, they are not checked.
CARD_ADDRESSES_THAT_FAIL_THE_CHECKS = [
    Address(("Postfach 10 12 34",), "40002", "", "D"),
    Address(("Hauptstraße 5",), "", "Musterstadt", "D"),
    Address(("Laugavegur 1",), "101", "Reykjavík", "IS"),
]


@pytest.mark.parametrize("address", CARD_ADDRESSES_THAT_FAIL_THE_CHECKS)
def test_only_a_phone_added_to_a_card_address_the_checks_would_refuse(kiosk, address):
    card = replace(EGK, person=replace(EGK.person, address=address))
    on_confirm(kiosk, card)
    kiosk.handle(CorrectDetails())
    draft = dict(kiosk.session.draft)
    kiosk.handle(DetailsCorrected((draft["street"],), draft["postal_code"], draft["city"], "0151 2345678"))
    assert kiosk.state is State.CONFIRM and kiosk.session.notice == ""
    assert kiosk.session.correction.fields == ("phone",)
    admission, [incident] = finish(kiosk)
    assert admission.patient_entered == ("phone",) and incident.detail == "phone"
    assert admission.person.address == address and admission.person.phone == "0151 2345678"


@pytest.mark.parametrize("address", CARD_ADDRESSES_THAT_FAIL_THE_CHECKS)
def test_a_changed_address_is_checked_even_when_the_card_address_was_not(address):
    person = replace(EGK.person, address=address)
    draft = corrections.draft(person)
    _, problem = corrections.correct(person, ("Hafenstraße 3",), "2X", "Hamburg", "")
    assert problem == corrections.MSG_POSTAL_CODE
    _, problem = corrections.correct(person, (draft["street"] + " a",), draft["postal_code"], draft["city"], "")
    assert problem in (corrections.MSG_POSTAL_CODE, corrections.MSG_ADDRESS_INCOMPLETE)
    correction, problem = corrections.correct(person, (draft["street"],), draft["postal_code"], draft["city"], "")
    assert problem == "" and correction.fields == () and correction.address is person.address


def test_an_unchanged_phone_is_not_checked():
    person = replace(EGK.person, phone="12345")        # too short for the check, but what the record had
    correction, problem = corrections.correct(person, ("Königsallee 12",), "40212", "Düsseldorf", " 12345 ")
    assert problem == "" and correction.fields == ()
    _, problem = corrections.correct(person, ("Königsallee 12",), "40212", "Düsseldorf", "1234")
    assert problem == corrections.MSG_PHONE


def test_clearing_the_address_is_a_correction():
    correction, problem = corrections.correct(EGK.person, ("",), "", "", "")
    assert problem == "" and correction.fields == ("address",) and correction.address is None


# --- the model ----------------------------------------------------------------------------------------------

def test_phone_and_patient_entered_round_trip():
    person = replace(EGK.person, phone="0151 2345678")
    patient = person.to_fhir()
    assert patient["telecom"] == [{"system": "phone", "value": "0151 2345678", "use": "home"}]
    Patient.model_validate(patient)
    assert Person.from_fhir(patient) == person
    admission = Admission(id="a1", kiosk_id="lobby-1", created_at=NOW.isoformat(), language="de",
                          identified_by="card:egk", person=person, patient_entered=("address", "phone"))
    assert Admission.from_json(json.loads(json.dumps(admission.to_json()))) == admission


def test_an_admission_stored_before_corrections_existed_still_loads(tmp_path):
    old = {"id": "a1", "kiosk_id": "lobby-1", "created_at": NOW.isoformat(), "language": "de",
           "identified_by": "card:egk", "patient": EGK.person.to_fhir(), "coverage": None,
           "appointment_code": "", "answers": [], "consent": "accepted", "queue_number": "A-001"}
    loaded = Admission.from_json(old)
    assert loaded.patient_entered == () and loaded.person.phone == ""
    store = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    try:
        stored = store.save_admission(replace(loaded, patient_entered=("phone",),
                                              person=replace(loaded.person, phone="0151 2345678")))
        again = store.get_admission(stored.id)
        assert again.patient_entered == ("phone",) and again.person.phone == "0151 2345678"
    finally:
        store.close()


# --- FHIR and HL7 v2 ------------------------------------------------------------------------------------------

def corrected(n: int = 1) -> Admission:
    person = replace(EGK.person, address=Address(("Hafenstraße 3",), "20457", "Hamburg", "D"), phone="0151 2345678")
    return Admission(id=f"00000000-0000-4000-8000-{n:012d}", kiosk_id="lobby-1",
                     created_at=NOW.isoformat(timespec="seconds"), language="de", identified_by="card:egk",
                     person=person, coverage=EGK.coverage, patient_entered=("address", "phone"))


def test_the_bundle_marks_what_the_patient_entered_and_validates_as_r4():
    bundle = fhir.transaction(corrected())
    Bundle.model_validate(bundle)
    patient = bundle["entry"][0]["resource"]
    Patient.model_validate(patient)
    [tag] = patient["meta"]["tag"]
    assert (tag["system"], tag["code"]) == fhir.PATIENT_ENTERED_TAG
    assert tag["display"].endswith("address, phone") and "Hafen" not in tag["display"] and "0151" not in tag["display"]
    assert patient["address"] == [{"line": ["Hafenstraße 3"], "postalCode": "20457", "city": "Hamburg",
                                   "country": "D", "period": {"start": "2026-11-27"}}]
    assert patient["telecom"] == [{"system": "phone", "value": "0151 2345678", "use": "home",
                                   "period": {"start": "2026-11-27"}}]


def test_only_the_fields_the_patient_entered_are_marked():
    bundle = fhir.transaction(replace(corrected(), patient_entered=("phone",)))
    patient = bundle["entry"][0]["resource"]
    assert "period" not in patient["address"][0] and patient["telecom"][0]["period"] == {"start": "2026-11-27"}
    assert patient["meta"]["tag"][0]["display"].endswith(": phone")
    plain = fhir.transaction(replace(corrected(), patient_entered=()))["entry"][0]["resource"]
    assert "meta" not in plain and "period" not in plain["address"][0]


def test_the_a04_carries_address_and_phone_and_validates_strictly():
    text = adt(corrected(), "KIOSK-1", Hl7Options(), sent_at=NOW)
    message = hl7.parse(text)
    pid = message.segment("PID")
    assert [message.unescape(str(pid(11)(1)(c))) for c in (1, 3, 5, 6, 7)] == [
        "Hafenstraße 3", "Hamburg", "20457", "D", "H"]
    assert [str(pid(13)(1)(c)) for c in (1, 2, 3)] == ["0151 2345678", "PRN", "PH"]
    parsed = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT)
    assert parsed.validate()
    without = hl7.parse(adt(replace(corrected(), person=EGK.person), "KIOSK-1", Hl7Options(), sent_at=NOW))
    assert len(without.segment("PID")) <= 13 or str(without.segment("PID")(13)) == ""


def test_the_fhir_server_and_the_mllp_peer_accept_a_corrected_admission(tmp_path):
    from fhirserver import FhirServer
    from mllppeer import MllpPeer
    store = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    try:
        stored = store.save_admission(corrected(), destinations=("fhir", "hl7v2"))
        with FhirServer() as server, MllpPeer() as peer:
            for transport, url in (("fhir", server.base), ("hl7v2", peer.url)):
                settings = config.Settings(hospital=config.HospitalSettings(transport=transport, url=url, timeout_s=5.0))
                worker = outbox.Sync(store, transports.open_transport(settings), jitter=lambda: 0.0)
                assert worker.run_once().delivered == 1, transport
            [patient] = server.search("Patient", identifier="http://fhir.de/sid/gkv/kvid-10|X110411675")
            message = hl7.parse(peer.messages[0])
        assert [(t["system"], t["code"]) for t in patient["meta"]["tag"]] == [fhir.PATIENT_ENTERED_TAG]
        assert patient["telecom"][0]["value"] == "0151 2345678" and patient["address"][0]["city"] == "Hamburg"
        assert str(message.segment("PID")(13)(1)(1)) == "0151 2345678"
        assert str(message.segment("PV1")(19)) == stored.id
        assert [r["status"] for r in store.outbox()] == ["delivered", "delivered"]
    finally:
        store.close()
