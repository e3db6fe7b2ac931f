"""kiosk/desk/incidents.py: the one place that says what an incident means for staff and what they may do about
it (staff mode on the kiosk and the desk page both ask it)."""

import sqlite3

import pytest

from kiosk import config
from kiosk.desk import incidents
from kiosk.i18n import Catalogs
from kiosk.checkin.model import IncidentKind, Severity

PRINTERS = ("ticket", "wristband")


def row(kind: IncidentKind, *, status="open", admission="adm-1", queue="A-001", detail="") -> dict:
    return {"id": 1, "kind": kind.value, "status": status, "admission_id": admission, "queue_number": queue,
            "detail": detail}


def test_every_kind_and_severity_has_a_sentence_in_every_language():
    assert set(incidents.KIND_TEXTS) == set(IncidentKind)
    assert set(incidents.SEVERITY_TEXTS) == set(Severity)
    languages = [lang for lang in config.SUPPORTED_LANGUAGES if lang != "en"]
    catalogs = Catalogs(languages)
    texts = [*incidents.KIND_TEXTS.values(), *incidents.SEVERITY_TEXTS.values()]
    for language in languages:
        assert catalogs.missing(language, texts) == [], language


def english(kind: str, detail: str = "") -> list[str]:
    return incidents.texts(kind, detail, lambda message: message)


def test_kind_and_detail_become_sentences():
    assert english("printer_fault", "ticket:paper_out") == [
        "A ticket or wristband was not printed.", "Ticket printer: the printer is out of paper"]
    assert english("help_requested", "confirm") == [
        "A patient pressed 'Call staff' and is waiting at the kiosk.", "Pressed while checking the details shown."]
    assert english("details_corrected", "address,phone")[1:] == ["Changed: the address.", "Changed: the phone number."]
    assert english("sync_rejected", "hl7v2:rejected_AE")[1:] == [
        "Connection: HL7 v2 over MLLP", "The hospital system answered with an error (HL7 acknowledgement AE)."]
    assert english("duplicate_patient", "fhir:http_422")[1:] == [
        "Connection: FHIR server", "The hospital system answered with HTTP status 422."]
    assert english("coverage_ended") == ["The insurance cover on a patient's card has ended."]


def test_what_this_kiosk_does_not_know_is_shown_as_a_technical_code_never_as_a_sentence():
    assert english("from_a_newer_kiosk", "x_1") == ["Technical code: from_a_newer_kiosk", "Technical code: x_1"]
    assert english("printer_fault", "ticket:on_fire")[1:] == ["Technical code: ticket:on_fire"]
    assert english("sync_rejected", "fhir:internal_KeyError")[1:] == ["Technical code: fhir:internal_KeyError"]
    assert english("store_fault", "OperationalError")[1:] == ["Technical code: OperationalError"]
    assert english("paper_low", "ticket printer")[1:] == ["Technical code: ticket printer"], "an old form"


def test_urgent_first_then_open_before_taken_then_newest_first():
    def incident(n, severity, status="open", at="2026-11-27T08:00:00+00:00"):
        return {"id": n, "severity": severity, "status": status, "created_at": at}
    rows = [incident(1, "high", at="2026-11-27T07:00:00+00:00"), incident(2, "low"), incident(3, "medium"),
            incident(4, "medium", "taken", at="2026-11-27T09:00:00+00:00"), incident(5, "medium"),
            incident(6, "high", "taken"), incident(7, "critical")]
    assert [r["id"] for r in incidents.urgent_first(rows)] == [7, 1, 6, 5, 3, 4, 2]


@pytest.mark.parametrize("kind", [k for k in IncidentKind if k not in incidents.RESEND_KINDS | {
    IncidentKind.CANCEL_IN_HOSPITAL}], ids=lambda k: k.value)
def test_send_again_only_for_a_refused_message(kind):
    assert "resend" not in incidents.actions(row(kind), admission_cancelled=False, printers=PRINTERS)


@pytest.mark.parametrize("kind", sorted(incidents.RESEND_KINDS, key=lambda k: k.value), ids=lambda k: k.value)
def test_a_refused_message_can_be_sent_again(kind):
    assert incidents.actions(row(kind), admission_cancelled=False, printers=PRINTERS) == [
        "take", "reprint:ticket", "reprint:wristband", "resend", "cancel", "resolve"]


@pytest.mark.parametrize("kind", list(IncidentKind), ids=lambda k: k.value)
def test_a_cancelled_admission_or_none_leaves_take_and_resolve(kind):
    for incident, cancelled in ((row(kind), True), (row(kind, admission="", queue=""), False),
                                (row(kind, queue=""), False)):          # an admission that was never stored
        assert incidents.actions(incident, admission_cancelled=cancelled, printers=PRINTERS) == ["take", "resolve"]


def test_cancel_in_hospital_offers_nothing_the_kiosk_cannot_do():
    incident = row(IncidentKind.CANCEL_IN_HOSPITAL, detail="fhir")
    assert incidents.actions(incident, admission_cancelled=False, printers=PRINTERS) == ["take", "resolve"]
    assert incidents.KIND_TEXTS[IncidentKind.CANCEL_IN_HOSPITAL] == (
        "An admission cancelled here had already reached the hospital system: cancel it there too.")


def test_reprint_on_the_printers_the_kiosk_has_the_failed_one_first():
    fault = row(IncidentKind.PRINTER_FAULT, detail="wristband:paper_out")
    assert incidents.actions(fault, admission_cancelled=False, printers=PRINTERS) == [
        "take", "reprint:wristband", "reprint:ticket", "cancel", "resolve"]
    assert incidents.actions(fault, admission_cancelled=False, printers=("ticket",)) == [
        "take", "reprint:ticket", "cancel", "resolve"]
    assert incidents.actions(fault, admission_cancelled=False, printers=()) == ["take", "cancel", "resolve"]


def test_take_only_while_open_and_nothing_once_resolved():
    help_call = row(IncidentKind.HELP_REQUESTED)
    assert incidents.actions({**help_call, "status": "taken"}, admission_cancelled=False, printers=()) == [
        "cancel", "resolve"]
    assert incidents.actions({**help_call, "status": "resolved"}, admission_cancelled=False, printers=PRINTERS) == []


def test_a_staff_action_failing_on_the_kiosk_is_one_sentence_not_an_exception_name():
    from kiosk.desk import staff_runner
    error = staff_runner.failure(sqlite3.OperationalError("database is locked"))
    assert str(error) == "The kiosk could not do that just now. Please try again or call IT."
    assert "Error" not in str(error) and "locked" not in str(error)
    languages = [lang for lang in config.SUPPORTED_LANGUAGES if lang != "en"]
    assert all(not Catalogs(languages).missing(lang, [str(error)]) for lang in languages)
