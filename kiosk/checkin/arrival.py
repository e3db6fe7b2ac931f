"""A patient who pre-checked in at home arrives: their pre-check-in is looked up at the site service (by
the arrival code scanned or typed, or by the card inserted), shown as "Is this you?", and on "Yes" stored as
the admission with the answers and the consent given at home, with no question asked again. Whatever finds
nothing ends in the kiosk's own check-in with a sentence saying why. Pure, like the rest of the check-in.
"""

from __future__ import annotations

import re
from typing import Callable

from kiosk.checkin import answers as checking
from kiosk.checkin.events import ArrivalFound, FindArrival, NotMe, RaiseIncident, SaveAdmission, Scanned, ThisIsMe
from kiosk.checkin.forms import Form
from kiosk.checkin.model import Admission, Answer, FormResponse, Incident, IncidentKind, PreCheckIn, Severity
from kiosk.checkin.session import Session, State
from kiosk.messages import N_

# An arrival code as the patient types it: ten of the code's characters, in two groups or not (the site
# service forgives O, I and L for 0, 1 and 1, and case); anything else typed is an appointment code.
ARRIVAL_CODE = re.compile(r"[0-9A-Z]{5}[- ]?[0-9A-Z]{5}")

# Why the kiosk checks the patient in itself: the site service's reasons (kiosk.hospital.site_client.REASONS).
MSG_UNAVAILABLE = N_("Your pre-check-in cannot be looked up just now. Please check in here instead; it takes "
                     "about a minute.")
REASON_TEXTS = {
    "unknown": N_("This arrival code was not found, or it has expired. Please check in here instead."),
    "arrived": N_("This arrival code has been used already. Please check in here, or ask at the front desk."),
    "other_site": N_("This arrival code is for another site. Please check in here instead, or ask at the front "
                     "desk."),
}


class Arrival:
    """The handlers of a pre-checked patient's arrival, part of ``kiosk.checkin.flow.CheckIn`` (its
    transition table names them)."""

    session: Session
    state: State
    form: Form
    kiosk_id: str
    languages: tuple[str, ...]
    test_data: bool
    find_arrivals: bool
    _new_id: Callable[[], str]
    _now: Callable

    def _scanned(self, event: Scanned) -> list:
        s = self.session
        s.notice = ""
        if not self.find_arrivals:
            s.notice = MSG_UNAVAILABLE
            self.state = State.IDENTIFY
            return []
        s.appointment_code = ""
        s.draft.clear()
        return self._find_by_code(event.text)

    def _find_by_code(self, text: str) -> list:
        self.session.arrival_asked = "code"
        self.session.arrival = None
        self.state = State.ARRIVAL
        return [FindArrival(code=text)]

    def _arrival_found(self, event: ArrivalFound) -> list:
        # Late answers for a patient who has gone, or who went on without it, change nothing.
        s = self.session
        if not s.arrival_asked or event.asked != s.arrival_asked or s.admission is not None:
            return []
        s.arrival_asked = ""
        arrival, reason = event.arrival, event.reason
        if arrival is not None and arrival.form and arrival.form != self.form.url:
            arrival, reason = None, "invalid"      # answers to another form than this kiosk's: asked again here
        if arrival is not None and arrival.language in self.languages:
            s.language = arrival.language          # as the patient chose at home (the bar above changes it)
        if event.asked != "code":                  # a card's: offered while the patient confirms their details
            if arrival is not None and self.state is State.CONFIRM:
                s.arrival = arrival
                self.state = State.ARRIVAL
            return []
        if self.state is not State.ARRIVAL:
            return []
        if arrival is not None:
            s.arrival = arrival
            return []
        if reason == "unknown" and s.appointment_code:
            # Typed, and no arrival code after all: an appointment code, taken as the kiosk always has.
            s.notice = N_("Thank you. Please also enter your name and date of birth.")
            self.state = State.ENTER_NAME
            return []
        s.appointment_code = ""
        s.notice = REASON_TEXTS.get(reason, MSG_UNAVAILABLE)
        self.state = State.IDENTIFY
        if reason == "arrived":
            # The patient may be checking in twice, or someone has their code: staff look who it is.
            return [RaiseIncident(Incident(IncidentKind.ARRIVAL_CODE_USED, Severity.MEDIUM))]
        return []

    def _this_is_me(self, _: ThisIsMe) -> list:
        s = self.session
        if s.saving or s.arrival is None:
            return []          # a second tap while the first is being saved, or still looking it up
        a = s.arrival
        try:
            s.answers, given, response = answered(self.form, a.answers)
        except ValueError:     # answers that do not fit this kiosk's form: the kiosk asks them itself
            s.arrival, s.answers = None, {}
            s.notice = MSG_UNAVAILABLE
            self.state = State.IDENTIFY
            return []
        s.saving = True
        s.notice = ""
        s.admission = admission_of(a, self._new_id(), self.kiosk_id, self._now().isoformat(timespec="seconds"),
                                   language=s.language, identified_by=s.identified_by or "precheck", coverage=s.coverage,
                                   answers=given, response=response, test_data=self.test_data or s.sample,
                                   queue=self.queue_of(a.location, s.answers))
        return [SaveAdmission(s.admission)]

    def _not_me(self, _: NotMe) -> list:
        return self._wipe()


def answered(form: Form, answers: dict) -> tuple[dict, tuple[Answer, ...], FormResponse]:
    """A pre-check-in's answers ({linkId: value}, lists for several) as the check-in keeps them, as the
    admission's answers (of the questions they enable) and as the form answered.
    :raises ValueError: they do not fit ``form``"""
    kept = {k: tuple(v) if isinstance(v, list) else v for k, v in answers.items()}
    given = tuple(Answer(q.link_id, kept[q.link_id]) for q in checking.enabled(form, kept) if q.link_id in kept)
    return kept, given, checking.form_response(form, given)


def admission_of(a: PreCheckIn, admission_id: str, kiosk_id: str, created_at: str, *, language: str, identified_by: str,
                 coverage, answers: tuple[Answer, ...], response, test_data: bool, queue: str = "") -> Admission:
    """The admission a pre-check-in makes, as if the patient had done it all at the kiosk just now."""
    return Admission(
        id=admission_id, kiosk_id=kiosk_id, created_at=created_at, language=language,
        identified_by=identified_by, person=a.person, coverage=coverage, appointment_id=a.appointment_id,
        answers=answers, form_response=response, consent=a.consent, consent_text_id=a.consent_text_id,
        consent_signature=a.consent_signature, patient_entered=a.patient_entered, test_data=test_data,
        precheck_id=a.id, queue=queue, appointment_start=a.appointment_start)
