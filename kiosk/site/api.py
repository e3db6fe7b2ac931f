"""The site listener: the APIs for the site network, never published to the internet.

``POST /api/v1/invitations`` (docs/site.md): the hospital's appointment system, IT or an integration engine
makes one invitation per appointment, with the bearer token of ``site.api_token_file``. ``/api/v1/arrivals``:
the kiosks find a pre-checked patient by arrival code or card and mark them arrived, with the site's shared
secret (``desk.peer_secret_file``, as the desk pages' peer API). Answers are JSON; an error is
``{"error": "<one sentence>"}``.
"""

from __future__ import annotations

import hmac
import logging

from flask import Flask, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import Catalogs
from kiosk.site import arrivals, invitations, mail
from kiosk.site.db import SiteDb

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def create_app(site: SiteDb, settings, *, api_token: str, site_secret: str = "") -> Flask:
    """The site listener's app.

    :param api_token: the invitation API's bearer token ("" = no invitation API)
    :param site_secret: the site's shared secret, the kiosks' bearer token ("" = no kiosk API)
    """
    from kiosk.checkin import forms
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY)
    default_language = settings.kiosk.languages[0]
    form_url = forms.load(settings.forms.intake).url
    catalogs = Catalogs(SUPPORTED_LANGUAGES)

    @app.before_request
    def authorise():
        kiosks = request.path.startswith("/api/v1/arrivals")
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

    return app
