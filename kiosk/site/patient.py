"""The patient listener: the pages a patient opens from their invitation, on their own phone.

The only listener the hospital's reverse proxy publishes to the internet, so it serves these pages and
nothing else. The link ``/p/<token>`` starts a session and leaves the address bar at once (the token is
not kept in the browser's history or sent on); nothing personal shows until the birth date is typed.
``site.birth_date_tries`` wrong birth dates lock the link; tries are limited per address and per link
(``kiosk.site.db.SiteDb.hit``, in the database, so across instances). Every form carries the session's CSRF
token; a strict Content-Security-Policy without inline script; no third-party assets. Texts in
de/en/tr/fr from the kiosk's catalogs, the language from the invitation, changed on the page.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import date, timedelta

from flask import Flask, abort, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import Catalogs, format_appointment
from kiosk.messages import N_
from kiosk.paths import ASSETS
from kiosk.site import invitations
from kiosk.site.db import SiteDb

log = logging.getLogger(__name__)

COOKIE = "kiosk_site"
COOKIE_SECRET = "patient_cookie_key"
MAX_BODY = 16 * 1024

TEXTS = {
    "title": N_("Check in before your appointment"),
    "language": N_("Language"),
    "birth_date_title": N_("Please confirm who you are"),
    "birth_date_intro": N_("Enter your date of birth to see your appointment."),
    "birth_date": N_("Date of birth"),
    "day": N_("Day"),
    "month": N_("Month"),
    "year": N_("Year"),
    "continue": N_("Continue"),
    "appointment_title": N_("Your appointment"),
    "when": N_("When"),
    "where": N_("Where"),
    "at_the_kiosk": N_("When you arrive, check in at the kiosk in the lobby."),
}
MSG_NO_LINK = N_("This link does not work (any more). Links work until the end of the appointment's day. "
                 "Please check in at the kiosk when you arrive.")
MSG_SESSION = N_("Your session has ended. Please open the link from your invitation again.")
MSG_LOCKED = N_("This link is locked after too many wrong dates of birth. Please call the clinic, or check in "
                "at the kiosk when you arrive.")
MSG_WRONG = N_("This date of birth does not match your invitation. Tries left: {n}.")
MSG_FORMAT = N_("Please enter your date of birth as day, month and year, e.g. 14 7 1980.")
MSG_TOO_MANY = N_("Too many tries. Please wait {minutes} minutes and try again.")
MSG_EXPIRED = N_("This page has expired. Please try again.")


class PatientPages:
    """What the routes work with."""

    def __init__(self, site: SiteDb, catalogs: Catalogs, settings):
        self.site, self.catalogs, self.settings = site, catalogs, settings


def create_app(site: SiteDb, settings, *, catalogs: Catalogs | None = None) -> Flask:
    """The patient pages as a Flask app over ``site``, as ``settings.site`` configures them."""
    s = settings.site
    secure = s.public_url.startswith("https://")
    pages = PatientPages(site, catalogs or Catalogs(SUPPORTED_LANGUAGES), settings)
    app = Flask(__name__, template_folder=str(ASSETS / "site" / "templates"),
                static_folder=str(ASSETS / "site" / "static"), static_url_path="/static")
    # "__Host-": the browser takes the cookie only over HTTPS, for this host and path / (no subdomain sets it).
    app.config.update(SECRET_KEY=site.secret(COOKIE_SECRET),
                      SESSION_COOKIE_NAME=f"__Host-{COOKIE}" if secure else COOKIE,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=secure,
                      # Lax: the link is opened from an e-mail or a text message, another site.
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(minutes=s.session_min),
                      MAX_CONTENT_LENGTH=MAX_BODY)
    app.extensions["kiosk_patient"] = pages

    @app.before_request
    def check_csrf():
        if request.method == "POST" and request.url_rule is not None:    # a POST to no page: 404/405
            sent = request.form.get("csrf_token", "")
            expected = session.get("csrf", "")
            if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
                abort(403, _(MSG_EXPIRED))

    @app.after_request
    def harden(response):
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.errorhandler(HTTPException)
    def refused(e):
        if e.code == 413:
            return message(_(MSG_FORMAT), 413)
        return message(e.description if e.code == 403 else _(MSG_NO_LINK), e.code)

    @app.get("/p/<token>")
    def open_link(token: str):
        limited = over_limit(f"address:{request.remote_addr}", s.address_limit)
        if limited:
            return limited
        found = invitations.find(site, token=token[:200])
        if found is None:
            return message(_(MSG_NO_LINK), 404)
        session.clear()
        session.permanent = True
        session.update(inv=found.id, th=found.token_hash, lang=found.language, csrf=secrets.token_urlsafe(32),
                       at=int(time.time()))
        if found.failed_tries >= s.birth_date_tries:
            return message(_(MSG_LOCKED), 403)
        return redirect(url_for("checkin"), 303)

    @app.get("/checkin")
    def checkin():
        found = current()
        if found is None:
            return message(_(MSG_SESSION), 401)
        if found.failed_tries >= s.birth_date_tries:
            return message(_(MSG_LOCKED), 403)
        if not session.get("ok"):
            return page("birth_date.html", values={})
        return page("appointment.html", when=format_appointment(found.start, language()), where=found.location)

    @app.post("/checkin/birth-date")
    def birth_date():
        found = current()
        if found is None:
            return message(_(MSG_SESSION), 401)
        if found.failed_tries >= s.birth_date_tries:
            return message(_(MSG_LOCKED), 403)
        limited = (over_limit(f"address:{request.remote_addr}", s.address_limit)
                   or over_limit(f"link:{found.id}", s.link_limit))
        if limited:
            return limited
        values = {k: request.form.get(k, "").strip()[:4] for k in ("day", "month", "year")}
        typed = typed_date(**values)
        if typed is None:
            return page("birth_date.html", 400, error=_(MSG_FORMAT), values=values)
        if typed != found.birth_date:
            tries = invitations.wrong_birth_date(site, found.id)
            log.info("a wrong date of birth on invitation %s (%d of %d)", found.id, tries, s.birth_date_tries)
            if tries >= s.birth_date_tries:
                log.warning("invitation %s locked after %d wrong dates of birth", found.id, tries)
                return message(_(MSG_LOCKED), 403)
            return page("birth_date.html", 400, error=_(MSG_WRONG).format(n=s.birth_date_tries - tries), values={})
        session["ok"] = True
        return redirect(url_for("checkin"), 303)

    def current() -> invitations.Invitation | None:
        """The session's invitation while its link works and the session has not idled out; a page load
        keeps it alive."""
        now = int(time.time())
        if not session.get("inv") or now - session.get("at", 0) > s.session_min * 60:
            session.clear()
            return None
        found = invitations.find(site, invitation_id=session["inv"])
        if found is None or not hmac.compare_digest(found.token_hash, session.get("th", "")):
            session.clear()              # expired, wiped, or a new link replaced the one this session opened
            return None
        session["at"] = now
        wanted = request.args.get("lang", "")
        if wanted in SUPPORTED_LANGUAGES:
            session["lang"] = wanted
        return found

    def language() -> str:
        lang = session.get("lang")
        if lang in SUPPORTED_LANGUAGES:
            return lang
        return request.accept_languages.best_match(SUPPORTED_LANGUAGES) or SUPPORTED_LANGUAGES[0]

    def _(text: str) -> str:
        return pages.catalogs.gettext(language(), text)

    def page(template: str, status: int = 200, **values):
        texts = {key: _(text) for key, text in TEXTS.items()}
        return render_template(template, lang=language(), t=texts, csrf=session.get("csrf", ""),
                               languages=LANGUAGE_NAMES, **values), status

    def message(text: str, status: int):
        return page("message.html", status, text=text)

    def over_limit(key: str, limit: int):
        hits, wait_s = site.hit(key, s.limit_window_s)
        if hits <= limit:
            return None
        log.warning("rate limit reached for %s", key.split(":")[0])
        answer = message(_(MSG_TOO_MANY).format(minutes=max(1, round(wait_s / 60))), 429)
        return answer[0], 429, {"Retry-After": str(wait_s)}

    return app


# Each language named in itself, as a language menu shows them.
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English", "tr": "Türkçe", "fr": "Français"}


def typed_date(day: str, month: str, year: str) -> str | None:
    """The date typed as day, month and year (digits), as YYYY-MM-DD; None when it is no date."""
    if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
        return None
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None
