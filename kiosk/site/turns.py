"""Telling a patient who pre-checked in that their turn is near: when their ticket becomes the next but one of
its queue (one patient waits before it), an e-mail says that their number will be called soon, in the language
of their invitation, through the hospital's relay (kiosk.site.mail; where ``site.smtp_url`` is set, the
invitation gave an address and ``queues.mail_turn`` is on). The mail says the number and nothing else about
the patient.

One thread per instance wakes on every change of the waiting list (the instance's Hub, which hears the other
instances' changes too) and at least once a minute. A ticket is claimed in ``site_turn_mails`` before its mail
goes, so of several instances one sends it, once; a mail the relay did not take is given up (logged without
the address): the number on the displays is what calls the patient.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from email.message import EmailMessage

import sqlalchemy as sa

from kiosk.i18n import Catalogs
from kiosk.messages import N_
from kiosk.site import mail, waiting
from kiosk.site.db import SiteDb
from kiosk.site.hub import Hub
from kiosk.site.schema import invitations, turn_mails

log = logging.getLogger(__name__)

QUIET_S = 60.0                     # at least this often, a look without a change (a mail the relay was slow for)

SUBJECT = N_("Your turn is coming up")
SOON = N_("Your number {number} will be called soon: one patient is before you.")
WHERE = N_("Please come to the waiting area. The screens there show where to go when your number is called.")


def compose(catalogs: Catalogs, language: str, *, sender: str, to: str, number: str) -> EmailMessage:
    _ = catalogs.translator(language)
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = _(SUBJECT), sender, to
    message.set_content("\n\n".join((_(SOON).format(number=number), _(WHERE), _(mail.IGNORE))))
    message["Content-Language"] = language
    return message


def next_but_one(site: SiteDb, now: float | None = None) -> list[dict]:
    """The pre-checked tickets of the list with one patient waiting before them in their queue, not yet told."""
    first: dict[str, list[dict]] = {}
    for row in waiting.waiting_list(site, now=now):
        if row["status"] == "waiting":
            first.setdefault(row["queue"], []).append(row)
    due = [rows[1] for rows in first.values() if len(rows) > 1 and rows[1]["invitation_id"]]
    if not due:
        return []
    with site.engine.connect() as conn:
        told = set(conn.execute(sa.select(turn_mails.c.ticket_id).where(
            turn_mails.c.ticket_id.in_([r["id"] for r in due]))).scalars())
    return [r for r in due if r["id"] not in told]


def claim(site: SiteDb, ticket_id: int) -> bool:
    """Whether this instance is the one to tell the ticket's patient (its row in site_turn_mails is new)."""
    try:
        with site.begin() as conn:
            conn.execute(sa.insert(turn_mails).values(ticket_id=ticket_id, at=int(time.time())))
        return True
    except sa.exc.IntegrityError:
        return False


def address(site: SiteDb, invitation_id: str) -> tuple[str, str]:
    """The invited patient's e-mail address and language ("" when none, or wiped)."""
    with site.engine.connect() as conn:
        row = conn.execute(sa.select(invitations.c.patient, invitations.c.language)
                           .where(invitations.c.id == invitation_id)).first()
    if row is None or not row.patient:
        return "", ""
    telecom = json.loads(row.patient).get("telecom", [])
    return next((t.get("value", "") for t in telecom if t.get("system") == "email"), ""), row.language


def tell_due(site: SiteDb, settings, catalogs: Catalogs) -> int:
    """Mail every patient whose turn is near and who has not been told; how many mails went."""
    sent = 0
    for row in next_but_one(site):
        to, language = address(site, row["invitation_id"])
        if not to or not claim(site, row["id"]):
            continue
        message = compose(catalogs, language, sender=settings.site.smtp_from, to=to, number=row["number"])
        if mail.send(settings, message, what="turn"):
            sent += 1
    return sent


class TurnMails(threading.Thread):
    """The thread that tells patients their turn is near, while the instance runs."""

    def __init__(self, site: SiteDb, settings, catalogs: Catalogs, hub: Hub):
        super().__init__(name="site-turn-mails", daemon=True)
        self.site, self.settings, self.catalogs, self.hub = site, settings, catalogs, hub
        self._stopping = threading.Event()

    def run(self) -> None:
        while not (self._stopping.is_set() or self.hub.stopping):
            version = self.hub.version
            try:
                tell_due(self.site, self.settings, self.catalogs)
            except Exception:             # the database away for a moment: the next change or minute tries again
                log.warning("telling patients their turn is near failed", exc_info=True)
            self.hub.wait(version, QUIET_S)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)


def turn_mails_thread(site: SiteDb, settings, catalogs: Catalogs, hub: Hub) -> TurnMails | None:
    """The thread, where mails can go and the site wants them; None otherwise."""
    if not (settings.site.smtp_url and settings.queues.mail_turn):
        return None
    return TurnMails(site, settings, catalogs, hub)
