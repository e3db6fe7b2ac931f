"""kiosk/checkin/forms.py and answers.py: R4 Questionnaires as forms (groups, enableWhen, typed answers), what a
patient typed checked, and the QuestionnaireResponse items of the enabled questions only."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from kiosk.hospital import fhir
from kiosk.checkin import answers, forms
from kiosk.checkin.model import Admission, Answer, Person
from kiosk.paths import ASSETS

SHIPPED = sorted(p.stem for p in (ASSETS / "forms").glob("*.json"))
LOINC = "http://loinc.org"
NINE = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]


def questionnaire(*items, **fields) -> dict:
    return {"resourceType": "Questionnaire", "status": "active", "url": "urn:test", **fields, "item": list(items)}


def coding_options(*codes, system="urn:s"):
    return [{"valueCoding": {"system": system, "code": c, "display": c.title()}} for c in codes]


# --- the shipped forms ---

@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_form_parses_and_is_valid_r4(name):
    data = json.loads((ASSETS / "forms" / f"{name}.json").read_text(encoding="utf-8"))
    Questionnaire.model_validate(data)
    form = forms.load(name)
    assert (form.questions or name == "no-questions") and form.url == data["url"]   # no-questions: on purpose
    assert form.item_types <= set(forms.SUPPORTED_TYPES)
    for question in form.questions:
        assert "de" in dict(question.text.by_language), question.link_id
        assert question.text("de") != question.text("en"), question.link_id
        for option in question.options:
            assert "de" in dict(option.text.by_language) and option.text("de") != option.text("en"), option.code


def test_shipped_forms_include_general_intake_and_phq9():
    assert {"intake-basic", "intake-general", "phq-9"} <= set(SHIPPED)
    general = forms.load("intake-general")
    assert general.item_types == {"group", "choice", "open-choice", "boolean", "text", "string"}
    assert general.find("phone").max_length == 30
    assert [i.link_id for i in general.find("emergency-contact").items] == ["emergency-contact-name",
                                                                            "emergency-contact-phone"]
    texts = [general.title, *(i.text for i in forms.walk(general.items)),
             *(o.text for q in general.questions for o in q.options)]
    for language in ("de", "tr", "fr"):
        assert all(language in dict(t.by_language) for t in texts), language
        assert all(t(language) != t("en") for t in texts if t("en") != "Vaccination"), language
    phq = forms.load("phq-9")
    assert [q.link_id for q in phq.questions] == NINE + ["69722-7"]
    assert all(o.system == LOINC for q in phq.questions for o in q.options)
    assert [o.code for o in phq.questions[0].options] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
    assert phq.questions[0].text("de") == "Wenig Interesse oder Freude an Ihren Tätigkeiten"


def test_intake_basic_still_gives_the_same_questions():
    form = forms.load("intake-basic")
    T = forms.Text

    def translated(en, de, tr, fr):
        return T((("", en), ("de", de), ("tr", tr), ("fr", fr)))

    system = "urn:kiosk:intake-basic"
    assert form.url == "urn:kiosk:questionnaire:intake-basic"
    assert form.title == translated("Check-in questions", "Fragen zur Anmeldung", "Kayıt soruları",
                                    "Questions d'enregistrement")
    assert form.questions == (
        forms.Question("reason", "choice", translated(
            "Why are you here today?", "Weshalb sind Sie heute hier?", "Bugün neden buradasınız?",
            "Pourquoi êtes-vous ici aujourd'hui ?"), (
            forms.Option("appointment", translated("I have an appointment", "Ich habe einen Termin",
                                                   "Randevum var", "J'ai un rendez-vous"), system),
            forms.Option("acute", translated("New complaint or pain", "Neue Beschwerden oder Schmerzen",
                                             "Yeni şikâyet veya ağrı", "Nouveau problème ou douleur"), system),
            forms.Option("follow-up", translated("Follow-up visit", "Kontrolltermin", "Kontrol ziyareti",
                                                 "Visite de suivi"), system),
            forms.Option("other", translated("Something else", "Etwas anderes", "Başka bir şey", "Autre chose"),
                         system)), True),
        forms.Question("allergies", "boolean", translated(
            "Do you have any allergies to medicines?", "Haben Sie Allergien gegen Medikamente?",
            "İlaçlara karşı alerjiniz var mı?", "Êtes-vous allergique à des médicaments ?"), (), True),
        forms.Question("contact-changed", "boolean", translated(
            "Has your phone number changed since your last visit?",
            "Hat sich Ihre Telefonnummer seit Ihrem letzten Besuch geändert?",
            "Son ziyaretinizden bu yana telefon numaranız değişti mi?",
            "Votre numéro de téléphone a-t-il changé depuis votre dernière visite ?"), (), True),
    )
    assert form.item_types == {"choice", "boolean"}
    assert form.items == form.questions


# --- enableWhen ---

SOURCE = {  # type of the question compared -> its extra fields
    "boolean": {}, "integer": {}, "decimal": {}, "string": {}, "text": {}, "date": {},
    "choice": {"answerOption": coding_options("a", "b")},
    "open-choice": {"answerOption": coding_options("a", "b")},
}


def gated(source_type: str, operator: str, key: str, expected_value) -> forms.Form:
    return forms.parse(questionnaire(
        {"linkId": "src", "type": source_type, "text": "Source", **SOURCE[source_type]},
        {"linkId": "dep", "type": "string", "text": "Dependent",
         "enableWhen": [{"question": "src", "operator": operator, key: expected_value}]}))


@pytest.mark.parametrize("source_type, operator, key, expected_value, answer, enabled", [
    ("boolean", "=", "answerBoolean", True, True, True),
    ("boolean", "=", "answerBoolean", True, False, False),
    ("boolean", "!=", "answerBoolean", True, False, True),
    ("boolean", "!=", "answerBoolean", True, True, False),
    ("boolean", "!=", "answerBoolean", True, None, False),          # no answer: only exists can hold
    ("boolean", "exists", "answerBoolean", True, False, True),
    ("boolean", "exists", "answerBoolean", True, None, False),
    ("boolean", "exists", "answerBoolean", False, None, True),
    ("boolean", "exists", "answerBoolean", False, True, False),
    ("integer", "=", "answerInteger", 3, 3, True),
    ("integer", "!=", "answerInteger", 3, 3, False),
    ("integer", ">", "answerInteger", 3, 4, True),
    ("integer", ">", "answerInteger", 3, 3, False),
    ("integer", "<", "answerInteger", 3, 2, True),
    ("integer", "<", "answerInteger", 3, 3, False),
    ("integer", ">=", "answerInteger", 3, 3, True),
    ("integer", ">=", "answerInteger", 3, 2, False),
    ("integer", "<=", "answerInteger", 3, 3, True),
    ("integer", "<=", "answerInteger", 3, 4, False),
    ("integer", ">", "answerInteger", 3, None, False),
    ("decimal", ">", "answerDecimal", 37.5, 38.1, True),
    ("decimal", "<=", "answerDecimal", 37.5, 38.1, False),
    ("decimal", "=", "answerDecimal", 37.5, 37.5, True),
    ("string", "=", "answerString", "x", "x", True),
    ("string", "!=", "answerString", "x", "y", True),
    ("string", "<", "answerString", "m", "a", True),
    ("text", "=", "answerString", "x", "y", False),
    ("date", ">=", "answerDate", "2000-01-01", "2000-01-01", True),
    ("date", "<", "answerDate", "2000-01-01", "1999-12-31", True),
    ("date", ">", "answerDate", "2000-01-01", "1999-12-31", False),
    ("date", "=", "answerDate", "2000-01-01", "2000-01-01", True),
    ("choice", "=", "answerCoding", {"system": "urn:s", "code": "a"}, "a", True),
    ("choice", "=", "answerCoding", {"system": "urn:s", "code": "a"}, "b", False),
    ("choice", "=", "answerCoding", {"system": "urn:other", "code": "a"}, "a", False),   # system counts
    ("choice", "=", "answerCoding", {"code": "a"}, "a", True),                           # ...when given
    ("choice", "!=", "answerCoding", {"system": "urn:s", "code": "a"}, "b", True),
    ("choice", "!=", "answerCoding", {"system": "urn:s", "code": "a"}, "a", False),
    ("open-choice", "=", "answerCoding", {"system": "urn:s", "code": "a"}, "a", True),
    ("open-choice", "=", "answerCoding", {"system": "urn:s", "code": "a"}, "typed", False),
    ("open-choice", "=", "answerString", "typed", "typed", True),
    ("open-choice", "=", "answerString", "a", "a", False),        # the option a is a Coding, not the text
])
def test_enable_when_operators(source_type, operator, key, expected_value, answer, enabled):
    form = gated(source_type, operator, key, expected_value)
    given = {} if answer is None else {"src": answer}
    assert ("dep" in [q.link_id for q in answers.enabled(form, given)]) is enabled


def test_repeating_answers_enable_when_any_answer_holds():
    form = forms.parse(questionnaire(
        {"linkId": "src", "type": "choice", "repeats": True, "text": "S", "answerOption": coding_options("a", "b")},
        {"linkId": "dep", "type": "string", "text": "D",
         "enableWhen": [{"question": "src", "operator": "=", "answerCoding": {"code": "b"}}]}))
    assert [q.link_id for q in answers.enabled(form, {"src": ["a", "b"]})] == ["src", "dep"]
    assert [q.link_id for q in answers.enabled(form, {"src": ["a"]})] == ["src"]


@pytest.mark.parametrize("behavior, a, b, enabled", [
    ("all", True, True, True), ("all", True, False, False), ("all", False, False, False),
    ("any", True, False, True), ("any", False, True, True), ("any", False, False, False),
])
def test_enable_behavior(behavior, a, b, enabled):
    form = forms.parse(questionnaire(
        {"linkId": "a", "type": "boolean", "text": "A"}, {"linkId": "b", "type": "boolean", "text": "B"},
        {"linkId": "c", "type": "string", "text": "C", "enableBehavior": behavior,
         "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": True},
                        {"question": "b", "operator": "=", "answerBoolean": True}]}))
    assert ("c" in [q.link_id for q in answers.enabled(form, {"a": a, "b": b})]) is enabled


NESTED = questionnaire(
    {"linkId": "smoker", "type": "boolean", "text": "Do you smoke?"},
    {"linkId": "smoking", "type": "group", "text": "Smoking",
     "enableWhen": [{"question": "smoker", "operator": "=", "answerBoolean": True}],
     "item": [{"linkId": "smoking-note", "type": "display", "text": "About your smoking"},
              {"linkId": "per-day", "type": "integer", "text": "Cigarettes a day"},
              {"linkId": "quit", "type": "boolean", "text": "Want to quit?"},
              {"linkId": "inner", "type": "group", "text": "Details",
               "item": [{"linkId": "since", "type": "date", "text": "Since when?"}]}]},
    {"linkId": "help", "type": "string", "text": "What would help?",
     "enableWhen": [{"question": "quit", "operator": "=", "answerBoolean": True}]},
)


def test_a_disabled_group_hides_its_children_and_what_depends_on_them():
    form = forms.parse(NESTED)
    assert [q.link_id for q in form.questions] == ["smoker", "per-day", "quit", "since", "help"]
    assert [q.group for q in form.questions] == ["", "smoking", "smoking", "inner", ""]
    assert isinstance(form.items[1], forms.Group) and isinstance(form.items[1].items[0], forms.Display)
    given = {"smoker": True, "per-day": 10, "quit": True, "since": "2001-05-01"}
    assert [q.link_id for q in answers.enabled(form, given)] == ["smoker", "per-day", "quit", "since", "help"]
    assert answers.enabled_items(form, given) >= {"smoking", "smoking-note", "inner"}
    # the patient goes back and says no: the group, everything in it, and "help" (its answer to "quit"
    # no longer counts) are disabled
    given["smoker"] = False
    assert [q.link_id for q in answers.enabled(form, given)] == ["smoker"]
    assert answers.enabled_items(form, given) == {"smoker"}
    assert answers.response_items(form, given) == [{"linkId": "smoker", "text": "Do you smoke?",
                                                    "answer": [{"valueBoolean": False}]}]


# --- what a patient typed ---

def q(type_, **kw) -> forms.Question:
    return forms.Question("x", type_, forms.Text((("", "X"),)), **kw)


CHOICES = tuple(forms.Option(c, forms.Text((("", c),)), "urn:s") for c in ("a", "b"))


@pytest.mark.parametrize("question, raw, value", [
    (q("integer"), "42", 42), (q("integer"), " -3 ", -3), (q("integer"), "1 200", 1200),
    (q("integer"), "2147483647", 2**31 - 1), (q("integer"), "-2147483648", -2**31), (q("integer"), "0" * 30 + "7", 7),
    (q("decimal"), "0.000000000000000001", 1e-18),
    (q("decimal"), "72.5", 72.5), (q("decimal"), "72,5", 72.5), (q("decimal"), "38", 38.0), (q("decimal"), ",5", 0.5),
    (q("date"), "14.07.1980", "1980-07-14"), (q("date"), "4.7.1980", "1980-07-04"),
    (q("date"), "14/07/1980", "1980-07-14"), (q("date"), "1980-07-14", "1980-07-14"),
    (q("date"), "29.02.2024", "2024-02-29"),
    (q("string", max_length=5), " abcde ", "abcde"), (q("text"), "two\nlines", "two\nlines"),
    (q("boolean"), "yes", True), (q("boolean"), "false", False),
    (q("choice", options=CHOICES), "b", "b"),
    (q("open-choice", options=CHOICES), "a", "a"), (q("open-choice", options=CHOICES, max_length=5), "typed", "typed"),
    (q("string"), "", None), (q("integer"), "  ", None),          # empty and not required: no answer
])
def test_check_turns_typed_text_into_values(question, raw, value):
    assert answers.check(question, raw) == (value, None)


@pytest.mark.parametrize("question, raw, message", [
    (q("integer"), "4.5", answers.MSG_INTEGER), (q("integer"), "forty", answers.MSG_INTEGER),
    (q("integer"), "4-5", answers.MSG_INTEGER),
    # Beyond what FHIR takes (a 32-bit integer, an 18-digit decimal), and numbers Python will not even read.
    (q("integer"), "2147483648", answers.MSG_TOO_LARGE), (q("integer"), "-2147483649", answers.MSG_TOO_LARGE),
    (q("integer"), "9" * 5000, answers.MSG_TOO_LARGE), (q("decimal"), "1" * 19, answers.MSG_TOO_LARGE),
    (q("decimal"), "9" * 400, answers.MSG_TOO_LARGE),
    (q("decimal"), "1.234,5", answers.MSG_DECIMAL), (q("decimal"), "abc", answers.MSG_DECIMAL),
    (q("decimal"), "7..5", answers.MSG_DECIMAL),
    (q("date"), "31.02.1980", answers.MSG_DATE), (q("date"), "14.07.80", answers.MSG_DATE),
    (q("date"), "1980/07/14", answers.MSG_DATE), (q("date"), "yesterday", answers.MSG_DATE),
    (q("date"), "14.13.1980", answers.MSG_DATE),
    (q("string", max_length=5), "abcdef", answers.MSG_TOO_LONG),
    (q("open-choice", options=CHOICES, max_length=3), "abcd", answers.MSG_TOO_LONG),
    (q("boolean"), "maybe", answers.MSG_YES_NO),
    (q("choice", options=CHOICES), "c", answers.MSG_CHOOSE),
    (q("string", required=True), "   ", answers.MSG_REQUIRED),
    (q("date", required=True), "", answers.MSG_REQUIRED),
])
def test_check_says_what_to_fix(question, raw, message):
    assert answers.check(question, raw) == (None, message)


@pytest.mark.parametrize("typed", ["14.07.1980", "14/07/1980", "14-07-1980", "1980-07-14", " 14.7.1980 "])
def test_a_date_answer_is_read_as_a_typed_birth_date_is(typed):
    from datetime import date

    from kiosk.checkin.identify import parse_birth_date
    assert answers.check(q("date"), typed) == ("1980-07-14", None)
    assert parse_birth_date(typed, date(2026, 1, 1)) == "1980-07-14"


def test_check_messages_are_marked_for_translation():
    from kiosk.i18n import extract_messages
    found = extract_messages([ASSETS.parent / "kiosk" / "checkin" / "answers.py"])
    for message in (answers.MSG_REQUIRED, answers.MSG_CHOOSE, answers.MSG_YES_NO, answers.MSG_INTEGER,
                    answers.MSG_DECIMAL, answers.MSG_DATE, answers.MSG_TOO_LONG):
        assert message in found and message.endswith(".")


# --- the QuestionnaireResponse ---

TYPED = questionnaire(
    {"linkId": "b", "type": "boolean", "text": "B"},
    {"linkId": "i", "type": "integer", "text": "I"},
    {"linkId": "d", "type": "decimal", "text": "D"},
    {"linkId": "g", "type": "group", "text": "G", "item": [
        {"linkId": "note", "type": "display", "text": "Note"},
        {"linkId": "day", "type": "date", "text": "Day"},
        {"linkId": "s", "type": "string", "text": "S", "maxLength": 3},
        {"linkId": "t", "type": "text", "text": "T"}]},
    {"linkId": "c", "type": "choice", "repeats": True, "text": "C", "answerOption": coding_options("a", "b")},
    {"linkId": "o", "type": "open-choice", "repeats": True, "text": "O", "answerOption": coding_options("a")},
    {"linkId": "off", "type": "string", "text": "Off",
     "enableWhen": [{"question": "b", "operator": "=", "answerBoolean": False}]},
    {"linkId": "empty", "type": "group", "text": "Empty", "item": [{"linkId": "e", "type": "string", "text": "E"}]},
)


def test_response_items_are_nested_typed_and_only_enabled():
    form = forms.parse(TYPED)
    given = {"b": True, "i": 7, "d": 72.5, "day": "2026-11-27", "s": "abc", "t": "x\ny", "c": ["a", "b"],
               "o": ["a", "typed"], "off": "answered before b changed", "e": ""}
    assert answers.response_items(form, given) == [
        {"linkId": "b", "text": "B", "answer": [{"valueBoolean": True}]},
        {"linkId": "i", "text": "I", "answer": [{"valueInteger": 7}]},
        {"linkId": "d", "text": "D", "answer": [{"valueDecimal": 72.5}]},
        {"linkId": "g", "text": "G", "item": [
            {"linkId": "day", "text": "Day", "answer": [{"valueDate": "2026-11-27"}]},
            {"linkId": "s", "text": "S", "answer": [{"valueString": "abc"}]},
            {"linkId": "t", "text": "T", "answer": [{"valueString": "x\ny"}]}]},
        {"linkId": "c", "text": "C", "answer": [{"valueCoding": {"system": "urn:s", "code": "a", "display": "A"}},
                                                {"valueCoding": {"system": "urn:s", "code": "b", "display": "B"}}]},
        {"linkId": "o", "text": "O", "answer": [{"valueCoding": {"system": "urn:s", "code": "a", "display": "A"}},
                                                {"valueString": "typed"}]},
    ]
    QuestionnaireResponse.model_validate({"resourceType": "QuestionnaireResponse", "status": "completed",
                                          "item": answers.response_items(form, given)})


@pytest.mark.parametrize("given, message", [
    ({"nope": 1}, "'nope'"), ({"g": 1}, "'g'"), ({"note": "x"}, "'note'"),
    ({"b": "yes"}, "true or false"), ({"i": 1.5}, "whole number"), ({"i": True}, "whole number"),
    ({"d": "72,5"}, "number"), ({"day": "14.07.1980"}, "date"), ({"s": "abcd"}, "at most 3"),
    ({"c": ["z"]}, "one of its options"), ({"b": [True, False]}, "does not repeat"), ({"t": 5}, "text"),
])
def test_response_items_refuse_answers_that_do_not_fit(given, message):
    with pytest.raises(ValueError, match=message):
        answers.response_items(forms.parse(TYPED), given)


def _phq_admission(given: dict, form: forms.Form) -> Admission:
    answered = tuple(Answer(k, v) for k, v in given.items())
    return Admission(id="00000000-0000-4000-8000-000000000099", kiosk_id="lobby-1",
                     created_at="2026-11-27T09:30:00+00:00", language="de", identified_by="name",
                     person=Person(family="Muster", given=("Erika",), birth_date="1964-08-12"),
                     answers=answered, form_response=answers.form_response(form, answered))


def test_a_phq9_questionnaire_response_from_the_kiosk_is_valid_r4():
    form = forms.load("phq-9")
    given = {link_id: "LA6568-5" for link_id in NINE}
    given["44255-8"] = "LA6570-1"
    given["69722-7"] = "LA6573-5"
    bundle = fhir.transaction(_phq_admission(given, form))
    [qr] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    QuestionnaireResponse.model_validate(qr)
    assert qr["questionnaire"] == "https://kiosk.example/fhir/Questionnaire/phq-9"
    [group, difficulty] = qr["item"]
    assert [i["linkId"] for i in group["item"]] == NINE
    assert difficulty["linkId"] == "69722-7"
    codings = [a["valueCoding"] for i in [*group["item"], difficulty] for a in i["answer"]]
    assert len(codings) == 10 and all(c["system"] == LOINC for c in codings)
    assert codings[1] == {"system": LOINC, "code": "LA6570-1", "display": "More than half the days"}
    assert codings[-1]["code"] == "LA6573-5"


def test_phq9_asks_how_difficult_only_after_a_problem():
    form = forms.load("phq-9")
    none = {link_id: "LA6568-5" for link_id in NINE}
    assert "69722-7" not in [q.link_id for q in answers.enabled(form, none)]
    assert "69722-7" not in [q.link_id for q in answers.enabled(form, {})]
    # an answer left over from before the patient changed their mind is not sent
    items = answers.response_items(form, {**none, "69722-7": "LA6575-0"})
    assert [i["linkId"] for i in items] == ["phq-9-problems"]
    for link_id in NINE:
        some = {**none, link_id: "LA6571-9"}
        assert answers.enabled(form, some)[-1].link_id == "69722-7", link_id


def test_general_intake_follow_up_questions():
    form = forms.load("intake-general")
    base = {"reason": "acute", "allergies": False, "medication": False, "pregnancy": "not-applicable"}
    assert [q.link_id for q in answers.enabled(form, base)] == [
        "reason", "allergies", "medication", "pregnancy", "phone", "emergency-contact-name",
        "emergency-contact-phone"]
    more = {**base, "reason": "other", "allergies": True, "medication": True}
    assert {"reason-other", "allergies-which", "medication-which"} <= {q.link_id for q in answers.enabled(form, more)}
    given = {**more, "reason-other": "Pain in my left knee", "allergies-which": "Penicillin",
               "medication-which": "Ramipril 5 mg", "phone": "+49 30 1234567",
               "emergency-contact-name": "Max Muster", "emergency-contact-phone": "0170 1234567"}
    bundle = fhir.transaction(_phq_admission(given, form))
    [qr] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    QuestionnaireResponse.model_validate(qr)
    assert qr["item"][1] == {"linkId": "reason-other", "text": form.find("reason-other").text(""),
                             "answer": [{"valueString": "Pain in my left knee"}]}
    assert qr["item"][-1]["linkId"] == "emergency-contact"
    assert [i["linkId"] for i in qr["item"][-1]["item"]] == ["emergency-contact-name", "emergency-contact-phone"]


# --- forms the kiosk refuses ---

def _with(item: dict, *others: dict) -> dict:
    return questionnaire({"linkId": "yes", "type": "boolean", "text": "Yes?"}, item, *others)


@pytest.mark.parametrize("bad, named", [
    (_with({"linkId": "grp", "type": "group", "text": "G"}), "'grp'.*que-1"),
    (_with({"linkId": "grp", "type": "group", "text": "G", "item": []}), "'grp'.*que-1"),
    (_with({"linkId": "note", "type": "display", "text": "N",
            "item": [{"linkId": "n2", "type": "string", "text": "x"}]}), "'note'.*que-1"),
    (_with({"linkId": "yes", "type": "string", "text": "again"}), "'yes'.*que-2"),
    (_with({"linkId": "grp", "type": "group", "text": "G",
            "item": [{"linkId": "yes", "type": "string", "text": "nested twice"}]}), "'yes'.*que-2"),
    (_with({"linkId": "pick", "type": "choice", "text": "P", "answerValueSet": "http://x/vs",
            "answerOption": coding_options("a")}), "'pick'.*que-4"),
    (_with({"linkId": "note", "type": "display", "text": "N", "required": True}), "'note'.*que-6"),
    (_with({"linkId": "two", "type": "string", "text": "T",
            "enableWhen": [{"question": "yes", "operator": "=", "answerBoolean": True},
                           {"question": "yes", "operator": "exists", "answerBoolean": True}]}), "'two'.*que-12"),
    (_with({"linkId": "ex", "type": "string", "text": "T",
            "enableWhen": [{"question": "yes", "operator": "exists", "answerString": "x"}]}), "'ex'.*que-7"),
    (_with({"linkId": "long", "type": "boolean", "text": "T", "maxLength": 3}), "'long'.*que-10"),
    (_with({"linkId": "ghost", "type": "string", "text": "T",
            "enableWhen": [{"question": "nobody", "operator": "exists", "answerBoolean": True}]}), "'ghost'.*'nobody'"),
    (_with({"linkId": "cmp", "type": "string", "text": "T",
            "enableWhen": [{"question": "yes", "operator": ">", "answerBoolean": True}]}), "'cmp'"),
    (_with({"linkId": "mix", "type": "string", "text": "T",
            "enableWhen": [{"question": "yes", "operator": "=", "answerInteger": 1}]}), "'mix'"),
    (_with({"linkId": "op", "type": "string", "text": "T",
            "enableWhen": [{"question": "yes", "operator": "~", "answerBoolean": True}]}), "'op'"),
    (_with({"linkId": "loop1", "type": "boolean", "text": "A",
            "enableWhen": [{"question": "loop2", "operator": "=", "answerBoolean": True}]},
           {"linkId": "loop2", "type": "boolean", "text": "B",
            "enableWhen": [{"question": "loop1", "operator": "=", "answerBoolean": True}]}), "'loop[12]'.*itself"),
    (_with({"linkId": "empty-choice", "type": "choice", "text": "C"}), "'empty-choice'"),
    (_with({"linkId": "vs", "type": "choice", "text": "C", "answerValueSet": "http://x/vs"}), "'vs'"),
    (_with({"linkId": "int-opts", "type": "choice", "text": "C", "answerOption": [{"valueInteger": 1}]}),
     "'int-opts'"),
    (_with({"linkId": "rep", "type": "group", "repeats": True, "text": "G",
            "item": [{"linkId": "r1", "type": "string", "text": "x"}]}), "'rep'.*repeats"),
    (_with({"linkId": "under", "type": "boolean", "text": "G",
            "item": [{"linkId": "u1", "type": "string", "text": "x"}]}), "'under'"),
])
def test_invariant_violations_name_the_item(bad, named):
    with pytest.raises(forms.FormError, match=named):
        forms.parse(bad)


@pytest.mark.parametrize("item_type", ["attachment", "reference", "quantity", "url", "time", "dateTime", "bogus"])
def test_unsupported_item_types_are_refused_by_name(item_type):
    with pytest.raises(forms.FormError, match=f"'odd'.*{item_type}"):
        forms.parse(questionnaire({"linkId": "g", "type": "group", "text": "G",
                                   "item": [{"linkId": "odd", "type": item_type, "text": "?"}]}))


def test_a_broken_form_file_is_a_form_error(tmp_path):
    (tmp_path / "broken.json").write_text('{"resourceType": "Questionnaire", "item": [{"type": "string"}]}')
    with pytest.raises(forms.FormError, match="linkId"):
        forms.load("broken", tmp_path)
    (tmp_path / "half.json").write_text('{"resourceType": "Questionnaire", "item": [{"linkId": "c", '
                                        '"type": "choice", "answerOption": [{"valueCoding": {}}]}]}')
    with pytest.raises(forms.FormError, match="half.json"):
        forms.load("half", tmp_path)


# --- answers that ask staff to speak to the patient ---

def test_phq9_speaks_all_four_languages():
    phq = forms.load("phq-9")
    texts = [phq.title, *(i.text for i in forms.walk(phq.items)), *(o.text for q in phq.questions for o in q.options)]
    for language in ("de", "tr", "fr"):
        assert all(t(language) != t("en") for t in texts), language


@pytest.mark.parametrize("answer, alerted", [("LA6568-5", False), ("LA6569-3", True), ("LA6571-9", True)])
def test_any_answer_but_not_at_all_to_the_phq9_self_harm_item_asks_staff(answer, alerted):
    phq = forms.load("phq-9")
    given = {q: "LA6568-5" for q in NINE[:-1]} | {"44260-8": answer}
    assert answers.alerts(phq, given) == (["44260-8"] if alerted else [])
    assert [o.code for o in phq.find("44260-8").options if o.alert] == ["LA6569-3", "LA6570-1", "LA6571-9"]
    assert not any(o.alert for q in phq.questions if q.link_id != "44260-8" for o in q.options)


def test_an_alert_raises_one_high_incident_that_keeps_the_answer_private():
    from datetime import datetime, timezone
    from kiosk.checkin.events import AdmissionStored, Answered, CardInserted, CardRead, ConsentGiven, DetailsConfirmed, RaiseIncident, Start
    from kiosk.checkin.flow import CheckIn
    from kiosk.checkin.session import State
    from kiosk.checkin.model import CardData, IncidentKind, Severity

    def check_in(self_harm: str):
        kiosk = CheckIn(kiosk_id="lobby-1", languages=("de",), form=forms.load("phq-9"),
                        now=lambda: datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc), new_id=lambda: "adm-1")
        kiosk.handle(Start())
        kiosk.handle(CardInserted())
        kiosk.handle(CardRead(CardData(card="egk", atr="3B", person=Person(family="Muster", given=("Eva",)))))
        kiosk.handle(DetailsConfirmed())
        while kiosk.state is State.QUESTIONS:
            kiosk.handle(Answered(self_harm if kiosk.question.link_id == "44260-8" else kiosk.question.options[0].code))
        kiosk.handle(ConsentGiven(True))
        return [e.incident for e in kiosk.handle(AdmissionStored("A-001")) if isinstance(e, RaiseIncident)]

    assert check_in("LA6568-5") == []
    [incident] = check_in("LA6570-1")
    assert (incident.kind, incident.severity, incident.admission_id) == (IncidentKind.ANSWER_NEEDS_STAFF, Severity.HIGH, "adm-1")
    assert "44260-8" not in incident.detail and "LA6570-1" not in incident.detail


# --- a question that repeats, through the flow ---

def _repeating_flow(required: bool):
    from kiosk.checkin.flow import CheckIn
    from kiosk.checkin.session import State
    from kiosk.checkin.events import CardInserted, CardRead, DetailsConfirmed, Start
    from kiosk.checkin.model import CardData
    form = forms.parse(questionnaire(
        {"linkId": "why", "type": "open-choice", "repeats": True, "required": required, "text": "Why",
         "answerOption": coding_options("a", "b")},
        {"linkId": "more", "type": "string", "text": "More",
         "enableWhen": [{"question": "why", "operator": "=", "answerCoding": {"code": "b"}}]}))
    kiosk = CheckIn(kiosk_id="k", languages=("en",), form=form)
    for event in (Start(), CardInserted(), CardRead(CardData(card="egk", atr="3B", person=Person(family="M"))),
                  DetailsConfirmed()):
        kiosk.handle(event)
    assert kiosk.state is State.QUESTIONS
    return kiosk


@pytest.mark.parametrize("picked, stored, notice", [
    (("a", "b"), ("a", "b"), ""),
    (("b", "b", "typed in"), ("b", "typed in"), ""),        # the same answer twice counts once
    (("c",), None, ""),                                     # c is no option: an open choice takes it as text
    ((), None, answers.MSG_CHOOSE_SOME),
    ((True,), None, answers.MSG_CHOOSE),
    (("a", "  "), ("a",), ""),
])
def test_a_repeating_question_takes_several_answers(picked, stored, notice):
    from kiosk.checkin.events import Answered
    kiosk = _repeating_flow(required=True)
    kiosk.handle(Answered(picked))
    assert kiosk.session.notice == notice
    if stored is not None:
        assert kiosk.session.answers["why"] == stored
    elif not notice:
        assert kiosk.session.answers["why"] == picked
    else:
        assert "why" not in kiosk.session.answers and kiosk.question.link_id == "why"


def test_a_repeating_answer_enables_follow_ups_and_an_optional_one_may_stay_empty():
    from kiosk.checkin.events import Answered
    kiosk = _repeating_flow(required=True)
    kiosk.handle(Answered(("a", "b")))
    assert kiosk.question.link_id == "more"
    optional = _repeating_flow(required=False)
    optional.handle(Answered(()))
    assert optional.session.notice == "" and "why" not in optional.session.answers
    assert [i["linkId"] for i in answers.response_items(kiosk.form, {"why": ("a", "typed")})] == ["why"]


@pytest.mark.parametrize("leave", ["idle", "back", "store_fails"])
def test_an_alert_reaches_staff_when_the_patient_leaves_before_finishing(leave):
    from kiosk.checkin.events import (AdmissionFailed, Answered, Back, CardInserted, CardRead, ConsentGiven, DetailsConfirmed,
                                      IdleTimeout, IdleWarning, RaiseIncident, Start, Wipe)
    from kiosk.checkin.flow import CheckIn
    from kiosk.checkin.session import State
    from kiosk.checkin.model import CardData, IncidentKind, Severity
    kiosk = CheckIn(kiosk_id="k", languages=("de",), form=forms.load("phq-9"), consent_signature=False)
    for event in (Start(), CardInserted(), CardRead(CardData(card="egk", atr="3B", person=Person(family="M"))),
                  DetailsConfirmed()):
        kiosk.handle(event)
    while kiosk.question.link_id != "44260-8":
        kiosk.handle(Answered("LA6568-5"))
    kiosk.handle(Answered("LA6571-9"))
    if leave == "idle":
        kiosk.handle(IdleWarning())
        effects = kiosk.handle(IdleTimeout())
    elif leave == "back":
        while kiosk.state is not State.WELCOME:
            effects = kiosk.handle(Back())
    else:
        while kiosk.state is State.QUESTIONS:
            kiosk.handle(Answered("LA6572-7"))
        kiosk.handle(ConsentGiven(False))
        kiosk.handle(AdmissionFailed("disk full"))
        kiosk.handle(IdleWarning())
        effects = kiosk.handle(IdleTimeout())
    [alert] = [e.incident for e in effects if isinstance(e, RaiseIncident)]
    assert (alert.kind, alert.severity) == (IncidentKind.ANSWER_NEEDS_STAFF, Severity.HIGH)
    assert alert.detail == "left" and isinstance(effects[-1], Wipe)


def test_ticks_on_a_question_that_repeats_live_in_the_flow_and_come_back():
    from kiosk.checkin.events import Answered, Back, Ticked
    kiosk = _repeating_flow(required=True)
    for value in ("a", "b", "a", "nope", True):
        kiosk.handle(Ticked(value))
    assert kiosk.session.ticked == ("b",), "a ticked twice is unticked; values not offered are ignored"
    kiosk.handle(Answered((*kiosk.session.ticked, "typed")))
    assert kiosk.question.link_id == "more" and kiosk.session.ticked == ()
    kiosk.handle(Back())
    assert kiosk.question.link_id == "why" and kiosk.session.ticked == ("b",), "back: the ticks are shown again"
