"""The desk page's routes, a Flask Blueprint: sign-in and sign-out, the page, its JSON API (the open
incidents of this kiosk and of its peers, live, with the staff actions) and the peer API other kiosks'
pages call. What each action does is ``kiosk.desk.actions``; who may call which route, ``kiosk.desk.auth``;
the app around them (cookie, headers, errors), ``kiosk.desk.web``.

The page shows what staff need and no personal data: what the incident's kind and detail (codes, no personal
data by design) say, in the page's language (``kiosk.desk.incidents.texts``), severity, kiosk, time and queue
number; urgent first.
"""

from __future__ import annotations

import logging
import threading
from functools import wraps
from typing import Callable

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, session, url_for

from kiosk.checkin.model import Severity
from kiosk.desk.actions import ACTIONS, act_here, buttons, listing_here, say
from kiosk.desk.auth import MSG_SESSION_ENDED, SignIns, csrf_token, signed_in
from kiosk.desk.incidents import SEVERITY_TEXTS, urgent_first
from kiosk.desk.incidents import texts as incident_texts
from kiosk.desk.peers import MSG_PEER_DOWN, PeerDown, Peers
from kiosk.desk.staff import RESOLUTIONS, Staff
from kiosk.signin import NAME_MAX, StaffError
from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import LANGUAGE_NAMES, Catalogs, format_moment
from kiosk.messages import N_
from kiosk import times

log = logging.getLogger(__name__)

POLL_MS = 1000                  # how often the page asks for the incidents

RESOLUTION_TEXTS = {"done": N_("Dealt with"), "reprinted": N_("Printed again"), "resent": N_("Sent again"),
                    "cancelled": N_("Admission cancelled"), "not_needed": N_("Nothing to do")}

# The page's own words (the template and desk.js get them translated).
TEXTS = {
    "title": N_("Front desk: open incidents"),
    "sign_in_title": N_("Front desk sign-in"),
    "name": N_("Your name"),
    "pin": N_("PIN"),
    "sign_in": N_("Sign in"),
    "sign_out": N_("Sign out"),
    "signed_in_as": N_("Signed in as {name}"),
    "none": N_("There are no open incidents."),
    "offline": N_("The kiosk does not answer. Trying again..."),
    "queue": N_("Queue number {number}"),
    "kiosk": N_("Kiosk {kiosk}"),
    "waiting": N_("Waiting for staff"),
    "taken_by": N_("Taken by {name}"),
    "take": N_("Take"),
    "resolve": N_("Resolve"),
    "reprint_ticket": N_("Reprint ticket"),
    "reprint_wristband": N_("Reprint wristband"),
    "resend": N_("Send again"),
    "cancel": N_("Cancel admission"),
    "how": N_("How was it resolved?"),
    "note": N_("Note for colleagues (no patient details)"),
    "cancel_question": N_("Cancel this admission? The patient will have to check in again."),
    "confirm": N_("Confirm"),
    "back": N_("Back"),
    "waiting_list": N_("Waiting list"),
    "language": N_("Language of this page"),
    "save": N_("Save"),
    "new_incident": N_("New incident, {kiosk}: {what}"),
    "for_incident": N_("{action}: {what} ({kiosk})"),
}
MSG_FILL_IN = N_("Please enter your name and your PIN.")
MSG_SIGNED_OUT = N_("You have signed out.")

pages = Blueprint("desk", __name__)


class Desk:
    """What the routes work with, as ``kiosk.desk.web.create_app`` was given it (see there), with the
    sign-ins and a ``Staff`` for each server thread (SQLite connections stay in the thread that opened them)."""

    def __init__(self, make_staff: Callable[[], Staff], *, language: str, catalogs: Catalogs, sign_ins: SignIns,
                 reprint_kinds: tuple[str, ...], kiosk_id: str, peers: Peers | None, waiting_list: str = ""):
        self.make_staff = make_staff
        self.language = language
        self.catalogs = catalogs
        self.sign_ins = sign_ins
        self.reprint_kinds = reprint_kinds
        self.kiosk_id = kiosk_id
        self.peers = peers
        self.waiting_list = waiting_list         # the site's waiting list (its /staff page), "" = none
        self._local = threading.local()

    def language_now(self) -> str:
        """The language of this request: the signed-in member's choice, else the kiosk's first."""
        return g.get("language") or self.language

    def _(self, message: str) -> str:
        return self.catalogs.gettext(self.language_now(), message)

    def staff(self) -> Staff:
        if getattr(self._local, "staff", None) is None:
            self._local.staff = self.make_staff()
        return self._local.staff

    def own_id(self) -> str:
        return self.kiosk_id or self.staff().store.kiosk_id


def current() -> Desk:
    """The ``Desk`` of the app serving this request."""
    return current_app.extensions["kiosk_desk"]


def page(template: str, status: int = 200, **values):
    d = current()
    texts = {key: d._(text) for key, text in TEXTS.items()}
    return render_template(template, lang=d.language_now(), t=texts, csrf=csrf_token(), waiting_list=d.waiting_list,
                           languages=[(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES], **values), status


def signed_in_only(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        d = current()
        member = signed_in(d.sign_ins, d.staff())
        if member is None:
            if request.path.startswith("/api/"):
                return jsonify(error=d._(MSG_SESSION_ENDED)), 401
            return redirect(url_for(".login"))
        g.language = member["language"] if member["language"] in SUPPORTED_LANGUAGES else ""
        return view(member["name"], *args, **kwargs)
    return guarded


@pages.get("/login")
def login():
    d = current()
    if signed_in(d.sign_ins, d.staff()):
        return redirect(url_for(".desk"))
    return page("login.html", message="", name="")


@pages.post("/login")
def sign_in():
    d = current()
    name, pin = request.form.get("name", "").strip(), request.form.get("pin", "")
    if not name or not pin:
        return page("login.html", 400, message=d._(MSG_FILL_IN), name=name)
    try:
        member = d.staff().sign_in(name, pin, where=f"desk {request.remote_addr}")
    except StaffError as e:            # WrongPin, Locked: their sentence
        return page("login.html", 401, message=d._(str(e)), name=name)
    session.clear()                     # a new session id and CSRF token at sign-in
    session["sid"] = d.sign_ins.start(member)
    session.permanent = True
    return redirect(url_for(".desk"))


@pages.post("/logout")
def sign_out():
    d = current()
    member = signed_in(d.sign_ins, d.staff())
    if member is not None:
        d.staff().signed_out(member["name"], where=f"desk {request.remote_addr}", idle=False)
    d.sign_ins.end(session.get("sid"))
    session.clear()
    return page("login.html", message=d._(MSG_SIGNED_OUT), name="")


@pages.get("/")
@signed_in_only
def desk(name: str):
    d = current()
    resolutions = [(how, d._(RESOLUTION_TEXTS[how])) for how in RESOLUTIONS if how in RESOLUTION_TEXTS]
    return page("desk.html", name=name, signed_in_as=d._(TEXTS["signed_in_as"]).format(name=name),
                resolutions=resolutions, poll_ms=POLL_MS)


@pages.post("/language")
@signed_in_only
def choose_language(name: str):
    """The member's language for this page, kept with the member (the next sign-in finds it)."""
    language = request.form.get("language", "")
    if language in SUPPORTED_LANGUAGES:
        current().staff().store.set_staff_language(name, language)
    return redirect(url_for(".desk"))


@pages.get("/api/incidents")
@signed_in_only
def incidents(name: str):
    d = current()
    # This kiosk's incidents and each peer's go through the same steps: a listing, then incident_json.
    listings = [listing_here(d.staff(), d.own_id(), d.reprint_kinds)]
    unreachable = []
    for url, listing, why in (d.peers.listings() if d.peers else ()):
        if listing is None:
            unreachable.append(d._(why).format(kiosk=d.peers.name(url)))
        elif listing["kiosk"] == d.own_id() or any(listing["kiosk"] == other["kiosk"] for other in listings):
            log.warning("desk peer %s gives kiosk id %s, which another kiosk has", url, listing["kiosk"])
            unreachable.append(d._(MSG_PEER_DOWN).format(kiosk=url))
        else:
            listings.append(listing)
    # Urgent first across every kiosk (kiosk.desk.incidents.urgent_first), each row with its kiosk's listing.
    listing_of = {id(row): listing for listing in listings for row in listing["incidents"]}
    rows = urgent_first(row for listing in listings for row in listing["incidents"])
    return jsonify(incidents=[incident_json(row, d._, d.language_now(), tuple(listing_of[id(row)]["reprint_kinds"]),
                                             listing_of[id(row)]["kiosk"]) for row in rows],
                   unreachable=unreachable)


@pages.post("/api/incidents/<int:incident_id>/<action>")
@signed_in_only
def act(name: str, incident_id: int, action: str):
    d = current()
    return do(name, d.own_id(), incident_id, action)


@pages.post("/api/kiosks/<kiosk>/incidents/<int:incident_id>/<action>")
@signed_in_only
def act_on(name: str, kiosk: str, incident_id: int, action: str):
    return do(name, kiosk, incident_id, action)


def do(name: str, kiosk: str, incident_id: int, action: str):
    d = current()
    if kiosk == d.own_id():
        status, result = act_here(d.staff(), incident_id, action, name, request.form, d.reprint_kinds)
    elif d.peers is None or action not in ACTIONS:     # only known words go into a peer's URL
        abort(404)
    else:
        try:
            status, result = d.peers.act(kiosk, incident_id, action, name, d.own_id(), request.form)
        except PeerDown as e:
            return jsonify(error=d._(str(e)).format(kiosk=kiosk)), 502
    if status == 404:
        abort(404)
    return jsonify(say(result, d._)), status


@pages.get("/peer/incidents")
def peer_incidents():
    d = current()
    return jsonify(listing_here(d.staff(), d.own_id(), d.reprint_kinds))


@pages.post("/peer/incidents/<int:incident_id>/<action>")
def peer_act(incident_id: int, action: str):
    d = current()
    # The other kiosk signed the member in against its own store; this one audits the action as
    # "<member> via desk <that kiosk>" (docs/operations.md, "The desk page").
    member, via = request.form.get("member", "").strip(), request.form.get("via", "").strip()
    if not all(0 < len(text) <= NAME_MAX and text.isprintable() for text in (member, via)):
        abort(400, "member")
    status, result = act_here(d.staff(), incident_id, action, f"{member} via desk {via}", request.form,
                              d.reprint_kinds)
    if status == 404:
        abort(404)
    return jsonify(result), status


def incident_json(row: dict, _: Callable[[str], str], language: str, reprint_kinds: tuple[str, ...],
                   kiosk_id: str = "") -> dict:
    """What the page shows of one incident: nothing personal (see the module docstring). ``text`` is what the
    kind says, ``details`` what the detail says (lines), both in the page's language."""
    said = incident_texts(str(row["kind"]), str(row.get("detail") or ""), _)
    try:
        severity_text = _(SEVERITY_TEXTS[Severity(row["severity"])])
    except ValueError:
        severity_text = row["severity"]
    try:
        when = format_moment(times.moment(row["created_at"]), language)
    except (TypeError, ValueError):
        when = row.get("created_at") or ""
    taken = _(TEXTS["taken_by"]).format(name=row.get("taken_by") or "")
    return {
        "id": row["id"], "kind": row["kind"], "text": said[0], "details": said[1:], "severity": row["severity"],
        "severity_text": severity_text, "status": row["status"],
        "status_text": taken if row["status"] == "taken" else _(TEXTS["waiting"]),
        "kiosk": _(TEXTS["kiosk"]).format(kiosk=row.get("kiosk_id") or ""), "time": when,
        "queue": _(TEXTS["queue"]).format(number=row["queue_number"]) if row.get("queue_number") else "",
        "actions": buttons(row, reprint_kinds),
        "kiosk_id": kiosk_id or row.get("kiosk_id") or "",
    }
