"""Intake questions from FHIR R4 Questionnaire JSON in ``assets/forms/`` (pure).

Item types: ``group``, ``display``, ``string``, ``text``, ``boolean``, ``integer``, ``decimal``, ``date``,
``choice`` and ``open-choice`` (``answerOption`` with ``valueCoding``; open-choice also takes free text),
with ``repeats``, ``required``, ``maxLength``, ``enableWhen``/``enableBehavior`` and the FHIR ``translation``
extension on ``title``, ``text`` and option ``display`` (hospital-sync.md §2).

Answers travel as ``{linkId: value}``, with JSON-friendly values (an admission is stored as JSON):
boolean ``bool``; integer ``int``; decimal ``float``; date an ISO ``str`` (``1980-07-14``); string and text
``str``; choice the option's ``code``; open-choice an option's code, or else the typed text. A question
that ``repeats`` takes a list of such values. ``check`` turns what a patient typed into such a value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from kiosk.checkin.model import Answer, FormResponse
from kiosk.messages import N_
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
        for item in _walk(self.items):
            if item.link_id == link_id:
                return item
        raise KeyError(link_id)


def _walk(items):
    for item in items:
        yield item
        if isinstance(item, Group):
            yield from _walk(item.items)


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
    for item in _walk(items):
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


# --- enableWhen ---

def _answered(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != ()


def _values(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _holds(condition: Condition, question: Question, value: Any) -> bool:
    if condition.operator == "exists":
        return _answered(value) == bool(condition.answer)
    if not _answered(value):
        return False            # no answer: only 'exists' can be true
    results = []
    for v in _values(value):
        if condition.kind == "Coding":
            option = next((o for o in question.options if o.code == v), None)
            if option is None:                       # open-choice free text matches no Coding
                results.append(condition.operator == "!=")
                continue
            system, code = condition.answer
            same = option.code == code and (not system or not option.system or option.system == system)
            results.append(same if condition.operator == "=" else not same)
            continue
        if question.type == "open-choice" and any(o.code == v for o in question.options):
            results.append(condition.operator == "!=")   # a chosen option is not the free text compared
            continue
        left, right = v, condition.answer
        if condition.kind == "Date":
            left, right = str(left), str(right)
        try:
            results.append({"=": left == right, "!=": left != right}.get(condition.operator)
                           if condition.operator in ("=", "!=") else
                           {">": left > right, "<": left < right, ">=": left >= right,
                            "<=": left <= right}[condition.operator])
        except TypeError:
            results.append(False)
    return any(results)


def _enabled_ids(form: Form, answers: dict) -> set[str]:
    by_id = {i.link_id: i for i in _walk(form.items)}
    memo: dict[str, bool] = {}

    def is_enabled(link_id: str) -> bool:
        if link_id not in memo:
            item = by_id[link_id]
            ok = not item.group or is_enabled(item.group)
            if ok and item.enable_when:
                results = []
                for c in item.enable_when:
                    target = by_id[c.question]
                    value = answers.get(c.question) if is_enabled(c.question) else None
                    results.append(_holds(c, target, value))
                ok = all(results) if item.enable_behavior == "all" else any(results)
            memo[link_id] = ok
        return memo[link_id]

    return {link_id for link_id in by_id if is_enabled(link_id)}


def enabled(form: Form, answers: dict) -> list[Question]:
    """The questions enabled given the answers so far, in document order.

    An answer to a disabled question counts as no answer; a question inside a disabled group is disabled.
    """
    ids = _enabled_ids(form, answers)
    return [q for q in form.questions if q.link_id in ids]


def enabled_items(form: Form, answers: dict) -> set[str]:
    """The linkIds of every enabled item (groups and display texts too), for a renderer."""
    return _enabled_ids(form, answers)


def alerts(form: Form, answers: dict) -> list[str]:
    """The linkIds of enabled questions answered with an option marked STAFF_ALERT, in form order."""
    found = []
    for q in enabled(form, answers):
        chosen = answers.get(q.link_id)
        chosen = set(chosen) if isinstance(chosen, (list, tuple, set)) else {chosen}
        if any(o.alert and o.code in chosen for o in q.options):
            found.append(q.link_id)
    return found


# --- what a patient typed ---

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")
_DATES = (re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})"),
          re.compile(r"(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})"),
          re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"))
_YES, _NO = ("true", "yes", "y", "1", "ja", "j"), ("false", "no", "n", "0", "nein")

MSG_REQUIRED = N_("Please answer this question.")
MSG_CHOOSE = N_("Please choose one of the answers shown.")
MSG_CHOOSE_SOME = N_("Please choose at least one of the answers shown.")
MSG_YES_NO = N_("Please answer yes or no.")
MSG_INTEGER = N_("Please enter a whole number using digits only, for example 42.")
MSG_DECIMAL = N_("Please enter a number using digits, for example 72.5.")
MSG_DATE = N_("Please enter the date as day.month.year, for example 14.07.1980.")
MSG_TOO_LONG = N_("This answer is too long. Please shorten it.")
MSG_TOO_LARGE = N_("This number is too large. Please check what you typed.")
# What FHIR R4 takes (datatypes): an integer is 32-bit signed; a decimal has at most 18 digits.
INTEGER_RANGE = (-2**31, 2**31 - 1)
DECIMAL_DIGITS = 18


def check(question: Question, raw: str) -> tuple[Any, None] | tuple[None, str | None]:
    """What a patient typed for one answer of ``question`` as its value, or a message saying what to fix.

    ``(value, None)`` for a usable answer; ``(None, msgid)`` otherwise (an English sentence, marked for
    translation: show ``_(msgid)`` next to the field); ``(None, None)`` for an empty answer to a question
    that is not required. A question that repeats takes several answers: ``check_several``.
    """
    text = raw.strip() if isinstance(raw, str) else str(raw)
    if not text:
        return (None, MSG_REQUIRED) if question.required else (None, None)
    kind = question.type
    if kind == "boolean":
        low = text.lower()
        return (True, None) if low in _YES else (False, None) if low in _NO else (None, MSG_YES_NO)
    if kind == "choice":
        return (text, None) if any(o.code == text for o in question.options) else (None, MSG_CHOOSE)
    if kind == "integer":
        compact = text.replace(" ", "")
        if not _INTEGER.fullmatch(compact):
            return None, MSG_INTEGER
        if len(compact.lstrip("+-").lstrip("0")) > 10:          # before int(): 10,000 digits is no number
            return None, MSG_TOO_LARGE
        value = int(compact)
        return (value, None) if INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1] else (None, MSG_TOO_LARGE)
    if kind == "decimal":
        compact = text.replace(" ", "")
        if not _DECIMAL.fullmatch(compact):
            return None, MSG_DECIMAL
        if sum(c.isdigit() for c in compact.lstrip("+-0.,")) > DECIMAL_DIGITS:
            return None, MSG_TOO_LARGE
        return float(compact.replace(",", ".")), None
    if kind == "date":
        for pattern in _DATES:
            m = pattern.fullmatch(text)
            if m:
                try:
                    return date(int(m["y"]), int(m["m"]), int(m["d"])).isoformat(), None
                except ValueError:
                    break
        return None, MSG_DATE
    # string, text, open-choice
    if kind == "open-choice" and any(o.code == text for o in question.options):
        return text, None
    if question.max_length is not None and len(text) > question.max_length:
        return None, MSG_TOO_LONG
    return text, None



def choices(question: Question) -> set:
    """What a question's buttons answer: True and False for a boolean, else its options' codes."""
    return {True, False} if question.type == "boolean" else {o.code for o in question.options}


def check_several(question: Question, picked) -> tuple[tuple, None] | tuple[None, str | None]:
    """The answers to a question that repeats (options ticked, and for an open choice a typed text) as a
    tuple without repeats, or a message saying what to fix; ``(None, None)`` for none to an optional
    question. Blank typed text is no answer."""
    values = []
    for value in picked if isinstance(picked, (list, tuple)) else (picked,):
        if value in choices(question):
            values.append(value)
        elif question.type == "choice" or not isinstance(value, str):
            return None, MSG_CHOOSE
        elif value.strip():
            typed, problem = check(question, value)
            if problem:
                return None, problem
            values.append(typed)
    if not values:
        return (None, MSG_CHOOSE_SOME) if question.required else (None, None)
    return tuple(dict.fromkeys(values)), None


# --- the QuestionnaireResponse ---

def _coding(option: Option) -> dict:
    return {k: v for k, v in (("system", option.system), ("code", option.code), ("display", option.text("")))
            if v}


_FHIR_DATE = re.compile(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")


def _answer(q: Question, value: Any) -> dict:
    """One QuestionnaireResponse answer; raises ValueError for a value that does not fit the question."""
    def wrong(what: str) -> ValueError:
        return ValueError(f"answer to {q.link_id!r} is not {what}")

    if q.type == "boolean":
        if not isinstance(value, bool):
            raise wrong("true or false")
        return {"valueBoolean": value}
    if q.type in ("choice", "open-choice"):
        option = next((o for o in q.options if o.code == value), None)
        if option is not None:
            return {"valueCoding": _coding(option)}
        if q.type == "choice" or not isinstance(value, str):
            raise wrong("one of its options")
        return {"valueString": value}
    if q.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("a whole number")
        return {"valueInteger": value}
    if q.type == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return {"valueDecimal": float(value)}
    if q.type == "date":
        if isinstance(value, date):
            value = value.isoformat()
        if not isinstance(value, str) or not _FHIR_DATE.fullmatch(value):
            raise wrong("a date (YYYY-MM-DD)")
        return {"valueDate": value}
    if not isinstance(value, str):       # string, text
        raise wrong("text")
    if q.max_length is not None and len(value) > q.max_length:
        raise wrong(f"at most {q.max_length} characters long")
    return {"valueString": value}


def response_items(form: Form, answers: dict[str, object]) -> list[dict]:
    """``QuestionnaireResponse.item`` for the answers: enabled questions only, nested in their groups.

    Answers to disabled questions are left out; unanswered questions, display items and groups without
    any answer inside are left out too. Raises ValueError for an answer to a linkId the form does not ask,
    or a value that does not fit its question (an option not offered, a text for a boolean ...).
    """
    questions = {q.link_id: q for q in form.questions}
    for link_id, value in answers.items():
        if link_id not in questions:
            raise ValueError(f"answer to {link_id!r}, which form {form.url} does not ask")
        q = questions[link_id]
        if _answered(value) and not q.repeats and isinstance(value, (list, tuple)):
            raise ValueError(f"answer to {link_id!r} has several values, but the question does not repeat")
    on = _enabled_ids(form, answers)

    def build(items) -> list[dict]:
        out = []
        for item in items:
            if item.link_id not in on or isinstance(item, Display):
                continue
            head = {"linkId": item.link_id, **({"text": item.text("")} if item.text("") else {})}
            if isinstance(item, Group):
                children = build(item.items)
                if children:
                    out.append({**head, "item": children})
            elif _answered(answers.get(item.link_id)):
                values = [v for v in _values(answers[item.link_id]) if _answered(v)]
                out.append({**head, "answer": [_answer(item, v) for v in values]})
        return out

    return build(form.items)


def form_response(form: Form, answers: tuple[Answer, ...]) -> FormResponse:
    """The form as answered, to keep with the admission and send as it is (``response_items`` of these
    answers, with the form's URL). Raises ValueError as ``response_items`` does."""
    return FormResponse(form.url, tuple(response_items(form, {a.link_id: a.value for a in answers})))
