"""Invitations for a day's booked Appointments on the hospital's FHIR server (``kiosk site invite --from-fhir
--date D``): one search (``Appointment?date=D&status=booked``, the Patients included, page by page), one
invitation per Appointment, made as the invitation API makes them (an appointment invited before is left
as it is).

Where the patient goes: the Appointment's Location participant (its display), else its service type, else
its description. The patient's language: their preferred ``communication`` when the pages have it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.hospital.transports import http_session

PAGE = 100


@dataclass(frozen=True)
class Booked:
    """One Appointment of the day as an invitation's body (``kiosk.site.invitations.parse_request``), or
    the sentence why it cannot be one."""

    appointment_id: str
    body: dict | None
    problem: str = ""


def _where(appointment: dict) -> str:
    for participant in appointment.get("participant") or ():
        actor = participant.get("actor") or {}
        if actor.get("reference", "").startswith("Location/") and actor.get("display"):
            return actor["display"]
    for service in appointment.get("serviceType") or ():
        text = service.get("text") or next((c.get("display") for c in service.get("coding") or () if c.get("display")), "")
        if text:
            return text
    return appointment.get("description", "")


def _language(patient: dict, default: str) -> str:
    preferred = sorted(patient.get("communication") or (), key=lambda c: not c.get("preferred"))
    for communication in preferred:
        for coding in (communication.get("language") or {}).get("coding") or ():
            code = str(coding.get("code", ""))[:2].lower()
            if code in SUPPORTED_LANGUAGES:
                return code
    return default


def booked(bundles: list[dict], default_language: str) -> list[Booked]:
    """The day's Appointments of search Bundles, each with its patient, as invitation bodies."""
    resources = [e.get("resource") or {} for bundle in bundles for e in bundle.get("entry") or ()]
    patients = {f"Patient/{r.get('id', '')}": r for r in resources if r.get("resourceType") == "Patient"}
    found = []
    for appointment in (r for r in resources if r.get("resourceType") == "Appointment"):
        refs = [(p.get("actor") or {}).get("reference", "") for p in appointment.get("participant") or ()]
        patient = next((patients[ref] for ref in refs if ref in patients), None)
        if patient is None:
            found.append(Booked(appointment.get("id", ""), None, "its Patient was not in the search's answer"))
            continue
        found.append(Booked(appointment.get("id", ""), {
            "appointment": {"id": appointment.get("id", ""), "start": appointment.get("start", ""),
                            "location": _where(appointment)},
            "patient": patient, "language": _language(patient, default_language)}))
    return found


def search_day(hospital, day: date, timeout_s: float) -> list[dict]:
    """The search's Bundles, every page (``next`` links on the same server only).

    :raises requests.RequestException, ValueError: the server cannot be reached, refuses, or answers no JSON
    """
    base = hospital.url.rstrip("/")
    session, verify = http_session(hospital)
    with session:
        answer = session.get(f"{base}/Appointment", timeout=timeout_s, verify=verify,
                             params={"date": day.isoformat(), "status": "booked", "_include": "Appointment:patient",
                                     "_count": str(PAGE)})
        bundles = []
        while True:
            answer.raise_for_status()
            bundles.append(answer.json())
            following = next((link.get("url", "") for link in bundles[-1].get("link") or ()
                              if link.get("relation") == "next"), "")
            if not following.startswith(base + "/") and not following.startswith(base + "?"):
                return bundles
            answer = session.get(following, timeout=timeout_s, verify=verify)
