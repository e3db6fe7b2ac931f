"""The site's sections: the queues patients wait in (every kiosk and the site service), and the site service
(``kiosk site``: pre-check-in on the patient's phone, the waiting list, the lobby displays) with the kiosk's
way to it (``site.url``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.config.fields import (
    NAME_CHARS, PORT, ConfigError, Range, all_of, database_url, entries, file_check, ip_address, name_char, path_check,
    public_url, seconds, setting, site_url, smtp_url, text_check, usable_peer_secret)

if TYPE_CHECKING:
    from kiosk.checkin.queues import Display, Queues


@dataclass(frozen=True)
class SiteSettings:
    id: str = setting("site-1", f"Name of the site, in every arrival code, so that a kiosk knows a code of another site "
                      f"(text: 1 to 20 {NAME_CHARS}).", check=text_check(20, chars=name_char, what=NAME_CHARS))
    public_url: str = setting("", "Where patients' links start, as the hospital's reverse proxy publishes the patient "
                              "listener, e.g. https://checkin.hospital.example (URL: https, or http to 127.0.0.1/"
                              "localhost only; empty = `kiosk site` makes no invitations).", check=public_url)
    patient_bind: str = setting("127.0.0.1", "Address the patient listener (the patient pages, the only listener the "
                                "reverse proxy publishes) listens on (IP address).", check=ip_address)
    patient_port: int = setting(8044, "TCP port of the patient listener (number).", check=PORT)
    trusted_proxies: tuple = setting((), "Addresses of the reverse proxies in front of the patient listener: only "
                                     "their X-Forwarded-For/-Proto/-Host headers are believed (IP addresses; empty = "
                                     "none, patients connect directly).", check=entries(ip_address))
    site_bind: str = setting("127.0.0.1", "Address the site listener (the kiosks' and the invitation API, for the "
                             "site network only) listens on; other than 127.0.0.1 it needs tls_cert (IP address).",
                             check=ip_address)
    site_port: int = setting(8045, "TCP port of the site listener (number).", check=PORT)
    tls_cert: str = setting("", "Certificate of the site listener, PEM, with its key in the same file or in tls_key "
                            "(absolute path; empty = plain HTTP, allowed on 127.0.0.1 only).", check=file_check)
    tls_key: str = setting("", "Key of tls_cert when it is a file of its own (absolute path; empty = none).",
                           check=file_check)
    api_token_file: str = setting("", "File holding the bearer token the appointment system sends to the invitation "
                                  "API, mode 0600 (absolute path; empty = no invitation API, only `kiosk site invite`).",
                                  check=all_of(path_check(), usable_peer_secret))
    database_url: str = setting("", "Where the site service keeps its data: empty = an encrypted file site.db in "
                                "kiosk.data_dir (with the store's key), or postgresql://user@host:port/database for "
                                "several instances sharing PostgreSQL; its password in ~/.pgpass or PGPASSFILE, never "
                                "here (URL).", check=database_url)
    smtp_url: str = setting("", "The hospital's mail relay for e-mailing invitation links to patients who have an "
                            "e-mail address: smtps://host:465, or smtp://host:25 (STARTTLS, required but to "
                            "127.0.0.1) (URL; empty = no e-mail: the API and `kiosk site invite` give the link).",
                            check=smtp_url)
    smtp_from: str = setting("", "Sender of those e-mails, e.g. Clinic check-in <checkin@hospital.example> (text: at most "
                             "200 printable characters; needed with smtp_url).", check=text_check(200, required=False))
    smtp_credentials_file: str = setting("", "File holding user:password for the relay, mode 0600 (absolute path; empty "
                                         "= the relay takes mail without signing in).", check=file_check)
    smtp_ca_file: str = setting("", "CA certificates to verify the relay's TLS certificate with (absolute path; empty = the "
                                "system's).", check=file_check)
    smtp_timeout_s: float = setting(10.0, "Longest wait for the relay (seconds).", check=seconds(1, 120))
    birth_date_tries: int = setting(5, "Wrong birth dates that lock a patient's link; the page then asks them to call "
                                    "the clinic (number: 3 to 10).", check=Range(3, 10, "tries"))
    address_limit: int = setting(30, "Links opened and birth dates tried from one address within limit_window_s, "
                                 "beyond which it waits; a hospital's guest network may put many patients behind one "
                                 "address (number: 5 to 10000).", check=Range(5, 10000, "requests"))
    link_limit: int = setting(10, "Birth dates tried on one link within limit_window_s (number: 3 to 100).",
                              check=Range(3, 100, "requests"))
    limit_window_s: float = setting(900.0, "The window of address_limit and link_limit (seconds).",
                                    check=seconds(60, 86400))
    session_min: float = setting(30.0, "A patient who typed their birth date stays signed in this long without a "
                                 "page load; then the birth date is asked again (minutes).", check=Range(5, 240, "minutes"))
    # The kiosk's side: where it asks for pre-checked patients (the kiosk API, with desk.peer_secret_file).
    url: str = setting("", "Base URL of the site service's site listener this kiosk asks when a pre-checked patient "
                       "arrives, e.g. https://site.hospital.example:8045 (URL: https, or http to 127.0.0.1/localhost "
                       "only; empty = no pre-check-in at this kiosk; needs desk.peer_secret_file).", check=site_url)
    ca_file: str = setting("", "CA certificates to verify the site listener's TLS certificate with (absolute path; empty "
                           "= the system's).", check=file_check)
    timeout_s: float = setting(3.0, "Longest wait for the site service's answer when a patient scans or types an arrival "
                               "code; then the kiosk checks the patient in as usual (seconds).", check=seconds(0.5, 30))


def _queue_list(values: tuple) -> str | None:
    from kiosk.checkin.queues import parse_queue
    if not values:
        return "must name at least one queue"
    prefixes = []
    for entry in values:
        try:
            prefixes.append(parse_queue(entry).prefix)
        except ValueError as e:
            return f"has an entry that {e}"
    twice = next((p for i, p in enumerate(prefixes) if p in prefixes[:i]), None)
    return f"has the prefix {twice!r} twice" if twice else None


@dataclass(frozen=True)
class QueueSettings:
    names: tuple = setting(("R Registration",), "The queues patients wait in, each '<prefix> <name>', e.g. 'B Blood "
                           "tests': the prefix (1 to 4 letters or digits) goes before the number on the ticket, B-017, "
                           "the name is printed above it and shown to staff; the first is the queue of every patient "
                           "no route sends elsewhere; the same on every kiosk and the site service (texts, each prefix "
                           "once).", check=_queue_list)
    routes: tuple = setting((), "Which queue a patient joins, the first that matches: 'appointment: <text> -> <prefix>' "
                            "(today's appointment's location or description contains the text, in any case) or "
                            "'answer: <question linkId> = <value> -> <prefix>' (the intake answer is, or includes, the "
                            "value) (texts; empty = every patient joins the first queue).")
    counters: tuple = setting(("Desk 1", "Desk 2"), "Where staff call patients to, as the displays show and say it, "
                              "e.g. 'Desk 2', 'Room 4'; each member of staff chooses theirs on the waiting list (texts "
                              "of 1 to 40 printable characters, each once).",
                              check=all_of(entries(text_check(40)), lambda v: None if v else "must name at least one"))
    displays: tuple = setting(("lobby",), "The lobby displays, each '<name>: <queue prefixes> / <languages>', e.g. "
                              "'lobby: A B / de en', shown at /display/<name> of the site listener: the calls of those "
                              "queues (none given: every queue), announced in those languages (none given: the "
                              "first of kiosk.languages) (texts, each name once).")
    no_show_after: int = setting(3, "Calls after which 'Not here' makes a ticket a no-show instead of putting it back "
                                 "at the end of its queue (number: 1 to 10).", check=Range(1, 10, "calls"))
    mail_turn: bool = setting(True, "E-mail a patient who pre-checked in, when at most one patient is before them in "
                              "their queue, that their number will be called soon (needs site.smtp_url and an e-mail address "
                              "in the invitation; the mail says the number only) (true/false).")

    def __post_init__(self) -> None:
        from kiosk.checkin.queues import Queues
        from kiosk.checkin.queues import parse_display
        from kiosk.config.fields import SUPPORTED_LANGUAGES
        try:
            object.__setattr__(self, "_queues", Queues(self.names, self.routes))
        except ValueError as e:
            key = "routes" if _queue_list(self.names) is None else "names"
            raise ConfigError(f"'queues.{key}' has an entry that {e}.") from None
        prefixes = tuple(q.prefix for q in self._queues.queues)
        displays = {}
        for entry in self.displays:
            try:
                display = parse_display(entry, prefixes, SUPPORTED_LANGUAGES)
            except ValueError as e:
                raise ConfigError(f"'queues.displays' has an entry that {e}.") from None
            if display.name in displays:
                raise ConfigError(f"'queues.displays' has the display {display.name!r} twice.")
            displays[display.name] = display
        object.__setattr__(self, "_displays", displays)

    def queues(self) -> Queues:
        """The queues and routes, parsed (kiosk.checkin.queues)."""
        return self._queues

    def display(self, name: str) -> Display | None:
        """The display of that name, parsed; None: there is none."""
        return self._displays.get(name)

    def display_names(self) -> tuple[str, ...]:
        return tuple(self._displays)
