"""What every subcommand uses: the exit codes, the error that ends a command with one sentence, the
settings, the store, and the housekeeping thread of the long-running ones."""

from __future__ import annotations

import os

from kiosk import config
from kiosk.ops import logs

EXIT_OK, EXIT_USAGE, EXIT_NO_DEVICE, EXIT_TIMEOUT, EXIT_PRINTER, EXIT_HOSPITAL = 0, 2, 3, 4, 8, 9


class CommandError(Exception):
    """Ends the command with one sentence on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def load_settings(args) -> config.Settings:
    settings = getattr(args, "settings", None) or config.load(config.config_path(args.config))
    logs.set_level(settings.log.level, debug=args.debug)
    return settings


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def start_housekeeping(settings: config.Settings, open_store, after_s: float = 0.0, **devices):
    """The retention purge and the metrics, started on a thread of their own, which calls ``open_store`` for
    its own store connection; its first round ``after_s`` from now; ``devices`` as
    kiosk.ops.housekeeping.Housekeeping takes them."""
    from kiosk.ops.housekeeping import Housekeeping
    return Housekeeping(settings, open_store, **devices).start(after_s=after_s)


def open_store(settings: config.Settings, **options):
    from kiosk.store import DB_ERRORS, StoreLocked
    from kiosk.store.opening import STORE_FILE, open_store
    try:
        return open_store(settings, **options)
    except StoreLocked as e:
        raise CommandError(str(e)) from None
    except DB_ERRORS as e:
        raise CommandError(f"The store {settings.data_path / STORE_FILE} cannot be used: {e}.") from None
    except OSError as e:
        raise CommandError(f"The store in {settings.kiosk.data_dir} cannot be opened: {e.strerror or e}; "
                           "check kiosk.data_dir.") from None
