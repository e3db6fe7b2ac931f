"""systemd's service notifications (sd_notify(3)): ``READY=1``, ``WATCHDOG=1``, ``STATUS=...``.

The protocol is one datagram of newline-separated assignments to the AF_UNIX socket named in
$NOTIFY_SOCKET (a path, or ``@name`` in the abstract namespace). sd_notify(3) recommends reimplementing
it rather than linking libsystemd; it is kept this small, with no dependency. Without $NOTIFY_SOCKET (not
started by systemd as ``Type=notify``) every call does nothing.
"""

from __future__ import annotations

import os
import socket


def notify(*assignments: str) -> bool:
    """Tell systemd ``assignments`` (e.g. ``"READY=1"``, ``"STATUS=welcome"``) in one datagram; True when
    it was sent. Never blocks and never raises: a lost ping is followed by the next one."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if len(address) < 2 or address[0] not in "/@":
        return False
    if address[0] == "@":
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
            sock.sendto("\n".join(assignments).encode(), address)
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between two ``WATCHDOG=1`` pings: half of $WATCHDOG_USEC, as sd_watchdog_enabled(3)
    advises; None when systemd watches nothing here.

    $WATCHDOG_PID names the process systemd watches. The kiosk's parent counts too: in kiosk.service the
    compositor (cage) is the main process and starts the kiosk as its child (``NotifyAccess=all``).
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid.isdigit() and int(pid) not in (os.getpid(), os.getppid()):
        return None
    return int(usec) / 2e6

