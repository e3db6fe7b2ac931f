"""Translations and locale formatting (pure: no Kivy).

Catalogs are gettext ``.po`` files in ``assets/locales/<lang>/LC_MESSAGES/kiosk.po``, each read with
Babel when its language is first shown. English is the source language: its text is the msgid, so it
needs no catalog.
"""

from __future__ import annotations

import errno
import re
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable

from babel.dates import format_date, format_datetime, format_time
from babel.messages.pofile import read_po

from kiosk.paths import ASSETS

DOMAIN = "kiosk"
SOURCE_LANGUAGE = "en"
LOCALES = ASSETS / "locales"

# Each language by its own name (endonyms: not translated), where a person chooses the language.
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English", "tr": "Türkçe", "fr": "Français"}

# espeak-ng voice per language (see `espeak-ng --voices`: en = British English, fr = fr-fr): the kiosk's read
# aloud (kiosk.hardware.speech) and the lobby displays' announcements (kiosk.site.display).
VOICES = {"de": "de", "en": "en", "tr": "tr", "fr": "fr"}


def speech_argv(argv: list[str], language: str, rate_wpm: int) -> list[str]:
    """The command line of one utterance of espeak-ng (``argv``: the program and its own options): voice and
    rate, the text as UTF-8 on stdin; never the text itself (every process can read another's argv)."""
    return [*argv, "-v", VOICES.get(language, language), "-s", str(rate_wpm), "-b", "1", "--stdin"]


# Calls of _ and N_ (also tr._ in kv) on string literals; adjacent literals are joined.
_MESSAGE = re.compile(r'\bN?_\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)')
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


class Catalogs:
    """The messages of these languages, each read once, when first asked for (a kiosk's start-up reads only
    the language its welcome screen shows).

    :raises FileNotFoundError: a language without its catalog file (at once, not when a patient picks it)
    """

    def __init__(self, languages: Iterable[str], locales_dir: Path = LOCALES):
        self._files = {lang: locales_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
                       for lang in languages if lang != SOURCE_LANGUAGE}
        for path in self._files.values():
            if not path.is_file():
                raise FileNotFoundError(errno.ENOENT, "no catalog", str(path))
        self._messages: dict[str, dict[str, str]] = {SOURCE_LANGUAGE: {}}

    def _catalog(self, language: str) -> dict[str, str]:
        messages = self._messages.get(language)
        if messages is None:
            if language not in self._files:
                return {}
            with open(self._files[language], "rb") as f:
                catalog = read_po(f, locale=language)
            messages = self._messages[language] = {m.id: m.string for m in catalog
                                                   if m.id and m.string and not m.fuzzy}
        return messages

    def gettext(self, language: str, message: str) -> str:
        return self._catalog(language).get(message) or message

    def translator(self, language: str) -> Callable[[str], str]:
        return lambda message: self.gettext(language, message)

    def missing(self, language: str, messages: Iterable[str]) -> list[str]:
        """The messages without a translation in ``language``."""
        if language == SOURCE_LANGUAGE:
            return []
        catalog = self._catalog(language)
        return [m for m in messages if m not in catalog]


def extract_messages(paths: Iterable[Path]) -> list[str]:
    """Every message marked for translation in these .py and .kv files, in order of appearance."""
    found: dict[str, None] = {}
    for path in paths:
        for match in _MESSAGE.finditer(path.read_text(encoding="utf-8")):
            found["".join(_LITERAL.findall(match.group(1)))] = None
    return list(found)


def format_birth_date(iso: str, language: str) -> str:
    """A birth date as people of that language write it, keeping the card's precision (1980, 1980-07)."""
    try:
        parts = [int(p) for p in iso.split("-")]
        if len(parts) == 3:
            return format_date(date(*parts), format="long", locale=language)
        if len(parts) == 2:
            return format_date(date(parts[0], parts[1], 1), format="MMMM y", locale=language)
        return str(parts[0])
    except ValueError:
        return iso           # shown as it came rather than not at all


def format_moment(moment: datetime, language: str) -> str:
    """A date and time for a ticket, in the kiosk's local time zone."""
    return format_datetime(moment.astimezone(), format="short", locale=language)


def format_clock(moment: str, language: str) -> str:
    """A time of today (an appointment's start, ISO 8601), in the kiosk's local time zone. One Python cannot
    read (a leap second, which a FHIR instant may have) is shown as it came rather than not at all."""
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    return format_time(parsed.astimezone(), format="short", locale=language)


def format_appointment(moment: datetime, language: str) -> str:
    """An appointment's day and time on the patient's pages ("Tuesday, 8 December 2026, 09:30"), at the
    hospital's wall-clock time it was given in (its own UTC offset), wherever the server runs."""
    wall = moment.replace(tzinfo=None)
    return (f"{format_date(wall.date(), format='full', locale=language)}, "
            f"{format_time(wall, format='short', locale=language)}")
