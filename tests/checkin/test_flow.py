"""The check-in flow, driven like a patient would drive it, with no GUI."""

from dataclasses import replace
from datetime import datetime, timezone
from itertools import count

import pytest

from kiosk.checkin import answers, forms
from kiosk.checkin.events import (AdmissionFailed, AdmissionStored, Answered, Back, CallStaff, CardFailed, CardInserted,
                                  CardRead, CardRemoved, ChooseCode, ChooseLanguage, ChooseName, CodeEntered, ConsentGiven,
                                  DetailsConfirmed, DetailsWrong, DraftChanged, Finish, IdleTimeout, IdleWarning,
                                  NameEntered, PrintFinished, Print, RaiseIncident, ReaderFault, SaveAdmission, Start,
                                  StillHere, Wipe)
from kiosk.checkin.dates import is_partial_date
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.identify import parse_birth_date
from kiosk.checkin.session import State
from kiosk.checkin.model import CardData, Coverage, Identifier, IncidentKind, Person, Severity

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)

# The eGK sample of assets/demo/patients.json (KVNR X110411675 is the test number of the gematik samples).
EGK = CardData(
    card="egk", atr="3BD396FF81B1FE451F078081052D",
    person=Person(family="Müller-Lüdenscheidt", given=("Jürgen",), birth_date="1958-03-21", gender="male"),
    coverage=Coverage(payor_system="http://fhir.de/sid/arge-ik/iknr", payor_id="109500969",
                      payor_name="Test GKV", subscriber_id="X110411675", start="2020-01-01"))


@pytest.fixture
def kiosk():
    ids = count(1)
    return CheckIn(kiosk_id="lobby-1", languages=("de", "en", "tr", "fr"), form=forms.load("intake-basic"),
                   now=lambda: NOW, new_id=lambda: f"adm-{next(ids)}")


def incidents(effects):
    return [e.incident for e in effects if isinstance(e, RaiseIncident)]


def answer_all(kiosk):
    while kiosk.state is State.QUESTIONS:
        q = kiosk.question
        assert kiosk.handle(Answered(True if q.type == "boolean" else q.options[0].code)) == []


def check_in_with_card(kiosk, card=EGK):
    kiosk.handle(Start())
    kiosk.handle(CardInserted())
    kiosk.handle(CardRead(card))
    kiosk.handle(DetailsConfirmed())
    answer_all(kiosk)
    return kiosk.handle(ConsentGiven(True))


def test_patient_inserts_card_and_leaves_with_a_ticket(kiosk):
    assert kiosk.state is State.WELCOME
    kiosk.handle(ChooseLanguage("en"))
    assert kiosk.handle(Start()) == []
    assert kiosk.state is State.IDENTIFY
    kiosk.handle(CardInserted())
    assert kiosk.session.reading
    kiosk.handle(CardRead(EGK))
    assert kiosk.state is State.CONFIRM
    assert kiosk.session.person.family == "Müller-Lüdenscheidt"
    kiosk.handle(DetailsConfirmed())
    assert kiosk.state is State.QUESTIONS and kiosk.question.link_id == "reason"
    kiosk.handle(Answered("acute"))
    kiosk.handle(Answered(False))
    kiosk.handle(Answered(True))
    assert kiosk.state is State.CONSENT

    [save] = kiosk.handle(ConsentGiven(True))
    assert isinstance(save, SaveAdmission)
    admission = save.admission
    assert admission.id == "adm-1" and admission.language == "en" and admission.identified_by == "card:egk"
    assert admission.person == EGK.person and admission.coverage == EGK.coverage
    assert [(a.link_id, a.value) for a in admission.answers] == [
        ("reason", "acute"), ("allergies", False), ("contact-changed", True)]
    assert admission.consent == "accepted" and admission.created_at == "2026-11-27T09:30:00+00:00"
    assert kiosk.state is State.CONSENT, "nothing is shown as done before the admission is stored"

    [print_ticket] = kiosk.handle(AdmissionStored("A-007"))
    assert print_ticket.kind == "ticket" and print_ticket.admission.queue_number == "A-007"
    assert kiosk.state is State.DONE and kiosk.session.print_status == "printing"
    assert kiosk.handle(PrintFinished("adm-1", "ticket", "printed")) == []
    assert kiosk.session.print_status == "printed"

    assert kiosk.handle(Finish()) == [Wipe()]
    assert kiosk.state is State.WELCOME
    assert kiosk.session.person is None and kiosk.session.language == "de"


def test_inserting_a_card_on_the_welcome_screen_starts_the_check_in(kiosk):
    kiosk.handle(CardInserted())
    assert kiosk.state is State.IDENTIFY and kiosk.session.reading
    kiosk.handle(CardRead(EGK))
    assert kiosk.state is State.CONFIRM


def test_a_second_tap_on_consent_saves_only_once(kiosk):
    check_in_with_card(kiosk)
    assert kiosk.handle(ConsentGiven(True)) == []


def test_declining_consent_is_recorded_not_blocked(kiosk):
    kiosk.handle(Start())
    kiosk.handle(CardRead(EGK))
    kiosk.handle(DetailsConfirmed())
    answer_all(kiosk)
    [save] = kiosk.handle(ConsentGiven(False))
    assert save.admission.consent == "declined"
    kiosk.handle(AdmissionStored("A-001"))
    assert kiosk.state is State.DONE


def test_patient_without_card_types_name_and_birth_date(kiosk):
    kiosk.handle(Start())
    kiosk.handle(ChooseName())
    assert kiosk.state is State.ENTER_NAME
    kiosk.handle(NameEntered(family="  Çelik ", given="Ayşe  Nur", birth_date="31.12.1990"))
    assert kiosk.state is State.CONFIRM
    person = kiosk.session.person
    assert (person.family, person.given, person.birth_date) == ("Çelik", ("Ayşe", "Nur"), "1990-12-31")
    kiosk.handle(DetailsConfirmed())
    answer_all(kiosk)
    [save] = kiosk.handle(ConsentGiven(True))
    assert save.admission.identified_by == "name" and save.admission.coverage is None
    effects = kiosk.handle(AdmissionStored("A-002"))
    [unverified] = incidents(effects)
    assert unverified.kind is IncidentKind.IDENTITY_UNVERIFIED and unverified.admission_id == "adm-1"


@pytest.mark.parametrize("family, given, birth_date, notice", [
    ("", "Ayşe", "31.12.1990", "first name and your last name"),
    ("Çelik", " ", "31.12.1990", "first name and your last name"),
    ("Çelik", "Ayşe", "31.02.1990", "day.month.year"),
    ("Çelik", "Ayşe", "yesterday", "day.month.year"),
    ("Çelik", "Ayşe", "01.01.2030", "day.month.year"),
])
def test_typed_details_that_cannot_be_used_say_what_to_fix(kiosk, family, given, birth_date, notice):
    kiosk.handle(Start())
    kiosk.handle(ChooseName())
    assert kiosk.handle(NameEntered(family, given, birth_date)) == []
    assert kiosk.state is State.ENTER_NAME
    assert notice in kiosk.session.notice


def test_appointment_code_is_kept_and_the_patient_still_says_who_they_are(kiosk):
    kiosk.handle(Start())
    kiosk.handle(ChooseCode())
    kiosk.handle(CodeEntered("x"))
    assert kiosk.state is State.ENTER_CODE and "4 to 20" in kiosk.session.notice
    kiosk.handle(CodeEntered(" ab12-cd34 "))
    assert kiosk.state is State.ENTER_NAME and kiosk.session.appointment_code == "AB12-CD34"
    kiosk.handle(NameEntered("Dubois-Lefèvre", "Marie-Claire", "1985-07-30"))
    kiosk.handle(DetailsConfirmed())
    answer_all(kiosk)
    [save] = kiosk.handle(ConsentGiven(True))
    assert save.admission.identified_by == "code" and save.admission.appointment_code == "AB12-CD34"
    assert save.admission.person.given == ("Marie-Claire",), "a hyphenated given name stays one entry"


def test_card_pulled_out_during_the_read_gives_another_way_in_and_an_incident(kiosk):
    kiosk.handle(Start())
    kiosk.handle(CardInserted())
    [incident] = incidents(kiosk.handle(CardRemoved()))
    assert incident.kind is IncidentKind.CARD_REMOVED
    assert kiosk.state is State.IDENTIFY and not kiosk.session.reading
    assert "taken out" in kiosk.session.notice
    kiosk.handle(ChooseName())
    assert kiosk.state is State.ENTER_NAME


def test_taking_the_card_out_after_it_was_read_is_fine(kiosk):
    kiosk.handle(CardInserted())
    kiosk.handle(CardRead(EGK))
    assert kiosk.handle(CardRemoved()) == []
    assert kiosk.state is State.CONFIRM and kiosk.session.notice == ""


@pytest.mark.parametrize("reason, kind, words", [
    ("unsupported", IncidentKind.CARD_UNSUPPORTED, "cannot be used here"),
    ("unreadable", IncidentKind.CARD_UNREADABLE, "could not be read"),
])
def test_a_card_that_fails_says_so_and_offers_other_ways(kiosk, reason, kind, words):
    kiosk.handle(CardInserted())
    [incident] = incidents(kiosk.handle(CardFailed(reason)))
    assert incident.kind is kind
    assert kiosk.state is State.IDENTIFY and words in kiosk.session.notice


def test_reader_unplugged_is_a_high_severity_incident(kiosk):
    kiosk.handle(Start())
    [incident] = incidents(kiosk.handle(ReaderFault("reader_unplugged")))
    assert incident.kind is IncidentKind.READER_FAULT and incident.severity is Severity.HIGH
    assert "not working" in kiosk.session.notice


def test_ended_coverage_goes_to_staff_with_the_admission(kiosk):
    ended = CardData("egk", "", EGK.person, Coverage(subscriber_id="X110411675", start="2019-01-01",
                                                     end="2026-06-30"))
    kiosk.handle(CardRead(ended))
    assert "has ended" in kiosk.session.notice
    kiosk.handle(DetailsConfirmed())
    answer_all(kiosk)
    kiosk.handle(ConsentGiven(True))
    effects = kiosk.handle(AdmissionStored("A-003"))
    [incident] = incidents(effects)
    assert incident.kind is IncidentKind.COVERAGE_ENDED and incident.admission_id == "adm-1"
    assert effects[-1] == Print(effects[-1].admission, "ticket")


def test_call_staff_from_every_screen_and_go_back(kiosk):
    kiosk.handle(Start())
    kiosk.handle(CardRead(EGK))
    [incident] = incidents(kiosk.handle(CallStaff()))
    assert incident.kind is IncidentKind.HELP_REQUESTED and incident.detail == "confirm"
    assert kiosk.state is State.HELP and "staff has been called" in kiosk.session.help_reason
    assert kiosk.handle(CallStaff()) == [], "pressing it again does not call twice"
    kiosk.handle(Back())
    assert kiosk.state is State.CONFIRM and kiosk.session.person is not None


@pytest.mark.parametrize("steps", [[], [Start()], [Start(), ChooseName()], [Start(), ChooseCode()]])
def test_call_staff_works_on_early_screens_too(kiosk, steps):
    for step in steps:
        kiosk.handle(step)
    before = kiosk.state
    assert incidents(kiosk.handle(CallStaff()))
    kiosk.handle(Back())
    assert kiosk.state is before


def test_wrong_details_call_staff(kiosk):
    kiosk.handle(CardRead(EGK))
    [incident] = incidents(kiosk.handle(DetailsWrong()))
    assert incident.kind is IncidentKind.DETAILS_WRONG
    assert kiosk.state is State.HELP


def test_idle_patient_is_warned_then_wiped(kiosk):
    kiosk.handle(CardRead(EGK))
    event, seconds = kiosk.timer()
    assert event == IdleWarning() and seconds == 45
    kiosk.handle(event)
    assert kiosk.state is State.IDLE_WARNING
    event, seconds = kiosk.timer()
    assert event == IdleTimeout() and seconds == 15
    assert kiosk.handle(event) == [Wipe()]
    assert kiosk.state is State.WELCOME and kiosk.session.person is None
    assert kiosk.timer() is None, "nothing to time out on the welcome screen"


def test_still_there_goes_back_to_the_same_screen(kiosk):
    kiosk.handle(Start())
    kiosk.handle(CardRead(EGK))
    kiosk.handle(DetailsConfirmed())
    kiosk.handle(Answered("appointment"))
    kiosk.handle(IdleWarning())
    kiosk.handle(StillHere())
    assert kiosk.state is State.QUESTIONS and kiosk.session.question_index == 1
    assert kiosk.session.answers == {"reason": "appointment"}


def test_call_staff_during_the_idle_warning_remembers_where_the_patient_was(kiosk):
    kiosk.handle(CardRead(EGK))
    kiosk.handle(IdleWarning())
    kiosk.handle(CallStaff())
    kiosk.handle(Back())
    assert kiosk.state is State.CONFIRM


def test_done_screen_times_out_by_itself_once_the_ticket_has_printed(kiosk):
    check_in_with_card(kiosk)
    kiosk.handle(AdmissionStored("A-001"))
    assert kiosk.timer() is None, "a patient waiting for the ticket must learn whether it printed"
    kiosk.handle(PrintFinished("adm-1", "ticket", "failed", "paper_out"))
    event, seconds = kiosk.timer()
    assert event == IdleTimeout() and seconds == 20
    assert kiosk.handle(event) == [Wipe()]


def test_printer_fault_reaches_staff_even_after_the_patient_left(kiosk):
    check_in_with_card(kiosk)
    kiosk.handle(AdmissionStored("A-001"))
    kiosk.handle(Finish())
    [incident] = incidents(kiosk.handle(PrintFinished("adm-1", "ticket", "failed", "paper_out")))
    assert incident.kind is IncidentKind.PRINTER_FAULT and incident.admission_id == "adm-1"
    assert incident.detail == "ticket:paper_out"


def test_printer_fault_while_patient_waits_is_shown(kiosk):
    check_in_with_card(kiosk)
    kiosk.handle(AdmissionStored("A-001"))
    kiosk.handle(PrintFinished("adm-1", "ticket", "failed", "cover_open"))
    assert kiosk.session.print_status == "failed" and kiosk.state is State.DONE


def test_a_site_that_bands_patients_prints_both_and_waits_for_both():
    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=forms.load("intake-basic"),
                    prints=("ticket", "wristband"), new_id=lambda: "adm-1")
    check_in_with_card(kiosk)
    effects = kiosk.handle(AdmissionStored("A-001"))
    assert [(e.kind, e.admission.queue_number) for e in effects if isinstance(e, Print)] == [
        ("ticket", "A-001"), ("wristband", "A-001")]
    kiosk.handle(PrintFinished("adm-1", "wristband", "printed"))
    assert kiosk.session.print_status == "printing", "the ticket is still printing"
    kiosk.handle(PrintFinished("adm-1", "ticket", "unconfirmed"))
    assert kiosk.session.print_status == "unconfirmed"
    kiosk.handle(PrintFinished("other-admission", "ticket", "failed", "paper_out"))
    assert kiosk.session.print_status == "unconfirmed", "another patient's job changes nothing on screen"


def test_paper_running_low_is_one_low_incident_for_the_printer_not_the_patient(kiosk):
    check_in_with_card(kiosk)
    kiosk.handle(AdmissionStored("A-001"))
    [incident] = incidents(kiosk.handle(PrintFinished("adm-1", "ticket", "printed", paper_low=True)))
    assert incident.kind is IncidentKind.PAPER_LOW and incident.severity is Severity.LOW
    assert incident.admission_id is None and incident.detail == "ticket"
    assert kiosk.session.print_status == "printed"


def test_a_printer_that_never_says_whether_it_printed_is_one_low_incident(kiosk):
    check_in_with_card(kiosk)
    kiosk.handle(AdmissionStored("A-001"))
    [incident] = incidents(kiosk.handle(PrintFinished("adm-1", "ticket", "unconfirmed")))
    assert incident.kind is IncidentKind.PRINTER_NO_STATUS and incident.kind.about_the_kiosk
    assert incident.severity is Severity.LOW and incident.admission_id is None
    assert kiosk.session.print_status == "unconfirmed"


def test_a_site_without_printers_prints_nothing():
    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=forms.load("intake-basic"), prints=(),
                    new_id=lambda: "adm-1")
    check_in_with_card(kiosk)
    assert not [e for e in kiosk.handle(AdmissionStored("A-001")) if isinstance(e, Print)]
    assert kiosk.state is State.DONE and kiosk.session.print_status == ""


def test_admission_not_stored_sends_the_patient_to_the_desk(kiosk):
    check_in_with_card(kiosk)
    [incident] = incidents(kiosk.handle(AdmissionFailed("OperationalError")))
    assert incident.kind is IncidentKind.STORE_FAULT and incident.severity is Severity.HIGH
    assert incident.admission_id is None, "no admission was stored: staff have none to act on"
    assert kiosk.state is State.HELP and "could not be saved" in kiosk.session.help_reason


def test_back_walks_the_screens_in_reverse(kiosk):
    kiosk.handle(Start())
    kiosk.handle(CardRead(EGK))
    kiosk.handle(DetailsConfirmed())
    kiosk.handle(Answered("other"))
    kiosk.handle(Back())
    assert (kiosk.state, kiosk.session.question_index) == (State.QUESTIONS, 0)
    kiosk.handle(Back())
    assert kiosk.state is State.CONFIRM
    kiosk.handle(Back())
    assert kiosk.state is State.IDENTIFY and kiosk.session.person is None
    assert kiosk.handle(Back()) == [Wipe()]
    assert kiosk.state is State.WELCOME


def test_answers_must_be_among_the_options(kiosk):
    kiosk.handle(CardRead(EGK))
    kiosk.handle(DetailsConfirmed())
    assert kiosk.handle(Answered("banana")) == []
    assert kiosk.session.question_index == 0 and "choose one" in kiosk.session.notice


def test_language_switch_keeps_the_place_and_ignores_unknown_languages(kiosk):
    kiosk.handle(CardRead(EGK))
    kiosk.handle(ChooseLanguage("tr"))
    kiosk.handle(ChooseLanguage("xx"))
    assert kiosk.session.language == "tr" and kiosk.state is State.CONFIRM


def test_events_that_make_no_sense_on_a_screen_change_nothing(kiosk):
    check_in_with_card(kiosk)
    kiosk.handle(AdmissionStored("A-001"))
    assert kiosk.handle(CardRead(EGK)) == []
    assert kiosk.handle(Answered("acute")) == []
    assert kiosk.state is State.DONE


@pytest.mark.parametrize("typed, expected", [
    ("14.07.1980", "1980-07-14"), ("4.7.1980", "1980-07-04"), ("14/07/1980", "1980-07-14"),
    ("1980-07-14", "1980-07-14"), ("29.02.2024", "2024-02-29"), ("29.02.2023", None),
    ("14.07.80", None), ("", None), ("28.11.2026", None), ("01.01.1890", None),
])
def test_parse_birth_date(typed, expected):
    assert parse_birth_date(typed, NOW.date()) == expected


@pytest.mark.parametrize("birth_date", ["1980-02-30", "80-07-14", "1980-13", "July 1980"])
def test_a_card_with_an_impossible_birth_date_is_unreadable_not_a_crash(kiosk, birth_date):
    bad = CardData("egk", "", Person(family="Müller", birth_date=birth_date))
    kiosk.handle(CardInserted())
    [incident] = incidents(kiosk.handle(CardRead(bad)))
    assert incident.kind is IncidentKind.CARD_UNREADABLE
    assert kiosk.state is State.IDENTIFY and kiosk.session.person is None


@pytest.mark.parametrize("iso, ok", [("1980-07-14", True), ("1980-07", True), ("1980", True),
                                     ("1980-02-30", False), ("1980-7-14", False), ("", False)])
def test_is_partial_date(iso, ok):
    assert is_partial_date(iso) is ok


def test_typed_text_survives_help_and_the_idle_warning_but_not_back(kiosk):
    kiosk.handle(Start())
    kiosk.handle(ChooseName())
    kiosk.handle(DraftChanged("family", "Çelik"))
    kiosk.handle(CallStaff())
    kiosk.handle(Back())
    kiosk.handle(IdleWarning())
    kiosk.handle(StillHere())
    assert kiosk.state is State.ENTER_NAME and kiosk.session.draft == {"family": "Çelik"}
    kiosk.handle(Back())
    assert kiosk.session.draft == {}


def test_a_patient_waiting_for_staff_is_not_wiped_at_the_normal_timeout(kiosk):
    kiosk.handle(CardRead(EGK))
    kiosk.handle(DetailsWrong())
    assert kiosk.timer() == (IdleWarning(), 300.0)


WITH_KVNR = replace(EGK, person=replace(EGK.person, identifiers=(
    Identifier("http://fhir.de/sid/gkv/kvid-10", "X110411675"),)))


def test_a_card_patient_is_looked_up_and_arrives_for_their_appointment():
    from kiosk.checkin.events import AppointmentFound, LookUpAppointment
    from kiosk.checkin.model import Appointment
    EGK = WITH_KVNR
    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=forms.load("intake-basic"),
                    look_up_appointments=True, new_id=lambda: "adm-1")
    kiosk.handle(Start())
    [lookup] = kiosk.handle(CardRead(EGK))
    assert lookup == LookUpAppointment(EGK.person.identifiers[0]) and kiosk.state is State.CONFIRM
    kiosk.handle(AppointmentFound("someone-else", Appointment("appt-9")))
    assert kiosk.session.appointment is None, "an answer about another patient is ignored"
    kiosk.handle(AppointmentFound(EGK.person.identifiers[0].value,
                                  Appointment("appt-1", "2026-11-27T10:00:00Z", patient_number="M-4711")))
    kiosk.handle(DetailsConfirmed())
    answer_all(kiosk)
    [save] = kiosk.handle(ConsentGiven(True))
    assert save.admission.appointment_id == "appt-1"
    assert save.admission.patient_number == "M-4711", "the hospital's own number, for the wristband"


def test_no_answer_about_appointments_is_a_walk_in():
    from kiosk.checkin.events import AppointmentFound
    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=forms.load("intake-basic"),
                    look_up_appointments=True, new_id=lambda: "adm-1")
    [save] = check_in_with_card(kiosk, WITH_KVNR)
    assert save.admission.appointment_id == "", "the answer did not come before the consent"
    kiosk.handle(AppointmentFound("X110411675", None))
    assert kiosk.session.appointment is None


def test_without_a_fhir_hospital_nobody_is_looked_up(kiosk):
    kiosk.handle(Start())
    assert kiosk.handle(CardRead(WITH_KVNR)) == []


def general_intake():
    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=forms.load("intake-general"), new_id=lambda: "adm-1")
    kiosk.handle(Start())
    kiosk.handle(CardRead(EGK))
    kiosk.handle(DetailsConfirmed())
    return kiosk


def test_typed_answers_are_checked_and_follow_up_questions_come_and_go():
    kiosk = general_intake()
    kiosk.handle(Answered("acute"))
    kiosk.handle(Answered(True))                         # allergies: yes -> which ones?
    assert kiosk.question.link_id == "allergies-which"
    kiosk.handle(Answered(""))
    assert kiosk.session.notice == answers.MSG_REQUIRED and kiosk.question.link_id == "allergies-which"
    kiosk.handle(Answered("Penicillin"))
    assert kiosk.question.link_id == "medication" and kiosk.session.notice == ""
    kiosk.handle(Back())
    kiosk.handle(Back())
    assert kiosk.question.link_id == "allergies"
    kiosk.handle(Answered(False))                        # changed her mind: the follow-up disappears
    assert kiosk.question.link_id == "medication"
    kiosk.handle(Answered(False))
    kiosk.handle(Answered("no"))
    kiosk.handle(Answered("x" * 31))
    assert kiosk.session.notice == answers.MSG_TOO_LONG
    for text in ("0151 2345678", "", ""):
        kiosk.handle(Answered(text))
    assert kiosk.state is State.CONSENT
    [save] = kiosk.handle(ConsentGiven(True))
    assert {a.link_id: a.value for a in save.admission.answers} == {
        "reason": "acute", "allergies": False, "medication": False, "pregnancy": "no", "phone": "0151 2345678"}, \
        "the answer to the hidden follow-up is not stored"


def test_a_button_value_the_question_does_not_offer_is_refused():
    kiosk = general_intake()
    kiosk.handle(Answered("made-up"))
    assert kiosk.session.notice == answers.MSG_CHOOSE and kiosk.question.link_id == "reason"
