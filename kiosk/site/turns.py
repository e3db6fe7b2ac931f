"""Telling a patient who pre-checked in that their turn is near: when their ticket is among the first two still
waiting in its queue (one patient, or none, before it), an e-mail says that their number will be called soon,
in the language of their invitation, through the hospital's relay (kiosk.site.mail; where ``site.smtp_url`` is
set, the invitation gave an address and ``queues.mail_turn`` is on). The first place counts too, so that a
ticket that two calls moved from third to first between two looks is told all the same. The mail says the
number and nothing else about the patient.

One thread per instance wakes on every change of the waiting list (the instance's Hub, which hears the other
instances' changes too) and at least once a minute. A ticket is claimed in ``site_turn_mails`` before its mail
goes, so of several instances one sends it, once; a mail the relay did not take is given up (logged without
the address): the number on the displays is what calls the patient.
"""

from __future__ import annotations

import logging
import threading
import time
from email.message import EmailMessage

import sqlalchemy as sa

from kiosk.i18n import Catalogs
from kiosk.messages import N_
from kiosk.site import invitations, mail, waiting
from kiosk.site.db import SiteDb
from kiosk.site.hub import Hub
from kiosk.site.schema import turn_mails

log = logging.getLogger(__name__)

QUIET_S = 60.0                     # at least this often, a look without a change (a mail the relay was slow for)

SUBJECT = N_("Your turn is coming up")
SOON = N_("Your number {number} will be called soon.")
WHERE = N_("Please come to the waiting area. The screens there show where to go when your number is called.")
PLACES = 2                         # the first this many waiting of a queue are told


def compose(catalogs: Catalogs, language: str, *, sender: str, to: str, number: str) -> EmailMessage:
    _ = catalogs.translator(language)
    message = mail.new_message(_(SUBJECT), sender, to)
    message.set_content("\n\n".join((_(SOON).format(number=number), _(WHERE), _(mail.IGNORE))))
    message["Content-Language"] = language
    return message


def due(site: SiteDb, now: float | None = None) -> list[dict]:
    """The pre-checked tickets among the first PLACES still waiting in their queue, not yet told."""
    first: dict[str, list[dict]] = {}
    for row in waiting.waiting_list(site, now=now):
        if row["status"] == "waiting":
            first.setdefault(row["queue"], []).append(row)
    due = [row for rows in first.values() for row in rows[:PLACES] if row["invitation_id"]]
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


def forget_told(site: SiteDb, now: float | None = None) -> None:
    """Drop the claims of tickets no longer on any list (older than two days): housekeeping."""
    at = int(time.time() if now is None else now)
    with site.begin() as conn:
        conn.execute(sa.delete(turn_mails).where(turn_mails.c.at < at - 2 * waiting.LISTED_S))


def tell_due(site: SiteDb, settings, catalogs: Catalogs, stopping: threading.Event | None = None) -> int:
    """Mail every patient whose turn is near and who has not been told (until ``stopping`` is set); how many
    mails went."""
    sent = 0
    for row in due(site):
        if stopping is not None and stopping.is_set():
            break
        invitation = invitations.find(site, invitation_id=row["invitation_id"])     # None: expired or wiped
        to = mail.email_of(invitation.patient) if invitation else ""
        if not to or not claim(site, row["id"]):
            continue
        message = compose(catalogs, invitation.language, sender=settings.site.smtp_from, to=to, number=row["number"])
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
                tell_due(self.site, self.settings, self.catalogs, self._stopping)
            except Exception:             # the database away for a moment: the next change or minute tries again
                log.warning("telling patients their turn is near failed", exc_info=True)
            self.hub.wait(version, QUIET_S)

    def stop(self) -> None:
        """Stop after the mail being sent, if any (the relay's timeout at most), before the database goes."""
        self._stopping.set()
        self.join(timeout=self.settings.site.smtp_timeout_s + 5)


def turn_mails_thread(site: SiteDb, settings, catalogs: Catalogs, hub: Hub) -> TurnMails | None:
    """The thread, where mails can go and the site wants them; None otherwise."""
    if not (settings.site.smtp_url and settings.queues.mail_turn):
        return None
    return TurnMails(site, settings, catalogs, hub)
