"""Once patient B's session has started, nothing of patient A is reachable: not on a widget or a screen
(shown or left behind), not in the flow, not in Kivy's caches or a text field's buffers, not in any
object the garbage collector knows, not in the log; and Back from B's first screen leads to the start.

Each run is the real app in a process of its own (``tests/ui/ui_privacy.py``), on SDL's offscreen driver.
A checks in by card and taps Finish (``card-finish``), or types name and birth date and walks away while
typing an answer (``typed-idle``: the idle warning, then the wipe). The same probes, run while A is
still there, must find A: that is what shows they can see a leak.
"""

import pytest
import uirun
from ui_privacy import NEEDLES

MODES = ("card-finish", "typed-idle")
PLACES = ("widgets", "screens", "flow", "cache", "textinputs", "keyboards", "signature_pads", "gc")


@pytest.fixture(scope="module", params=MODES)
def run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    done, [result] = uirun.run("ui_privacy.py", out, request.param)
    return request.param, result, done, out


def test_the_probes_find_patient_a_while_a_is_there(run):
    mode, result, _, _ = run
    during = result["during"]
    assert during["widgets"] and during["screens"] and during["flow"] == ["flow.session"]
    assert during["gc"], "the scan of every object sees A's details"
    assert during["gc_scan"]["complete"]
    if mode == "typed-idle":
        assert during["focused_when_left"], "A walked away from a field with the keyboard up"
        assert any(f.startswith("textinput.label: key") for f in during["cache"]), "typed text is in Kivy's cache"
        assert during["textinputs"]
    else:
        assert result["done"] == {"print_status": "printed", "queue_number": "A-001", "signed": True}


@pytest.mark.parametrize("place", PLACES)
def test_nothing_of_patient_a_once_b_has_started(run, place):
    _, result, _, _ = run
    assert result["b_state"] == "identify", result.get("b_start_failed")
    after = result["after"]
    assert after[place] == [], (place, after.get("gc_holders"))
    assert after["gc_scan"]["complete"], "the scan of every object ran to its end"


def test_no_screen_of_patient_a_is_left_behind(run):
    _, result, _, _ = run
    after = result["after"]
    assert after["screens_held"] == 1
    assert after["detached_screens"] == [], after["detached_holders"]
    assert result["keyboards_after_wipe"] == {"vkeyboards_shown": 0, "keyboard_targets": []}, \
        "the keyboard A typed on is gone: B does not find it up, typing into A's field"


def test_nothing_of_patient_a_is_shown_to_b_and_back_leads_to_the_start(run):
    _, result, _, _ = run
    assert not result["b_texts_hit"]
    back = result["after_back"]
    assert back["state"] == "welcome" and back["person"] == "None" and not back["texts_hit"]
    for place in PLACES:
        if place != "gc":
            assert back["probe"][place] == [], place


def test_nothing_of_patient_a_in_the_log(run):
    mode, _, done, out = run
    log = (out / "kiosk.log").read_text(encoding="utf-8")      # everything logged, at DEBUG
    if mode == "card-finish":
        assert "INFO kiosk.effects: admission stored queue=A-001" in log, "the log file is the app's log"
    for text in (log, done.stdout, done.stderr):
        assert not [n for n in NEEDLES if n in text]
    assert "Traceback" not in done.stderr
