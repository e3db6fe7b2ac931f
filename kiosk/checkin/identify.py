"""Welcome and identify: who the patient is, from their card, or from the name and birth date they type
(with an appointment code or without). Pure, like the rest of the check-in.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Callable

from kiosk.checkin.arrival import ARRIVAL_CODE
from kiosk.checkin.dates import is_partial_date, typed_date
from kiosk.checkin.events import (AppointmentFound, CardFailed, CardInserted, CardRead, CardRemoved, ChooseCode,
                                  ChooseName, CodeEntered, FindArrival, LookUpAppointment, NameEntered, RaiseIncident, ReaderFault,
                                  Start)
from kiosk.checkin.model import Incident, IncidentKind, Person, Severity
from kiosk.checkin.session import Session, State
from kiosk.messages import N_


def parse_birth_date(text: str, today: date) -> str | None:
    """A typed birth date as ISO, or None. Day first (14.07.1980, 14/07/1980) or ISO (1980-07-14)."""
    born = typed_date(text)
    if born is None or born > today or born.year < today.year - 130:
        return None
    return born.isoformat()


class Identify:
    """The handlers of the welcome and identify screens and of the card reader's faults, part of
    ``kiosk.checkin.flow.CheckIn`` (its transition table names them): they fill in who the patient is."""

    session: Session
    state: State
    look_up_appointments: bool
    find_arrivals: bool
    _find_by_code: Callable[[str], list]
    _now: Callable[[], datetime]

    def _reader_fault(self, event: ReaderFault) -> list:
        self.session.reading = False
        if self.state is State.IDENTIFY:
            self.session.notice = N_("The card reader is not working. Please use one of the other ways below.")
        return [RaiseIncident(Incident(IncidentKind.READER_FAULT, Severity.HIGH, event.reason))]

    def _start(self, _: Start) -> list:
        self.state = State.IDENTIFY
        return []

    def _card_inserted(self, _: CardInserted) -> list:
        self.state = State.IDENTIFY
        self.session.reading = True
        self.session.notice = ""
        return []

    def _card_read(self, event: CardRead) -> list:
        s = self.session
        person = event.card.person
        if not person.family or (person.birth_date and not is_partial_date(person.birth_date)):
            return self._card_failed(CardFailed("invalid"))
        s.reading = False
        s.notice = ""
        s.person, s.coverage = event.card.person, event.card.coverage
        s.identified_by = f"card:{event.card.card}"
        s.sample = event.card.sample
        if s.coverage and s.coverage.ended_before(self._now().date().isoformat()):
            s.notice = N_("The insurance cover on this card has ended. Please see the front desk after check-in.")
            s.pending.append(Incident(IncidentKind.COVERAGE_ENDED, Severity.MEDIUM))
        self.state = State.CONFIRM
        effects: list = []
        if self.look_up_appointments and person.identifiers:
            effects.append(LookUpAppointment(person.identifiers[0]))
        if self.find_arrivals and person.identifiers:
            # Did this patient pre-check in for today? Asked while they read their details.
            s.arrival_asked = person.identifiers[0].value
            effects.append(FindArrival(identifier=person.identifiers[0]))
        return effects

    def _appointment_found(self, event: AppointmentFound) -> list:
        # Late answers for a patient who has already gone (or finished) change nothing.
        s = self.session
        if (s.person and s.person.identifiers and s.person.identifiers[0].value == event.identifier_value
                and s.admission is None):
            s.appointment = event.appointment
        return []

    def _card_removed(self, _: CardRemoved) -> list:
        if not self.session.reading:
            return []          # taking the card out after it was read is what patients should do
        self.session.reading = False
        self.session.notice = N_("The card was taken out before it could be read. "
                                 "Please insert it again and leave it in, or use one of the other ways below.")
        return [RaiseIncident(Incident(IncidentKind.CARD_REMOVED, Severity.LOW))]

    def _card_failed(self, event: CardFailed) -> list:
        self.state = State.IDENTIFY
        self.session.reading = False
        if event.reason == "unsupported":
            self.session.notice = N_("This card cannot be used here. Please use one of the other ways below.")
            kind = IncidentKind.CARD_UNSUPPORTED
        else:
            self.session.notice = N_("This card could not be read. Please use one of the other ways below.")
            kind = IncidentKind.CARD_UNREADABLE
        return [RaiseIncident(Incident(kind, Severity.MEDIUM, event.reason))]

    def _choose_code(self, _: ChooseCode) -> list:
        self.session.notice = ""
        self.state = State.ENTER_CODE
        return []

    def _choose_name(self, _: ChooseName) -> list:
        self.session.notice = ""
        self.state = State.ENTER_NAME
        return []

    def _code_entered(self, event: CodeEntered) -> list:
        code = event.code.strip().upper()
        if not re.fullmatch(r"[A-Z0-9-]{4,20}", code):
            self.session.notice = N_("Please type the code exactly as it is on your letter: 4 to 20 letters or digits.")
            return []
        self.session.appointment_code = code
        if self.find_arrivals and ARRIVAL_CODE.fullmatch(code):
            return self._find_by_code(code)     # a pre-check-in's arrival code, or else an appointment code
        # The code is not looked up in the hospital system: it is kept on the admission, and the patient
        # says who they are.
        self.session.notice = N_("Thank you. Please also enter your name and date of birth.")
        self.state = State.ENTER_NAME
        return []

    def _name_entered(self, event: NameEntered) -> list:
        s = self.session
        family, given = " ".join(event.family.split()), " ".join(event.given.split())
        if not family or not given:
            s.notice = N_("Please enter both your first name and your last name.")
            return []
        born = parse_birth_date(event.birth_date, self._now().date())
        if born is None:
            s.notice = N_("Please enter your date of birth as day.month.year, for example 14.07.1980.")
            return []
        s.notice = ""
        s.person = Person(family=family, given=tuple(given.split(" ")), birth_date=born)
        s.coverage = None
        s.sample = False
        s.identified_by = "code" if s.appointment_code else "name"
        s.pending.append(Incident(IncidentKind.IDENTITY_UNVERIFIED, Severity.LOW, s.identified_by))
        self.state = State.CONFIRM
        return []
