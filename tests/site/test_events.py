"""Changes of the waiting list across instances of the site service on PostgreSQL (kiosk.site.events): a call
made on one instance is heard by another's listeners at once (LISTEN/NOTIFY, no broker of our own), and a
listener whose connection was cut listens again by itself and says "list" (read the list afresh)."""

from __future__ import annotations

import queue
from datetime import datetime

import pytest
import sqlalchemy as sa
from processes import wait_until

from kiosk.site import tickets, waiting
from kiosk.site.db import open_site_db
from kiosk.site.events import Listener


@pytest.fixture
def backend(postgres):
    return postgres.database()          # PostgreSQL only: the embedded file has one instance


@pytest.fixture
def instances(make_settings):
    settings = make_settings()
    sites = [open_site_db(settings), open_site_db(settings)]
    listeners = [Listener(site).start() for site in sites]
    yield sites, listeners
    for listener in listeners:
        listener.stop()
    for site in sites:
        site.dispose()


def heard_by(site) -> queue.Queue:
    got: queue.Queue = queue.Queue()
    site.listeners.append(got.put)
    return got


def test_a_call_on_one_instance_is_heard_by_the_other(instances):
    (one, two), listeners = instances
    for listener in listeners:
        assert listener.listening.wait(10)
    heard = heard_by(two)
    now = datetime.now().astimezone()
    tickets.register(one, tickets.parse_registration("adm-1", {
        "kiosk": "lobby-1", "queue": "A", "number": "A-001", "created_at": now.isoformat()}))
    assert heard.get(timeout=5) == "list"
    ticket = waiting.waiting_list(one)[0]["id"]
    waiting.call(one, ticket, "Ana", "Desk 2")
    assert heard.get(timeout=5) == "call"
    assert [c["number"] for c in waiting.last_calls(two, ())] == ["A-001"]
    heard_there = heard_by(one)
    waiting.done(two, ticket, "Ana")                          # and the other way round
    assert heard_there.get(timeout=5) == "list"


def test_a_listener_cut_off_listens_again_and_says_read_afresh(instances):
    (one, two), listeners = instances
    for listener in listeners:
        assert listener.listening.wait(10)
    heard = heard_by(two)
    with one.engine.begin() as conn:                        # the listener's connection dies (as in a restart)
        cut = conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()")).all()
    assert len(cut) == 2
    wait_until(lambda: not listeners[1].listening.is_set(), "the listener to notice", timeout=10)
    assert heard.get(timeout=15) == "list"                   # back, and the pages read the list again
    assert listeners[1].listening.wait(10)
    tickets.register(one, tickets.parse_registration("adm-2", {
        "kiosk": "lobby-1", "queue": "A", "number": "A-002", "created_at": datetime.now().astimezone().isoformat()}))
    assert heard.get(timeout=5) == "list"
