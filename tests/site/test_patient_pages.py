"""The patient listener over HTTP, on both backends: the link, the birth date before anything personal, the
lock after wrong birth dates (also split across two instances), rate limits, CSRF, escaping, headers."""

from __future__ import annotations

import re

import pytest
import requests

from kiosk.site import invitations

BORN = {"day": "14", "month": "7", "year": "1980"}
WRONG = {"day": "15", "month": "7", "year": "1980"}


def invite(service, invitation, **changes) -> str:
    """The path of a new invitation's link (``/p/<token>``), made as the API makes it."""
    request = invitations.parse_request(invitation(**changes), default_language="de")
    token, _ = invitations.create(service.site, request, replace=True)
    return f"/p/{token}"


def opened(service, path: str) -> tuple[requests.Session, str]:
    """A browser's session that opened the link: its CSRF token from the birth-date page."""
    browser = requests.Session()
    first = browser.get(service.patient.url + path, timeout=10, allow_redirects=False)
    assert first.status_code == 303 and first.headers["Location"] == "/checkin"
    page = browser.get(service.patient.url + "/checkin", timeout=10)
    assert page.status_code == 200
    return browser, re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]


def birth_date(service, browser, csrf, typed) -> requests.Response:
    return browser.post(service.patient.url + "/checkin/birth-date", data={**typed, "csrf_token": csrf}, timeout=10)


def test_nothing_personal_before_the_birth_date_then_the_appointment(serve, invitation):
    service = serve()
    browser, csrf = opened(service, invite(service, invitation))
    before = browser.get(service.patient.url + "/checkin", timeout=10)
    assert "Geburtsdatum" in before.text                       # the invitation's language, German
    for personal in ("Yilmaz", "Ayse", "1980", "Cardiology", "ayse@example.org"):
        assert personal not in before.text
    after = birth_date(service, browser, csrf, BORN)
    assert after.status_code == 200 and "Ihr Termin" in after.text and "Cardiology, building B" in after.text
    assert "09:30" in after.text
    english = browser.get(service.patient.url + "/checkin?lang=en", timeout=10)
    assert '<html lang="en">' in english.text and "Your appointment" in english.text


def test_the_link_leaves_the_address_bar_and_the_cookie_is_guarded(serve, make_settings, invitation):
    service = serve(make_settings(public_url="https://checkin.hospital.example"))
    path = invite(service, invitation)
    answer = requests.get(service.patient.url + path, timeout=10, allow_redirects=False)
    assert answer.headers["Location"] == "/checkin"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-kiosk_site=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Path=/" in cookie
    assert path.removeprefix("/p/") not in cookie


def test_wrong_birth_dates_lock_the_link(serve, invitation):
    service = serve()
    path = invite(service, invitation)
    browser, csrf = opened(service, path)
    for left in (4, 3, 2, 1):
        wrong = birth_date(service, browser, csrf, WRONG)
        assert wrong.status_code == 400 and f"Verbleibende Versuche: {left}." in wrong.text
    locked = birth_date(service, browser, csrf, WRONG)
    assert locked.status_code == 403 and "gesperrt" in locked.text
    # Locked for good: the right birth date, a new session, nothing opens it.
    assert birth_date(service, browser, csrf, BORN).status_code == 403
    again = requests.get(service.patient.url + path, timeout=10, allow_redirects=False)
    assert again.status_code == 403 and "Yilmaz" not in again.text


def test_the_lock_holds_across_two_instances_on_one_database(serve, make_settings, invitation):
    first, second = serve(), serve(make_settings())
    path = invite(first, invitation)
    browsers = [opened(first, path), opened(second, path)]
    for attempt in range(4):
        service = (first, second)[attempt % 2]
        browser, csrf = browsers[attempt % 2]
        assert birth_date(service, browser, csrf, WRONG).status_code == 400
    browser, csrf = browsers[0]
    assert birth_date(first, browser, csrf, WRONG).status_code == 403
    browser, csrf = browsers[1]
    assert birth_date(second, browser, csrf, BORN).status_code == 403


def test_a_form_without_its_csrf_token_is_refused(serve, invitation):
    service = serve()
    browser, csrf = opened(service, invite(service, invitation))
    for token in ("", "x" * 43):
        refused = browser.post(service.patient.url + "/checkin/birth-date", data={**BORN, "csrf_token": token},
                               timeout=10)
        assert refused.status_code == 403
    # Another patient's session's token does not fit this session.
    other, other_csrf = opened(service, invite(service, invitation, appointment={
        **invitation()["appointment"], "id": "appt-2"}))
    assert birth_date(service, browser, other_csrf, BORN).status_code == 403
    assert birth_date(service, browser, csrf, BORN).status_code == 200


def test_another_patients_session_does_not_open_this_one(serve, invitation):
    service = serve()
    mine, csrf = opened(service, invite(service, invitation))
    birth_date(service, mine, csrf, BORN)
    other = invite(service, invitation, appointment={**invitation()["appointment"], "id": "appt-2",
                                                      "location": "Radiology"},
                   patient={**invitation()["patient"], "birthDate": "1990-01-01"})
    mine.get(service.patient.url + other, timeout=10)          # opening another link starts over
    page = mine.get(service.patient.url + "/checkin", timeout=10)
    assert "Radiology" not in page.text and "Cardiology" not in page.text


@pytest.mark.parametrize("typed", [{"day": "31", "month": "2", "year": "1980"}, {"day": "x", "month": "7", "year": "1980"},
                                   {"day": "14", "month": "7", "year": "80"}, {}])
def test_a_date_that_is_no_date_asks_again_without_counting(serve, invitation, typed):
    service = serve()
    browser, csrf = opened(service, invite(service, invitation))
    for _ in range(6):
        answer = birth_date(service, browser, csrf, typed)
        assert answer.status_code == 400 and "Tag, Monat und Jahr" in answer.text
    assert birth_date(service, browser, csrf, BORN).status_code == 200


def test_unknown_links_and_tries_are_limited_per_address(serve, make_settings, invitation):
    service = serve(make_settings(address_limit=5, link_limit=3))
    for _ in range(5):
        assert requests.get(service.patient.url + "/p/guess", timeout=10).status_code == 404
    limited = requests.get(service.patient.url + "/p/guess", timeout=10,
                           headers={"X-Forwarded-For": "203.0.113.9"})       # no trusted proxy: ignored
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_tries_are_limited_per_link(serve, make_settings, invitation):
    service = serve(make_settings(link_limit=3))
    browser, csrf = opened(service, invite(service, invitation))
    for _ in range(3):
        assert birth_date(service, browser, csrf, {}).status_code == 400
    assert birth_date(service, browser, csrf, BORN).status_code == 429


def test_a_trusted_proxy_names_the_patients_address(serve, make_settings, invitation):
    service = serve(make_settings(address_limit=5, trusted_proxies=("127.0.0.1",)))
    for n in range(8):            # each patient behind the proxy has an address of their own
        answer = requests.get(service.patient.url + "/p/guess", timeout=10,
                              headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Forwarded-Proto": "https"})
        assert answer.status_code == 404
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_script_a_patient_or_sender_typed_is_shown_as_text(serve, invitation):
    service = serve()
    path = invite(service, invitation, appointment={**invitation()["appointment"],
                                                    "location": '<script>alert("x")</script><img src=x onerror=1>'})
    browser, csrf = opened(service, path)
    shown = birth_date(service, browser, csrf, BORN)
    assert "<script>" not in shown.text and "<img" not in shown.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in shown.text
    typed = birth_date(service, browser, csrf, {"day": '"><b>', "month": "7", "year": "1980"})
    assert "<b>" not in typed.text


def test_every_page_carries_the_security_headers(serve, invitation):
    service = serve()
    for answer in (requests.get(service.patient.url + "/p/nothing", timeout=10),
                   requests.get(service.patient.url + invite(service, invitation), timeout=10),
                   requests.get(service.patient.url + "/static/site.css", timeout=10)):
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe" not in csp
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in answer.headers           # plain HTTP here, no proxy


@pytest.mark.parametrize("backend", [""], ids=["sqlcipher"])     # PostgreSQL's files are its server's to encrypt
def test_the_store_keeps_no_patient_in_clear(serve, make_settings, invitation):
    settings = make_settings()
    service = serve(settings)
    invite(service, invitation)
    service.site.dispose()
    raw = b"".join(p.read_bytes() for p in settings.data_path.glob("site.db*"))
    assert raw and b"Yilmaz" not in raw and b"1980-07-14" not in raw
