"""The invitation's link by e-mail, where ``site.smtp_url`` names the hospital's relay: plain text and HTML,
in the patient's language; the subject says what it is and nothing about the patient or the appointment.
(kiosk.site.turns sends through ``send`` too: that a patient's turn is near.)

The body gives the day and time of the appointment (the patient knows it; the department is left out, as
it may say what the patient is treated for) and the link. Sent at once, with the relay's TLS verified
(smtps://, or STARTTLS on smtp:// to any address but loopback); when it cannot be sent the invitation is
still made and the API says so (``"emailed": false``), so the hospital can send the link another way.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from html import escape
from urllib.parse import urlsplit

from kiosk.config import is_loopback
from kiosk.i18n import Catalogs, format_appointment
from kiosk.messages import N_

log = logging.getLogger(__name__)

SUBJECT = N_("Your check-in link")
GREETING = N_("You can check in for your appointment on {when} before you come, on your phone or computer:")
VALID = N_("The link works until the end of the day of your appointment. You will be asked for your date of birth.")
IGNORE = N_("If you did not expect this message, you can ignore it.")


def new_message(subject: str, sender: str, to: str) -> EmailMessage:
    """A message with its headers (the body is the caller's): subject, from, to and a Message-ID of the sender's
    domain."""
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, sender, to
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    return message


def email_of(patient: dict) -> str:
    """The first e-mail address of a FHIR Patient's telecom ("" when none)."""
    return next((t.get("value", "") for t in patient.get("telecom", []) if t.get("system") == "email"), "")


def compose(catalogs: Catalogs, language: str, *, sender: str, to: str, link: str, start) -> EmailMessage:
    _ = catalogs.translator(language)
    when = format_appointment(start, language)
    lines = [_(GREETING).format(when=when), "", link, "", _(VALID), "", _(IGNORE)]
    message = new_message(_(SUBJECT), sender, to)
    message.set_content("\n".join(lines))
    message.add_alternative(
        f'<!doctype html><html lang="{language}"><body>'
        f"<p>{escape(_(GREETING).format(when=when))}</p>"
        f'<p><a href="{escape(link)}">{escape(link)}</a></p>'
        f"<p>{escape(_(VALID))}</p><p>{escape(_(IGNORE))}</p></body></html>", subtype="html")
    message["Content-Language"] = language       # after the parts: making them moves Content-* headers down
    return message


def send(settings, message: EmailMessage, what: str = "invitation") -> bool:
    """Hand the message to the relay; False (logged as ``what``'s, without the address) when it cannot."""
    s = settings.site
    parts = urlsplit(s.smtp_url)
    context = ssl.create_default_context(cafile=s.smtp_ca_file or None)
    try:
        if parts.scheme == "smtps":
            relay = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=s.smtp_timeout_s, context=context)
        else:
            relay = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=s.smtp_timeout_s)
        with relay:
            if parts.scheme == "smtp" and not is_loopback(parts.hostname):
                relay.starttls(context=context)
            if s.smtp_credentials_file:
                user, _, password = open(s.smtp_credentials_file, encoding="utf-8").read().strip().partition(":")
                relay.login(user, password)
            relay.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as e:
        log.warning("the %s e-mail could not be sent: %s", what, type(e).__name__)
        return False


def mail_link(settings, catalogs: Catalogs, request, link: str) -> bool:
    """E-mail ``link`` to the invited patient when the relay is configured and they have an address; whether
    it went."""
    to = email_of(request.patient)
    if not (settings.site.smtp_url and to):
        return False
    return send(settings, compose(catalogs, request.language, sender=settings.site.smtp_from, to=to, link=link,
                                  start=request.start))
