"""The command line's argument parser and the types of its options (``kiosk``, ``python -m kiosk.cli.deploy``).

Every option and positional that takes a value has a type here (or choices), so a value that makes no
sense ends the command before it reads or writes anything: exit code 2 and one sentence naming the
option, ``kiosk: --wait must be between 0.1 and 3600 seconds, not '-1' (see kiosk read-card --help).``,
the same shape as every other error of the command (README, "The kiosk command"). The checks are the
config's (kiosk.config), so an option and the setting it stands beside take the same values.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any, Callable

from kiosk import config


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one sentence on stderr (``kiosk: ...``) instead of the usage and a
    message; exit code 2 as before. Subcommands' parsers are of the same class."""

    command = "kiosk"           # what the sentence starts with

    def error(self, message: str) -> None:        # type: ignore[override]
        from kiosk.ops.logs import priority_prefix
        sentence = _one_line(f"{_sentence(message)} (see {self.prog} --help).")
        sys.stderr.write(f"{priority_prefix(logging.ERROR)}{self.command}: {sentence}\n")
        self.exit(2)


def _sentence(message: str) -> str:
    """argparse's messages (argparse.py: ArgumentError, parse_known_args) as sentences that start with the
    option they are about."""
    argument = re.fullmatch(r"argument (.+?): (.*)", message, re.S)
    if argument:
        name, problem = argument.groups()
        choice = re.fullmatch(r"invalid choice: (.*) \(choose from (.*)\)", problem, re.S)
        if choice:
            problem = f"must be one of {choice[2].replace(chr(39), '')}, not {choice[1]}"
        elif problem == "expected one argument":
            problem = "needs a value"
        elif problem.startswith("ignored explicit argument"):
            problem = "takes no value"
        return f"{name} {problem}"
    required = re.fullmatch(r"the following arguments are required: (.*)", message, re.S)
    if required:
        return f"{required[1]} must be given"
    return message[:1].upper() + message[1:]


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def checked(check: config.Check, name: str, convert: Callable[[str], Any] = str) -> Callable[[str], Any]:
    """An argparse type: the text given, through ``convert``, when ``check`` (a config check) finds nothing
    wrong with it; ``name`` is the type's name in argparse's messages."""
    def convert_and_check(value: str) -> Any:
        problem = check(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return convert(value)
    convert_and_check.__name__ = name
    return convert_and_check


def number(lo: float, hi: float, unit: str = "") -> Callable[[str], float]:
    """A finite number from ``lo`` to ``hi`` (a :class:`kiosk.config.Range`)."""
    allowed = config.Range(lo, hi, unit)

    def convert(value: str) -> float:
        try:
            found = float(value)
        except ValueError:
            found = None
        if found is None or not allowed.holds(found):
            raise argparse.ArgumentTypeError(f"{allowed.wanted}, not {config.shown(value)}")
        return found
    convert.__name__ = unit or "number"
    return convert


def seconds(lo: float, hi: float) -> Callable[[str], float]:
    return number(lo, hi, "seconds")


def _plain_path(value: str) -> str | None:
    if not value:
        return "must name a file or folder, not ''"
    if not value.isprintable():
        return f"must be a path of printable characters, not {config.shown(value)}"
    return None


def _readable_file(value: str) -> str | None:
    problem = _plain_path(value)
    if problem:
        return problem
    if not os.path.exists(value):
        return f"names no file: there is no {value}"
    if not os.path.isfile(value):
        return f"names a folder or device, not a file: {value}"
    if not os.access(value, os.R_OK):
        return f"names a file this user may not read: {value}"
    return None


def _writable_folder(value: str) -> str | None:
    """A folder that is there and writable, or can be made: its nearest existing parent is a writable folder.
    Nothing is made here: the command makes it when it writes there."""
    problem = _plain_path(value)
    if problem:
        return problem
    folder = Path(value).absolute()
    if os.path.exists(folder) and not os.path.isdir(folder):
        return f"names a file, not a folder: {value}"
    there = next(p for p in (folder, *folder.parents) if os.path.exists(p))
    if not os.path.isdir(there):
        return f"cannot be made: {there} is a file, not a folder"
    if not os.access(there, os.W_OK | os.X_OK):
        return (f"names a folder this user may not write to: {there}" if there == folder
                else f"cannot be made: this user may not write to {there}")
    return None


existing_file = checked(_readable_file, "file")
output_folder = checked(_writable_folder, "folder", convert=Path)

# Admission ids are uuid4 strings (kiosk.checkin.flow), as the store, the desk page and the audit trail show them.
_ADMISSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.I)


def _admission_id(value: str) -> str | None:
    if _ADMISSION_ID.fullmatch(value):
        return None
    return f"must be an admission id such as 7d0c1e9a-51b2-4c3d-9e8f-0a1b2c3d4e5f, not {config.shown(value)}"


admission_id = checked(_admission_id, "admission id", convert=str.lower)


def _printer_uri(value: str) -> str | None:
    return "must name a printer, not ''" if not value else config.printer_uri(value)


printer_uri = checked(_printer_uri, "printer address")
printer_profile = checked(config.printer_profile, "profile")
reader_name = checked(config.text_check(128), "reader name")


def _staff_name(value: str) -> str | None:
    """As kiosk.desk.staff takes a name: spaces around it do not count."""
    from kiosk.signin import NAME_MAX
    if config.text_check(NAME_MAX)(value.strip()):
        return f"must be 1 to {NAME_MAX} printable characters besides spaces around them, not {config.shown(value)}"
    return None


def _badge(value: str) -> str | None:
    return None if value == "-" else config.text_check(64, chars=config.visible, what="printable characters without "
                                                       "spaces, or '-'")(value)


staff_name = checked(_staff_name, "name")
badge = checked(_badge, "badge")


def _iso_date(value: str) -> str | None:
    try:
        if len(value) == 10 and date.fromisoformat(value):
            return None
    except ValueError:
        pass
    return f"must be a day as YYYY-MM-DD, e.g. 2026-12-08, not {config.shown(value)}"


iso_date = checked(_iso_date, "date", convert=date.fromisoformat)
