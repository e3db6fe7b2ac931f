"""Shared fixtures: ``pcscd`` (does nothing until a test asks for it), ``tls_certificate`` and ``browser``;
and the store key of the session."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import Unavailable, chromium
from processes import stop

VPCD_READER = "Virtual PCD 00 00"    # slot 0 of the vsmartcard-vpcd driver (its reader.conf)
VPCD_PORT = 35963
STARTUP_DEADLINE = 10.0              # seconds for pcscd to list the vpcd reader
INSTALL_HINT = "`make test` installs the Debian packages pcscd and vsmartcard-vpcd"

# Every store opened through the config (kiosk.store.opening.open_store: the CLI, the UI tests' apps, the
# desk, the sync worker, and the `kiosk` processes the tests start, which inherit it) is encrypted with this
# key, as on a kiosk with store.encryption = sqlcipher; tests that open such a store themselves pass it.
STORE_KEY = os.environ["KIOSK_STORE_KEY"] = secrets.token_hex(32)

# The processes the tests start (UI scripts, peers) import the shared peers and fakes as pytest does.
SUPPORT = str(Path(__file__).resolve().parent / "support")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SUPPORT, os.environ.get("PYTHONPATH")) if p)


@dataclass
class Pcscd:
    """A running pcscd with the vpcd driver: connect a ``tests.vcard.Vpcd`` to ``port`` and the card
    shows up in ``reader_name``. ``log`` is pcscd's output when this session started it."""

    reader_name: str
    port: int
    started_here: bool
    log: Path | None = None
    process: subprocess.Popen | None = None

    def restart(self) -> None:
        """Stop the pcscd this session started and start a new one (as after a crash or an upgrade)."""
        assert self.started_here and self.process is not None, "only a pcscd started by the tests"
        stop(self.process)
        self.process = _launch(self.log)


def _pcscd_running() -> bool:
    """Like ``pgrep -x pcscd`` (falls back to /proc when pgrep is missing)."""
    if shutil.which("pgrep"):
        return subprocess.run(["pgrep", "-x", "pcscd"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "pcscd":
                return True
        except OSError:
            continue
    return False


def _pcscd_binary() -> str | None:
    return shutil.which("pcscd") or next(
        (p for p in ("/usr/sbin/pcscd", "/usr/local/sbin/pcscd") if os.access(p, os.X_OK)), None)


def _reader_names() -> list[str]:
    from smartcard.Exceptions import SmartcardException
    from smartcard.pcsc.PCSCExceptions import BaseSCardException
    from smartcard.System import readers
    try:
        return [str(r) for r in readers()]
    except (SmartcardException, BaseSCardException):   # no service yet (0x8010001D) and the like
        return []


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _start(log_path: Path) -> subprocess.Popen:
    binary = _pcscd_binary()
    if binary is None:
        pytest.fail(f"pcscd is not installed and none is running; {INSTALL_HINT}", pytrace=False)
    with open(log_path, "ab") as log:
        return subprocess.Popen([binary, "--foreground"], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_reader(process: subprocess.Popen | None, log_path: Path | None) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while VPCD_READER not in _reader_names():
        if process is not None and process.poll() is not None:
            pytest.fail(f"pcscd exited with status {process.returncode} at start-up:\n"
                        f"{_tail(log_path)}", pytrace=False)
        if time.monotonic() > deadline:
            where = f"pcscd log:\n{_tail(log_path)}" if log_path else "a pcscd was already running"
            pytest.fail(f"no reader {VPCD_READER!r} after {STARTUP_DEADLINE:.0f} s (readers: "
                        f"{_reader_names()}); is the vpcd driver installed "
                        f"(/etc/reader.conf.d/vpcd)? {INSTALL_HINT}. {where}", pytrace=False)
        time.sleep(0.1)


PORT_BUSY_DEADLINE = 90.0            # a closed connection can hold the port in TIME_WAIT for 60 s


def _launch(log_path: Path) -> subprocess.Popen:
    """Start pcscd and wait for the vpcd reader. When the driver finds its port still held (a connection
    that just closed, or an outgoing one the system gave that port number), start it again a little later."""
    deadline = time.monotonic() + PORT_BUSY_DEADLINE
    while True:
        process = _start(log_path)
        try:
            _wait_for_reader(process, log_path)
            return process
        except pytest.fail.Exception:
            stop(process)
            if "Address already in use" not in _tail(log_path, 5) or time.monotonic() > deadline:
                raise
            time.sleep(2)


def pytest_collection_modifyitems(items):
    """The tests with a pcscd first: its vpcd driver listens on a fixed port, which later tests' outgoing
    connections might otherwise be given by the system while it is not yet taken."""
    items.sort(key=lambda item: "pcscd" not in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory):
    """A pcscd with the vpcd reader driver: the one already running, else ``pcscd --foreground``
    started here (log in a temporary folder) and stopped at the end of the session."""
    service = Pcscd(VPCD_READER, VPCD_PORT, started_here=False)
    if not _pcscd_running():
        service.log = tmp_path_factory.mktemp("pcscd") / "pcscd.log"
        service.process = _launch(service.log)
        service.started_here = True
    try:
        if service.process is None:
            _wait_for_reader(None, None)
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


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium at desktop size (tests/support/browser.py), shared by the tests of a module:
    starting one takes a while."""
    try:
        with chromium(tmp_path_factory.mktemp("chromium")) as driver:
            yield driver
    except Unavailable as e:
        pytest.fail(str(e), pytrace=False)
