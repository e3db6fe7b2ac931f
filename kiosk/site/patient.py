"""The patient listener: the pages a patient opens from their invitation, on their own phone.

The only listener the hospital's reverse proxy publishes to the internet, so it serves these pages and
nothing else. The link ``/p/<token>`` starts a session and leaves the address bar at once (the token is
not kept in the browser's history or sent on); nothing personal shows until the birth date is typed.
``site.birth_date_tries`` wrong birth dates lock the link; tries are limited per address and per link
(``kiosk.site.db.SiteDb.hit``, in the database, so across instances). Every form carries the session's CSRF
token; a strict Content-Security-Policy (the service's own script and style only, nothing inline); no
third-party assets. Texts in de/en/tr/fr from the kiosk's catalogs, the language from the invitation,
changed on the page.

This module makes the app and holds the way in (the link, the birth date); ``kiosk.site.steps`` the
patient's steps after it; ``kiosk.site.pages`` what both use.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import date, timedelta

from flask import Blueprint, Flask, abort, redirect, request, session, url_for
from werkzeug.exceptions import HTTPException

from kiosk.checkin import forms
from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import Catalogs
from kiosk.paths import ASSETS
from kiosk.serving import harden
from kiosk.site import invitations, pages
from kiosk.site.db import SiteDb
from kiosk.site.pages import _, current, message, over_limit, page

log = logging.getLogger(__name__)

COOKIE = "kiosk_site"
COOKIE_SECRET = "patient_cookie_key"
MAX_BODY = 256 * 1024          # a signature's strokes

way_in = Blueprint("way_in", __name__)


def create_app(site: SiteDb, settings, *, catalogs: Catalogs | None = None, form: forms.Form | None = None) -> Flask:
    """The patient pages as a Flask app over ``site``, as ``settings.site`` configures them (``form``: the
    site's intake form, loaded from ``settings.forms.intake`` when not given)."""
    from kiosk.site import steps
    s = settings.site
    secure = s.public_url.startswith("https://")
    app = Flask(__name__, template_folder=str(ASSETS / "site" / "templates"),
                static_folder=str(ASSETS / "site" / "static"), static_url_path="/static")
    # "__Host-": the browser takes the cookie only over HTTPS, for this host and path / (no subdomain sets it).
    app.config.update(SECRET_KEY=site.secret(COOKIE_SECRET),
                      SESSION_COOKIE_NAME=f"__Host-{COOKIE}" if secure else COOKIE,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=secure,
                      # Lax: the link is opened from an e-mail or a text message, another site.
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(minutes=s.session_min),
                      MAX_CONTENT_LENGTH=MAX_BODY)
    app.extensions["kiosk_patient"] = pages.PatientPages(site, catalogs or Catalogs(SUPPORTED_LANGUAGES), settings,
                                                         form if form is not None else forms.load(settings.forms.intake))
    app.before_request(check_csrf)
    app.after_request(headers)
    app.register_error_handler(HTTPException, refused)
    app.register_blueprint(way_in)
    app.register_blueprint(steps.steps)
    return app


def check_csrf():
    if request.method == "POST" and request.url_rule is not None:    # a POST to no page: 404/405
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(403, _(pages.MSG_EXPIRED))


def headers(response):
    harden(response, https=request.is_secure)           # behind the proxy: as the patient's browser connects
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    return response


def refused(e: HTTPException):
    if e.code == 413:
        return message(_(pages.MSG_TOO_LARGE), 413)
    return message(e.description if e.code == 403 else _(pages.MSG_NO_LINK), e.code)


@way_in.get("/p/<token>")
def open_link(token: str):
    s = pages.here().settings.site
    limited = over_limit(f"address:{request.remote_addr}", s.address_limit)
    if limited:
        return limited
    found = invitations.find(pages.here().site, token=token[:200])
    if found is None:
        return message(_(pages.MSG_NO_LINK), 404)
    session.clear()
    session.permanent = True
    session.update(inv=found.id, th=found.token_hash, lang=found.language, csrf=secrets.token_urlsafe(32),
                   at=int(time.time()))
    if found.failed_tries >= s.birth_date_tries:
        return message(_(pages.MSG_LOCKED), 403)
    return redirect(url_for("steps.overview"), 303)


@way_in.post("/checkin/birth-date")
def birth_date():
    here = pages.here()
    s = here.settings.site
    found = current()
    if found is None:
        return message(_(pages.MSG_SESSION), 401)
    if found.failed_tries >= s.birth_date_tries:
        return message(_(pages.MSG_LOCKED), 403)
    limited = (over_limit(f"address:{request.remote_addr}", s.address_limit)
               or over_limit(f"link:{found.id}", s.link_limit))
    if limited:
        return limited
    values = {k: request.form.get(k, "").strip()[:4] for k in ("day", "month", "year")}
    typed = typed_date(**values)
    if typed is None:
        return page("birth_date.html", 400, error=_(pages.MSG_FORMAT), values=values)
    if typed != found.birth_date:
        tries = invitations.wrong_birth_date(here.site, found.id)
        log.info("a wrong date of birth on invitation %s (%d of %d)", found.id, tries, s.birth_date_tries)
        if tries >= s.birth_date_tries:
            log.warning("invitation %s locked after %d wrong dates of birth", found.id, tries)
            return message(_(pages.MSG_LOCKED), 403)
        return page("birth_date.html", 400, error=_(pages.MSG_WRONG).format(n=s.birth_date_tries - tries), values={})
    session["ok"] = True
    return redirect(url_for("steps.overview"), 303)


def typed_date(day: str, month: str, year: str) -> str | None:
    """The date typed as day, month and year (digits), as YYYY-MM-DD; None when it is no date."""
    if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
        return None
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None

