"""``kiosk site serve``: the patient listener and the site listener, each a cheroot server, over one database,
the delivery of finished pre-check-ins to the hospital system (kiosk.site.delivery), and the housekeeping
that deletes expired invitations and spent rate-limit counters."""

from __future__ import annotations

import ipaddress
import logging
import threading

from kiosk.config import SUPPORTED_LANGUAGES, read_peer_secret
from kiosk.i18n import Catalogs
from kiosk.serving import WsgiServer
from kiosk.checkin import forms
from kiosk.site import api, arrivals, delivery, invitations, patient
from kiosk.site.db import SiteDb

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 60.0


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
        self.api = WsgiServer(api.create_app(site, settings, api_token=token, site_secret=secret, form=form,
                                             catalogs=catalogs), bind=s.site_bind, port=s.site_port,
                              tls_cert=s.tls_cert, tls_key=s.tls_key, what="site listener", thread="site-api")
        self.window_s, self.retention_s = s.limit_window_s, settings.store.retention_h * 3600
        self._stopping = threading.Event()
        self._housekeeping = threading.Thread(target=self._tidy, name="site-housekeeping", daemon=True)
        self.delivery = delivery.delivery_thread(site, settings, form)

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
        return self

    def _tidy(self) -> None:
        while not self._stopping.is_set():
            try:
                gone = invitations.wipe_expired(self.site) + arrivals.wipe_arrived(self.site, self.retention_s)
                self.site.forget_limits(self.window_s)
                if gone:
                    log.info("%d invitations deleted (expired, or arrived store.retention_h ago)", gone)
            except Exception:                  # the database away for a moment: the next round tries again
                log.warning("housekeeping failed", exc_info=True)
            self._stopping.wait(HOUSEKEEPING_S)

    def stop(self) -> None:
        self._stopping.set()
        if self.delivery:
            self.delivery.stop()
        self.patient.stop()
        self.api.stop()
        self._housekeeping.join(timeout=5)
        self.site.dispose()
