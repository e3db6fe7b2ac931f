"""The lobby displays (kiosk.site.lobby): the latest calls of a display's queues pushed as Server-Sent Events the
moment a desk calls (on either backend, and across two instances on PostgreSQL), the announcement audio being
espeak-ng's output for the call's sentence in each of the display's languages, numbers and places only, and
what an unknown display or call gets. The page itself in a real Chromium: tests/site/test_display_browser.py."""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import subprocess
import threading
from datetime import datetime
from urllib.parse import urlsplit

import pytest
import requests
from processes import wait_until

from kiosk import config
from kiosk.i18n import Catalogs
from kiosk.site import announce, tickets, waiting
from kiosk.site.events import Listener

LANGUAGES = ("de", "en", "tr", "fr")


def lobby_settings(make_settings, **site):
    return make_settings(**site).replace(queues=config.QueueSettings(
        names=("A Registration", "B Blood tests"), displays=("lobby: A B / de en tr fr", "lab: B")))


def ticket(site, n: int, queue_: str = "A") -> int:
    tickets.register(site, tickets.parse_registration(f"adm-{n}", {
        "kiosk": "lobby-1", "queue": queue_, "number": f"{queue_}-{n:03d}",
        "created_at": datetime.now().astimezone().isoformat()}))
    return next(r["id"] for r in waiting.waiting_list(site) if r["admission_id"] == f"adm-{n}")


class Stream:
    """The events of a display's stream, read on a thread: ``next()`` gives the next ``calls`` list. Over
    http.client, so that ``close`` can cut the connection at once (as a display switched off does)."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.events: queue.Queue = queue.Queue()
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.connection.request("GET", parts.path)
        self.response = self.connection.getresponse()
        assert self.response.status == 200 and self.response.getheader("Content-Type").startswith("text/event-stream")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while line := self.response.readline():
                if line.startswith(b"data: "):
                    self.events.put(json.loads(line[6:]))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass                                   # closed by the test (http.client's reader then trips over it)

    def next(self, timeout: float = 10) -> list[dict]:
        return self.events.get(timeout=timeout)["calls"]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def test_a_call_is_pushed_to_the_displays_of_its_queue_and_said_in_their_languages(serve, make_settings):
    service = serve(lobby_settings(make_settings))
    lobby, lab = (Stream(f"{service.api.url}/display/{name}/events") for name in ("lobby", "lab"))
    assert lobby.next() == [] and lab.next() == []               # what there is, at once
    first, blood = ticket(service.site, 1), ticket(service.site, 2, "B")
    called = waiting.call(service.site, first, "Ana", "Desk 2")
    assert lobby.next() == [{"id": called.call_id, "number": "A-001", "counter": "Desk 2"}]
    waiting.call(service.site, blood, "Ben", "Room 4")
    assert [c["number"] for c in lobby.next()] == ["B-002", "A-001"]
    assert [(c["number"], c["counter"]) for c in lab.next()] == [("B-002", "Room 4")]     # A is not the lab's
    catalogs = Catalogs(LANGUAGES)
    for language in LANGUAGES:
        heard = requests.get(f"{service.api.url}/display/lobby/audio/{called.call_id}/{language}.wav", timeout=30)
        said = announce.sentence(catalogs, language, "A-001", "Desk 2")
        espeak = subprocess.run(["espeak-ng", "--stdout", "-v", language, "-s", "150", "-b", "1", "--stdin"],
                                input=said.encode(), capture_output=True, check=True).stdout
        assert heard.status_code == 200 and heard.headers["Content-Type"] == "audio/wav"
        assert heard.content == espeak, language
    assert "A 1" in announce.sentence(catalogs, "de", "A-001", "Desk 2")
    for lang_ in ("de", "en"):
        assert "Desk 2" in announce.sentence(catalogs, lang_, "A-001", "Desk 2")
    chime = requests.get(f"{service.api.url}/display/chime.wav", timeout=10)
    assert chime.content.startswith(b"RIFF") and chime.headers["Content-Type"] == "audio/wav"
    lobby.close()
    lab.close()


def test_what_is_no_display_s_gets_a_sentence(serve, make_settings):
    service = serve(lobby_settings(make_settings))
    called = waiting.call(service.site, ticket(service.site, 1), "Ana", "Desk 2")
    for path in ("/display/nowhere", "/display/nowhere/events", f"/display/lab/audio/{called.call_id}/de.wav",
                 f"/display/lobby/audio/{called.call_id}/xx.wav", f"/display/lobby/audio/{called.call_id + 9}/de.wav"):
        answer = requests.get(service.api.url + path, timeout=10)
        assert answer.status_code == 404 and "text/html" in answer.headers["Content-Type"], path
    assert "([queues] displays)" in requests.get(f"{service.api.url}/display/nowhere", timeout=10).text
    # The displays are not on the patient listener, and the APIs stay behind their token beside them.
    assert requests.get(f"{service.patient.url}/display/lobby", timeout=10).status_code == 404
    assert requests.post(f"{service.api.url}/api/v1/tickets", json={}, timeout=10).status_code == 401


def test_display_answers_hold_numbers_and_places_only(serve, make_settings):
    service = serve(lobby_settings(make_settings))
    stream = Stream(f"{service.api.url}/display/lobby/events")
    assert stream.next() == []
    waiting.call(service.site, ticket(service.site, 1), "Ana Desk", "Desk 2")
    assert all(set(call) == {"id", "number", "counter"} for call in stream.next())
    page = requests.get(f"{service.api.url}/display/lobby", timeout=10).text
    assert "A-001" in page and "Desk 2" in page and "Ana Desk" not in page       # not even the member's name
    stream.close()


def test_a_call_on_one_instance_reaches_a_display_on_another(make_settings, serve, postgres):
    settings = lobby_settings(make_settings, database_url=postgres.database())
    one, two = serve(settings), serve(settings)
    assert two.listener is not None and two.listener.listening.wait(10)
    stream = Stream(f"{two.api.url}/display/lobby/events")
    assert stream.next() == []
    waiting.call(one.site, ticket(one.site, 1), "Ana", "Desk 2")
    assert [c["number"] for c in stream.next()] == ["A-001"]
    stream.close()
    assert isinstance(two.listener, Listener)


def test_staff_pages_and_apis_keep_answering_while_displays_are_connected(serve, make_settings, site_secret):
    service = serve(lobby_settings(make_settings))
    streams = [Stream(f"{service.api.url}/display/lobby/events") for _ in range(30)]
    for stream in streams:
        assert stream.next() == []
    answer = requests.post(f"{service.api.url}/api/v1/tickets", timeout=10,
                           headers={"Authorization": f"Bearer {site_secret[1]}"},
                           json={"kiosk": "lobby-1", "admission": "adm-9", "queue": "A"})
    assert answer.status_code == 201
    assert requests.get(f"{service.api.url}/display/lobby", timeout=10).status_code == 200
    for stream in streams:
        stream.close()


@pytest.fixture
def backend():
    return ""            # the file, but for the test above that asks PostgreSQL for itself


def test_streams_beyond_the_limit_are_told_to_come_back_and_the_apis_keep_their_threads(serve, make_settings,
                                                                                        site_secret, monkeypatch):
    from kiosk.site import hub as hub_module
    monkeypatch.setattr(hub_module, "MAX_STREAMS", 3)
    monkeypatch.setattr(hub_module, "STREAM_S", 3.0)
    service = serve(lobby_settings(make_settings))
    streams = [Stream(f"{service.api.url}/display/lobby/events") for _ in range(3)]
    for stream in streams:
        assert stream.next() == []
    refused = requests.get(f"{service.api.url}/display/lobby/events", timeout=10)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "10"
    answer = requests.post(f"{service.api.url}/api/v1/tickets", timeout=10,
                           headers={"Authorization": f"Bearer {site_secret[1]}"},
                           json={"kiosk": "lobby-1", "admission": "adm-9", "queue": "A"})
    assert answer.status_code == 201
    # No stream is forever: each ends after STREAM_S (the browser reconnects at once), and gives its slot back.
    wait_until(lambda: requests.get(f"{service.api.url}/display/lobby/events", timeout=10).status_code == 200,
               "the streams ending after STREAM_S and their slots free again", timeout=20)
    for stream in streams:
        stream.close()
