"""What the patient's pages share: the app's context (``here``), the session's invitation (``current``),
the language and its texts, rendering a page, rate limits, and the sentences the pages say."""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from functools import wraps

from flask import current_app, render_template, request, session

from kiosk.checkin.forms import Form
from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import LANGUAGE_NAMES, Catalogs
from kiosk.messages import N_
from kiosk.site import invitations
from kiosk.site.db import SiteDb

log = logging.getLogger(__name__)

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
    "back": N_("Back"),
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
MSG_TOO_LARGE = N_("That was more than this page takes. Please try again.")
MSG_ARRIVED = N_("You have checked in at the kiosk. There is nothing more to do here.")


@dataclass(frozen=True)
class PatientPages:
    """What the pages work with: the database, the catalogs, the settings, the site's intake form."""

    site: SiteDb
    catalogs: Catalogs
    settings: object
    form: Form


def here() -> PatientPages:
    return current_app.extensions["kiosk_patient"]


def language() -> str:
    lang = session.get("lang")
    if lang in SUPPORTED_LANGUAGES:
        return lang
    return request.accept_languages.best_match(SUPPORTED_LANGUAGES) or SUPPORTED_LANGUAGES[0]


def _(text: str) -> str:
    return here().catalogs.gettext(language(), text)


def page(template: str, status: int = 200, **values):
    texts = {key: _(text) for key, text in TEXTS.items()}
    return render_template(template, lang=language(), t=texts, csrf=session.get("csrf", ""),
                           languages=LANGUAGE_NAMES, **values), status


def message(text: str, status: int):
    return page("message.html", status, text=text)


def current() -> invitations.Invitation | None:
    """The session's invitation while its link works and the session has not idled out; a page load keeps
    it alive. ``?lang=`` changes the session's language."""
    s = here().settings.site
    now = int(time.time())
    if not session.get("inv") or now - session.get("at", 0) > s.session_min * 60:
        session.clear()
        return None
    found = invitations.find(here().site, invitation_id=session["inv"])
    if found is None or not hmac.compare_digest(found.token_hash, session.get("th", "")):
        session.clear()              # expired, wiped, or a new link replaced the one this session opened
        return None
    session["at"] = now
    wanted = request.args.get("lang", "")
    if wanted in SUPPORTED_LANGUAGES:
        session["lang"] = wanted
    return found


def signed_in_only(view):
    """The view gets the session's invitation once the patient typed their birth date; before, the
    birth-date page; without a live session or on a locked link, the sentence that says so."""
    @wraps(view)
    def guarded(*args, **kwargs):
        found = current()
        if found is None:
            return message(_(MSG_SESSION), 401)
        if found.failed_tries >= here().settings.site.birth_date_tries:
            return message(_(MSG_LOCKED), 403)
        if not session.get("ok"):
            return page("birth_date.html", values={})
        if found.arrived_at:                     # what they gave went with the admission: no more changes
            return message(_(MSG_ARRIVED), 200)
        return view(found, *args, **kwargs)
    return guarded


def over_limit(key: str, limit: int):
    """Count a request against ``key``; the 429 page once the window holds more than ``limit``."""
    hits, wait_s = here().site.hit(key, here().settings.site.limit_window_s)
    if hits <= limit:
        return None
    log.warning("rate limit reached for %s", key.split(":")[0])
    answer = message(_(MSG_TOO_MANY).format(minutes=max(1, round(wait_s / 60))), 429)
    return answer[0], 429, {"Retry-After": str(wait_s)}
