"""The patient's steps after the birth date, over HTTP on both backends: details (corrections flagged), the
site's intake form one question a page with the kiosk's rules, the consent with a drawn signature or a
decline, and the arrival code as QR and text, the same whenever the patient comes back."""

from __future__ import annotations

import io
import json
import re

import pytest
import requests
import zxingcpp
from PIL import Image

from kiosk import config
from kiosk.site import invitations, precheck

BORN = {"day": "14", "month": "7", "year": "1980"}
STROKES = json.dumps([[[0.1, 0.5], [0.3, 0.7], [0.5, 0.4]], [[0.6, 0.5], [0.9, 0.5]]])


class Patient:
    """A patient's browser, past the birth date, on one service."""

    def __init__(self, service, path: str, invitation_id: str):
        self.service, self.browser, self.invitation_id = service, requests.Session(), invitation_id
        self.browser.get(service.patient.url + path, timeout=10)
        self.post("/checkin/birth-date", BORN)

    def get(self, path: str) -> requests.Response:
        return self.browser.get(self.service.patient.url + path, timeout=10)

    def post(self, path: str, data: dict | list) -> requests.Response:
        form = "/checkin/details" if path.startswith("/checkin/") and path != "/checkin/birth-date" else "/checkin"
        page = self.browser.get(self.service.patient.url + form, timeout=10)      # a page with a form
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
        data = [*(data.items() if isinstance(data, dict) else data), ("csrf_token", csrf)]
        return self.browser.post(self.service.patient.url + path, data=data, timeout=10)

    def stored(self) -> invitations.Invitation:
        return invitations.find(self.service.site, invitation_id=self.invitation_id)


@pytest.fixture
def patient(serve, make_settings, invitation):
    def start(form: str = "intake-general", **site) -> Patient:
        settings = make_settings(**site).replace(forms=config.FormsSettings(intake=form))
        service = serve(settings)
        body = invitation(language="en", patient={**invitation()["patient"], "telecom": [{"system": "phone", "value": "0151 1111111"}],
                                   "address": [{"line": ["Hauptstr. 5"], "postalCode": "10115", "city": "Berlin"}]})
        token, made = invitations.create(service.site, invitations.parse_request(body, default_language="en"))
        return Patient(service, f"/p/{token}", made.id)
    return start


def test_details_confirmed_as_they_are_or_corrected_and_flagged(patient):
    p = patient()
    page = p.get("/checkin/details")
    assert 'value="Hauptstr. 5"' in page.text and 'value="0151 1111111"' in page.text and "Ayse Yilmaz" in page.text
    assert p.post("/checkin/details", {"street": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin",
                                       "phone": "0151 1111111"}).url.endswith("/checkin/questions/1")
    assert p.stored().contact == {"fields": [], "patient": {}}
    wrong = p.post("/checkin/details", {"street": "Hauptstr. 5", "postal_code": "1", "city": "Berlin", "phone": ""})
    assert wrong.status_code == 400 and "postal code" in wrong.text
    p.post("/checkin/details", {"street": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin",
                                "phone": "0171 2222222"})
    stored = p.stored()
    assert stored.contact["fields"] == ["phone"]
    assert precheck.person(stored).phone == "0171 2222222" and precheck.person(stored).address.city == "Berlin"


def test_the_form_one_question_a_page_with_the_kiosks_rules(patient):
    p = patient()
    p.post("/checkin/details", {"street": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin", "phone": ""})
    first = p.get("/checkin/questions/1")
    assert "Question 1 of 7" in first.text and 'type="radio"' in first.text
    required = p.post("/checkin/questions/1", {})
    assert required.status_code == 400 and "Please answer this question." in required.text
    other = p.post("/checkin/questions/1", {"answer": "other"})           # enables reason-other (repeats)
    assert other.url.endswith("/checkin/questions/2") and "Question 2 of 8" in other.text
    assert 'type="checkbox"' in other.text
    several = p.post("/checkin/questions/2", [("answer", "results"), ("answer", "certificate"), ("typed", "a note")])
    assert several.url.endswith("/checkin/questions/3")
    assert p.stored().answers["reason-other"] == ["results", "certificate", "a note"]
    p.post("/checkin/questions/3", {"answer": "true"})                    # allergies: yes -> which
    text = p.get("/checkin/questions/4")
    assert "<textarea" in text.text
    p.post("/checkin/questions/4", {"typed": "<script>alert(1)</script> penicillin"})
    assert "<script>alert" not in p.get("/checkin/questions/4").text
    # Back to the first question: another reason disables reason-other, and its answer goes.
    p.post("/checkin/questions/1", {"answer": "acute"})
    answers = p.stored().answers
    assert answers["reason"] == "acute" and "reason-other" not in answers
    assert answers["allergies"] is True and answers["allergies-which"].endswith("penicillin")
    p.post("/checkin/questions/2", {"answer": "false"})                   # allergies now no: which goes
    assert "allergies-which" not in p.stored().answers
    assert p.post("/checkin/questions/4", {"answer": "maybe"}).status_code == 400    # pregnancy: not an option


def test_consent_with_a_signature_drawn_or_declined(patient):
    p = patient(form="no-questions")
    page = p.get("/checkin/consent")
    assert "I agree that the hospital stores" in page.text and 'src="/static/signature.js"' in page.text
    assert p.post("/checkin/consent", {"decision": "accepted", "signature": ""}).status_code == 400
    assert p.post("/checkin/consent", {"decision": "accepted", "signature": "[[[\"x\", 1]]]"}).status_code == 400
    too_many = json.dumps([[[0.5, 0.5]] * 5001])
    assert p.post("/checkin/consent", {"decision": "accepted", "signature": too_many}).status_code == 400
    assert p.stored().consent is None
    p.post("/checkin/consent", {"decision": "accepted", "signature": STROKES})
    consent = p.stored().consent
    assert consent["decision"] == "accepted" and len(consent["text_id"]) == 16
    import base64
    drawn = Image.open(io.BytesIO(base64.b64decode(consent["signature"])))
    assert drawn.size == (600, 200) and drawn.convert("L").getextrema()[0] == 0
    p.post("/checkin/consent", {"decision": "declined"})
    assert p.stored().consent == {"decision": "declined", "text_id": consent["text_id"], "signature": ""}


def test_finishing_gives_an_arrival_code_that_stays_the_same(patient, serve):
    p = patient(form="intake-basic")
    early = p.post("/checkin/finish", {})
    assert early.url.endswith("/checkin/details")                            # not done yet: the first step left
    p.post("/checkin/details", {"street": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin", "phone": ""})
    for number, answer in ((1, "appointment"), (2, "false"), (3, "false")):
        p.post(f"/checkin/questions/{number}", {"answer": answer})
    assert p.post("/checkin/finish", {}).url.endswith("/checkin/consent")
    p.post("/checkin/consent", {"decision": "accepted", "signature": STROKES})
    done = p.post("/checkin/finish", {})
    shown = re.search(r'id="arrival-code">([0-9A-Z]{5}-[0-9A-Z]{5})<', done.text)[1]
    picture = p.get("/checkin/arrival.png")
    assert picture.headers["Content-Type"] == "image/png" and "Content-Disposition" not in picture.headers
    [read] = zxingcpp.read_barcodes(Image.open(io.BytesIO(picture.content)))
    assert read.text == f"KIOSK1:site-1:{shown.replace('-', '')}"
    saved = p.get("/checkin/arrival.png?save=1")
    assert saved.headers["Content-Disposition"] == "attachment; filename=arrival-code.png"
    stored = p.stored()
    assert stored.finished_at and precheck.code_hash(shown) == precheck.code_hash(shown.lower().replace("-", " "))
    # Changing an answer afterwards keeps the code; so does a new session.
    p.post("/checkin/questions/2", {"answer": "true"})
    again = p.get("/checkin")
    assert shown in again.text
    assert "arrival-code" not in requests.get(p.service.patient.url + "/checkin", timeout=10).text


def test_the_arrival_picture_needs_the_session_and_the_birth_date(patient):
    p = patient(form="no-questions")
    stranger = requests.get(p.service.patient.url + "/checkin/arrival.png", timeout=10)
    assert stranger.status_code == 401 and stranger.headers["Content-Type"].startswith("text/html")


def test_the_form_is_done_only_when_every_required_question_is_answered(patient):
    p = patient(form="intake-basic")
    p.post("/checkin/details", {"street": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin", "phone": ""})
    p.post("/checkin/questions/1", {"answer": "appointment"})
    p.post("/checkin/consent", {"decision": "declined"})
    overview = p.get("/checkin")
    assert 'href="/checkin/questions/2" id="start"' in overview.text and 'id="finish"' not in overview.text
    assert p.post("/checkin/finish", {}).url.endswith("/checkin/questions/2")
    p.post("/checkin/questions/2", {"answer": "false"})
    p.post("/checkin/questions/3", {"answer": "true"})
    assert 'id="finish"' in p.get("/checkin").text


def test_no_text_of_the_pages_is_named_like_a_method_of_its_dict():
    """Templates read texts as ``s.name``; Jinja looks up attributes first, so a key such as ``clear`` showed
    the dict's method instead of the text."""
    from kiosk.site import pages, steps
    assert [key for texts in (pages.TEXTS, steps.TEXTS) for key in texts if hasattr(dict, key)] == []
