"""The consent screen of the real app on a virtual display, driven by touches (tests/ui/ui_consent.py in a
process of its own): the site's German text, a signature drawn with a finger and stored as PNG with the
admission, and a decline without one."""

import base64
import io
import itertools
from pathlib import Path

import pytest
import uirun
from PIL import Image
from ui_consent import SITE_TEXT_DE, STROKES

from kiosk.checkin.signature import text_id

HERE = Path(__file__).parent

STANDARD_EN = ("I agree that the hospital stores and uses my details and my answers for my treatment and its "
               "administration, as described in the patient information at the front desk.")


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    out = tmp_path_factory.mktemp("consent")
    run, [results] = uirun.run("ui_consent.py", out)
    return results, run, out


def test_the_site_text_is_shown_and_its_version_recorded(walked):
    results, _, _ = walked
    signed = results["signed"]
    assert SITE_TEXT_DE in signed["texts"] and signed["shown_text"] == SITE_TEXT_DE
    assert signed["admission"]["consent_text_id"] == text_id(SITE_TEXT_DE)


def test_agree_waits_for_a_signature_and_clear_starts_again(walked):
    signed = walked[0]["signed"]
    assert signed["agree_before_signing"] is False
    assert (signed["strokes_after_a_line"], signed["agree_after_a_line"]) == (1, True)
    assert (signed["strokes_after_clear"], signed["agree_after_clear"]) == (0, False)


def test_the_screen_fits_at_large_text(walked):
    signed = walked[0]["signed"]
    assert signed["scale"] > 1
    assert signed["on_screen"] == dict.fromkeys(signed["on_screen"], True)
    assert signed["pad_size"][1] >= 200


def test_the_drawn_signature_is_stored_as_png_with_the_admission(walked):
    signed = walked[0]["signed"]
    admission = signed["admission"]
    assert admission["consent"] == "accepted"
    with Image.open(io.BytesIO(base64.b64decode(admission["consent_signature"]))) as png:
        assert png.format == "PNG"
        img = png.convert("L")
    w, h = img.size
    assert [w, h] == [round(v) for v in signed["pad_size"]]

    def dark(x, y):
        return img.getpixel((round(x * (w - 1)), round((1 - y) * (h - 1)))) < 128
    for stroke in STROKES:                      # every point the finger passed, and between them
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            for t in (0.0, 0.5, 1.0):
                assert dark(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t), (x0, y0, x1, y1, t)
    assert not dark(0.2, 0.2) and not dark(0.8, 0.8), "the line that was cleared is not in the signature"
    assert not dark(0.95, 0.1)


def test_the_signature_is_gone_from_the_screen_when_it_is_left(walked):
    results = walked[0]
    assert results["signed"]["pad_strokes_after_leaving"] == 0
    assert results["declined"]["pad_strokes"] == 0, "the next patient's pad is empty"


def test_declining_needs_no_signature_and_is_recorded(walked):
    declined = walked[0]["declined"]
    assert declined["shown_text"] == STANDARD_EN and SITE_TEXT_DE not in declined["texts"]
    admission = declined["admission"]
    assert admission["consent"] == "declined" and admission["consent_signature"] == ""
    assert admission["consent_text_id"] == text_id(STANDARD_EN)
    assert declined["scale"] == 1.0, "the larger text of the patient before was reset"


def test_the_signature_reaches_no_log(walked):
    results, run, out = walked
    data = results["signed"]["admission"]["consent_signature"]
    for stream in (run.stdout, run.stderr):
        assert data[:40] not in stream and "consent_signature" not in stream
    png = base64.b64decode(data)
    for path in out.rglob("*"):                 # the screenshots, tickets, Kivy's folder: no signature
        if path.is_file() and not path.name.startswith("kiosk.db") and path.name != "screens.json":
            assert png not in path.read_bytes(), path
