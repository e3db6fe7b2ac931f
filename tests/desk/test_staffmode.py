"""kiosk/desk/staffmode.py: staff mode on the kiosk screen, without Kivy: the corner gesture, signing in by PIN
and by badge, what the incident list shows, every action (audited with the member's name), out of
service, and which patient events it holds back. On a real store with kiosk.desk.staff.Staff."""

import re
from dataclasses import replace

import pytest

from kiosk import config
from kiosk.hardware import printing
from kiosk.desk.incidents import KIND_TEXTS, SEVERITY_TEXTS
from kiosk.checkin.events import CardInserted, CardRead, CardRemoved, ChooseLanguage, PrintFinished, Scanned, Start
from kiosk.hardware.preview import PreviewPrinter
from kiosk.i18n import Catalogs
from kiosk.checkin.model import Admission, CardData, Identifier, Incident, IncidentKind, Person, Severity
from kiosk.desk.staff import Staff
from kiosk.signin import LOCKED, WRONG_PIN
from kiosk.desk.staffmode import CornerGesture, Message, Screen, StaffMode

BADGE = "X110000001"            # the staff member's own card identifier (a KVNR shape)
PERSON = Person(family="Yılmaz", given=("Ayşe",), birth_date="1975-03-02",
                identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", "T555555555"),))


def card(value: str) -> CardData:
    person = replace(PERSON, identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", value),))
    return CardData(card="egk", atr="3B", person=person)


@pytest.fixture
def store(tmp_path):
    from kiosk.store import Store
    s = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    yield s
    s.close()


@pytest.fixture
def printer(tmp_path):
    return PreviewPrinter(tmp_path / "tickets")


@pytest.fixture
def staff(store, printer):
    settings = config.Settings()
    catalogs = Catalogs(settings.kiosk.languages)
    s = Staff(store, printers={"ticket": printer}, reader_state=lambda: "empty",
              layout_for=lambda kind, admission: printing.layout_for(kind, admission, catalogs, settings))
    s.add_member("Petra Schmidt", "2468", badges=(BADGE,))
    s.add_member("Jonas Weber", "1357")
    return s


@pytest.fixture
def mode(staff):
    return StaffMode(staff, kiosk_id="lobby-1", printers=("ticket",), idle_timeout_s=120.0)


def signed_in(mode, name="Petra Schmidt", pin="2468") -> StaffMode:
    assert mode.corner_tap(0.0, patient_active=False) is False
    for t in (0.5, 1.0, 1.5):
        mode.corner_tap(t, patient_active=False)
    assert mode.corner_tap(2.0, patient_active=False) is True
    assert mode.sign_in(name, pin) is True
    return mode


def stored_admission(store, n=1) -> Admission:
    admission = Admission(id=f"adm-{n}", kiosk_id="lobby-1", created_at="2026-11-27T08:00:00+00:00",
                          language="de", identified_by="card:egk", person=PERSON, consent="accepted")
    return store.save_admission(admission, queue_prefix="A")


def test_five_taps_within_three_seconds_and_no_fewer_or_slower():
    gesture = CornerGesture()
    assert [gesture.tap(t) for t in (0, 0.5, 1, 1.5, 2.9)] == [False] * 4 + [True]
    assert [gesture.tap(t) for t in (10, 11, 12, 13)] == [False] * 4
    assert gesture.tap(14.5) is False          # the first of these five is 4.5 s old
    slow = CornerGesture()
    assert not any(slow.tap(t) for t in (0, 1, 2, 3, 4, 5, 6, 7))


def test_the_gesture_opens_only_the_sign_in_screen(mode):
    for t in range(4):
        mode.corner_tap(t * 0.4, patient_active=True)
    assert not mode.active
    assert mode.corner_tap(1.8, patient_active=True)
    assert mode.screen is Screen.SIGN_IN and not mode.signed_in
    assert mode.timer() == 120.0
    for action in ("take", "resend", "cancel", "toggle_out_of_service"):
        getattr(mode, action)()
    mode.open_incident(1)
    assert mode.screen is Screen.SIGN_IN and not mode.signed_in and not mode.out_of_service


def test_a_wrong_pin_says_so_five_lock_and_another_member_signs_in(mode, store):
    for t in range(5):
        mode.corner_tap(t * 0.1, patient_active=False)
    for _ in range(4):
        assert mode.sign_in("Petra Schmidt", "0000") is False
        assert mode.notice == Message(WRONG_PIN)
    assert mode.sign_in("Petra Schmidt", "0000") is False
    assert mode.notice == Message(LOCKED)
    assert mode.sign_in("Petra Schmidt", "2468") is False, "locked: even the right PIN"
    assert mode.notice == Message(LOCKED)
    assert mode.sign_in("  Jonas   Weber ", "1357") is True
    assert mode.screen is Screen.INCIDENTS and mode.member == "Jonas Weber" and mode.notice.text == ""
    trail = store.audit_trail()
    assert not any("2468" in str(row) or "0000" in str(row) for row in trail), "no PIN in the audit trail"
    assert any(row["actor"] == "Jonas Weber" and row["action"] == "staff.signed_in" for row in trail)


def test_an_empty_name_or_pin_asks_for_both(mode):
    signed = mode.corner_tap
    for t in range(5):
        signed(t * 0.1, patient_active=False)
    assert mode.sign_in("", "2468") is False and mode.notice == Message("Please enter your name and your PIN.")


def test_a_badge_enters_and_a_patient_card_does_not(mode, store):
    assert mode.badge(card("T555555555"), patient_active=False) is False
    assert not mode.active
    assert not any("T555555555" in str(row) for row in store.audit_trail()), "a patient's card is not written down"
    assert mode.badge(card(BADGE), patient_active=True) is True
    assert mode.signed_in and mode.member == "Petra Schmidt" and mode.keeps_patient
    assert mode.badge(card(BADGE), patient_active=False) is False, "already in"
    assert store.admissions() == [] and store.incidents() == []


def test_the_badge_check_of_a_patients_card_reads_no_member_and_no_pin_hash(mode, store):
    """Every card goes through the badge check: a patient's asks the store for the one badge with its
    identifier's digest, and no row of the staff table (PIN hashes) is read; a badge still opens."""
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        assert mode.badge(card("T555555555"), patient_active=False) is False
    finally:
        store.db.conn.set_trace_callback(None)
    assert statements, "the check asks the store"
    assert not [s for s in statements if re.search(r"\bstaff\b|pin_hash", s)], statements
    assert not [s for s in statements if "T555555555" in s], "the store is asked for a digest, not the identifier"
    assert mode.badge(card(BADGE), patient_active=False) is True and mode.member == "Petra Schmidt"


def test_a_badge_on_the_sign_in_screen_signs_in(mode):
    for t in range(5):
        mode.corner_tap(t * 0.1, patient_active=False)
    assert mode.badge(card(BADGE), patient_active=True) is True
    assert mode.screen is Screen.INCIDENTS and not mode.keeps_patient, "the gesture decided, from welcome"


def test_every_incident_kind_has_a_sentence_and_reaches_the_list(mode, store):
    assert set(KIND_TEXTS) == set(IncidentKind)
    admission = stored_admission(store)
    for kind in IncidentKind:
        store.raise_incident(Incident(kind, Severity.MEDIUM, admission_id=admission.id))
    signed_in(mode)
    rows = mode.rows()
    assert {r["kind"] for r in rows} == {k.value for k in IncidentKind}
    for row in rows:
        assert row["said"] == (Message(KIND_TEXTS[IncidentKind(row["kind"])]),)
        assert row["queue_number"] == admission.queue_number and row["severity"] == SEVERITY_TEXTS[Severity.MEDIUM]
        assert row["time"]
    text = repr(rows)
    for personal in ("Yılmaz", "Ayşe", "1975", "T555555555"):
        assert personal not in text


def test_an_urgent_incident_raised_before_eight_routine_ones_is_listed_first(mode, store):
    urgent = store.raise_incident(Incident(IncidentKind.STORE_FAULT, Severity.HIGH, "OperationalError"))
    routine = [(store.raise_incident(Incident(kind, severity)), severity) for kind, severity in (
        (IncidentKind.HELP_REQUESTED, Severity.MEDIUM), (IncidentKind.CARD_REMOVED, Severity.LOW),
        (IncidentKind.DETAILS_WRONG, Severity.MEDIUM), (IncidentKind.PAPER_LOW, Severity.LOW),
        (IncidentKind.COVERAGE_ENDED, Severity.MEDIUM), (IncidentKind.IDENTITY_UNVERIFIED, Severity.LOW),
        (IncidentKind.CARD_UNREADABLE, Severity.MEDIUM), (IncidentKind.DETAILS_CORRECTED, Severity.LOW))]
    medium = [i for i, severity in reversed(routine) if severity is Severity.MEDIUM]
    low = [i for i, severity in reversed(routine) if severity is Severity.LOW]
    signed_in(mode)
    assert [row["id"] for row in mode.rows()] == [urgent, *medium, *low]
    assert mode.rows()[0]["severity"] == SEVERITY_TEXTS[Severity.HIGH]
    mode.open_incident(medium[0])
    mode.take()                  # taken: below the open ones of its severity, which still need someone
    assert [row["id"] for row in mode.rows()] == [urgent, *medium[1:], medium[0], *low]


def test_take_and_resolve_are_audited_with_the_member(mode, store):
    incident = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM, "confirm"))
    signed_in(mode)
    mode.open_incident(incident)
    assert mode.screen is Screen.INCIDENT
    mode.take()
    assert mode.selected_row()["status"] == "taken" and mode.selected_row()["taken_by"] == "Petra Schmidt"
    mode.resolve("done", "  spoke to the patient ")
    assert mode.screen is Screen.INCIDENTS and mode.notice == Message("Resolved.")
    assert mode.rows() == []
    [row] = mode.staff.incidents(include_resolved=True)
    assert (row["resolved_by"], row["resolution"], row["note"]) == ("Petra Schmidt", "done", "spoke to the patient")
    actions = [(r["actor"], r["action"]) for r in store.audit_trail() if r["subject"] == str(incident)]
    assert ("Petra Schmidt", "incident.taken") in actions and ("Petra Schmidt", "incident.resolved") in actions


def test_a_resolved_incident_cannot_be_resolved_again(mode, store):
    incident = store.raise_incident(Incident(IncidentKind.DETAILS_WRONG, Severity.MEDIUM, "x"))
    signed_in(mode)
    mode.open_incident(incident)
    mode.staff.resolve(incident, "Jonas Weber", "done")      # meanwhile, at the desk
    mode.resolve("done")
    assert mode.selected_row() is None


def test_reprint_a_ticket_for_a_printer_fault(mode, store, printer):
    admission = stored_admission(store)
    incident = store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket:paper_out",
                                             admission_id=admission.id))
    signed_in(mode)
    [row] = mode.rows()
    assert row["reprint"] == ("ticket",)
    mode.open_incident(incident)
    mode.reprint("wristband")                 # no such printer here: nothing happens
    assert mode.screen is Screen.INCIDENT
    mode.reprint("ticket")
    assert mode.screen is Screen.INCIDENTS, "the reprint resolved the fault"
    assert mode.notice == Message("The ticket for {queue} was printed again.", (("queue", admission.queue_number),))
    assert printer.last["ticket"].exists()
    assert mode.rows() == []
    assert any(r["actor"] == "Petra Schmidt" and r["action"] == "print.printed" for r in store.audit_trail())


def test_a_reprint_that_fails_says_so(mode, store, printer):
    admission = stored_admission(store)
    incident = store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket:paper_out",
                                             admission_id=admission.id))
    printer.fault = "paper_out"
    signed_in(mode)
    mode.open_incident(incident)
    mode.reprint("ticket")
    assert mode.screen is Screen.INCIDENT and mode.selected_row() is not None
    assert mode.notice == Message("It did not print. Please check the printer, then try again.")


def test_an_incident_without_an_admission_offers_no_reprint(mode, store):
    store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "ticket"))
    signed_in(mode)
    [row] = mode.rows()
    assert row["reprint"] == () and row["queue_number"] == ""


def test_the_actions_offered_follow_kiosk_incidents(mode, store):
    """Send again only for a refused message; nothing but take and resolve for a cancelled admission or an
    incident without one; reprint only on the printers this kiosk has."""
    admission, other = stored_admission(store), stored_admission(store, 2)
    help_call = store.raise_incident(Incident(IncidentKind.HELP_REQUESTED, Severity.MEDIUM, admission_id=admission.id))
    refused = store.raise_incident(Incident(IncidentKind.SYNC_REJECTED, Severity.HIGH, "fhir:rejected",
                                            admission_id=admission.id))
    paper = store.raise_incident(Incident(IncidentKind.PAPER_LOW, Severity.LOW, "ticket"))
    gone = store.raise_incident(Incident(IncidentKind.DETAILS_WRONG, Severity.MEDIUM, admission_id=other.id))
    mode.staff.cancel(other.id, "Jonas Weber")
    store.db.execute("UPDATE incidents SET status = 'open' WHERE id = ?", [gone])   # a late one, say
    store.db.conn.commit()
    signed_in(mode)
    offered = {r["id"]: r["actions"] for r in mode.rows()}
    assert offered == {help_call: ("take", "reprint:ticket", "cancel", "resolve"),
                       refused: ("take", "reprint:ticket", "resend", "cancel", "resolve"),
                       paper: ("take", "resolve"), gone: ("take", "resolve")}
    mode.open_incident(help_call)
    mode.resend()
    assert mode.notice == Message("") and store.audit_trail()[-1]["action"] != "outbox.requeued"
    mode.open_incident(gone)
    mode.cancel()
    assert not mode.confirming_cancel and mode.notice == Message("")
    mode.take()
    assert mode.selected_row()["status"] == "taken"
    assert mode.selected_row()["actions"] == ("resolve",), "take only while open"


def test_cancel_keeps_the_note_typed(mode, store):
    admission = stored_admission(store)
    incident = store.raise_incident(Incident(IncidentKind.DETAILS_WRONG, Severity.MEDIUM, "x",
                                             admission_id=admission.id))
    signed_in(mode)
    mode.open_incident(incident)
    mode.cancel("left before the desk")
    mode.cancel(" left before the desk ")
    [row] = mode.staff.incidents(include_resolved=True)
    assert (row["resolution"], row["note"]) == ("cancelled", "left before the desk")


def test_leaving_is_audited_by_tap_and_when_idle(mode, store):
    signed_in(mode)
    mode.leave()
    mode.badge(card(BADGE), patient_active=False)
    mode.leave(idle=True)
    mode.corner_tap(10.0, patient_active=False)
    for t in (10.1, 10.2, 10.3, 10.4):
        mode.corner_tap(t, patient_active=False)
    mode.leave()                                  # the sign-in screen: nobody to sign out
    assert [(r["actor"], r["action"], r["detail"]) for r in store.audit_trail() if r["action"] == "staff.signed_out"] == [
        ("Petra Schmidt", "staff.signed_out", "tap kiosk lobby-1"),
        ("Petra Schmidt", "staff.signed_out", "idle kiosk lobby-1")]


def test_leaving_works_when_the_sign_out_cannot_be_written(mode, monkeypatch):
    import sqlite3
    signed_in(mode)

    def fails(*_args, **_kwargs):
        raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(mode.staff, "signed_out", fails)
    mode.leave()
    assert not mode.active and mode.member == ""


def test_resend_with_nothing_refused_says_so(mode, store):
    admission = stored_admission(store)
    incident = store.raise_incident(Incident(IncidentKind.SYNC_REJECTED, Severity.HIGH, "422",
                                             admission_id=admission.id))
    signed_in(mode)
    mode.open_incident(incident)
    mode.resend()
    assert mode.notice == Message("Nothing of this admission waits to be sent again.")


def test_cancel_asks_first_then_cancels_and_resolves(mode, store):
    admission = stored_admission(store)
    incident = store.raise_incident(Incident(IncidentKind.DETAILS_WRONG, Severity.MEDIUM, "x",
                                             admission_id=admission.id))
    signed_in(mode)
    mode.open_incident(incident)
    mode.cancel()
    assert mode.screen is Screen.INCIDENT and mode.confirming_cancel
    assert mode.notice.values == (("queue", admission.queue_number),)
    mode.cancel()
    assert mode.screen is Screen.INCIDENTS
    assert mode.notice.text.startswith("The admission is cancelled")
    assert mode.rows() == []
    assert any(r["actor"] == "Petra Schmidt" and "cancel" in r["action"] for r in store.audit_trail())


def test_out_of_service_holds_back_cards_scans_and_start_at_welcome_only(mode, staff):
    card_read = CardRead(card("T555555555"))
    assert not mode.holds_back(CardInserted(), at_welcome=True)
    signed_in(mode)
    mode.toggle_out_of_service()
    assert mode.out_of_service and staff.out_of_service()
    assert mode.leave() is False, "no patient goes on at a kiosk out of service"
    for event in (CardInserted(), card_read, CardRemoved(), Start(), Scanned("KIOSK1:site-1:ABCDEFGHJK")):
        assert mode.holds_back(event, at_welcome=True), event
        assert not mode.holds_back(event, at_welcome=False), event
    assert not mode.holds_back(ChooseLanguage("de"), at_welcome=True)
    assert mode.badge(card(BADGE), patient_active=False), "a badge still opens staff mode"
    mode.toggle_out_of_service()
    assert not mode.out_of_service and not staff.out_of_service()
    mode.leave()
    assert not mode.holds_back(CardInserted(), at_welcome=True)


def test_the_desk_switching_out_of_service_is_seen(mode, staff):
    staff.set_out_of_service(True, "Jonas Weber")
    assert mode.refresh_out_of_service() is True and mode.out_of_service
    assert mode.refresh_out_of_service() is False


def test_staff_mode_holds_back_cards_but_not_printers(mode):
    signed_in(mode)
    for event in (CardInserted(), CardRead(card(BADGE)), CardRemoved(), Start()):
        assert mode.holds_back(event, at_welcome=False)
    assert not mode.holds_back(PrintFinished("adm-1", "ticket", "printed"), at_welcome=False)


def test_leaving_resumes_a_paused_patient_only(mode):
    mode.badge(card(BADGE), patient_active=True)
    assert mode.leave() is True
    assert not mode.active and mode.member == "" and mode.timer() is None
    mode.badge(card(BADGE), patient_active=False)
    assert mode.leave(idle=True) is False


def test_device_status_lines(mode):
    signed_in(mode)
    texts = [m.render(lambda s: s) for m in mode.status]
    assert texts[0] == "Card reader: ready"
    assert "Ticket printer: ready" in texts
    assert "Waiting for the hospital system: 0" in texts and "Nothing delivered yet." in texts
    german = Catalogs(["de"]).translator("de")
    assert mode.status[0].render(german) == "Kartenleser: bereit", "the state is translated too"


def test_a_staff_error_in_a_runner_becomes_the_notice(staff, store):
    from kiosk.signin import StaffError
    calls = []

    def failing(job, done):
        calls.append(job)
        done(None, StaffError("This is being printed right now: wait until it is out."))

    mode = StaffMode(staff, kiosk_id="lobby-1", printers=("ticket",), runner=failing)
    admission = stored_admission(store)
    incident = store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH, "ticket: x",
                                             admission_id=admission.id))
    signed_in(mode)
    assert [m.text for m in mode.status] == ["The device status is not known."]
    mode.open_incident(incident)
    mode.reprint("ticket")
    assert mode.notice == Message("This is being printed right now: wait until it is out.")
    assert len(calls) == 2
