"""The site listener: the APIs for the site network, never published to the internet.

``POST /api/v1/invitations`` (docs/site.md): the hospital's appointment system, IT or an integration engine
makes one invitation per appointment, with the bearer token of ``site.api_token_file``. ``/api/v1/tickets``:
the kiosks take queue numbers and put their tickets on the waiting list; ``/api/v1/arrivals``: they find a
pre-checked patient by arrival code or card and mark them arrived; both with the site's shared secret
(``desk.peer_secret_file``, as the desk pages' peer API). ``/peer/incidents``: the site's incidents for
the kiosks' desk pages, as a kiosk's peer API gives its own, with the same secret. Answers are JSON; an error
is ``{"error": "<one sentence>"}``.
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime

from flask import Flask, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import Catalogs
from kiosk.messages import MSG_GONE, MSG_RESOLVED, MSG_TAKEN
from kiosk.site import arrivals, delivery, invitations, mail, tickets, waiting
from kiosk.site.db import SiteDb

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def create_app(site: SiteDb, settings, *, api_token: str, site_secret: str = "", form=None,
               catalogs: Catalogs | None = None) -> Flask:
    """The site listener's app.

    :param api_token: the invitation API's bearer token ("" = no invitation API)
    :param site_secret: the site's shared secret, the kiosks' bearer token ("" = no kiosk API)
    :param form: the site's intake form (loaded from ``settings.forms.intake`` when not given)
    """
    from kiosk.checkin import forms
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY)
    default_language = settings.kiosk.languages[0]
    form_url = (form if form is not None else forms.load(settings.forms.intake)).url
    catalogs = catalogs or Catalogs(SUPPORTED_LANGUAGES)

    @app.before_request
    def authorise():
        kiosks = request.path.startswith(("/api/v1/arrivals", "/api/v1/tickets", "/peer/"))
        token, what, setting = ((site_secret, "kiosk API", "desk.peer_secret_file") if kiosks
                                else (api_token, "invitation API", "site.api_token_file"))
        if not token:
            abort(404, f"This site service has no {what} ({setting} is not set).")
        sent = request.headers.get("Authorization", "")
        if not (sent.startswith("Bearer ")
                and hmac.compare_digest(sent.removeprefix("Bearer ").encode(), token.encode())):
            log.warning("%s: a request from %s without the right token", what, request.remote_addr)
            abort(401, "This API needs the site's bearer token (Authorization: Bearer ...).")

    @app.after_request
    def harden(response):
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.errorhandler(HTTPException)
    def refused(e):
        sentence = {413: f"The body is larger than {MAX_BODY // 1024} KiB.",
                    405: "This method is not allowed here."}.get(e.code, e.description)
        if e.code == 404 and sentence == e.__class__.description:
            sentence = "There is no such API here."
        answer = jsonify(error=sentence)
        if e.code == 401:
            answer.headers["WWW-Authenticate"] = "Bearer"
        return answer, e.code

    @app.post("/api/v1/invitations")
    def invite():
        if not settings.site.public_url:
            return jsonify(error="site.public_url is not set, so there is no link to give."), 503
        body = request.get_json(silent=True) if request.is_json else None
        if body is None:
            return jsonify(error="The body must be JSON (Content-Type: application/json)."), 400
        try:
            made = invitations.parse_request(body, default_language=default_language)
            replace = body.get("replace", False)
            if not isinstance(replace, bool):
                raise invitations.InvitationError("replace must be true or false.")
            token, invitation = invitations.create(site, made, replace=replace)
        except invitations.InvitationExists as e:
            return jsonify(error=str(e)), 409
        except invitations.InvitationError as e:
            return jsonify(error=str(e)), 400
        link = invitations.link(settings.site.public_url, token)
        emailed = mail.mail_link(settings, catalogs, made, link)
        log.info("invitation %s made%s", invitation.id, ", its link e-mailed" if emailed else "")
        return jsonify(id=invitation.id, link=link, expires=made.expires.isoformat(), emailed=emailed), 201

    @app.post("/api/v1/arrivals/find")
    def find_arrival():
        body = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict):
            return jsonify(error="The body must be a JSON object (Content-Type: application/json)."), 400
        try:
            if isinstance(body.get("code"), str):
                found = arrivals.by_code(site, body["code"], settings.site.id)
            elif isinstance(body.get("identifier"), dict) and isinstance(body.get("day"), dict):
                ident, day = body["identifier"], body["day"]
                found = arrivals.by_identifier(site, str(ident.get("system", "")), str(ident.get("value", "")),
                                               int(day.get("start", 0)), int(day.get("end", 0)))
            else:
                return jsonify(error="Give code, or identifier with day {start, end}."), 400
        except arrivals.NotFound as e:
            return jsonify(error=str(e), reason=e.reason), 404
        except (TypeError, ValueError):
            return jsonify(error="day.start and day.end must be whole seconds since 1970."), 400
        return jsonify(arrival=found.as_json(form_url))

    @app.post("/api/v1/arrivals/<invitation_id>/arrived")
    def arrived(invitation_id: str):
        body = request.get_json(silent=True) if request.is_json else None
        if not (isinstance(body, dict) and isinstance(body.get("kiosk"), str) and isinstance(body.get("admission"), str)
                and body["kiosk"] and body["admission"]):
            return jsonify(error="The body must be {\"kiosk\": ..., \"admission\": ...}."), 400
        try:
            at = arrivals.arrive(site, invitation_id[:32], body["kiosk"], body["admission"])
        except arrivals.NotFound as e:
            return jsonify(error=str(e), reason=e.reason), 404 if e.reason == "unknown" else 409
        log.info("invitation %s arrived at kiosk %s", invitation_id[:32], body["kiosk"][:64])
        return jsonify(arrived_at=at)

    @app.post("/api/v1/tickets")
    def number():
        """The next number of a queue for a kiosk's ticket (docs/site.md)."""
        try:
            admission, kiosk, queue = tickets.parse_reservation(request.get_json(silent=True))
        except tickets.TicketError as e:
            return jsonify(error=str(e)), 400
        number = tickets.reserve(site, admission, kiosk, queue)
        return jsonify(number=number, wait_min=waiting.estimate_wait(site, queue) or None), 201

    @app.put("/api/v1/tickets/<admission_id>")
    def register(admission_id: str):
        """A kiosk's ticket on the waiting list, once (a retry answers the same)."""
        try:
            ticket = tickets.parse_registration(admission_id, request.get_json(silent=True))
        except tickets.TicketError as e:
            return jsonify(error=str(e)), 400
        added = tickets.register(site, ticket)
        if added:
            log.info("ticket %s of kiosk %s on the waiting list", ticket.number, ticket.kiosk_id)
        return jsonify(number=ticket.number, added=added)

    @app.get("/peer/incidents")
    def peer_incidents():
        """The site's incidents as a kiosk's peer API lists its own (kiosk.desk.peers), so that a desk page whose
        ``desk.peers`` names this listener shows them beside the kiosks'; nothing personal in them."""
        rows = [{"id": r["id"], "kiosk_id": settings.site.id, "kind": r["kind"], "severity": r["severity"],
                 "status": r["status"], "detail": r["detail"], "taken_by": r["taken_by"] or "",
                 "created_at": datetime.fromtimestamp(r["created_at"], UTC).isoformat(timespec="seconds"),
                 "admission_id": "", "queue_number": "", "admission_cancelled": ""}
                for r in delivery.open_incidents(site)]
        return jsonify(kiosk=settings.site.id, reprint_kinds=[], incidents=rows)

    @app.post("/peer/incidents/<int:incident_id>/<action>")
    def peer_act(incident_id: int, action: str):
        """Take or resolve one, as "<member> via desk <kiosk>" (the desk page signed the member in)."""
        member, via = request.form.get("member", "").strip(), request.form.get("via", "").strip()
        if action not in ("take", "resolve"):
            abort(404)
        if not all(0 < len(text) <= 64 and text.isprintable() for text in (member, via)):
            abort(400, "member and via: the member of staff and the desk's kiosk.")
        if not delivery.act_on_incident(site, incident_id, action, f"{member} via desk {via}",
                                        request.form.get("how", "done")[:40], request.form.get("note", "")[:500]):
            return jsonify(error=MSG_GONE), 409
        log.info("site incident %d: %s by a member of staff via desk %s", incident_id, action, via[:64])
        return jsonify(message=MSG_TAKEN if action == "take" else MSG_RESOLVED)

    return app
