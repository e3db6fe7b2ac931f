"""The desk web page: the open incidents of this kiosk, live, with the staff actions (issue 7).

A small Flask app served by cheroot (a pure-Python WSGI server with TLS), started in a thread by
``kiosk run`` when ``desk.enabled``, or on its own by ``kiosk desk``. Staff sign in with their name and
PIN (``Staff.sign_in``: the same members, lock and audit as staff mode on the kiosk); every action is a
``Staff`` method called with the signed-in name, so the audit trail says who did it.

Security: plain HTTP only on loopback (config rule), TLS otherwise; the session cookie is signed with a
secret made once into data_dir, HttpOnly, SameSite=Strict, Secure under TLS; sign-ins live in this
process only (a restart or "Sign out" ends them; ``desk.session_h`` at the latest); every POST carries
the session's CSRF token; a strict Content-Security-Policy (no inline script). The page shows what staff
need and no personal data: what the incident's kind and detail (codes, no personal data by design) say, in
the page's language (``kiosk.desk.incidents.texts``), severity, kiosk, time and queue number; urgent first.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Callable

from kiosk.desk import incidents
from kiosk.desk.peers import MSG_PEER_DOWN, PEER_FIELDS, PeerDown, Peers
from kiosk.hardware.printer import PrintOutcome
from kiosk.i18n import Catalogs, format_moment
from kiosk.desk.incidents import SEVERITY_TEXTS, urgent_first
from kiosk.messages import N_
from kiosk.checkin.model import Severity
from kiosk.paths import ASSETS
from kiosk.desk.staff import NAME_MAX, RESOLUTIONS, Staff, StaffError

log = logging.getLogger(__name__)

SECRET_FILE = "desk-secret"
COOKIE_NAME = "kiosk_desk"
POLL_MS = 1000                  # how often the page asks for the incidents
WORKER_THREADS = 4


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
}
MSG_FILL_IN = N_("Please enter your name and your PIN.")
MSG_EXPIRED = N_("This page has expired. Please try again.")
MSG_SIGNED_OUT = N_("You have signed out.")
MSG_SESSION_ENDED = N_("Your sign-in has ended. Please sign in again.")
MSG_TAKEN = N_("You have taken this incident.")
MSG_RESOLVED = N_("The incident is resolved.")
MSG_PRINTED = N_("Printed again.")
MSG_UNCONFIRMED = N_("Sent to the printer, which did not confirm it: check that it came out.")
MSG_NOT_PRINTED = N_("Not printed: check the printer (paper, cover, cable) and try again.")
MSG_RESENT = N_("Queued for the hospital system again: {count}.")
MSG_GONE = N_("This incident is no longer open.")


def load_secret(data_dir: str | Path) -> bytes:
    """The key that signs the desk's session cookies: made once (random, 32 bytes) into data_dir, 0600."""
    path = Path(data_dir) / SECRET_FILE
    try:
        key = bytes.fromhex(path.read_text().strip())
        if len(key) == 32:
            return key
    except (FileNotFoundError, ValueError):
        pass                       # none yet, or cut short by a power cut while it was written: a new one
    key = secrets.token_bytes(32)
    part = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)         # whole or not at all; two servers starting at once: the last one's wins
    return bytes.fromhex(path.read_text().strip())


class _SignIns:
    """Who is signed in, by session id: in this process only, so "Sign out" and a restart end them."""

    def __init__(self, lifetime_s: float):
        self.lifetime_s = lifetime_s
        self._lock = threading.Lock()
        self._live: dict[str, tuple[str, float]] = {}       # sid -> (name, ends at, monotonic)

    def start(self, name: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._live = {k: v for k, v in self._live.items() if v[1] > now}
            self._live[sid] = (name, now + self.lifetime_s)
        return sid

    def name(self, sid: str | None) -> str | None:
        with self._lock:
            name, ends = self._live.get(sid or "", ("", 0.0))
        return name if ends > time.monotonic() else None

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._live.pop(sid or "", None)


def create_app(make_staff: Callable[[], Staff], *, secret_key: bytes, language: str = "en",
               catalogs: Catalogs | None = None, tls: bool = False, session_h: float = 8.0,
               reprint_kinds: tuple[str, ...] = (), kiosk_id: str = "", peers: Peers | None = None,
               peer_secret: str = ""):
    """The desk page as a Flask app.

    :param make_staff: builds a ``Staff`` on its own store connection; called once per server thread
        (SQLite connections stay in the thread that opened them)
    :param secret_key: signs the session cookie (``load_secret``)
    :param language: the page's language (the first of kiosk.languages)
    :param tls: served over HTTPS: the cookie is marked Secure
    :param session_h: a sign-in lasts this long (hours)
    :param reprint_kinds: the printers this kiosk has (ticket, wristband): their reprint buttons show
    :param kiosk_id: this kiosk's id (kiosk.id), which tags its incidents; "" = its store's
    :param peers: the other kiosks whose incidents the page lists too (desk.peers)
    :param peer_secret: the site's shared secret: set, this kiosk serves the peer API (``/peer/...``)
    """
    from flask import (
                       Flask,
                       abort,
                       jsonify,
                       redirect,
                       render_template,
                       request,
                       session,
                       url_for,
                       )
    from werkzeug.exceptions import HTTPException

    catalogs = catalogs or Catalogs([language])

    def _(message: str) -> str:
        return catalogs.gettext(language, message)

    app = Flask(__name__, template_folder=str(ASSETS / "desk" / "templates"),
                static_folder=str(ASSETS / "desk" / "static"), static_url_path="/static")
    app.config.update(SECRET_KEY=secret_key, SESSION_COOKIE_NAME=COOKIE_NAME, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_SECURE=tls,
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=session_h), MAX_CONTENT_LENGTH=16 * 1024)
    sign_ins = _SignIns(session_h * 3600)
    app.extensions["kiosk_peers"] = peers
    local = threading.local()

    def staff() -> Staff:
        if getattr(local, "staff", None) is None:
            local.staff = make_staff()
        return local.staff

    def own_id() -> str:
        return kiosk_id or staff().store.kiosk_id

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
            session.permanent = True
        return session["csrf"]

    def signed_in() -> str | None:
        """The member signed in with this session, while they are still a member (IT may remove them)."""
        sid = session.get("sid")
        name = sign_ins.name(sid)
        if name is not None and staff().store.staff_member(name) is None:
            sign_ins.end(sid)
            return None
        return name

    def page(template: str, status: int = 200, **values):
        texts = {key: _(text) for key, text in TEXTS.items()}
        return render_template(template, lang=language, t=texts, csrf=csrf_token(), **values), status

    def signed_in_only(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            name = signed_in()
            if name is None:
                if request.path.startswith("/api/"):
                    return jsonify(error=_(MSG_SESSION_ENDED)), 401
                return redirect(url_for("login"))
            return view(name, *args, **kwargs)
        return guarded

    @app.before_request
    def check_csrf():
        if request.path.startswith("/peer/"):
            # Another kiosk's desk page, server to server: the shared secret instead of a session, so no
            # cookie and no CSRF token (a browser cannot send this header from another site's form).
            sent = request.headers.get("Authorization", "")
            if not peer_secret:
                abort(404)
            if not (sent.startswith("Bearer ")
                    and hmac.compare_digest(sent.removeprefix("Bearer ").encode(), peer_secret.encode())):
                log.warning("peer API: a request from %s without the right secret", request.remote_addr)
                abort(401, "peer secret")
            return
        if request.method == "POST":
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
            expected = session.get("csrf", "")
            if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
                abort(403, _(MSG_EXPIRED))

    @app.after_request
    def harden(response):
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        if tls:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.errorhandler(HTTPException)
    def refused(e):
        if request.path.startswith("/peer/"):
            answer = jsonify(error=e.description)
            if e.code == 401:
                answer.headers["WWW-Authenticate"] = "Bearer"
            return answer, e.code
        if request.path.startswith("/api/"):
            return jsonify(error=e.description), e.code
        if e.code == 403:               # a form without its CSRF token: sign in (again) from a fresh page
            return page("login.html", 403, message=e.description, name="")
        return e

    @app.get("/login")
    def login():
        if signed_in():
            return redirect(url_for("desk"))
        return page("login.html", message="", name="")

    @app.post("/login")
    def sign_in():
        name, pin = request.form.get("name", "").strip(), request.form.get("pin", "")
        if not name or not pin:
            return page("login.html", 400, message=_(MSG_FILL_IN), name=name)
        try:
            member = staff().sign_in(name, pin, where=f"desk {request.remote_addr}")
        except StaffError as e:            # WrongPin, Locked: their sentence
            return page("login.html", 401, message=_(str(e)), name=name)
        session.clear()                     # a new session id and CSRF token at sign-in
        session["sid"] = sign_ins.start(member)
        session.permanent = True
        return redirect(url_for("desk"))

    @app.post("/logout")
    def sign_out():
        name = signed_in()
        if name is not None:
            staff().signed_out(name, where=f"desk {request.remote_addr}", idle=False)
        sign_ins.end(session.get("sid"))
        session.clear()
        return page("login.html", message=_(MSG_SIGNED_OUT), name="")

    @app.get("/")
    @signed_in_only
    def desk(name: str):
        resolutions = [(how, _(RESOLUTION_TEXTS[how])) for how in RESOLUTIONS if how in RESOLUTION_TEXTS]
        return page("desk.html", name=name, signed_in_as=_(TEXTS["signed_in_as"]).format(name=name),
                    resolutions=resolutions, poll_ms=POLL_MS)

    @app.get("/api/incidents")
    @signed_in_only
    def incidents(name: str):
        # This kiosk's incidents and each peer's go through the same steps: a listing, then _incident_json.
        listings = [listing_here(staff(), own_id(), reprint_kinds)]
        unreachable = []
        for url, listing, why in (peers.listings() if peers else ()):
            if listing is None:
                unreachable.append(_(why).format(kiosk=peers.name(url)))
            elif listing["kiosk"] == own_id() or any(listing["kiosk"] == other["kiosk"] for other in listings):
                log.warning("desk peer %s gives kiosk id %s, which another kiosk has", url, listing["kiosk"])
                unreachable.append(_(MSG_PEER_DOWN).format(kiosk=url))
            else:
                listings.append(listing)
        # Urgent first across every kiosk (kiosk.desk.incidents.urgent_first), each row with its kiosk's listing.
        listing_of = {id(row): listing for listing in listings for row in listing["incidents"]}
        rows = urgent_first(row for listing in listings for row in listing["incidents"])
        return jsonify(incidents=[_incident_json(row, _, language, tuple(listing_of[id(row)]["reprint_kinds"]),
                                                 listing_of[id(row)]["kiosk"]) for row in rows],
                       unreachable=unreachable)

    @app.post("/api/incidents/<int:incident_id>/<action>")
    @signed_in_only
    def act(name: str, incident_id: int, action: str):
        return do(name, own_id(), incident_id, action)

    @app.post("/api/kiosks/<kiosk>/incidents/<int:incident_id>/<action>")
    @signed_in_only
    def act_on(name: str, kiosk: str, incident_id: int, action: str):
        return do(name, kiosk, incident_id, action)

    def do(name: str, kiosk: str, incident_id: int, action: str):
        if kiosk == own_id():
            status, result = act_here(staff(), incident_id, action, name, request.form, reprint_kinds)
        elif peers is None or action not in ACTIONS:     # only known words go into a peer's URL
            abort(404)
        else:
            try:
                status, result = peers.act(kiosk, incident_id, action, name, own_id(), request.form)
            except PeerDown as e:
                return jsonify(error=_(str(e)).format(kiosk=kiosk)), 502
        if status == 404:
            abort(404)
        return jsonify(say(result, _)), status

    @app.get("/peer/incidents")
    def peer_incidents():
        return jsonify(listing_here(staff(), own_id(), reprint_kinds))

    @app.post("/peer/incidents/<int:incident_id>/<action>")
    def peer_act(incident_id: int, action: str):
        # The other kiosk signed the member in against its own store; this one audits the action as
        # "<member> via desk <that kiosk>" (docs/operations.md, "The desk page").
        member, via = request.form.get("member", "").strip(), request.form.get("via", "").strip()
        if not all(0 < len(text) <= NAME_MAX and text.isprintable() for text in (member, via)):
            abort(400, "member")
        status, result = act_here(staff(), incident_id, action, f"{member} via desk {via}", request.form,
                                  reprint_kinds)
        if status == 404:
            abort(404)
        return jsonify(result), status

    return app


ACTIONS = ("take", "resolve", "reprint_ticket", "reprint_wristband", "resend", "cancel")


def _actions(incident: dict, reprint_kinds: tuple[str, ...]) -> list[str]:
    """The buttons an incident gets, in order: the same as in staff mode (kiosk.desk.incidents.actions), named
    for URLs (reprint_ticket for reprint:ticket)."""
    return [action.replace(":", "_") for action in incidents.actions(
        incident, admission_cancelled=incident.get("admission_cancelled") in (True, "True"), printers=reprint_kinds)]


class _NotPrinted(StaffError):
    """A reprint that did not print; ``reason`` is the printer's fault word (not translated)."""

    def __init__(self, reason: str):
        super().__init__(MSG_NOT_PRINTED)
        self.reason = reason


def _perform(staff: Staff, incident: dict, action: str, actor: str, form) -> dict:
    """Do one action as ``actor``; returns what to say, untranslated: {"message": msgid, "count": n}.

    :raises StaffError: as the Staff methods (``_NotPrinted`` with the printer's reason)
    """
    admission_id = incident.get("admission_id")
    if action == "take":
        staff.take(incident["id"], actor)
        return {"message": MSG_TAKEN}
    if action == "resolve":
        staff.resolve(incident["id"], actor, form.get("how", "done"), form.get("note", "")[:500])
        return {"message": MSG_RESOLVED}
    if action.startswith("reprint_"):
        outcome = staff.reprint(admission_id, action.removeprefix("reprint_"), actor)
        if outcome.status == PrintOutcome.PRINTED:
            return {"message": MSG_PRINTED}
        if outcome.status == PrintOutcome.UNCONFIRMED:
            return {"message": MSG_UNCONFIRMED}
        raise _NotPrinted(str(outcome.reason or ""))
    if action == "resend":
        return {"message": MSG_RESENT, "count": staff.resend(admission_id, actor)}
    if action == "cancel":
        return {"message": staff.cancel(admission_id, actor, form.get("note", "")[:500])}
    raise ValueError(action)


def act_here(staff: Staff, incident_id: int, action: str, actor: str, form,
             reprint_kinds: tuple[str, ...]) -> tuple[int, dict]:
    """One action on an incident of this kiosk's store, as the desk page and the peer API both do it:
    (HTTP status, {"message" or "error": msgid, "count", "reason"}), untranslated (``say`` translates)."""
    incident = next((row for row in staff.incidents() if row["id"] == incident_id), None)
    if incident is None:
        return 409, {"error": MSG_GONE}
    if action not in _actions(incident, reprint_kinds):
        return 404, {"error": "not found"}
    try:
        return 200, _perform(staff, incident, action, actor, form)
    except _NotPrinted as e:
        return 409, {"error": MSG_NOT_PRINTED, "reason": e.reason}
    except StaffError as e:
        return 409, {"error": str(e)}


def say(result: dict, _: Callable[[str], str]) -> dict:
    """An ``act_here`` result (of this kiosk or a peer's) in the page's language: {"message"} or {"error"}."""
    key = "message" if "message" in result else "error"
    text = _(str(result.get(key, "")))
    if "count" in result:
        text = text.replace("{count}", str(int(result["count"])))
    if result.get("reason"):                # a printer's fault (kiosk.hardware.errors.REASONS), said too
        reason = str(result["reason"])[:40]
        said = _(incidents.PRINTER_REASONS[reason]) if reason in incidents.PRINTER_REASONS else \
            _(incidents.TECHNICAL_CODE).format(code=reason)
        text = f"{text} ({said})"
    return {key: text}


def listing_here(staff: Staff, kiosk_id: str, reprint_kinds: tuple[str, ...]) -> dict:
    """This kiosk's open incidents as the peer API gives them and the page merges them: the fields the
    page shows, untranslated (nothing personal, see the module docstring)."""
    return {"kiosk": kiosk_id, "reprint_kinds": list(reprint_kinds),
            "incidents": [{key: row[key] for key in PEER_FIELDS} for row in staff.incidents()]}



def _incident_json(row: dict, _: Callable[[str], str], language: str, reprint_kinds: tuple[str, ...],
                   kiosk_id: str = "") -> dict:
    """What the page shows of one incident: nothing personal (see the module docstring). ``text`` is what the
    kind says, ``details`` what the detail says (lines), both in the page's language."""
    said = incidents.texts(str(row["kind"]), str(row.get("detail") or ""), _)
    try:
        severity_text = _(SEVERITY_TEXTS[Severity(row["severity"])])
    except ValueError:
        severity_text = row["severity"]
    try:
        when = format_moment(datetime.fromisoformat(row["created_at"]), language)
    except (TypeError, ValueError):
        when = row.get("created_at") or ""
    taken = _(TEXTS["taken_by"]).format(name=row.get("taken_by") or "")
    return {
        "id": row["id"], "kind": row["kind"], "text": said[0], "details": said[1:], "severity": row["severity"],
        "severity_text": severity_text, "status": row["status"],
        "status_text": taken if row["status"] == "taken" else _(TEXTS["waiting"]),
        "kiosk": _(TEXTS["kiosk"]).format(kiosk=row.get("kiosk_id") or ""), "time": when,
        "queue": _(TEXTS["queue"]).format(number=row["queue_number"]) if row.get("queue_number") else "",
        "actions": _actions(row, reprint_kinds),
        "kiosk_id": kiosk_id or row.get("kiosk_id") or "",
    }


class DeskServer:
    """The desk app on cheroot in a background thread; ``port`` 0 takes a free port (tests)."""

    def __init__(self, app, *, bind: str = "127.0.0.1", port: int = 8043, tls_cert: str = "", tls_key: str = ""):
        from cheroot import wsgi
        self.server = wsgi.Server((bind, port), app, numthreads=WORKER_THREADS, server_name="kiosk-desk")
        self.server.error_log = _server_log
        self.peers = app.extensions.get("kiosk_peers") if hasattr(app, "extensions") else None
        self.tls = bool(tls_cert)
        if tls_cert:
            import ssl

            from cheroot.ssl.builtin import BuiltinSSLAdapter
            adapter = BuiltinSSLAdapter(tls_cert, tls_key or None)
            adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
            self.server.ssl_adapter = adapter
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.bind_addr[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def start(self) -> "DeskServer":
        """Bind now (an address in use fails here, with OSError), then serve in a daemon thread."""
        self.server.prepare()
        self._thread = threading.Thread(target=self.server.serve, name="desk", daemon=True)
        self._thread.start()
        log.info("desk page at %s", self.url)
        return self

    def stop(self) -> None:
        self.server.stop()
        if self.peers is not None:
            self.peers.close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _server_log(msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
    """cheroot's errors through the kiosk's log (one line each) instead of raw on stderr. With a traceback
    its message is the exception's repr, which may quote a request: then only the exception is logged
    (class and where; all of it with --debug)."""
    server_log = logging.getLogger("cheroot")
    if traceback:
        server_log.log(level, "request failed", exc_info=True)
    else:
        server_log.log(level, "%s", msg)


class DeskUnavailable(RuntimeError):
    """The desk page cannot be served; the message is one sentence for IT."""


def serve(settings, make_staff: Callable[[], Staff], *, reprint_kinds: tuple[str, ...] = ()) -> DeskServer:
    """The desk page as ``[desk]`` configures it, started. :raises DeskUnavailable: no key, or no port"""
    d = settings.desk
    try:
        secret = load_secret(settings.data_path)
    except (OSError, ValueError) as e:
        raise DeskUnavailable(f"The desk page's key {settings.data_path / SECRET_FILE} cannot be read or made: "
                              f"{getattr(e, 'strerror', None) or e}") from None
    peer_secret = ""
    if d.peer_secret_file:
        from kiosk.config import ConfigError, read_peer_secret
        try:
            peer_secret = read_peer_secret(d.peer_secret_file)
        except ConfigError as e:            # checked at start-up; changed since
            raise DeskUnavailable(f"'desk.peer_secret_file' {e}") from None
    peers = Peers(d.peers, peer_secret, ca_file=d.peer_ca_file, timeout_s=d.peer_timeout_s) if d.peers else None
    app = create_app(make_staff, secret_key=secret, language=settings.kiosk.languages[0],
                     tls=bool(d.tls_cert), session_h=d.session_h, reprint_kinds=reprint_kinds,
                     kiosk_id=settings.kiosk.id, peers=peers, peer_secret=peer_secret)
    try:
        return DeskServer(app, bind=d.bind, port=d.port, tls_cert=d.tls_cert, tls_key=d.tls_key).start()
    except (OSError, ValueError) as e:       # address in use or not here; a certificate that does not load
        cause = e.__cause__ or e                  # cheroot wraps the socket's own error
        raise DeskUnavailable(f"The desk page cannot listen on {d.bind}:{d.port}: "
                              f"{getattr(cause, 'strerror', None) or cause}; check the [desk] settings") from None


def staff_factory(settings, *, printers: dict | None = None, reader_state: Callable[[], str] = lambda: "",
                  wake: Callable[[], None] = lambda: None) -> Callable[[], Staff]:
    """Builds the desk's ``Staff``: each on a store connection of its own, sharing the kiosk's printers
    (their locks keep one job at a time), reprinting in the patient's language as at check-in."""
    from kiosk.hardware import printing
    from kiosk.store.opening import open_store

    catalogs = Catalogs(settings.kiosk.languages)

    def layout_for(kind: str, admission):
        return printing.layout_for(kind, admission, catalogs, settings)

    def make() -> Staff:
        store = open_store(settings)
        return Staff(store, printers=printers, layout_for=layout_for, reader_state=reader_state, wake=wake)
    return make
