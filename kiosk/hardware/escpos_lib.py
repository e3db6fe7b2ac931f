"""python-escpos, loaded once with its profile cache in the kiosk's own folder: the printer classes
(``escpos_module``) and the capability profiles it knows (``known_profiles``)."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path


def escpos_module():
    """python-escpos's printer classes. Its profile cache (a pickle it loads) goes to one private folder
    instead of a new temporary one per start; when that folder is not ours alone, to a new one."""
    if "escpos.capabilities" not in sys.modules:
        cache = Path(tempfile.gettempdir()) / f"kiosk-escpos-{os.getuid()}"
        with contextlib.suppress(FileExistsError):
            cache.mkdir(mode=0o700)
        st = os.lstat(cache)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022:
            os.chmod(cache, 0o700)       # nobody else could write to it: it is ours alone
            os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(cache))
    from escpos import printer
    return printer


def known_profiles() -> frozenset[str]:
    """The capability profiles (printer models) python-escpos knows: the config's check and open_printer's."""
    escpos_module()                     # its profile cache in the kiosk's own folder
    from escpos.capabilities import CAPABILITIES
    return frozenset(CAPABILITIES["profiles"])
