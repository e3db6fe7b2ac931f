"""``kiosk site serve``: the patient listener and the site listener, each a cheroot server, over one database,
the delivery of finished pre-check-ins to the hospital system (kiosk.site.delivery), the waiting list's
changes heard from other instances (kiosk.site.events, on PostgreSQL), and the housekeeping that deletes
expired invitations, spent rate-limit counters and old wrong-PIN counts of unknown names."""

from __future__ import annotations

import ipaddress
import logging
import threading

from kiosk.config import SUPPORTED_LANGUAGES, read_peer_secret
from kiosk.i18n import Catalogs
from kiosk.serving import WsgiServer
from kiosk.checkin import forms
from kiosk.site import api, arrivals, delivery, events, invitations, lobby, metrics, patient, turns
from kiosk.site.db import SiteDb
from kiosk.site.hub import Hub
from kiosk.site.staff import SiteStaff

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 60.0
# The site listener's threads: the kiosks' and the appointment system's calls, the staff pages, and one for
# each display or staff page connected to its event stream (docs/operations.md: at most ~100 at once).
SITE_THREADS = 128
LOBBY_PATHS = ("/display", "/staff", "/favicon.ico")     # (a browser asks the last of every page)


def by_path(api_app, lobby_app, metrics_app):
    """The site listener's app: the lobby's pages under LOBBY_PATHS, the figures at /metrics, the APIs everywhere
    else."""
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        return (lobby_app if path.startswith(LOBBY_PATHS) else api_app)(environ, start_response)
    return app


class TrustedProxies:
    """WSGI middleware: ``X-Forwarded-For/-Proto/-Host`` are believed only from the configured proxies (one
    hop, werkzeug's ProxyFix) and dropped from anyone else, so a patient cannot pose as another address or
    as HTTPS."""

    def __init__(self, app, proxies: tuple[str, ...]):
        from werkzeug.middleware.proxy_fix import ProxyFix
        self.app, self.fixed = app, ProxyFix(app, x_for=1, x_proto=1, x_host=1)
        self.proxies = {ipaddress.ip_address(p) for p in proxies}

    def __call__(self, environ, start_response):
        try:
            trusted = ipaddress.ip_address(environ.get("REMOTE_ADDR", "")) in self.proxies
        except ValueError:
            trusted = False
        if trusted:
            return self.fixed(environ, start_response)
        for key in [k for k in environ if k.startswith("HTTP_X_FORWARDED_")]:
            del environ[key]
        return self.app(environ, start_response)


class SiteService:
    """Both listeners and the housekeeping, started; ``stop()`` ends them."""

    def __init__(self, site: SiteDb, settings):
        s = settings.site
        token = read_peer_secret(s.api_token_file) if s.api_token_file else ""
        secret = read_peer_secret(settings.desk.peer_secret_file) if settings.desk.peer_secret_file else ""
        self.site = site
        # Loaded once for the pages, the kiosk API and the delivery.
        form, catalogs = forms.load(settings.forms.intake), Catalogs(SUPPORTED_LANGUAGES)
        self.patient = WsgiServer(TrustedProxies(patient.create_app(site, settings, catalogs=catalogs, form=form),
                                                 s.trusted_proxies),
                                  bind=s.patient_bind, port=s.patient_port, what="patient listener",
                                  thread="site-patient", threads=8)
        # The lobby's pages (displays) beside the APIs on the site listener; their event streams each hold one of
        # its threads while connected.
        self.hub = Hub()
        site.listeners.append(self.hub.tell)
        self.lobby = lobby.create_app(site, settings, hub=self.hub, catalogs=catalogs)
        self.api = WsgiServer(by_path(api.create_app(site, settings, api_token=token, site_secret=secret, form=form,
                                                     catalogs=catalogs), self.lobby, metrics.metrics_app(site, settings)),
                              bind=s.site_bind, port=s.site_port, tls_cert=s.tls_cert, tls_key=s.tls_key,
                              what="site listener", thread="site-api", threads=SITE_THREADS)
        self.window_s, self.retention_s = s.limit_window_s, settings.store.retention_h * 3600
        self._stopping = threading.Event()
        self._housekeeping = threading.Thread(target=self._tidy, name="site-housekeeping", daemon=True)
        self.delivery = delivery.delivery_thread(site, settings, form)
        # Instances on one PostgreSQL database hear each other's changes of the waiting list (kiosk.site.events).
        self.listener = events.Listener(site) if site.postgres else None
        self.staff = SiteStaff(site)
        self.turns = turns.turn_mails_thread(site, settings, catalogs, self.hub)

    def start(self) -> "SiteService":
        self.patient.start()
        try:
            self.api.start()
        except BaseException:
            self.patient.stop()
            raise
        self._housekeeping.start()
        if self.delivery:
            self.delivery.start()
        if self.listener:
            self.listener.start()
        if self.turns:
            self.turns.start()
        return self

    def _tidy(self) -> None:
        while not self._stopping.is_set():
            try:
                gone = invitations.wipe_expired(self.site) + arrivals.wipe_arrived(self.site, self.retention_s)
                self.site.forget_limits(self.window_s)
                self.staff.forget_tries()
                turns.forget_told(self.site)
                if gone:
                    log.info("%d invitations deleted (expired, or arrived store.retention_h ago)", gone)
            except Exception:                  # the database away for a moment: the next round tries again
                log.warning("housekeeping failed", exc_info=True)
            self._stopping.wait(HOUSEKEEPING_S)

    def stop(self) -> None:
        self._stopping.set()
        self.hub.stop()                          # the event streams end, so the listener can stop
        if self.delivery:
            self.delivery.stop()
        if self.listener:
            self.listener.stop()
        if self.turns:
            self.turns.stop()
        self.patient.stop()
        self.api.stop()
        self._housekeeping.join(timeout=5)
        self.site.dispose()
