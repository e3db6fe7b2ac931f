"""The rows of ``kiosk doctor`` and how they are shown: a table for a terminal, an object for ``--json``."""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass

EXIT_KIOSK, EXIT_CONFIG, EXIT_NO_DEVICE, EXIT_PRINTER, EXIT_HOSPITAL = 1, 2, 3, 8, 9


@dataclass(frozen=True)
class Row:
    """One line of the report. ``exit_code`` is 0 unless the row fails."""

    check: str
    status: str                         # ok | warn | fail
    detail: str                         # what was found and what to do, one or two sentences
    exit_code: int = 0


def ok(check: str, detail: str) -> Row:
    return Row(check, "ok", detail)


def warn(check: str, detail: str) -> Row:
    return Row(check, "warn", detail)


def fail(check: str, detail: str, code: int) -> Row:
    return Row(check, "fail", detail, code)


def exit_code(rows: list[Row]) -> int:
    """The exit code of the first failing row, 0 when none fails."""
    return next((row.exit_code for row in rows if row.status == "fail"), 0)


_COLOURS = {"ok": "\033[32m", "warn": "\033[33m", "fail": "\033[31m"}
_HEADER = ("CHECK", "STATUS", "WHAT IT FOUND / WHAT TO DO")


def table(rows: list[Row], *, width: int | None = None, colour: bool = False) -> str:
    """The rows as an aligned table and a summary line. ``width``: wrap the last column to fit (None: do not);
    ``colour``: the status in colour (for a terminal)."""
    first = max(len(_HEADER[0]), *(len(row.check) for row in rows)) + 2
    second = len(_HEADER[1]) + 2
    wrap = max(30, width - first - second - 1) if width else None   # a full line would wrap on some terminals
    lines = [f"{_HEADER[0]:<{first}}{_HEADER[1]:<{second}}{_HEADER[2]}"]
    for row in rows:
        status = f"{row.status:<{second}}"
        if colour:
            status = f"{_COLOURS[row.status]}{row.status}\033[0m{' ' * (second - len(row.status))}"
        detail = textwrap.wrap(row.detail, wrap, break_on_hyphens=False) if wrap else [row.detail]
        lines.append(f"{row.check:<{first}}{status}{detail[0]}")
        lines += [" " * (first + second) + more for more in detail[1:]]
    return "\n".join(lines + ["", summary(rows)])


def summary(rows: list[Row]) -> str:
    failed = [row for row in rows if row.status == "fail"]
    warned = sum(row.status == "warn" for row in rows)
    warnings = f", {warned} with a warning" if warned else ""
    if not failed:
        return f"All {len(rows)} checks pass{warnings}: exit 0."
    return (f"{len(failed)} of {len(rows)} checks fail{warnings}: exit {exit_code(rows)} "
            f"(the first failing check: {failed[0].check}).")


def report(rows: list[Row]) -> dict:
    """The ``--json`` object."""
    return {"ok": exit_code(rows) == 0, "exit_code": exit_code(rows), "checks": [asdict(row) for row in rows]}
