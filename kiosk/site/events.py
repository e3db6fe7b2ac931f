"""Changes of the waiting list reaching every instance of the site service at once, so that a call made on
one shows on the displays connected to another: PostgreSQL's LISTEN/NOTIFY (``SiteDb.changed`` NOTIFYs in
the changing transaction; each instance's ``Listener`` LISTENs and hands what it hears to its ``SiteDb``'s
listeners). On the embedded file there is one instance, and ``SiteDb.begin`` tells its listeners itself.

The listener's connection is its own (not the pool's). A lost connection (a PostgreSQL restart, the
network) is opened again after a pause; then the listeners hear "list", since changes may have been missed
meanwhile: the displays and pages read the list afresh.
"""

from __future__ import annotations

import logging
import threading

from kiosk.site.db import CHANNEL, SiteDb

log = logging.getLogger(__name__)

RECONNECT_S = 2.0
POLL_S = 1.0                     # how often the thread looks whether it is to stop


class Listener:
    """LISTENs on CHANNEL of ``site``'s PostgreSQL database in a daemon thread, until ``stop``."""

    def __init__(self, site: SiteDb):
        self.site = site
        self.conninfo = site.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._stopping = threading.Event()
        self.listening = threading.Event()           # set while LISTEN is in place (and "list" was said)
        self._thread = threading.Thread(target=self._run, name="site-listen", daemon=True)

    def start(self) -> "Listener":
        self._thread.start()
        return self

    def _run(self) -> None:
        import psycopg
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.site.tell("list")               # what changed while nobody listened
                    self.listening.set()
                    while not self._stopping.is_set():
                        for notify in conn.notifies(timeout=POLL_S):
                            self.site.tell(notify.payload)
            except Exception as e:               # psycopg.Error mostly; whatever it is, listen again
                self.listening.clear()
                log.warning("the waiting list's changes are not heard (%s); listening again in %.0f s",
                            type(e).__name__, RECONNECT_S)
                self._stopping.wait(RECONNECT_S)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=POLL_S + 5)
