"""The on-screen keyboard layouts (``assets/keyboards/*.json``), read without Kivy.

Each file is a Kivy VKeyboard layout: ``cols`` and ``rows`` in key units, and per layer (``normal``,
``shift``) and row (``normal_1``...) a list of keys ``[label, text typed, special key or null, width]``.
One key of ours is not Kivy's: ``width_hint``, the keyboard's width as a fraction of the window's
(the digit pad is half as wide as the window, so its keys are not a hand wide).

Which field gets which layout: names and the patient's own words get ``names`` (``text`` when digits
are part of the answer), dates and numbers ``digits``, the appointment code ``code``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from kiosk.paths import ASSETS

FOLDER = ASSETS / "keyboards"
LAYOUTS = ("names", "text", "digits", "code")
LAYERS = ("normal", "shift")

# Keys of at least 15 mm: 57 px at the kiosk's 96 dpi (1280 x 800 on 15.6"). A row is 68 px high:
# 64 px keys with 2 px around each.
MIN_KEY_PX = 57
ROW_PX = 68
EDGE_PX = 6                 # above and below the rows
SIDE_HINT = 0.005           # left and right of the rows, as a fraction of the keyboard's width
KEY_GAP_PX = 2              # around each key

# The keyboard for a question's type (kiosk.checkin.forms item types); other types use no typed answer.
FOR_QUESTION = {"integer": "digits", "decimal": "digits", "date": "digits",
                "string": "text", "text": "text", "open-choice": "text"}
# What a field for dates and numbers lets in, whichever keyboard it comes from (kiosk.checkin.answers.check and
# kiosk.checkin.identify.parse_birth_date read these: 14.07.1980, 14/07/1980, 1980-07-14, -3, 1,5).
ACCEPTS = {"date": "0123456789./-", "integer": "0123456789+- ", "decimal": "0123456789+-., "}


def accepting(characters: str):
    """A TextInput ``input_filter`` that lets only ``characters`` through."""
    def keep(text: str, _from_undo: bool) -> str:
        return "".join(c for c in text if c in characters)
    return keep


def path(name: str) -> Path:
    return FOLDER / f"{name}.json"


@cache
def load(name: str) -> dict:
    """The layout ``name`` as Kivy reads it (a dict; do not change it)."""
    return json.loads(path(name).read_text(encoding="utf-8"))


def rows(layout: dict, layer: str = "normal") -> list[list[list]]:
    """The rows of keys of one layer, top row first."""
    return [layout[f"{layer}_{n}"] for n in range(1, layout["rows"] + 1)]


def size_px(layout: dict, window_width: float) -> tuple[float, float]:
    """Width and height of the docked keyboard showing ``layout`` in a window ``window_width`` wide."""
    return window_width * layout.get("width_hint", 1.0), layout["rows"] * ROW_PX + 2 * EDGE_PX


def key_size_px(layout: dict, window_width: float) -> tuple[float, float]:
    """Width and height of a one-unit key (the smallest) of ``layout``, gaps taken off."""
    width, _ = size_px(layout, window_width)
    return width * (1 - 2 * SIDE_HINT) / layout["cols"] - 2 * KEY_GAP_PX, ROW_PX - 2 * KEY_GAP_PX


def typed_characters(layout: dict) -> set[str]:
    """Every character one key of ``layout`` types, with or without shift."""
    return {key[1] for layer in LAYERS for row in rows(layout, layer) for key in row if key[1]}
