"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) through Selenium, at a phone's or a
desktop's width, and axe-core (the accessibility checker, ``tests/browser/``, which ``make install`` installs
from the npm registry) run in the page it shows.

The browser only ever talks to 127.0.0.1; Selenium is pointed at /usr/bin/chromedriver, so Selenium Manager
never downloads a driver, and axe-core is read from disk, so the tests reach no network.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"

PHONE = (360, 740)        # CSS pixels: the narrowest phones in use
DESKTOP = (1280, 900)
WCAG21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
# Rules beside the WCAG tags that every page is held to: a dialog has a name (axe files it under best practice).
DIALOG_NAMES = ("aria-dialog-name",)


class Unavailable(RuntimeError):
    """Chromium, chromedriver or axe-core is not installed; the sentence says what installs it."""


@contextmanager
def chromium(user_data_dir: Path):
    """A headless Chromium at desktop size (its profile in ``user_data_dir``), quit at the end."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        raise Unavailable("the browser tests need Debian's chromium and chromium-driver (`make install`: "
                          "deploy/system-packages.sh)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    class Chromedriver(Service):
        """chromedriver asked at 127.0.0.1, not "localhost": a minimal Debian may have no /etc/hosts."""

        @property
        def service_url(self) -> str:
            return f"http://127.0.0.1:{self.port}"

        def is_connectable(self) -> bool:
            from selenium.webdriver.common.utils import is_url_connectable
            return is_url_connectable(self.port, host="127.0.0.1")

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-default-apps", "--disable-extensions", "--ignore-certificate-errors",
                     "--remote-debugging-pipe",    # chromedriver talks to chromium over a pipe, not "localhost"
                     "--autoplay-policy=no-user-gesture-required",   # as the TV box's unit starts it (displays)
                     f"--user-data-dir={user_data_dir}", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(argument)
    # No speculative connections ("network prediction"): a spare connection Chromium opens and never sends a
    # request on holds one of the server's threads, and a test's server then takes seconds to stop.
    options.add_experimental_option("prefs", {"net.network_prediction_options": 2})
    driver = webdriver.Chrome(service=Chromedriver(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def set_viewport(driver, size: tuple[int, int]) -> None:
    """The page's layout viewport ``size`` CSS pixels wide and high, as on that device: narrower than a
    desktop as a phone (the page's ``<meta name="viewport">`` applies, touch input), else as a desktop
    window. Through the DevTools protocol: ``set_window_size`` sizes the window around the page, which
    headless Chromium keeps at least 500 px wide and whose page is less high than asked."""
    width, height = size
    phone = width < DESKTOP[0] * 3 // 4
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": phone})


def axe_violations(driver, tags: tuple[str, ...] = WCAG21_AA, rules: tuple[str, ...] = DIALOG_NAMES) -> list[dict]:
    """What axe-core finds on the page the browser shows against the rules of ``tags`` and the ``rules`` named:
    for each rule broken, its ``id``, ``impact``, ``help`` and the CSS ``targets`` of the elements that break it.

    axe-core goes in as Selenium runs any script, through the DevTools protocol (``Runtime.callFunctionOn``),
    which the page's Content-Security-Policy does not govern: a page without ``script-src`` is checked as it
    is served, no policy bypassed (tests/site/test_patient_browser.py shows the policy still blocks the page's
    own inline script)."""
    if not AXE.is_file():
        raise Unavailable(f"no {AXE}: `make install` installs axe-core (npm ci --prefix tests/browser)")
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = []
    for kind, values in (("tag", tags), ("rule", rules)):
        if not values:
            continue
        seen = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: arguments[0], values: arguments[1]}, resultTypes: ['violations']})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " targets: v.nodes.map(n => n.target.join(' '))}))), e => done({error: String(e)}));",
            kind, list(values))
        if isinstance(seen, dict):
            raise RuntimeError(f"axe-core failed in the page: {seen['error']}")
        found += [v for v in seen if v not in found]
    return found


def described(violations: list[dict]) -> str:
    """The violations one to a line, for an assertion's message: what to fix and where."""
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'])}" for v in violations)
