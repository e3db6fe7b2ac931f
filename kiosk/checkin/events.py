"""What happens at the kiosk (events, into the flow) and what the app must do (effects, out of it).

Plain frozen dataclasses, no behaviour: ``kiosk.checkin.flow`` decides what each one means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.checkin.model import Admission, Appointment, CardData, Identifier, Incident, PreCheckIn


# --- events: what happened -------------------------------------------------------------------

@dataclass(frozen=True)
class Start:
    """The patient tapped 'Start' on the welcome screen."""


@dataclass(frozen=True)
class ChooseLanguage:
    language: str


@dataclass(frozen=True)
class CardInserted:
    pass


@dataclass(frozen=True)
class CardRead:
    card: CardData


@dataclass(frozen=True)
class CardRemoved:
    pass


@dataclass(frozen=True)
class CardFailed:
    reason: str          # unsupported | unreadable


@dataclass(frozen=True)
class ReaderFault:
    reason: str


@dataclass(frozen=True)
class ChooseCode:
    pass


@dataclass(frozen=True)
class ChooseName:
    pass


@dataclass(frozen=True)
class CodeEntered:
    code: str


@dataclass(frozen=True)
class NameEntered:
    family: str
    given: str
    birth_date: str      # as typed: 14.07.1980, 14/07/1980 or 1980-07-14


@dataclass(frozen=True)
class DetailsConfirmed:
    pass


@dataclass(frozen=True)
class DetailsWrong:
    pass


@dataclass(frozen=True)
class CorrectDetails:
    """The patient wants to change the address or phone shown on the confirm screen."""


@dataclass(frozen=True)
class DetailsCorrected:
    """Address and phone as the patient typed them (all address parts empty: no address)."""
    lines: tuple[str, ...]
    postal_code: str
    city: str
    phone: str


@dataclass(frozen=True)
class Answered:
    value: Any


@dataclass(frozen=True)
class ConsentGiven:
    """Agreed or declined, with what the patient read and, when agreed, the signature drawn."""
    accepted: bool
    text: str = ""                       # the consent text as shown (its id goes on the admission)
    strokes: tuple = field(default=(), repr=False)    # kiosk.checkin.signature strokes: fractions of the pad, 0..1
    pad_size: tuple[int, int] = (0, 0)   # the signature pad's size in pixels (the PNG's size)


@dataclass(frozen=True)
class AdmissionStored:
    queue_number: str
    wait_min: int = 0                   # the site's estimate of the wait, minutes (0: none)


@dataclass(frozen=True)
class AdmissionFailed:
    reason: str


@dataclass(frozen=True)
class AppointmentFound:
    """The answer to LookUpAppointment: today's appointment, or None (none booked, or the hospital
    system did not answer in time: the patient checks in as a walk-in)."""
    identifier_value: str
    appointment: Appointment | None


@dataclass(frozen=True)
class Scanned:
    """The barcode scanner read ``text`` (an arrival QR code: ``KIOSK1:<site>:<code>``)."""
    text: str = field(repr=False)


@dataclass(frozen=True)
class ArrivalFound:
    """The answer to FindArrival: the pre-check-in, or ``reason`` why there is none
    (kiosk.hospital.site_client.REASONS). ``asked``: what FindArrival asked with (``code``, or the card's
    identifier value), so that a late answer for a patient who has gone changes nothing."""
    asked: str = field(repr=False)
    arrival: PreCheckIn | None = field(default=None, repr=False)
    reason: str = ""


@dataclass(frozen=True)
class ThisIsMe:
    """'Is this you?' answered yes: the pre-check-in is the patient's."""


@dataclass(frozen=True)
class NotMe:
    """'Is this you?' answered no."""


@dataclass(frozen=True)
class PrintFinished:
    admission_id: str
    kind: str                # ticket | wristband
    status: str              # printed | unconfirmed (sent, but the printer gave no status) | failed
    reason: str = ""         # why it failed (kiosk.hardware.errors.REASONS)
    paper_low: bool = False  # printed, and the roll is nearly used up


@dataclass(frozen=True)
class Ticked:
    """The patient ticked (or unticked) an answer of a question that takes several; Continue answers."""
    value: Any


@dataclass(frozen=True)
class DraftChanged:
    """The patient typed into a field; kept so that help or the idle warning does not lose it."""
    field: str
    text: str


@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Finish:
    pass


@dataclass(frozen=True)
class CallStaff:
    pass


@dataclass(frozen=True)
class IdleWarning:
    pass


@dataclass(frozen=True)
class StillHere:
    pass


@dataclass(frozen=True)
class IdleTimeout:
    pass


# --- effects: what the app must do -------------------------------------------------------------

@dataclass(frozen=True)
class SaveAdmission:
    admission: Admission


@dataclass(frozen=True)
class Print:
    """Print the admission's ticket or wristband (``kind``), once."""
    admission: Admission
    kind: str


@dataclass(frozen=True)
class LookUpAppointment:
    """Ask the hospital system for the patient's appointment today (answered by AppointmentFound)."""
    identifier: Identifier


@dataclass(frozen=True)
class FindArrival:
    """Ask the site service for a pre-check-in: by the arrival ``code`` scanned or typed, or by the card's
    ``identifier`` with an appointment today (answered by ArrivalFound)."""
    code: str = field(default="", repr=False)
    identifier: Identifier | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RaiseIncident:
    incident: Incident


@dataclass(frozen=True)
class Wipe:
    """Forget everything about the patient: screens, text caches, session."""
