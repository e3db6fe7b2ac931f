"""The kiosk's nouns as plain dataclasses: Person, Coverage, CardData, Admission, Incident.

A person and a coverage travel in FHIR R4 shape (the ``read-card --json`` contract in docs/cli.md), so
``from_fhir`` / ``to_fhir`` are the only conversions.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import asdict, dataclass, field
from typing import Any


# The identifier systems the cards give (docs/cli.md): the national numbers of persons, and the payor's.
KVNR_SYSTEM = "http://fhir.de/sid/gkv/kvid-10"            # German insured person number (eGK)
SSIN_SYSTEM = "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin"   # Belgian national number (eID)
IK_SYSTEM = "http://fhir.de/sid/arge-ik/iknr"             # German payor (Institutionskennzeichen)
NATIONAL_ID_SYSTEMS = (KVNR_SYSTEM, SSIN_SYSTEM)


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...] = ()
    postal_code: str = ""
    city: str = ""
    country: str = ""

    def to_fhir(self) -> dict:
        out: dict[str, Any] = {"line": list(self.lines)} if self.lines else {}
        for key, value in (("postalCode", self.postal_code), ("city", self.city), ("country", self.country)):
            if value:
                out[key] = value
        return out


@dataclass(frozen=True)
class Identifier:
    system: str
    value: str


@dataclass(frozen=True)
class Person:
    family: str
    given: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()
    birth_date: str = ""          # ISO, with the precision the source has: 1980-07-14, 1980-07 or 1980
    gender: str = "unknown"       # FHIR administrative gender
    identifiers: tuple[Identifier, ...] = ()
    address: Address | None = None
    phone: str = ""               # as given (cards have none; the patient may add one at the kiosk)

    @property
    def display_name(self) -> str:
        return " ".join([*self.prefix, *self.given, self.family]).strip()

    @classmethod
    def from_fhir(cls, patient: dict) -> "Person":
        name = (patient.get("name") or [{}])[0]
        addr = (patient.get("address") or [None])[0]
        return cls(
            family=name.get("family", ""),
            given=tuple(name.get("given", ())),
            prefix=tuple(name.get("prefix", ())),
            birth_date=patient.get("birthDate", ""),
            gender=patient.get("gender", "unknown"),
            identifiers=tuple(Identifier(i["system"], i["value"]) for i in patient.get("identifier", ())),
            address=Address(tuple(addr.get("line", ())), addr.get("postalCode", ""), addr.get("city", ""),
                            addr.get("country", "")) if addr else None,
            phone=next((t.get("value", "") for t in patient.get("telecom", ()) if t.get("system") == "phone"), ""),
        )

    def to_fhir(self) -> dict:
        name: dict[str, Any] = {"family": self.family}
        if self.given:
            name["given"] = list(self.given)
        if self.prefix:
            name["prefix"] = list(self.prefix)
        out: dict[str, Any] = {"resourceType": "Patient"}
        if self.identifiers:
            out["identifier"] = [{"system": i.system, "value": i.value} for i in self.identifiers]
        out["name"] = [name]
        out["gender"] = self.gender
        if self.birth_date:
            out["birthDate"] = self.birth_date
        if self.phone:
            # "home": the number the patient gave for themselves (PID-13 in HL7 v2 is the home number too);
            # whether it is a mobile the kiosk cannot tell.
            out["telecom"] = [{"system": "phone", "value": self.phone, "use": "home"}]
        if self.address:
            out["address"] = [self.address.to_fhir()]
        return out


@dataclass(frozen=True)
class Coverage:
    payor_system: str = ""
    payor_id: str = ""
    payor_name: str = ""
    subscriber_id: str = ""
    status: str = "active"
    start: str = ""
    end: str = ""

    @classmethod
    def from_fhir(cls, coverage: dict | None) -> "Coverage | None":
        if not coverage:
            return None
        payor = (coverage.get("payor") or [{}])[0]
        ident = payor.get("identifier", {})
        period = coverage.get("period", {})
        return cls(ident.get("system", ""), ident.get("value", ""), payor.get("display", ""),
                   coverage.get("subscriberId", ""), coverage.get("status", "active"),
                   period.get("start", ""), period.get("end", ""))

    def to_fhir(self) -> dict:
        out: dict[str, Any] = {"resourceType": "Coverage", "status": self.status}
        payor: dict[str, Any] = {}
        if self.payor_id:
            payor["identifier"] = {"system": self.payor_system, "value": self.payor_id}
        if self.payor_name:
            payor["display"] = self.payor_name
        if payor:
            out["payor"] = [payor]
        if self.subscriber_id:
            out["subscriberId"] = self.subscriber_id
        period = {k: v for k, v in (("start", self.start), ("end", self.end)) if v}
        if period:
            out["period"] = period
        return out

    def ended_before(self, day: str) -> bool:
        """True when the coverage period ended before ``day`` (ISO date)."""
        return bool(self.end) and self.end[:10] < day


@dataclass(frozen=True)
class CardData:
    """One card as read (the ``read-card --json`` object)."""

    card: str
    atr: str
    person: Person
    coverage: Coverage | None = None
    warnings: tuple[str, ...] = ()
    sample: bool = False        # a simulated reader's sample card, not a patient's (not part of the JSON)

    @classmethod
    def from_json(cls, data: dict) -> "CardData":
        return cls(data.get("card", "unknown"), data.get("atr", ""), Person.from_fhir(data["patient"]),
                   Coverage.from_fhir(data.get("coverage")), tuple(data.get("warnings", ())))

    def to_json(self) -> dict:
        return {"card": self.card, "atr": self.atr, "patient": self.person.to_fhir(),
                "coverage": self.coverage.to_fhir() if self.coverage else None, "warnings": list(self.warnings)}


@dataclass(frozen=True)
class Answer:
    link_id: str
    value: Any


@dataclass(frozen=True)
class FormResponse:
    """The intake form as the patient answered it, made once when the check-in completes
    (``kiosk.checkin.answers.form_response``): the form's canonical URL and the QuestionnaireResponse items
    (enabled questions only, with the question texts the form had then). The hospital gets these as they
    were made, so a form changed while admissions wait in the outbox changes nothing of what they say."""

    questionnaire: str = ""             # the form's canonical URL ("" when it has none)
    items: tuple[dict, ...] = ()        # QuestionnaireResponse.item, FHIR JSON

    def to_json(self) -> dict:
        return {"questionnaire": self.questionnaire, "item": list(self.items)}

    @classmethod
    def from_json(cls, data: dict) -> "FormResponse":
        return cls(data.get("questionnaire", ""), tuple(data.get("item", ())))


@dataclass(frozen=True)
class Appointment:
    """A booked appointment the hospital system has for the patient today."""

    id: str                             # the FHIR Appointment id
    start: str = ""                     # ISO 8601
    description: str = ""
    patient_number: str = ""            # the hospital's own number of the patient (hospital.patient_id_system)


@dataclass(frozen=True)
class PreCheckIn:
    """A patient's pre-check-in at home, as the site service gives it to the kiosk they arrive at (the kiosk
    API's ``arrival``, docs/site.md): who they are (with what they corrected), the intake form's answers and
    the consent, and what the "Is this you?" screen shows."""

    id: str                             # the site service's invitation id
    language: str
    given: str                          # the greeting: given name and the family name's first letter
    family_initial: str
    appointment_id: str
    appointment_start: str              # ISO 8601, as the appointment was given
    location: str
    person: Person
    patient_entered: tuple[str, ...] = ()
    form: str = ""                      # the canonical URL of the form the answers are to
    answers: dict = field(default_factory=dict)
    consent: str = "declined"           # accepted | declined
    consent_text_id: str = ""
    consent_signature: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class Admission:
    """Everything one check-in produced; stored whole before anything is printed or sent."""

    id: str
    kiosk_id: str
    created_at: str                     # ISO 8601, UTC
    language: str
    identified_by: str                  # card:<kind> | name | code
    person: Person
    coverage: Coverage | None = None
    appointment_code: str = ""
    answers: tuple[Answer, ...] = ()
    consent: str = "accepted"           # accepted | declined
    queue_number: str = ""              # given by the store when it is saved
    appointment_id: str = ""            # the hospital's Appointment this check-in arrives for, if found
    consent_text_id: str = ""           # which consent text was shown: kiosk.checkin.signature.text_id of it
    consent_signature: bytes = field(default=b"", repr=False)   # PNG of the patient's signature, when asked for
    patient_entered: tuple[str, ...] = ()   # fields the patient typed over the card's: address, phone
    # Sample data, not a patient: made by the demo, `kiosk print --sample`, or a simulated reader's sample
    # card. Marked as test data wherever it goes (FHIR meta.security HTEST, HL7 v2 MSH-11 T, the paper).
    test_data: bool = False
    patient_number: str = ""            # the hospital's own number of the patient, from today's appointment
    # The answers as the hospital gets them; None for an admission stored before admissions carried it
    # (its answers are then joined with the intake form at delivery: kiosk.hospital.outbox).
    form_response: FormResponse | None = field(default=None, repr=False)
    precheck_id: str = ""               # the site service's invitation id, for a patient who pre-checked in
    queue: str = ""                     # the prefix of the queue the patient joined (kiosk.checkin.queues)
    appointment_start: str = ""         # ISO 8601, when today's appointment (if any) starts: for the waiting list
    wait_min: int = 0                   # about how long the wait is, as the site estimated it (0: no estimate)

    def to_json(self) -> dict:
        return {
            "id": self.id, "kiosk_id": self.kiosk_id, "created_at": self.created_at, "language": self.language,
            "identified_by": self.identified_by, "patient": self.person.to_fhir(),
            "coverage": self.coverage.to_fhir() if self.coverage else None,
            "appointment_code": self.appointment_code,
            "answers": [asdict(a) for a in self.answers], "consent": self.consent,
            "queue_number": self.queue_number, "appointment_id": self.appointment_id,
            "consent_text_id": self.consent_text_id,
            "consent_signature": base64.b64encode(self.consent_signature).decode("ascii"),
            "patient_entered": list(self.patient_entered), "test_data": self.test_data,
            "patient_number": self.patient_number,
            **({"form_response": self.form_response.to_json()} if self.form_response is not None else {}),
            **({"precheck_id": self.precheck_id} if self.precheck_id else {}),
            **({"queue": self.queue} if self.queue else {}),
            **({"appointment_start": self.appointment_start} if self.appointment_start else {}),
            **({"wait_min": self.wait_min} if self.wait_min else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> "Admission":
        return cls(data["id"], data["kiosk_id"], data["created_at"], data["language"], data["identified_by"],
                   Person.from_fhir(data["patient"]), Coverage.from_fhir(data.get("coverage")),
                   data.get("appointment_code", ""), tuple(Answer(**a) for a in data.get("answers", ())),
                   data.get("consent", "accepted"), data.get("queue_number", ""), data.get("appointment_id", ""),
                   consent_text_id=data.get("consent_text_id", ""),
                   consent_signature=base64.b64decode(data.get("consent_signature", "")),
                   patient_entered=tuple(data.get("patient_entered", ())), test_data=bool(data.get("test_data")),
                   patient_number=data.get("patient_number", ""),
                   form_response=FormResponse.from_json(data["form_response"]) if data.get("form_response") else None,
                   precheck_id=data.get("precheck_id", ""), queue=data.get("queue", ""),
                   appointment_start=data.get("appointment_start", ""), wait_min=int(data.get("wait_min", 0)))


class Severity(enum.Enum):
    LOW = "low"          # check when convenient (details typed by the patient)
    MEDIUM = "medium"    # the patient needs a person at the desk
    HIGH = "high"        # the kiosk or an admission is at risk (device fault, not stored)


class IncidentKind(enum.Enum):
    """What staff must look at. A closed list: the desk view and metrics count by these."""

    HELP_REQUESTED = "help_requested"
    CARD_REMOVED = "card_removed"
    CARD_UNSUPPORTED = "card_unsupported"
    CARD_UNREADABLE = "card_unreadable"
    READER_FAULT = "reader_fault"
    COVERAGE_ENDED = "coverage_ended"
    IDENTITY_UNVERIFIED = "identity_unverified"
    DETAILS_WRONG = "details_wrong"
    DETAILS_CORRECTED = "details_corrected"   # the patient changed address or phone: staff verify
    ANSWER_NEEDS_STAFF = "answer_needs_staff"  # an intake answer marked for staff (e.g. PHQ-9 self-harm item)
    PRINTER_FAULT = "printer_fault"
    PAPER_LOW = "paper_low"
    PRINTER_NO_STATUS = "printer_no_status"     # it took the job but never said whether it printed
    SYNC_REJECTED = "sync_rejected"             # the hospital system refused an admission: staff enter it
    DUPLICATE_PATIENT = "duplicate_patient"     # the hospital system holds this person twice
    HOSPITAL_UNREACHABLE = "hospital_unreachable"   # admissions wait in the outbox
    CANCEL_IN_HOSPITAL = "cancel_in_hospital"   # cancelled here after it reached the hospital system
    APPOINTMENT_NOT_ARRIVED = "appointment_not_arrived"   # delivered, but its appointment is not marked arrived
    ARRIVAL_CODE_USED = "arrival_code_used"     # a pre-check-in's code shown again after it was used to arrive
    TICKET_NUMBER_SHARED = "ticket_number_shared"   # two of the day's tickets carry one number (the site's list)

    @property
    def about_the_kiosk(self) -> bool:
        """A state of the kiosk's own devices, not of a patient: while one is open, the same one is
        not raised again (a reader unplugged or a roll running low is one incident, not one a minute)."""
        return self in (IncidentKind.READER_FAULT, IncidentKind.PAPER_LOW, IncidentKind.PRINTER_NO_STATUS,
                        IncidentKind.HOSPITAL_UNREACHABLE)
    STORE_FAULT = "store_fault"


@dataclass(frozen=True)
class Incident:
    kind: IncidentKind
    severity: Severity
    detail: str = ""                    # for staff; no personal data (it may reach logs and metrics)
    admission_id: str | None = None
    extra: dict = field(default_factory=dict)
