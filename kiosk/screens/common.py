"""Widgets every screen uses: the translator Kivy binds to, buttons, the frame around the screens."""

from __future__ import annotations

from typing import Callable

from kivy.event import EventDispatcher
from kivy.metrics import dp
from kivy.properties import (BooleanProperty, ColorProperty, ListProperty, NumericProperty, ObjectProperty,
                             OptionProperty, StringProperty)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView

from kiosk.checkin.events import ChooseLanguage
from kiosk.i18n import LANGUAGE_NAMES, Catalogs
from kiosk.screens.theme import LARGE_TEXT_SCALE, THEMES, colour_names

CORNER_DP = 60          # the staff gesture's corner: the top bar's left padding keeps it empty


class Localizer(EventDispatcher):
    """``tr._(message)`` in kv re-evaluates when ``language`` changes, because ``_`` is a Kivy property."""

    language = StringProperty("")
    _ = ObjectProperty(lambda message: message)

    def __init__(self, catalogs: Catalogs, language: str, **kwargs):
        self.catalogs = catalogs
        super().__init__(**kwargs)
        self.language = language

    def on_language(self, _instance, language: str) -> None:
        self._ = self.catalogs.translator(language)


class _Look(EventDispatcher):
    high_contrast = BooleanProperty(False)
    large_text = BooleanProperty(False)
    scale = NumericProperty(1.0)

    def on_high_contrast(self, _instance, on: bool) -> None:
        theme = THEMES["high_contrast" if on else "standard"]
        for name in colour_names():
            setattr(self, name, getattr(theme, name))

    def on_large_text(self, _instance, on: bool) -> None:
        self.scale = LARGE_TEXT_SCALE if on else 1.0

    def reset(self) -> None:
        self.high_contrast = self.large_text = False


# One Kivy property per theme colour (kv binds to `look.ink`, `look.primary`...; a colour inside a
# plain object would not be watched).
Look = type("Look", (_Look,), {name: ColorProperty(list(getattr(THEMES["standard"], name)))
                               for name in colour_names()})
Look.__doc__ = """How the screens look for this patient: ``look.<colour>`` (see kiosk.screens.theme) and
``look.scale`` for text, in kv. The patient may switch to larger text or high contrast; ``reset`` (at
every wipe) switches back."""


class KioskButton(Button):
    """A large touch target. ``action`` names what it does, so scripts and tests can find it."""

    action = StringProperty("")
    style = OptionProperty("primary", options=["primary", "secondary", "staff"])
    base_font = NumericProperty(30)      # sp, before the patient's text scale


def spoken_texts(root, *, personal: bool = False) -> list[str]:
    """What "Read aloud" says for ``root``: the texts of its visible labels and buttons in reading
    order (kv order: top to bottom, left to right), and the hint of each empty text field.

    Never what is typed into a field, and, unless ``personal`` (the patient asked), nothing of a widget
    marked ``personal: True`` in kv (the patient's details) or inside one. Hidden widgets (opacity 0) are
    not read, nor is anything inside them; a dimmed, disabled button is (the patient sees it too)."""
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput
    texts: list[str] = []

    def visit(widget) -> None:
        if widget.opacity == 0 or (getattr(widget, "personal", False) and not personal):
            return
        if isinstance(widget, Label):
            text = widget.text.strip()
        elif isinstance(widget, TextInput):
            text = "" if widget.text else widget.hint_text.strip()
        else:
            text = ""
        if text:
            texts.append(text)
        for child in reversed(widget.children):     # children[0] is the one added last
            visit(child)

    visit(root)
    return texts


class Scroller(ScrollView):
    """What a screen says, above its buttons: it scrolls when larger text or a long translation needs more
    room than the screen has, so that the buttons below stay in view. Its bar always shows (there is
    more), and never fades: Kivy fades it with an Animation, which would hold the screen, and with it
    the last patient's details, for a second after the screen was replaced."""

    def _bind_inactive_bar_color(self, *_args) -> None:
        pass


class KioskScreen(Screen):
    """Base of every screen: knows how to send events and shows the flow's notice for the patient."""

    notice = StringProperty("")
    sample_card_button = BooleanProperty(False)
    can_speak = BooleanProperty(False)        # read-aloud works on this kiosk: its buttons show

    def __init__(self, send: Callable[[object], None], tr: Localizer, **kwargs):
        self.send = send
        self.tr = tr
        self.insert_sample_card: Callable[[], None] = lambda: None
        self.speak: Callable[[str], None] = lambda text: None
        super().__init__(**kwargs)

    def spoken_text(self, *, personal: bool = False) -> str:
        """This screen's text as read aloud (see ``spoken_texts``), one sentence or line after another."""
        return "\n".join(spoken_texts(self, personal=personal))

    def show(self, flow) -> None:
        """Copy what this screen shows from the flow (called after every event)."""
        self.notice = flow.session.notice

    def forget(self) -> None:
        """Called as this screen is replaced: it sends nothing more, and its fields let go of the
        keyboard and of what was typed (text and undo history), so that nothing of the patient stays
        behind on it, in the keyboard or in Kivy's text caches."""
        from kivy.uix.textinput import TextInput
        self.send = lambda _event: None       # a late callback on a screen no one sees changes nothing
        for widget in self.walk(restrict=True):
            if getattr(widget, "focus", False):
                widget.focus = False            # the keyboard goes (else it stays up, typing into this field)
            if isinstance(widget, TextInput):
                widget.text = ""
                widget.reset_undo()
        _let_go_of_the_last_field()
        unbind_rules(self)


def unbind_rules(widget) -> None:
    """The kv rules' bindings of ``widget`` and everything in it go now, not when the garbage collector frees
    them: a collection in the middle of a dispatch to those bindings (a language or look change) would
    otherwise leave one of them with a widget that is gone, and the ReferenceError ends the event loop."""
    from kivy.lang import Builder
    for each in widget.walk(restrict=True):
        Builder.unbind_widget(each.uid)


def clear(box) -> None:
    """``box.clear_widgets()`` for widgets that are thrown away (their kv bindings go with them)."""
    for child in list(box.children):
        unbind_rules(child)
    box.clear_widgets()


def _let_go_of_the_last_field() -> None:
    """Kivy 2.3.1 keeps the last field typed into, and with it its whole screen, alive in two places:
    the on-screen keyboard widget's ``target`` and ``callback`` (``Window.release_keyboard`` clears only
    the Keyboard's), and the arguments of the last call of ``TextInput._adjust_viewport`` (a
    ``@triggered`` method: kivy/clock.py ``triggered``), kept in a closure. Let go of both, so that a
    replaced screen is freed."""
    from kivy.core.window import Window
    from kivy.uix.textinput import TextInput
    for keyboard in getattr(Window, "_keyboards", {}).values():
        if keyboard.target is None and getattr(keyboard, "widget", None) is not None:   # released
            keyboard.widget.target = keyboard.widget.callback = None
    trigger = TextInput._adjust_viewport
    if not hasattr(trigger, "cancel"):
        return                          # another Kivy: nothing to let go of
    trigger.cancel()
    for cell in trigger.__closure__ or ():
        if isinstance(cell.cell_contents, (list, dict)):
            cell.cell_contents.clear()


class EntryScreen(KioskScreen):
    """A screen with text fields (kv ids in ``fields``). What is typed goes to the flow as a draft, and
    comes back when the patient returns from help or the idle warning to a freshly built screen."""

    fields: tuple[str, ...] = ()

    def show(self, flow) -> None:
        super().show(flow)
        if getattr(self, "_restored", False):
            return
        self._restored = True
        for name in self.fields:
            if flow.session.draft.get(name):
                self.ids[name].text = flow.session.draft[name]


class KioskFrame(BoxLayout):
    """The top bar (read aloud, language, call staff) around the ScreenManager; lives as long as the app."""

    languages = ListProperty()
    language = StringProperty("")
    send = ObjectProperty(None)
    speak = ObjectProperty(lambda text: None)     # text -> spoken in the current language
    can_speak = BooleanProperty(False)
    manager = ObjectProperty(None)
    keyboard_room = NumericProperty(0)            # px at the bottom kept free for the on-screen keyboard
    corner_tap = ObjectProperty(lambda: None)     # a tap in the empty top-left corner (staff sign-in gesture)
    staff_mode = BooleanProperty(False)           # staff are at the screen: no "Call staff"
    demo = StringProperty("")                     # the banner of `kiosk demo` (a msgid), "" on a real kiosk

    def on_touch_down(self, touch) -> bool:
        """The top-left corner of the top bar (CORNER_DP square, kept empty by the bar's padding) counts
        taps for the staff sign-in (kiosk.desk.staffmode.CornerGesture); nothing else is there to touch."""
        if touch.x <= self.x + dp(CORNER_DP) and touch.y >= self.top - dp(CORNER_DP):
            self.corner_tap()
            return True
        return super().on_touch_down(touch)

    def make_room_for_keyboard(self, height: float, field=None) -> None:
        """Keep ``height`` px at the bottom free (0: none) and move the screen up just enough for ``field``
        (the one being typed into) to stay in sight above the keyboard; the top bar does not move."""
        self.keyboard_room = height
        scroller = self.ids.scroller
        if field is None or not height:
            scroller.scroll_y = 1
            return
        _, bottom = self.manager.to_widget(*field.to_window(field.x, field.y))   # in the screen's own height
        # The scroller shows the screen from scroll_y * height up: the field's bottom and a margin above that.
        scroller.scroll_y = max(0.0, min(1.0, (bottom - dp(24)) / height))

    def read_aloud(self) -> None:
        """Speak the current screen, without the patient's details (those only on the patient's request)."""
        screen = self.manager.current_screen
        if screen is not None:
            self.speak(screen.spoken_text())

    def on_languages(self, *_args) -> None:
        box = self.ids.languages
        clear(box)
        for lang in self.languages:
            button = KioskButton(text=LANGUAGE_NAMES.get(lang, lang), action=f"language:{lang}", base_font=26,
                                 size_hint_y=1)
            button.bind(on_release=lambda _b, lang=lang: self.send(ChooseLanguage(lang)))
            box.add_widget(button)
        self.on_language()

    def on_language(self, *_args) -> None:
        for button in self.ids.languages.children:
            button.style = "primary" if button.action == f"language:{self.language}" else "secondary"
