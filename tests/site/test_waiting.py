"""The waiting list (kiosk.site.waiting) and the site's members of staff (kiosk.site.staff), on both backends:
the order, calling next / any / again, "not here" back to the end and a no-show after N calls, "done", each
step audited with the name; two desks calling one ticket at once (two instances on PostgreSQL): exactly one
wins and the other is told who; staff kept once per site and signed in by the kiosk's rule."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from kiosk.signin import Locked, StaffError, WrongPin
from kiosk.site import tickets, waiting
from kiosk.site.db import open_site_db
from kiosk.site.schema import audit
from kiosk.site.staff import SiteStaff

NOON = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)


def register(site, n: int, queue: str = "A", minutes: int = 0, precheck: str = "") -> int:
    at = NOON + timedelta(minutes=minutes)
    tickets.register(site, tickets.parse_registration(f"adm-{n}", {
        "kiosk": "lobby-1", "queue": queue, "number": f"{queue}-{n:03d}", "created_at": at.isoformat(),
        "precheck": precheck}), now=at.timestamp())
    with site.engine.connect() as conn:
        return conn.execute(sa.select(tickets.tickets.c.id).where(tickets.tickets.c.admission_id == f"adm-{n}")).scalar()


def listed(site, queues=(), minutes=30) -> list[tuple[str, str]]:
    return [(r["number"], r["status"]) for r in waiting.waiting_list(site, queues, (NOON + timedelta(minutes=minutes)).timestamp())]


def trail(site) -> list[tuple[str, str, str, str]]:
    with site.engine.connect() as conn:
        return [(r.actor, r.action, r.subject, r.detail) for r in conn.execute(sa.select(audit).order_by(audit.c.id))
                if r.action.startswith("ticket.")]


@pytest.fixture
def site(make_settings):
    site = open_site_db(make_settings())
    yield site
    site.dispose()


def at(minutes: int) -> float:
    return (NOON + timedelta(minutes=minutes)).timestamp()


def test_calling_through_the_list(site):
    one, two, blood = register(site, 1, minutes=1), register(site, 2, minutes=2), register(site, 3, "B", minutes=3, precheck="inv-1")
    assert listed(site) == [("A-001", "waiting"), ("A-002", "waiting"), ("B-003", "waiting")]
    assert [r["prechecked"] for r in waiting.waiting_list(site, (), at(30))] == [False, False, True]
    assert [r["waited_s"] for r in waiting.waiting_list(site, ("A",), at(30))] == [29 * 60, 28 * 60]

    first = waiting.call_next(site, ("A",), "Ana", "Desk 2", at(10))
    assert (first.number, first.counter, first.ticket_id) == ("A-001", "Desk 2", one)
    again = waiting.call_again(site, one, "Ana", "Desk 2", at(11))
    assert again.call_id > first.call_id
    # "Call next" at the same counter: the one called before is done.
    assert waiting.call_next(site, ("A", "B"), "Ana", "Desk 2", at(12)).number == "A-002"
    assert listed(site) == [("A-002", "called"), ("B-003", "waiting")]
    assert waiting.not_here(site, two, "Ana", no_show_after=3, now=at(13)) == "waiting"    # back, at the end
    assert listed(site) == [("B-003", "waiting"), ("A-002", "waiting")]
    assert waiting.call(site, blood, "Ben", "Room 4", at(14)).number == "B-003"
    waiting.done(site, blood, "Ben", at(15))
    for minute in (16, 18):              # called twice more, not here each time: at the third call a no-show
        waiting.call(site, two, "Ana", "Desk 2", at(minute))
        waiting.not_here(site, two, "Ana", no_show_after=3, now=at(minute + 1))
    assert listed(site) == []
    assert [(c["number"], c["counter"]) for c in waiting.last_calls(site, (), now=at(30))] == [
        ("A-002", "Desk 2"), ("B-003", "Room 4"), ("A-001", "Desk 2")]          # one per ticket, newest first
    assert [c["number"] for c in waiting.last_calls(site, ("B",), now=at(30))] == ["B-003"]
    assert trail(site) == [
        ("Ana", "ticket.called", "A-001", "Desk 2"), ("Ana", "ticket.called_again", "A-001", "Desk 2"),
        ("Ana", "ticket.done", "A-001", "Desk 2; the next was called"), ("Ana", "ticket.called", "A-002", "Desk 2"),
        ("Ana", "ticket.not_here", "A-002", "after 1 call(s)"), ("Ben", "ticket.called", "B-003", "Room 4"),
        ("Ben", "ticket.done", "B-003", "Room 4"), ("Ana", "ticket.called", "A-002", "Desk 2"),
        ("Ana", "ticket.not_here", "A-002", "after 2 call(s)"), ("Ana", "ticket.called", "A-002", "Desk 2"),
        ("Ana", "ticket.no_show", "A-002", "after 3 call(s)")]


def test_what_cannot_be_done_is_said(site):
    one = register(site, 1)
    with pytest.raises(waiting.CallError) as e:
        waiting.call_next(site, ("B",), "Ana", "Desk 2", at(5))
    assert e.value.message == waiting.MSG_NOBODY
    for step in (lambda: waiting.done(site, one, "Ana", at(5)), lambda: waiting.call_again(site, one, "Ana", "Desk 2", at(5)),
                 lambda: waiting.not_here(site, one, "Ana", 3, at(5))):
        with pytest.raises(waiting.CallError) as e:
            step()
        assert e.value.render(lambda m: m) == "A-001 is not being called at the moment."
    with pytest.raises(waiting.CallError) as e:
        waiting.call(site, one + 99, "Ana", "Desk 2", at(5))
    assert e.value.message == waiting.MSG_NO_TICKET
    waiting.call(site, one, "Ana", "Desk 2", at(5))
    waiting.done(site, one, "Ana", at(6))
    with pytest.raises(waiting.CallError) as e:
        waiting.call(site, one, "Ben", "Room 4", at(7))
    assert e.value.render(lambda m: m) == "A-001 is no longer waiting."


def test_two_desks_calling_one_ticket_at_once_exactly_one_wins(make_settings, backend):
    """Two instances (on PostgreSQL; two engines on the file), each desk on its own, at the same moment."""
    settings = make_settings()
    sites = [open_site_db(settings), open_site_db(settings)]
    try:
        for round_ in range(5):
            ticket = register(sites[0], round_ + 1, minutes=round_)
            barrier, outcomes = threading.Barrier(2), {}

            def desk(k: int) -> None:
                barrier.wait()
                try:
                    outcomes[k] = waiting.call(sites[k], ticket, f"member-{k}", f"Desk {k}", at(30)).counter
                except waiting.CallError as e:
                    outcomes[k] = e.render(lambda m: m)
            threads = [threading.Thread(target=desk, args=(k,)) for k in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            won = [k for k, said in outcomes.items() if said == f"Desk {k}"]
            assert len(won) == 1, outcomes
            lost = 1 - won[0]
            assert outcomes[lost] == f"A-{round_ + 1:03d} has just been called by member-{won[0]} to Desk {won[0]}."
            with sites[0].engine.connect() as conn:
                assert conn.execute(sa.select(sa.func.count()).select_from(waiting.calls)
                                    .where(waiting.calls.c.ticket_id == ticket)).scalar() == 1
    finally:
        for site in sites:
            site.dispose()


def test_the_embedded_file_tells_its_listeners_after_the_commit(site, backend):
    if backend:
        pytest.skip("PostgreSQL tells through LISTEN/NOTIFY: tests/site/test_events.py")
    heard = []
    site.listeners.append(lambda what: heard.append((what, listed(site, minutes=30))))
    one = register(site, 1)
    waiting.call(site, one, "Ana", "Desk 2", at(5))
    assert heard == [("list", [("A-001", "waiting")]), ("call", [("A-001", "called")])]


def test_staff_are_kept_once_per_site_and_sign_in_by_the_kiosk_s_rule(site):
    now = [datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)]
    staff = SiteStaff(site, now=lambda: now[0])
    staff.add("Ana Desk", "4711", language="de")
    with pytest.raises(StaffError, match="already a staff member"):
        staff.add("Ana Desk", "1234")
    for name, pin in (("", "1234"), ("Ben", "12"), ("Ben", "12ab")):
        with pytest.raises(StaffError):
            staff.add(name, pin)
    assert staff.members() == [{"name": "Ana Desk", "language": "de", "locked_until": ""}]
    assert staff.sign_in(" Ana Desk ", "4711", where="waiting list 10.0.0.5") == "Ana Desk"
    for name in ("Ana Desk", "Nobody"):             # a member, and a name that is no member: both lock
        for _ in range(4):
            with pytest.raises(WrongPin):
                staff.sign_in(name, "0000", where="waiting list 10.0.0.5")
        with pytest.raises(Locked):
            staff.sign_in(name, "0000", where="waiting list 10.0.0.5")
    with pytest.raises(Locked):
        staff.sign_in("Ana Desk", "4711", where="waiting list 10.0.0.5")   # the right PIN while locked: refused
    now[0] += timedelta(minutes=6)
    assert staff.sign_in("Ana Desk", "4711", where="waiting list 10.0.0.5") == "Ana Desk"
    with site.engine.connect() as conn:
        lines = [(r.actor, r.action, r.subject) for r in conn.execute(sa.select(audit).order_by(audit.c.id))]
    assert ("waiting list 10.0.0.5", "staff.locked", "Ana Desk") in lines
    assert not any("Nobody" in text for line in lines for text in line)      # only a keyed hash of it
    assert lines.count(("Ana Desk", "staff.signed_in", "Ana Desk")) == 2
    staff.remove("Ana Desk")
    assert staff.members() == [] and staff.member("Ana Desk") is None


def test_kiosk_site_staff_adds_lists_and_removes_with_sentences(tmp_path, backend):
    import json
    import subprocess
    import sys
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[site]\ndatabase_url = "{backend}"\n')

    def kiosk(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "kiosk", "site", "staff", *args, "--config", str(path)],
                              input=stdin, capture_output=True, text=True, timeout=120)
    added = kiosk("add", "Ana Desk", "--language", "tr", stdin="4711\n")
    assert (added.returncode, added.stdout) == (0, "Added Ana Desk to the site's staff.\n")
    assert "4711" not in added.stdout + added.stderr
    listed = kiosk("list", "--json")
    assert json.loads(listed.stdout) == [{"name": "Ana Desk", "language": "tr", "locked_until": ""}]
    for args, stdin, sentence in ((("add", "Ben"), "12\n", "A PIN is 4 to 12 digits."),
                                  (("add", "Ana Desk"), "1234\n", "There is already a staff member with this name."),
                                  (("remove", "Ben"), "", "There is no staff member with this name.")):
        refused = kiosk(*args, stdin=stdin)
        assert refused.returncode == 2 and sentence in refused.stderr, refused.stderr
    assert kiosk("remove", "Ana Desk").returncode == 0
    assert kiosk("list").stdout == "The site has no members of staff yet (kiosk site staff add NAME).\n"


def test_the_wait_is_estimated_from_the_calls_of_the_last_hour(site):
    """Six patients of queue A called in the last hour (one every 10 minutes): with two waiting, the next one
    waits about (2 + 1) x 10 = 30 minutes; queue B, never called, has no estimate; calls older than an hour
    do not count."""
    for n in range(1, 7):
        waiting.call(site, register(site, n, minutes=n), "Ana", "Desk 2", at(10 * n))
    register(site, 7, minutes=61)
    register(site, 8, minutes=62)
    assert waiting.estimate_wait(site, "A", at(65)) == 30
    assert waiting.estimate_wait(site, "B", at(65)) == 0
    assert waiting.estimate_wait(site, "A", at(60 + 59)) == 180       # one call in the last hour: 3 x 60 minutes
    assert waiting.estimate_wait(site, "A", at(200)) == 0


def test_the_ticket_says_the_estimate(site, make_settings):
    from kiosk.hardware import printing
    from kiosk.i18n import Catalogs
    from kiosk.checkin.model import Admission, Person
    admission = Admission("adm-x", "lobby-1", "2026-12-07T09:00:00+00:00", "de", "card:egk", Person("Muster", ("Erika",)),
                          queue_number="A-017", queue="A", wait_min=15)
    lines = [line.text for line in printing.layout_for("ticket", admission, Catalogs(("de",)), make_settings()).lines]
    assert "Die Wartezeit beträgt etwa 15 Minuten." in lines


def test_patients_waiting_at_midnight_stay_on_the_list_and_can_be_called(site):
    late = register(site, 1, minutes=11 * 60 + 50)                      # 23:50
    assert listed(site, minutes=12 * 60 + 5) == [("A-001", "waiting")]   # 00:05, the next day
    assert waiting.call_next(site, (), "Ana", "Desk 2", at(12 * 60 + 6)).ticket_id == late
    assert [c["number"] for c in waiting.last_calls(site, (), now=at(12 * 60 + 7))] == ["A-001"]
    assert tickets.reserve(site, "adm-new", "lobby-1", "A", now=at(12 * 60 + 8)) == "A-001"   # a new day's numbers
    assert listed(site, minutes=36 * 60) == []                           # a day after its check-in: off the list
