"""Who may use the desk page: staff signed in with their name and PIN (``Staff.sign_in``: the same members,
lock and audit as staff mode on the kiosk), each POST with the session's CSRF token; other kiosks' desk
pages (the peer API, ``/peer/...``) with the site's shared secret as bearer token instead.

Sign-ins live in this process only (a restart or "Sign out" ends them; ``desk.session_h`` at the latest).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time

from flask import abort, request, session

from kiosk.desk.staff import Staff
from kiosk.messages import N_

log = logging.getLogger(__name__)

MSG_EXPIRED = N_("This page has expired. Please try again.")
MSG_SESSION_ENDED = N_("Your sign-in has ended. Please sign in again.")


class SignIns:
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


def csrf_token() -> str:
    """The session's CSRF token, made at its first page."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
        session.permanent = True
    return session["csrf"]


def signed_in(sign_ins: SignIns, staff: Staff) -> dict | None:
    """The member (their row: name, language, ...) signed in with this session, while they are still a member
    (IT may remove them)."""
    sid = session.get("sid")
    name = sign_ins.name(sid)
    if name is None:
        return None
    member = staff.store.staff_member(name)
    if member is None:
        sign_ins.end(sid)
    return member


def check_request(peer_secret: str, expired: str) -> None:
    """Before every request: a peer API request carries the site's secret, every other POST the session's
    CSRF token; aborts (401 or 404, 403 with ``expired``, the page's sentence) otherwise."""
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
            abort(403, expired)
