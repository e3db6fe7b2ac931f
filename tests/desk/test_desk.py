"""kiosk/desk/web.py, routes.py, auth.py, actions.py: the desk web page, served by cheroot over a real store,
in plain HTTP and TLS, driven by requests and by a real headless Chromium (the ``browser`` fixture,
tests/support/browser.py).
"""

from __future__ import annotations

import re
import socket
import stat
from datetime import datetime, timezone
from pathlib import Path

import incident_forms
import pytest
import requests

from kiosk import config
from kiosk.desk import actions, incidents, routes
from kiosk.desk import web as desk
from kiosk.store.opening import open_store
from kiosk.hardware.preview import PreviewPrinter
from kiosk.i18n import Catalogs
from kiosk.checkin.model import Admission, Identifier, Incident, IncidentKind, Person, Severity
from kiosk.desk.staff import RESOLUTIONS, Staff
from kiosk.signin import MAX_WRONG_PINS

NAME, PIN = "Ana Desk", "4711"
LIVE_S = 2.0              # the page lists a new incident within this


@pytest.fixture
def settings(tmp_path) -> config.Settings:
    return config.Settings().replace(kiosk=config.KioskSettings(data_dir=str(tmp_path / "data"), languages=("en",)))


@pytest.fixture
def store(settings):
    store = open_store(settings)          # as the desk opens it: with the key
    Staff(store).add_member(NAME, PIN)
    yield store
    store.close()


@pytest.fixture
def printer(tmp_path):
    return PreviewPrinter(tmp_path / "prints")


def _serve(settings, printer, *, tls: tuple[Path, Path] | None = None) -> desk.DeskServer:
    printers = {"ticket": printer}
    app = desk.create_app(desk.staff_factory(settings, printers=printers), secret_key=desk.load_secret(settings.data_path),
                          language=settings.kiosk.languages[0], tls=tls is not None, reprint_kinds=tuple(printers))
    cert, key = tls or ("", "")
    return desk.DeskServer(app, port=0, tls_cert=str(cert), tls_key=str(key)).start()


@pytest.fixture
def server(settings, store, printer):
    server = _serve(settings, printer)
    yield server
    server.stop()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _sign_in(url: str, pin: str = PIN, session: requests.Session | None = None, **options) -> requests.Response:
    session = session or requests.Session()
    page = session.get(f"{url}/login", **options)
    return session.post(f"{url}/login", data={"name": NAME, "pin": pin, "csrf_token": _token(page.text)}, **options)


def _admission(store) -> Admission:
    admission = Admission(id="6f1c2d3e-0000-4000-8000-000000000001", kiosk_id="lobby-1",
                          created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), language="en",
                          identified_by="card:egk",
                          person=Person(family="Muster", given=("Erika",), birth_date="1964-08-12",
                                        identifiers=(Identifier("kvnr", "A123456780"),)))
    return store.save_admission(admission)


# --- what the page says ---

def test_every_incident_kind_severity_and_resolution_has_words_for_staff():
    assert set(incidents.KIND_TEXTS) == set(IncidentKind)
    assert set(incidents.SEVERITY_TEXTS) == set(Severity)
    assert set(routes.RESOLUTION_TEXTS) == set(RESOLUTIONS)


def test_the_page_speaks_the_kiosks_first_language(tmp_path, store, printer):
    german = config.Settings().replace(kiosk=config.KioskSettings(data_dir=str(tmp_path / "data"),
                                                                   languages=("de", "en")))
    server = _serve(german, printer)
    try:
        page = requests.get(f"{server.url}/login")
        assert '<html lang="de">' in page.text
        assert Catalogs(["de"]).gettext("de", routes.TEXTS["sign_in"]) in page.text
        assert routes.TEXTS["sign_in"] not in page.text          # the English msgid is not what shows
    finally:
        server.stop()


# --- signing in, sessions, CSRF ---

def test_a_page_asked_for_without_signing_in_sends_to_the_sign_in_page(server):
    page = requests.get(f"{server.url}/", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].endswith("/login")
    assert requests.get(f"{server.url}/api/incidents").status_code == 401


def test_a_post_without_the_csrf_token_is_refused(server, store):
    incident = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    session = requests.Session()
    assert _sign_in(server.url, session=session).url == f"{server.url}/"
    refused = session.post(f"{server.url}/api/incidents/{incident}/take")
    assert refused.status_code == 403
    forged = session.post(f"{server.url}/api/incidents/{incident}/take", headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    assert store.incidents()[0]["status"] == "open"
    # The sign-in form itself needs it too.
    assert requests.post(f"{server.url}/login", data={"name": NAME, "pin": PIN}).status_code == 403
    token = re.search(r'"csrf": "([^"]+)"', session.get(f"{server.url}/").text).group(1)
    taken = session.post(f"{server.url}/api/incidents/{incident}/take", headers={"X-CSRF-Token": token})
    assert taken.status_code == 200, taken.text
    assert store.incidents(None)[0]["status"] == "taken"


def test_the_session_cookie_is_httponly_and_strict_and_signing_out_ends_it(server):
    session = requests.Session()
    signed_in = _sign_in(server.url, session=session)
    cookie = signed_in.history[0].headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    stolen = dict(session.cookies)
    page = session.get(f"{server.url}/").text
    session.post(f"{server.url}/logout", data={"csrf_token": _token(page)})
    # The cookie from before signing out is worth nothing now: sign-ins live on the server.
    again = requests.get(f"{server.url}/", cookies=stolen, allow_redirects=False)
    assert again.status_code == 302


def test_the_secret_key_is_made_once_for_the_owner_only(tmp_path):
    key = desk.load_secret(tmp_path)
    assert desk.load_secret(tmp_path) == key and len(key) == 32
    assert stat.S_IMODE((tmp_path / desk.SECRET_FILE).stat().st_mode) == 0o600
    (tmp_path / desk.SECRET_FILE).write_text("")       # cut short by a power cut as it was written
    again = desk.load_secret(tmp_path)
    assert len(again) == 32 and desk.load_secret(tmp_path) == again, "a new key, kept from then on"
    assert sorted(p.name for p in tmp_path.iterdir()) == [desk.SECRET_FILE], "no half-written file left"


def test_a_member_removed_by_it_is_signed_out_of_the_desk(server, store):
    session = requests.Session()
    assert _sign_in(server.url, session=session).url == f"{server.url}/"
    assert session.get(f"{server.url}/api/incidents").status_code == 200
    Staff(store).remove_member(NAME)
    assert session.get(f"{server.url}/api/incidents").status_code == 401
    assert session.get(f"{server.url}/", allow_redirects=False).status_code == 302


def test_the_desk_over_tls_marks_its_cookie_secure(settings, store, printer, tls_certificate):
    cert, key = tls_certificate
    server = _serve(settings, printer, tls=(cert, key))
    try:
        assert server.url.startswith("https://")
        signed_in = _sign_in(server.url, verify=str(cert))
        assert signed_in.url == f"{server.url}/"
        assert "Secure" in signed_in.history[0].headers["Set-Cookie"]
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(server.url.replace("https://", "http://") + "/login", timeout=5)
    finally:
        server.stop()


# --- the actions, as the signed-in member ---

def _act(url: str, session: requests.Session, incident: int, action: str, **fields) -> requests.Response:
    token = re.search(r'"csrf": "([^"]+)"', session.get(f"{url}/").text).group(1)
    return session.post(f"{url}/api/incidents/{incident}/{action}", data=fields, headers={"X-CSRF-Token": token})


def test_reprint_and_cancel_act_on_the_incidents_admission_as_the_signed_in_member(server, store, printer):
    admission = _admission(store)
    incident = store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket:paper_out",
                                             admission_id=admission.id))
    session = requests.Session()
    _sign_in(server.url, session=session)
    listed = session.get(f"{server.url}/api/incidents").json()["incidents"]
    [row] = listed
    assert row["actions"] == ["take", "reprint_ticket", "cancel", "resolve"]
    assert row["queue"] == f"Queue number {admission.queue_number}"
    assert "Muster" not in str(listed) and "A123456780" not in str(listed)    # nothing personal
    printed = _act(server.url, session, incident, "reprint_ticket")
    assert printed.status_code == 200, printed.text
    assert list(printer.folder.glob("*.png"))
    assert any(row["actor"] == NAME and row["action"].startswith("print.") for row in store.audit_trail())
    # The reprint resolved the printer fault itself, in the member's name.
    [reprinted] = [r for r in Staff(store).incidents(include_resolved=True) if r["id"] == incident]
    assert (reprinted["status"], reprinted["resolved_by"], reprinted["resolution"]) == ("resolved", NAME, "reprinted")
    assert session.get(f"{server.url}/api/incidents").json()["incidents"] == []

    waiting = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM, admission_id=admission.id))
    cancel = _act(server.url, session, waiting, "cancel", note="left before being called")
    assert cancel.status_code == 200, cancel.text
    assert "cancelled" in cancel.json()["message"]
    assert any(row["actor"] == NAME and row["action"] == "admission.cancelled" for row in store.audit_trail())
    assert session.get(f"{server.url}/api/incidents").json()["incidents"] == []


def test_a_reprint_that_fails_says_why_in_the_pages_language(tmp_path, store, printer):
    german = config.Settings().replace(kiosk=config.KioskSettings(data_dir=str(tmp_path / "data"), languages=("de",)))
    admission = _admission(store)
    incident = store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket:paper_out",
                                             admission_id=admission.id))
    printer.fault = "paper_out"
    server = _serve(german, printer)
    try:
        session = requests.Session()
        _sign_in(server.url, session=session)
        failed = _act(server.url, session, incident, "reprint_ticket")
    finally:
        server.stop()
    de = Catalogs(["de"])
    assert failed.status_code == 409
    assert failed.json()["error"] == (f"{de.gettext('de', actions.MSG_NOT_PRINTED)} "
                                      f"({de.gettext('de', incidents.PRINTER_REASONS['paper_out'])})")
    assert "paper" not in failed.json()["error"]


def test_every_kind_of_incident_is_listed_and_cleared_from_the_desk_in_the_members_name(server, store):
    admission = _admission(store)
    raised = {kind: store.raise_incident(Incident(kind, Severity.MEDIUM,
                                                  admission_id=None if kind.about_the_kiosk else admission.id))
              for kind in IncidentKind}
    session = requests.Session()
    _sign_in(server.url, session=session)
    listed = {row["kind"]: row for row in session.get(f"{server.url}/api/incidents").json()["incidents"]}
    assert set(listed) == {kind.value for kind in IncidentKind}
    for kind, incident in raised.items():
        assert listed[kind.value]["text"] == incidents.KIND_TEXTS[kind]
        answer = _act(server.url, session, incident, "resolve", how="done", note="seen to")
        assert answer.status_code == 200, (kind, answer.text)
    assert session.get(f"{server.url}/api/incidents").json()["incidents"] == []
    resolved = {str(r["subject"]) for r in store.audit_trail() if r["action"] == "incident.resolved" and r["actor"] == NAME}
    assert resolved == {str(i) for i in raised.values()}


# Eight routine incidents (medium and low), raised after an urgent one.
ROUTINE = ((IncidentKind.HELP_REQUESTED, Severity.MEDIUM, "confirm"), (IncidentKind.PAPER_LOW, Severity.LOW, "ticket"),
           (IncidentKind.DETAILS_CORRECTED, Severity.LOW, "phone"), (IncidentKind.CARD_UNREADABLE, Severity.MEDIUM, "invalid"),
           (IncidentKind.IDENTITY_UNVERIFIED, Severity.LOW, "name"), (IncidentKind.CARD_REMOVED, Severity.LOW, ""),
           (IncidentKind.COVERAGE_ENDED, Severity.MEDIUM, ""), (IncidentKind.PRINTER_NO_STATUS, Severity.LOW, "ticket"))


def _urgent_then_routine(urgent_store, routine_store) -> tuple[int, list[int], list[int]]:
    """The hospital unreachable (high), then eight routine ones: (urgent, mediums newest first, lows newest first)."""
    urgent = urgent_store.raise_incident(Incident(IncidentKind.HOSPITAL_UNREACHABLE, Severity.HIGH, "fhir"))
    raised = [(routine_store.raise_incident(Incident(kind, severity, detail)), severity)
              for kind, severity, detail in ROUTINE]
    return (urgent, [i for i, s in reversed(raised) if s is Severity.MEDIUM],
            [i for i, s in reversed(raised) if s is Severity.LOW])


def test_an_urgent_incident_raised_before_eight_routine_ones_is_listed_first(server, store, browser):
    from selenium.webdriver.common.by import By
    urgent, medium, low = _urgent_then_routine(store, store)
    session = requests.Session()
    _sign_in(server.url, session=session)
    listed = _listed(server.url, session)["incidents"]
    assert [row["id"] for row in listed] == [urgent, *medium, *low]
    assert listed[0]["severity_text"] == "Urgent"

    _browser_sign_in(browser, server.url)
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#incidents > li")) == 9)
    shown = [int(li.get_attribute("data-incident-id")) for li in browser.find_elements(By.CSS_SELECTOR, "#incidents > li")]
    assert shown == [urgent, *medium, *low]
    # Taken by a colleague, an incident goes below the open ones of its severity (they need someone).
    _act(server.url, session, medium[0], "take")
    assert [row["id"] for row in _listed(server.url, session)["incidents"]] == [urgent, *medium[1:], medium[0], *low]


def test_an_admission_cancelled_here_after_it_reached_the_hospital_offers_only_take_and_resolve(server, store):
    admission = _admission(store)
    store.raise_incident(Incident(IncidentKind.CANCEL_IN_HOSPITAL, Severity.MEDIUM, "fhir",
                                  admission_id=admission.id))
    session = requests.Session()
    _sign_in(server.url, session=session)
    [row] = session.get(f"{server.url}/api/incidents").json()["incidents"]
    assert row["actions"] == ["take", "resolve"]
    assert row["text"] == incidents.KIND_TEXTS[IncidentKind.CANCEL_IN_HOSPITAL]
    page = session.get(f"{server.url}/").text
    session.post(f"{server.url}/logout", data={"csrf_token": _token(page)})
    assert [(r["actor"], r["action"]) for r in store.audit_trail()][-1][1].startswith("staff.signed_out")


def test_an_action_staff_cannot_do_shows_its_sentence(server, store):
    incident = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    session = requests.Session()
    _sign_in(server.url, session=session)
    bad = _act(server.url, session, incident, "resolve", how="not-a-way")
    assert bad.status_code == 409 and bad.json()["error"] == "Choose how the incident was resolved."
    assert _act(server.url, session, incident, "cancel").status_code == 404     # no admission: no such button
    assert _act(server.url, session, incident, "resolve").status_code == 200
    gone = _act(server.url, session, incident, "take")
    assert gone.status_code == 409 and gone.json()["error"] == actions.MSG_GONE


# --- config ---

@pytest.mark.parametrize("lines, problem", [
    ('bind = "0.0.0.0"', "'desk.bind' is 0.0.0.0"),
    ('bind = "10.1.2.3"\nport = 443', "'desk.bind' is 10.1.2.3"),
    ('port = 70000', "'desk.port' must be between 1 and 65535"),
    ('tls_key = "{key}"', "'desk.tls_key' is set but desk.tls_cert is not"),
])
def test_the_desk_leaves_this_machine_only_over_tls(tmp_path, tls_certificate, lines, problem):
    path = tmp_path / "kiosk.toml"
    path.write_text("[desk]\n" + lines.format(key=tls_certificate[1]) + "\n")
    with pytest.raises(config.ConfigError, match=re.escape(problem)):
        config.load(path)


def test_a_network_bind_with_tls_is_allowed(tmp_path, tls_certificate):
    cert, key = tls_certificate
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[desk]\nenabled = true\nbind = "0.0.0.0"\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
    assert config.load(path).desk.bind == "0.0.0.0"


# --- kiosk desk ---

def test_kiosk_desk_serves_the_page_until_stopped(tmp_path, store, settings):
    import signal
    import subprocess
    import sys
    with socket.socket() as probe:             # a free port, given back to the desk
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{settings.kiosk.data_dir}"\n[desk]\nport = {port}\n')
    kiosk = subprocess.Popen([str(Path(sys.executable).parent / "kiosk"), "desk", "--config", str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert kiosk.stdout.readline() == f"The desk page is at http://127.0.0.1:{port}/ (stop with Ctrl-C).\n"
        assert _sign_in(f"http://127.0.0.1:{port}").url == f"http://127.0.0.1:{port}/"
        kiosk.send_signal(signal.SIGTERM)
        assert kiosk.wait(timeout=10) == 0, kiosk.stderr.read()
    finally:
        kiosk.kill()
        kiosk.wait()


def test_kiosk_desk_says_when_its_port_is_taken(tmp_path, settings, capsys):
    from kiosk import cli
    from kiosk.cli.common import EXIT_NO_DEVICE
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        path = tmp_path / "kiosk.toml"
        port = taken.getsockname()[1]
        path.write_text(f'[kiosk]\ndata_dir = "{settings.kiosk.data_dir}"\n[desk]\nport = {port}\n')
        assert cli.main(["desk", "--config", str(path)]) == EXIT_NO_DEVICE
    err = capsys.readouterr().err
    assert err.startswith(f"kiosk: The desk page cannot listen on 127.0.0.1:{port}: ")
    assert "Address already in use" in err and err.endswith("; check the [desk] settings.\n")


# --- in a real browser ---

def _wait(driver, condition, timeout: float = 10.0):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait
    # The page redraws the list when it changes: an element found just before that is stale, look again.
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _browser_sign_in(driver, url: str, pin: str = PIN) -> None:
    from selenium.webdriver.common.by import By
    driver.delete_all_cookies()
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "name").send_keys(NAME)
    driver.find_element(By.ID, "pin").send_keys(pin)
    driver.find_element(By.ID, "sign-in").click()


def test_staff_take_and_resolve_an_incident_in_the_browser(server, store, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{server.url}/")
    _wait(browser, lambda d: d.current_url == f"{server.url}/login")       # not signed in: the sign-in page
    _browser_sign_in(browser, server.url)
    _wait(browser, lambda d: d.find_element(By.ID, "signed-in").text == f"Signed in as {NAME}")
    _wait(browser, lambda d: d.find_element(By.ID, "none").is_displayed())

    incident = store.raise_incident(Incident(IncidentKind.CARD_UNREADABLE, Severity.MEDIUM, "unreadable"))
    row = f'li[data-incident-id="{incident}"]'
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row), timeout=LIVE_S)
    _wait(browser, lambda d: incidents.KIND_TEXTS[IncidentKind.CARD_UNREADABLE] in d.find_element(By.CSS_SELECTOR, row).text)
    assert incidents.CARD_TEXTS["unreadable"] in browser.find_element(By.CSS_SELECTOR, row).text

    browser.find_element(By.CSS_SELECTOR, f'{row} button[data-action="take"]').click()
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-status") == "taken")
    _wait(browser, lambda d: f"Taken by {NAME}" in d.find_element(By.CSS_SELECTOR, row).text)
    assert browser.find_elements(By.CSS_SELECTOR, f'{row} button[data-action="take"]') == []

    browser.find_element(By.CSS_SELECTOR, f'{row} button[data-action="resolve"]').click()
    _wait(browser, lambda d: d.find_element(By.ID, "dialog").is_displayed())
    Select(browser.find_element(By.ID, "how")).select_by_value("not_needed")
    browser.find_element(By.ID, "note").send_keys("card works in the desk reader")
    browser.find_element(By.ID, "dialog-confirm").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row) == [])
    assert browser.find_element(By.ID, "status").text == actions.MSG_RESOLVED

    [resolved] = [r for r in store.incidents(None) if r["id"] == incident]
    assert resolved["status"] == "resolved"
    trail = [(r["actor"], r["action"]) for r in store.audit_trail() if r["subject"] in (str(incident), NAME)]
    assert (NAME, "staff.signed_in") in trail
    assert (NAME, "incident.taken") in trail and (NAME, "incident.resolved") in trail
    signed_in = next(r for r in store.audit_trail() if r["action"] == "staff.signed_in")
    assert "desk 127.0.0.1" in signed_in["detail"]

    browser.find_element(By.ID, "sign-out").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "sign-in"))
    browser.get(f"{server.url}/")
    _wait(browser, lambda d: d.current_url == f"{server.url}/login")


@pytest.fixture(scope="module")
def every_incident(tmp_path_factory) -> list[tuple[str, str]]:
    """Every (kind, detail) the kiosk's code raises (tests/support/incident_forms.py)."""
    found = incident_forms.forms_by_kind(tmp_path_factory.mktemp("forms"))
    return [(kind, detail) for kind, details in found.items() for detail in details]


@pytest.mark.parametrize("language", config.SUPPORTED_LANGUAGES)
def test_the_browser_shows_every_incident_in_the_pages_language(tmp_path, printer, browser, every_incident, language):
    """The full list in each language, as the browser shows it: each incident's sentence and
    detail lines are the catalog's, and no English is left on a page in another language."""
    from selenium.webdriver.common.by import By
    settings = config.Settings().replace(kiosk=config.KioskSettings(data_dir=str(tmp_path / "data"),
                                                                     languages=(language,)))
    store = open_store(settings)
    Staff(store).add_member(NAME, PIN)
    raised = {store.raise_incident(Incident(IncidentKind(kind), Severity.LOW, detail)): (kind, detail)
              for kind, detail in every_incident}
    store.close()
    server = _serve(settings, printer)
    try:
        _browser_sign_in(browser, server.url)
        _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#incidents > li")) == len(raised))
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
        shown = browser.execute_script(
            "return [...document.querySelectorAll('#incidents > li')].map(li => [Number(li.dataset.incidentId), "
            "li.querySelector('.what').innerText, [...li.querySelectorAll('.detail')].map(p => p.innerText)]);")
    finally:
        server.stop()
    catalogs = Catalogs([language])
    assert sorted(incident for incident, _, _ in shown) == sorted(raised)
    for incident, what, details in shown:
        kind, detail = raised[incident]
        lines = [what, *details]
        assert lines == incidents.texts(kind, detail, catalogs.translator(language)), (kind, detail)
        if language != "en":
            assert incident_forms.english_in(lines, kind, detail) == [], (language, kind, detail, lines)


def test_five_wrong_pins_in_the_browser_show_the_lock_sentence(server, browser):
    from selenium.webdriver.common.by import By
    for attempt in range(MAX_WRONG_PINS):
        _browser_sign_in(browser, server.url, pin="0000")
        message = _wait(browser, lambda d: d.find_element(By.ID, "message")).text
        expected = "Too many wrong PINs" if attempt == MAX_WRONG_PINS - 1 else "The name or the PIN is not right."
        assert expected in message, (attempt, message)
    _browser_sign_in(browser, server.url)           # the right PIN, too late
    assert "Too many wrong PINs" in _wait(browser, lambda d: d.find_element(By.ID, "message")).text


def test_the_browser_uses_the_desk_over_tls(settings, store, printer, tls_certificate, browser):
    from selenium.webdriver.common.by import By
    server = _serve(settings, printer, tls=tls_certificate)
    try:
        _browser_sign_in(browser, server.url)
        _wait(browser, lambda d: d.find_elements(By.ID, "signed-in"))
        incident = store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "ticket"))
        _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'li[data-incident-id="{incident}"]'),
              timeout=LIVE_S)
    finally:
        server.stop()


# --- one page for all kiosks of a site (desk.peers) ---

SITE_SECRET = "5f0c1e" + "0123456789abcdef" * 3


def _secret_file(path: Path, secret: str = SITE_SECRET, mode: int = 0o600) -> Path:
    path.write_text(secret + "\n")
    path.chmod(mode)
    return path


class _Kiosk:
    """One kiosk of the site: its own store (with data_dir in tmp_path) and desk server on a free port."""

    def __init__(self, tmp_path: Path, kiosk_id: str, secret_file: Path, peers: tuple[str, ...] = (), **desk_options):
        self.id = kiosk_id
        self.settings = config.Settings().replace(
            kiosk=config.KioskSettings(id=kiosk_id, data_dir=str(tmp_path / kiosk_id), languages=("en",)),
            desk=config.DeskSettings(port=0, peers=peers, peer_secret_file=str(secret_file), **desk_options))
        self.store = open_store(self.settings)
        self.printer = PreviewPrinter(tmp_path / kiosk_id / "prints")
        printers = {"ticket": self.printer}
        self.server = desk.serve(self.settings, desk.staff_factory(self.settings, printers=printers),
                                 reprint_kinds=tuple(printers))
        self.url = self.server.url

    def close(self) -> None:
        self.server.stop()
        self.store.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def site(tmp_path):
    """lobby-1, whose page lists lobby-2's incidents too; the member exists in lobby-1's store only."""
    secret = _secret_file(tmp_path / "peer-secret")
    lobby2 = _Kiosk(tmp_path, "lobby-2", secret)
    lobby1 = _Kiosk(tmp_path, "lobby-1", secret, peers=(lobby2.url,))
    Staff(lobby1.store).add_member(NAME, PIN)
    yield lobby1, lobby2
    lobby1.close()
    lobby2.close()


def _act_on(url: str, session: requests.Session, kiosk: str, incident: int, action: str, **fields) -> requests.Response:
    token = re.search(r'"csrf": "([^"]+)"', session.get(f"{url}/").text).group(1)
    return session.post(f"{url}/api/kiosks/{kiosk}/incidents/{incident}/{action}", data=fields,
                        headers={"X-CSRF-Token": token})


def _listed(url: str, session: requests.Session) -> dict:
    answer = session.get(f"{url}/api/incidents")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_page_lists_the_incidents_of_every_kiosk_of_the_site(site):
    lobby1, lobby2 = site
    own = lobby1.store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    theirs = lobby2.store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "ticket"))
    assert own == theirs                         # ids are per store: the kiosk id tells them apart
    session = requests.Session()
    _sign_in(lobby1.url, session=session)
    listed = _listed(lobby1.url, session)
    assert listed["unreachable"] == []
    by_kiosk = {row["kiosk_id"]: row for row in listed["incidents"]}
    assert set(by_kiosk) == {"lobby-1", "lobby-2"}
    assert by_kiosk["lobby-2"]["kiosk"] == "Kiosk lobby-2"
    assert by_kiosk["lobby-2"]["details"] == ["Ticket printer: paper running low"]
    assert by_kiosk["lobby-2"]["text"] == incidents.KIND_TEXTS[IncidentKind.PAPER_LOW]
    assert by_kiosk["lobby-1"]["kiosk"] == "Kiosk lobby-1"
    # lobby-2's page, without peers, lists its own only (and lobby-2 has no members: nobody signs in there).
    assert Staff(lobby2.store).members() == []


def test_another_kiosks_urgent_incident_comes_before_this_kiosks_newer_routine_ones(site):
    lobby1, lobby2 = site
    urgent, medium, low = _urgent_then_routine(lobby2.store, lobby1.store)
    session = requests.Session()
    _sign_in(lobby1.url, session=session)
    listed = _listed(lobby1.url, session)["incidents"]
    assert [(row["kiosk_id"], row["id"]) for row in listed] == [
        ("lobby-2", urgent), *(("lobby-1", i) for i in (*medium, *low))]
    assert listed[0]["details"] == ["Connection: FHIR server"], "the peer's code, said by this page"


def test_an_action_on_another_kiosks_incident_is_done_and_audited_there(site):
    lobby1, lobby2 = site
    admission = _admission(lobby2.store)
    fault = lobby2.store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket:paper_out",
                                                 admission_id=admission.id))
    waiting = lobby2.store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    session = requests.Session()
    _sign_in(lobby1.url, session=session)
    [row] = [r for r in _listed(lobby1.url, session)["incidents"] if r["id"] == fault]
    assert row["actions"] == ["take", "reprint_ticket", "cancel", "resolve"]     # lobby-2's printers
    assert "Muster" not in str(row) and "A123456780" not in str(row)

    assert _act_on(lobby1.url, session, "lobby-2", waiting, "explode").status_code == 404
    unknown = _act_on(lobby1.url, session, "lobby-9", waiting, "take")
    assert unknown.status_code == 502 and unknown.json()["error"].startswith("Kiosk lobby-9 does not answer")

    actor = f"{NAME} via desk lobby-1"
    taken = _act_on(lobby1.url, session, "lobby-2", waiting, "take")
    assert taken.status_code == 200 and taken.json() == {"message": actions.MSG_TAKEN}
    [row] = [r for r in Staff(lobby2.store).incidents() if r["id"] == waiting]
    assert (row["status"], row["taken_by"]) == ("taken", actor)
    bad = _act_on(lobby1.url, session, "lobby-2", waiting, "resolve", how="not-a-way")
    assert bad.status_code == 409 and bad.json()["error"] == "Choose how the incident was resolved."
    resolved = _act_on(lobby1.url, session, "lobby-2", waiting, "resolve", how="not_needed", note="was a visitor")
    assert resolved.status_code == 200 and resolved.json() == {"message": actions.MSG_RESOLVED}
    gone = _act_on(lobby1.url, session, "lobby-2", waiting, "take")
    assert gone.status_code == 409 and gone.json()["error"] == actions.MSG_GONE

    printed = _act_on(lobby1.url, session, "lobby-2", fault, "reprint_ticket")
    assert printed.status_code == 200 and printed.json() == {"message": actions.MSG_PRINTED}
    assert list(lobby2.printer.folder.glob("*.png"))          # lobby-2's printer, not lobby-1's
    assert not (lobby1.printer.folder.exists() and list(lobby1.printer.folder.glob("*.png")))

    trail = [(r["actor"], r["action"], r["subject"]) for r in lobby2.store.audit_trail()]
    assert (actor, "incident.taken", str(waiting)) in trail
    assert (actor, "incident.resolved", str(waiting)) in trail
    assert any(a == actor and action.startswith("print.") for a, action, _ in trail)
    assert not any(r["action"].startswith(("incident.", "print.")) for r in lobby1.store.audit_trail())
    assert _listed(lobby1.url, session)["incidents"] == []


def test_the_peer_api_wants_the_site_secret_and_nothing_else(site, server):
    lobby1, lobby2 = site
    incident = lobby2.store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    right = {"Authorization": f"Bearer {SITE_SECRET}"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SITE_SECRET},
                    {"Authorization": f"Bearer {SITE_SECRET[:-1]}"}):
        assert requests.get(f"{lobby2.url}/peer/incidents", headers=headers).status_code == 401
        refused = requests.post(f"{lobby2.url}/peer/incidents/{incident}/take", headers=headers,
                                data={"member": NAME, "via": "lobby-1"})
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert Staff(lobby2.store).incidents()[0]["status"] == "open"
    assert not any(r["action"] == "incident.taken" for r in lobby2.store.audit_trail())
    # A staff session of the page is not the secret either.
    session = requests.Session()
    _sign_in(lobby1.url, session=session)
    assert session.get(f"{lobby1.url}/peer/incidents").status_code == 401

    listing = requests.get(f"{lobby2.url}/peer/incidents", headers=right)
    assert listing.status_code == 200 and "Set-Cookie" not in listing.headers
    assert listing.json()["kiosk"] == "lobby-2" and listing.json()["incidents"][0]["id"] == incident
    # Without a member's name there is no one to audit.
    assert requests.post(f"{lobby2.url}/peer/incidents/{incident}/take", headers=right,
                         data={"via": "lobby-1"}).status_code == 400
    # A kiosk without desk.peer_secret_file has no peer API at all.
    assert requests.get(f"{server.url}/peer/incidents", headers=right).status_code == 404


def test_a_peer_with_another_secret_is_named(tmp_path, site):
    _, lobby2 = site
    other = _Kiosk(tmp_path, "lobby-3", _secret_file(tmp_path / "other-secret", "f" * 64), peers=(lobby2.url,))
    try:
        Staff(other.store).add_member(NAME, PIN)
        session = requests.Session()
        _sign_in(other.url, session=session)
        assert _listed(other.url, session)["unreachable"] == [
            f"Kiosk {lobby2.url} refuses this desk page: check that both have the same peer secret."]
    finally:
        other.close()


def test_a_peer_that_is_down_or_slow_is_named_and_the_others_still_listed(tmp_path):
    import time
    secret = _secret_file(tmp_path / "peer-secret")
    lobby2 = _Kiosk(tmp_path, "lobby-2", secret)
    dead = f"http://127.0.0.1:{_free_port()}"
    with socket.socket() as silent:               # takes the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        slow = f"http://127.0.0.1:{silent.getsockname()[1]}"
        lobby1 = _Kiosk(tmp_path, "lobby-1", secret, peers=(lobby2.url, dead, slow), peer_timeout_s=0.5)
        try:
            Staff(lobby1.store).add_member(NAME, PIN)
            own = lobby1.store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
            lobby2.store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "ticket"))
            session = requests.Session()
            _sign_in(lobby1.url, session=session)
            started = time.monotonic()
            listed = _listed(lobby1.url, session)
            assert time.monotonic() - started < 0.5 + 0.5          # the slow one holds the page no longer
            assert listed["unreachable"] == [f"Kiosk {dead} does not answer; its incidents are not listed.",
                                              f"Kiosk {slow} does not answer; its incidents are not listed."]
            assert {(r["kiosk_id"], r["id"]) for r in listed["incidents"]} >= {("lobby-1", own)}
            assert {r["kiosk_id"] for r in listed["incidents"]} == {"lobby-1", "lobby-2"}

            lobby2.close()                                          # once known, a peer is named by its id
            listed = _listed(lobby1.url, session)
            assert "Kiosk lobby-2 does not answer; its incidents are not listed." in listed["unreachable"]
            assert [(r["kiosk_id"], r["id"]) for r in listed["incidents"]] == [("lobby-1", own)]
            # An action on its incident says so, and the own ones still work.
            down = _act_on(lobby1.url, session, "lobby-2", 1, "take")
            assert down.status_code == 502 and down.json()["error"].startswith("Kiosk lobby-2 does not answer")
            assert _act_on(lobby1.url, session, "lobby-1", own, "take").status_code == 200
        finally:
            lobby1.close()
            lobby2.close()


@pytest.mark.parametrize("lines, problem", [
    ('peer_secret_file = "{loose}"', "'desk.peer_secret_file' can be read or changed by other users (mode 0644)"),
    ('peer_secret_file = "{short}"', "'desk.peer_secret_file' names a file without a usable secret"),
    ('peer_secret_file = "{missing}"', "'desk.peer_secret_file' names a file the kiosk cannot read"),
    ('peers = ["https://lobby-2.example:8043"]', "'desk.peers' is set but desk.peer_secret_file is not"),
    ('peers = ["http://10.1.2.3:8043"]\npeer_secret_file = "{good}"', "'desk.peers' has 'http://10.1.2.3:8043' without TLS"),
    ('peers = ["lobby-2:8043"]\npeer_secret_file = "{good}"', "'desk.peers' has 'lobby-2:8043', which is not"),
    ('peer_timeout_s = 0', "'desk.peer_timeout_s' must be between 0.1 and 30 seconds, not 0."),
])
def test_the_peer_settings_are_checked(tmp_path, lines, problem):
    files = {"loose": _secret_file(tmp_path / "loose", mode=0o644), "short": _secret_file(tmp_path / "short", "abc"),
             "good": _secret_file(tmp_path / "good"), "missing": tmp_path / "missing"}
    path = tmp_path / "kiosk.toml"
    path.write_text("[desk]\n" + lines.format(**files) + "\n")
    with pytest.raises(config.ConfigError, match=re.escape(problem)):
        config.load(path)


def test_good_peer_settings_load(tmp_path):
    secret = _secret_file(tmp_path / "peer-secret")
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[desk]\npeers = ["https://lobby-2.example:8043", "http://127.0.0.1:8044"]\n'
                    f'peer_secret_file = "{secret}"\npeer_timeout_s = 1.5\n')
    settings = config.load(path)
    assert settings.desk.peers == ("https://lobby-2.example:8043", "http://127.0.0.1:8044")
    assert config.read_peer_secret(settings.desk.peer_secret_file) == SITE_SECRET


def test_another_kiosks_incident_shows_live_and_resolves_in_the_browser(site, browser):
    from selenium.webdriver.common.by import By
    lobby1, lobby2 = site
    own = lobby1.store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM))
    _browser_sign_in(browser, lobby1.url)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'li[data-kiosk="lobby-1"][data-incident-id="{own}"]'))

    incident = lobby2.store.raise_incident(Incident(IncidentKind.CARD_UNREADABLE, Severity.MEDIUM, "unreadable"))
    assert incident == own
    row = f'li[data-kiosk="lobby-2"][data-incident-id="{incident}"]'
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row), timeout=LIVE_S)
    assert "Kiosk lobby-2" in browser.find_element(By.CSS_SELECTOR, row).text

    browser.find_element(By.CSS_SELECTOR, f'{row} button[data-action="resolve"]').click()
    _wait(browser, lambda d: d.find_element(By.ID, "dialog").is_displayed())
    browser.find_element(By.ID, "dialog-confirm").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row) == [])
    assert browser.find_element(By.ID, "status").text == actions.MSG_RESOLVED

    [resolved] = [r for r in Staff(lobby2.store).incidents(include_resolved=True) if r["id"] == incident]
    assert (resolved["status"], resolved["resolved_by"]) == ("resolved", f"{NAME} via desk lobby-1")
    assert any(r["actor"] == f"{NAME} via desk lobby-1" and r["action"] == "incident.resolved"
               for r in lobby2.store.audit_trail())
    # lobby-1's incident with the same number is untouched, and still listed.
    assert Staff(lobby1.store).incidents()[0]["status"] == "open"
    assert browser.find_elements(By.CSS_SELECTOR, f'li[data-kiosk="lobby-1"][data-incident-id="{own}"]')


def test_peers_over_tls_are_verified_with_the_peer_ca(tmp_path, tls_certificate):
    cert, key = tls_certificate
    secret = _secret_file(tmp_path / "peer-secret")
    lobby2 = _Kiosk(tmp_path, "lobby-2", secret, tls_cert=str(cert), tls_key=str(key))
    trusting = _Kiosk(tmp_path, "lobby-1", secret, peers=(lobby2.url,), peer_ca_file=str(cert))
    doubting = _Kiosk(tmp_path, "lobby-3", secret, peers=(lobby2.url,))       # the system CAs: not this one
    try:
        assert lobby2.url.startswith("https://")
        incident = lobby2.store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "ticket"))
        for kiosk in (trusting, doubting):
            Staff(kiosk.store).add_member(NAME, PIN)
        session = requests.Session()
        _sign_in(trusting.url, session=session)
        listed = _listed(trusting.url, session)
        assert listed["unreachable"] == [] and [(r["kiosk_id"], r["id"]) for r in listed["incidents"]] == [
            ("lobby-2", incident)]
        session = requests.Session()
        _sign_in(doubting.url, session=session)
        assert _listed(doubting.url, session) == {
            "incidents": [], "unreachable": [f"Kiosk {lobby2.url} does not answer; its incidents are not listed."]}
    finally:
        for kiosk in (trusting, doubting, lobby2):
            kiosk.close()


def test_the_page_links_the_site_s_waiting_list_where_the_kiosk_has_a_site_service(settings, store, printer):
    """Only where the kiosk asks a site service (site.url): its /staff page, in the page's header."""
    plain = _serve(settings, printer)
    app = desk.create_app(desk.staff_factory(settings), secret_key=desk.load_secret(settings.data_path),
                          language="de", waiting_list="https://site.example:8045/staff")
    linked = desk.DeskServer(app, port=0).start()
    try:
        assert 'id="waiting-list"' not in _sign_in(plain.url).text
        page = _sign_in(linked.url).text
        assert '<a href="https://site.example:8045/staff" id="waiting-list">Warteliste</a>' in page
    finally:
        plain.stop()
        linked.stop()
