"""The patient's pages in a real headless Chromium, at a phone's width (360 CSS px) and a desktop's, in each
language: axe-core finds no violation of WCAG 2.1 AA on any page, nothing scrolls sideways on the phone, the
page says its language, and the way in (the language menu, the birth date) works with the keyboard alone.

On the embedded database only: tests/site/test_patient_pages.py runs the pages on both backends. Each page's
screenshot at phone width is left in the test's temporary folder, to look at.
"""

from __future__ import annotations

import pytest
from browser import DESKTOP, PHONE, axe_violations, described, set_viewport

from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import Catalogs
from kiosk.site import invitations
from kiosk.site.pages import MSG_LOCKED, MSG_NO_LINK, MSG_WRONG, TEXTS

CATALOGS = Catalogs(SUPPORTED_LANGUAGES)
TAB_LIMIT = 12            # more Tabs than the page has things to focus: the one looked for is not reachable


@pytest.fixture
def backend():
    """The embedded SQLCipher file: the browser does not see the backend."""
    return ""


@pytest.fixture(params=SUPPORTED_LANGUAGES)
def language(request):
    return request.param


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def viewport(request, browser):
    set_viewport(browser, request.param)
    browser.delete_all_cookies()
    return request.param


def open_invitation(browser, service, invitation, language: str, **changes) -> None:
    request = invitations.parse_request(invitation(language=language, **changes), default_language="de")
    token, _ = invitations.create(service.site, request, replace=True)
    browser.get(f"{service.patient.url}/p/{token}")


def check_page(browser, viewport, tmp_path, name: str, lang: str) -> None:
    """What every page must be: no violation, the page's language, nothing wider than the screen."""
    from selenium.webdriver.common.by import By
    violations = axe_violations(browser)
    assert not violations, f"axe-core on the {name} page ({lang}, {viewport[0]} px):\n{described(violations)}"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "built-in method" not in body and "Undefined" not in body, f"a text is missing on the {name} page"
    # A phone's browser widens its layout viewport to content that does not fit: both must stay the screen's.
    inner, scroll = browser.execute_script("return [innerWidth, document.documentElement.scrollWidth]")
    assert (inner, max(scroll, inner)) == (viewport[0], viewport[0]), \
        f"the {name} page is {scroll} px wide (layout viewport {inner} px) on a {viewport[0]} px screen"
    if viewport == PHONE:
        browser.save_screenshot(str(tmp_path / f"{name}-{lang}.png"))


def tab_to(browser, found) -> None:
    """Tab, as a keyboard does, until the element ``found(active element)`` is focused."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    for _ in range(TAB_LIMIT):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if found(browser.switch_to.active_element):
            return
    raise AssertionError(f"not reached with {TAB_LIMIT} Tabs")


def leaving(browser, action) -> None:
    """Does ``action`` (keys or a click that sends the page on) and waits until the next page has loaded:
    a new document, without the mark this one's window was given."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    browser.execute_script("window.leftByTest = true")
    action()
    # While the page changes, chromedriver may answer with an error instead of the script's result: ask again.
    WebDriverWait(browser, 10, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return window.leftByTest === undefined && document.readyState === 'complete'"))


def press(browser, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    leaving(browser, ActionChains(browser).send_keys(*keys).perform)


def type_birth_date(browser, day: str, month: str, year: str) -> None:
    from selenium.webdriver.common.by import By
    for field, typed in (("day", day), ("month", month), ("year", year)):
        browser.find_element(By.ID, field).send_keys(typed)
    leaving(browser, browser.find_element(By.ID, "continue").click)


def test_the_way_in_by_keyboard(browser, viewport, tmp_path, serve, invitation, language):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    service = serve()
    open_invitation(browser, service, invitation, language)
    assert browser.current_url == f"{service.patient.url}/checkin"
    assert browser.find_element(By.TAG_NAME, "h1").text == CATALOGS.gettext(language, TEXTS["birth_date_title"])
    check_page(browser, viewport, tmp_path, "birth-date", language)

    # The language menu, by keyboard: to another language and back, the focus visible on the way.
    other = SUPPORTED_LANGUAGES[(SUPPORTED_LANGUAGES.index(language) + 1) % len(SUPPORTED_LANGUAGES)]
    for going in (other, language):
        tab_to(browser, lambda e: e.get_attribute("hreflang") == going)
        assert browser.switch_to.active_element.value_of_css_property("outline-style") == "solid"
        press(browser, Keys.ENTER)
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == going
        current = browser.find_element(By.CSS_SELECTOR, ".languages [aria-current]")
        assert current.get_attribute("hreflang") == going

    tab_to(browser, lambda e: e.get_attribute("id") == "day")
    press(browser, "14", Keys.TAB, "7", Keys.TAB, "1980", Keys.ENTER)
    assert browser.find_element(By.ID, "where").text == "Cardiology, building B"
    check_page(browser, viewport, tmp_path, "appointment", language)


def test_wrong_birth_dates_then_the_lock_and_an_unknown_link(browser, viewport, tmp_path, serve, make_settings,
                                                             invitation, language):
    from selenium.webdriver.common.by import By
    service = serve(make_settings(birth_date_tries=3))
    open_invitation(browser, service, invitation, language)
    for left in (2, 1):
        type_birth_date(browser, "15", "7", "1980")
        error = browser.find_element(By.ID, "error")
        assert error.get_attribute("role") == "alert"
        assert error.text == CATALOGS.gettext(language, MSG_WRONG).format(n=left)
        fieldset = browser.find_element(By.TAG_NAME, "fieldset")
        assert fieldset.get_attribute("aria-describedby") == "error"
    check_page(browser, viewport, tmp_path, "wrong-birth-date", language)
    type_birth_date(browser, "15", "7", "1980")
    assert browser.find_element(By.ID, "message").text == CATALOGS.gettext(language, MSG_LOCKED)
    assert browser.find_elements(By.TAG_NAME, "form") == []
    check_page(browser, viewport, tmp_path, "locked", language)

    browser.get(f"{service.patient.url}/p/no-such-link")
    assert browser.find_element(By.ID, "message").text == CATALOGS.gettext(language, MSG_NO_LINK)
    check_page(browser, viewport, tmp_path, "no-link", language)      # the session's language still


def test_axe_runs_where_the_pages_policy_blocks_inline_script(browser, serve, invitation):
    """axe-core reaches the page through the DevTools protocol, which the Content-Security-Policy does not
    govern; a script the page itself would run inline stays blocked."""
    service = serve()
    open_invitation(browser, service, invitation, "en")
    browser.execute_script("const s = document.createElement('script'); s.textContent = 'window.inline = 1';"
                           "document.head.append(s);")
    assert browser.execute_script("return window.inline") is None
    assert axe_violations(browser) == []


def draw_signature(browser, kind: str) -> None:
    """A signature across the pad with a finger, a pen or a mouse (Pointer Events, as the device sends them)."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By
    pad = browser.find_element(By.ID, "pad-canvas")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", pad)
    box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height]", pad)
    kinds = {"finger": interaction.POINTER_TOUCH, "pen": interaction.POINTER_PEN, "mouse": interaction.POINTER_MOUSE}
    actions = ActionBuilder(browser, mouse=PointerInput(kinds[kind], kind))
    left, top, width, height = box
    points = [(0.1, 0.6), (0.3, 0.3), (0.5, 0.7), (0.7, 0.3), (0.9, 0.5)]
    actions.pointer_action.move_to_location(int(left + width * points[0][0]), int(top + height * points[0][1]))
    actions.pointer_action.pointer_down()
    for x, y in points[1:]:
        actions.pointer_action.move_to_location(int(left + width * x), int(top + height * y))
    actions.pointer_action.pointer_up()
    actions.perform()


def test_the_steps_to_the_arrival_code(browser, viewport, tmp_path, serve, make_settings, invitation, language):
    """Details, the form (intake-basic), the consent signed with a finger on the phone and with a pen or a
    mouse on the desktop, the arrival code: each page without violation; the QR code read back out of the
    browser's own screenshot (zxing-cpp) is the code the page writes."""
    import io
    import json

    import zxingcpp
    from PIL import Image
    from selenium.webdriver.common.by import By

    from kiosk import config
    from kiosk.site import precheck
    service = serve(make_settings().replace(forms=config.FormsSettings(intake="intake-basic")))
    open_invitation(browser, service, invitation, language)
    type_birth_date(browser, "14", "7", "1980")
    check_page(browser, viewport, tmp_path, "overview", language)
    leaving(browser, browser.find_element(By.ID, "start").click)
    assert browser.current_url.endswith("/checkin/details")
    check_page(browser, viewport, tmp_path, "details", language)
    browser.find_element(By.ID, "phone").send_keys("0151 2345678")
    leaving(browser, browser.find_element(By.ID, "continue").click)
    for number, choice in ((1, 1), (2, 2), (3, 2)):
        assert browser.current_url.endswith(f"/checkin/questions/{number}")
        if number == 1:
            check_page(browser, viewport, tmp_path, "question", language)
        browser.find_element(By.CSS_SELECTOR, f"label[for='answer-{choice}']").click()
        leaving(browser, browser.find_element(By.ID, "continue").click)
    assert browser.current_url.endswith("/checkin/consent")
    assert browser.find_element(By.ID, "pad").is_displayed()          # the script showed the pad
    check_page(browser, viewport, tmp_path, "consent", language)
    kind = "finger" if viewport == PHONE else ("pen" if language == "fr" else "mouse")
    draw_signature(browser, kind)
    strokes = json.loads(browser.find_element(By.ID, "signature").get_attribute("value"))
    assert len(strokes) == 1 and len(strokes[0]) >= 5, kind
    leaving(browser, browser.find_element(By.ID, "agree").click)
    leaving(browser, browser.find_element(By.ID, "finish").click)
    shown = browser.find_element(By.ID, "arrival-code").text
    check_page(browser, viewport, tmp_path, "arrival-code", language)
    qr = browser.find_element(By.ID, "arrival-qr")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", qr)
    [read] = zxingcpp.read_barcodes(Image.open(io.BytesIO(browser.get_screenshot_as_png())))
    assert read.text == precheck.qr_text("site-1", shown.replace("-", ""))


HOSTILE = '<script>window.injected=1</script><img src=x onerror="window.injected=2"> [b]5[/b] \' " &amp;'


def test_what_a_patient_types_comes_back_as_text_never_as_markup(browser, serve, make_settings, invitation):
    """Script and markup typed into the address and into a free-text answer: saved, and shown again on the
    pages as the very characters typed (in the fields, as their values), with nothing of it run or made an
    element. (The kiosk's screens render no markup, and the desk page shows no text a patient typed.)"""
    import sqlalchemy as sa
    from selenium.webdriver.common.by import By

    from kiosk import config
    from kiosk.checkin import answers as checking
    from kiosk.checkin import forms
    from kiosk.site import precheck
    from kiosk.site.schema import invitations as table
    set_viewport(browser, PHONE)
    browser.delete_all_cookies()
    service = serve(make_settings().replace(forms=config.FormsSettings(intake="intake-general")))
    open_invitation(browser, service, invitation, "en")
    type_birth_date(browser, "14", "7", "1980")
    browser.get(f"{service.patient.url}/checkin/details")
    for field, typed in (("street", HOSTILE), ("postal_code", "10115"), ("city", HOSTILE)):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(typed)
    leaving(browser, browser.find_element(By.ID, "continue").click)
    with service.site.engine.connect() as conn:
        invitation_id = conn.execute(sa.select(table.c.id)).scalar_one()
    made = invitations.find(service.site, invitation_id=invitation_id)
    assert precheck.person(made).address.city == HOSTILE.strip()

    form = forms.load("intake-general")
    for link_id, value in (("reason", "appointment"), ("allergies", True), ("allergies-which", HOSTILE)):
        made = invitations.find(service.site, invitation_id=invitation_id)
        precheck.save_answer(service.site, made, form, link_id, value)
    made = invitations.find(service.site, invitation_id=invitation_id)
    number = [q.link_id for q in checking.enabled(form, made.answers)].index("allergies-which") + 1
    for page, field, shown in (("/checkin/details", "street", HOSTILE.strip()), ("/checkin/details", "city", HOSTILE.strip()),
                               (f"/checkin/questions/{number}", "typed", HOSTILE)):
        browser.get(service.patient.url + page)
        assert browser.find_element(By.ID, field).get_attribute("value") == shown, page
        assert browser.execute_script("return window.injected") is None, page
        assert browser.find_elements(By.CSS_SELECTOR, "img[src='x'], main script, form script") == [], page
