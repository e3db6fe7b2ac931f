"""What a person would find wrong with the screen as drawn: targets too small to touch, text too small
to read, and anything cut off or pushed out of the window (e.g. by larger text or a long translation).

Sizes are judged on the smallest panel a lobby kiosk has: a 15.6-inch 1280x800 touch screen, about 96.8
pixels per inch (1 mm = 3.81 px). Touch targets must be at least 15 mm on both sides; text at least 18 pt.
"""

from __future__ import annotations

REFERENCE_PPI = 96.8
MIN_TARGET_MM = 15.0
MIN_TEXT_PT = 18.0


def px_to_mm(px: float) -> float:
    return px * 25.4 / REFERENCE_PPI


def px_to_pt(px: float) -> float:
    return px * 72 / REFERENCE_PPI


def _shown(widget) -> bool:
    """Drawn and visible: not hidden by opacity (its own or a parent's), not collapsed to nothing."""
    if widget.opacity == 0 or any(p.opacity == 0 for p in _parents(widget)):
        return False
    return widget.width > 0 and widget.height > 0


def _parents(widget):
    while widget.parent is not None and widget.parent is not widget:
        widget = widget.parent
        yield widget


def problems(root, window_size: tuple[int, int]) -> list[str]:
    """One sentence per fault on the widgets under ``root`` (the visible screen and its frame)."""
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.screenmanager import ScreenManager
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.textinput import TextInput

    found = []
    for w in root.walk(restrict=True):
        if not _shown(w):
            continue
        name = getattr(w, "action", "") or (w.text[:40] if isinstance(w, Label) else type(w).__name__)
        # A screen's widgets must stay inside the screen (not over the top bar), the bar inside the window;
        # what lies beyond a scrolling view is reached by scrolling (its bar shows there is more).
        area = next((a for a in _parents(w) if isinstance(a, (ScreenManager, ScrollView))), None)
        left, bottom = area.to_window(area.x, area.y) if area else (0, 0)
        right, top = (left + area.width, bottom + area.height) if area else window_size
        x, y = w.to_window(w.x, w.y)
        out = x < left - 1 or y < bottom - 1 or x + w.width > right + 1 or y + w.height > top + 1
        if out and not isinstance(area, ScrollView):
            where = "the screen" if area else "the window"
            found.append(f"{name!r} reaches out of {where} ({x:.0f},{y:.0f} {w.width:.0f}x{w.height:.0f})")
        if isinstance(w, (Button, TextInput)) and not w.disabled:
            small = min(px_to_mm(w.width), px_to_mm(w.height))
            if small < MIN_TARGET_MM:
                found.append(f"{name!r} is a touch target of {small:.1f} mm (at least {MIN_TARGET_MM:.0f} mm)")
        if isinstance(w, (Label, TextInput)) and (w.text or getattr(w, "hint_text", "")):
            if px_to_pt(w.font_size) < MIN_TEXT_PT - 0.05:
                found.append(f"{name!r} has {px_to_pt(w.font_size):.1f} pt text (at least {MIN_TEXT_PT:.0f} pt)")
        if isinstance(w, Label) and w.text and w.texture_size[1] > w.height + 2:
            found.append(f"{name!r} is cut off: its text needs {w.texture_size[1]:.0f} px, it has {w.height:.0f}")
        if isinstance(w, Label) and w.text and w.text_size[0]:
            word = _broken_word(w)
            if word:
                found.append(f"{name!r} breaks the word {word!r}: it is wider than the label")
    return found


def _broken_word(label) -> str:
    """A word of the label's text too wide for its lines (Kivy then breaks it mid-word), or ''."""
    from kivy.core.text import Label as CoreLabel
    for word in set(label.text.split()):
        core = CoreLabel(text=word, font_size=label.font_size, font_name=label.font_name, bold=label.bold)
        core.refresh()
        if core.texture.width > label.text_size[0] + 1:
            return word
    return ""
