"""Read aloud in the real app, driven by touch (tests/ui/ui_speech.py, in a process of its own)."""

import shutil
from pathlib import Path

import pytest
import uirun

from kiosk.checkin.session import State
from kiosk.i18n import Catalogs

HERE = Path(__file__).parent

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed "
                                "(deploy/system-packages.sh installs it)")


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    out = tmp_path_factory.mktemp("speech")
    run, [result] = uirun.run("ui_speech.py", out)
    return result, run


def test_every_screen_has_the_read_aloud_button(speech):
    result, _ = speech
    assert set(result["visited"]) == {state.value for state in State}
    for step, said in result["spoken"].items():
        assert said["text"].strip(), step
        assert said["speaking"], f"{step}: espeak-ng was not running"
    # Any touch on the idle warning means someone is there: the tap brings back the question, and reads it.
    warning = result["spoken"]["idle_warning"]
    assert warning["state_after"] == "questions"
    assert warning["text"] == result["spoken"]["questions"]["text"]


def test_the_screen_is_read_in_order_without_typed_text(speech):
    spoken = speech[0]["spoken"]
    welcome = spoken["welcome"]["text"].splitlines()
    assert welcome[:3] == ["Welcome", "Check in here for your appointment or visit. It takes about a minute.",
                           "Start check-in"]
    assert "Insert a sample card (demo)" not in welcome, "a hidden button is not read"
    assert "Read aloud" not in welcome and "Call staff" not in welcome, "only the screen, not the top bar"
    assert spoken["welcome"]["language"] == "en"
    assert "Zebulon" not in spoken["enter_name"]["text"]
    assert "First name" in spoken["enter_name"]["text"].splitlines()
    consent = spoken["consent"]["text"].splitlines()
    assert "I do not agree" in consent and "I agree" in consent, "a dimmed button is read too"


def test_the_confirm_screen_is_read_without_the_patients_details(speech):
    result, _ = speech
    confirm = result["spoken"]["confirm"]["text"]
    lines = confirm.splitlines()
    for label in ("Are these your details?", "Name", "Date of birth", "Address", "Insurance",
                  "Read my details aloud", "Yes, these are my details"):
        assert label in lines, label
    shown = result["shown"]
    assert all(shown.values()), shown
    assert "Müller-Lüdenscheidt" in shown["name"] and "X110411675" in shown["insurance"]
    for value in shown.values():
        assert value not in confirm
    for part in ("Jürgen", "Müller", "1958", "Königsallee", "40212", "Düsseldorf", "X110411675"):
        assert part not in confirm, part
    correct = result["spoken"]["correct"]["text"]
    assert "Street and house number" in correct.splitlines()
    for part in ("Königsallee", "40212", "Düsseldorf"):
        assert part not in correct, "a field's content is never read"


def test_the_patient_may_ask_for_their_details_to_be_read(speech):
    result, _ = speech
    details = result["spoken"]["confirm_details"]["text"].splitlines()
    shown = result["shown"]
    assert details[0] == f"Name: {shown['name']}"
    assert f"Date of birth: {shown['birth_date']}" in details
    assert f"Address: {shown['address']}" in details
    assert f"Insurance: {shown['insurance']}" in details


def test_the_screen_is_read_in_the_patients_language(speech):
    said = speech[0]["spoken"]["confirm_tr"]
    assert said["language"] == "tr"
    turkish = Catalogs(["tr"]).gettext("tr", "Are these your details?")
    assert turkish != "Are these your details?"
    assert said["text"].splitlines()[0] == turkish
    assert Catalogs(["tr"]).gettext("tr", "Read my details aloud") in said["text"]
    assert "Jürgen" not in said["text"]


def test_speech_stops_when_the_screen_changes_and_at_the_wipe(speech):
    spoken = speech[0]["spoken"]
    assert spoken["welcome"]["speaking_after_screen_change"] is False
    assert spoken["done"]["speaking_after_wipe"] is False


def test_nothing_spoken_reaches_the_log(speech):
    result, run = speech
    log = run.stdout + run.stderr
    for value in result["shown"].values():
        assert value not in log
    for part in ("Jürgen", "Müller", "Zebulon", "X110411675", "Welcome", "Are these your details?"):
        assert part not in log, part
