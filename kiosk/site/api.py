"""The site listener: the APIs for the site network, never published to the internet.

``POST /api/v1/invitations`` (docs/site.md): the hospital's appointment system, IT or an integration engine
makes one invitation per appointment, with the bearer token of ``site.api_token_file``. Answers are JSON;
an error is ``{"error": "<one sentence>"}``.
"""

from __future__ import annotations

import hmac
import logging

from flask import Flask, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from kiosk.site import invitations
from kiosk.site.db import SiteDb

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def create_app(site: SiteDb, settings, *, api_token: str) -> Flask:
    """The site listener's app. :param api_token: the invitation API's bearer token ("" = no invitation API)"""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY)
    default_language = settings.kiosk.languages[0]

    @app.before_request
    def authorise():
        if not api_token:
            abort(404, "This site service has no invitation API (site.api_token_file is not set).")
        sent = request.headers.get("Authorization", "")
        if not (sent.startswith("Bearer ")
                and hmac.compare_digest(sent.removeprefix("Bearer ").encode(), api_token.encode())):
            log.warning("invitation API: a request from %s without the right token", request.remote_addr)
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
        log.info("invitation %s made", invitation.id)
        return jsonify(id=invitation.id, link=invitations.link(settings.site.public_url, token),
                       expires=made.expires.isoformat()), 201

    return app
