"""The site service's fixtures: its database on both backends (the embedded SQLCipher file and a real
PostgreSQL from Debian's package), settings, and the service running on free ports of 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import secrets
import socket
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from postgres import Postgres

from kiosk import config


@pytest.fixture(scope="session")
def postgres():
    try:
        server = Postgres().start()
    except RuntimeError as e:
        pytest.fail(str(e))
    yield server
    server.stop()


@pytest.fixture(params=["sqlcipher", "postgresql"])
def backend(request):
    """The database URL of a fresh database: "" (the embedded file) or a new PostgreSQL database."""
    return "" if request.param == "sqlcipher" else request.getfixturevalue("postgres").database()


def _secret_file(path):
    secret = secrets.token_hex(32)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path, secret


@pytest.fixture
def api_token(tmp_path):
    """The invitation API's bearer token (site.api_token_file)."""
    return _secret_file(tmp_path / "api.token")


@pytest.fixture
def site_secret(tmp_path):
    """The site's shared secret (desk.peer_secret_file): the kiosks' bearer token on the kiosk API."""
    return _secret_file(tmp_path / "site.secret")


@pytest.fixture
def make_settings(tmp_path, backend, api_token, site_secret):
    def make(**site) -> config.Settings:
        # Plain HTTP on loopback, as the tests talk to it: with https the session cookie is Secure and a
        # client on http:// does not send it back.
        values = {"public_url": "http://127.0.0.1:8044", "patient_port": 0, "site_port": 0,
                  "database_url": backend, "api_token_file": str(api_token[0]), **site}
        return config.Settings().replace(kiosk=config.KioskSettings(data_dir=str(tmp_path / "data")),
                                         site=config.SiteSettings(**values),
                                         desk=config.DeskSettings(peer_secret_file=str(site_secret[0])))
    return make


@pytest.fixture
def serve(make_settings):
    """Starts a site service (as many as asked, on one database); stopped at the end."""
    from kiosk.site.db import open_site_db
    from kiosk.site.server import SiteService
    running = []

    def start(settings: config.Settings | None = None) -> SiteService:
        settings = settings or make_settings()
        service = SiteService(open_site_db(settings), settings).start()
        running.append(service)
        return service

    yield start
    for service in running:
        service.stop()


@pytest.fixture
def invitation():
    """Makes an invitation request as the API takes it: an appointment tomorrow at 09:30, local time."""
    return _body


def _body(**changes) -> dict:
    start = (datetime.now().astimezone() + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    patient = {"resourceType": "Patient", "name": [{"family": "Yilmaz", "given": ["Ayse"]}],
               "birthDate": "1980-07-14", "telecom": [{"system": "email", "value": "ayse@example.org"}]}
    made = {"appointment": {"id": "appt-1", "start": start.isoformat(), "location": "Cardiology, building B"},
            "patient": patient, "language": "de"}
    made.update(changes)
    return made


class Inbox:
    """What the relay took: (recipients, message) each."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def relay():
    """A real SMTP server on 127.0.0.1 (aiosmtpd): its smtp:// URL and its Inbox."""
    inbox = Inbox()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", inbox
    controller.stop()
