"""The kiosk's side of the site service's kiosk API (docs/site.md, "The kiosk API"): a queue number from the
site's numbers for each ticket, a pre-checked patient found by the arrival code they scan or type, or by the
card they insert, and each admission's ticket put on the site's waiting list (and the pre-check-in marked
arrived) once the admission is stored.

``SiteClient`` asks for a number within ``TICKET_TIMEOUT_S`` (the patient waits for it; a service away is
not asked again for ``AWAY_S``: the kiosk prints its own numbers), for the rest within ``site.timeout_s``, with the site's shared secret (``desk.peer_secret_file``) as
bearer token, and answers with a ``Lookup``: the pre-check-in, or why there is none. ``SiteArrivals`` is the
outbox's transport for the destination ``site``: each admission's ticket goes on the waiting list (and one
made from a pre-check-in is marked arrived) through the outbox, so that a site service away at that moment
hears of it when it is back, exactly once. Nothing the
service sends reaches the logs: it is a patient's.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.checkin.model import Admission, Identifier, Person, PreCheckIn
from kiosk.hospital.transports import Attempt

if TYPE_CHECKING:
    from kiosk.config import Settings

log = logging.getLogger(__name__)

DESTINATION = "site"             # the outbox destination of the arrival calls
# What the service's 404/409 ``reason`` may be, and what the kiosk adds: the service did not answer
# (unreachable), refused the secret (refused) or answered something that is no kiosk API answer (invalid).
REASONS = ("unknown", "other_site", "arrived", "unreachable", "refused", "invalid")
TICKET_TIMEOUT_S = 1.0           # the longest a patient waits for the site's number before the kiosk's own
AWAY_S = 30.0                    # after no number came, the kiosk prints its own this long without asking


@dataclass(frozen=True)
class Lookup:
    """The service's answer: the pre-check-in, or ``reason`` (one of ``REASONS``) why there is none."""
    arrival: PreCheckIn | None = None
    reason: str = ""


class SiteClient:
    """Calls to the kiosk API of the site listener at ``url`` (its base URL), with ``secret`` as bearer."""

    def __init__(self, url: str, secret: str, *, ca_file: str = "", timeout_s: float = 3.0):
        import requests
        self.base = url.rstrip("/") + "/api/v1/arrivals"
        self.tickets = url.rstrip("/") + "/api/v1/tickets"
        self.timeout_s = timeout_s
        self.away_until = 0.0                     # monotonic: no number asked for before then
        self._asking = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="site-number")
        self.session = requests.Session()
        self.session.trust_env = False            # no proxy or .netrc from the environment gets the secret
        self.session.headers["Authorization"] = f"Bearer {secret}"
        self.session.verify = ca_file or True

    @classmethod
    def from_settings(cls, settings: Settings) -> SiteClient | None:
        """The client ``site.url`` names (None: no site service). :raises ConfigError: the secret is unusable"""
        from kiosk.config.fields import read_peer_secret
        s = settings.site
        if not s.url:
            return None
        return cls(s.url, read_peer_secret(settings.desk.peer_secret_file), ca_file=s.ca_file, timeout_s=s.timeout_s)

    def find_by_code(self, text: str) -> Lookup:
        """The pre-check-in whose arrival code ``text`` is (as scanned: ``KIOSK1:<site>:<code>``, or typed)."""
        return self._find({"code": text[:200]})

    def find_by_card(self, identifier: Identifier, day_start: int, day_end: int) -> Lookup:
        """The finished pre-check-in of the card's ``identifier`` with an appointment between ``day_start``
        and ``day_end`` (epoch seconds): the kiosk's day."""
        return self._find({"identifier": {"system": identifier.system, "value": identifier.value},
                           "day": {"start": day_start, "end": day_end}})

    def _find(self, body: dict) -> Lookup:
        import requests
        try:
            answer = self.session.post(f"{self.base}/find", json=body, timeout=self.timeout_s)
            data = answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else None
        except (requests.RequestException, ValueError) as e:
            log.warning("site service not reached: %s", type(e).__name__)
            return Lookup(reason="unreachable")
        if answer.status_code in (401, 403):
            log.error("the site service refuses this kiosk's secret (HTTP %d): check desk.peer_secret_file",
                      answer.status_code)
            return Lookup(reason="refused")
        if answer.status_code == 404 and isinstance(data, dict) and data.get("reason") in REASONS:
            return Lookup(reason=data["reason"])
        if answer.status_code == 404 and isinstance(data, dict) and data.get("reason") == "not_finished":
            return Lookup(reason="unknown")
        if answer.status_code == 200 and isinstance(data, dict):
            try:
                return Lookup(arrival=pre_check_in(data["arrival"]))
            except (KeyError, TypeError, ValueError, binascii.Error):
                pass
        log.warning("the site service answered HTTP %d, not as the kiosk API does", answer.status_code)
        return Lookup(reason="invalid" if answer.status_code < 500 else "unreachable")

    def probe(self) -> str:
        """Ask for a code no pre-check-in has (``kiosk doctor``): "" when the site service answers as the kiosk
        API does and takes this kiosk's secret, else the reason: unreachable, refused, invalid."""
        reason = self._find({"code": "kiosk-doctor"}).reason
        return "" if reason == "unknown" else reason

    def number(self, admission_id: str, kiosk_id: str, queue: str) -> tuple[str, int]:
        """The site's next number in ``queue`` for this admission (the same again when asked again) and its
        estimate of the wait in minutes (0: none), or ("", 0) when the service does not give one within
        TICKET_TIMEOUT_S: the kiosk then prints its own."""
        import requests
        if time.monotonic() < self.away_until:
            return "", 0
        limit = min(TICKET_TIMEOUT_S, self.timeout_s)
        # On a thread of its own, waited for at most ``limit`` in all: requests' timeout holds per phase
        # (connect, each read) and not for the name look-up. A late answer is dropped (its number a gap).
        asked = self._asking.submit(self.session.post, self.tickets, timeout=limit,
                                    json={"kiosk": kiosk_id, "admission": admission_id, "queue": queue})
        try:
            answer = asked.result(timeout=limit)
            given = answer.json() if answer.status_code == 201 else {}
            number, wait = given.get("number"), given.get("wait_min")
        except (requests.RequestException, ValueError, AttributeError, concurrent.futures.TimeoutError) as e:
            number, wait, failure = None, None, type(e).__name__
        else:
            failure = f"HTTP {answer.status_code}"
        if isinstance(number, str) and 0 < len(number) <= 16 and number.isprintable():
            return number, wait if isinstance(wait, int) and 0 < wait <= 600 else 0
        log.warning("no queue number from the site service (%s): the kiosk prints its own for %.0f s", failure, AWAY_S)
        self.away_until = time.monotonic() + AWAY_S
        return "", 0

    def register(self, admission: Admission) -> Attempt:
        """Put the admission's ticket on the site's waiting list (again: a retry changes nothing); how it went,
        as the outbox sorts it. Nothing personal: numbers, queue, times and ids."""
        import requests
        body = {"kiosk": admission.kiosk_id, "queue": admission.queue, "number": admission.queue_number,
                "created_at": admission.created_at, "appointment_start": admission.appointment_start,
                "precheck": admission.precheck_id}
        try:
            answer = self.session.put(f"{self.tickets}/{admission.id}", json=body, timeout=self.timeout_s)
        except requests.RequestException as e:
            return Attempt("retry", f"unreachable: {type(e).__name__}")
        if answer.status_code == 200:
            return Attempt("delivered", response=answer.text[:200], answered=True)
        if answer.status_code in (400, 422):
            return Attempt("dead", "ticket_refused", f"HTTP {answer.status_code}: {answer.text[:500]}", answered=True)
        return Attempt("retry", f"http_{answer.status_code}", answer.text[:500], answered=answer.status_code < 500)

    def arrived(self, invitation_id: str, kiosk_id: str, admission_id: str) -> Attempt:
        """Mark the pre-check-in arrived as this admission; how it went, as the outbox sorts it: delivered
        (also when it was marked so before: a retry), retry (no answer, the service failing, the secret
        refused) or dead (``arrived``: arrived as another admission; ``unknown``: the service no longer has it)."""
        import requests
        try:
            answer = self.session.post(f"{self.base}/{invitation_id}/arrived",
                                       json={"kiosk": kiosk_id, "admission": admission_id}, timeout=self.timeout_s)
        except requests.RequestException as e:
            return Attempt("retry", f"unreachable: {type(e).__name__}")
        if answer.status_code == 200:
            return Attempt("delivered", response=answer.text[:200], answered=True)
        try:
            reason = answer.json().get("reason", "")
        except (ValueError, AttributeError):
            reason = ""
        if answer.status_code == 409 and reason == "arrived":
            return Attempt("dead", "precheck_arrived", answer.text[:500], answered=True)
        if answer.status_code == 404 and reason == "unknown":
            return Attempt("dead", "precheck_unknown", answer.text[:500], answered=True)
        return Attempt("retry", f"http_{answer.status_code}", answer.text[:500], answered=answer.status_code < 500)

    def close(self) -> None:
        self._asking.shutdown(wait=False)
        self.session.close()


def pre_check_in(data: dict) -> PreCheckIn:
    """The API's ``arrival`` object as a PreCheckIn. :raises KeyError, TypeError, ValueError: not one"""
    consent = data.get("consent") or {}
    appointment, greeting = data["appointment"], data["greeting"]
    if not isinstance(data["id"], str) or not data["id"] or not isinstance(data["patient"], dict):
        raise ValueError("no arrival")
    answers = data.get("answers") or {}
    if not isinstance(answers, dict):
        raise ValueError("answers")
    return PreCheckIn(
        id=data["id"], language=str(data.get("language", "")), given=str(greeting.get("given", "")),
        family_initial=str(greeting.get("family_initial", ""))[:1], appointment_id=str(appointment.get("id", "")),
        appointment_start=str(appointment.get("start", "")), location=str(appointment.get("location", "")),
        person=Person.from_fhir(data["patient"]),
        patient_entered=tuple(f for f in data.get("patient_entered") or () if f in ("address", "phone")),
        form=str(data.get("form") or ""), answers=answers,
        consent="accepted" if consent.get("decision") == "accepted" else "declined",
        consent_text_id=str(consent.get("text_id") or ""),
        consent_signature=base64.b64decode(consent.get("signature") or "", validate=True))


class SiteArrivals:
    """The outbox's transport for ``site``: the admission's ticket on the waiting list, and an admission made
    from a pre-check-in marked arrived there."""

    name = DESTINATION

    def __init__(self, settings: Settings):
        client = SiteClient.from_settings(settings)
        if client is None:
            raise ValueError("site.url is not set")
        self.client, self.kiosk_id = client, settings.kiosk.id

    def send(self, admission: Admission, row: dict) -> Attempt:
        """The ticket on the list and, for a pre-checked patient, the arrival, both whatever the other's
        outcome (each is idempotent): a retry of either tries both again; else what needs staff, the
        ticket's refusal first."""
        ticket = self.client.register(admission)
        if not admission.precheck_id:
            return ticket
        arrival = self.client.arrived(admission.precheck_id, self.kiosk_id, admission.id)
        for kind in ("retry", "dead"):
            found = next((a for a in (ticket, arrival) if a.kind == kind), None)
            if found:
                return found
        return ticket

    def close(self) -> None:
        self.client.close()
