"""The lobby's pages on the site listener: the displays (``/display/<name>``: no sign-in, read-only), and the
staff's waiting list (``/staff``: kiosk.site.staffpages).

A display shows the latest calls of its queues (``[queues] displays``), the newest large, readable across a
waiting room: numbers and places, never a name (the site holds none). New calls arrive pushed, as
Server-Sent Events (``/display/<name>/events``), from any instance of the service (kiosk.site.events); the
browser reconnects by itself after a network or server restart and then shows the list as it is. Each new
call plays a chime and the call read aloud in each of the display's languages (``/display/<name>/audio/
<call id>/<lang>.wav``, made by espeak-ng on the server: kiosk.site.announce).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from threading import Lock

from flask import Flask, Response, abort, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.i18n import Catalogs
from kiosk.messages import N_
from kiosk.paths import ASSETS
from kiosk.serving import harden
from kiosk.site import announce, staffpages, waiting
from kiosk.site.db import SiteDb
from kiosk.site.hub import Hub

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024             # a staff page's form: a few short fields
SHOWN = 6                        # calls on a display: the newest large, the five before it
MSG_NO_DISPLAY = N_("There is no display with this name here. The displays are set in the site's configuration "
                    "([queues] displays).")
MSG_NO_CALL = N_("This call is not one of this display's.")
MSG_TOO_LARGE = N_("What was sent is too large.")
# Audio too: the announcements are the page's own (media-src 'self').
DISPLAY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
                  "media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class Announcements:
    """The WAVs of the latest calls, made once each (a display and its neighbours ask for the same)."""

    def __init__(self, settings, catalogs: Catalogs, size: int = 64):
        self.command, self.rate = settings.speech.command, settings.speech.rate_wpm
        self.catalogs, self.size = catalogs, size
        self._made: OrderedDict[tuple[int, str], bytes] = OrderedDict()
        self._lock = Lock()

    def wav(self, call: dict, language: str) -> bytes:
        """:raises announce.NoSpeech"""
        key = (call["id"], language)
        with self._lock:
            if key in self._made:
                return self._made[key]
        made = announce.speak(self.command, self.rate, language,
                              announce.sentence(self.catalogs, language, call["number"], call["counter"]))
        with self._lock:
            self._made[key] = made
            while len(self._made) > self.size:
                self._made.popitem(last=False)
        return made


def create_app(site: SiteDb, settings, *, hub: Hub, catalogs: Catalogs | None = None) -> Flask:
    """The lobby's pages over ``site``; ``hub`` wakes their event streams."""
    catalogs = catalogs or Catalogs(SUPPORTED_LANGUAGES)
    queues = settings.queues
    app = Flask(__name__, template_folder=str(ASSETS / "site" / "templates"),
                static_folder=str(ASSETS / "site" / "static"), static_url_path="/display/static")
    sounds = Announcements(settings, catalogs)
    app.extensions["kiosk_announcements"] = sounds
    app.extensions["kiosk_lobby"] = staffpages.Lobby(site, settings, catalogs, hub)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY)
    app.register_blueprint(staffpages.staff_pages)

    def display_of(name: str):
        display = queues.display(name[:40])
        if display is None:
            abort(404, MSG_NO_DISPLAY)
        return display, display.languages or settings.kiosk.languages[:1]

    read: dict[str, tuple[int, str]] = {}          # display -> (the hub's version it was read at, its calls)

    def calls_json(display) -> str:
        """What the display shows, read once per change for all its streams (fifty TVs, one query)."""
        version = hub.version                      # read before the query: the data is at least this new
        cached = read.get(display.name)
        if cached and cached[0] == version:
            return cached[1]
        shown = waiting.last_calls(site, display.queues, SHOWN)
        data = json.dumps({"calls": [{"id": c["id"], "number": c["number"], "counter": c["counter"]} for c in shown]})
        read[display.name] = (version, data)
        return data

    @app.after_request
    def headers(response):
        cache = response.headers.get("Cache-Control", "")
        harden(response, https=request.is_secure)
        response.headers["Content-Security-Policy"] = DISPLAY_POLICY
        if cache.startswith(("max-age", "private")):       # the sounds: the same call's audio is asked again
            response.headers["Cache-Control"] = cache
        return response

    @app.errorhandler(HTTPException)
    def refused(e: HTTPException):
        language = settings.kiosk.languages[0]
        sentence = e.description if e.code == 404 and e.description in (MSG_NO_DISPLAY, MSG_NO_CALL) else (
            MSG_TOO_LARGE if e.code == 413 else N_("There is no such page here."))
        return render_template("display_message.html", lang=language,
                               text=catalogs.translator(language)(sentence)), e.code

    @app.get("/display/<name>")
    def show(name: str):
        display, languages = display_of(name)
        _ = catalogs.translator(languages[0])
        return render_template(
            "display.html", lang=languages[0], name=display.name, calls=json.loads(calls_json(display))["calls"],
            languages=languages, events=url_for("events", name=display.name),
            chime=url_for("chime"), audio=url_for("audio", name=display.name, call_id=0, language="xx"),
            t={"title": _(N_("Now calling")), "number": _(N_("Number")), "counter": _(N_("Please go to")),
               "sound": _(N_("Turn the sound on")), "offline": _(N_("Reconnecting to the waiting list…")),
               "none": _(N_("No number has been called yet today.")), "earlier": _(N_("Called before"))})

    @app.get("/display/<name>/events")
    def events(name: str):
        display, _languages = display_of(name)
        if not hub.admit():
            return Response("", 503, headers={"Retry-After": "10"})
        return Response(hub.stream(lambda: calls_json(display), "calls"), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/display/<name>/audio/<int:call_id>/<language>.wav")
    def audio(name: str, call_id: int, language: str):
        display, languages = display_of(name)
        call = next((c for c in waiting.last_calls(site, display.queues, SHOWN) if c["id"] == call_id), None)
        if call is None or language not in languages:
            abort(404, MSG_NO_CALL)
        try:
            wav = sounds.wav(call, language)
        except announce.NoSpeech as e:
            log.warning("no announcement of a call: the speech engine failed (%s)", e)
            abort(503)
        return Response(wav, mimetype="audio/wav", headers={"Cache-Control": "private, max-age=600"})

    @app.get("/display/chime.wav")
    def chime():
        return Response(announce.chime(), mimetype="audio/wav", headers={"Cache-Control": "max-age=86400"})

    return app
