"""kiosk/screens/wakeup.py: a quiet kiosk sleeps a second between frames, yet a real click through the X server (as
a touch panel arrives through Xwayland) ends the sleep at once, and the full frame rate is back. Runs the
real app the way ``kiosk run`` does, on a virtual X display (Xvfb) started here."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from xvfb import virtual_display

HERE = Path(__file__).parent


@pytest.fixture
def display():
    with virtual_display() as name:
        yield name


def test_a_click_ends_the_quiet_loops_sleep_and_brings_the_full_rate_back(tmp_path, display):
    done = subprocess.run([sys.executable, str(HERE / "ui_wakeup.py"), str(tmp_path)], capture_output=True,
                          text=True, timeout=120, cwd=HERE, env={**os.environ, "DISPLAY": display})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert result["wake"], "SDL's x11 driver can wait for input: the wake-up is installed"
    assert result["quiet_fps"] == 1.0 and result["woken_before"] == 0, result
    assert result["after_click"] == "identify", result
    assert result["woken_after_click"] >= 1, "the click ended a sleep: it did not wait for the next frame"
    assert result["fps_after_click"] == 30.0, result
    assert result["quiet_again"] == ["welcome", 1.0], result
    assert result["after_card"] != "welcome", result
    assert result["woken_by_card"] >= 1, "the reader's thread ended the sleep (SDL_PushEvent), not the next frame"
