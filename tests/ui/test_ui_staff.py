"""Staff mode on the real app, driven by touches (tests/ui/ui_staff.py in a process of its own): the corner
gesture and the PIN (wrong, locked), a second member who resolves a patient's call and reprints a ticket,
out of service, a badge card, and the sign-out when idle; each staff screen passes kiosk.screens.layout_check."""

import pytest
import uirun

from kiosk.signin import LOCKED, WRONG_PIN


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    run, [seen] = uirun.run("ui_staff.py", tmp_path_factory.mktemp("staff"))
    seen["stderr"] = run.stderr
    return seen


def test_five_taps_elsewhere_open_nothing(seen):
    assert seen["elsewhere"] == {"active": False, "state": "help"}


def test_a_wrong_pin_says_so_and_five_lock_the_name(seen):
    assert seen["wrong_pin_notices"] == [WRONG_PIN] * 4 + [LOCKED]
    assert LOCKED in seen["wrong_pin_texts"]


def test_a_second_member_sees_the_patients_call_and_resolves_it(seen):
    assert "Staff mode: Jonas Weber" in seen["list_texts"]
    assert any("A patient pressed 'Call staff'" in text for text in seen["list_texts"])
    assert any(text.startswith("A-001 · ") for text in seen["list_texts"]), "the printer fault, by queue number"
    assert "Personalmodus: Jonas Weber" in seen["list_texts_de"]
    assert any(line == "Kartenleser: eine Karte steckt" for text in seen["list_texts_de"] for line in text.split("\n"))
    assert seen["call_staff_shown"] is False
    resolved = seen["resolved"]
    assert (resolved["status"], resolved["taken_by"], resolved["resolved_by"]) == ("resolved", "Jonas Weber",
                                                                                   "Jonas Weber")
    assert (resolved["resolution"], resolved["note"]) == ("done", "spoke to the patient")
    actions = {(a["actor"], a["action"], a["subject"]) for a in seen["audit"]}
    assert ("Jonas Weber", "incident.taken", str(resolved["id"])) in actions
    assert ("Jonas Weber", "incident.resolved", str(resolved["id"])) in actions


def test_the_patient_who_called_staff_goes_on_after_staff_leave(seen):
    assert seen["after_leaving"] == {"state": "help", "screen": "help", "person_kept": True}


def test_a_ticket_is_reprinted_for_a_printer_fault(seen):
    assert seen["reprint_notice"] == "The ticket for A-001 was printed again."
    assert [(p["actor"], p["status"]) for p in seen["reprinted"]] == [("kiosk", "failed"), ("Jonas Weber", "printed")]
    assert any(a["actor"] == "Jonas Weber" and a["action"] == "print.printed" for a in seen["audit"])


def test_out_of_service_shows_on_the_welcome_screen_and_a_card_starts_nothing(seen):
    assert seen["out_of_service_screen"] == "staff_out_of_service"
    assert "This kiosk is out of service. Please go to the front desk." in seen["out_of_service_texts"]
    assert seen["card_while_out_of_service"] == {"state": "welcome", "screen": "staff_out_of_service",
                                                 "admissions": 0}
    switched = [a["subject"] for a in seen["audit"] if a["action"] == "kiosk.out_of_service"]
    assert switched == ["on", "off"]


def test_a_badge_opens_staff_mode_and_nothing_else(seen):
    assert seen["badge"] == {"member": "Jonas Weber", "admissions": 0, "incidents": 0, "state": "welcome",
                             "person": False, "idle_timeout_s": 90.0}


def test_staff_mode_signs_out_when_left_alone(seen):
    assert seen["after_idle"] == {"screen": "welcome", "out_of_service": False, "start": True}


def test_every_staff_screen_fits_and_is_big_enough(seen):
    assert set(seen["layout"]) >= {"welcome", "sign-in", "sign-in-locked", "incidents", "incidents-de",
                                   "incident-help", "incident-printer-fault", "out-of-service"}
    assert {name: problems for name, problems in seen["layout"].items() if problems} == {}


def test_no_pin_and_no_patient_name_is_logged(seen):
    for secret in ("1357", "0000", "Müller", "Lüdenscheidt", "Dubois", "85073003328", "X110411675"):
        assert secret not in seen["stderr"]
