"""Admissions waiting in the outbox while the intake form changes: each reaches the hospital with the answers
the patient gave, as the form asked them then (``Admission.form_response``, made when the patient finished),
not joined again with the form of the day of delivery. Delivered to a real FHIR server (SEKMET) and a real
MLLP receiver."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from fhirserver import FhirServer
from kiosk import config
from kiosk.checkin import forms
from kiosk.checkin.events import AdmissionStored, Answered, CardRead, ConsentGiven, DetailsConfirmed, Start
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.session import State
from kiosk.checkin.model import Admission, CardData, IncidentKind
from kiosk.hospital import outbox, transports
from kiosk.paths import ASSETS
from kiosk.store import Store
from mllppeer import MllpPeer

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
EGK = CardData.from_json(json.loads((ASSETS / "demo/patients.json").read_text(encoding="utf-8"))[0])
QUESTIONNAIRE = json.loads((ASSETS / "forms/intake-basic.json").read_text(encoding="utf-8"))
BEFORE = forms.parse(QUESTIONNAIRE)
ANSWERS = {"reason": "acute", "allergies": True, "contact-changed": False}


def changed_form() -> forms.Form:
    """The site's next version of the form: "allergies" is gone and "reason" is asked under a new linkId."""
    changed = copy.deepcopy(QUESTIONNAIRE)
    changed["version"] = "2"
    changed["item"] = [item for item in changed["item"] if item["linkId"] != "allergies"]
    for item in changed["item"]:
        if item["linkId"] == "reason":
            item["linkId"], item["text"] = "visit-reason", "What brings you here?"
    return forms.parse(changed)


def checked_in(n: int) -> Admission:
    """A patient checks in with the form as it is today, by card, answering every question."""
    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=BEFORE, now=lambda: NOW,
                    new_id=lambda: f"00000000-0000-4000-8000-{n:012d}")
    for event in (Start(), CardRead(EGK), DetailsConfirmed()):
        kiosk.handle(event)
    while kiosk.state is State.QUESTIONS:
        kiosk.handle(Answered(ANSWERS[kiosk.question.link_id]))
    [save] = kiosk.handle(ConsentGiven(True))
    kiosk.handle(AdmissionStored("A-001"))
    return save.admission


def as_stored_before(admission: Admission) -> dict:
    """The admission's JSON as the version before stored it: the answers alone, without the form as answered."""
    data = admission.to_json()
    del data["form_response"]
    return data


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    yield s
    s.close()


def hospital(transport: str, url: str) -> config.Settings:
    return config.Settings(hospital=config.HospitalSettings(transport=transport, url=url, timeout_s=5.0))


def deliver(store, settings: config.Settings) -> outbox.Progress:
    """The kiosk restarted with the changed form: its worker has that form for admissions stored before."""
    transport = transports.open_transport(settings)
    try:
        return outbox.Sync(store, transport, form=changed_form()).run_once(now_or_never=True)
    finally:
        transport.close()


def answers_in(response: dict) -> dict:
    """linkId: (question text, answers) of a QuestionnaireResponse of the form as it was."""
    assert response["questionnaire"] == "urn:kiosk:questionnaire:intake-basic"
    return {item["linkId"]: (item.get("text"), item["answer"]) for item in response["item"]}


AS_GIVEN = {
    "reason": ("Why are you here today?", [{"valueCoding": {
        "system": "urn:kiosk:intake-basic", "code": "acute", "display": "New complaint or pain"}}]),
    "allergies": ("Do you have any allergies to medicines?", [{"valueBoolean": True}]),
    "contact-changed": ("Has your phone number changed since your last visit?", [{"valueBoolean": False}]),
}


def test_a_queued_admission_reaches_the_fhir_server_with_the_answers_given_after_the_form_changed(store):
    store.save_admission(checked_in(1), destinations=("fhir",))
    with FhirServer() as server:
        progress = deliver(store, hospital("fhir", server.base))
        assert (progress.delivered, progress.dead) == (1, 0)
        [response] = server.search("QuestionnaireResponse")
    assert answers_in(response) == AS_GIVEN
    assert not store.incidents(None)


def test_a_queued_admission_reaches_the_drop_folder_with_the_answers_given_after_the_form_changed(store, tmp_path):
    stored = store.save_admission(checked_in(1), destinations=("folder",))
    progress = deliver(store, hospital("folder", f"file://{tmp_path}"))
    assert (progress.delivered, progress.dead) == (1, 0)
    bundle = json.loads((tmp_path / f"{stored.id}.json").read_text(encoding="utf-8"))
    [response] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    assert answers_in(response) == AS_GIVEN


def test_a_queued_admission_reaches_the_mllp_receiver_after_the_form_changed(store):
    stored = store.save_admission(checked_in(1), destinations=("hl7v2",))
    with MllpPeer() as peer:
        progress = deliver(store, hospital("hl7v2", peer.url))
        assert (progress.delivered, progress.dead) == (1, 0)
        [message] = peer.messages
    assert f"|{transports.control_id_for(stored)}|" in message and EGK.person.family in message
    assert not store.incidents(None)


def test_an_admission_stored_by_the_version_before_is_joined_with_the_form_of_today(store):
    """Admissions stored before they carried their form as answered: their answers meet the form at delivery, as
    they always did; answers the form of today still asks go, answers it no longer asks set it aside for staff."""
    no_longer_asked = Admission.from_json(as_stored_before(checked_in(1)))         # "reason", "allergies" are gone
    assert no_longer_asked.form_response is None
    fits = Admission.from_json({**as_stored_before(checked_in(2)),
                                "answers": [{"link_id": "contact-changed", "value": True}]})
    for admission in (no_longer_asked, fits):
        store.save_admission(admission, destinations=("fhir",))
    with FhirServer() as server:
        progress = deliver(store, hospital("fhir", server.base))
        [response] = server.search("QuestionnaireResponse")
    assert (progress.delivered, progress.dead) == (1, 1)
    assert [item["linkId"] for item in response["item"]] == ["contact-changed"]
    [refused] = store.outbox("dead")
    assert refused["admission_id"] == no_longer_asked.id and refused["last_error"].startswith("unsendable")
    assert [i["kind"] for i in store.incidents(None)] == [IncidentKind.SYNC_REJECTED.value]


def test_the_form_as_answered_is_stored_with_the_admission(store):
    admission = checked_in(1)
    assert admission.form_response.questionnaire == BEFORE.url
    assert [item["linkId"] for item in admission.form_response.items] == ["reason", "allergies", "contact-changed"]
    stored = store.save_admission(admission, destinations=("fhir",))
    assert store.get_admission(stored.id).form_response == admission.form_response
