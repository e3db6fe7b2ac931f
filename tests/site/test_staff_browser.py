"""The staff's waiting list (kiosk.site.staffpages) in a real headless Chromium: signed in through its form, in
each member's language, it passes axe-core's WCAG 2.1 AA rules at a desk's and a phone's size; "Call next"
calls and says so; while another member acts, the list redraws and the keyboard's focus stays on the row's
button it was on, and a new patient is said politely; a wrong PIN, an expired form and a foreign CSRF token get
their sentence."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import requests
from browser import DESKTOP, PHONE, axe_violations, described, set_viewport
from processes import wait_until
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from kiosk import config
from kiosk.site import tickets, waiting
from kiosk.site.staff import SiteStaff

LANGUAGES = ("de", "en", "tr", "fr")


@pytest.fixture
def backend():
    return ""


@pytest.fixture
def service(serve, make_settings):
    settings = make_settings().replace(queues=config.QueueSettings(
        names=("A Registration", "B Blood tests"), counters=("Desk 1", "Desk 2", "Room 4")))
    running = serve(settings)
    for code in LANGUAGES:
        SiteStaff(running.site).add(f"Member {code}", "4711", language=code)
    return running


def ticket(site, n: int, queue: str = "A") -> int:
    tickets.register(site, tickets.parse_registration(f"adm-{n}", {
        "kiosk": "lobby-1", "queue": queue, "number": f"{queue}-{n:03d}",
        "created_at": datetime.now().astimezone().isoformat(), "precheck": "inv-1" if n == 2 else ""}))
    return next(r["id"] for r in waiting.waiting_list(site) if r["admission_id"] == f"adm-{n}")


def sign_in(browser, service, name: str, pin: str = "4711") -> None:
    browser.delete_all_cookies()
    browser.get(f"{service.api.url}/staff")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "pin").send_keys(pin)
    browser.find_element(By.ID, "sign-in").click()


def choose(browser, counter: str) -> None:
    wait_until(lambda: browser.find_elements(By.ID, "next"), "the waiting list")
    Select(browser.find_element(By.ID, "counter")).select_by_visible_text(counter)
    browser.find_element(By.ID, "save").click()
    wait_until(lambda: status(browser) == "Saved.", "the counter saved")


def status(browser) -> str:
    return attribute(browser, "status", "textContent")


def attribute(browser, element_id: str, name: str) -> str:
    """An element's attribute as it is now ("" while the page or the list is being redrawn)."""
    try:
        return browser.find_element(By.ID, element_id).get_attribute(name) or ""
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_pages_pass_axe_in_each_member_s_language_at_desk_and_phone_size(service, browser, language):
    set_viewport(browser, DESKTOP)
    browser.delete_all_cookies()
    browser.get(f"{service.api.url}/staff")
    violations = axe_violations(browser)
    assert violations == [], described(violations)
    first = ticket(service.site, 1)
    ticket(service.site, 2, "B")
    waiting.call(service.site, first, "Member en", "Desk 1")
    sign_in(browser, service, f"Member {language}")
    wait_until(lambda: browser.find_elements(By.ID, "next"), "the waiting list")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    for size in (DESKTOP, PHONE):
        set_viewport(browser, size)
        violations = axe_violations(browser)
        assert violations == [], (size, described(violations))
    # Every button says which ticket it is for.
    names = [b.get_attribute("textContent").strip() for b in browser.find_elements(By.CSS_SELECTOR, "#rows button")]
    assert all(name.endswith(("A-001", "B-002")) for name in names) and len(names) == 4, names


def test_call_next_keeps_focus_while_another_member_acts_and_says_new_patients(service, browser):
    set_viewport(browser, DESKTOP)
    one, two, three = ticket(service.site, 1), ticket(service.site, 2), ticket(service.site, 3)
    sign_in(browser, service, "Member en")
    choose(browser, "Desk 2")
    browser.find_element(By.ID, "next").click()
    wait_until(lambda: status(browser) == "A-001 is called to Desk 2.", "the call said")
    wait_until(lambda: browser.find_elements(By.ID, f"done-{one}"), "the called row's buttons")
    button = browser.find_element(By.ID, f"call-{three}")
    browser.execute_script("arguments[0].focus()", button)
    waiting.call(service.site, two, "Member de", "Room 4")              # another member, elsewhere
    wait_until(lambda: "called" in attribute(browser, f"ticket-{two}", "class"),
               "the list redrawn after the other member's call")
    assert browser.execute_script("return document.activeElement.id") == f"call-{three}"
    ticket(service.site, 4)                                              # a new patient from a kiosk
    wait_until(lambda: attribute(browser, "announce", "textContent") == "A-004 joined the list.",
               "the new patient said")
    assert browser.execute_script("return document.activeElement.id") == f"call-{three}"
    browser.find_element(By.ID, f"done-{one}").click()
    wait_until(lambda: status(browser) == "A-001 is done.", "done said")
    # The other member's ticket: calling it here is refused with who has it.
    waiting.not_here(service.site, two, "Member de", 3)
    waiting.call(service.site, two, "Member de", "Room 4")
    answer = requests.post(f"{service.api.url}/staff/tickets/{two}/call", headers={"Accept": "application/json"},
                           cookies={c["name"]: c["value"] for c in browser.get_cookies()},
                           data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"',
                                                         browser.page_source).group(1)}, timeout=10)
    assert answer.status_code == 409 and answer.json()["message"] == "A-002 has just been called by Member de to Room 4."


def test_sign_in_and_forms_refuse_with_a_sentence(service, browser):
    set_viewport(browser, DESKTOP)
    sign_in(browser, service, "Member de", pin="0000")
    wait_until(lambda: attribute(browser, "message", "textContent") == "Name oder PIN sind nicht richtig.",
               "the wrong PIN said in the site's language")
    sign_in(browser, service, "Member en")
    wait_until(lambda: browser.find_elements(By.ID, "next"), "the waiting list")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    for sent in ("", "not-the-token"):
        answer = requests.post(f"{service.api.url}/staff/next", cookies=cookies, data={"csrf_token": sent}, timeout=10)
        assert answer.status_code == 403 and "This page has expired." in answer.text     # the member's language
    assert requests.post(f"{service.api.url}/staff/next", data={}, timeout=10).status_code == 401
    big = requests.post(f"{service.api.url}/staff/settings", cookies=cookies, data={"x": "y" * 40000}, timeout=10)
    assert big.status_code == 413 and "Das Gesendete ist zu groß." in big.text
