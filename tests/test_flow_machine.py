"""The check-in flow under sequences of patient and device events: what the state machine found."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kiosk import forms
from kiosk.app import sample_cards
from kiosk.events import (AppointmentFound, Back, CallStaff, CardFailed, CardInserted, CardRead, CardRemoved, ChooseCode,
                          Start)
from kiosk.flow import CheckIn, State
from kiosk.model import Appointment
from screenprobe import ScreenProbe

LANGUAGES = ("de", "en", "tr", "fr")
NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def probe():
    with ScreenProbe() as p:
        yield p


# --- what the machine found: each shrunk example as a plain test ---------------------------------------

def a_flow() -> CheckIn:
    return CheckIn(kiosk_id="lobby-1", languages=LANGUAGES, form=forms.load("intake-basic"), now=lambda: NOW)


def test_call_staff_on_the_idle_warning_over_the_help_screen_keeps_the_way_back():
    """Shrunk: call staff, let the help screen's timer bring the idle warning, call staff again. Help then
    had itself as the screen to go back to: Back showed help with no reason, and Back again the welcome
    screen with the patient's session (and admission) still behind it, for the next patient."""
    flow = a_flow()
    card = sample_cards()[0]
    flow.handle(CardRead(card))
    assert len(flow.handle(CallStaff())) == 1
    flow.handle(flow.timer()[0])                 # nobody came within help_timeout_s: "Are you still there?"
    assert flow.state is State.IDLE_WARNING
    effects = flow.handle(CallStaff())
    assert flow.state is State.HELP and flow.session.help_reason
    flow.handle(Back())
    assert flow.state is State.CONFIRM and flow.session.person == card.person
    assert effects == [], "staff have been called already: no second incident"


def test_a_card_read_that_ends_while_the_patient_is_on_another_screen_is_not_shown_as_still_reading():
    """Shrunk: a card goes in, the patient taps "I have an appointment code" before it is read, the read
    ends there (not taken), the patient goes back. Identify said "Reading your card, please wait" with no
    card being read, and taking the card out then raised a card_removed incident."""
    flow = a_flow()
    flow.handle(Start())
    flow.handle(CardInserted())
    flow.handle(ChooseCode())
    flow.handle(CardFailed("unreadable"))
    flow.handle(Back())
    assert flow.state is State.IDENTIFY and not flow.session.reading
    assert flow.handle(CardRemoved()) == []


def test_an_appointment_at_a_leap_second_is_shown_on_the_confirm_screen(probe):
    """Shrunk: a card, then the hospital's answer: an appointment starting at 2026-12-06T00:00:60Z (a FHIR
    instant may have a leap second). The confirm screen raised ValueError (Python has no second 60), which
    in the app ends the kiosk's event loop."""
    flow = a_flow()
    flow.handle(CardRead(sample_cards()[0]))
    flow.handle(AppointmentFound("X110411675", Appointment("1", "2026-12-06T00:00:60Z")))
    assert flow.state is State.CONFIRM and flow.session.appointment
    probe.configure(form="intake-basic", kiosk_id="lobby-1", languages=LANGUAGES)
    assert probe.show(flow.state, flow.session) is None
