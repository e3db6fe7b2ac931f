"""Started as root, a command goes on as the owner of kiosk.data_dir (``run_as_data_owner``)."""

from __future__ import annotations

import os

from kiosk import config
from kiosk.cli.common import CommandError
from kiosk.cli.demo import cmd_demo


def run_as_data_owner(args) -> None:
    """Started as root (IT's `sudo kiosk staff add`, `doctor`, `sync --once`) with a data_dir that
    belongs to another user (the kiosk's): go on as that user, with its groups, so that no file in data_dir
    ends up root's and unreadable to the kiosk. The store key is read first, while root may still read a
    root-only key file, and handed on in KIOSK_STORE_KEY. The demo stays as it is: it writes nothing into
    data_dir (its store is a temporary folder)."""
    if os.geteuid() != 0 or args.func is cmd_demo:
        return
    import pwd

    from kiosk.store import KEY_ENV, StoreLocked, read_key
    try:
        settings = args.settings = config.load(config.config_path(args.config))   # read once: load_settings
    except config.ConfigError:
        return                   # the command itself says what is wrong with the config (doctor: in its table)
    try:
        owner = settings.data_path.stat()
    except OSError:
        return                   # not there yet: the command makes it (or says why it cannot)
    if owner.st_uid == 0:
        return
    try:
        key = read_key(settings.store)
    except StoreLocked:
        key = None               # the command says so if it needs the store
    if key:
        os.environ[KEY_ENV] = key
    try:
        try:
            user = pwd.getpwuid(owner.st_uid)
            os.initgroups(user.pw_name, user.pw_gid)
            gid = user.pw_gid
        except KeyError:         # no such user in /etc/passwd: its ids only
            os.setgroups([])
            gid = owner.st_gid
        os.setgid(gid)
        os.setuid(owner.st_uid)
    except OSError as e:
        raise CommandError(f"Started as root, the kiosk cannot go on as the owner of {settings.data_path} "
                           f"(uid {owner.st_uid}): {e.strerror or e}.") from None
