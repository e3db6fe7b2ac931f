"""The desk page as staff with keyboards and screen readers use it, in a real headless Chromium: axe-core's WCAG 2.1
AA rules (and the dialog-name rules) find nothing at a desk's and a phone's size in each member's language, with
the resolve and the cancel dialog open; the keyboard's focus stays on the row's button while another member acts
and the list redraws; every button names its incident; a new incident is said politely; each member chooses the
page's language, and it is theirs at the next sign-in."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from browser import DESKTOP, PHONE, WCAG21_AA, axe_violations, described, set_viewport
from processes import wait_until
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from kiosk import config
from kiosk.checkin.model import Admission, Incident, IncidentKind, Person, Severity
from kiosk.desk import web as desk
from kiosk.desk.incidents import texts as incident_texts
from kiosk.desk.staff import Staff
from kiosk.hardware.preview import PreviewPrinter
from kiosk.i18n import Catalogs
from kiosk.store.opening import open_store

LANGUAGES = config.SUPPORTED_LANGUAGES
PIN = "4711"


@pytest.fixture
def settings(tmp_path) -> config.Settings:
    return config.Settings().replace(kiosk=config.KioskSettings(data_dir=str(tmp_path / "data"), languages=("de", "en")))


@pytest.fixture
def store(settings):
    store = open_store(settings)
    staff = Staff(store)
    for code in LANGUAGES:
        staff.add_member(f"Member {code}", PIN)
        store.set_staff_language(f"Member {code}", code)
    staff.add_member("Ben", PIN)                     # chose no language: the kiosk's first
    yield store
    store.close()


@pytest.fixture
def server(settings, store, tmp_path):
    printers = {"ticket": PreviewPrinter(tmp_path / "prints")}
    app = desk.create_app(desk.staff_factory(settings, printers=printers), secret_key=desk.load_secret(settings.data_path),
                          language=settings.kiosk.languages[0], reprint_kinds=tuple(printers))
    server = desk.DeskServer(app, port=0).start()
    yield server
    server.stop()


def admission(store, n: int) -> str:
    return store.save_admission(Admission(
        f"6f1c2d3e-0000-4000-8000-00000000000{n}", "lobby-1", datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "en", "card:egk", Person("Muster", ("Erika",)))).id


def sign_in(browser, server, name: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{server.url}/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "pin").send_keys(PIN)
    browser.find_element(By.ID, "sign-in").click()
    wait_until(lambda: browser.find_elements(By.ID, "incidents"), "the desk page")


def two_incidents_listed(server, store, browser) -> tuple[int, int]:
    """Two incidents raised, "Member en" signed in and both listed: their ids."""
    first = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    second = store.raise_incident(Incident(IncidentKind.CARD_UNREADABLE, Severity.MEDIUM, "unreadable"))
    sign_in(browser, server, "Member en")
    wait_until(lambda: rows(browser) == 2, "both incidents listed")
    return first, second


def rows(browser) -> int:
    return len(browser.find_elements(By.CSS_SELECTOR, "#incidents > li"))


def focused(browser) -> str:
    try:
        return browser.execute_script("return document.activeElement.id")
    except StaleElementReferenceException:
        return ""


def text_of(browser, element_id: str) -> str:
    try:
        return browser.find_element(By.ID, element_id).get_attribute("textContent")
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_nothing_in_each_member_s_language_with_the_dialogs_open(server, store, browser, language):
    store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket:paper_out",
                                  admission_id=admission(store, 1)))
    taken = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    Staff(store).take(taken, "Ben")
    set_viewport(browser, DESKTOP)
    browser.delete_all_cookies()
    browser.get(f"{server.url}/login")
    violations = axe_violations(browser)
    assert violations == [], described(violations)
    sign_in(browser, server, f"Member {language}")
    wait_until(lambda: rows(browser) == 2, "both incidents listed")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    for size in (DESKTOP, PHONE):
        set_viewport(browser, size)
        violations = axe_violations(browser)
        assert violations == [], (size, described(violations))
        for action in ("resolve", "cancel"):
            browser.find_element(By.CSS_SELECTOR, f'#incidents button[data-action="{action}"]').click()
            wait_until(lambda: browser.find_element(By.ID, "dialog").is_displayed(), f"the {action} dialog")
            violations = axe_violations(browser)
            assert violations == [], (size, action, described(violations))
            assert browser.execute_script(
                "return document.getElementById('dialog').getAttribute('aria-labelledby')") == "dialog-question"
            assert text_of(browser, "dialog-question")
            browser.find_element(By.ID, "dialog-back").click()
    # The rules that name the dialog and its fields are among those run: a dialog without its name is found.
    ran = browser.execute_script("return axe.getRules(arguments[0]).map(r => r.ruleId)", list(WCAG21_AA))
    assert {"select-name", "label", "button-name"} <= set(ran)
    browser.find_element(By.CSS_SELECTOR, '#incidents button[data-action="resolve"]').click()
    browser.execute_script("document.getElementById('dialog').removeAttribute('aria-labelledby')")
    assert [v["id"] for v in axe_violations(browser)] == ["aria-dialog-name"]
    browser.find_element(By.ID, "dialog-back").click()


def test_focus_stays_on_the_row_s_button_while_another_member_acts_and_new_incidents_are_said(server, store, browser):
    set_viewport(browser, DESKTOP)
    first, second = two_incidents_listed(server, store, browser)
    # Every button says which incident (and kiosk) it is for, its visible word first.
    buttons = browser.find_elements(By.CSS_SELECTOR, "#incidents button")
    names = [(b.text, b.get_attribute("aria-label")) for b in buttons]
    assert names and all(name.startswith(f"{shown}: ") and name.endswith(" (Kiosk lobby-1)") for shown, name in names), names
    button = f"take-lobby-1-{second}"
    browser.execute_script("document.getElementById(arguments[0]).focus()", button)
    Staff(store).take(first, "Ben")                                     # another member, on another page
    wait_until(lambda: "Taken by Ben" in text_of(browser, f"incident-lobby-1-{first}"), "the list redrawn")
    assert focused(browser) == button
    store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.HIGH))
    wait_until(lambda: rows(browser) == 3, "the new incident listed")
    wait_until(lambda: text_of(browser, "announce").startswith("New incident, Kiosk lobby-1: "), "the new incident said")
    assert browser.find_element(By.ID, "announce").get_attribute("aria-live") == "polite"
    assert focused(browser) == button
    # Taking it with the keyboard: the row's buttons change, the focus goes to the row's first one.
    browser.switch_to.active_element.send_keys("\n")
    wait_until(lambda: focused(browser) == f"resolve-lobby-1-{second}", "the focus on the row's Resolve")
    Staff(store).resolve(second, "Ben")                                 # gone under the member's focus
    wait_until(lambda: rows(browser) == 2, "the resolved incident gone")
    assert focused(browser) == f"resolve-lobby-1-{first}"                # the row now in its place


def test_each_member_chooses_the_page_s_language_and_keeps_it(server, store, browser):
    set_viewport(browser, DESKTOP)
    sign_in(browser, server, "Ben")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"     # the kiosk's first
    Select(browser.find_element(By.ID, "language")).select_by_value("tr")
    browser.find_element(By.ID, "save-language").click()
    wait_until(lambda: browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "tr", "the page in Turkish")
    title = Catalogs(["tr"]).gettext("tr", "Front desk: open incidents")
    assert browser.find_element(By.TAG_NAME, "h1").text == title != "Front desk: open incidents"
    store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    wait_until(lambda: rows(browser) == 1, "the incident listed")
    said = incident_texts(IncidentKind.HELP_REQUESTED.value, "", Catalogs(["tr"]).translator("tr"))[0]
    assert browser.find_element(By.CSS_SELECTOR, "#incidents .what").text == said
    sign_in(browser, server, "Member fr")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    sign_in(browser, server, "Ben")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "tr"
    assert store.staff_member("Ben")["language"] == "tr"


def test_a_redraw_under_the_open_dialog_leaves_the_focus_in_the_list(server, store, browser):
    set_viewport(browser, DESKTOP)
    first, second = two_incidents_listed(server, store, browser)
    browser.find_element(By.ID, f"resolve-lobby-1-{second}").click()
    wait_until(lambda: browser.find_element(By.ID, "dialog").is_displayed(), "the resolve dialog")
    assert text_of(browser, "dialog-question").startswith("Resolve: ")
    Staff(store).resolve(second, "Ben")                          # another member resolves it meanwhile
    wait_until(lambda: rows(browser) == 1, "the list redrawn under the dialog")
    browser.find_element(By.ID, "dialog-back").click()
    wait_until(lambda: focused(browser) == f"take-lobby-1-{first}", "the focus on the incident now in its place")
