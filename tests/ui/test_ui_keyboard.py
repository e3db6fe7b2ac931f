"""The on-screen keyboard in the real app: patients type names and birth dates key by key (tests/ui/ui_keyboard.py)."""

from pathlib import Path

import pytest
import uirun

from kiosk.screens import keyboards

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def typed(tmp_path_factory):
    out = tmp_path_factory.mktemp("keyboard")
    run, patients = uirun.run("ui_keyboard.py", out)
    return patients, run


def test_names_and_birth_dates_typed_on_the_keys_are_stored_exactly(typed):
    patients, _ = typed
    stored = [(p["admission"]["patient"]["name"][0], p["admission"]["patient"]["birthDate"]) for p in patients]
    assert stored == [
        ({"family": "Müller-Lüdenscheidt", "given": ["Hans-Jürgen"]}, "1980-07-14"),   # with a backspace
        ({"family": "O'Brien", "given": ["Zoë"]}, "1975-11-03"),
        ({"family": "Gündoğan", "given": ["Işıl", "Ayşe"]}, "1990-02-01"),
    ]
    assert patients[0]["appointment_code"] == "AB12-CD34"       # typed on the code keyboard


def test_each_field_gets_its_keyboard(typed):
    patients, _ = typed
    layouts = {step["field"]: step["layout"] for p in patients for step in p["steps"] if "field" in step}
    assert layouts == {"code": "code", "given": "names", "family": "names", "birth": "digits"}
    starts = {step["field"]: step["shift_at_start"] for p in patients for step in p["steps"] if "field" in step}
    assert starts == {"code": False, "given": True, "family": True, "birth": False}   # names begin with a capital


def test_the_keyboard_never_hides_the_field_and_its_keys_are_15_mm(typed):
    patients, _ = typed
    shown = [step for p in patients for step in p["steps"] if "field" in step]
    assert len(shown) == 12
    for step in shown:
        assert step["focus"] and step["room"] == step["keyboard_top"] > 0
        assert step["field_bottom"] >= step["keyboard_top"], step         # the whole field above the keyboard
        assert step["field_top"] <= 800 - 112, step                       # and below the top bar
        assert min(step["smallest_key"]) >= keyboards.MIN_KEY_PX, step


def test_the_keyboard_goes_when_the_screen_changes_or_is_hidden(typed):
    patients, _ = typed
    left = [step for p in patients for step in p["steps"] if "screen" in step]
    assert [s["screen"] for s in left] == ["help", "idle_warning", "confirm", "enter_name", "confirm", "confirm"]
    for step in left:
        assert not step.get("keyboard") and step["room"] == 0
    hidden = left[3]
    assert hidden["hidden"] and not hidden["focus"]


def test_nothing_typed_reaches_the_log(typed):
    _, run = typed
    for secret in ("Lüdenscheidt", "O'Brien", "Zoë", "Gündoğan", "Işıl", "1980", "1975", "14.07", "AB12"):
        assert secret not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
