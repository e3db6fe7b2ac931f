"""Widgets every screen uses: the translator Kivy binds to, buttons, the frame around the screens."""

from __future__ import annotations

from typing import Callable

from kivy.event import EventDispatcher
from kivy.properties import (BooleanProperty, ColorProperty, ListProperty, NumericProperty, ObjectProperty,
                             OptionProperty, StringProperty)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.screenmanager import Screen

from kiosk.events import ChooseLanguage
from kiosk.i18n import Catalogs
from kiosk.screens.theme import LARGE_TEXT_SCALE, THEMES, colour_names

LANGUAGE_NAMES = {"de": "Deutsch", "en": "English", "tr": "Türkçe", "fr": "Français"}  # endonyms: not translated


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


class KioskScreen(Screen):
    """Base of every screen: knows how to send events and shows the flow's notice for the patient."""

    notice = StringProperty("")
    sample_card_button = BooleanProperty(False)

    def __init__(self, send: Callable[[object], None], tr: Localizer, **kwargs):
        self.send = send
        self.tr = tr
        self.insert_sample_card: Callable[[], None] = lambda: None
        super().__init__(**kwargs)

    def show(self, flow) -> None:
        """Copy what this screen shows from the flow (called after every event)."""
        self.notice = flow.session.notice


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
    """The top bar (language, call staff) around the ScreenManager; lives as long as the app."""

    languages = ListProperty()
    language = StringProperty("")
    send = ObjectProperty(None)
    manager = ObjectProperty(None)

    def on_languages(self, *_args) -> None:
        box = self.ids.languages
        box.clear_widgets()
        for lang in self.languages:
            button = KioskButton(text=LANGUAGE_NAMES.get(lang, lang), action=f"language:{lang}", base_font=24)
            button.bind(on_release=lambda _b, lang=lang: self.send(ChooseLanguage(lang)))
            box.add_widget(button)
        self.on_language()

    def on_language(self, *_args) -> None:
        for button in self.ids.languages.children:
            button.style = "primary" if button.action == f"language:{self.language}" else "secondary"
