"""Every incident the kiosk raises, by kind and detail, found by driving the code that raises them: the
check-in flow with every screen, card and reader reason, correction, printer and printer fault reason
(kiosk.hardware.errors.REASONS) and store error; the sync worker with every transport and every reason
code its transports and kiosk.hospital.fhir can set an admission aside with; the store for a cancelled admission
that was delivered. The walk-everything tests (tests/desk/test_incident_texts.py,
tests/ui/ui_incident_texts.py) say each of these in every language, so a kind, screen, reason, printer or
transport added to the code without a sentence fails them.

Reasons that live as literals in the code rather than in a table (the reader's faults in kiosk/hardware/pcsc.py,
the hospital reason codes in kiosk/hospital/*.py) are read from those files.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import sqlcipher3

from kiosk.checkin import forms
from kiosk.hardware import printing
from kiosk.hospital import outbox, site_client
from kiosk.hospital import transports as hospital_transports
from kiosk.hospital.transports import Attempt
from kiosk.checkin.events import (AdmissionFailed, AdmissionStored, Answered, ArrivalFound, Back, CallStaff, CardFailed,
                                  CardInserted, CardRead, CardRemoved, ChooseCode, ChooseName, CodeEntered, ConsentGiven,
                                  CorrectDetails, DetailsConfirmed, DetailsCorrected, DetailsWrong, NameEntered, PrintFinished,
                                  RaiseIncident, ReaderFault, Scanned, Start)
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.session import State
from kiosk.hardware.cards.apdu import CardError
from kiosk.hardware.errors import REASONS
from kiosk.hospital.hl7v2 import ACK_CODES
from kiosk.checkin.model import Address, Admission, CardData, Coverage, Identifier, Incident, IncidentKind, Person
from kiosk.desk.staff import Staff
from kiosk.store import Store

KIOSK = Path(__file__).parents[2] / "kiosk"


def hospital_source() -> str:
    """The source of every module that talks to the hospital system."""
    return "".join(p.read_text() for p in sorted((KIOSK / "hospital").glob("*.py")))
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
CARD = CardData(card="egk", atr="3B", person=Person(
    family="Muster", given=("Erika",), birth_date="1964-08-12",
    identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", "A123456780"),),
    address=Address(("Hauptstr. 1",), "20095", "Hamburg", "DE"), phone="040 123456"))
ENDED = Coverage(payor_system="http://fhir.de/sid/arge-ik/iknr", payor_id="109500969", subscriber_id="A123456780",
                 start="2020-01-01", end="2021-12-31")


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _subclasses(direct))]


def card_reasons() -> set[str]:
    """Why a card is not read (kiosk.hardware.cards.apdu.CardError and its kinds)."""
    return {error.reason for error in _subclasses(CardError)}


def reader_reasons() -> set[str]:
    """The faults the PC/SC watcher reports (literals in kiosk/hardware/pcsc.py)."""
    found = set(re.findall(r'_fault\(\w+, "([a-z_]+)"\)', (KIOSK / "hardware" / "pcsc.py").read_text()))
    assert found, "the reader's faults are no longer where this looks for them"
    return found


def hospital_reasons() -> tuple[set[str], set[str]]:
    """(reason codes an admission is set aside with, codes of a delivered admission's part that needs staff):
    the literals in kiosk/hospital/*.py; ``rejected_{ack.code}`` for every HL7 acknowledgement
    code but the accepting ones."""
    source = hospital_source()
    dead = set()
    for code in re.findall(r'(?:Attempt|Verdict)\("dead",\s*f?"([a-z][a-z_]*)', source):
        dead |= {code + ack for ack in ACK_CODES if ack not in ("AA", "CA")} if code.endswith("_") else {code}
    notes = set(re.findall(r'return f?"([a-z][a-z_]*): ', hospital_source()))
    assert {"rejected", "given_up", "possible_duplicate_patient"} <= dead and notes, (dead, notes)
    return dead, notes


def transports() -> list[str]:
    """The names the sync worker's transports deliver under (the outbox's destinations)."""
    return [cls.name for module in (hospital_transports, site_client) for cls in vars(module).values()
            if isinstance(cls, type) and isinstance(getattr(cls, "name", None), str) and hasattr(cls, "send")]


def store_errors() -> set[str]:
    """The classes of error that leave an admission unstored (kiosk.store.DB_ERRORS and OSError)."""
    return {cls.__name__ for base in (sqlite3.Error, sqlcipher3.Error, OSError) for cls in _subclasses(base)}


def _kiosk(form: str = "intake-basic") -> CheckIn:
    return CheckIn(kiosk_id="lobby-1", languages=("en",), form=forms.load(form), now=lambda: NOW,
                   new_id=lambda: "adm-1")


def _raised(effects) -> list[Incident]:
    return [e.incident for e in effects if isinstance(e, RaiseIncident)]


def _checked_in(kiosk: CheckIn, *events, alert: bool = False) -> list[Incident]:
    """Through the check-in after ``events`` (from the welcome screen): the incidents raised on the way."""
    raised = []
    for event in (Start(), *events, DetailsConfirmed()):
        raised += _raised(kiosk.handle(event))
    while kiosk.state is State.QUESTIONS:
        options = kiosk.question.options
        choice = next((o.code for o in options if o.alert), None) if alert else None
        value = choice or (options[0].code if options else "typed" if kiosk.question.type != "boolean" else True)
        raised += _raised(kiosk.handle(Answered(value)))
    raised += _raised(kiosk.handle(ConsentGiven(True)))
    return raised + _raised(kiosk.handle(AdmissionStored("A-001")))


def flow_incidents() -> list[Incident]:
    """What the check-in flow raises, every way it can."""
    raised: list[Incident] = []
    for state in State:                       # "Call staff" on every screen
        kiosk = _kiosk()
        kiosk.state = state
        kiosk.session.idle_resume = State.CONFIRM if state is State.IDLE_WARNING else None
        raised += _raised(kiosk.handle(CallStaff()))
    kiosk = _kiosk()
    raised += _raised(kiosk.handle(CardInserted())) + _raised(kiosk.handle(CardRemoved()))
    for reason in sorted(card_reasons()):
        kiosk = _kiosk()
        raised += _raised(kiosk.handle(CardInserted())) + _raised(kiosk.handle(CardFailed(reason)))
    for reason in sorted(reader_reasons()):
        raised += _raised(_kiosk().handle(ReaderFault(reason)))
    raised += _checked_in(_kiosk(), CardRead(CardData(card="egk", atr="3B", person=CARD.person, coverage=ENDED)))
    raised += _checked_in(_kiosk(), ChooseName(), NameEntered("Muster", "Erika", "12.08.1964"))
    raised += _checked_in(_kiosk(), ChooseCode(), CodeEntered("ABCD1234"), NameEntered("Muster", "Erika", "12.08.1964"))
    kiosk = _kiosk()
    raised += _raised(kiosk.handle(CardRead(CARD))) + _raised(kiosk.handle(DetailsWrong()))
    moved, new_phone = (("Neue Str. 2",), "20095", "Hamburg"), "040 654321"
    for address, phone in ((moved, CARD.person.phone), ((("Hauptstr. 1",), "20095", "Hamburg"), new_phone),
                           (moved, new_phone)):
        raised += _checked_in(_kiosk(), CardRead(CARD), CorrectDetails(), DetailsCorrected(*address, phone))
    raised += _checked_in(_kiosk("phq-9"), CardRead(CARD), alert=True)
    kiosk = _kiosk("phq-9")                  # the alert given, then the patient walks away
    for event in (Start(), CardRead(CARD), DetailsConfirmed()):
        kiosk.handle(event)
    while kiosk.state is State.QUESTIONS:
        alerting = next((o.code for o in kiosk.question.options if o.alert), None)
        kiosk.handle(Answered(alerting or kiosk.question.options[0].code))
    while kiosk.state is not State.WELCOME:
        raised += _raised(kiosk.handle(Back()))
    for error in sorted(store_errors()):
        kiosk = _kiosk("no-questions")
        for event in (Start(), CardRead(CARD), DetailsConfirmed(), ConsentGiven(True)):
            kiosk.handle(event)
        raised += _raised(kiosk.handle(AdmissionFailed(error)))
    for reason in ("unknown", "other_site", "arrived", "unreachable"):     # a pre-check-in's code that finds nothing
        kiosk = _kiosk()
        kiosk.find_arrivals = True
        raised += _raised(kiosk.handle(Scanned("KIOSK1:site-1:ABCDEFGHJK")))
        raised += _raised(kiosk.handle(ArrivalFound("code", None, reason)))
    for kind in printing.KINDS:
        for reason in REASONS:
            raised += _raised(_kiosk().handle(PrintFinished("adm-1", kind, "failed", reason)))
        raised += _raised(_kiosk().handle(PrintFinished("adm-1", kind, "unconfirmed")))
        raised += _raised(_kiosk().handle(PrintFinished("adm-1", kind, "printed", paper_low=True)))
    return raised


class _Answers:
    """A transport of the given name whose answers are written down (the worker's rules make the incident)."""

    def __init__(self, name: str, answer: Attempt):
        self.name, self.answer = name, answer

    def send(self, admission, row):
        return self.answer

    def close(self):
        pass


def sync_incidents(folder: Path) -> list[dict]:
    """What the sync worker and the store raise (as stored: kind and detail), every way they can."""
    dead, notes = hospital_reasons()
    store = Store(folder / "sync.db", kiosk_id="lobby-1")
    count = 0

    def queued(transport: str) -> Admission:
        nonlocal count
        count += 1
        admission = Admission(id=f"adm-{count}", kiosk_id="lobby-1", created_at=NOW.isoformat(), language="de",
                              identified_by="card:egk", person=CARD.person, consent="accepted")
        return store.save_admission(admission, destinations=(transport,))

    def worker(transport: str, answer: Attempt) -> outbox.Sync:
        return outbox.Sync(store, _Answers(transport, answer), now=lambda: NOW)

    try:
        for transport in transports():
            for reason in sorted(dead):
                queued(transport)
                worker(transport, Attempt("dead", f"{reason}: what the system said", answered=True)).run_once(
                    now_or_never=True)
            for note in sorted(notes):
                queued(transport)
                worker(transport, Attempt("delivered", "", answered=True, note=f"{note}: http_404")).run_once(
                    now_or_never=True)
            queued(transport)                 # "not now", until the worker gives up
            refusing = worker(transport, Attempt("retry", "rejected_AR", answered=True, refused=True))
            for _ in range(outbox.REFUSALS):
                refusing.run_once(now_or_never=True)
            queued(transport)                 # no answer, until staff hear of it
            silent = worker(transport, Attempt("retry", "unreachable"))
            for _ in range(outbox.UNREACHABLE_AFTER):
                silent.run_once(now_or_never=True)
            store.resolve_kiosk_incidents(IncidentKind.HOSPITAL_UNREACHABLE, "test")
            store.db.execute("DELETE FROM outbox WHERE status = 'pending'")
            store.db.conn.commit()
            cancelled = queued(transport)     # delivered while staff cancelled it
            row = store.outbox_head(transport)
            Staff(store).cancel(cancelled.id, "Dana")
            store.outbox_delivered(row["id"], "{}")
        return [{"kind": r["kind"], "detail": r["detail"]} for r in store.incidents(None)]
    finally:
        store.close()


def site_incidents(folder: Path) -> list[dict]:
    """What the site service's waiting list raises: two tickets of a day with one number."""
    import sqlalchemy as sa

    from kiosk.site import tickets
    from kiosk.site.db import SiteDb, file_engine
    from kiosk.site.schema import incidents
    site = SiteDb(file_engine(folder / "site.db", None))
    site.create_schema()
    for kiosk in ("lobby-1", "lobby-2"):
        tickets.register(site, tickets.parse_registration(f"adm-{kiosk}", {
            "kiosk": kiosk, "queue": "A", "number": "K-001", "created_at": NOW.isoformat()}))
    with site.engine.connect() as conn:
        found = [{"kind": r.kind, "detail": r.detail} for r in conn.execute(sa.select(incidents))]
    site.dispose()
    return found


def forms_by_kind(folder: Path) -> dict[str, list[str]]:
    """Every (kind, detail) the code raises: kind value -> its details, sorted."""
    found: dict[str, set[str]] = {}
    for incident in site_incidents(folder):
        found.setdefault(incident["kind"], set()).add(incident["detail"])
    for incident in flow_incidents():
        found.setdefault(incident.kind.value, set()).add(incident.detail)
    for incident in sync_incidents(folder):
        found.setdefault(incident["kind"], set()).add(incident["detail"])
    return {kind: sorted(details) for kind, details in sorted(found.items())}


def english_in(lines: list[str], kind: str, detail: str) -> list[str]:
    """The English of this incident's sentences (each msgid's text between its placeholders, two words or
    more) that ``lines`` still hold: on a page in another language, what was left untranslated."""
    from kiosk.desk import incidents
    asked: list[str] = []
    incidents.texts(kind, detail, lambda message: asked.append(message) or message)
    pieces = {piece.strip(" .:;,()") for message in asked for piece in re.split(r"\{\w+\}", message)}
    return sorted(piece for piece in pieces if len(piece.split()) >= 2 and any(piece in line for line in lines))
