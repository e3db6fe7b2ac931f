"""The on-screen keyboard layouts (assets/keyboards), read without Kivy."""

from datetime import date

import pytest

from kiosk.screens import keyboards
from kiosk.screens.kivy_env import WINDOW_SIZE
from kiosk.checkin.identify import parse_birth_date
from kiosk.checkin.answers import check
from kiosk.checkin.forms import Question, Text

# Names of real people (public figures, as their names are spelled in Wikipedia's articles on them) and
# the Loriot sketch's Müller-Lüdenscheidt: every character must be on the names keyboard.
NAMES = {
    "de": ["Müller-Lüdenscheidt", "Käthe Kollwitz", "Bärbel Bohley", "Rita Süssmuth", "Jürgen Klopp",
           "Hans-Jürgen Wischnewski", "Günter Grass", "Ernst Röhm", "Manfred Weiß", "Claus Theo Gärtner"],
    "en": ["Sinéad O'Connor", "Zoë Wanamaker", "Anne Brontë", "Chloë Sevigny", "Daniel Day-Lewis",
           "Olivia Newton-John", "Renée Zellweger", "Noël Coward", "Beyoncé Knowles", "Ross O'Donovan"],
    "fr": ["Françoise Hardy", "Joël Robuchon", "Lætitia Casta", "Pierre Louÿs", "Hélène Boucher",
           "Anaïs Nin", "Jérôme Cahuzac", "Benoît Hamon", "Ève Curie", "Jean-Loïc Bœuf", "Cécile Brûlé",
           "Aimé Césaire", "Raphaël Varane", "Valéry Giscard d'Estaing", "Île-de-France", "Louis Aragon"],
    "tr": ["Ayşe Kulin", "İlkay Gündoğan", "Hakan Çalhanoğlu", "Nâzım Hikmet", "Işıl Yücesoy",
           "Şükrü Saracoğlu", "Ümit Özat", "Çağan Irmak", "Gökçe Bahadır", "İsmet İnönü", "Tarık Akan"],
}


def test_every_name_can_be_typed_on_the_names_keyboard():
    on_keyboard = keyboards.typed_characters(keyboards.load("names"))
    for language, names in NAMES.items():
        for name in names:
            missing = set(name) - on_keyboard
            assert not missing, f"{language}: {name} needs {sorted(missing)}"


def test_the_characters_the_issue_names_are_there_with_capitals():
    on_keyboard = keyboards.typed_characters(keyboards.load("names"))
    wanted = "äöüßéèêëàâçîïôûùÿœæñğışİŞÇÖÜ-' "
    assert set(wanted) <= on_keyboard
    assert set("abcdefghijklmnopqrstuvwxyz".upper()) <= on_keyboard
    for c in "äöüéèêëàâçîïôûùÿœæñğş":      # every small letter has its capital (ß: none in names)
        assert c.upper() in on_keyboard, c
    # Turkish dotted and dotless i: i/I and ı/İ are four different letters.
    assert {"i", "I", "ı", "İ"} <= on_keyboard


def test_free_text_has_names_digits_and_punctuation():
    text = keyboards.typed_characters(keyboards.load("text"))
    assert keyboards.typed_characters(keyboards.load("names")) <= text
    assert set("0123456789,.") <= text


def test_the_digit_pad_types_dates_and_numbers_the_kiosk_reads():
    digits = keyboards.load("digits")
    on_pad = keyboards.typed_characters(digits)
    assert on_pad == set("0123456789.,")
    assert parse_birth_date("14.07.1980", date(2026, 1, 1)) == "1980-07-14"
    assert check(Question("q", "decimal", Text(())), "1,5") == (1.5, None)
    assert check(Question("q", "date", Text(())), "01.02.2000") == ("2000-02-01", None)


def test_the_code_keyboard_types_appointment_codes():
    assert set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") <= keyboards.typed_characters(keyboards.load("code"))


@pytest.mark.parametrize("name", keyboards.LAYOUTS)
def test_layout_is_well_formed_with_keys_of_15_mm(name):
    layout = keyboards.load(name)
    specials = set()
    for layer in keyboards.LAYERS:
        rows = keyboards.rows(layout, layer)
        assert len(rows) == layout["rows"]
        for row in rows:
            assert sum(key[3] for key in row) <= layout["cols"]
            for label, text, special, width in row:
                assert label and (text or special), (label, text, special)
                specials.add(special)
    assert {"backspace", "enter", "escape"} <= specials       # delete, next field or done, keyboard away
    assert [len(r) for r in keyboards.rows(layout, "normal")] == [len(r) for r in keyboards.rows(layout, "shift")]
    width, height = keyboards.key_size_px(layout, WINDOW_SIZE[0])
    assert min(width, height) >= keyboards.MIN_KEY_PX
    assert keyboards.size_px(layout, WINDOW_SIZE[0])[1] < WINDOW_SIZE[1] * 0.45     # most of the form stays in sight


def test_every_question_type_that_is_typed_has_a_keyboard():
    for kind in ("string", "text", "integer", "decimal", "date", "open-choice"):
        assert keyboards.FOR_QUESTION[kind] in keyboards.LAYOUTS


@pytest.mark.parametrize("kind, typed, kept", [
    ("date", "14.07.1980", "14.07.1980"), ("date", "1980-07-14", "1980-07-14"), ("date", "14a.07", "14.07"),
    ("integer", "-3", "-3"), ("integer", "3 Tage", "3 "), ("decimal", "1,5 kg", "1,5 "),
])
def test_number_fields_let_in_only_what_the_kiosk_reads(kind, typed, kept):
    assert keyboards.accepting(keyboards.ACCEPTS[kind])(typed, False) == kept
