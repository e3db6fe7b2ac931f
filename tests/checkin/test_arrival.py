"""A pre-checked patient's arrival in the check-in flow, with no GUI and no site service: the flow asks
(FindArrival), the test answers (ArrivalFound) as the site service would."""

from dataclasses import replace
from datetime import datetime, timezone
from itertools import count

import pytest

from kiosk.checkin import forms
from kiosk.checkin.events import (AdmissionStored, ArrivalFound, Back, CardInserted, CardRead, ChooseCode, CodeEntered,
                                  DetailsConfirmed, FindArrival, NotMe, Print, RaiseIncident, SaveAdmission, Scanned,
                                  Start, ThisIsMe, Wipe)
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.model import Address, CardData, Identifier, IncidentKind, Person, PreCheckIn
from kiosk.checkin.session import State

NOW = datetime(2026, 12, 8, 8, 30, tzinfo=timezone.utc)
KVNR = Identifier("http://fhir.de/sid/gkv/kvid-10", "A123456780")
FORM = forms.load("intake-basic")
QR = "KIOSK1:site-1:ABCDEFGHJK"

ARRIVAL = PreCheckIn(
    id="9f0c1d2e3a4b5c6d", language="tr", given="Ayşe", family_initial="Y", appointment_id="A-2026-000123",
    appointment_start="2026-12-08T09:30:00+01:00", location="Cardiology",
    person=Person("Yilmaz", ("Ayşe",), birth_date="1980-07-14", identifiers=(KVNR,),
                  address=Address(("Hauptstr. 5",), "10115", "Berlin"), phone="0171 2222222"),
    patient_entered=("address", "phone"), form=FORM.url, answers={"reason": "appointment"},
    consent="accepted", consent_text_id="0123456789abcdef", consent_signature=b"\x89PNG...")
CARD = CardData("egk", "3B", Person("Yilmaz", ("Ayşe",), birth_date="1980-07-14", identifiers=(KVNR,)))


@pytest.fixture
def kiosk():
    ids = count(1)
    return CheckIn(kiosk_id="lobby-1", languages=("de", "en", "tr", "fr"), form=FORM, find_arrivals=True,
                   now=lambda: NOW, new_id=lambda: f"adm-{next(ids)}")


def only(effects, kind):
    return [e for e in effects if isinstance(e, kind)]


def test_a_scan_on_the_welcome_screen_asks_then_is_this_you_then_the_ticket(kiosk):
    effects = kiosk.handle(Scanned(QR))
    assert effects == [FindArrival(code=QR)] and kiosk.state is State.ARRIVAL and kiosk.session.arrival is None
    assert kiosk.handle(ThisIsMe()) == []           # still looking it up: nothing to agree to
    kiosk.handle(ArrivalFound("code", ARRIVAL))
    assert kiosk.state is State.ARRIVAL and kiosk.session.arrival == ARRIVAL
    assert kiosk.session.language == "tr"           # as chosen at home
    [save] = kiosk.handle(ThisIsMe())
    assert kiosk.handle(ThisIsMe()) == []           # a second tap while it is saved
    admission = save.admission
    assert (admission.precheck_id, admission.identified_by, admission.appointment_id) == \
        ("9f0c1d2e3a4b5c6d", "precheck", "A-2026-000123")
    assert admission.person == ARRIVAL.person and admission.patient_entered == ("address", "phone")
    assert [(a.link_id, a.value) for a in admission.answers] == [("reason", "appointment")]
    assert admission.form_response.questionnaire == FORM.url and admission.form_response.items[0]["linkId"] == "reason"
    assert (admission.consent, admission.consent_text_id, admission.consent_signature) == \
        ("accepted", "0123456789abcdef", b"\x89PNG...")
    assert admission.language == "tr" and not admission.test_data
    effects = kiosk.handle(AdmissionStored("A-001"))
    assert kiosk.state is State.DONE and [p.kind for p in only(effects, Print)] == ["ticket"]
    assert not only(effects, RaiseIncident)         # nothing for staff: no question was asked twice


def test_not_me_forgets_everything(kiosk):
    kiosk.handle(Scanned(QR))
    kiosk.handle(ArrivalFound("code", ARRIVAL))
    assert only(kiosk.handle(NotMe()), Wipe)
    assert kiosk.state is State.WELCOME and kiosk.session.arrival is None and kiosk.session.language == "de"


@pytest.mark.parametrize("reason, incident", [("unreachable", None), ("refused", None), ("unknown", None),
                                              ("other_site", None), ("arrived", IncidentKind.ARRIVAL_CODE_USED)])
def test_nothing_found_is_a_sentence_and_the_kiosks_own_check_in(kiosk, reason, incident):
    kiosk.handle(Scanned(QR))
    effects = kiosk.handle(ArrivalFound("code", None, reason))
    assert kiosk.state is State.IDENTIFY and kiosk.session.notice
    assert [e.incident.kind for e in only(effects, RaiseIncident)] == ([incident] if incident else [])
    notices = {r: None for r in ("unreachable", "unknown", "other_site", "arrived")}
    for r in notices:
        flow = CheckIn(kiosk_id="k", languages=("en",), form=FORM, find_arrivals=True)
        flow.handle(Scanned(QR))
        flow.handle(ArrivalFound("code", None, r))
        notices[r] = flow.session.notice
    assert len(set(notices.values())) == 4          # each says its own reason


def test_a_scan_without_a_site_service_says_so(kiosk):
    kiosk.find_arrivals = False
    assert kiosk.handle(Scanned(QR)) == [] and kiosk.state is State.IDENTIFY and kiosk.session.notice


def test_a_typed_arrival_code_is_looked_up_and_an_appointment_code_is_not(kiosk):
    kiosk.handle(Start())
    kiosk.handle(ChooseCode())
    assert kiosk.handle(CodeEntered("A-77")) == [] and kiosk.state is State.ENTER_NAME
    kiosk.handle(Back())
    kiosk.handle(ChooseCode())
    assert kiosk.handle(CodeEntered("abcde-fghjk")) == [FindArrival(code="ABCDE-FGHJK")]
    kiosk.handle(ArrivalFound("code", None, "unknown"))     # no arrival code after all: an appointment code
    assert kiosk.state is State.ENTER_NAME and kiosk.session.appointment_code == "ABCDE-FGHJK"


def test_a_card_of_a_pre_checked_patient_is_offered_the_pre_check_in(kiosk):
    kiosk.handle(CardInserted())
    effects = kiosk.handle(CardRead(CARD))
    assert FindArrival(identifier=KVNR) in effects and kiosk.state is State.CONFIRM
    kiosk.handle(ArrivalFound("someone-else", ARRIVAL))      # not this patient's answer
    assert kiosk.state is State.CONFIRM
    kiosk.handle(ArrivalFound(KVNR.value, ARRIVAL))
    assert kiosk.state is State.ARRIVAL
    [save] = kiosk.handle(ThisIsMe())
    assert save.admission.identified_by == "card:egk" and save.admission.precheck_id == ARRIVAL.id


def test_a_card_without_a_pre_check_in_goes_on_as_always(kiosk):
    kiosk.handle(CardInserted())
    kiosk.handle(CardRead(CARD))
    assert kiosk.handle(ArrivalFound(KVNR.value, None, "unknown")) == [] and kiosk.state is State.CONFIRM
    assert kiosk.session.notice == ""


def test_a_late_answer_for_a_card_changes_nothing_once_the_patient_went_on(kiosk):
    kiosk.handle(CardInserted())
    kiosk.handle(CardRead(CARD))
    kiosk.handle(DetailsConfirmed())
    kiosk.handle(ArrivalFound(KVNR.value, ARRIVAL))
    assert kiosk.state is State.QUESTIONS and kiosk.session.arrival is None


def test_answers_to_another_form_are_asked_again_here(kiosk):
    kiosk.handle(Scanned(QR))
    kiosk.handle(ArrivalFound("code", replace(ARRIVAL, form="https://elsewhere.example/Questionnaire/x")))
    assert kiosk.state is State.IDENTIFY and kiosk.session.notice and kiosk.session.arrival is None


def test_answers_that_do_not_fit_the_form_are_asked_again_here(kiosk):
    kiosk.handle(Scanned(QR))
    kiosk.handle(ArrivalFound("code", replace(ARRIVAL, answers={"reason": "no-such-choice"})))
    assert kiosk.handle(ThisIsMe()) == [] and kiosk.state is State.IDENTIFY and not only([], SaveAdmission)
