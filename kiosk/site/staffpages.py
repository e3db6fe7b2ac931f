"""The waiting list's page for staff (``/staff`` on the site listener): sign in with the site's name and PIN
(kiosk.site.staff), choose the counter and the queues, then "Call next", or "Call" any waiting patient, and
"Call again", "Not here", "Done" on a called one; every step audited with the name (kiosk.site.waiting).

The page works without script (each button is a form); with it, the list follows every change at once
(Server-Sent Events, ``/staff/events``), keeps the keyboard's focus on the button it was on, names each button
with its ticket, and says new patients politely. Each member's pages are in the language they chose.

Security (OWASP ASVS level 2 as the yardstick): sessions in the database (every instance knows them), a
random token in an HttpOnly, SameSite=Strict cookie (Secure over TLS) of which only the SHA-256 is kept,
``desk.session_h`` long; a CSRF token on every form (the sign-in's as a double-submitted cookie); the
sign-in's lock (five wrong PINs) and a limit per address; the lobby's Content-Security-Policy (no inline
script); nothing of a patient but numbers, queues and times on the page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, url_for

from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import LANGUAGE_NAMES
from kiosk.messages import N_
from kiosk.signin import NAME_MAX, Locked, StaffError
from kiosk.site import waiting
from kiosk.site.schema import sessions
from kiosk.site.staff import SiteStaff

COOKIE, FORM_COOKIE = "kiosk_staff", "kiosk_staff_form"
MSG_EXPIRED = N_("This page has expired. Please try again.")
MSG_ENDED = N_("Your sign-in has ended. Please sign in again.")
MSG_TOO_MANY = N_("Too many sign-ins from this address. Please wait a few minutes.")
MSG_CHOOSE_COUNTER = N_("Choose your counter first.")
MSG_SAVED = N_("Saved.")
MSG_CALLED = N_("{number} is called to {counter}.")
MSG_DONE = N_("{number} is done.")
MSG_BACK = N_("{number} is back in the list.")
MSG_NO_SHOW = N_("{number} did not come and is taken off the list.")

staff_pages = Blueprint("staff", __name__)


class Lobby:
    """What the staff pages need, kept on the app (``current_app.extensions["kiosk_lobby"]``)."""

    def __init__(self, site, settings, catalogs, hub):
        self.site, self.settings, self.catalogs, self.hub = site, settings, catalogs, hub
        self.staff = SiteStaff(site)
        self.session_s = settings.desk.session_h * 3600


def here() -> Lobby:
    return current_app.extensions["kiosk_lobby"]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def signed_in() -> dict | None:
    """The session of this request, while it lasts and its member is still one."""
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    lobby = here()
    with lobby.site.engine.connect() as conn:
        row = conn.execute(sa.select(sessions).where(sessions.c.token_hash == _hash(token[:100]),
                                                     sessions.c.expires_at > int(time.time()))).mappings().first()
    if row is None:
        return None
    member = lobby.staff.member(row["name"])
    return {**row, "language": member["language"]} if member else None


def _language(member: dict | None) -> str:
    settings = here().settings
    return (member or {}).get("language") or settings.kiosk.languages[0]


def _texts(language: str) -> dict:
    _ = here().catalogs.translator(language)
    return {key: _(text) for key, text in {
        "title": N_("Waiting list"), "sign_in": N_("Sign in"), "name": N_("Name"), "pin": N_("PIN"),
        "sign_out": N_("Sign out"), "counter": N_("Your counter"), "queues": N_("Queues you call"),
        "language": N_("Language of this page"), "save": N_("Save"), "next": N_("Call next"),
        "number": N_("Number"), "queue": N_("Queue"), "waiting": N_("Waiting"), "appointment": N_("Appointment"),
        "prechecked": N_("Pre-checked in"), "status": N_("Status"), "actions": N_("Actions"),
        "call": N_("Call"), "again": N_("Call again"), "not_here": N_("Not here"), "done": N_("Done"),
        "called_to": N_("Called to {counter}"), "minutes": N_("{minutes} min"), "yes": N_("yes"), "no": N_("no"),
        "nobody": N_("Nobody is waiting."), "offline": N_("Reconnecting to the waiting list…"),
        "joined": N_("{number} joined the list."), "signed_in_as": N_("Signed in as {name}"),
        "none_chosen": N_("(choose)")}.items()}


def _page(member: dict, message: str = "", status: int = 200) -> Response:
    lobby = here()
    language = _language(member)
    chosen = tuple(member["queues"].split())
    response = make_response(render_template(
        "staff.html", lang=language, t=_texts(language), member=member, message=message, csrf=member["csrf"],
        counters=lobby.settings.queues.counters, queues=lobby.settings.queues.queues().queues, chosen=chosen,
        languages=[(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES],
        rows=_rows(chosen), events=url_for("staff.events")), status)
    return response


def _rows(chosen: tuple[str, ...]) -> list[dict]:
    lobby = here()
    now = time.time()
    return [{**row, "minutes": int(row["waited_s"] // 60),
             "appointment": time.strftime("%H:%M", time.localtime(row["appointment_at"])) if row["appointment_at"] else "",
             "queue_name": lobby.settings.queues.queues().name(row["queue"])}
            for row in waiting.waiting_list(lobby.site, chosen, now)]


def _sign_in_page(message: str = "", status: int = 200, name: str = "") -> Response:
    language = here().settings.kiosk.languages[0]
    token = secrets.token_urlsafe(32)
    response = make_response(render_template("staff_sign_in.html", lang=language, t=_texts(language), csrf=token,
                                             message=message, name=name), status)
    _cookie(response, FORM_COOKIE, token, 3600)
    return response


def _cookie(response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/staff", httponly=True, samesite="Strict",
                        secure=request.is_secure)


def _said(member: dict | None, text: str, **values) -> str:
    return here().catalogs.translator(_language(member))(text).format(**values)


def _csrf_ok(expected: str) -> bool:
    sent = request.form.get("csrf_token", "") or request.headers.get("X-CSRF-Token", "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


@staff_pages.after_request
def no_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@staff_pages.get("/staff")
def page():
    member = signed_in()
    return _page(member) if member else _sign_in_page()


@staff_pages.post("/staff/sign-in")
def sign_in():
    lobby = here()
    if not _csrf_ok(request.cookies.get(FORM_COOKIE, "")):
        return _sign_in_page(_said(None, MSG_EXPIRED), 403)
    s = lobby.settings.site
    hits, _wait = lobby.site.hit(f"staff:{request.remote_addr}", s.limit_window_s)
    if hits > s.address_limit:
        return _sign_in_page(_said(None, MSG_TOO_MANY), 429)
    name, pin = request.form.get("name", "")[:NAME_MAX + 10], request.form.get("pin", "")[:64]
    try:
        member = lobby.staff.sign_in(name, pin, where=f"waiting list {request.remote_addr}")
    except (Locked, StaffError) as e:
        return _sign_in_page(_said(None, str(e)), 403, name=name.strip()[:NAME_MAX])
    token = secrets.token_urlsafe(32)
    with lobby.site.engine.begin() as conn:
        conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= int(time.time())))
        conn.execute(sa.insert(sessions).values(token_hash=_hash(token), name=member, csrf=secrets.token_urlsafe(32),
                                                expires_at=int(time.time() + lobby.session_s)))
    response = redirect(url_for("staff.page"), 303)
    _cookie(response, COOKIE, token, int(lobby.session_s))
    response.delete_cookie(FORM_COOKIE, path="/staff")
    return response


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _member_or_refuse():
    """The signed-in member of a POST with the session's CSRF token, or the answer that refuses it (JSON for
    the page's script, which then reloads the page)."""
    member = signed_in()
    if member is None:
        said = _said(None, MSG_ENDED)
        return None, (Response(_json_message(said), 401, mimetype="application/json") if _wants_json()
                      else _sign_in_page(said, 401))
    if not _csrf_ok(member["csrf"]):
        return None, _answer(member, _said(member, MSG_EXPIRED), 403)
    return member, None


def _answer(member: dict, message: str, status: int = 200) -> Response:
    """JSON for the page's script, the whole page for a browser without it."""
    if _wants_json():
        return Response(_json_message(message), status, mimetype="application/json")
    return _page(signed_in() or member, message, status)


def _json_message(text: str) -> str:
    return json.dumps({"message": text})


@staff_pages.post("/staff/sign-out")
def sign_out():
    member, refused = _member_or_refuse()
    if refused:
        return refused
    lobby = here()
    with lobby.site.engine.begin() as conn:
        conn.execute(sa.delete(sessions).where(sessions.c.token_hash == member["token_hash"]))
    lobby.staff.signed_out(member["name"], where=f"waiting list {request.remote_addr}")
    response = redirect(url_for("staff.page"), 303)
    response.delete_cookie(COOKIE, path="/staff")
    return response


@staff_pages.post("/staff/settings")
def settings():
    member, refused = _member_or_refuse()
    if refused:
        return refused
    lobby = here()
    counter = request.form.get("counter", "")
    prefixes = {q.prefix for q in lobby.settings.queues.queues().queues}
    chosen = " ".join(q for q in request.form.getlist("queue") if q in prefixes)
    language = request.form.get("language", "")
    values = {"queues": chosen}
    if counter in lobby.settings.queues.counters:
        values["counter"] = counter
    with lobby.site.engine.begin() as conn:
        conn.execute(sa.update(sessions).where(sessions.c.token_hash == member["token_hash"]).values(**values))
    if language in SUPPORTED_LANGUAGES:
        lobby.staff.set_language(member["name"], language)
    return _answer(signed_in() or member, _said(signed_in() or member, MSG_SAVED))


@staff_pages.post("/staff/next")
def call_next():
    member, refused = _member_or_refuse()
    if refused:
        return refused
    return _act(member, lambda lobby: waiting.call_next(lobby.site, tuple(member["queues"].split()), member["name"],
                                                          member["counter"]))


@staff_pages.post("/staff/tickets/<int:ticket_id>/<action>")
def act(ticket_id: int, action: str):
    member, refused = _member_or_refuse()
    if refused:
        return refused
    lobby = here()
    name, counter = member["name"], member["counter"]
    steps = {
        "call": lambda lobby: waiting.call(lobby.site, ticket_id, name, counter),
        "again": lambda lobby: waiting.call_again(lobby.site, ticket_id, name, counter),
        "not-here": lambda lobby: waiting.not_here(lobby.site, ticket_id, name, lobby.settings.queues.no_show_after),
        "done": lambda lobby: waiting.done(lobby.site, ticket_id, name)}
    if action not in steps:
        return _answer(member, _said(member, waiting.MSG_NO_TICKET), 404)
    number = next((r["number"] for r in waiting.waiting_list(lobby.site) if r["id"] == ticket_id), "")
    return _act(member, steps[action], number)


def _act(member: dict, step, number: str = "") -> Response:
    lobby = here()
    if not member["counter"]:
        return _answer(member, _said(member, MSG_CHOOSE_COUNTER), 409)
    try:
        done = step(lobby)
    except waiting.CallError as e:
        return _answer(member, e.render(lobby.catalogs.translator(_language(member))), 409)
    if isinstance(done, waiting.Called):
        return _answer(member, _said(member, MSG_CALLED, number=done.number, counter=done.counter))
    if done == "no_show":
        return _answer(member, _said(member, MSG_NO_SHOW, number=number))
    if done == "waiting":
        return _answer(member, _said(member, MSG_BACK, number=number))
    return _answer(member, _said(member, MSG_DONE, number=number))


@staff_pages.get("/staff/rows")
def rows():
    member = signed_in()
    if member is None:
        return Response("", 401)
    return render_template("staff_rows.html", rows=_rows(tuple(member["queues"].split())),
                           t=_texts(_language(member)), csrf=member["csrf"])


@staff_pages.get("/staff/events")
def events():
    member = signed_in()
    if member is None:
        return Response("", 401)
    lobby = here()
    chosen = tuple(member["queues"].split())

    def snapshot() -> str:
        listed = [(r["id"], r["status"], r["counter"]) for r in waiting.waiting_list(lobby.site, chosen)]
        # The minutes waited too, so that the times shown move on in a quiet spell.
        return json.dumps(hashlib.sha256(repr((listed, int(time.time() // 60))).encode()).hexdigest()[:16])
    if not lobby.hub.admit():
        return Response("", 503, headers={"Retry-After": "10"})
    return Response(lobby.hub.stream(snapshot, "list"), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
