"""The ``kiosk`` command: thin subcommands over the library (docs/cli.md, the command-line contract).

Exit codes: 0 ok, 1 the kiosk itself (doctor: permissions, store, disk, clock), 2 usage or config error,
3 device not found, 4 timed out waiting for a card, 5 unsupported card, 6 card data invalid, 7 card removed
during the read, 8 printer fault, 9 hospital system unreachable or refused.

``parser``: the argparse tree; ``run``, ``demo``, ``devices``, ``sync`` and ``staff``: the subcommands,
on ``common`` (exit codes, ``CommandError``, settings, store); ``privileges``: a command started as root goes
on as the owner of kiosk.data_dir.
"""

from __future__ import annotations

import gc
import logging
import os
import sys

from kiosk import config
from kiosk.cli import parser
from kiosk.cli.common import EXIT_USAGE, CommandError
from kiosk.cli.privileges import run_as_data_owner
from kiosk.cli.run import cmd_run
from kiosk.ops import logs


def main(argv: list[str] | None = None) -> int:
    args = parser.build().parse_args(argv)
    args.debug = bool(args.debug)
    if args.func is not cmd_run:
        gc.enable()          # paused by the `kiosk` command while the modules loaded (kiosk.__main__)
    # INFO until the config is read (its errors come first), then settings.log.level (load_settings).
    logs.setup(debug=args.debug)
    umask = os.umask(0o077)  # everything the kiosk writes is its user's only (the store: 0600, its folder 0700)
    try:
        run_as_data_owner(args)
        return args.func(args)
    except (CommandError, config.ConfigError) as e:
        if args.debug:
            logging.exception("command failed")
        print(f"{logs.priority_prefix(logging.ERROR)}kiosk: {e}", file=sys.stderr)
        return getattr(e, "code", EXIT_USAGE)
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(umask)      # for a caller that runs main() in its own process (the tests)
