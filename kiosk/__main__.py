"""The ``kiosk`` command (``python -m kiosk`` too): kiosk.cli.main, with Python's cyclic garbage collector
paused while the modules load. Loading them makes a few hundred thousand objects and frees next to none, so
the collector's passes over them only delay the welcome screen. ``kiosk run`` resumes it after the first
frame, with what start-up made frozen (``gc.freeze``: kept for the process's life, never scanned again);
every other command resumes it once its arguments are read (kiosk.cli.main)."""

import gc


def main() -> int:
    gc.disable()
    from kiosk.cli import main as cli_main
    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
