"""The demo's lobby after its patients: the site's waiting list as a member of staff sees it (signed in at
``/staff``, at a desk's size) and the lobby display (at a TV's size), each photographed by Debian's headless
Chromium where it is installed (kiosk.cli.demo_phone.photograph), after three calls made as staff make them.

The pages are saved as they were served, without their scripts (a photograph needs none, and from a file they
would only find themselves signed out): waiting-list.png and display-<name>.png.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

from kiosk.cli.demo_phone import CSRF, CHROMIUM, photograph

DESK = (1280, 800)
TV = (1920, 1080)
MEMBER, PIN = "Demo", "4711"
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)


def _as_file(text: str, base: str) -> str:
    return _SCRIPT.sub("", text).replace("<head>", f'<head>\n<base href="{html.escape(base)}/">', 1)


def photograph_lobby(service, settings, store, out: Path) -> list[Path]:
    """Put what the kiosk's outbox still holds on the site's list, call three of its patients (at the counters in
    turn), then photograph the list and the first display."""
    import requests

    from kiosk.hospital import outbox
    from kiosk.hospital.site_client import SiteArrivals
    from kiosk.site import waiting
    from kiosk.site.staff import SiteStaff
    transport = SiteArrivals(settings)
    try:
        outbox.Sync(store, transport).run_once()
    finally:
        transport.close()
    chromium = shutil.which(CHROMIUM)
    for old in (*out.glob("waiting-list.png"), *out.glob("display-*.png")):     # an earlier demo's
        old.unlink()
    counters = settings.queues.counters
    SiteStaff(service.site).add(MEMBER, PIN, actor="demo")
    for n in range(3):
        try:
            waiting.call_next(service.site, (), MEMBER, counters[n % len(counters)])
        except waiting.CallError:          # fewer patients than calls
            break
    if not chromium:
        return []
    base = service.api.url.rstrip("/")
    shots = []
    with requests.Session() as browser:
        form = browser.get(f"{base}/staff", timeout=10)
        browser.post(f"{base}/staff/sign-in", timeout=10, data={
            "name": MEMBER, "pin": PIN, "csrf_token": CSRF.search(form.text).group(1)})
        page = browser.get(f"{base}/staff", timeout=10)
        browser.post(f"{base}/staff/settings", timeout=10, data={
            "counter": counters[0], "csrf_token": CSRF.search(page.text).group(1),
            "queue": [q.prefix for q in settings.queues.queues().queues]})
        page = browser.get(f"{base}/staff", timeout=10)
        if photograph(chromium, _as_file(page.text, base), out / "waiting-list.png", DESK):
            shots.append(out / "waiting-list.png")
        for name in settings.queues.display_names()[:1]:
            page = browser.get(f"{base}/display/{name}", timeout=10)
            if photograph(chromium, _as_file(page.text, base), out / f"display-{name}.png", TV):
                shots.append(out / f"display-{name}.png")
    return shots
