"""A lobby display in a real headless Chromium at a TV's size (1920x1080), as a box driving a TV shows it: the
page passes axe-core's WCAG 2.1 AA rules in each of the four languages; a desk's call is on the screen within
1 s and the page fetches the chime's announcement in each of the display's languages; switched off (the service
stopped) it says it is reconnecting, and when the service is back it shows the calls made meanwhile by itself."""

from __future__ import annotations

import socket
from datetime import datetime

import pytest
from browser import axe_violations, described, set_viewport
from processes import wait_until
from selenium.webdriver.common.by import By

from kiosk import config
from kiosk.site import tickets, waiting

TV = (1920, 1080)
LANGUAGES = ("de", "en", "tr", "fr")


@pytest.fixture
def backend():
    return ""


def settings_for(make_settings, **site):
    return make_settings(**site).replace(
        kiosk=config.KioskSettings(data_dir=make_settings().kiosk.data_dir, languages=LANGUAGES),
        queues=config.QueueSettings(names=("A Registration", "B Blood tests"),
                                    displays=("lobby: A B / de en", *(f"tv-{code}: / {code}" for code in LANGUAGES))))


def call(site, n: int, counter: str) -> waiting.Called:
    tickets.register(site, tickets.parse_registration(f"adm-{n}", {
        "kiosk": "lobby-1", "queue": "A", "number": f"A-{n:03d}", "created_at": datetime.now().astimezone().isoformat()}))
    ticket = next(r["id"] for r in waiting.waiting_list(site) if r["admission_id"] == f"adm-{n}")
    return waiting.call(site, ticket, "Ana", counter)


def shown(browser) -> tuple[str, str]:
    return (browser.find_element(By.ID, "newest-number").text, browser.find_element(By.ID, "newest-counter").text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_display_passes_axe_in_each_language(serve, make_settings, browser, language):
    service = serve(settings_for(make_settings))
    set_viewport(browser, TV)
    browser.get(f"{service.api.url}/display/tv-{language}")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    violations = axe_violations(browser)
    assert violations == [], described(violations)
    call(service.site, 1, "Schalter 2")
    wait_until(lambda: shown(browser) == ("A-001", "Schalter 2"), "the call on the display", timeout=5)
    violations = axe_violations(browser)
    assert violations == [], described(violations)


def test_a_call_shows_within_a_second_and_is_announced_in_each_language(serve, make_settings, browser):
    service = serve(settings_for(make_settings))
    set_viewport(browser, TV)
    browser.get(f"{service.api.url}/display/lobby")
    wait_until(lambda: browser.execute_script("return document.readyState") == "complete", "the page")
    assert browser.find_element(By.ID, "none").is_displayed()
    called = call(service.site, 1, "Desk 2")
    wait_until(lambda: shown(browser) == ("A-001", "Desk 2"), "the call on the display within 1 s", timeout=1)
    assert not browser.find_element(By.ID, "none").is_displayed()
    made = service.lobby.extensions["kiosk_announcements"]._made
    wait_until(lambda: {(called.call_id, "de"), (called.call_id, "en")} <= set(made), "both announcements fetched")
    second = call(service.site, 2, "Room 4")
    wait_until(lambda: shown(browser) == ("A-002", "Room 4"), "the next call", timeout=1)
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#earlier tr")]
    assert rows == ["A-001 Desk 2"]
    wait_until(lambda: (second.call_id, "en") in made, "the next call's announcements")


def test_a_display_cut_off_catches_up_when_the_service_is_back(serve, make_settings, browser):
    with socket.socket() as free:                # a port of its own (not 0: a fixed port is bound reusable, so
        free.bind(("127.0.0.1", 0))              # the service can bind it again at once when it is back)
        port = free.getsockname()[1]
    first = serve(settings_for(make_settings, site_port=port))
    set_viewport(browser, TV)
    browser.get(f"{first.api.url}/display/lobby")
    call(first.site, 1, "Desk 2")
    wait_until(lambda: shown(browser) == ("A-001", "Desk 2"), "the first call")
    first.stop()
    wait_until(lambda: browser.find_element(By.ID, "offline").is_displayed(), "the display saying it is cut off")
    again = serve(settings_for(make_settings, site_port=port))
    call(again.site, 2, "Desk 3")                      # made while the display was away
    wait_until(lambda: shown(browser) == ("A-002", "Desk 3"), "the display catching up by itself", timeout=20)
    assert not browser.find_element(By.ID, "offline").is_displayed()
