"""The managers' figures of the waits, on both backends: ``/metrics`` on the site listener (Prometheus's text
format, parsed by prometheus_client's own parser: the histogram of check-in to first call per queue and kiosk,
how many wait now) and ``kiosk site report waits`` as IT runs it (CSV per hour and queue, and a PNG chart);
neither holds anything of a patient."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from datetime import datetime

import requests
import sqlalchemy as sa
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from kiosk import config
from kiosk.site import tickets, waiting
from kiosk.site.db import open_site_db
from kiosk.site.schema import tickets as table

DAY = "2026-12-07"


def at(clock: str, day: str = DAY) -> int:
    return int(datetime.fromisoformat(f"{day}T{clock}").timestamp())


def checked_in(site, n: int, clock: str, queue: str = "R", kiosk: str = "lobby-1", day: str = DAY) -> int:
    tickets.register(site, tickets.parse_registration(f"adm-{n}", {
        "kiosk": kiosk, "queue": queue, "number": f"{queue}-{n:03d}",
        "created_at": datetime.fromtimestamp(at(clock, day)).astimezone().isoformat()}), now=at(clock, day))
    with site.engine.connect() as conn:
        return conn.execute(sa.select(table.c.id).where(table.c.admission_id == f"adm-{n}")).scalar_one()


def a_morning(site, day: str = DAY) -> None:
    """R: checked in 09:05, 09:10, 09:30 and 10:00, called after 15, 30 and 5 minutes, the last not yet; B (another
    kiosk): 09:15, called after 1 minute."""
    for n, clock, queue, kiosk, called in ((1, "09:05", "R", "lobby-1", "09:20"), (2, "09:10", "R", "lobby-1", "09:40"),
                                           (3, "09:30", "R", "lobby-1", "09:35"), (4, "10:00", "R", "lobby-1", None),
                                           (5, "09:15", "B", "lobby-2", "09:16")):
        ticket = checked_in(site, n, clock, queue, kiosk, day)
        if called:
            waiting.call(site, ticket, "Ana", "Desk 2" if queue == "R" else "Room 4", now=at(called, day))


def test_the_report_per_hour_and_queue_as_csv_and_chart(make_settings, tmp_path):
    settings = make_settings().replace(queues=config.QueueSettings(names=("R Registration", "B Blood tests")))
    site = open_site_db(settings)
    try:
        a_morning(site)
        called = waiting.call_next(site, ("R",), "Ana", "Desk 2", now=at("10:30"))     # R-004, then again:
        waiting.call_again(site, called.ticket_id, "Ana", "Desk 2", now=at("10:40"))  # only the first call counts
    finally:
        site.dispose()
    config_file = tmp_path / "kiosk.toml"
    config_file.write_text(f'[kiosk]\ndata_dir = "{settings.kiosk.data_dir}"\n[site]\ndatabase_url = '
                           f'{json.dumps(settings.site.database_url)}\n[queues]\nnames = ["R Registration", '
                           f'"B Blood tests"]\n')
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "kiosk", "site", "report", "waits", "--date", DAY, "--out", str(out),
                           "--language", "de", "--json", "--config", str(config_file)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said == {"date": DAY, "csv": str(out / f"waits-{DAY}.csv"), "png": str(out / f"waits-{DAY}.png"),
                    "checked_in": 5, "called": 5}
    with open(said["csv"], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {"date": DAY, "hour": "9", "queue": "B", "checked_in": "1", "called": "1", "median_wait_min": "1.0",
         "p90_wait_min": "1.0", "longest_wait_min": "1.0"},
        {"date": DAY, "hour": "9", "queue": "R", "checked_in": "3", "called": "3", "median_wait_min": "15.0",
         "p90_wait_min": "27.0", "longest_wait_min": "30.0"},
        {"date": DAY, "hour": "10", "queue": "R", "checked_in": "1", "called": "1", "median_wait_min": "30.0",
         "p90_wait_min": "30.0", "longest_wait_min": "30.0"}]
    with Image.open(said["png"]) as chart:
        assert chart.format == "PNG" and chart.size == (1000, 550)
        assert len(chart.convert("RGB").getcolors(1 << 20)) > 10            # bars, text: not a blank picture
    # A day without tickets: the files all the same, the chart says so.
    empty = subprocess.run([sys.executable, "-m", "kiosk", "site", "report", "waits", "--date", "2026-12-06", "--out",
                            str(out), "--config", str(config_file)], capture_output=True, text=True, timeout=120)
    assert empty.returncode == 0 and "0 checked in, 0 called" in empty.stdout
    assert (out / "waits-2026-12-06.csv").read_text().strip() == ",".join(
        ("date", "hour", "queue", "checked_in", "called", "median_wait_min", "p90_wait_min", "longest_wait_min"))


def test_metrics_the_waits_of_today_and_who_waits_now(serve, make_settings):
    service = serve(make_settings().replace(queues=config.QueueSettings(names=("R Registration", "B Blood tests"))))
    today = tickets.local_day(time.time())
    a_morning(service.site, today)
    before = time.time()
    page = requests.get(f"{service.api.url}/metrics", timeout=10)
    after = time.time()
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(page.text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    r = (("kiosk", "lobby-1"), ("queue", "R"))
    assert samples[("kiosk_site_wait_to_call_seconds_count", r)] == 3
    assert samples[("kiosk_site_wait_to_call_seconds_sum", r)] == (15 + 30 + 5) * 60
    assert samples[("kiosk_site_wait_to_call_seconds_bucket", (*r[:1], ("le", "300.0"), *r[1:]))] == 1
    assert samples[("kiosk_site_wait_to_call_seconds_bucket", (*r[:1], ("le", "900.0"), *r[1:]))] == 2
    assert samples[("kiosk_site_wait_to_call_seconds_bucket", (*r[:1], ("le", "+Inf"), *r[1:]))] == 3
    assert samples[("kiosk_site_wait_to_call_seconds_count", (("kiosk", "lobby-2"), ("queue", "B")))] == 1
    assert samples[("kiosk_site_queue_waiting", (("queue", "R"),))] == 1
    assert samples[("kiosk_site_queue_waiting", (("queue", "B"),))] == 0
    oldest = samples[("kiosk_site_queue_oldest_wait_seconds", (("queue", "R"),))]     # R-004's (a future one: 0)
    assert max(0, int(before) - at("10:00", today)) <= oldest <= max(0, int(after) - at("10:00", today))
    assert "adm-" not in page.text and "R-00" not in page.text                 # numbers of tickets, ids: none
