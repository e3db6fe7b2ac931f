"""Catalogs, message extraction and locale formatting."""

from datetime import datetime, timezone

import pytest

from kiosk.checkin import forms
from kiosk.i18n import Catalogs, extract_messages, format_birth_date, format_moment


@pytest.mark.parametrize("iso, language, shown", [
    ("1958-03-21", "de", "21. März 1958"),
    ("1958-03-21", "en", "March 21, 1958"),
    ("1958-03-21", "fr", "21 mars 1958"),
    ("1958-03-21", "tr", "21 Mart 1958"),
    ("1980-07", "de", "Juli 1980"),
    ("1980", "fr", "1980"),
])
def test_birth_dates_keep_the_precision_the_card_has(iso, language, shown):
    assert format_birth_date(iso, language) == shown


def test_ticket_time_is_formatted_per_language():
    moment = datetime(2026, 11, 27, 8, 15, tzinfo=timezone.utc)
    assert "27.11.26" in format_moment(moment, "de")
    assert "11/27/26" in format_moment(moment, "en")


def test_catalogs_translate_and_fall_back_to_english():
    catalogs = Catalogs(["de", "en"])
    assert catalogs.gettext("de", "Call staff") == "Personal rufen"
    assert catalogs.gettext("en", "Call staff") == "Call staff"
    assert catalogs.gettext("de", "a message nobody wrote") == "a message nobody wrote"
    assert catalogs.missing("de", ["Call staff", "a message nobody wrote"]) == ["a message nobody wrote"]


def test_a_languages_catalog_is_read_when_first_asked_for_and_then_kept(tmp_path):
    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "kiosk.po").write_text('msgid "Call staff"\nmsgstr "Personal rufen"\n', encoding="utf-8")
    with pytest.raises(FileNotFoundError):
        Catalogs(["de", "fr"], locales_dir=tmp_path)                 # fr has none: said at start
    fr = tmp_path / "fr" / "LC_MESSAGES"
    fr.mkdir(parents=True)
    (fr / "kiosk.po").write_text("", encoding="utf-8")
    catalogs = Catalogs(["de", "fr"], locales_dir=tmp_path)          # neither is read yet ...
    (fr / "kiosk.po").write_text('msgid "Call staff"\nmsgstr "Appeler le personnel"\n', encoding="utf-8")
    assert catalogs.gettext("fr", "Call staff") == "Appeler le personnel"      # ... but when first asked for
    assert catalogs.gettext("de", "Call staff") == "Personal rufen"
    (folder / "kiosk.po").unlink()
    assert catalogs.gettext("de", "Call staff") == "Personal rufen"            # and then kept
    assert catalogs.gettext("tr", "Call staff") == "Call staff"                 # not offered: English


def test_extraction_finds_marked_literals_only(tmp_path):
    source = tmp_path / "screen.kv"
    source.write_text('text: tr._("Hello")\nlabel: tr._(root.notice)\nx: N_("One " "two")\ny: _("Hello")\n')
    assert extract_messages([source]) == ["Hello", "One two"]


def test_intake_form_speaks_every_kiosk_language():
    form = forms.load("intake-basic")
    assert [q.link_id for q in form.questions] == ["reason", "allergies", "contact-changed"]
    reason = form.questions[0]
    assert reason.text("de") == "Weshalb sind Sie heute hier?"
    assert reason.text("en") == "Why are you here today?"
    for language in ("de", "en", "tr", "fr"):
        for question in form.questions:
            assert question.text(language)
            assert all(option.text(language) for option in question.options)
            if language != "en":
                assert question.text(language) != question.text("en"), (language, question.link_id)


def test_forms_the_kiosk_cannot_ask_yet_are_refused_by_name():
    with pytest.raises(forms.FormError, match="'dob'"):
        forms.parse({"resourceType": "Questionnaire", "item": [{"linkId": "dob", "type": "time", "text": "Born"}]})
    with pytest.raises(forms.FormError, match="no form"):
        forms.load("does-not-exist")
