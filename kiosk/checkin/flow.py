"""The check-in state machine (pure: no Kivy, pyscard, escpos, requests or SQLite).

``CheckIn.handle(event)`` moves the patient's session to its next state and returns the effects the
app must perform (save, print, raise an incident, wipe). The app feeds back what happened
(``AdmissionStored``, ``PrintFinished``...). Which handler runs is the table ``_TRANSITIONS``;
``_ANYWHERE`` holds the events that work in every state (call staff, language, idle timer).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable

from kiosk.checkin import answers, corrections
from kiosk.checkin.arrival import Arrival
from kiosk.checkin import signature as signatures
from kiosk.checkin.events import (AdmissionFailed, AdmissionStored, Answered, AppointmentFound, ArrivalFound, Back, CallStaff, CardFailed,
                                  CardInserted, CardRead, CardRemoved, ChooseCode, ChooseLanguage, ChooseName, CodeEntered,
                                  ConsentGiven, CorrectDetails, DetailsConfirmed, DetailsCorrected, DetailsWrong,
                                  DraftChanged, Finish, IdleTimeout, IdleWarning, NameEntered, NotMe, Print,
                                  PrintFinished, RaiseIncident, ReaderFault, SaveAdmission, Scanned, Start, StillHere,
                                  ThisIsMe, Ticked, Wipe)
from kiosk.checkin.forms import Form
from kiosk.checkin.identify import Identify
from kiosk.checkin.model import Admission, Answer, Incident, IncidentKind, Severity
from kiosk.checkin.queues import Queues
from kiosk.checkin.session import Session, State
from kiosk.messages import N_


class CheckIn(Identify, Arrival):
    """One kiosk's check-in flow. Construct once; it wipes and restarts itself for every patient. The
    handlers of the welcome and identify screens are ``kiosk.checkin.identify.Identify``'s, those of a
    pre-checked patient's arrival ``kiosk.checkin.arrival.Arrival``'s."""

    def __init__(self, *, kiosk_id: str, languages: tuple[str, ...], form: Form,
                 idle_timeout_s: float = 60.0, idle_warning_s: float = 15.0, done_timeout_s: float = 20.0,
                 help_timeout_s: float = 300.0, prints: tuple[str, ...] = ("ticket",),
                 look_up_appointments: bool = False, find_arrivals: bool = False,
                 consent_signature: bool = False, consent_texts: dict[str, str] | None = None,
                 test_data: bool = False, queues: Queues | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4())):
        self.kiosk_id = kiosk_id
        self.languages = tuple(languages)
        self.form = form
        self.idle_timeout_s = idle_timeout_s
        self.idle_warning_s = idle_warning_s
        self.done_timeout_s = done_timeout_s
        self.help_timeout_s = help_timeout_s
        self.prints = tuple(prints)          # what the site prints at check-in: ticket, wristband, both or none
        self.look_up_appointments = look_up_appointments     # the hospital system answers FHIR searches
        self.find_arrivals = find_arrivals   # a site service knows the patients who pre-checked in
        self.consent_signature = consent_signature   # patients who agree sign with a finger
        self.consent_texts = dict(consent_texts or {})   # language -> the site's own consent text
        self.test_data = test_data           # a demo: every admission is sample data, marked as test data
        self.queues = queues                 # the site's queues ([queues]); None: no queue is chosen
        self._now = now
        self._new_id = new_id
        self.state = State.WELCOME
        self.session = Session(language=self.languages[0])

    # --- the public surface ---

    def handle(self, event: object) -> list[object]:
        """Apply one event; return the effects to perform, in order."""
        handler = _ANYWHERE.get(type(event)) or _TRANSITIONS.get((self.state, type(event)))
        if handler is None:
            return []          # not meaningful here (e.g. a card inserted on the done screen)
        effects = handler(self, event) or []
        if self.state is not State.IDENTIFY:
            # Only the identify screen waits for a card: elsewhere its read's outcome is not taken, so a
            # patient back on identify is not told "reading your card" about a read that has ended.
            self.session.reading = False
        return effects

    def queue_of(self, appointment: str, given: dict[str, Any]) -> str:
        """The queue (its prefix) the patient joins, by the appointment's text and the answers; "" without queues."""
        return self.queues.choose(appointment, given) if self.queues else ""

    def timer(self) -> tuple[object, float] | None:
        """The event the app must send after that many seconds without a touch, or None."""
        if self.state is State.WELCOME:
            return None
        if self.state is State.DONE:
            if self.session.print_status == "printing":
                return None      # the patient must learn whether it printed; each job ends in bounded time
            return IdleTimeout(), self.done_timeout_s
        if self.state is State.IDLE_WARNING:
            return IdleTimeout(), self.idle_warning_s
        if self.state is State.HELP:
            return IdleWarning(), self.help_timeout_s     # staff may take a while to come
        return IdleWarning(), max(self.idle_timeout_s - self.idle_warning_s, 0.0)

    @property
    def question(self):
        """The question on screen in QUESTIONS."""
        return self.questions()[self.session.question_index]

    def questions(self) -> list:
        """The questions to ask, given the answers so far (enableWhen)."""
        return answers.enabled(self.form, self.session.answers)

    # --- handlers for every state ---

    def _call_staff(self, _: CallStaff) -> list:
        if self._resume_state() is State.HELP:
            # Staff are called already (the idle warning may be over the help screen): help stays as it was.
            self.state, self.session.idle_resume = State.HELP, None
            return []
        return self._help(N_("A member of staff has been called and will come to you. Please wait here."),
                          Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM, self._resume_state().value))

    def _choose_language(self, event: ChooseLanguage) -> list:
        if event.language in self.languages:
            self.session.language = event.language
        return []

    def _idle_warning(self, _: IdleWarning) -> list:
        if self.state in (State.WELCOME, State.DONE, State.IDLE_WARNING):
            return []
        self.session.idle_resume = self.state
        self.state = State.IDLE_WARNING
        return []

    def _idle_timeout(self, _: IdleTimeout) -> list:
        if self.state is State.WELCOME:
            return []
        return self._wipe()


    # --- confirm, questions, consent ---

    def _draft(self, event: DraftChanged) -> list:
        self.session.draft[event.field] = event.text
        return []

    def _details_confirmed(self, _: DetailsConfirmed) -> list:
        self.session.notice = ""
        self._go_to_question(0)
        return []

    def _details_wrong(self, _: DetailsWrong) -> list:
        return self._help(N_("A member of staff will come to correct your details. Please wait here."),
                          Incident(IncidentKind.DETAILS_WRONG, Severity.MEDIUM))

    def _correct_details(self, _: CorrectDetails) -> list:
        s = self.session
        s.notice = ""
        s.draft.update(corrections.draft(corrections.apply(s.person, s.correction)))
        self.state = State.CORRECT
        return []

    def _details_corrected(self, event: DetailsCorrected) -> list:
        """Checked; kept on the session (the card's data stays as read), and one LOW incident naming the
        changed fields (never their values) waits for the admission's id. Changing nothing is no correction."""
        s = self.session
        correction, problem = corrections.correct(s.person, event.lines, event.postal_code, event.city, event.phone)
        if problem:
            s.notice = problem
            return []
        s.correction = correction if correction.fields else None
        s.pending = [i for i in s.pending if i.kind is not IncidentKind.DETAILS_CORRECTED]
        if s.correction:
            s.pending.append(Incident(IncidentKind.DETAILS_CORRECTED, Severity.LOW, ",".join(correction.fields)))
        self._leave_correct()
        return []

    def _leave_correct(self) -> None:
        for name in corrections.DRAFT_FIELDS:
            self.session.draft.pop(name, None)
        self.session.notice = ""
        self.state = State.CONFIRM

    def _tick(self, event: Ticked) -> list:
        s, q = self.session, self.question
        if q.repeats and event.value in answers.choices(q):
            s.ticked = tuple(v for v in s.ticked if v != event.value) if event.value in s.ticked \
                else (*s.ticked, event.value)
        return []

    def _answered(self, event: Answered) -> list:
        """A button (boolean, choice) or what was typed (other types): checked, kept, and on to the
        next question enabled by the answers so far."""
        s, q = self.session, self.question
        if q.repeats and q.options:
            value, problem = answers.check_several(q, event.value)
        elif q.type in ("boolean", "choice"):
            value, problem = (event.value, None) if event.value in answers.choices(q) else (None, answers.MSG_CHOOSE)
        else:
            value, problem = answers.check(q, "" if event.value is None else str(event.value))
        if problem:
            s.notice = problem
            return []
        s.notice = ""
        if value is None:
            s.answers.pop(q.link_id, None)          # an optional question left empty
        else:
            s.answers[q.link_id] = value
        asked = [x.link_id for x in self.questions()]
        self._go_to_question(asked.index(q.link_id) + 1 if q.link_id in asked else len(asked))
        return []

    @property
    def consent_text(self) -> str:
        """The site's own consent text in the patient's language, or "" for the kiosk's standard wording."""
        return self.consent_texts.get(self.session.language, "")

    def _consent(self, event: ConsentGiven) -> list:
        s = self.session
        if s.saving:
            return []          # a second tap while the first is being saved
        signature = b""
        if event.accepted and self.consent_signature:
            try:
                signature = signatures.render_png(event.strokes, event.pad_size)
            except ValueError:     # nothing drawn (the screen lets no one agree before they sign)
                s.notice = N_("Please sign with your finger in the box, then tap 'I agree'.")
                return []
        s.notice = ""
        s.saving = True
        given = tuple(Answer(q.link_id, s.answers[q.link_id]) for q in self.questions() if q.link_id in s.answers)
        s.admission = Admission(
            id=self._new_id(), kiosk_id=self.kiosk_id, created_at=self._now().isoformat(timespec="seconds"),
            language=s.language, identified_by=s.identified_by, coverage=s.coverage,
            person=corrections.apply(s.person, s.correction),
            patient_entered=s.correction.fields if s.correction else (),
            appointment_code=s.appointment_code, appointment_id=s.appointment.id if s.appointment else "",
            patient_number=s.appointment.patient_number if s.appointment else "",
            answers=given, form_response=answers.form_response(self.form, given),
            consent="accepted" if event.accepted else "declined",
            consent_text_id=signatures.text_id(event.text) if event.text else "", consent_signature=signature,
            test_data=self.test_data or s.sample,
            queue=self.queue_of(s.appointment.description if s.appointment else "", s.answers),
            appointment_start=s.appointment.start if s.appointment else "")
        return [SaveAdmission(s.admission)]

    def _stored(self, event: AdmissionStored) -> list:
        s = self.session
        s.saving = False
        s.admission = replace(s.admission, queue_number=event.queue_number, wait_min=event.wait_min)
        s.prints = {kind: "printing" for kind in self.prints}
        self.state = State.DONE
        if answers.alerts(self.form, s.answers):
            # Which question and answer stay in the admission: incidents may reach logs and metrics.
            s.pending.append(Incident(IncidentKind.ANSWER_NEEDS_STAFF, Severity.HIGH, "checked_in"))
        incidents = [RaiseIncident(replace(i, admission_id=s.admission.id)) for i in s.pending]
        s.pending.clear()
        return [*incidents, *(Print(s.admission, kind) for kind in self.prints)]

    def _not_stored(self, event: AdmissionFailed) -> list:
        self.session.saving = False
        self.session.admission = None         # never stored: the incident names no admission staff could act on
        return self._help(N_("Your check-in could not be saved. Please go to the front desk."),
                          Incident(IncidentKind.STORE_FAULT, Severity.HIGH, event.reason))

    def _printed(self, event: PrintFinished) -> list:
        # Handled in every state: the patient may have left before a slow printer answered,
        # and a fault must reach staff all the same.
        s = self.session
        if s.admission is not None and s.admission.id == event.admission_id and event.kind in s.prints:
            s.prints[event.kind] = event.status
        effects = []
        if event.status == "failed":
            effects.append(RaiseIncident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH,
                                                  f"{event.kind}:{event.reason}", admission_id=event.admission_id)))
        if event.status == "unconfirmed":
            effects.append(RaiseIncident(Incident(IncidentKind.PRINTER_NO_STATUS, Severity.LOW, event.kind)))
        if event.paper_low:
            effects.append(RaiseIncident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, event.kind)))
        return effects

    def _finish(self, _: Finish) -> list:
        return self._wipe()

    # --- going back, help, idle ---

    def _back(self, _: Back) -> list:
        s = self.session
        s.notice = ""
        if self.state is State.IDENTIFY:
            return self._wipe()
        if self.state in (State.ENTER_CODE, State.ENTER_NAME):
            s.appointment_code = ""
            s.draft.clear()
            self.state = State.IDENTIFY
        elif self.state is State.CORRECT:
            self._leave_correct()          # what was typed is dropped; an earlier correction stays
        elif self.state is State.CONFIRM:
            s.person = s.coverage = s.correction = None
            s.pending.clear()
            s.appointment_code = ""
            self.state = State.IDENTIFY
        elif self.state is State.QUESTIONS:
            if s.question_index == 0:
                self.state = State.CONFIRM
            else:
                self._go_to_question(s.question_index - 1)
        elif self.state is State.CONSENT:
            if self.questions():
                self._go_to_question(len(self.questions()) - 1)
            else:
                self.state = State.CONFIRM
        elif self.state is State.HELP:
            self.state, s.help_resume, s.help_reason = s.help_resume or State.WELCOME, None, ""
        return []

    def _still_here(self, _: StillHere) -> list:
        self.state, self.session.idle_resume = self.session.idle_resume or State.WELCOME, None
        return []

    def _go_to_question(self, index: int) -> None:
        s = self.session
        s.question_index = index
        self.state = State.QUESTIONS if index < len(self.questions()) else State.CONSENT
        answer = s.answers.get(self.question.link_id) if self.state is State.QUESTIONS else None
        s.ticked = tuple(v for v in answer if v in answers.choices(self.question)) if isinstance(answer, tuple) else ()

    def _resume_state(self) -> State:
        return self.session.idle_resume if self.state is State.IDLE_WARNING else self.state

    def _help(self, reason: str, incident: Incident) -> list:
        s = self.session
        s.help_resume = self._resume_state()
        s.idle_resume = None
        s.help_reason = reason
        s.reading = False
        if s.admission is not None:
            incident = replace(incident, admission_id=s.admission.id)
        self.state = State.HELP
        return [RaiseIncident(incident)]

    def _wipe(self) -> list:
        effects = []
        stored = self.session.admission is not None and self.session.admission.queue_number
        if not stored and answers.alerts(self.form, self.session.answers):
            # The patient who most needs someone may be the one who walks away: staff hear of it all the same.
            effects.append(RaiseIncident(Incident(IncidentKind.ANSWER_NEEDS_STAFF, Severity.HIGH, "left")))
        self.state = State.WELCOME
        self.session = Session(language=self.languages[0])
        return [*effects, Wipe()]


_ANYWHERE: dict[type, Callable[[CheckIn, Any], list]] = {
    CallStaff: CheckIn._call_staff,
    ChooseLanguage: CheckIn._choose_language,
    IdleWarning: CheckIn._idle_warning,
    IdleTimeout: CheckIn._idle_timeout,
    ReaderFault: CheckIn._reader_fault,
    PrintFinished: CheckIn._printed,
    AppointmentFound: CheckIn._appointment_found,
    ArrivalFound: CheckIn._arrival_found,
}

_S = State
_TRANSITIONS: dict[tuple[State, type], Callable[[CheckIn, Any], list]] = {
    (_S.WELCOME, Start): CheckIn._start,
    (_S.WELCOME, CardInserted): CheckIn._card_inserted,
    (_S.WELCOME, CardRead): CheckIn._card_read,
    (_S.WELCOME, Scanned): CheckIn._scanned,
    (_S.IDENTIFY, Scanned): CheckIn._scanned,
    (_S.ENTER_CODE, Scanned): CheckIn._scanned,
    (_S.IDENTIFY, CardInserted): CheckIn._card_inserted,
    (_S.IDENTIFY, CardRead): CheckIn._card_read,
    (_S.IDENTIFY, CardRemoved): CheckIn._card_removed,
    (_S.IDENTIFY, CardFailed): CheckIn._card_failed,
    (_S.IDENTIFY, ChooseCode): CheckIn._choose_code,
    (_S.IDENTIFY, ChooseName): CheckIn._choose_name,
    (_S.IDENTIFY, Back): CheckIn._back,
    (_S.ENTER_CODE, CodeEntered): CheckIn._code_entered,
    (_S.ENTER_CODE, DraftChanged): CheckIn._draft,
    (_S.ENTER_CODE, Back): CheckIn._back,
    (_S.ENTER_NAME, NameEntered): CheckIn._name_entered,
    (_S.ENTER_NAME, DraftChanged): CheckIn._draft,
    (_S.ENTER_NAME, Back): CheckIn._back,
    (_S.CONFIRM, DetailsConfirmed): CheckIn._details_confirmed,
    (_S.CONFIRM, DetailsWrong): CheckIn._details_wrong,
    (_S.CONFIRM, CorrectDetails): CheckIn._correct_details,
    (_S.CORRECT, DetailsCorrected): CheckIn._details_corrected,
    (_S.CORRECT, DraftChanged): CheckIn._draft,
    (_S.CORRECT, Back): CheckIn._back,
    (_S.CONFIRM, Back): CheckIn._back,
    (_S.QUESTIONS, Answered): CheckIn._answered,
    (_S.QUESTIONS, Ticked): CheckIn._tick,
    (_S.QUESTIONS, Back): CheckIn._back,
    (_S.CONSENT, ConsentGiven): CheckIn._consent,
    (_S.CONSENT, AdmissionStored): CheckIn._stored,
    (_S.CONSENT, AdmissionFailed): CheckIn._not_stored,
    (_S.CONSENT, Back): CheckIn._back,
    (_S.ARRIVAL, ThisIsMe): CheckIn._this_is_me,
    (_S.ARRIVAL, NotMe): CheckIn._not_me,
    (_S.ARRIVAL, AdmissionStored): CheckIn._stored,
    (_S.ARRIVAL, AdmissionFailed): CheckIn._not_stored,
    (_S.DONE, Finish): CheckIn._finish,
    (_S.HELP, Back): CheckIn._back,
    (_S.IDLE_WARNING, StillHere): CheckIn._still_here,
}
