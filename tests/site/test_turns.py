"""Telling a patient who pre-checked in that their turn is near (kiosk.site.turns), through a real SMTP server on
127.0.0.1 (aiosmtpd): when their ticket becomes the next but one of its queue, one e-mail in their invitation's
language with their number and nothing else about them; once, also with two instances on one database; none
for a walk-in, none when the site does not want them."""

from __future__ import annotations

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
    first, _, _ = ticket(one, 1), ticket(one, 2), ticket(one, 3, made.json()["id"])
    assert inbox.messages == []                                 # two before R-003
    waiting.call(other.site, first, "Ana", "Desk 2")
    wait_until(lambda: inbox.messages, "the mail that R-003 is next but one")
    [(to, mail)] = inbox.messages
    assert to == ["ayse@example.org"] and mail["Subject"] == "Sie sind bald an der Reihe"
    body = mail.get_body(("plain",)).get_content()
    assert "Ihre Nummer R-003 wird bald aufgerufen" in body
    for private in ("Yilmaz", "Ayse", "1980", "Cardiology"):
        assert private not in mail.as_string()
    catalogs = Catalogs(["de"])
    assert [turns.tell_due(s.site, settings, catalogs) for s in (one, other)] == [0, 0]     # told already
    waiting.call_next(one.site, (), "Ana", "Desk 2")           # R-003 is next now
    ticket(one, 4)
    assert turns.next_but_one(one.site) == [] and len(inbox.messages) == 1


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
    assert turns.next_but_one(service.site) == [] and turns.tell_due(service.site, service.turns.settings,
                                                                       service.turns.catalogs) == 0
    assert inbox.messages == []
