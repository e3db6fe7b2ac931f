"""Telling a patient who pre-checked in that their turn is near (kiosk.site.turns), through a real SMTP server on
127.0.0.1 (aiosmtpd): when their ticket is among the first two waiting in its queue, one e-mail in their
invitation's language with their number and nothing else about them; once, also with two instances on one
database, and also when two calls move the ticket from third to first at once; none for a walk-in, none when
the site does not want them."""

from __future__ import annotations

import time
from datetime import datetime

from processes import wait_until
from test_mail import invite

from kiosk import config
from kiosk.i18n import Catalogs
from kiosk.site import tickets, turns, waiting


def ticket(service, n: int, invitation_id: str = "") -> int:
    tickets.register(service.site, tickets.parse_registration(f"adm-{n}", {
        "kiosk": "lobby-1", "queue": "R", "number": f"R-{n:03d}", "created_at": datetime.now().astimezone().isoformat(),
        "precheck": invitation_id}))
    return next(r["id"] for r in waiting.waiting_list(service.site) if r["admission_id"] == f"adm-{n}")


def test_the_patient_next_but_one_is_mailed_once_in_their_language(serve, make_settings, api_token, invitation, relay):
    url, inbox = relay
    settings = make_settings(smtp_url=url, smtp_from="Klinik <checkin@hospital.example>")
    one, other = serve(settings), serve(settings)              # two instances: one mail all the same
    made = invite(one, api_token[1], invitation())
    assert made.status_code == 201
    inbox.messages.clear()                                      # the invitation's own mail
    first, _, mine = ticket(one, 1), ticket(one, 2), ticket(one, 3, made.json()["id"])
    assert turns.due(one.site) == []                            # two before R-003
    waiting.call(other.site, first, "Ana", "Desk 2")
    wait_until(lambda: inbox.messages, "the mail that R-003 is next but one")
    [(to, mail)] = inbox.messages
    assert to == ["ayse@example.org"] and mail["Subject"] == "Sie sind bald an der Reihe" and mail["Message-ID"]
    assert "Ihre Nummer R-003 wird bald aufgerufen." in mail.get_body(("plain",)).get_content()
    for private in ("Yilmaz", "Ayse", "1980", "Cardiology"):
        assert private not in mail.as_string()
    catalogs = Catalogs(["de"])
    assert [turns.tell_due(s.site, settings, catalogs) for s in (one, other)] == [0, 0]     # told already
    assert turns.claim(one.site, mine) is False
    turns.forget_told(one.site, now=time.time() + 2 * waiting.LISTED_S - 60)    # kept while it may be listed
    assert turns.claim(one.site, mine) is False
    turns.forget_told(one.site, now=time.time() + 2 * waiting.LISTED_S + 60)    # then gone
    assert turns.claim(one.site, mine) is True
    waiting.call_next(one.site, (), "Ana", "Desk 2")           # R-003 is next now
    ticket(one, 4)
    assert turns.due(one.site) == [] and len(inbox.messages) == 1


def test_two_calls_at_once_from_third_to_first_still_tell(serve, make_settings, api_token, invitation, relay):
    url, inbox = relay
    settings = make_settings(smtp_url=url, smtp_from="checkin@hospital.example").replace(
        queues=config.QueueSettings(mail_turn=False))           # no thread: the test looks when it wants
    service = serve(settings)
    made = invite(service, api_token[1], invitation())
    inbox.messages.clear()
    ticket(service, 1), ticket(service, 2), ticket(service, 3, made.json()["id"])
    assert turns.due(service.site) == []
    waiting.call_next(service.site, (), "Ana", "Desk 1")
    waiting.call_next(service.site, (), "Ben", "Desk 2")      # R-003 is first now, never was second when looked
    assert [r["number"] for r in turns.due(service.site)] == ["R-003"]
    assert turns.tell_due(service.site, settings.replace(queues=config.QueueSettings()), Catalogs(["de"])) == 1
    assert [to for to, _ in inbox.messages] == [["ayse@example.org"]]


def test_no_mail_for_walk_ins_or_where_the_site_wants_none(serve, make_settings, relay):
    url, inbox = relay
    quiet = make_settings(smtp_url=url, smtp_from="checkin@hospital.example").replace(
        queues=config.QueueSettings(mail_turn=False))
    assert serve(quiet).turns is None
    service = serve(make_settings(smtp_url=url, smtp_from="checkin@hospital.example"))
    first = ticket(service, 1)
    ticket(service, 2)
    ticket(service, 3)
    waiting.call(service.site, first, "Ana", "Desk 2")
    assert turns.due(service.site) == [] and turns.tell_due(service.site, service.turns.settings,
                                                             service.turns.catalogs) == 0
    assert inbox.messages == []
