"""Widgets every screen uses: the translator Kivy binds to, buttons, the frame around the screens."""

from __future__ import annotations

from typing import Callable

from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, OptionProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.screenmanager import Screen

from kiosk.events import ChooseLanguage
from kiosk.i18n import Catalogs

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


class KioskButton(Button):
    """A large touch target. ``action`` names what it does, so scripts and tests can find it."""

    action = StringProperty("")
    style = OptionProperty("primary", options=["primary", "secondary", "staff"])


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
            button = KioskButton(text=LANGUAGE_NAMES.get(lang, lang), action=f"language:{lang}", font_size="24sp")
            button.bind(on_release=lambda _b, lang=lang: self.send(ChooseLanguage(lang)))
            box.add_widget(button)
        self.on_language()

    def on_language(self, *_args) -> None:
        for button in self.ids.languages.children:
            button.style = "primary" if button.action == f"language:{self.language}" else "secondary"
