"""The pcscd the tests and the soak benchmark play cards into: Debian's pcscd with the vsmartcard-vpcd driver,
the one running or one started here, with the vpcd reader listed before it is handed out."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from processes import stop

VPCD_READER = "Virtual PCD 00 00"    # slot 0 of the vsmartcard-vpcd driver (its reader.conf)
VPCD_PORT = 35963
STARTUP_DEADLINE = 10.0              # seconds for pcscd to list the vpcd reader
PORT_BUSY_DEADLINE = 90.0            # a closed connection can hold the port in TIME_WAIT for 60 s
INSTALL_HINT = "`make test` installs the Debian packages pcscd and vsmartcard-vpcd"


class PcscdUnavailable(RuntimeError):
    """No pcscd with the vpcd reader: the message says why and what to install."""


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


def running() -> bool:
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
        raise PcscdUnavailable(f"pcscd is not installed and none is running; {INSTALL_HINT}")
    with open(log_path, "ab") as log:
        return subprocess.Popen([binary, "--foreground"], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_reader(process: subprocess.Popen | None, log_path: Path | None) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while VPCD_READER not in _reader_names():
        if process is not None and process.poll() is not None:
            raise PcscdUnavailable(f"pcscd exited with status {process.returncode} at start-up:\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            where = f"pcscd log:\n{_tail(log_path)}" if log_path else "a pcscd was already running"
            raise PcscdUnavailable(f"no reader {VPCD_READER!r} after {STARTUP_DEADLINE:.0f} s (readers: "
                                   f"{_reader_names()}); is the vpcd driver installed "
                                   f"(/etc/reader.conf.d/vpcd)? {INSTALL_HINT}. {where}")
        time.sleep(0.1)


def _launch(log_path: Path) -> subprocess.Popen:
    """Start pcscd and wait for the vpcd reader. When the driver finds its port still held (a connection
    that just closed, or an outgoing one the system gave that port number), start it again a little later."""
    deadline = time.monotonic() + PORT_BUSY_DEADLINE
    while True:
        process = _start(log_path)
        try:
            _wait_for_reader(process, log_path)
            return process
        except PcscdUnavailable:
            stop(process)
            if "Address already in use" not in _tail(log_path, 5) or time.monotonic() > deadline:
                raise
            time.sleep(2)


def ready(log_path: Path) -> Pcscd:
    """The pcscd running with the vpcd reader listed, else one started here (its output into ``log_path``).

    :raises PcscdUnavailable: none can be had
    """
    if running():
        _wait_for_reader(None, None)
        return Pcscd(VPCD_READER, VPCD_PORT, started_here=False)
    return Pcscd(VPCD_READER, VPCD_PORT, started_here=True, log=log_path, process=_launch(log_path))
