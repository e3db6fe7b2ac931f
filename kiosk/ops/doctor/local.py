"""The rows about this machine and the kiosk's own data: store, outbox, disk and clock."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from kiosk import times
from kiosk.config import Settings
from kiosk.ops.doctor.output import EXIT_KIOSK, Row, fail, ok, warn
from kiosk.store.opening import STORE_FILE

DISK_FAIL_BYTES = 1 << 30               # less free than this on data_dir's filesystem: fail
DISK_WARN_BYTES = 4 << 30               # ... than this: warn
OUTBOX_WARN_AGE_S = 3600.0              # an admission waiting longer than this for the hospital: warn
# adjtimex(2): the clock state TIME_ERROR, and the status bit STA_UNSYNC (include/uapi/linux/timex.h).
TIME_ERROR, STA_UNSYNC = 5, 0x0040


def check_store(settings: Settings) -> Row:
    """The store opens with its key, is migrated, and takes a write transaction. It is looked at, never
    migrated: a kiosk of an older version may be running on it."""
    from kiosk.store import DB_ERRORS, StoreLocked, migrations, read_key
    from kiosk.store.opening import open_store
    where = settings.data_path / STORE_FILE
    try:
        if not where.exists():
            read_key(settings.store)            # the kiosk could not make it without
            return warn("store", f"There is no store yet ({where}): the kiosk makes it when it first starts; if it "
                                 "has run before, check kiosk.data_dir.")
        store = open_store(settings, migrate=False)
    except StoreLocked as e:
        return fail("store", str(e), EXIT_KIOSK)
    except DB_ERRORS as e:
        return fail("store", f"The store {where} cannot be used ({e}): move it aside and restore the last backup.",
                    EXIT_KIOSK)
    except OSError as e:
        return fail("store", f"The store {where} cannot be opened ({e.strerror or e}): check the owner and mode of "
                             f"{settings.kiosk.data_dir}.", EXIT_KIOSK)
    try:
        pending = [m.name for m in migrations.pending(store.db)]
        if pending:
            return fail("store", f"The store {where} lacks the migrations {', '.join(pending)} of this version: the "
                                 "kiosk brings it up to date when it starts: systemctl restart kiosk (after an update, "
                                 "once deploy/install.sh has finished).", EXIT_KIOSK)
        try:
            store.db.execute("BEGIN IMMEDIATE")     # takes the write lock, as every write of the kiosk does
            store.db.conn.rollback()
        except DB_ERRORS as e:
            return fail("store", f"The store {where} cannot be written ({e}): check the free space, the owner and "
                                 f"mode of {settings.kiosk.data_dir}, and for a process holding a lock on it.", EXIT_KIOSK)
        applied = len(store.applied_migrations())
        if not store.encrypted:
            return warn("store", f"{where} takes writes and is up to date, but it is not encrypted (store.encryption "
                                 "= none): whoever holds the disk can read the admissions; use sqlcipher with a key.")
        return ok("store", f"{where} opens with its key (SQLCipher), takes writes and has all {applied} migrations.")
    finally:
        store.close()


def check_outbox(settings: Settings) -> Row:
    """How many admissions wait to be delivered, for how long, and how many the hospital refused."""
    from kiosk.store import DB_ERRORS, StoreLocked, migrations
    from kiosk.store.opening import open_store
    if not (settings.data_path / STORE_FILE).exists():
        return ok("outbox", "Nothing waits to be delivered (there is no store yet).")
    try:
        store = open_store(settings, migrate=False)
    except (StoreLocked, OSError, *DB_ERRORS) as e:
        return warn("outbox", f"Not known: the store does not open ({type(e).__name__}; see the store row).")
    try:
        if migrations.pending(store.db):
            return warn("outbox", "Not known: the store is not up to date (see the store row).")
        figures = store.outbox_figures()
        transport = settings.hospital.transport
        elsewhere = store.undelivered_elsewhere(transport) if transport != "none" else 0
    finally:
        store.close()
    return outbox_row(figures["pending"], figures["dead"], figures["oldest_pending_at"], elsewhere,
                      datetime.now(timezone.utc))


def outbox_row(pending: int, dead: int, oldest_at: str, elsewhere: int, now: datetime,
               warn_age_s: float = OUTBOX_WARN_AGE_S) -> Row:
    """The outbox row from the store's figures (``oldest_at``: ISO time of the oldest pending, "" if none)."""
    problems = []
    found = "Nothing waits to be delivered." if not pending else f"{pending} admission(s) wait to be delivered"
    if pending:
        age_s = (now - times.moment(oldest_at)).total_seconds()
        found += f", the oldest for {_duration(age_s)}."
        if age_s > warn_age_s:
            problems.append("Check the hospital row and that the sync runs (journalctl -u kiosk -u kiosk-sync).")
    if dead:
        problems.append(f"{dead} admission(s) were refused by the hospital system and wait for staff (desk page; "
                        "kiosk sync --once --retry-refused once the cause is fixed).")
    if elsewhere:
        problems.append(f"{elsewhere} admission(s) wait for a hospital.transport no longer configured.")
    return warn("outbox", " ".join([found, *problems])) if problems else ok("outbox", found)


def _duration(seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def check_disk(settings: Settings) -> Row:
    """Free space on the filesystem of kiosk.data_dir (the nearest folder that exists)."""
    where = settings.data_path.absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    return disk_row(shutil.disk_usage(where).free, where)


def disk_row(free: int, where: Path, fail_below: int = DISK_FAIL_BYTES, warn_below: int = DISK_WARN_BYTES) -> Row:
    """The disk row for ``free`` bytes free on the filesystem of ``where``."""
    found = f"{free / (1 << 30):.1f} GiB free on the filesystem of {where}"
    if free < fail_below:
        return fail("disk", f"Only {found}: the store needs room to take admissions; free space (journalctl "
                            "--vacuum-size, old packages).", EXIT_KIOSK)
    if free < warn_below:
        return warn("disk", f"{found}: free some space soon.")
    return ok("disk", f"{found}.")


class _Timex(ctypes.Structure):
    """struct timex of glibc (sys/timex.h), with its padding."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_padding", ctypes.c_int * 11)]


def kernel_clock() -> tuple[int, int]:
    """(clock state, status bits) from adjtimex(2) with modes 0: reads only, needs no privilege and no systemd.

    :raises OSError: the call failed
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    timex = _Timex(modes=0)
    state = libc.adjtimex(ctypes.byref(timex))
    if state == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return state, timex.status


def clock_row(state: int, status: int) -> Row:
    """The clock row from what adjtimex(2) returned: TIME_ERROR or STA_UNSYNC mean "not synchronised"."""
    if state == TIME_ERROR or status & STA_UNSYNC:
        return fail("clock", "The system clock is not synchronised with a time server: admissions carry the time and "
                             "TLS needs it right; enable NTP (systemctl enable --now systemd-timesyncd, or chrony) and "
                             "let it reach a time server.", EXIT_KIOSK)
    return ok("clock", "The system clock is synchronised with a time server (the kernel says so).")


def check_clock() -> Row:
    try:
        state, status = kernel_clock()
    except OSError as e:
        return warn("clock", f"The kernel does not say whether the clock is synchronised ({e.strerror}): check "
                             "timedatectl or chronyc tracking.")
    return clock_row(state, status)
