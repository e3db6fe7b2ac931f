"""Screens: one module and one .kv file per flow state, named after the state (``State.value``).

Screens are thin views. ``show(flow)`` copies what the current state needs into Kivy properties;
taps become flow events through ``send``. They never touch the store or a device.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from kiosk.flow import State

HERE = Path(__file__).parent


def kv_files() -> list[Path]:
    """The .kv files in load order: the shared rules first, then one per state."""
    return [HERE / "common.kv", *(HERE / f"{state.value}.kv" for state in State)]


def screen_class(state: State) -> type:
    """The Screen class that shows ``state`` (``SCREEN`` in ``kiosk/screens/<state>.py``)."""
    return importlib.import_module(f"kiosk.screens.{state.value}").SCREEN
