"""Calling the numbers through real parts, as issue 21 asks, on the embedded database (one instance) and on
PostgreSQL (two instances: the staff page on one, the kiosks and the lobby display on the other).

Two kiosks issue tickets: the real app (offscreen, in a process of its own, tests/ui/ui_calling.py: two sample
cards by touch, tickets on a real ESC/POS printer on 127.0.0.1, decoded back) and a second kiosk made of the
kiosk's own client, store and outbox. A member of staff signs in on the waiting list in a headless Chromium and
calls; a second Chromium shows the lobby display, which has the number and counter within 1 s of the click and
fetches the announcement in both its languages (espeak-ng's output for the sentence). "Not here" puts a ticket
back at the end and, at its second call, takes it off as a no-show; "Done" takes it off. Then the instance the
kiosks and the display use stops: the display says it is reconnecting, the second kiosk prints its own number
(K-...), and a call is made; when the instance is back, the display catches up by itself and the kiosk's own
number appears on the staff's list. No patient's name reaches the display.
"""

from __future__ import annotations

import socket
import subprocess
from datetime import datetime, timezone

import pytest
import uirun
from browser import DESKTOP, chromium, set_viewport
from escpos_decode import decode
from processes import wait_until
from selenium.webdriver.common.by import By
from test_staff_browser import attribute, choose, sign_in, status

from kiosk import config
from kiosk.checkin.model import Admission, Person
from kiosk.hospital import outbox
from kiosk.hospital.site_client import SiteArrivals
from kiosk.i18n import Catalogs
from kiosk.site import announce
from kiosk.site.staff import SiteStaff
from kiosk.store import OutboxStatus, Store

TV = (1920, 1080)


@pytest.fixture
def display_browser(tmp_path):
    """The lobby display's own Chromium (the staff's is the module's ``browser``)."""
    with chromium(tmp_path / "display-chromium") as driver:
        set_viewport(driver, TV)
        yield driver


def _free_port() -> int:
    with socket.socket() as s:           # a fixed port: the instance can be started on it again after a stop
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listed(browser) -> list[tuple[str, str]]:
    """The staff page's list as shown: (number, status) per row, in order."""
    try:
        return [(r.get_attribute("data-number"), r.get_attribute("class"))
                for r in browser.find_elements(By.CSS_SELECTOR, "#rows tr")]
    except Exception:              # redrawn while read
        return []


def row_id(browser, number: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f"#rows tr[data-number='{number}']").get_attribute("id")[7:]


def shown(display) -> tuple[str, str]:
    return (attribute(display, "newest-number", "textContent"), attribute(display, "newest-counter", "textContent"))


def press(browser, button_id: str, said: str) -> None:
    wait_until(lambda: browser.find_elements(By.ID, button_id), f"the button {button_id}")
    browser.find_element(By.ID, button_id).click()
    wait_until(lambda: status(browser) == said, said)


def test_kiosks_staff_and_a_display_through_a_cut(backend, make_settings, serve, site_secret, browser,
                                                  display_browser, tmp_path):
    two_instances = bool(backend)
    port = _free_port()

    def settings(**site):
        return make_settings(**site).replace(queues=config.QueueSettings(
            counters=("Desk 1", "Desk 2"), displays=("lobby: R / de en",), no_show_after=2))
    kiosks_side = serve(settings(site_port=port))                        # the kiosks' and the display's
    staff_side = serve(settings()) if two_instances else kiosks_side     # the staff's
    SiteStaff(staff_side.site).add("Ana", "4711", language="en")

    set_viewport(browser, DESKTOP)
    sign_in(browser, staff_side, "Ana")
    choose(browser, "Desk 2")
    display_browser.get(f"{kiosks_side.api.url}/display/lobby")
    wait_until(lambda: display_browser.find_element(By.ID, "none").is_displayed(), "the display, nobody called yet")

    # Kiosk one: the real app, two patients with cards.
    _, [app] = uirun.run("ui_calling.py", tmp_path / "app", kiosks_side.api.url, site_secret[0])
    numbers = [t["queue_number"] for t in app["tickets"]]
    assert numbers == ["R-001", "R-002"] and app["outbox"] == [OutboxStatus.DELIVERED] * 2
    printed = [decode(bytes.fromhex(job)).text for job in app["printed"]]
    assert [n for n in numbers if any(n in text and "Registration" in text for text in printed)] == numbers

    # Kiosk two: the kiosk's own client, store and outbox.
    kiosk_settings = settings(site_port=port).replace(site=config.SiteSettings(url=kiosks_side.api.url))
    store = Store(tmp_path / "kiosk-2.db", kiosk_id="lobby-2")
    transport = SiteArrivals(kiosk_settings)

    def check_in(n: int) -> str:
        number, _ = transport.client.number(f"adm-2-{n}", "lobby-2", "R")
        store.save_admission(Admission(f"adm-2-{n}", "lobby-2", datetime.now(timezone.utc).isoformat(timespec="seconds"), "de",
                                       "card:egk", Person("Zweite", ("Kiosk",)), queue="R"),
                             queue_prefix="K", queue_number=number, destinations=("site",))
        outbox.Sync(store, transport).run_once()
        return store.get_admission(f"adm-2-{n}").queue_number
    assert check_in(1) == "R-003"
    wait_until(lambda: [n for n, _ in listed(browser)] == ["R-001", "R-002", "R-003"], "all three on the staff's list")

    catalogs, made = Catalogs(("de", "en")), kiosks_side.lobby.extensions["kiosk_announcements"]._made

    def said_aloud(number: str, counter: str) -> None:
        """The display fetched the announcement in both its languages, and it is espeak-ng's for the sentence."""
        for language in ("de", "en"):
            wait_until(lambda: any(k[1] == language and made[k] == spoken(language, number, counter) for k in made),
                       f"the announcement of {number} in {language}")

    def spoken(language: str, number: str, counter: str) -> bytes:
        sentence = announce.sentence(catalogs, language, number, counter)
        return subprocess.run(["espeak-ng", "--stdout", "-v", language, "-s", "150", "-b", "1", "--stdin"],
                              input=sentence.encode(), capture_output=True, check=True).stdout

    # Call next: on the display within a second of the click (both browsers on this machine's clock: the
    # display notes when the number appeared, the staff's page when it was clicked), and read aloud.
    display_browser.execute_script(
        "new MutationObserver(function () { if (!window.shownAt) window.shownAt = Date.now(); })"
        ".observe(document.getElementById('newest-number'), {childList: true, characterData: true, subtree: true});")
    clicked = browser.execute_script("document.getElementById('next').click(); return Date.now();")
    wait_until(lambda: shown(display_browser) == ("R-001", "Desk 2"), "the call on the display")
    assert display_browser.execute_script("return window.shownAt") - clicked < 1000
    wait_until(lambda: status(browser) == "R-001 is called to Desk 2.", "the call said to staff")
    said_aloud("R-001", "Desk 2")

    first = row_id(browser, "R-001")
    press(browser, f"not-here-{first}", "R-001 is back in the list.")
    wait_until(lambda: listed(browser) == [("R-002", "waiting"), ("R-003", "waiting"), ("R-001", "waiting")],
               "R-001 at the end of the list")
    press(browser, "next", "R-002 is called to Desk 2.")
    wait_until(lambda: shown(display_browser) == ("R-002", "Desk 2"), "R-002 on the display")
    press(browser, f"done-{row_id(browser, 'R-002')}", "R-002 is done.")
    wait_until(lambda: [n for n, _ in listed(browser)] == ["R-003", "R-001"], "R-002 off the list")
    press(browser, f"call-{first}", "R-001 is called to Desk 2.")           # a second call, then not here again
    press(browser, f"not-here-{first}", "R-001 did not come and is taken off the list.")
    wait_until(lambda: listed(browser) == [("R-003", "waiting")], "R-001 off the list as a no-show")

    # The kiosks' and the display's instance stops.
    kiosks_side.stop()
    wait_until(lambda: display_browser.find_element(By.ID, "offline").is_displayed(), "the display saying so")
    transport.client.away_until = 0
    assert check_in(2) == "K-001"                                          # its own number, printed at once
    assert [r["status"] for r in store.outbox() if r["admission_id"] == "adm-2-2"] == [OutboxStatus.PENDING]
    if two_instances:
        press(browser, "next", "R-003 is called to Desk 2.")                # made while the display is away
    serve(settings(site_port=port))                                         # back
    if not two_instances:
        press(browser, "next", "R-003 is called to Desk 2.")
    wait_until(lambda: shown(display_browser) == ("R-003", "Desk 2"), "the display catching up by itself", timeout=20)
    assert not display_browser.find_element(By.ID, "offline").is_displayed()

    store.db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00+00:00'")      # due now
    assert outbox.Sync(store, transport).run_once().delivered == 1
    wait_until(lambda: listed(browser) == [("R-003", "called"), ("K-001", "waiting")],
               "the kiosk's own number on the list once it is back")
    earlier = [r.text for r in display_browser.find_elements(By.CSS_SELECTOR, "#earlier tr")]
    assert earlier[:2] == ["R-001 Desk 2", "R-002 Desk 2"]
    page = display_browser.page_source
    assert not [t["family"] for t in app["tickets"] if t["family"] in page] and "Zweite" not in page
    transport.close()
    store.close()
