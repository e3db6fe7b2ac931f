"""A real PostgreSQL for the tests, from Debian's package: ``initdb`` into a temporary folder, ``pg_ctl`` on
a free port of 127.0.0.1 (and a socket in that folder), one fresh database per test; stopped and deleted at
the end.

PostgreSQL refuses to run as root: as root the server runs as Debian's ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

INSTALL_HINT = "`make test` installs Debian's postgresql (deploy/system-packages.sh)"


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """One server; ``database()`` makes a new empty database and gives its URL."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise RuntimeError(f"no PostgreSQL server programs: {INSTALL_HINT}")
        # In /var/tmp, not $TMPDIR: that may be a private folder of root's the postgres user cannot enter.
        self.folder = Path(tempfile.mkdtemp(prefix="kiosk-pg-", dir="/var/tmp"))
        self.port = _free_port()
        self._as = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._count = 0

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as, *command], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{command[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> "Postgres":
        data = self.folder / "data"
        self._run(self.initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run(self.pg_ctl, "-D", str(data), "-l", str(self.folder / "log"), "-w", "-t", "60", "start", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off")
        return self

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def database(self) -> str:
        """A new, empty database: its URL, as ``site.database_url`` takes it."""
        import psycopg
        self._count += 1
        name = f"site_{self._count}"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def log(self) -> str:
        try:
            return (self.folder / "log").read_text()[-3000:]
        except OSError:
            return ""
