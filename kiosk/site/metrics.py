"""The site's waiting figures for Prometheus, at ``/metrics`` on the site listener: how long patients waited
from their check-in to their first call (a histogram per queue and kiosk, of the tickets of the site's day so
far: it starts again at local midnight, which Prometheus's rate() and increase() take as a reset) and how many
wait now (per queue, with the longest wait). Read from the database at each scrape, so every instance gives
the same figures (aggregate instances with max, not sum) and a restart loses none. Labels hold queue prefixes
and kiosk ids only: nothing personal.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from kiosk.site import tickets, waiting
from kiosk.site.db import SiteDb

# Upper bounds of the histogram's buckets (seconds): 1 minute to 2 hours.
BUCKETS_S = (60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200)


class SiteCollector:
    def __init__(self, site: SiteDb, prefixes: tuple[str, ...]):
        self.site, self.prefixes = site, prefixes

    def collect(self):
        now = time.time()
        called: dict[tuple[str, str], list[int]] = {}
        for row in waiting.waits(self.site, tickets.local_day(now)):
            if row["waited_s"] is not None:
                called.setdefault((row["queue"], row["kiosk_id"]), []).append(row["waited_s"])
        histogram = HistogramMetricFamily(
            "kiosk_site_wait_to_call_seconds", "Seconds from check-in to the first call, of the tickets of the site's "
            "day so far (starts again at local midnight), by queue and kiosk.", labels=["queue", "kiosk"])
        for (queue, kiosk), waited in sorted(called.items()):
            buckets = [(str(float(le)), sum(1 for w in waited if w <= le)) for le in BUCKETS_S]
            histogram.add_metric([queue, kiosk], buckets + [("+Inf", len(waited))], sum_value=sum(waited))
        yield histogram
        waiting_now = {prefix: [] for prefix in self.prefixes}
        for row in waiting.waiting_list(self.site, now=now):
            if row["status"] == "waiting":
                waiting_now.setdefault(row["queue"], []).append(row["waited_s"])
        length = GaugeMetricFamily("kiosk_site_queue_waiting", "Tickets waiting to be called now, by queue.",
                                   labels=["queue"])
        oldest = GaugeMetricFamily("kiosk_site_queue_oldest_wait_seconds", "How long the ticket waiting longest has "
                                   "waited since its check-in (0: none waits), by queue.", labels=["queue"])
        for queue, waited in sorted(waiting_now.items()):
            length.add_metric([queue], len(waited))
            oldest.add_metric([queue], max(waited, default=0))
        yield length
        yield oldest


def metrics_app(site: SiteDb, settings):
    """The WSGI app of ``/metrics`` (Prometheus's text format)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SiteCollector(site, tuple(q.prefix for q in settings.queues.queues().queues)))
    return make_wsgi_app(registry)
