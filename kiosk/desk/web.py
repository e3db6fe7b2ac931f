"""The desk web page: the open incidents of this kiosk, live, with the staff actions.

A small Flask app served by cheroot (a pure-Python WSGI server with TLS), started in a thread by
``kiosk run`` when ``desk.enabled``, or on its own by ``kiosk desk``. Staff sign in with their name and
PIN (``Staff.sign_in``: the same members, lock and audit as staff mode on the kiosk); every action is a
``Staff`` method called with the signed-in name, so the audit trail says who did it. The routes are
``kiosk.desk.routes`` (a Blueprint), what they do ``kiosk.desk.actions``, who may call them
``kiosk.desk.auth``; this module makes the app around them and serves it.

Security: plain HTTP only on loopback (config rule), TLS otherwise; the session cookie is signed with a
secret made once into data_dir, HttpOnly, SameSite=Strict, Secure under TLS; sign-ins live in this
process only (a restart or "Sign out" ends them; ``desk.session_h`` at the latest); every POST carries
the session's CSRF token; a strict Content-Security-Policy (no inline script). The page shows what staff
need and no personal data (``kiosk.desk.routes``).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Callable

from kiosk.desk.peers import Peers
from kiosk.desk.staff import Staff, staff_builder
from kiosk.files import write_whole
from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import Catalogs
from kiosk.paths import ASSETS
from kiosk.serving import WsgiServer, harden


SECRET_FILE = "desk-secret"
COOKIE_NAME = "kiosk_desk"
WORKER_THREADS = 4




def load_secret(data_dir: str | Path) -> bytes:
    """The key that signs the desk's session cookies: made once (random, 32 bytes) into data_dir, 0600."""
    path = Path(data_dir) / SECRET_FILE
    try:
        key = bytes.fromhex(path.read_text().strip())
        if len(key) == 32:
            return key
    except (FileNotFoundError, ValueError):
        pass                       # none yet, or cut short by a power cut while it was written: a new one
    write_whole(path, secrets.token_bytes(32).hex().encode("ascii"), 0o600)   # two servers at once: the last wins
    return bytes.fromhex(path.read_text().strip())


def create_app(make_staff: Callable[[], Staff], *, secret_key: bytes, language: str = "en",
               catalogs: Catalogs | None = None, tls: bool = False, session_h: float = 8.0,
               reprint_kinds: tuple[str, ...] = (), kiosk_id: str = "", peers: Peers | None = None,
               peer_secret: str = "", waiting_list: str = ""):
    """The desk page as a Flask app.

    :param make_staff: builds a ``Staff`` on its own store connection; called once per server thread
        (SQLite connections stay in the thread that opened them)
    :param secret_key: signs the session cookie (``load_secret``)
    :param language: the page's language until a member chooses theirs (the first of kiosk.languages)
    :param tls: served over HTTPS: the cookie is marked Secure
    :param session_h: a sign-in lasts this long (hours)
    :param reprint_kinds: the printers this kiosk has (ticket, wristband): their reprint buttons show
    :param kiosk_id: this kiosk's id (kiosk.id), which tags its incidents; "" = its store's
    :param peers: the other kiosks whose incidents the page lists too (desk.peers)
    :param peer_secret: the site's shared secret: set, this kiosk serves the peer API (``/peer/...``)
    :param waiting_list: the address of the site's waiting list, linked from the page ("" = no link)
    """
    from flask import Flask, jsonify, request
    from werkzeug.exceptions import HTTPException

    from kiosk.desk import auth, routes

    desk = routes.Desk(make_staff, language=language, catalogs=catalogs or Catalogs(SUPPORTED_LANGUAGES),
                       sign_ins=auth.SignIns(session_h * 3600), reprint_kinds=reprint_kinds, kiosk_id=kiosk_id,
                       peers=peers, waiting_list=waiting_list)
    app = Flask(__name__, template_folder=str(ASSETS / "desk" / "templates"),
                static_folder=str(ASSETS / "desk" / "static"), static_url_path="/static")
    app.config.update(SECRET_KEY=secret_key, SESSION_COOKIE_NAME=COOKIE_NAME, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_SECURE=tls,
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=session_h), MAX_CONTENT_LENGTH=16 * 1024)
    app.extensions["kiosk_peers"] = peers
    app.extensions["kiosk_desk"] = desk

    @app.before_request
    def check_csrf():
        auth.check_request(peer_secret, desk._(auth.MSG_EXPIRED))

    app.after_request(lambda response: harden(response, https=tls))

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
            return routes.page("login.html", 403, message=e.description, name="")
        return e

    app.register_blueprint(routes.pages)
    return app


class DeskServer(WsgiServer):
    """The desk app on cheroot in a background thread; ``port`` 0 takes a free port (tests)."""

    def __init__(self, app, *, bind: str = "127.0.0.1", port: int = 8043, tls_cert: str = "", tls_key: str = ""):
        super().__init__(app, bind=bind, port=port, tls_cert=tls_cert, tls_key=tls_key, what="desk page",
                         thread="desk", threads=WORKER_THREADS)
        self.peers = app.extensions.get("kiosk_peers") if hasattr(app, "extensions") else None

    def stop(self) -> None:
        super().stop()
        if self.peers is not None:
            self.peers.close()


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
                     kiosk_id=settings.kiosk.id, peers=peers, peer_secret=peer_secret,
                     waiting_list=f"{settings.site.url.rstrip('/')}/staff" if settings.site.url else "")
    try:
        return DeskServer(app, bind=d.bind, port=d.port, tls_cert=d.tls_cert, tls_key=d.tls_key).start()
    except (OSError, ValueError) as e:       # address in use or not here; a certificate that does not load
        cause = e.__cause__ or e                  # cheroot wraps the socket's own error
        raise DeskUnavailable(f"The desk page cannot listen on {d.bind}:{d.port}: "
                              f"{getattr(cause, 'strerror', None) or cause}; check the [desk] settings") from None


def staff_factory(settings, *, printers: dict | None = None, reader_state: Callable[[], str] = lambda: "",
                  wake: Callable[[], None] = lambda: None) -> Callable[[], Staff]:
    """Builds the desk's ``Staff`` (``staff_builder``), each on a store connection of its own."""
    from kiosk.store.opening import open_store
    build = staff_builder(settings, printers=printers, reader_state=reader_state, wake=wake)
    return lambda: build(open_store(settings))
