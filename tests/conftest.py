"""Shared fixtures: ``pcscd`` (does nothing until a test asks for it), ``tls_certificate`` and ``browser``;
and the store key of the session."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pcsc_service
import pytest
from hypothesis import settings
from browser import Unavailable, chromium
from processes import stop


# Every store opened through the config (kiosk.store.opening.open_store: the CLI, the UI tests' apps, the
# desk, the sync worker, and the `kiosk` processes the tests start, which inherit it) is encrypted with this
# key, as on a kiosk with store.encryption = sqlcipher; tests that open such a store themselves pass it.
STORE_KEY = os.environ["KIOSK_STORE_KEY"] = secrets.token_hex(32)

# No timed assertions: Hypothesis's per-example deadline (200 ms) fails an example that a busy shared machine
# merely slowed down. What an example checks is kept; how long it took is not a test's business (benchmarks/).
settings.register_profile("kiosk", deadline=None)
settings.load_profile("kiosk")

# The processes the tests start (UI scripts, peers) import the shared peers and fakes as pytest does.
SUPPORT = str(Path(__file__).resolve().parent / "support")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SUPPORT, os.environ.get("PYTHONPATH")) if p)


def pytest_collection_modifyitems(items):
    """The tests with a pcscd first: its vpcd driver listens on a fixed port, which later tests' outgoing
    connections might otherwise be given by the system while it is not yet taken."""
    items.sort(key=lambda item: "pcscd" not in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory):
    """A pcscd with the vpcd reader driver (tests/support/pcsc_service.py): the one already running, else
    ``pcscd --foreground`` started here (log in a temporary folder) and stopped at the end of the session."""
    try:
        service = pcsc_service.ready(tmp_path_factory.mktemp("pcscd") / "pcscd.log")
    except pcsc_service.PcscdUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield service
    finally:
        if service.process is not None:
            stop(service.process)


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory) -> tuple[Path, Path]:
    """(certificate, key) PEM files of a throwaway self-signed certificate for 127.0.0.1, made with
    the openssl command (Debian's openssl, which ca-certificates brings)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def store_key() -> str:
    """The session's store key (64 hexadecimal digits): what ``kiosk.store.opening.open_store`` reads in these tests."""
    return STORE_KEY


@pytest.fixture(scope="session")
def r4():
    """The FHIR R4 validator (tests/support/fhirvalidator.py), one process for the session."""
    from fhirvalidator import R4Validator, Unavailable
    try:
        validator = R4Validator()
    except Unavailable as e:
        pytest.fail(str(e), pytrace=False)
    yield validator
    validator.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium at desktop size (tests/support/browser.py), shared by the tests of a module:
    starting one takes a while."""
    try:
        with chromium(tmp_path_factory.mktemp("chromium")) as driver:
            yield driver
    except Unavailable as e:
        pytest.fail(str(e), pytrace=False)
