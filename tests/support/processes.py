"""Ending a process a test or benchmark started (pcscd, Xvfb, the kiosk), and waiting for what one does."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds; reaped either way."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition, what: str, timeout: float = 30.0):
    """What ``condition()`` gives once it is truthy, asked every 0.1 s; the test fails after ``timeout`` s
    saying ``what`` did not happen."""
    import time

    import pytest
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s")
