"""The site's queues (kiosk.checkin.queues, ``[queues]``): which queue a patient joins, from the appointment's
place or an intake answer, and what the config says about queues and routes it cannot use."""

from __future__ import annotations

import pytest

from kiosk import config
from kiosk.checkin.queues import Queues

QUEUES = Queues(("A Registration", "B Blood tests", "x3 X-ray"),
                ("appointment: Laboratory -> B", "answer: reason = blood -> b", "answer: xray = true -> X3"))


@pytest.mark.parametrize("appointment, answers, queue", [
    ("", {}, "A"),                                                   # no route matches: the first queue
    ("Central laboratory, building C", {}, "B"),                     # the place contains the text, in any case
    ("Cardiology", {"reason": "BLOOD"}, "B"),
    ("Cardiology", {"reason": ["appointment", "blood"]}, "B"),       # several choices: one of them
    ("Cardiology", {"reason": "bloody"}, "A"),                       # the whole value, not a part of it
    ("", {"xray": True}, "X3"),
    ("", {"xray": False}, "A"),
    ("laboratory", {"xray": True}, "B"),                             # the first route that matches decides
])
def test_the_first_route_that_matches_chooses_the_queue(appointment, answers, queue):
    assert QUEUES.choose(appointment, answers) == queue


def test_a_queue_is_named_by_its_prefix_and_an_unknown_one_by_the_prefix_itself():
    assert [QUEUES.name(p) for p in ("A", "B", "X3", "Z")] == ["Registration", "Blood tests", "X-ray", "Z"]


def write(tmp_path, text: str):
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, words", [
    ('[queues]\nnames = []\n', ["'queues.names'", "at least one queue"]),
    ('[queues]\nnames = ["A Registration", "a Blood tests"]\n', ["'queues.names'", "the prefix 'A' twice"]),
    ('[queues]\nnames = ["A-1 Registration"]\n', ["'queues.names'", "prefix of 1 to 4 letters or digits"]),
    ('[queues]\nnames = ["A"]\n', ["'queues.names'", "the queue's name"]),
    ('[queues]\nroutes = ["answer: reason = blood -> B"]\n', ["'queues.routes'", "leads to 'B'", "no queue"]),
    ('[queues]\nroutes = ["laboratory -> R"]\n', ["'queues.routes'", "'appointment: <text> -> <queue prefix>'"]),
    ('[queues]\nroutes = ["answer: blood -> R"]\n', ["'queues.routes'", "must name the question and the value"]),
    ('[queues]\ndisplays = ["lobby: X / de"]\n', ["'queues.displays'", "shows 'X', which is no queue of queues.names (R)"]),
    ('[queues]\ndisplays = ["lobby: R / xx"]\n', ["'queues.displays'", "not 'xx'"]),
    ('[queues]\ndisplays = ["lobby: R", "lobby: R"]\n', ["'queues.displays'", "the display 'lobby' twice"]),
])
def test_queues_and_routes_the_kiosk_cannot_use_are_refused_with_a_sentence(tmp_path, text, words):
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, text))
    for word in words:
        assert word in str(e.value)


def test_with_a_site_service_the_kiosk_s_own_prefix_is_no_queue_s(tmp_path):
    secret = tmp_path / "site.secret"
    secret.write_text("s" * 64 + "\n")
    secret.chmod(0o600)
    site = f'[site]\nurl = "http://127.0.0.1:8045"\n[desk]\npeer_secret_file = "{secret}"\n'
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, '[kiosk]\nqueue_prefix = "r"\n' + site))
    assert "'kiosk.queue_prefix' is 'r', which is also a queue's prefix" in str(e.value)
    assert config.load(write(tmp_path, '[kiosk]\nqueue_prefix = "K1"\n' + site)).kiosk.queue_prefix == "K1"
    assert config.load(write(tmp_path, site)).kiosk.queue_prefix == "A"     # the defaults go together
    assert config.load(write(tmp_path, '[kiosk]\nqueue_prefix = "R"\n')).kiosk.queue_prefix == "R"    # no site service


def test_the_check_in_stores_the_queue_its_answers_choose_and_the_appointment_s_start():
    from kiosk.checkin import forms
    from kiosk.checkin.events import (Answered, ChooseName, ConsentGiven, DetailsConfirmed, NameEntered, SaveAdmission,
                                      Start)
    from kiosk.checkin.flow import CheckIn
    from kiosk.checkin.model import Appointment
    from kiosk.checkin.session import State
    form = forms.load("intake-basic")
    first = form.questions[0]
    blood = first.options[1].code                   # 'acute': the route's value
    for answer, queue in ((blood, "B"), (first.options[0].code, "A")):
        kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=form, queues=Queues(
            ("A Registration", "B Blood tests"), (f"answer: {first.link_id} = {blood} -> B",)))
        for event in (Start(), ChooseName(), NameEntered("Muster", "Erika", "12.08.1964"), DetailsConfirmed()):
            kiosk.handle(event)
        kiosk.session.appointment = Appointment("appt-1", start="2026-12-07T09:30:00+01:00", description="Cardiology")
        effects = kiosk.handle(Answered(answer))
        while kiosk.state is State.QUESTIONS:
            question = kiosk.question
            effects = kiosk.handle(Answered(question.options[0].code if question.options
                                            else True if question.type == "boolean" else "typed"))
        effects = kiosk.handle(ConsentGiven(True))
        saved = next(e.admission for e in effects if isinstance(e, SaveAdmission))
        assert (saved.queue, saved.appointment_start) == (queue, "2026-12-07T09:30:00+01:00")
