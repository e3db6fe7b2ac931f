"""kiosk/incidents.py: the one place that says what an incident means for staff and what they may do about
it (staff mode on the kiosk and the desk page both ask it)."""

import sqlite3

import pytest

from kiosk import config, incidents
from kiosk.i18n import Catalogs
from kiosk.model import IncidentKind, Severity

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


def test_a_kind_this_kiosk_does_not_know_is_shown_as_it_is():
    assert incidents.sentence("printer_fault") == "A ticket or wristband was not printed."
    assert incidents.sentence("from_a_newer_kiosk") == "from_a_newer_kiosk"


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
    incident = row(IncidentKind.CANCEL_IN_HOSPITAL, detail="fhir: delivered_after_cancel")
    assert incidents.actions(incident, admission_cancelled=False, printers=PRINTERS) == ["take", "resolve"]
    assert incidents.KIND_TEXTS[IncidentKind.CANCEL_IN_HOSPITAL] == (
        "An admission cancelled here had already reached the hospital system: cancel it there too.")


def test_reprint_on_the_printers_the_kiosk_has_the_failed_one_first():
    fault = row(IncidentKind.PRINTER_FAULT, detail="wristband: paper_out")
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
    from kiosk import app
    error = app.staff_failure(sqlite3.OperationalError("database is locked"))
    assert str(error) == "The kiosk could not do that just now. Please try again or call IT."
    assert "Error" not in str(error) and "locked" not in str(error)
    languages = [lang for lang in config.SUPPORTED_LANGUAGES if lang != "en"]
    assert all(not Catalogs(languages).missing(lang, [str(error)]) for lang in languages)
