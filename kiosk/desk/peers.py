"""The desk page's view of the site's other kiosks: their incidents and actions over the peer API
(``/peer/...`` of kiosk.desk.web, the site's shared secret as bearer token), so that one kiosk's page lists
and acts on every kiosk's incidents. Only the fields the page shows travel (``PEER_FIELDS``): nothing
personal."""

from __future__ import annotations

import logging
import threading

from kiosk.messages import N_

log = logging.getLogger(__name__)

ACTION_WAIT_S = 30.0            # longest wait for a peer kiosk to do an action (a reprint waits for its printer)
MSG_PEER_DOWN = N_("Kiosk {kiosk} does not answer; its incidents are not listed.")
MSG_PEER_REFUSES = N_("Kiosk {kiosk} refuses this desk page: check that both have the same peer secret.")

# What a peer sends of each incident, untranslated: kind and detail are codes (kiosk.desk.incidents) that the page's
# kiosk says in its own language; anything it does not know is shown as a technical code.
PEER_FIELDS = ("id", "kiosk_id", "created_at", "kind", "severity", "status", "detail", "admission_id", "queue_number",
               "admission_cancelled",
               "taken_by")


class PeerDown(Exception):
    """A peer kiosk that did not answer as it should; the message is its msgid (MSG_PEER_DOWN or
    MSG_PEER_REFUSES), with {kiosk} to fill in."""


def _clean_listing(data) -> dict:
    """A peer's answer to GET /peer/incidents, checked: only the fields and types the page uses.
    :raises ValueError: not such an answer"""
    if not isinstance(data, dict) or not isinstance(data.get("kiosk"), str) or not data["kiosk"].strip():
        raise ValueError("no kiosk id")
    kinds = tuple(k for k in data.get("reprint_kinds") or () if k in ("ticket", "wristband"))
    rows = []
    for row in data.get("incidents") or ():
        if not isinstance(row, dict) or not isinstance(row.get("id"), int) or isinstance(row.get("id"), bool):
            raise ValueError("an incident without an id")
        rows.append({"id": row["id"], **{key: str(row.get(key) or "")[:200] for key in PEER_FIELDS if key != "id"}})
    return {"kiosk": data["kiosk"].strip()[:64], "reprint_kinds": kinds, "incidents": rows}


class Peers:
    """The site's other kiosks, asked over their peer API (``/peer/...``, a shared secret as bearer token).

    Each peer is asked in a thread of its own, at most one request in flight per peer (pages polling at
    the same time share it), so one that is slow or down holds the page ``timeout_s`` at most.
    """

    def __init__(self, urls: tuple[str, ...], secret: str, *, ca_file: str = "", timeout_s: float = 2.0):
        from concurrent.futures import ThreadPoolExecutor
        self.urls = tuple(url.rstrip("/") for url in urls)
        self._secret = secret
        self.verify: str | bool = ca_file or True
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.urls)), thread_name_prefix="desk-peer")
        self._lock = threading.Lock()
        self._asking: dict[str, object] = {}          # url -> Future of the request in flight
        self._ids: dict[str, str] = {}                # url -> kiosk id it gave last
        self._local = threading.local()

    def _session(self):
        import requests
        if getattr(self._local, "session", None) is None:
            session = requests.Session()
            session.trust_env = False                 # no proxy or .netrc from the environment gets the secret
            session.headers["Authorization"] = f"Bearer {self._secret}"
            self._local.session = session
        return self._local.session

    def name(self, url: str) -> str:
        """The peer's kiosk id when it has answered once, else its URL."""
        return self._ids.get(url, url)

    def url_of(self, kiosk_id: str) -> str | None:
        return next((url for url, known in self._ids.items() if known == kiosk_id), None)

    def _listing(self, url: str) -> dict:
        import requests
        try:
            answer = self._session().get(f"{url}/peer/incidents", timeout=self.timeout_s, verify=self.verify,
                                         allow_redirects=False)
        except requests.RequestException as e:
            log.warning("desk peer %s does not answer: %s", url, type(e).__name__)
            raise PeerDown(MSG_PEER_DOWN) from None
        if answer.status_code == 401:
            log.warning("desk peer %s refuses this kiosk's peer secret", url)
            raise PeerDown(MSG_PEER_REFUSES)
        try:
            if answer.status_code != 200:
                raise ValueError(f"HTTP {answer.status_code}")
            listing = _clean_listing(answer.json())
        except ValueError as e:
            log.warning("desk peer %s gave no list of incidents: %s", url, e)
            raise PeerDown(MSG_PEER_DOWN) from None
        self._ids[url] = listing["kiosk"]
        return listing

    def listings(self) -> list[tuple[str, dict | None, str]]:
        """Every peer's listing, asked in parallel: (url, listing or None, msgid of why not or "")."""
        from concurrent.futures import wait
        with self._lock:
            for url in self.urls:
                if url not in self._asking or self._asking[url].done():
                    self._asking[url] = self._pool.submit(self._listing, url)
            asking = dict(self._asking)
        wait(asking.values(), timeout=self.timeout_s)
        results = []
        for url, future in asking.items():
            if not future.done():
                results.append((url, None, MSG_PEER_DOWN))
            elif isinstance(future.exception(), PeerDown):
                results.append((url, None, str(future.exception())))
            elif future.exception() is not None:
                log.warning("desk peer %s: %s", url, type(future.exception()).__name__)
                results.append((url, None, MSG_PEER_DOWN))
            else:
                results.append((url, future.result(), ""))
        return results

    def act(self, kiosk_id: str, incident_id: int, action: str, member: str, via: str, form) -> tuple[int, dict]:
        """Forward one action to the peer that holds the incident; (status, untranslated result) as
        ``act_here``. :raises PeerDown: not known, not answering, or refusing"""
        import requests
        url = self.url_of(kiosk_id)
        if url is None:
            raise PeerDown(MSG_PEER_DOWN)
        fields = {"member": member, "via": via, **{k: form[k] for k in ("how", "note") if k in form}}
        try:                                          # a reprint waits for the printer: longer than a listing
            answer = self._session().post(f"{url}/peer/incidents/{int(incident_id)}/{action}", data=fields,
                                          timeout=(self.timeout_s, ACTION_WAIT_S), verify=self.verify,
                                          allow_redirects=False)
        except requests.RequestException as e:
            log.warning("desk peer %s does not answer an action: %s", url, type(e).__name__)
            raise PeerDown(MSG_PEER_DOWN) from None
        if answer.status_code == 401:
            raise PeerDown(MSG_PEER_REFUSES)
        if answer.status_code == 404:
            return 404, {"error": "not found"}
        try:
            result = answer.json()
            if answer.status_code not in (200, 409) or not isinstance(result, dict):
                raise ValueError(f"HTTP {answer.status_code}")
        except ValueError as e:
            log.warning("desk peer %s gave no answer to an action: %s", url, e)
            raise PeerDown(MSG_PEER_DOWN) from None
        return answer.status_code, {k: result[k] for k in ("message", "error", "count", "reason") if k in result}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
