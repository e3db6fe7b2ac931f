"""The kiosk API on the site listener, on both backends: a pre-checked patient found by arrival code (as
scanned or typed) or by their card, and marked arrived once; what it refuses."""

from __future__ import annotations

import time

import pytest
import requests

from kiosk.site import invitations, precheck

BODY_KEYS = {"id", "language", "appointment", "greeting", "patient", "patient_entered", "form", "answers",
             "consent", "finished_at"}


@pytest.fixture
def pre_checked(serve, invitation):
    """A service with one patient who finished their pages (with a phone corrected): (service, code, id)."""
    service = serve()
    body = invitation(patient={**invitation()["patient"],
                               "identifier": [{"system": "http://fhir.de/sid/gkv/kvid-10", "value": "A123456780"}]})
    _, made = invitations.create(service.site, invitations.parse_request(body, default_language="de"))
    from kiosk.checkin.corrections import correct
    from kiosk.checkin.model import Person
    correction, _ = correct(Person.from_fhir(made.patient), ("Hauptstr. 5",), "10115", "Berlin", "0171 2222222")
    precheck.save_contact(service.site, made, correction)
    precheck.save_answer(service.site, made, service_form(), "reason", "appointment")
    precheck.save_consent(service.site, made, "accepted", "0123456789abcdef", "")
    code = precheck.finish(service.site, invitations.find(service.site, invitation_id=made.id))
    return service, code, made.id


def service_form():
    from kiosk.checkin import forms
    return forms.load("intake-basic")


def call(service, secret, path, body):
    return requests.post(f"{service.api.url}/api/v1/arrivals{path}", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {secret}"})


def test_found_by_the_qr_code_or_the_typed_code_then_arrived_once(pre_checked, site_secret):
    service, code, invitation_id = pre_checked
    secret = site_secret[1]
    for sent in (precheck.qr_text("site-1", code), precheck.shown_code(code), precheck.shown_code(code).lower()):
        answer = call(service, secret, "/find", {"code": sent})
        assert answer.status_code == 200, answer.text
        arrival = answer.json()["arrival"]
        assert set(arrival) == BODY_KEYS and arrival["id"] == invitation_id
    assert arrival["greeting"] == {"given": "Ayse", "family_initial": "Y"}
    assert arrival["patient_entered"] == ["address", "phone"]     # invited without an address: typed one
    assert {"system": "phone", "value": "0171 2222222"} in arrival["patient"]["telecom"]
    assert arrival["answers"] == {"reason": "appointment"} and arrival["consent"]["decision"] == "accepted"
    first = call(service, secret, f"/{invitation_id}/arrived", {"kiosk": "lobby-1", "admission": "adm-1"})
    again = call(service, secret, f"/{invitation_id}/arrived", {"kiosk": "lobby-1", "admission": "adm-1"})
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    other = call(service, secret, f"/{invitation_id}/arrived", {"kiosk": "lobby-2", "admission": "adm-9"})
    assert other.status_code == 409 and other.json()["reason"] == "arrived"
    used = call(service, secret, "/find", {"code": code})
    assert used.status_code == 404 and used.json()["reason"] == "arrived"


def test_found_by_the_card_on_the_day_of_the_appointment(pre_checked, site_secret):
    service, _, invitation_id = pre_checked
    start = invitations.find(service.site, invitation_id=invitation_id).start
    day = {"start": int(start.replace(hour=0, minute=0).timestamp()), "end": int(start.replace(hour=23, minute=59).timestamp())}
    card = {"system": "http://fhir.de/sid/gkv/kvid-10", "value": "A123456780"}
    assert call(service, site_secret[1], "/find", {"identifier": card, "day": day}).json()["arrival"]["id"] == invitation_id
    other_day = {"start": day["start"] - 86400, "end": day["start"] - 1}
    assert call(service, site_secret[1], "/find", {"identifier": card, "day": other_day}).status_code == 404
    stranger = {**card, "value": "B999999990"}
    assert call(service, site_secret[1], "/find", {"identifier": stranger, "day": day}).json()["reason"] == "unknown"


@pytest.mark.parametrize("sent, reason", [("KIOSK1:other-site:ABCDEFGHJK", "other_site"),
                                          ("KIOSK1:site-1:ABCDEFGHJK", "unknown"), ("ABCDE-FGHJK", "unknown"),
                                          ("<script>", "unknown"), ("", "unknown")])
def test_codes_that_find_nothing_say_why(pre_checked, site_secret, sent, reason):
    service, _, _ = pre_checked
    answer = call(service, site_secret[1], "/find", {"code": sent})
    assert answer.status_code == 404 and answer.json()["reason"] == reason and answer.json()["error"]


def test_an_unfinished_pre_check_in_is_not_found(serve, site_secret, invitation):
    service = serve()
    _, made = invitations.create(service.site, invitations.parse_request(invitation(), default_language="de"))
    code = precheck.arrival_code(service.site, made)           # never finished: the code was never shown
    assert call(service, site_secret[1], "/find", {"code": code}).json()["reason"] == "unknown"


@pytest.mark.parametrize("header", ["", "Bearer nope-nope-nope-nope-nope-nope-nope"])
def test_the_kiosk_api_wants_the_site_secret_and_not_the_invitation_token(pre_checked, api_token, header):
    service, code, _ = pre_checked
    for sent in (header, f"Bearer {api_token[1]}"):
        answer = requests.post(f"{service.api.url}/api/v1/arrivals/find", json={"code": code}, timeout=10,
                               headers={"Authorization": sent} if sent else {})
        assert answer.status_code == 401 and "arrival" not in answer.text


def test_the_kiosk_api_is_not_on_the_patient_listener(pre_checked, site_secret):
    service, code, _ = pre_checked
    answer = requests.post(f"{service.patient.url}/api/v1/arrivals/find", json={"code": code}, timeout=10,
                           headers={"Authorization": f"Bearer {site_secret[1]}"})
    assert answer.status_code in (404, 405) and "Yilmaz" not in answer.text
    # ... nor the incidents the kiosks' desk pages list
    for method, path in (("get", "/peer/incidents"), ("post", "/peer/incidents/1/resolve")):
        answer = getattr(requests, method)(f"{service.patient.url}{path}", timeout=10,
                                           headers={"Authorization": f"Bearer {site_secret[1]}"})
        assert answer.status_code in (404, 405), path
        answer = getattr(requests, method)(f"{service.api.url}{path}", timeout=10)
        assert answer.status_code == 401, path


def test_bad_bodies(pre_checked, site_secret):
    service, _, invitation_id = pre_checked
    for path, body in (("/find", {}), ("/find", {"identifier": {"system": "x"}, "day": {"start": "x"}}),
                       (f"/{invitation_id}/arrived", {"kiosk": "lobby-1"}), (f"/{invitation_id}/arrived", [])):
        assert call(service, site_secret[1], path, body).status_code == 400


def test_arrived_patients_are_deleted_after_the_retention_time(pre_checked, site_secret):
    from kiosk.site import arrivals
    service, code, invitation_id = pre_checked
    call(service, site_secret[1], f"/{invitation_id}/arrived", {"kiosk": "lobby-1", "admission": "adm-1"})
    assert arrivals.wipe_arrived(service.site, 3600) == 0
    assert arrivals.wipe_arrived(service.site, 3600, now=time.time() + 3601) == 1
    assert invitations.find(service.site, invitation_id=invitation_id) is None


def test_after_arrival_the_patients_pages_change_nothing(serve, site_secret, invitation):
    import re
    service = serve()
    token, made = invitations.create(service.site, invitations.parse_request(invitation(language="en"),
                                                                             default_language="en"))
    browser = requests.Session()
    page = browser.get(f"{service.patient.url}/p/{token}", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    browser.post(f"{service.patient.url}/checkin/birth-date", timeout=10,
                 data={"day": "14", "month": "7", "year": "1980", "csrf_token": csrf})
    precheck.save_consent(service.site, made, "accepted", "0123456789abcdef", "")
    precheck.finish(service.site, invitations.find(service.site, invitation_id=made.id))
    call(service, site_secret[1], f"/{made.id}/arrived", {"kiosk": "lobby-1", "admission": "adm-1"})
    for path in ("/checkin", "/checkin/consent", "/checkin/arrival.png"):
        assert "You have checked in at the kiosk." in browser.get(service.patient.url + path, timeout=10).text
    declined = browser.post(f"{service.patient.url}/checkin/consent", data={"decision": "declined", "csrf_token": csrf},
                            timeout=10)
    assert "You have checked in at the kiosk." in declined.text
    assert invitations.find(service.site, invitation_id=made.id).consent["decision"] == "accepted"
