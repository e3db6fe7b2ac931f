"""The demo's patient who pre-checks in on their phone: the patient pages of the demo's site service walked
over HTTP as a phone's browser would (the link, the birth date, the details, the intake form, the consent
signed, the arrival code), and each page photographed at a phone's size (360 x 800 CSS px) by Debian's
headless Chromium, where it is installed.

Chromium's command line takes no cookie, and its headless window is never narrower than 500 px: each page
is saved as it was served (its style sheet from the service, the arrival code's picture inline) and shown
in a 360 px frame. The files go when the photograph is taken.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

PHONE = (360, 800)
CHROMIUM = "chromium"
SHOT_TIMEOUT_S = 60
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_QR_SRC = re.compile(r'src="(/checkin/arrival\.png)"')


def photograph(chromium: str, text: str, path: Path, size: tuple[int, int]) -> bool:
    """Photograph the page ``text`` (HTML as served, with a ``<base>`` to its server) at ``size`` (CSS px) into
    ``path`` with Chromium; whether it was. Through a frame of that size: Chromium's headless window is never
    narrower than 500 px."""
    with tempfile.TemporaryDirectory(prefix="kiosk-page-") as scratch:
        page, frame = Path(scratch) / "page.html", Path(scratch) / "frame.html"
        page.write_text(text, encoding="utf-8")
        frame.write_text(f'<!doctype html><body style="margin:0;overflow:hidden"><iframe src="page.html" '
                         f'style="width:{size[0]}px;height:{size[1]}px;border:0;display:block"></iframe></body>',
                         encoding="utf-8")
        subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        f"--user-data-dir={scratch}/profile", f"--window-size={size[0]},{size[1]}",
                        f"--screenshot={path}", frame.as_uri()],
                       capture_output=True, timeout=SHOT_TIMEOUT_S, check=False)
    return path.exists()


class PhoneWalk:
    """One patient's pages, from the link on; ``shots`` the pictures taken (none without Chromium)."""

    def __init__(self, base_url: str, link: str, out: Path):
        import requests
        self.base, self.out = base_url.rstrip("/"), out
        self.session = requests.Session()
        self.chromium = shutil.which(CHROMIUM)
        self.shots: list[Path] = []
        self.page = self.session.get(link, timeout=10)

    def shot(self, name: str, height: int = PHONE[1]) -> None:
        """Photograph the page now shown as ``phone-<n>-<name>.png``, its first ``height`` px (more than a
        screen: as the patient scrolls)."""
        if not self.chromium:
            return
        text = self.page.text.replace("<head>", f'<head>\n<base href="{html.escape(self.base)}/">', 1)
        for src in set(_QR_SRC.findall(text)):          # the session's picture: inline, the file has no cookie
            png = self.session.get(self.base + src, timeout=10).content
            text = text.replace(f'src="{src}"', f'src="data:image/png;base64,{base64.b64encode(png).decode()}"')
        path = self.out / f"phone-{len(self.shots) + 1}-{name}.png"
        if photograph(self.chromium, text, path, (PHONE[0], height)):
            self.shots.append(path)

    def post(self, action: str, **fields) -> None:
        """Send the page's form (with its CSRF token) to ``action``; the page it leads to is shown next."""
        token = CSRF.search(self.page.text)
        data = {"csrf_token": token.group(1) if token else "", **fields}
        self.page = self.session.post(self.base + action, data=data, timeout=10)
        self.page.raise_for_status()

    def get(self, path: str) -> None:
        self.page = self.session.get(self.base + path, timeout=10)
        self.page.raise_for_status()

    def close(self) -> None:
        self.session.close()


def walk(base_url: str, link: str, out: Path, *, birth_date: str, details: dict, form, answer) -> list[Path]:
    """The pages from ``link`` to the arrival code, as the patient fills them; the photographs.

    :param details: the details page's fields (street, postal_code, city, phone) as the patient leaves them
    :param answer: ``answer(question)``: what the patient answers (kiosk.cli.demo._sample_answer)
    """
    from kiosk.checkin import answers
    for old in out.glob("phone-*.png"):            # an earlier demo's, into the same folder
        old.unlink()
    phone = PhoneWalk(base_url, link, out)
    try:
        phone.shot("birth-date")
        year, month, day = birth_date.split("-")
        phone.post("/checkin/birth-date", day=day, month=month, year=year)
        phone.shot("appointment")
        phone.get("/checkin/details")
        phone.shot("details")
        phone.post("/checkin/details", **details)
        given: dict = {}
        while "/checkin/questions/" in phone.page.url:
            q = next(q for q in answers.enabled(form, given) if q.link_id not in given)
            given[q.link_id] = value = answer(q)
            if len(given) == 1:
                phone.shot("question")
            if q.type == "boolean":
                fields = {"answer": "true" if value else "false"}
            elif q.options:
                fields = {"answer": list(value) if isinstance(value, tuple) else value}
            else:
                fields = {"typed": str(value)}
            phone.post(phone.page.url.removeprefix(phone.base), **fields)
        phone.shot("consent")
        strokes = [[[0.1, 0.5], [0.3, 0.7], [0.5, 0.4], [0.8, 0.6]]]
        phone.post("/checkin/consent", decision="accepted", signature=json.dumps(strokes))
        phone.post("/checkin/finish")
        if 'id="arrival-code"' not in phone.page.text:
            raise RuntimeError("the patient pages did not lead to the arrival code")
        phone.shot("arrival-code", height=2 * PHONE[1])           # the code, its picture and the steps
        return phone.shots
    finally:
        phone.close()
