"""The managers' report of a day's waits (``kiosk site report waits --date D``): per hour of check-in and queue,
how many patients checked in, how many were called, and how long they waited from the check-in to their first
call (median, 90th percentile, longest), as CSV and as a PNG chart drawn with matplotlib (imported here only:
no kiosk or service process loads it). Numbers and times only: nothing of any patient.

CSV columns (the contract; docs/site.md): ``date, hour, queue, checked_in, called, median_wait_min,
p90_wait_min, longest_wait_min`` (hour 0-23, the site's local time; minutes with one decimal, empty where
nobody of that hour was called).
"""

from __future__ import annotations

import csv
import statistics
from datetime import date, datetime
from pathlib import Path

from babel.dates import format_date

from kiosk.i18n import Catalogs
from kiosk.messages import N_
from kiosk.site import waiting
from kiosk.site.db import SiteDb

COLUMNS = ("date", "hour", "queue", "checked_in", "called", "median_wait_min", "p90_wait_min", "longest_wait_min")
TITLE = N_("Waits on {day}: minutes from check-in to the first call")
HOUR = N_("Hour of check-in")
MINUTES = N_("Minutes (median; the line: 9 in 10 waited less)")
NOBODY = N_("Nobody was called on this day.")


def rows(site: SiteDb, day: str) -> list[dict]:
    """The report's rows for ``day`` (YYYY-MM-DD), by hour and queue."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for ticket in waiting.waits(site, day):
        hour = datetime.fromtimestamp(ticket["created_at"]).hour
        groups.setdefault((hour, ticket["queue"]), []).append(ticket)
    out = []
    for (hour, queue), group in sorted(groups.items()):
        minutes = sorted(t["waited_s"] / 60 for t in group if t["waited_s"] is not None)
        out.append({"date": day, "hour": hour, "queue": queue, "checked_in": len(group), "called": len(minutes),
                    "median_wait_min": _one(statistics.median(minutes)) if minutes else "",
                    "p90_wait_min": _one(_p90(minutes)) if minutes else "",
                    "longest_wait_min": _one(minutes[-1]) if minutes else ""})
    return out


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def _one(value: float) -> float:
    return round(value, 1)


def write_csv(report: list[dict], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(report)


def draw(report: list[dict], path: Path, day: str, names: dict[str, str], catalogs: Catalogs, language: str) -> None:
    """The chart: per hour, a bar per queue for the median wait and a line over it to the 90th percentile."""
    import matplotlib
    matplotlib.use("Agg")                      # no display: a file
    from matplotlib.figure import Figure
    _ = catalogs.translator(language)
    figure = Figure(figsize=(10, 5.5), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.set_title(_(TITLE).format(day=format_date(date.fromisoformat(day), format="long", locale=language)))
    called = [r for r in report if r["called"]]
    if not called:
        axes.text(0.5, 0.5, _(NOBODY), ha="center", va="center", transform=axes.transAxes, fontsize=14)
        axes.set_axis_off()
    else:
        queues = sorted({r["queue"] for r in called})
        width = 0.8 / len(queues)
        for n, queue in enumerate(queues):
            mine = [r for r in called if r["queue"] == queue]
            x = [r["hour"] - 0.4 + width * (n + 0.5) for r in mine]
            axes.bar(x, [r["median_wait_min"] for r in mine], width=width * 0.9,
                     label=f"{queue}: {names.get(queue, queue)}")
            axes.vlines(x, [r["median_wait_min"] for r in mine], [r["p90_wait_min"] for r in mine], colors="#1a1a1a")
        hours = range(min(r["hour"] for r in called), max(r["hour"] for r in called) + 1)
        axes.set_xticks(list(hours), [f"{h:02d}:00" for h in hours])
        axes.set_xlabel(_(HOUR))
        axes.set_ylabel(_(MINUTES))
        axes.legend()
        axes.grid(axis="y", alpha=0.3)
    figure.savefig(path)
