"""The site's queue numbers (kiosk.site.tickets) on both backends, through the kiosk API of a running site service
and the kiosk's own client: one number per ticket across kiosks and instances, per queue and day; a kiosk
that got none prints its own and its outbox puts the ticket on the list once the service is back, exactly
once; two tickets sharing a number are both kept and staff are told."""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from kiosk import config
from kiosk.checkin.model import Admission, Person
from kiosk.hospital import outbox
from kiosk.hospital.site_client import SiteArrivals, SiteClient
from kiosk.site import tickets
from kiosk.site.schema import incidents, tickets as ticket_table
from kiosk.store import OutboxStatus, Store


def rows(service) -> dict[str, dict]:
    with service.site.engine.connect() as conn:
        return {r.admission_id: r._asdict() for r in conn.execute(sa.select(ticket_table))}


def open_incidents(service) -> list[tuple[str, str]]:
    with service.site.engine.connect() as conn:
        return [(r.kind, r.detail) for r in conn.execute(sa.select(incidents))]


def admission(n: int, kiosk: str = "lobby-1", queue: str = "A", **kw) -> Admission:
    return Admission(f"adm-{kiosk}-{n}", kiosk, datetime.now(timezone.utc).isoformat(timespec="seconds"), "de", "card:egk",
                     Person("Muster", ("Erika",)), queue=queue, **kw)


def test_numbers_per_queue_across_kiosks_and_again_for_the_same_ticket(serve, site_secret):
    service = serve()
    one, two = (SiteClient(service.api.url, site_secret[1]) for _ in range(2))
    assert one.number("adm-1", "lobby-1", "A") == ("A-001", 0)      # nobody called yet: no estimate
    assert two.number("adm-2", "lobby-2", "A") == ("A-002", 0)
    assert two.number("adm-3", "lobby-2", "B") == ("B-001", 0)      # each queue counts on its own
    assert one.number("adm-1", "lobby-1", "A") == ("A-001", 0)      # asked again (a retry): the same number
    assert {r["number"]: r["status"] for r in rows(service).values()} == {
        "A-001": "reserved", "A-002": "reserved", "B-001": "reserved"}


def test_numbers_start_again_each_day(serve):
    service = serve()
    today = datetime(2026, 12, 7, 23, 59).timestamp()
    assert tickets.reserve(service.site, "adm-1", "lobby-1", "A", now=today) == "A-001"
    assert tickets.reserve(service.site, "adm-2", "lobby-1", "A", now=today + 120) == "A-001"
    assert tickets.reserve(service.site, "adm-3", "lobby-1", "A", now=today + 180) == "A-002"


def test_two_instances_hand_out_every_number_once(serve, make_settings, site_secret, backend):
    """Kiosks asking two instances of the service (one database) at the same moment never get one number twice."""
    settings = make_settings()
    services = [serve(settings), serve(settings)]
    got, errors = [], []

    def kiosk(k: int) -> None:
        client = SiteClient(services[k % 2].api.url, site_secret[1], timeout_s=10)
        session = client.session
        for n in range(15):
            answer = session.post(client.tickets, json={"kiosk": f"lobby-{k}", "admission": f"adm-{k}-{n}", "queue": "A"},
                                  timeout=30)
            (got if answer.status_code == 201 else errors).append(answer.json().get("number"))
    threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(got) == [f"A-{n:03d}" for n in range(1, 61)]


def test_a_ticket_goes_on_the_list_once_through_the_outbox(serve, make_settings, tmp_path):
    service = serve()
    settings = make_settings().replace(site=config.SiteSettings(url=service.api.url))
    store = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    client = SiteArrivals(settings).client
    given, _wait = client.number("adm-lobby-1-1", "lobby-1", "A")
    start = (datetime.now().astimezone() + timedelta(minutes=20)).isoformat(timespec="seconds")
    store.save_admission(admission(1, appointment_start=start), queue_number=given, destinations=("site",))
    store.save_admission(admission(2), queue_prefix="K1", destinations=("site",))      # no number came: its own
    transport = SiteArrivals(settings)
    assert outbox.Sync(store, transport).run_once().delivered == 2
    listed = rows(service)
    assert {a: (r["number"], r["status"], r["kiosk_id"], r["queue"]) for a, r in listed.items()} == {
        "adm-lobby-1-1": ("A-001", "waiting", "lobby-1", "A"), "adm-lobby-1-2": ("K1-001", "waiting", "lobby-1", "A")}
    assert listed["adm-lobby-1-1"]["appointment_at"] == int(datetime.fromisoformat(start).timestamp())
    # A retry (the kiosk did not hear the answer) changes nothing.
    assert transport.client.register(store.get_admission("adm-lobby-1-2")).kind == "delivered"
    assert rows(service) == listed
    assert all(r["status"] == OutboxStatus.DELIVERED for r in store.outbox())
    assert open_incidents(service) == []
    transport.close()
    store.close()


def test_a_kiosk_cut_off_prints_its_own_numbers_and_they_reach_the_list_when_it_is_back(serve, make_settings, tmp_path):
    with socket.socket() as s:                 # where the service will be: nobody listens there yet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(site_port=port)
    kiosk_settings = settings.replace(site=config.SiteSettings(url=f"http://127.0.0.1:{port}"))
    store = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    client = SiteArrivals(kiosk_settings).client
    assert client.number("adm-lobby-1-1", "lobby-1", "A") == ("", 0)    # away: the kiosk prints its own
    for n in (1, 2):
        store.save_admission(admission(n), queue_prefix="K1", queue_number="", destinations=("site",))
    assert [a.queue_number for a in store.admissions()] == ["K1-001", "K1-002"]
    transport = SiteArrivals(kiosk_settings)
    assert outbox.Sync(store, transport).run_once().delivered == 0              # still away: they wait
    assert {r["status"] for r in store.outbox()} == {OutboxStatus.PENDING}
    service = serve(settings)                                                  # back
    store.db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00+00:00'")   # due now
    assert outbox.Sync(store, transport).run_once().delivered == 2
    assert sorted(r["number"] for r in rows(service).values()) == ["K1-001", "K1-002"]
    # The kiosk asks again only once AWAY_S has passed; then the site's numbers follow its own.
    client.away_until = 0
    assert client.number("adm-lobby-1-3", "lobby-1", "A") == ("A-001", 0)
    transport.close()
    store.close()


def test_two_tickets_with_one_number_are_both_kept_and_staff_told(serve):
    service = serve()
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    for kiosk in ("lobby-1", "lobby-2"):          # two kiosks sharing the prefix K (a config mistake)
        body = {"kiosk": kiosk, "queue": "A", "number": "K-001", "created_at": now, "appointment_start": "",
                "precheck": ""}
        assert tickets.register(service.site, tickets.parse_registration(f"adm-{kiosk}", body))
    assert sorted(r["number"] for r in rows(service).values()) == ["K-001", "K-001"]
    assert open_incidents(service) == [("ticket_number_shared", "K-001")]


@pytest.mark.parametrize("path, method, body, sentence", [
    ("", "post", {"kiosk": "lobby-1", "admission": "adm-1"}, "queue must be 1 to 4 letters or digits."),
    ("", "post", {"kiosk": "lobby-1", "admission": "adm-1", "queue": "A-1"}, "queue must be 1 to 4 letters or digits."),
    ("", "post", ["A"], "The body must be {"),
    ("/adm-1", "put", {"kiosk": "lobby-1", "queue": "A", "number": "A-001", "created_at": "today"},
     "created_at must be a date and time in ISO 8601"),
    ("/adm-1", "put", {"kiosk": "lobby-1", "queue": "A", "number": "A-001", "created_at": "2026-12-07T09:30:00"},
     "created_at must be a date and time in ISO 8601"),
    ("/adm-1", "put", {"kiosk": "lobby-1", "queue": "A", "number": "x" * 17, "created_at": "2026-12-07T09:30:00Z"},
     "number must be 1 to 16 printable characters."),
])
def test_what_is_no_ticket_is_refused_with_a_sentence_and_nothing_stored(serve, site_secret, path, method, body,
                                                                          sentence):
    service = serve()
    answer = getattr(requests, method)(f"{service.api.url}/api/v1/tickets{path}", json=body, timeout=5,
                                       headers={"Authorization": f"Bearer {site_secret[1]}"})
    assert answer.status_code == 400 and answer.json()["error"].startswith(sentence)
    assert rows(service) == {}


def test_the_tickets_api_wants_the_site_secret(serve, api_token):
    service = serve()
    for token in ("", api_token[1]):               # none, or the invitation API's token
        answer = requests.post(f"{service.api.url}/api/v1/tickets", timeout=5, headers={"Authorization": f"Bearer {token}"},
                               json={"kiosk": "lobby-1", "admission": "adm-1", "queue": "A"})
        assert answer.status_code == 401
    assert rows(service) == {}
