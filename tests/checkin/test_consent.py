"""Consent: the site's text per language, a signature drawn with a finger (kiosk/checkin/signature.py), what the
flow records for agree and decline, the admission as stored, and the FHIR Consent with the signature as its
sourceAttachment, checked by the R4B models and taken by a real FHIR server (SEKMET)."""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime, timezone

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from PIL import Image

from kiosk import config
from kiosk.hospital import fhir, outbox, transports
from kiosk.checkin import forms
from kiosk.checkin.events import (
                                  AdmissionStored,
                                  Answered,
                                  CardRead,
                                  ConsentGiven,
                                  DetailsConfirmed,
                                  Start,
                                  )
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.session import State
from kiosk.checkin.model import Admission, CardData, Coverage, Person
from kiosk.checkin.signature import has_ink, render_png, text_id
from kiosk.store import Store

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
FORM = forms.load("intake-basic")
EGK = CardData(
    card="egk", atr="3BD396FF81B1FE451F078081052D",
    person=Person(family="Müller-Lüdenscheidt", given=("Jürgen",), birth_date="1958-03-21", gender="male"),
    coverage=Coverage(payor_system="http://fhir.de/sid/arge-ik/iknr", payor_id="109500969",
                      payor_name="Test GKV", subscriber_id="X110411675", start="2020-01-01"))
# A signature as the pad hands it over: two strokes, fractions of a 600 x 200 pixel pad, y upwards.
STROKES = (((0.1, 0.5), (0.3, 0.8), (0.5, 0.2), (0.7, 0.8)), ((0.75, 0.3), (0.9, 0.3)))
PAD = (600, 200)
SHOWN = "Ich willige ein, dass das Klinikum meine Angaben für die Behandlung verarbeitet."


def image(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(png)).convert("L")


def dark(img: Image.Image, x: float, y: float) -> bool:
    """Is the pixel at pad fraction (x, y) (y upwards) dark?"""
    w, h = img.size
    return img.getpixel((round(x * (w - 1)), round((1 - y) * (h - 1)))) < 128


# --- the PNG ---

def test_render_png_draws_the_strokes_dark_on_white():
    img = image(render_png(STROKES, PAD))
    assert img.size == PAD
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):          # along the first segment, (0.1, 0.5) -> (0.3, 0.8)
        assert dark(img, 0.1 + 0.2 * t, 0.5 + 0.3 * t)
    assert dark(img, 0.8, 0.3)                       # the second stroke
    assert not dark(img, 0.1, 0.1) and not dark(img, 0.9, 0.9)     # where the finger never went
    histogram = img.histogram()
    assert sum(histogram[:128]) < 0.1 * sum(histogram), "mostly paper"


def test_a_tap_is_a_dot_and_points_off_the_pad_stay_on_its_edge():
    img = image(render_png((((0.5, 0.5),), ((1.4, -0.2), (1.2, -0.1))), PAD))
    assert dark(img, 0.5, 0.5)
    assert dark(img, 1.0, 0.0)


@pytest.mark.parametrize("strokes", [(), ((),), [[], []]])
def test_nothing_drawn_is_no_signature(strokes):
    assert not has_ink(strokes)
    with pytest.raises(ValueError, match="at least one point"):
        render_png(strokes, PAD)


def test_a_pad_too_small_is_refused():
    with pytest.raises(ValueError, match="16 x 16"):
        render_png(STROKES, (0, 0))


def test_the_same_strokes_give_the_same_png():
    assert render_png(STROKES, PAD) == render_png(STROKES, PAD)


def test_text_id_is_the_start_of_the_sha256_of_the_shown_text():
    assert text_id("abc") == "ba7816bf8f01cfea"          # SHA-256("abc"), FIPS 180-2 appendix B.1
    assert text_id(SHOWN) != text_id(SHOWN + " ") and len(text_id(SHOWN)) == 16


# --- the flow ---

def kiosk(**options) -> CheckIn:
    return CheckIn(kiosk_id="lobby-1", languages=("de", "en"), form=FORM, now=lambda: NOW,
                   new_id=lambda: "adm-1", **options)


def to_consent(k: CheckIn) -> CheckIn:
    k.handle(Start())
    k.handle(CardRead(EGK))
    k.handle(DetailsConfirmed())
    while k.state is State.QUESTIONS:
        q = k.question
        k.handle(Answered(True if q.type == "boolean" else q.options[0].code))
    assert k.state is State.CONSENT
    return k


def test_patient_signs_and_agrees():
    k = to_consent(kiosk(consent_signature=True))
    [save] = k.handle(ConsentGiven(True, SHOWN, STROKES, PAD))
    admission = save.admission
    assert admission.consent == "accepted" and admission.consent_text_id == text_id(SHOWN)
    assert admission.consent_signature == render_png(STROKES, PAD)
    assert "consent_signature" not in repr(admission), "the signature stays out of reprs (and so of logs)"
    k.handle(AdmissionStored("A-001"))
    assert k.state is State.DONE


def test_agreeing_without_a_signature_is_not_taken_when_the_site_asks_for_one():
    k = to_consent(kiosk(consent_signature=True))
    assert k.handle(ConsentGiven(True, SHOWN, ((),), PAD)) == []
    assert k.state is State.CONSENT and k.session.notice.startswith("Please sign")
    [save] = k.handle(ConsentGiven(True, SHOWN, STROKES, PAD))
    assert save.admission.consent_signature and k.session.notice == ""


def test_agreeing_without_a_signature_when_the_site_asks_for_none():
    k = to_consent(kiosk(consent_signature=False))
    [save] = k.handle(ConsentGiven(True, SHOWN))
    assert save.admission.consent == "accepted" and save.admission.consent_signature == b""
    assert save.admission.consent_text_id == text_id(SHOWN)


def test_declining_is_recorded_with_no_signature_and_the_check_in_completes():
    k = to_consent(kiosk(consent_signature=True))
    [save] = k.handle(ConsentGiven(False, SHOWN, STROKES, PAD))      # drawn, then declined: not kept
    assert save.admission.consent == "declined" and save.admission.consent_signature == b""
    assert save.admission.consent_text_id == text_id(SHOWN)
    k.handle(AdmissionStored("A-001"))
    assert k.state is State.DONE


def test_the_site_text_follows_the_patients_language():
    k = kiosk(consent_texts={"de": SHOWN})
    assert k.consent_text == SHOWN
    k.session.language = "en"
    assert k.consent_text == "", "no site text in English: the kiosk's standard wording"


# --- config ---

def test_config_reads_site_texts_inline_and_from_files(tmp_path):
    text = tmp_path / "consent-fr.txt"
    text.write_text("J'accepte le traitement de mes données.\n", encoding="utf-8")
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[consent]\ntext_de = "{SHOWN}"\ntext_fr = "file:{text}"\nsignature = false\n', encoding="utf-8")
    settings = config.load(cfg)
    assert settings.consent.signature is False
    assert settings.consent.texts() == {"de": SHOWN, "fr": "J'accepte le traitement de mes données."}
    assert config.Settings().consent.signature is True and config.Settings().consent.texts() == {}


def test_a_text_file_is_read_once_when_the_config_is_loaded(tmp_path):
    # Checked at load, then removed (or replaced) before the app is built: the kiosk starts with what it read.
    text = tmp_path / "consent-de.txt"
    text.write_text(SHOWN + "\n", encoding="utf-8")
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[consent]\ntext_de = "file:{text}"\n', encoding="utf-8")
    settings = config.load(cfg)
    text.unlink()
    assert settings.consent.texts() == {"de": SHOWN}
    assert settings.consent.texts() == {"de": SHOWN}, "asked again: the same text, no file needed"


def test_settings_made_in_code_name_a_missing_text_file_like_the_config_file_does(tmp_path):
    with pytest.raises(config.ConfigError, match="'consent.text_tr' names a file the kiosk cannot read"):
        config.ConsentSettings(text_tr=f"file:{tmp_path / 'missing.txt'}")


@pytest.mark.parametrize("line, message", [
    ('text_en = "file:/nonexistent/consent.txt"', "consent.text_en' names a file the kiosk cannot read"),
    ('signature = "yes"', "consent.signature' must be true or false"),
    ('text_es = "Acepto"', "consent.text_es' is not a setting"),
])
def test_config_names_a_bad_consent_setting(tmp_path, line, message):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f"[consent]\n{line}\n", encoding="utf-8")
    with pytest.raises(config.ConfigError, match=message):
        config.load(cfg)


def test_an_empty_text_file_is_refused(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[consent]\ntext_de = "file:{tmp_path / "empty.txt"}"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="empty file"):
        config.load(cfg)


# --- stored and sent ---

def signed_admission(n: int = 1, **changes) -> Admission:
    k = to_consent(CheckIn(kiosk_id="lobby-1", languages=("de",), form=FORM, now=lambda: NOW,
                           new_id=lambda: f"00000000-0000-4000-8000-{n:012d}", consent_signature=True))
    [save] = k.handle(ConsentGiven(True, SHOWN, STROKES, PAD))
    return save.admission


def test_the_admission_is_stored_whole_with_its_signature(tmp_path):
    store = Store(tmp_path / "kiosk.db")
    stored = store.save_admission(signed_admission())
    row = json.loads(store.db.execute("SELECT data FROM admissions").fetchone()[0])
    assert base64.b64decode(row["consent_signature"]) == render_png(STROKES, PAD)
    assert row["consent_text_id"] == text_id(SHOWN)
    assert store.get_admission(stored.id) == stored
    old = {k: v for k, v in row.items() if k not in ("consent_signature", "consent_text_id")}
    assert Admission.from_json(old).consent_signature == b"", "admissions stored before this still load"
    store.close()


def test_the_fhir_consent_carries_the_signature_and_the_text_version():
    admission = signed_admission()
    bundle = fhir.transaction(admission)
    Bundle.model_validate(bundle)
    [consent] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Consent"]
    model = get_fhir_model_class("Consent").model_validate(consent)
    attachment = consent["sourceAttachment"]
    assert model.sourceAttachment.contentType == "image/png"
    assert base64.b64decode(attachment["data"]) == admission.consent_signature
    assert attachment["creation"] == admission.created_at and attachment["language"] == "de"
    assert consent["policy"] == [{"uri": f"urn:kiosk:consent-text:{text_id(SHOWN)}"}]
    assert consent.get("policyRule")                                          # ppc-1 still holds


def test_a_declined_consent_has_no_attachment():
    k = to_consent(kiosk(consent_signature=True))
    [save] = k.handle(ConsentGiven(False, SHOWN, STROKES, PAD))
    [consent] = [e["resource"] for e in fhir.transaction(save.admission)["entry"]
                 if e["resource"]["resourceType"] == "Consent"]
    get_fhir_model_class("Consent").model_validate(consent)
    assert "sourceAttachment" not in consent and consent["provision"]["type"] == "deny"


def test_the_signed_consent_reaches_a_real_fhir_server(tmp_path):
    from fhirserver import FhirServer
    store = Store(tmp_path / "kiosk.db")
    stored = store.save_admission(signed_admission(), destinations=("fhir",))
    with FhirServer() as server:
        settings = config.Settings(hospital=config.HospitalSettings(transport="fhir", url=server.base))
        progress = outbox.Sync(store, transports.open_transport(settings), jitter=lambda: 0.0).run_once()
        assert progress.delivered == 1
        [consent] = server.search("Consent", identifier=f"urn:kiosk:consent|{stored.id}")
    assert consent["status"] == "active"
    assert base64.b64decode(consent["sourceAttachment"]["data"]) == stored.consent_signature
    assert image(base64.b64decode(consent["sourceAttachment"]["data"])).size == PAD
    store.close()
