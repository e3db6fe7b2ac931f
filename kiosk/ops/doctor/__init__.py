"""``kiosk doctor``: checks what a kiosk needs, row by row, each with one sentence IT can act on.

Rows, in this order: config, permissions, store, card reader, scanner, one per printer, hospital, site
(the site service; only ever a warning), outbox, disk, clock. A row is ok, warn or fail; nothing of a patient ever appears in one (the outbox row gives
counts and ages only). The exit code is that of the first failing row (docs/cli.md: 2 config, 3 reader,
pcscd, scanner or printer not there, 8 printer fault, 9 hospital system; 1 = the kiosk itself:
permissions, store, disk, clock), 0 when no row fails: warnings do not count.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from kiosk import config
from kiosk.config import Settings
from kiosk.ops.doctor import devices, files, hospital, local
from kiosk.ops.doctor.output import (EXIT_CONFIG, EXIT_HOSPITAL, EXIT_KIOSK, EXIT_NO_DEVICE, Row, exit_code, fail, ok,
                                     report, table, warn)

log = logging.getLogger(__name__)

LOCAL_CHECK_S = 20.0                    # longest a check on this machine may take (store: busy timeout, migrations)
GUARD_S = 3.0                           # added to a network check's own timeouts before it is given up

__all__ = ["run", "guarded", "Row", "exit_code", "report", "table"]


def run(path: Path | None) -> list[Row]:
    """Every check for the config file at ``path`` (None: built-in defaults), in table order. Never raises."""
    try:
        settings = config.load(path)
    except config.ConfigError as e:
        return [fail("config", f"{e} Fix it and run kiosk doctor again: the other checks need the config.", EXIT_CONFIG)]
    if path is None:
        rows = [warn("config", f"No config file was found (no --config, no ${config.CONFIG_ENV}, no "
                               f"{config.DEFAULT_CONFIG_PATH}): built-in defaults; write {config.DEFAULT_CONFIG_PATH} "
                               "from deploy/kiosk.example.toml.")]
    else:
        rows = [ok("config", f"{path} loads and is valid.")]
    for name, check, timeout_s, code in _plan(settings, path):
        rows.append(guarded(name, check, timeout_s, code))
    return rows


def _plan(settings: Settings, path: Path | None) -> list[tuple[str, Callable[[], Row], float, int]]:
    """(row name, check, longest it may take in seconds, exit code when it cannot tell) in table order."""
    h = settings.hospital
    kinds = ("ticket", "wristband") if settings.printer.wristband.uri else ("ticket",)
    return [
        ("permissions", lambda: files.check_permissions(settings, path), LOCAL_CHECK_S, EXIT_KIOSK),
        ("store", lambda: local.check_store(settings), LOCAL_CHECK_S, EXIT_KIOSK),
        ("card reader", lambda: devices.check_reader(settings), LOCAL_CHECK_S, EXIT_NO_DEVICE),
        ("scanner", lambda: devices.check_scanner(settings), LOCAL_CHECK_S, EXIT_NO_DEVICE),
        *((f"{kind} printer", lambda kind=kind: devices.check_printer(settings, kind),
           2 * getattr(settings.printer, kind).timeout_s + GUARD_S, EXIT_NO_DEVICE) for kind in kinds),
        ("hospital", lambda: hospital.check_hospital(settings), 2 * h.timeout_s + GUARD_S, EXIT_HOSPITAL),
        ("site", lambda: hospital.check_site(settings), settings.site.timeout_s + GUARD_S, EXIT_HOSPITAL),
        ("outbox", lambda: local.check_outbox(settings), LOCAL_CHECK_S, EXIT_KIOSK),
        ("disk", lambda: local.check_disk(settings), LOCAL_CHECK_S, EXIT_KIOSK),
        ("clock", local.check_clock, LOCAL_CHECK_S, EXIT_KIOSK),
    ]


def guarded(name: str, check: Callable[[], Row], timeout_s: float, code: int) -> Row:
    """``check()`` on a thread of its own: a check that crashes or hangs is a failing row, not the end of
    the report (a hung one is left behind; its thread does not keep the process alive)."""
    result: list[Row] = []

    def target() -> None:
        try:
            result.append(check())
        except Exception as e:
            log.debug("the %s check failed", name, exc_info=True)
            result.append(fail(name, f"The check itself failed ({type(e).__name__}); run kiosk doctor --debug "
                                     "for the details.", code))

    thread = threading.Thread(target=target, name=f"doctor-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not result:
        return fail(name, f"The check did not finish within {timeout_s:g} seconds; run kiosk doctor --debug "
                          "and look at what it waits for.", code)
    return result[0]
