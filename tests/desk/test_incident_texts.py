"""Every incident the kiosk raises (tests/support/incident_forms.py drives the code that raises them, with
every value of its tables and enums) is said to staff in their language, in words, through
the catalogs: by kiosk.desk.incidents, on the desk page (its JSON through the Flask app, here for all four
languages; the page in Chromium: tests/desk/test_desk.py) and in staff mode (tests/ui/test_ui_incident_texts.py).
Stores of earlier versions get the same codes (migration m007)."""

from __future__ import annotations

import re

import pytest
import sqlite_utils

import incident_forms
from kiosk import config
from kiosk.desk import incidents, routes
from kiosk.desk import web as desk
from kiosk.store.opening import open_store
from kiosk.i18n import Catalogs
from kiosk.checkin.model import Incident, IncidentKind, Severity
from kiosk.desk.staff import Staff
from kiosk.store import Store
from kiosk.store import migrations as store_migrations

LANGUAGES = config.SUPPORTED_LANGUAGES
OTHERS = [language for language in LANGUAGES if language != "en"]
NAME, PIN = "Ana Desk", "4711"


@pytest.fixture(scope="module")
def forms(tmp_path_factory) -> list[tuple[str, str]]:
    found = incident_forms.forms_by_kind(tmp_path_factory.mktemp("forms"))
    return [(kind, detail) for kind, details in found.items() for detail in details]


def english(kind: str, detail: str) -> list[str]:
    return incidents.texts(kind, detail, lambda message: message)


def test_every_kind_of_incident_is_raised_somewhere_and_found(forms):
    assert {kind for kind, _ in forms} == {kind.value for kind in IncidentKind}


def test_every_detail_the_code_writes_is_said_in_words_not_as_a_technical_code(forms):
    """Only store_fault's detail, the class of a storage error, is a technical code by design."""
    for kind, detail in forms:
        said = incidents.messages(kind, detail)
        assert said[0].text == incidents.KIND_TEXTS[IncidentKind(kind)], kind
        assert len(said) > 1 if detail else len(said) == 1, (kind, detail)
        codes = [m for m in said[1:] if m.text == incidents.TECHNICAL_CODE]
        assert codes == ([incidents.Message(incidents.TECHNICAL_CODE, (("code", detail),))]
                         if kind == "store_fault" else []), (kind, detail)


def _marked(message: str) -> str:
    """A pseudo-translation: the text in capitals between ⟦ and ⟧, placeholders kept."""
    return "⟦" + "".join(part if part.startswith("{") else part.upper()
                         for part in re.split(r"(\{\w+\})", message)) + "⟧"


def test_everything_staff_read_about_an_incident_goes_through_the_catalogs(forms):
    """Said with a pseudo-translation, nothing but codes of the incident itself stays in small letters:
    no English text reaches staff around the catalogs."""
    for kind, detail in [*forms, ("from_a_newer_kiosk", "fhir:some_code"), ("paper_low", "old prose")]:
        codes = {kind, detail, *re.split(r"[:,\s]", detail)}
        for line in incidents.texts(kind, detail, _marked):
            assert line.startswith("⟦") and line.endswith("⟧"), (kind, detail, line)
            untranslated = [word for word in re.split(r"[\s⟦⟧]+", line) if re.search(r"[a-z]", word)]
            assert all(word.strip(".():") in codes for word in untranslated), (kind, detail, line)


def _asked(forms) -> list[str]:
    asked: list[str] = []
    for kind, detail in [*forms, ("from_a_newer_kiosk", "x")]:
        incidents.texts(kind, detail, lambda message: asked.append(message) or message)
    return sorted(set(asked))


@pytest.mark.parametrize("language", OTHERS)
def test_every_sentence_about_an_incident_has_a_real_translation(forms, language):
    catalogs = Catalogs([language])
    asked = _asked(forms)
    assert set(incidents.PRINTER_REASONS.values()) <= set(asked), "every printer fault reason is said"
    assert catalogs.missing(language, asked) == []
    for message in asked:
        translation = catalogs.gettext(language, message)
        assert translation != message, (language, message)
        assert set(re.findall(r"\{\w+\}", translation)) == set(re.findall(r"\{\w+\}", message)), (language, message)


def test_a_printer_fault_reason_without_a_translation_fails(monkeypatch, forms):
    """The mechanism picks up any reason in kiosk.hardware.errors.REASONS (another may come any day)."""
    monkeypatch.setitem(incidents.PRINTER_REASONS, "not_a_printer", "the device at this address is not a printer")
    assert english("printer_fault", "ticket:not_a_printer")[1] == "Ticket printer: the device at this address is not a printer"
    assert Catalogs(["de"]).missing("de", _asked([*forms, ("printer_fault", "ticket:not_a_printer")])) == [
        "the device at this address is not a printer"]


# --- the desk page's JSON, every form in every language ---

def _desk_listing(tmp_path, language: str, forms) -> list[dict]:
    settings = config.Settings().replace(kiosk=config.KioskSettings(data_dir=str(tmp_path / language),
                                                                     languages=(language,)))
    store = open_store(settings)
    try:
        Staff(store).add_member(NAME, PIN)
        ids = {store.raise_incident(Incident(IncidentKind(kind), Severity.MEDIUM, detail)): (kind, detail)
               for kind, detail in forms}
    finally:
        store.close()
    app = desk.create_app(desk.staff_factory(settings), secret_key=b"k" * 32, language=language)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"name": NAME, "pin": PIN, "csrf_token": token}).status_code == 302
    listed = client.get("/api/incidents").get_json()["incidents"]
    assert sorted((row["kind"], ids[row["id"]][1]) for row in listed) == sorted(forms)
    return [{**row, "detail": ids[row["id"]][1]} for row in listed]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_desk_page_says_every_incident_in_its_language(tmp_path, forms, language):
    catalogs = Catalogs([language])
    for row in _desk_listing(tmp_path, language, forms):
        lines = [row["text"], *row["details"]]
        assert lines == incidents.texts(row["kind"], row["detail"], catalogs.translator(language)), row
        assert row["severity_text"] == catalogs.gettext(language, incidents.SEVERITY_TEXTS[Severity.MEDIUM])
        if language != "en":
            english_lines = english(row["kind"], row["detail"])
            assert all(line != said for line, said in zip(lines, english_lines, strict=True)), (language, lines)
            assert incident_forms.english_in(lines, row["kind"], row["detail"]) == [], (language, lines)
            assert not catalogs.missing(language, [incidents.SEVERITY_TEXTS[Severity.MEDIUM], routes.TEXTS["waiting"]])


# --- stores of earlier versions (m007) ---

def _old_detail(kind: str, detail: str) -> str:
    """What stores of earlier versions (before m007) hold for an incident whose detail is now ``detail``."""
    old = {
        "help_requested": lambda: f"help pressed on the {detail} screen",
        "card_removed": lambda: "card removed during the read",
        "coverage_ended": lambda: "coverage period has ended",
        "identity_unverified": lambda: "identified by typed name and birth date, no card",
        "details_wrong": lambda: "patient says the details shown are wrong",
        "details_corrected": lambda: detail.replace(",", ", "),
        "answer_needs_staff": lambda: {
            "checked_in": "an intake answer asks staff to speak to the patient before they are seen",
            "left": "an intake answer asks staff to speak to the patient, who left the kiosk before finishing"}[detail],
        "printer_fault": lambda: detail.replace(":", ": "),
        "paper_low": lambda: f"{detail} printer",
        "printer_no_status": lambda: f"{detail} printer",
        "sync_rejected": lambda: detail.replace(":", ": "),
        "duplicate_patient": lambda: detail.replace(":", ": "),
        "cancel_in_hospital": lambda: f"{detail}: delivered_after_cancel",
    }
    return old.get(kind, lambda: detail)()


def test_m007_turns_the_english_details_of_a_store_of_before_into_codes(tmp_path, forms):
    path = tmp_path / "kiosk.db"
    db = sqlite_utils.Database(path)
    store_migrations.apply(db, stop_before="m007_incident_detail_codes")
    rows = [(kind, detail, _old_detail(kind, detail)) for kind, detail in forms]
    rows += [("paper_low", None, "the printer on the left"), ("from_a_newer_kiosk", None, "odd: thing")]
    db["incidents"].insert_all([{"kiosk_id": "lobby-1", "created_at": "2026-11-27T08:00:00+00:00", "kind": kind,
                                 "severity": "medium", "status": "resolved" if n % 2 else "open", "admission_id": None,
                                 "detail": old} for n, (kind, _, old) in enumerate(rows)])
    assert any(detail != old for _, detail, old in rows)
    db.close()
    store = Store(path)
    try:
        migrated = [r["detail"] for r in store.incidents(None)]
    finally:
        store.close()
    for (kind, detail, old), now in zip(rows, migrated, strict=True):
        # The old text did not say whether an appointment code came first: "name" (typed) holds either way.
        expected = old if detail is None else "name" if kind == "identity_unverified" else detail
        assert now == expected, (kind, old, now)


def test_m007_gives_an_appointment_not_marked_arrived_its_own_kind(tmp_path):
    """Before, a delivered admission whose appointment could not be marked arrived was raised as a refusal
    (sync_rejected, "fhir: appointment_not_arrived"), whose sentence told staff to send it again."""
    path = tmp_path / "kiosk.db"
    db = sqlite_utils.Database(path)
    store_migrations.apply(db, stop_before="m007_incident_detail_codes")
    db["incidents"].insert_all([{"kiosk_id": "lobby-1", "created_at": "2026-11-27T08:00:00+00:00", "kind": kind,
                                 "severity": "medium", "status": "open", "admission_id": None, "detail": detail}
                                for kind, detail in (("sync_rejected", "fhir: appointment_not_arrived"),
                                                     ("sync_rejected", "fhir: rejected"))])
    db.close()
    store = Store(path)
    try:
        migrated = [(r["kind"], r["detail"]) for r in store.incidents(None)]
    finally:
        store.close()
    assert migrated == [("appointment_not_arrived", "fhir:appointment_not_arrived"), ("sync_rejected", "fhir:rejected")]
