"""Intake questions from FHIR R4 Questionnaire JSON in ``assets/forms/`` (pure).

Item types: ``group``, ``display``, ``string``, ``text``, ``boolean``, ``integer``, ``decimal``, ``date``,
``choice`` and ``open-choice`` (``answerOption`` with ``valueCoding``; open-choice also takes free text),
with ``repeats``, ``required``, ``maxLength``, ``enableWhen``/``enableBehavior`` and the FHIR ``translation``
extension on ``title``, ``text`` and option ``display`` (FHIR R4 questionnaire.html; the SDC IG).

The form's answers (checking what was typed, enableWhen, the QuestionnaireResponse) are
``kiosk.checkin.answers``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.paths import ASSETS

TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
# On an answerOption: choosing this answer asks staff to speak to the patient before they are seen
# (e.g. PHQ-9 item 9, thoughts of self-harm). The kiosk raises a high incident; the answer stays private.
STAFF_ALERT = "https://kiosk.example/fhir/StructureDefinition/staff-alert"
ANSWER_TYPES = ("string", "text", "boolean", "integer", "decimal", "date", "choice", "open-choice")
SUPPORTED_TYPES = ("group", "display", *ANSWER_TYPES)
UNSUPPORTED_TYPES = ("attachment", "reference", "quantity", "url", "time", "dateTime")
# What the touch screens can show (kiosk/screens/questions.kv); the config refuses other forms.
# A repeating choice or open choice takes several answers (buttons that tick, then Continue); other
# repeating questions are asked once, for a single answer.
RENDERED_TYPES = frozenset(SUPPORTED_TYPES)
OPERATORS = ("exists", "=", "!=", ">", "<", ">=", "<=")
# enableWhen answer[x] -> the kind of value it compares, and the question types it may refer to
_CONDITION_ANSWERS = {
    "answerBoolean": ("boolean",), "answerInteger": ("integer", "decimal"),
    "answerDecimal": ("integer", "decimal"), "answerString": ("string", "text", "open-choice"),
    "answerDate": ("date",), "answerCoding": ("choice", "open-choice"),
}
_ORDERED = ("answerInteger", "answerDecimal", "answerString", "answerDate")    # may take > < >= <=



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
    alert: bool = False     # choosing it asks staff to speak to the patient (STAFF_ALERT)


@dataclass(frozen=True)
class Condition:
    """One enableWhen: ``question`` (a linkId) ``operator`` ``answer``.

    ``kind`` is the answer[x] element name without ``answer`` (Boolean, Integer, Decimal, String, Date,
    Coding). A Coding answer is ``(system, code)``; its system may be ''. A date is an ISO string.
    """

    question: str
    operator: str
    kind: str
    answer: Any


@dataclass(frozen=True)
class Question:
    link_id: str
    type: str
    text: Text
    options: tuple[Option, ...] = ()
    required: bool = False
    repeats: bool = False
    max_length: int | None = None
    enable_when: tuple[Condition, ...] = ()
    enable_behavior: str = "all"        # all | any
    group: str = ""                     # linkId of the innermost group holding it, '' at the top level


@dataclass(frozen=True)
class Group:
    link_id: str
    text: Text
    items: tuple[Item, ...]
    required: bool = False
    enable_when: tuple[Condition, ...] = ()
    enable_behavior: str = "all"
    group: str = ""
    type: str = "group"


@dataclass(frozen=True)
class Display:
    link_id: str
    text: Text
    enable_when: tuple[Condition, ...] = ()
    enable_behavior: str = "all"
    group: str = ""
    type: str = "display"


Item = Group | Display | Question


@dataclass(frozen=True)
class Form:
    url: str
    title: Text
    questions: tuple[Question, ...]                 # every answerable item, in document order
    items: tuple[Item, ...] = ()                    # the tree: groups, display texts and questions
    item_types: frozenset[str] = frozenset()        # the item types the form uses
    version: str = ""

    def find(self, link_id: str) -> Item:
        """The item with this linkId (KeyError if none)."""
        for item in walk(self.items):
            if item.link_id == link_id:
                return item
        raise KeyError(link_id)


def walk(items):
    """Every item of ``items`` and of the groups among them, in document order."""
    for item in items:
        yield item
        if isinstance(item, Group):
            yield from walk(item.items)


# --- parsing ---

def _text(element: dict, key: str) -> Text:
    found = [("", element.get(key, ""))]
    for ext in element.get(f"_{key}", {}).get("extension", ()):
        if ext.get("url") == TRANSLATION:
            parts = {e["url"]: e.get("valueCode") or e.get("valueString") for e in ext.get("extension", ())}
            found.append((parts["lang"], parts["content"]))
    return Text(tuple(found))


def _condition(link_id: str, when: dict) -> Condition:
    operator = when.get("operator")
    if operator not in OPERATORS:
        raise FormError(f"item {link_id!r} has an enableWhen with operator {operator!r}")
    if not when.get("question"):
        raise FormError(f"item {link_id!r} has an enableWhen without a question")
    answers = [k for k in when if k.startswith("answer")]
    if len(answers) != 1:
        raise FormError(f"item {link_id!r} has an enableWhen without exactly one answer[x]")
    key = answers[0]
    if key not in _CONDITION_ANSWERS:
        raise FormError(f"item {link_id!r} has an enableWhen {key}, which this kiosk cannot compare")
    if operator == "exists" and key != "answerBoolean":
        raise FormError(f"item {link_id!r}: enableWhen operator 'exists' takes answerBoolean (que-7)")
    if operator in (">", "<", ">=", "<=") and key not in _ORDERED:
        raise FormError(f"item {link_id!r}: enableWhen operator {operator!r} cannot compare {key}")
    value = when[key]
    if key == "answerCoding":
        value = (value.get("system", ""), value.get("code", ""))
    return Condition(when["question"], operator, key.removeprefix("answer"), value)


def _enable(item: dict) -> tuple[tuple[Condition, ...], str]:
    link_id = item["linkId"]
    conditions = tuple(_condition(link_id, w) for w in item.get("enableWhen", ()))
    behavior = item.get("enableBehavior")
    if len(conditions) > 1 and behavior is None:
        raise FormError(f"item {link_id!r} has several enableWhen but no enableBehavior (que-12)")
    if behavior not in (None, "all", "any"):
        raise FormError(f"item {link_id!r} has enableBehavior {behavior!r}")
    return conditions, behavior or "all"


def _item(item: dict, group: str) -> Item:
    link_id, kind = item.get("linkId"), item.get("type")
    if not link_id:
        raise FormError(f"an item of type {kind!r} has no linkId")
    if kind in UNSUPPORTED_TYPES or kind not in SUPPORTED_TYPES:
        raise FormError(f"item {link_id!r} has type {kind!r}, which this kiosk cannot ask yet")
    children = item.get("item", ())
    if "answerValueSet" in item and "answerOption" in item:
        raise FormError(f"item {link_id!r} has both answerOption and answerValueSet (que-4)")
    if "answerValueSet" in item:
        raise FormError(f"item {link_id!r} takes its options from a ValueSet, which this kiosk cannot expand")
    if "answerOption" in item and kind not in ("choice", "open-choice"):
        raise FormError(f"item {link_id!r} of type {kind!r} has an answerOption, which this kiosk cannot ask")
    if "maxLength" in item and kind not in ("string", "text", "open-choice"):
        raise FormError(f"item {link_id!r} of type {kind!r} has a maxLength (que-10)")
    conditions, behavior = _enable(item)
    text = _text(item, "text")
    if kind == "group":
        if not children:
            raise FormError(f"group {link_id!r} has no items (que-1)")
        if item.get("repeats"):
            raise FormError(f"group {link_id!r} repeats, which this kiosk cannot ask yet")
        return Group(link_id, text, tuple(_item(c, link_id) for c in children), bool(item.get("required")),
                     conditions, behavior, group)
    if kind == "display":
        if children:
            raise FormError(f"display item {link_id!r} has items (que-1)")
        if "required" in item or "repeats" in item:
            raise FormError(f"display item {link_id!r} has required or repeats (que-6)")
        return Display(link_id, text, conditions, behavior, group)
    if children:
        raise FormError(f"item {link_id!r} has items under a question, which this kiosk cannot ask yet")
    options = []
    for o in item.get("answerOption", ()):
        if "valueCoding" not in o:
            raise FormError(f"item {link_id!r} has an answerOption without valueCoding, "
                            f"which this kiosk cannot ask yet")
        coding = o["valueCoding"]
        alert = any(e.get("url") == STAFF_ALERT and e.get("valueBoolean") is True for e in o.get("extension", ()))
        options.append(Option(coding["code"], _text(coding, "display"), coding.get("system", ""), alert))
    if kind == "choice" and not options:
        raise FormError(f"choice item {link_id!r} offers no answerOption")
    max_length = item.get("maxLength")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise FormError(f"item {link_id!r} has maxLength {max_length!r}")
    return Question(link_id, kind, text, tuple(options), bool(item.get("required")), bool(item.get("repeats")),
                    max_length, conditions, behavior, group)


def _depends_on(item: Item) -> list[str]:
    """The linkIds whose state decides whether ``item`` is enabled: its conditions' questions, its group."""
    return [c.question for c in item.enable_when] + ([item.group] if item.group else [])


def parse(questionnaire: dict) -> Form:
    """A Questionnaire resource as a Form; raises FormError naming the item it cannot ask."""
    if questionnaire.get("resourceType") != "Questionnaire":
        raise FormError("not a FHIR Questionnaire")
    items = tuple(_item(i, "") for i in questionnaire.get("item", ()))
    by_id: dict[str, Item] = {}
    for item in walk(items):
        if item.link_id in by_id:
            raise FormError(f"linkId {item.link_id!r} is used twice (que-2)")
        by_id[item.link_id] = item
    for item in by_id.values():
        for c in item.enable_when:
            target = by_id.get(c.question)
            if not isinstance(target, Question):
                raise FormError(f"item {item.link_id!r} is enabled by {c.question!r}, "
                                f"which is not a question of this form")
            if target.type not in _CONDITION_ANSWERS[f"answer{c.kind}"]:
                raise FormError(f"item {item.link_id!r} compares {target.type} item {c.question!r} "
                                f"with answer{c.kind}")
    # an item that (through enableWhen and its groups) depends on itself could never be decided
    state: dict[str, int] = {}

    def visit(link_id: str) -> None:
        if state.get(link_id) == 2:
            return
        if state.get(link_id) == 1:
            raise FormError(f"item {link_id!r} depends on itself through enableWhen")
        state[link_id] = 1
        for other in _depends_on(by_id[link_id]):
            visit(other)
        state[link_id] = 2

    for link_id in by_id:
        visit(link_id)
    questions = tuple(i for i in by_id.values() if isinstance(i, Question))
    return Form(questionnaire.get("url", ""), _text(questionnaire, "title"), questions, items,
                frozenset(i.type for i in by_id.values()), questionnaire.get("version", ""))


def load(name: str, forms_dir: Path = ASSETS / "forms") -> Form:
    """The form ``assets/forms/<name>.json``."""
    path = forms_dir / f"{name}.json"
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise FormError(f"there is no form {path}") from None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise FormError(f"{path} is not a usable Questionnaire ({e!r})") from None
