"""The docked on-screen keyboard: Kivy's VKeyboard with the layouts of ``kiosk.screens.keyboards``.

The Window makes one keyboard and hands it to whichever field takes the focus
(``Window.set_vkeyboard_class(KioskKeyboard)``). When a field asks for it, the keyboard shows the
layout the field names (``keyboard_layout``: names, text, digits, code), docks at the bottom of the
window, full width (the digit pad: centred, half as wide) with keys of at least 15 mm, and asks the
frame around the screens to make room for it, so the field being typed into stays in sight and the
top bar with "Call staff" stays where it is. When the field lets go of it, the room goes too.

Shift is a key one taps, not one to hold (one finger on a touch screen): it types the next letter as
a capital. On a names keyboard the first letter and each letter after a space or a hyphen start as
capitals by themselves; the shift key, lit, says so, and one tap on it turns it off.
"""

from __future__ import annotations

from kivy.properties import StringProperty
from kivy.uix.vkeyboard import VKeyboard

from kiosk.screens import keyboards

FONT_PX = 30
# After these, a name goes on with a capital letter (Müller-Lüdenscheidt, Anna Maria).
_WORD_STARTS = {"names": " -", "text": ""}


class KioskKeyboard(VKeyboard):
    """Kivy's virtual keyboard, docked, with our layouts, big keys and a one-tap shift."""

    layout_path = StringProperty(str(keyboards.FOLDER))
    layout = StringProperty("names")

    def __init__(self, **kwargs):
        kwargs.setdefault("font_size", FONT_PX)
        kwargs.setdefault("key_margin", [keyboards.KEY_GAP_PX] * 4)
        super().__init__(**kwargs)
        self._frame = None            # the frame that made room for us, for as long as we are shown
        self._shown = 0               # how many times a field has taken the keyboard
        self.fbind("parent", self._on_parent)

    # --- docking: called by the Window each time a field takes the keyboard ---

    def setup_mode_dock(self, *_args) -> None:
        self.do_translation = self.do_rotation = self.do_scale = False
        self.rotation = 0
        self.scale = 1
        field = self.target
        name = getattr(field, "keyboard_layout", "names")
        self.layout = name if name in self.available_layouts else "names"
        layout = self.available_layouts[self.layout]
        window = self.get_parent_window()
        self.size = keyboards.size_px(layout, window.width)
        self.pos = (window.width - self.width) / 2, 0
        edge = keyboards.EDGE_PX / self.height
        self.margin_hint = [edge, keyboards.SIDE_HINT, edge, keyboards.SIDE_HINT]
        self._shown += 1
        self.have_shift = self.have_capslock = False
        self.active_keys = {}                 # lit keys of the last layout may not exist on this one
        self.refresh(True)
        self._auto_shift()
        self._frame = _frame_of(field)
        if self._frame is not None:
            self._frame.make_room_for_keyboard(self.height, field)

    def _on_parent(self, _instance, parent) -> None:
        if parent is None and self._frame is not None:      # the field let go of the keyboard
            self._frame.make_room_for_keyboard(0, None)
            self._frame = None

    def process_key_on(self, touch) -> None:
        shown = self._shown
        super().process_key_on(touch)
        if shown != self._shown:                  # ⏎ gave the keyboard to the next field: a fresh layout
            self.active_keys.pop(touch.uid, None)
            self.refresh_active_keys_layer()

    def refresh_active_keys_layer(self) -> None:
        geometry = self.layout_geometry           # keys lit on another layout are not on this one
        for uid, (line, index) in list(self.active_keys.items()):
            if index >= len(geometry.get(f"LINE_{line}", ())):
                del self.active_keys[uid]
        super().refresh_active_keys_layer()

    def _start_repeat_key(self, *_args) -> None:
        """No auto-repeat: a finger resting on a key types it once (and ⏎, which hands the keyboard to the
        next field, never reaches that field too)."""

    # --- shift: tapped, not held ---

    def process_key_up(self, touch) -> None:
        pressed = touch.ud.get(self.uid, {}).get("key")
        super().process_key_up(touch)
        if pressed is not None and pressed[0][2] != "capslock":    # a letter, backspace...: shift again?
            self._auto_shift()

    def _auto_shift(self) -> None:
        """Capitals for the next key when the field is empty or (names) a new word begins."""
        field, starts = self.target, _WORD_STARTS.get(self.layout)
        on = False
        if field is not None and starts is not None:
            before = field.text[:field.cursor_index()]
            on = not before or before[-1] in starts
        self.set_shift(on)

    def set_shift(self, on: bool) -> None:
        """Turn the shift layer on or off, and light the shift key while it is on."""
        self.have_capslock = on
        self.active_keys.pop(-1, None)
        if on:
            key = self.shift_key()
            if key:
                self.active_keys[-1] = key
        self.refresh_active_keys_layer()

    def shift_key(self) -> tuple[int, int] | None:
        """(row, index) of the first shift key of the layout, rows counted from 1 at the top."""
        layout = self.available_layouts[self.layout]
        for line, row in enumerate(keyboards.rows(layout), start=1):
            for index, key in enumerate(row):
                if key[2] == "capslock":
                    return line, index
        return None

    # --- for tests and scripts ---

    def key_centre(self, text: str) -> tuple[float, float] | None:
        """Window position of the middle of the key that types ``text`` on the layer shown now."""
        layout = self.available_layouts[self.layout]
        for line, row in enumerate(keyboards.rows(layout, self.layout_mode), start=1):
            for index, key in enumerate(row):
                if key[1] == text or (key[1] is None and key[2] == text):
                    (x, y), (w, h) = self.layout_geometry[f"LINE_{line}"][index]
                    return self.to_window(*self.to_parent(x + w / 2, y + h / 2))   # keys are in our own coordinates
        return None


def _frame_of(widget):
    """The nearest ancestor that can make room for the keyboard (the KioskFrame), or None."""
    while widget is not None and not hasattr(widget, "make_room_for_keyboard"):
        widget = widget.parent
    return widget
