"""The check-in flow as a state machine under any sequence of patient and device events (hypothesis).

``FlowMachine`` sends every event the app can send, in and out of place, with arbitrary contents of the
right type (cards from assets/demo/patients.json and made-up ones, typed codes, names, dates and answers,
drafts, corrections, signatures...), to a ``CheckIn`` for each form in assets/forms/. It performs the
flow's effects as ``KioskApp.send`` and ``kiosk.effects`` do: admissions into a real store (plain
SQLite in a temporary folder), whose answer goes back at once, before any other event (the app's contract,
docs/architecture.md); print jobs recorded in the store and ended later with any outcome; appointment
look-ups answered late or never; incidents into the store. The disk may refuse writes for a while.

After every step:

- the state is one the screens can show: what each screen's ``show(flow)`` reads (kiosk/screens/*.py,
  *.kv) is there, and the real screens show it (``screenprobe``: Kivy offscreen in a process of its own);
- nothing of a patient is left in the session on the welcome screen;
- every admission the store acknowledged is still there, whole and unchanged; none is saved twice, at
  most one per patient, and none is shown after the patient was wiped;
- ``timer()`` has a sane answer wherever a patient could be left waiting.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from collections import deque
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from kiosk.checkin import answers, corrections, forms
from kiosk.hardware.reader import sample_cards
from kiosk.checkin.events import (AdmissionFailed, AdmissionStored, Answered, AppointmentFound, Back, CallStaff, CardFailed,
                                  CardInserted, CardRead, CardRemoved, ChooseCode, ChooseLanguage, ChooseName, CodeEntered,
                                  ConsentGiven, CorrectDetails, DetailsConfirmed, DetailsCorrected, DetailsWrong, DraftChanged,
                                  Finish, IdleTimeout, IdleWarning, LookUpAppointment, NameEntered, Print, PrintFinished,
                                  RaiseIncident, ReaderFault, SaveAdmission, Start, StillHere, Ticked, Wipe)
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.session import Session, State
from kiosk.i18n import extract_messages
from kiosk.checkin.model import Address, Appointment, CardData, Coverage, Identifier, Person
from kiosk.store import DB_ERRORS, PrintInProgress, Store
from machines import machine_settings
from screenprobe import ScreenProbe

ROOT = Path(__file__).parents[2]
FORMS = tuple(sorted(p.stem for p in (ROOT / "assets" / "forms").glob("*.json")))
LANGUAGES = ("de", "en", "tr", "fr")
NOW = datetime.now(timezone.utc).replace(microsecond=0)
TODAY = NOW.date()
# Every sentence the screens may show (notices, help reasons): msgids marked for translation.
MESSAGES = frozenset(extract_messages(sorted((ROOT / "kiosk").rglob("*.py"))))
SETTINGS = machine_settings(examples=60, steps=50)

# --- what a patient and the devices may send -----------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["Müller-Lüdenscheidt", "O'Brien", "Dubois-Lefèvre", "Yılmaz", "İpek", "  ", "", "Ñ", "a" * 200])


def iso_day(day: date) -> str:
    return day.isoformat()


birth_dates = st.one_of(
    st.dates(date(1890, 1, 1), TODAY).map(iso_day),                      # full dates, up to today
    st.dates(date(1890, 1, 1), TODAY).map(lambda d: d.isoformat()[:7]),   # year and month (a card may say)
    st.integers(1890, TODAY.year).map(str),                               # the year only
    st.sampled_from(["", "1980-02-30", "1980-13-01", "0000", "19800714", "14.07.1980", "2999-01-01", "1980-7-4",
                     (TODAY + timedelta(days=1)).isoformat()]),
    st.text(max_size=12))
typed_birth_dates = st.one_of(
    st.dates(date(1890, 1, 1), TODAY + timedelta(days=3)).flatmap(lambda d: st.sampled_from(
        [d.strftime("%d.%m.%Y"), d.strftime("%d/%m/%Y"), d.isoformat(), f"{d.day}.{d.month}.{d.year}"])),
    st.sampled_from(["", "31.02.1980", "1.1.80", "00.00.0000", "14-07-1980", " 14.07.1980 "]),
    st.text(max_size=12))
identifiers = st.builds(
    Identifier,
    st.sampled_from(["http://fhir.de/sid/gkv/kvid-10",
                     "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin"]),
    st.sampled_from(["X110411675", "85073003328", "A123456789"]) | st.text("0123456789XY", max_size=12))
addresses = st.builds(Address, st.lists(names, max_size=2).map(tuple), st.text("0123456789AB -", max_size=8),
                      names, st.sampled_from(["", "D", "BE"]))
persons = st.builds(Person, family=names, given=st.lists(names, max_size=3).map(tuple),
                    prefix=st.lists(st.sampled_from(["Dr.", "Prof."]), max_size=1).map(tuple), birth_date=birth_dates,
                    gender=st.sampled_from(["male", "female", "other", "unknown"]),
                    identifiers=st.lists(identifiers, max_size=2).map(tuple), address=st.none() | addresses,
                    phone=st.sampled_from(["", "0151 2345678", "+49 211 1234"]))
coverages = st.none() | st.builds(Coverage, payor_system=st.just("http://fhir.de/sid/arge-ik/iknr"),
                                  payor_id=st.text("0123456789", max_size=9), payor_name=names,
                                  subscriber_id=st.text("0123456789X", max_size=10),
                                  start=st.sampled_from(["", "2020-01-01"]),
                                  end=st.sampled_from(["", "2019-12-31", TODAY.isoformat(), "2999-12-31", "garbage"]))
cards = st.sampled_from(sample_cards()) | st.builds(CardData, card=st.sampled_from(["egk", "beid", "unknown"]),
                                                   atr=st.just("3B"), person=persons, coverage=coverages)
codes = st.sampled_from(["ABCD-1234", "abcd1234", "X-2", "ÄBCD1234", "A" * 21, " 1234 "]) | st.text(
    "ABCDEFGHIJ0123456789- ", max_size=24) | st.text(max_size=10)
draft_fields = st.sampled_from(["code", "given", "family", "birth", "street", "postal_code", "city", "phone"])
phones = st.sampled_from(["", "0151 2345678", "+49 (211) 12-34/5", "12345", "abc", "1" * 21]) | st.text(max_size=22)
points = st.tuples(st.floats(-0.2, 1.2), st.floats(-0.2, 1.2))
strokes = st.lists(st.lists(points, max_size=6).map(tuple), max_size=3).map(tuple)
pad_sizes = st.tuples(st.integers(0, 900), st.integers(0, 400)) | st.just((800, 300))


@st.composite
def fhir_instants(draw) -> str:
    """An Appointment.start as a FHIR server may send it: an R4 instant (seconds up to 60, a leap second;
    up to nine digits of a second; a time zone), or none."""
    day = draw(st.dates(TODAY - timedelta(days=1), TODAY + timedelta(days=1)))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    second = draw(st.sampled_from([0, 30, 59, 60]))
    fraction = draw(st.sampled_from(["", ".5", ".123", ".123456789"]))
    zone = draw(st.sampled_from(["Z", "+01:00", "-05:00", "+14:00", "-12:00", "+05:30"]))
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}"


appointments = st.builds(Appointment, st.text("abc123", min_size=1, max_size=6), fhir_instants() | st.just(""),
                         names) | st.none()
print_outcomes = st.sampled_from(["printed", "unconfirmed", "failed"])
reasons = st.sampled_from(["paper_out", "cover_open", "offline", "busy", ""])


def typed_text(question) -> st.SearchStrategy:
    """What a patient may type into a question's field, fitting or not."""
    long = (question.max_length or 40) + 5
    return st.text(max_size=long) | st.sampled_from(["", " ", "yes", "nein", "42", "7,5", "14.07.1980", "x" * long])


def answers_for(question) -> st.SearchStrategy:
    """What the questions screen sends for ``question`` (its buttons, its field, Continue with the ticks),
    and what other questions' screens send (codes and yes/no of another question)."""
    options = [o.code for o in question.options]
    sent = [typed_text(question), st.booleans(), st.sampled_from(["no-such-code", "LA6571-9", "acute", "yes"])]
    if question.type == "boolean":
        sent.append(st.booleans())
    if options:
        sent.append(st.sampled_from(options))
    if question.repeats and options:
        sent.append(st.lists(st.sampled_from(options) | typed_text(question), max_size=4).map(tuple))
    return st.one_of(sent)


def fitting_answers(question) -> st.SearchStrategy:
    """An answer ``question`` takes."""
    options = [o.code for o in question.options]
    if question.type == "boolean":
        return st.booleans()
    if question.repeats and options:
        return st.lists(st.sampled_from(options), min_size=1, max_size=3, unique=True).map(tuple)
    if options:
        return st.sampled_from(options)
    return st.text("abcdefghij äöü", min_size=0 if not question.required else 1,
                   max_size=min(question.max_length or 40, 40)).filter(lambda t: t.strip() or not question.required)


def ticks_for(question) -> st.SearchStrategy:
    options = [o.code for o in question.options]
    return st.one_of([st.booleans(), st.sampled_from(["no-such-code"]),
                      *([st.sampled_from(options)] if options else [])])


def as_json(admission) -> dict:
    """An admission as the store keeps it (its JSON): tuples and lists alike."""
    return json.loads(json.dumps(admission.to_json(), ensure_ascii=False))


# --- what each screen needs to show the flow (kiosk/screens/*.py and *.kv) --------------------------------

def screen_problems(flow: CheckIn, state: State | None = None, s: Session | None = None) -> list[str]:
    """What the screen of ``state`` would lack to show session ``s`` (default: the flow's), as sentences."""
    state, s = state or flow.state, s or flow.session
    problems = []
    if s.notice and s.notice not in MESSAGES:
        problems.append(f"notice {s.notice!r} is no translatable sentence")
    if state is State.WELCOME:
        if s != Session(language=s.language):
            problems.append("the welcome screen with a patient's session behind it")
    elif state in (State.CONFIRM, State.CORRECT, State.CONSENT):
        if s.person is None:
            problems.append(f"{state.value} without a person")
        elif state is State.CONSENT and not s.identified_by:
            problems.append("consent without a way the patient was identified")
    elif state is State.QUESTIONS:
        questions = flow.questions()
        if not 0 <= s.question_index < len(questions):
            problems.append(f"question {s.question_index} of {len(questions)}")
        elif s.ticked and not (flow.question.repeats and set(s.ticked) <= answers.choices(flow.question)):
            problems.append(f"ticks {s.ticked!r} on question {flow.question.link_id}")
        if s.person is None:
            problems.append("questions without a person")
    elif state is State.DONE:
        if s.admission is None or not s.admission.queue_number:
            problems.append("done without a stored admission and its queue number")
        elif set(s.prints) != set(flow.prints):
            problems.append(f"done with prints {s.prints} for a kiosk printing {flow.prints}")
    elif state is State.HELP:
        if not s.help_reason or s.help_reason not in MESSAGES:
            problems.append(f"help with the reason {s.help_reason!r}")
        if s.help_resume in (None, State.HELP, State.IDLE_WARNING):
            problems.append(f"help with nowhere to go back to ({s.help_resume})")
        else:
            back = replace(s, notice="", help_reason="", help_resume=None)       # kiosk.checkin.flow _back
            problems += [f"back from help: {p}" for p in screen_problems(flow, s.help_resume, back)]
    elif state is State.IDLE_WARNING:
        if s.idle_resume in (None, State.WELCOME, State.DONE, State.IDLE_WARNING):
            problems.append(f"idle warning with nowhere to resume ({s.idle_resume})")
        else:
            problems += [f"still here: {p}" for p in screen_problems(flow, s.idle_resume, replace(s, idle_resume=None))]
    return problems


# --- the machine ----------------------------------------------------------------------------------------

class FlowMachine(RuleBasedStateMachine):
    probe: ScreenProbe | None = None          # the real screens (set by the test)

    def __init__(self):
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="flow-machine-"))
        self.store = Store(self.folder / "kiosk.db", kiosk_id="lobby-1", power_safe=False)
        self.flow: CheckIn | None = None
        self.ids = itertools.count(1)
        self.patient = 0                      # counts wipes: each wipe starts the next patient
        self.saved: dict[str, int] = {}       # admission id -> the patient whose save it was
        self.saves_by_patient: dict[int, int] = {}
        self.stored: dict[str, dict] = {}     # admission id -> as the store acknowledged it (JSON)
        self.jobs: list[tuple[int | None, str, str]] = []    # print jobs under way: (job id, admission, kind)
        self.lookups: list[str] = []          # appointment look-ups under way: the identifier's value
        self.card_in_reader = False           # the reader is reading a card (inserted, not yet read)

    def teardown(self):
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    @initialize(form=st.sampled_from(FORMS), prints=st.sampled_from([(), ("ticket",), ("wristband",),
                                                                     ("ticket", "wristband")]),
                signature=st.booleans(), look_up=st.booleans(), site_texts=st.booleans(),
                idle=st.sampled_from([(60.0, 15.0), (20.0, 19.5), (5.0, 0.5)]))
    def configure(self, form, prints, signature, look_up, site_texts, idle):
        options = dict(kiosk_id="lobby-1", languages=LANGUAGES, idle_timeout_s=idle[0], idle_warning_s=idle[1],
                       prints=prints, look_up_appointments=look_up, consent_signature=signature,
                       consent_texts={"de": "Ich willige ein.", "en": "I agree."} if site_texts else None)
        self.flow = CheckIn(form=forms.load(form), now=lambda: NOW, new_id=lambda: f"admission-{next(self.ids)}",
                            **options)
        if self.probe is not None:
            self.probe.configure(form=form, **options)

    # --- the app's side: events in, effects performed (KioskApp.send, kiosk.effects.Effects.perform) ---

    def send(self, event) -> None:
        queue = deque([event])
        while queue:
            for effect in self.flow.handle(queue.popleft()):
                follow_up = self.perform(effect)
                if follow_up is not None:
                    queue.append(follow_up)
        self.screens_can_show_it()          # the app redraws after every event (KioskApp._render)

    def perform(self, effect):
        if isinstance(effect, SaveAdmission):
            admission = effect.admission
            assert admission.id not in self.saved, f"admission {admission.id} is saved a second time"
            self.saved[admission.id] = self.patient
            try:
                stored = self.store.save_admission(admission, queue_prefix="A")
            except DB_ERRORS as e:
                answer = AdmissionFailed(type(e).__name__)
                assert not self.store.db.execute("SELECT 1 FROM admissions WHERE id = ?", [admission.id]).fetchone(), \
                    "a save that failed left the admission behind"
            else:
                count = self.saves_by_patient[self.patient] = self.saves_by_patient.get(self.patient, 0) + 1
                assert count == 1, f"patient {self.patient} has {count} admissions stored"
                self.stored[stored.id] = as_json(stored)
                answer = AdmissionStored(stored.queue_number)
            return answer       # handed to the flow before any other event, as KioskApp.send does
        if isinstance(effect, Print):
            try:
                job = self.store.print_started(effect.admission.id, effect.kind, "kiosk")
            except PrintInProgress:
                return PrintFinished(effect.admission.id, effect.kind, "failed", "busy")
            except DB_ERRORS:
                job = None
            self.jobs.append((job, effect.admission.id, effect.kind))
            return None
        if isinstance(effect, LookUpAppointment):
            self.lookups.append(effect.identifier.value)
        elif isinstance(effect, RaiseIncident):
            try:
                self.store.raise_incident(effect.incident)
            except DB_ERRORS:
                pass                            # the app logs it and goes on
        elif isinstance(effect, Wipe):
            self.patient += 1
        else:
            raise AssertionError(f"an effect the app does not know: {effect!r}")
        return None

    # --- the patient ---

    @rule()
    def start(self):
        self.send(Start())

    @rule(language=st.sampled_from([*LANGUAGES, "xx"]))
    def language(self, language):
        self.send(ChooseLanguage(language))

    @rule()
    def choose_code(self):
        self.send(ChooseCode())

    @rule()
    def choose_name(self):
        self.send(ChooseName())

    @rule(code=codes)
    def code_entered(self, code):
        self.send(CodeEntered(code))

    @rule(family=names, given=names, born=typed_birth_dates)
    def name_entered(self, family, given, born):
        self.send(NameEntered(family, given, born))

    @rule(field=draft_fields, text=names)
    def draft(self, field, text):
        self.send(DraftChanged(field, text))

    @rule()
    def details_confirmed(self):
        self.send(DetailsConfirmed())

    @rule()
    def details_wrong(self):
        self.send(DetailsWrong())

    @rule()
    def correct_details(self):
        self.send(CorrectDetails())

    @rule(lines=st.lists(names, max_size=2).map(tuple), postal_code=st.text("0123456789AB -", max_size=11),
          city=names, phone=phones, same=st.booleans())
    def details_corrected(self, lines, postal_code, city, phone, same):
        s = self.flow.session
        if same and s.person is not None:       # the form sent back as it was filled
            d = corrections.draft(corrections.apply(s.person, s.correction))
            lines, postal_code, city, phone = (d["street"],), d["postal_code"], d["city"], d["phone"]
        self.send(DetailsCorrected(lines, postal_code, city, phone))

    @rule(data=st.data())
    def answer(self, data):
        question = self.flow.question if self.flow.state is State.QUESTIONS else None
        value = data.draw(answers_for(question) if question else st.booleans() | names, label="answer")
        self.send(Answered(value))

    @rule(data=st.data())
    def tick(self, data):
        question = self.flow.question if self.flow.state is State.QUESTIONS else None
        self.send(Ticked(data.draw(ticks_for(question) if question else st.booleans(), label="tick")))

    @rule(accepted=st.booleans(), text=st.sampled_from(["", "I agree.", "Ich willige ein."]), strokes=strokes,
          pad_size=pad_sizes)
    def consent(self, accepted, text, strokes, pad_size):
        self.send(ConsentGiven(accepted, text, strokes if accepted else (), pad_size if accepted else (0, 0)))

    @rule()
    def back(self):
        self.send(Back())

    @rule()
    def call_staff(self):
        self.send(CallStaff())

    @rule()
    def still_here(self):
        self.send(StillHere())

    @rule()
    def finish(self):
        self.send(Finish())

    @rule(event=st.sampled_from([IdleWarning(), IdleTimeout()]))
    def idle_event(self, event):
        self.send(event)

    @rule()
    def nobody_touches(self):
        """The app's idle timer runs out (KioskApp._arm_idle_timer)."""
        timer = self.flow.timer()
        if timer is not None:
            self.send(timer[0])

    @rule(data=st.data(), steps=st.integers(1, 10))
    def patient_goes_on(self, data, steps):
        """A patient who knows what to do: up to ``steps`` taps forward with what each screen accepts (so
        that runs reach consent, the store and the done screen, where the arbitrary taps go on)."""
        for _ in range(steps):
            state = self.flow.state
            if state is State.WELCOME:
                self.send(Start())
            elif state is State.IDENTIFY:
                way = data.draw(st.sampled_from(["card", "name", "code"]), label="way")
                if way == "card":
                    self.card_in_reader = True
                    self.send(CardInserted())
                    self.card_in_reader = False
                    self.send(CardRead(data.draw(st.sampled_from(sample_cards()), label="card")))
                    if self.lookups and data.draw(st.booleans(), label="hospital answers at once"):
                        self.send(AppointmentFound(self.lookups.pop(0), data.draw(appointments, label="appointment")))
                else:
                    self.send(ChooseName() if way == "name" else ChooseCode())
            elif state is State.ENTER_CODE:
                self.send(CodeEntered("ABCD-1234"))
            elif state is State.ENTER_NAME:
                self.send(NameEntered(data.draw(names.filter(str.strip), label="family"),
                                      data.draw(names.filter(str.strip), label="given"), "14.07.1980"))
            elif state is State.CONFIRM and self.lookups and data.draw(st.booleans(), label="hospital answers"):
                self.send(AppointmentFound(self.lookups.pop(0), data.draw(appointments, label="appointment")))
            elif state is State.CONFIRM:
                change = data.draw(st.booleans(), label="changes address or phone") and not self.flow.session.correction
                self.send(CorrectDetails() if change else DetailsConfirmed())
            elif state is State.CORRECT:
                self.send(DetailsCorrected(("Neue Straße 5",), "40213", "Düsseldorf",
                                           data.draw(st.sampled_from(["", "0151 2345678"]), label="phone")))
            elif state is State.QUESTIONS:
                question = self.flow.question
                self.send(Answered(data.draw(fitting_answers(question), label=question.link_id)))
            elif state is State.CONSENT:
                accepted = data.draw(st.booleans(), label="agrees")
                self.send(ConsentGiven(accepted, "I agree.", (((0.1, 0.5), (0.9, 0.5)),) if accepted else (),
                                       (800, 300) if accepted else (0, 0)))
            elif state is State.HELP:
                self.send(Back())
            elif state is State.IDLE_WARNING:
                self.send(StillHere())
            elif state is State.DONE:
                self.send(Finish())

    # --- the card reader ---

    @rule()
    def card_inserted(self):
        self.card_in_reader = True
        self.send(CardInserted())

    @rule(card=cards)
    def card_read(self, card):
        self.card_in_reader = False
        self.send(CardRead(card))

    @rule()
    def card_removed(self):
        self.card_in_reader = False
        self.send(CardRemoved())

    @rule(reason=st.sampled_from(["unsupported", "unreadable", "timeout"]))
    def card_failed(self, reason):
        self.card_in_reader = False
        self.send(CardFailed(reason))

    @rule(reason=st.sampled_from(["no_reader", "pcscd_stopped"]))
    def reader_fault(self, reason):
        self.card_in_reader = False
        self.send(ReaderFault(reason))

    # --- what the app feeds back: stores, printers, the hospital system ---

    @rule(fails=st.booleans())
    def disk(self, fails):
        """The disk refuses every write (full, or gone read-only), or takes them again."""
        self.store.db.execute(f"PRAGMA query_only = {'ON' if fails else 'OFF'}")

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), status=print_outcomes, reason=reasons, paper_low=st.booleans())
    def print_ends(self, data, status, reason, paper_low):
        job, admission_id, kind = self.jobs.pop(data.draw(st.integers(0, len(self.jobs) - 1), label="job"))
        if job is not None:
            try:
                self.store.print_finished(job, status, reason if status == "failed" else "")
            except DB_ERRORS:
                pass                            # the app logs it and goes on (kiosk.effects.Effects._printed)
        self.send(PrintFinished(admission_id, kind, status, reason if status == "failed" else "", paper_low))

    @rule(data=st.data(), kind=st.sampled_from(["ticket", "wristband"]), status=print_outcomes)
    def print_ends_for_someone_else(self, data, kind, status):
        """A late answer for an admission of an earlier patient (or for none the flow knows)."""
        admission_id = data.draw(st.sampled_from(list(self.saved)) if self.saved else st.just("old"), label="of")
        self.send(PrintFinished(admission_id, kind, status, "offline" if status == "failed" else ""))

    @rule(data=st.data(), appointment=appointments)
    def appointment_found(self, data, appointment):
        if self.lookups and data.draw(st.booleans(), label="asked for"):
            value = self.lookups.pop(data.draw(st.integers(0, len(self.lookups) - 1), label="look-up"))
        else:
            value = data.draw(st.sampled_from(["X110411675", "85073003328", "nobody"]), label="identifier")
        self.send(AppointmentFound(value, appointment))

    # --- after every step ---

    @invariant()
    def screens_can_show_it(self):
        if self.flow is None:
            return
        problems = screen_problems(self.flow)
        assert not problems, f"{self.flow.state.value}: {'; '.join(problems)}"
        if self.probe is not None:
            failure = self.probe.show(self.flow.state, self.flow.session)
            assert failure is None, f"the {self.flow.state.value} screen cannot show it:\n{failure}"

    @invariant()
    def the_card_reader_is_reading_when_the_screen_says_so(self):
        if self.flow is not None and self.flow.state is State.IDENTIFY and self.flow.session.reading:
            assert self.card_in_reader, "'Reading your card, please wait' with no card being read"

    @invariant()
    def the_store_has_answered_every_save(self):
        if self.flow is not None:
            assert not self.flow.session.saving, "the flow waits for a store that has answered ('I agree' does nothing)"

    @invariant()
    def stored_admissions_stay_whole(self):
        for admission_id, stored in self.stored.items():
            assert as_json(self.store.get_admission(admission_id)) == stored, f"admission {admission_id} changed"

    @invariant()
    def done_shows_this_patients_stored_admission(self):
        if self.flow is None or self.flow.state is not State.DONE:
            return
        admission = self.flow.session.admission
        assert self.saved.get(admission.id) == self.patient, "the done screen shows another patient's admission"
        assert as_json(admission) == self.stored.get(admission.id), "done shows an admission not as stored"

    @invariant()
    def the_timer_leaves_no_one_stranded(self):
        if self.flow is None:
            return
        timer, state = self.flow.timer(), self.flow.state
        if timer is None:
            if state is State.WELCOME:
                return
            admission = self.flow.session.admission
            assert state is State.DONE and any(a == admission.id for _, a, _ in self.jobs), \
                f"no timer on {state.value}, and nothing under way that will end it"
            return
        event, seconds = timer
        assert seconds >= 0 and seconds != float("inf"), f"timer of {seconds} s on {state.value}"
        expected = IdleTimeout if state in (State.IDLE_WARNING, State.DONE) else IdleWarning
        assert isinstance(event, expected), f"{state.value} times out with {event}"


@pytest.fixture(scope="module")
def probe():
    with ScreenProbe() as p:
        yield p


def test_any_sequence_of_events_leaves_a_state_the_screens_can_show(probe):
    run_state_machine_as_test(type("Machine", (FlowMachine,), {"probe": probe}), settings=SETTINGS)


# --- what the machine found: each shrunk example as a plain test ---------------------------------------

def a_flow() -> CheckIn:
    return CheckIn(kiosk_id="lobby-1", languages=LANGUAGES, form=forms.load("intake-basic"), now=lambda: NOW)


def test_call_staff_on_the_idle_warning_over_the_help_screen_keeps_the_way_back():
    """Shrunk: call staff, let the help screen's timer bring the idle warning, call staff again. Help then
    had itself as the screen to go back to: Back showed help with no reason, and Back again the welcome
    screen with the patient's session (and admission) still behind it, for the next patient."""
    flow = a_flow()
    card = sample_cards()[0]
    flow.handle(CardRead(card))
    assert len(flow.handle(CallStaff())) == 1
    flow.handle(flow.timer()[0])                 # nobody came within help_timeout_s: "Are you still there?"
    assert flow.state is State.IDLE_WARNING
    effects = flow.handle(CallStaff())
    assert flow.state is State.HELP and flow.session.help_reason
    flow.handle(Back())
    assert flow.state is State.CONFIRM and flow.session.person == card.person
    assert effects == [], "staff have been called already: no second incident"


def test_a_card_read_that_ends_while_the_patient_is_on_another_screen_is_not_shown_as_still_reading():
    """Shrunk: a card goes in, the patient taps "I have an appointment code" before it is read, the read
    ends there (not taken), the patient goes back. Identify said "Reading your card, please wait" with no
    card being read, and taking the card out then raised a card_removed incident."""
    flow = a_flow()
    flow.handle(Start())
    flow.handle(CardInserted())
    flow.handle(ChooseCode())
    flow.handle(CardFailed("unreadable"))
    flow.handle(Back())
    assert flow.state is State.IDENTIFY and not flow.session.reading
    assert flow.handle(CardRemoved()) == []


def test_an_appointment_at_a_leap_second_is_shown_on_the_confirm_screen(probe):
    """Shrunk: a card, then the hospital's answer: an appointment starting at 2026-12-06T00:00:60Z (a FHIR
    instant may have a leap second). The confirm screen raised ValueError (Python has no second 60), which
    in the app ends the kiosk's event loop."""
    flow = a_flow()
    flow.handle(CardRead(sample_cards()[0]))
    flow.handle(AppointmentFound("X110411675", Appointment("1", "2026-12-06T00:00:60Z")))
    assert flow.state is State.CONFIRM and flow.session.appointment
    probe.configure(form="intake-basic", kiosk_id="lobby-1", languages=LANGUAGES)
    assert probe.show(flow.state, flow.session) is None
