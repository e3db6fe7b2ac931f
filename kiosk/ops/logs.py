"""The kiosk's log: one event per line, as logfmt (``key=value``), on stderr.

    ts=2025-05-02T09:14:03.512+02:00 level=info logger=kiosk msg="admission stored queue=A-017"

When stderr is the systemd journal ($JOURNAL_STREAM names stderr's device and inode), a line has no
timestamp (the journal adds its own) and starts with its syslog priority instead, ``<3>`` error, ``<4>``
warning, ``<6>`` info, ``<7>`` debug (sd-daemon(3)), so that ``journalctl -p warning`` works. Values
with spaces, quotes or line breaks are quoted and escaped (``\\n``): an event is always one line, so
one journal entry, tracebacks included.

No personal data at any level: the kiosk's own messages carry queue numbers, codes and exception class
names, never what a patient gave. Exceptions are logged as their class and where they were raised
(``exc_type``, ``exc_where``: code locations only), not their message, which may quote card contents or
what the hospital system answered; the whole traceback only with ``--debug``. Libraries log only from
WARNING (all of them with ``--debug``), except those in ``QUIET``, which stay at WARNING even then.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import traceback
from datetime import datetime

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))   # else 7
# Library loggers that log what patients gave below WARNING: kept at WARNING even with --debug.
QUIET = {
    "urllib3": logging.WARNING,     # DEBUG: every request line, e.g. FHIR searches by the patient's KVNR
}
WHERE_FRAMES = 3                    # how many innermost frames exc_where names
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def quote(value: object) -> str:
    """A logfmt value: as it is when it needs no quotes, else a JSON string (double quotes; backslash, quote,
    line breaks and every other unprintable character escaped), so that it never spans lines."""
    text = str(value)
    if text and all(c.isprintable() and c not in ' ="\\' for c in text):
        return text
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in json.dumps(text, ensure_ascii=False))


def exception_where(tb) -> str:
    """The innermost frames of a traceback as ``file:line function``, innermost first, each followed by its
    caller (`` < ``): code locations, no data."""
    frames = traceback.extract_tb(tb)[-WHERE_FRAMES:]
    return " < ".join(f"{_short(f.filename)}:{f.lineno} {f.name}" for f in reversed(frames))


def _short(path: str) -> str:
    """A module of the kiosk from its package on (``kiosk/ops/metrics.py``), anything else as its last two parts."""
    parts = path.replace("\\", "/").split("/")
    start = len(parts) - 1 - parts[::-1].index("kiosk") if "kiosk" in parts[:-1] else len(parts) - 2
    return "/".join(parts[start:])


class LogfmtFormatter(logging.Formatter):
    """``level``, ``logger``, ``msg``, then the fields the code passed (``extra={...}``), then the exception.

    :param journal: prefix the syslog priority instead of a timestamp (stderr is the journal)
    :param tracebacks: whole tracebacks (``--debug``); else only the exception's class and where
    """

    def __init__(self, *, journal: bool = False, tracebacks: bool = False):
        super().__init__()
        self.journal, self.tracebacks = journal, tracebacks

    def format(self, record: logging.LogRecord) -> str:
        fields = [] if self.journal else [("ts", datetime.fromtimestamp(record.created).astimezone()
                                           .isoformat(timespec="milliseconds"))]
        fields += [("level", record.levelname.lower()), ("logger", record.name),
                   ("msg", record.getMessage().rstrip("\n"))]
        fields += [(key, value) for key, value in vars(record).items()
                   if key not in _STANDARD and not key.startswith("_")]
        if record.exc_info and record.exc_info[0] is not None:
            kind, _error, tb = record.exc_info
            fields.append(("exc_type", kind.__name__))
            if self.tracebacks:
                fields.append(("exc", self.formatException(record.exc_info)))
            elif tb is not None:
                fields.append(("exc_where", exception_where(tb)))
        if record.stack_info and self.tracebacks:
            fields.append(("stack", record.stack_info))
        line = " ".join(f"{key}={quote(value)}" for key, value in fields)
        return f"<{_priority(record.levelno)}>{line}" if self.journal else line


def _priority(levelno: int) -> int:
    return next((p for level, p in PRIORITIES if levelno >= level), 7)


def priority_prefix(levelno: int, stream=None) -> str:
    """For a line written to ``stream`` (default stderr) without the log, e.g. the CLI's one sentence:
    its ``<N>`` priority when the stream is the journal, else ""."""
    return f"<{_priority(levelno)}>" if is_journal(stream or sys.stderr) else ""


def is_journal(stream) -> bool:
    """Whether ``stream`` is the journal: $JOURNAL_STREAM is "<device>:<inode>" of the stream systemd
    connected (systemd.exec(5)); a process whose stderr was redirected elsewhere does not match."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino) == (int(device), int(inode))
    except (ValueError, OSError, AttributeError):       # not set, not numbers, no file behind the stream
        return False


class _Handler(logging.StreamHandler):
    """The handler ``setup`` installs (and replaces when called again)."""


def setup(level: str = "info", *, debug: bool = False, stream=None) -> None:
    """Log to ``stream`` (default stderr) at ``level`` (a LEVELS key; ``debug`` forces DEBUG and tracebacks),
    replacing what an earlier call installed. Python warnings and uncaught exceptions (any thread) go
    through the log too, so that they are one line each and quote no data either."""
    stream = stream or sys.stderr
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
    handler = _Handler(stream)
    handler.setFormatter(LogfmtFormatter(journal=is_journal(stream), tracebacks=debug))
    root.addHandler(handler)
    set_level(level, debug=debug)
    logging.captureWarnings(True)
    # A call whose message and arguments do not fit would be printed whole, arguments and all, on stderr.
    logging.raiseExceptions = debug
    sys.excepthook = _uncaught
    threading.excepthook = lambda args: _uncaught(args.exc_type, args.exc_value, args.exc_traceback,
                                                  thread=args.thread.name if args.thread else "")


def set_level(level: str, *, debug: bool = False) -> None:
    """The kiosk's own loggers at ``level`` (settings.log.level), libraries from WARNING (or ``level`` if
    higher); with ``debug`` everything at DEBUG, but QUIET."""
    wanted = logging.DEBUG if debug else LEVELS[level]
    logging.getLogger("kiosk").setLevel(wanted)
    logging.getLogger().setLevel(logging.DEBUG if debug else max(wanted, logging.WARNING))
    for name, floor in QUIET.items():
        logging.getLogger(name).setLevel(floor)


def _uncaught(kind, error, tb, thread: str = "") -> None:
    if issubclass(kind, (SystemExit, KeyboardInterrupt)):
        return
    where = f" in thread {thread}" if thread else ""
    logging.getLogger("kiosk").critical("uncaught exception%s", where, exc_info=(kind, error, tb))
