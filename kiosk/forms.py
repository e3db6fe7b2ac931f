"""Intake questions from FHIR R4 Questionnaire JSON in ``assets/forms/`` (pure).

This first cut knows the item types the walking skeleton asks (``boolean`` and ``choice`` with
``answerOption``) and the FHIR ``translation`` extension for multilingual text; the full renderer
(groups, enableWhen, free text, dates) belongs to issue 6.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kiosk.paths import ASSETS

TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
SUPPORTED_TYPES = ("boolean", "choice")


class FormError(ValueError):
    """A questionnaire the kiosk cannot ask."""


@dataclass(frozen=True)
class Text:
    """A text with its translations: ``{"en": "...", "de": "..."}``; the base text is under ''."""

    by_language: tuple[tuple[str, str], ...]

    def __call__(self, language: str) -> str:
        found = dict(self.by_language)
        return found.get(language) or found[""]


@dataclass(frozen=True)
class Option:
    code: str
    text: Text
    system: str = ""        # the answer Coding's system; a QuestionnaireResponse answer carries it with the code


@dataclass(frozen=True)
class Question:
    link_id: str
    type: str
    text: Text
    options: tuple[Option, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Form:
    url: str
    title: Text
    questions: tuple[Question, ...]


def _text(element: dict, key: str) -> Text:
    found = [("", element.get(key, ""))]
    for ext in element.get(f"_{key}", {}).get("extension", ()):
        if ext.get("url") == TRANSLATION:
            parts = {e["url"]: e.get("valueCode") or e.get("valueString") for e in ext.get("extension", ())}
            found.append((parts["lang"], parts["content"]))
    return Text(tuple(found))


def parse(questionnaire: dict) -> Form:
    """A Questionnaire resource as a Form; raises FormError naming the item it cannot ask."""
    if questionnaire.get("resourceType") != "Questionnaire":
        raise FormError("not a FHIR Questionnaire")
    questions = []
    for item in questionnaire.get("item", ()):
        if item.get("type") not in SUPPORTED_TYPES:
            raise FormError(f"item {item.get('linkId')!r} has type {item.get('type')!r}, "
                            f"which this kiosk cannot ask yet")
        options = tuple(Option(o["valueCoding"]["code"], _text(o["valueCoding"], "display"),
                               o["valueCoding"].get("system", ""))
                        for o in item.get("answerOption", ()))
        questions.append(Question(item["linkId"], item["type"], _text(item, "text"), options,
                                  bool(item.get("required"))))
    return Form(questionnaire.get("url", ""), _text(questionnaire, "title"), tuple(questions))


def load(name: str, forms_dir: Path = ASSETS / "forms") -> Form:
    """The form ``assets/forms/<name>.json``."""
    path = forms_dir / f"{name}.json"
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise FormError(f"there is no form {path}") from None
    except (json.JSONDecodeError, KeyError) as e:
        raise FormError(f"{path} is not a usable Questionnaire ({e})") from None
