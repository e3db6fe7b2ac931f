"""Screens: one module and one .kv file per flow state, named after the state (``State.value``).

Screens are thin views. ``show(flow)`` copies what the current state needs into Kivy properties;
taps become flow events through ``send``. They never touch the store or a device.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from kiosk.checkin.session import State

HERE = Path(__file__).parent


_loaded: set[str] = set()


def load_rules(name: str) -> None:
    """Load ``kiosk/screens/<name>.kv`` once, when its first screen is made: parsing every screen's rules
    at start would keep the welcome screen waiting for screens most patients never see."""
    if name not in _loaded:
        from kivy.lang import Builder
        Builder.load_file(str(HERE / f"{name}.kv"))
        _loaded.add(name)


def screen_class(state: State) -> type:
    """The Screen class that shows ``state`` (``SCREEN`` in ``kiosk/screens/<state>.py``), its rules loaded."""
    load_rules(state.value)
    return importlib.import_module(f"kiosk.screens.{state.value}").SCREEN
