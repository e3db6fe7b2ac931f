"""Today's appointment of a patient at the kiosk, asked of the FHIR server while the patient waits.

The look-up has an HTTP session of its own (the delivery worker's runs on another thread and may be in
the middle of a long backlog): it is made on the UI's side, used from short-lived threads, and answers
within the time it is given or not at all.
"""

from __future__ import annotations

import logging
from datetime import date

from kiosk.checkin.model import Appointment, Identifier
from kiosk.config import HospitalSettings
from kiosk.hospital import fhir
from kiosk.hospital.transports import http_session

log = logging.getLogger(__name__)


class AppointmentLookup:
    """Appointment searches on the FHIR base of ``hospital`` (with the Patient included, for the hospital's
    own patient number)."""

    def __init__(self, hospital: HospitalSettings):
        self.base = hospital.url.rstrip("/")
        self.patient_id_system = hospital.patient_id_system     # the hospital's own patient numbers
        self.session, self.verify = http_session(hospital)

    def find_appointment(self, identifier: Identifier, day: date, timeout: float) -> Appointment | None:
        """The patient's first booked appointment on ``day``, or None: none, or no answer in ``timeout``
        (the patient then checks in as a walk-in)."""
        import requests
        path, params = fhir.appointment_search(identifier.system, identifier.value, day)
        try:
            answer = self.session.get(f"{self.base}/{path}", params=params, timeout=timeout, verify=self.verify)
            answer.raise_for_status()
            found = sorted(fhir.appointments_from(answer.json(), self.patient_id_system), key=lambda a: a["start"])
        except (requests.RequestException, ValueError) as e:
            log.warning("appointment lookup failed (%s): walk-in", type(e).__name__)
            return None
        return Appointment(found[0]["id"], found[0]["start"], found[0]["description"],
                           found[0]["patient_number"]) if found else None

    def close(self) -> None:
        self.session.close()
