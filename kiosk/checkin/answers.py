"""A patient's answers to a form (pure): what they typed checked and turned into values, which questions
their answers so far enable (enableWhen), and the ``QuestionnaireResponse`` items they make.

Answers travel as ``{linkId: value}``, with JSON-friendly values (an admission is stored as JSON):
boolean ``bool``; integer ``int``; decimal ``float``; date an ISO ``str`` (``1980-07-14``); string and text
``str``; choice the option's ``code``; open-choice an option's code, or else the typed text. A question
that ``repeats`` takes a list of such values. ``check`` turns what a patient typed into such a value.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from kiosk.checkin.dates import typed_date
from kiosk.checkin.forms import Condition, Display, Form, Group, Option, Question, walk
from kiosk.checkin.model import Answer, FormResponse
from kiosk.messages import N_


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
    by_id = {i.link_id: i for i in walk(form.items)}
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
        typed = typed_date(text)
        return (typed.isoformat(), None) if typed else (None, MSG_DATE)
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
