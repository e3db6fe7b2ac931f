"""Kivy's settings for the kiosk's window: its size, and the ``Config`` that must be set before it exists.

Nothing of Kivy is imported here until ``configure`` runs, so that ``kiosk.app.prepare_kivy`` can read
the window's size before Kivy's environment is set.
"""

from __future__ import annotations

import logging

WINDOW_SIZE = (1280, 800)
# `kiosk demo` shows a banner above the top bar on every screen; its window is this much taller, so that the
# screens below have the room they have on a kiosk (and its screenshots show them as they are there).
DEMO_BANNER_PX = 40


def configure(display) -> None:
    """Kivy's ``Config`` for the screen as mounted (``display``: the ``[display]`` settings) and the touch
    panel; must run after ``kiosk.app.prepare_kivy`` and before the window is made (the first import of
    ``kivy.core.window``)."""
    import kivy
    # No X cut buffer: selected patient text must not reach the X selection (nor need xclip/xsel).
    kivy.kivy_options["cutbuffer"] = ()
    # Kivy then logs "Cutbuffer: Unable to find any valuable Cutbuffer provider" as CRITICAL at every
    # start: intended here, and a critical line in the journal would wake whoever watches for them.
    logging.getLogger("kivy").addFilter(
        lambda record: not record.getMessage().startswith("Cutbuffer: Unable to find any valuable"))
    from kivy.config import Config

    # Touch arrives as pointer events (X, Xwayland): one input provider only, else every tap counts
    # twice; no red multitouch dots. Set before the window exists.
    for provider in Config.options("input"):
        Config.remove_option("input", provider)
    Config.set("input", "mouse", "mouse,disable_multitouch")
    # The screen as mounted ([display]): Kivy turns the picture and the touches with it. The touch
    # panel's calibration applies before that turn, to the pointer as the panel reports it; the settings
    # count from the top left (like libinput's calibration matrix), Kivy's calibration from the bottom left.
    Config.set("graphics", "rotation", str(display.rotation))
    if not Config.has_section("postproc:calibration"):
        Config.add_section("postproc:calibration")
    Config.set("postproc:calibration", "mouse",
               f"xratio={display.touch_x_scale},xoffset={display.touch_x_offset},yratio={display.touch_y_scale},"
               f"yoffset={1 - display.touch_y_scale - display.touch_y_offset}")
