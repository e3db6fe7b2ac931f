"""Files the kiosk writes whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_whole(path: Path, data: bytes, mode: int) -> None:
    """``path`` holds ``data`` whole, or stays as it was: a fresh temporary file beside it (made with O_EXCL, so
    nothing planted in the folder is followed), given ``mode`` whatever the umask, synced, renamed over ``path``,
    and the folder synced (the rename survives a power cut). Its name starts with a dot and ends in ``.tmp``, so
    whoever reads the folder skips it."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class FileLock:
    """An exclusive lock on a file, for one process (and thread) at a time: ``with FileLock(p) as lock:`` then
    ``lock.try_acquire()`` until it says True. Released when the block ends, or the process dies."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> FileLock:
        self._file = open(self.path, "a")
        return self

    def try_acquire(self) -> bool:
        import fcntl
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def __exit__(self, *_) -> None:
        self._file.close()
