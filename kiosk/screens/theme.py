"""The kiosk's colours, as data: a standard theme and a high-contrast one (pure: no Kivy).

Every pair of text and background colour a screen uses is listed in ``PAIRS``, and a test holds each
pair of each theme to a WCAG contrast ratio of at least 4.5:1.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

RGBA = tuple[float, float, float, float]
LARGE_TEXT_SCALE = 1.3          # the "Larger text" switch


@dataclass(frozen=True)
class Theme:
    # The names become Kivy properties of kiosk.screens.common.Look: none may start with "on_",
    # which Kivy takes for an event handler.
    background: RGBA            # behind the screens
    bar: RGBA                   # the top bar
    ink: RGBA                   # text
    muted: RGBA                 # captions beside values
    primary: RGBA               # main buttons
    primary_text: RGBA            # their text
    staff: RGBA                 # "Call staff"
    staff_text: RGBA
    secondary: RGBA             # outlined buttons
    secondary_text: RGBA          # their text and outline
    pressed: RGBA               # a button under a finger
    pressed_text: RGBA
    notice: RGBA                # the band behind a notice
    notice_text: RGBA


THEMES = {
    "standard": Theme(
        background=(0.96, 0.97, 0.98, 1), bar=(1, 1, 1, 1), ink=(0.08, 0.09, 0.11, 1), muted=(0.25, 0.27, 0.30, 1),
        primary=(0.043, 0.361, 0.678, 1), primary_text=(1, 1, 1, 1), staff=(0.60, 0.20, 0.0, 1), staff_text=(1, 1, 1, 1),
        secondary=(1, 1, 1, 1), secondary_text=(0.043, 0.361, 0.678, 1), pressed=(0.35, 0.35, 0.35, 1),
        pressed_text=(1, 1, 1, 1), notice=(1.0, 0.93, 0.72, 1), notice_text=(0.08, 0.09, 0.11, 1)),
    "high_contrast": Theme(
        background=(0, 0, 0, 1), bar=(0, 0, 0, 1), ink=(1, 1, 1, 1), muted=(1, 1, 0.6, 1),
        primary=(1, 0.87, 0, 1), primary_text=(0, 0, 0, 1), staff=(1, 0.55, 0.3, 1), staff_text=(0, 0, 0, 1),
        secondary=(0, 0, 0, 1), secondary_text=(1, 1, 1, 1), pressed=(1, 1, 1, 1), pressed_text=(0, 0, 0, 1),
        notice=(1, 1, 1, 1), notice_text=(0, 0, 0, 1)),
}

# (text, background) as the screens put them together.
PAIRS = (("ink", "background"), ("ink", "bar"), ("muted", "background"), ("primary_text", "primary"),
         ("staff_text", "staff"), ("secondary_text", "secondary"), ("secondary_text", "bar"),
         ("pressed_text", "pressed"), ("notice_text", "notice"))


def luminance(colour: RGBA) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(text: RGBA, background: RGBA) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    hi, lo = sorted((luminance(text), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def colour_names() -> list[str]:
    return [f.name for f in fields(Theme)]
