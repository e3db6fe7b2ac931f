"""A virtual X display of its own (Xvfb, 1280 x 800, GLX for Mesa), for the tests and benchmarks that run
the kiosk as ``kiosk run`` does, through SDL's x11 driver."""

from __future__ import annotations

import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from processes import stop


@contextmanager
def virtual_display(first: int = 120) -> Iterator[str]:
    """Start Xvfb on the first free display number from ``first``; yields its DISPLAY value (":N")."""
    number = next(n for n in range(first, first + 100) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "+extension", "GLX",
                               "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Xvfb did not start (is the xvfb package installed?)")
            time.sleep(0.05)
        yield f":{number}"
    finally:
        stop(server)
