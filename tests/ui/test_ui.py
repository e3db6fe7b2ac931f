"""The real app on a virtual display (SDL's offscreen driver with Mesa), driven by touches.

Each run is a process of its own: Kivy supports one App run per process.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import uirun
from PIL import Image

HERE = Path(__file__).parent
KIOSK = str(Path(sys.executable).parent / "kiosk")

# A patient nobody else has: the test looks for these in every log line.
ZEBULON = {
    "card": "egk", "atr": "3BD396FF81B1FE451F078081052D",
    "patient": {"resourceType": "Patient",
                "identifier": [{"system": "http://fhir.de/sid/gkv/kvid-10", "value": "Q987654328"}],
                "name": [{"family": "Quixwater-Ybarra", "given": ["Zebulon"]}],
                "gender": "male", "birthDate": "1933-02-11",
                "address": [{"line": ["Hafenstraße 3"], "postalCode": "20457", "city": "Hamburg", "country": "D"}]},
    "coverage": {"resourceType": "Coverage", "status": "active", "subscriberId": "Q987654328",
                 "payor": [{"identifier": {"system": "http://fhir.de/sid/arge-ik/iknr", "value": "101575519"},
                            "display": "Techniker Krankenkasse"}],
                 "period": {"start": "2021-01-01"}},
    "warnings": [],
}
PERSONAL = ("Quixwater", "Zebulon", "1933-02-11", "11.02.1933", "Q987654328")


def env():
    e = dict(os.environ)
    e.pop("DISPLAY", None)
    return e


def visible(shot):
    """A screenshot that shows something: not one flat colour."""
    with Image.open(shot) as image:
        return any(lo != hi for lo, hi in image.convert("RGB").getextrema())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The headless demo with a site's config: its own store in data_dir and a hospital system (a real FHIR
    server), which the demo must leave alone. Gives (run, out, data_dir, FHIR resources the server got)."""
    from fhirserver import FhirServer
    tmp = tmp_path_factory.mktemp("demo")
    patients = tmp / "patients.json"
    patients.write_text(json.dumps([ZEBULON, ZEBULON]), encoding="utf-8")
    with FhirServer() as hospital:
        cfg = tmp / "kiosk.toml"
        cfg.write_text(f'[kiosk]\nid = "lobby-test"\ndata_dir = "{tmp / "data"}"\nlanguages = ["de", "en"]\n'
                       f'[hospital]\ntransport = "fhir"\nurl = "{hospital.base}"\n')
        out = tmp / "out"
        run = subprocess.run([KIOSK, "demo", "--headless", "--out", str(out), "--patients", str(patients),
                              "--config", str(cfg)], capture_output=True, text=True, timeout=300, env=env())
        received = {kind: hospital.count(kind) for kind in ("Patient", "Encounter", "Consent")}
    return run, out, tmp / "data", received


def test_demo_checks_in_scripted_patients_by_touch(demo):
    run, out, data, _ = demo
    assert run.returncode == 0, run.stderr
    assert str(out) in run.stdout
    summary = json.loads((out / "screens.json").read_text(encoding="utf-8"))
    first = [s["screen"] for s in summary["screens"] if s["file"].startswith("p1-")]
    assert first == ["welcome", "identify", "confirm", "questions", "questions", "questions", "consent", "done"]
    for shot in summary["screens"]:
        assert visible(out / shot["file"]), shot["file"]


def test_screens_show_the_patient_in_their_language(demo):
    _, out, _, _ = demo
    shots = {s["file"]: s["texts"] for s in json.loads((out / "screens.json").read_text())["screens"]}
    assert "Willkommen" in shots["p1-01-welcome.png"]
    assert "Welcome" in shots["p2-01-welcome.png"]
    confirm = shots["p1-03-confirm.png"]
    assert "Zebulon Quixwater-Ybarra" in confirm and "11. Februar 1933" in confirm
    assert "Techniker Krankenkasse · Q987654328" in confirm
    assert "February 11, 1933" in shots["p2-03-confirm.png"]
    # The demo runs a site service: the numbers are the site's, of the default queue R.
    assert "R-001" in shots["p1-08-done.png"] and "R-002" in shots["p2-08-done.png"]


def test_demo_writes_the_admission_the_ticket_and_the_wristband_and_nothing_elsewhere(demo):
    _, out, data, received = demo
    admission = json.loads((out / "p1-admission.json").read_text(encoding="utf-8"))
    assert admission["patient"]["name"] == [{"family": "Quixwater-Ybarra", "given": ["Zebulon"]}]
    assert admission["kiosk_id"] == "lobby-test" and admission["queue_number"] == "R-001"
    assert admission["consent"] == "accepted" and len(admission["answers"]) == 3
    assert admission["test_data"] is True, "sample patients are marked as test data"
    # Not a real check-in: nothing in the site's store (the demo's own went with it) and nothing at the hospital.
    assert not data.exists() or not any(data.iterdir())
    assert received == {"Patient": 0, "Encounter": 0, "Consent": 0}
    with Image.open(out / "p1-ticket.png") as ticket:
        assert ticket.width == 576 and ticket.height > 400
        from escpos_decode import read_codes
        assert read_codes(ticket) == [("QRCode", f"ADMISSION:{admission['id']}")]
    with Image.open(out / "p1-wristband.png") as band:
        codes = dict(read_codes(band))
    # No number of the hospital's for a sample, and the config allows no national number: none on the band.
    assert "Code128" not in codes
    assert codes["QRCode"].splitlines() == ["NAME:Quixwater-Ybarra^Zebulon", "DOB:1933-02-11",
                                            f"ADMISSION:{admission['id']}"]


def test_demo_shows_the_pre_checked_patient_on_the_phone_before_they_scan_at_the_kiosk(demo):
    """The patient pages photographed at a phone's width, from the birth date to the arrival code, whose QR
    code (read back out of the photograph) is of the demo's site; then that patient at the kiosk."""
    import zxingcpp
    _, out, _, _ = demo
    phones = sorted(out.glob("phone-*.png"))
    assert [p.name for p in phones] == ["phone-1-birth-date.png", "phone-2-appointment.png", "phone-3-details.png",
                                        "phone-4-question.png", "phone-5-consent.png", "phone-6-arrival-code.png"]
    for phone in phones:
        with Image.open(phone) as image:
            assert image.width == 360 and visible(phone), phone.name
    with Image.open(phones[-1]) as image:
        [read] = zxingcpp.read_barcodes(image)
    assert read.text.startswith("KIOSK1:")
    [arrived] = [a for a in map(lambda p: json.loads(p.read_text(encoding="utf-8")), out.glob("p*-admission.json"))
                 if a.get("precheck_id")]
    assert arrived["identified_by"] == "precheck" and arrived["consent"] == "accepted"


def test_demo_shows_the_waiting_list_and_the_lobby_display_after_its_patients(demo):
    """Photographed by Chromium after three calls: the staff's list at a desk's size, the display at a TV's."""
    run, out, _, _ = demo
    for name, size in (("waiting-list.png", (1280, 800)), ("display-lobby.png", (1920, 1080))):
        with Image.open(out / name) as image:
            assert image.size == size and visible(out / name), name
    assert "waiting-list.png, display-<name>.png" in run.stdout


def test_every_demo_screen_says_it_is_a_demo(demo):
    _, out, _, _ = demo
    banner = {"de": "Demo mit Musterpatienten: Nichts davon erreicht das Krankenhaus.",
              "en": "Demo with sample patients: nothing here reaches the hospital."}
    shots = json.loads((out / "screens.json").read_text(encoding="utf-8"))["screens"]
    for shot in shots:
        language = shot.get("language") or ("de" if shot["file"].startswith("p1-") else "en")
        assert banner[language] in shot["texts"], shot["file"]


def test_demo_shows_every_screen_in_every_language_at_both_text_sizes_and_each_fits(demo):
    from kiosk.checkin.session import State
    run, out, _, _ = demo
    shots = {s["file"]: s for s in json.loads((out / "screens.json").read_text())["screens"]}
    for language, welcome in (("de", "Willkommen"), ("en", "Welcome")):
        for state in State:
            for suffix in ("", "-large"):
                name = f"screens/{language}/{state.value}{suffix}.png"
                assert name in shots and visible(out / name), name
                assert shots[name]["screen"] == state.value and shots[name]["language"] == language
                assert shots[name]["problems"] == [], (name, shots[name]["problems"])
        assert welcome in shots[f"screens/{language}/welcome.png"]["texts"]
    assert "layout problems" not in run.stdout


LAYOUT_FAULTS = """
from kiosk import app
from pathlib import Path
import sys
app.prepare_kivy(Path(sys.argv[1]), headless=True)
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.widget import Widget
from kiosk.screens import layout_check
root = Widget(size=(1280, 800))
def add(widget, x, y, w, h, **text):
    widget.size_hint, widget.pos, widget.size = (None, None), (x, y), (w, h)
    widget.text_size = text.get("text_size", (None, None))
    widget.texture_update()
    root.add_widget(widget)
add(Button(text="ok", font_size=30), 0, 700, 300, 96)
add(Button(text="tiny", font_size=30), 0, 600, 300, 40)
add(Label(text="small print", font_size=20), 0, 500, 300, 60)
add(Label(text="one two three four five six", font_size=30), 0, 400, 200, 20, text_size=(200, None))
add(Label(text="Patientenanmeldung", font_size=30), 400, 400, 120, 200, text_size=(120, None))
add(Label(text="below", font_size=30), 600, -50, 200, 100)
for problem in layout_check.problems(root, (1280, 800)):
    print(problem)
"""


def test_the_layout_check_finds_what_a_person_would(tmp_path):
    run = subprocess.run([sys.executable, "-c", LAYOUT_FAULTS, str(tmp_path)], capture_output=True, text=True,
                         timeout=120, env=env())
    assert run.returncode == 0, run.stderr
    found = run.stdout.splitlines()
    assert any(f.startswith("'tiny' is a touch target of 10.5 mm") for f in found), found
    assert any(f.startswith("'small print' has 14.9 pt text") for f in found), found
    assert any(f.startswith("'one two three four five six' is cut off") for f in found), found
    assert any(f.startswith("'Patientenanmeldung' breaks the word 'Patientenanmeldung'") for f in found), found
    assert any(f.startswith("'below' reaches out of the window") for f in found), found
    assert not any(f.startswith("'ok'") for f in found), found


def test_nothing_personal_in_the_logs(demo):
    run, _, _, _ = demo
    for word in PERSONAL:
        assert word not in run.stderr
        assert word not in run.stdout


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenarios")
    run = subprocess.run([sys.executable, str(HERE / "ui_scenarios.py"), str(out)], capture_output=True, text=True,
                         timeout=300, env=env())
    assert run.returncode == 0, run.stderr
    return json.loads((out / "screens.json").read_text(encoding="utf-8"))["patients"], run


def test_typed_details_mistake_is_explained_next_to_the_form(scenarios):
    steps = scenarios[0]["steps"]
    assert steps["name_mistake"]["state"] == "enter_name"
    assert "Please enter your date of birth as day.month.year, for example 14.07.1980." in steps["name_mistake"]["texts"]
    assert "Ayşe Çelik-Yıldız" in steps["confirm"]["texts"] and "February 28, 1990" in steps["confirm"]["texts"]


def test_call_staff_and_back_and_language_switch(scenarios):
    result, _ = scenarios
    steps = result["steps"]
    assert steps["help"]["state"] == "help" and "Help is on the way" in steps["help"]["texts"]
    assert steps["confirm_fr"]["state"] == "confirm" and "28 février 1990" in steps["confirm_fr"]["texts"]
    assert "Appeler le personnel" in steps["confirm_fr"]["texts"]


def test_paper_out_tells_the_patient_and_raises_an_incident(scenarios):
    result, _ = scenarios
    done = result["steps"]["done_paper_out"]
    assert "Your ticket could not be printed. Please go to the front desk and tell them your number." in done["texts"]
    assert "A-001" in done["texts"]
    admission = result["admission"]
    assert admission["consent"] == "declined" and admission["identified_by"] == "name"
    assert ["printer_fault", admission["id"]] in result["incidents"]
    assert ["identity_unverified", admission["id"]] in result["incidents"]
    assert ["help_requested", None] in result["incidents"]


def test_larger_text_and_high_contrast_hold_for_the_session_only(scenarios):
    look = scenarios[0]["look"]
    assert look["on"]["scale"] == 1.3 and look["on"]["start_font"] == pytest.approx(30 * 1.3)
    assert look["on"]["start_colours"] == [[1, 0.87, 0, 1], [0, 0, 0, 1]], "black on yellow"
    assert look["identify"] == {"scale": 1.3, "theme_ink": [1, 1, 1, 1]}, "it follows the patient"
    assert look["after_wipe"] == {"scale": 1.0, "high_contrast": False}, "the next patient starts plain"


def test_idle_patient_is_warned_then_wiped(scenarios):
    steps = scenarios[0]["steps"]
    assert steps["idle_warning"]["state"] == "idle_warning"
    assert steps["touched_during_warning"]["state"] == "confirm"
    assert "Ayşe Çelik-Yıldız" in steps["touched_during_warning"]["texts"]
    assert steps["after_timeout"]["state"] == "welcome"
    assert not any("Çelik" in text or "1990" in text for text in steps["after_timeout"]["texts"])
    assert steps["after_timeout"]["session_person"] == "None"


def test_card_pulled_out_during_the_read(scenarios):
    result, _ = scenarios
    assert result["steps"]["card_removed"]["state"] == "identify"
    assert ["card_removed", None] in result["incidents"]


def test_old_screens_do_not_pile_up(scenarios):
    assert {step["screens"] for step in scenarios[0]["steps"].values()} == {1}


def test_no_traceback_and_nothing_personal_in_the_log(scenarios):
    _, run = scenarios
    assert "Traceback" not in run.stderr
    for word in ("Ayşe", "Çelik", "1990", "28.02"):
        assert word not in run.stderr and word not in run.stdout


def test_the_kiosk_follows_a_real_reader(pcscd, tmp_path):
    run = subprocess.run([sys.executable, str(HERE / "ui_pcsc.py"), str(tmp_path), pcscd.reader_name],
                         capture_output=True, text=True, timeout=300, env=env())
    assert run.returncode == 0, run.stderr
    seen = json.loads((tmp_path / "screens.json").read_text(encoding="utf-8"))["patients"]
    assert "Jürgen Heinz Müller-Lüdenscheidt" in seen["confirm"] and "March 21, 1958" in seen["confirm"]
    assert any("taken out before it could be read" in text for text in seen["removed"])
    assert seen["incidents"] == ["card_removed"]
    for word in ("Müller", "Jürgen", "X110411675"):
        assert word not in run.stderr


@pytest.fixture(scope="module")
def printing_faults(tmp_path_factory):
    out = tmp_path_factory.mktemp("printing")
    run = subprocess.run([sys.executable, str(HERE / "ui_printing.py"), str(out)], capture_output=True, text=True,
                         timeout=300, env=env(), cwd=HERE)
    assert run.returncode == 0, run.stderr
    return {c["case"]: c for c in json.loads((out / "screens.json").read_text(encoding="utf-8"))["patients"]}, run


FAULTS = {"ticket-paper-out": "paper_out", "ticket-cover-open": "cover_open", "ticket-offline": "offline",
          "ticket-switched-off": "unreachable", "wristband-cutter": "cutter_error",
          "wristband-dropped": "connection_lost"}


@pytest.mark.parametrize("case,reason", FAULTS.items())
def test_a_printer_fault_keeps_the_admission_tells_the_patient_and_staff_and_the_reprint_works(
        printing_faults, case, reason):
    from escpos_decode import decode, read_codes
    c = printing_faults[0][case]
    kind = c["kind"]
    assert c["walked_queue_number"] == c["queue_number"], "the admission is stored, with its number"
    assert f"Your {kind} could not be printed. Please go to the front desk and tell them your number." \
        in c["done_texts"]
    assert c["queue_number"] in c["done_texts"]
    assert c["incidents_before_reprint"] == [["printer_fault", c["admission_id"], f"{kind}:{reason}"]]
    assert c["copies_before_reprint"] == 0, "nothing printed, and nothing retried on its own"
    assert c["reprint"] == "printed" and c["copies_after_reprint"] == 1
    assert c["incidents_after_reprint"] == [], "the reprint resolves the incident"
    assert [p for p in c["prints"] if p[0] == kind] == [[kind, "kiosk", "failed", reason], [kind, "staff", "printed", ""]]
    job = decode(bytes.fromhex(c["last_job"]))
    if kind == "ticket":
        assert c["queue_number"] in job.text and job.qr_codes() == [f"ADMISSION:{c['admission_id']}"]
    else:       # no number of the hospital's for the sample card, and no national number allowed: none
        codes = dict(read_codes(job.images()[0]))
        assert "Code128" not in codes and codes["QRCode"].endswith(f"ADMISSION:{c['admission_id']}")


def test_paper_running_low_prints_and_is_one_incident_for_staff(printing_faults):
    cases = printing_faults[0]
    for case in ("ticket-paper-low", "ticket-paper-low-again"):
        c = cases[case]
        assert any(t.startswith("Please take your ticket and your wristband") for t in c["done_texts"])
        assert c["copies_before_reprint"] == 1
        assert c["incidents_before_reprint"] == [["paper_low", None, "ticket"]]


def test_a_job_the_last_kiosk_run_left_printing_is_a_fault_for_staff(printing_faults):
    c = printing_faults[0]["interrupted"]
    assert c["prints"] == [["ticket", "interrupted"]]
    assert c["incidents"] == [["printer_fault", "00000000-0000-4000-8000-00000000dead", "ticket:interrupted"]]


def test_printer_faults_log_no_personal_data(printing_faults):
    _, run = printing_faults
    assert "not printed: paper_out" in run.stderr
    for word in ("Müller", "Lüdenscheidt", "Jürgen", "X110411675", "1958"):
        assert word not in run.stderr and word not in run.stdout


def test_kiosk_run_starts_the_kiosk_with_the_configured_devices(tmp_path, store_key):
    # `kiosk run` on a screen (SDL's offscreen driver stands in for the X server). Proof that the app
    # was built and started: it marks a print job an earlier run left half-done as interrupted.
    from kiosk.checkin.model import Admission, Person
    from kiosk.store import Store
    data = tmp_path / "data"
    store = Store(data / "kiosk.db", key=store_key)
    earlier = store.save_admission(Admission(id="00000000-0000-4000-8000-0000000000aa", kiosk_id="lobby-1",
                                             created_at="2026-11-27T07:00:00+00:00", language="en",
                                             identified_by="name", person=Person(family="Earlier")))
    store.print_started(earlier.id, "ticket", "kiosk")
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{data}"\n[reader]\nkind = "simulated"\n', encoding="utf-8")
    run = subprocess.Popen([KIOSK, "run", "--config", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env={**env(), "DISPLAY": ":0", "SDL_VIDEODRIVER": "offscreen"})
    try:
        deadline = time.monotonic() + 60
        while store.prints(earlier.id)[0]["status"] == "printing" and run.poll() is None:
            assert time.monotonic() < deadline, "kiosk run did not start within 60 s"
            time.sleep(0.2)
        assert run.poll() is None, run.communicate()[1]
        assert store.prints(earlier.id)[0]["status"] == "interrupted"
    finally:
        run.terminate()
        _, err = run.communicate(timeout=30)
        store.close()
    assert "Traceback" not in err


def test_the_app_delivers_while_patients_check_in_and_finds_their_appointment(tmp_path):
    run = subprocess.run([sys.executable, str(HERE / "ui_sync.py"), str(tmp_path)], capture_output=True, text=True,
                         timeout=300, env=env(), cwd=HERE)
    assert run.returncode == 0, run.stderr
    [result] = json.loads((tmp_path / "screens.json").read_text(encoding="utf-8"))["patients"]
    assert "Appointment today" in result["confirm_texts"]
    assert any(t.endswith("· Kardiologie") for t in result["confirm_texts"])
    assert result["delivered"] and result["appointment"] == "arrived"
    assert result["second"] == "A-002", "the kiosk goes on while the hospital system does not answer"
    assert result["outbox_while_held"] == ["delivered", "pending"]
    assert result["delivered_later"] and result["outbox"] == ["delivered", "delivered"]
    assert result["patients"] == 2
    for word in ("Müller", "Lüdenscheidt", "X110411675", "Dubois", "85073003328"):
        assert word not in run.stderr and word not in run.stdout


def run_form(tmp_path, form):
    run, [result] = uirun.run("ui_forms.py", tmp_path, form)
    return result, run


def test_the_general_intake_form_is_asked_typed_checked_and_stored_with_enabled_answers_only(tmp_path):
    from kiosk.hospital import fhir
    from kiosk.checkin.model import Admission
    result, run = run_form(tmp_path, "intake-general")
    steps = {s["question"]: s for s in result["steps"]}
    phone = [s for s in result["steps"] if s["question"] == "phone"]
    assert phone[0]["notice"] == "This answer is too long. Please shorten it." and phone[0]["state"] == "questions"
    from kiosk.i18n import Catalogs
    assert Catalogs(["de"]).gettext("de", phone[0]["notice"]) in phone[0]["texts"], "shown next to the field, in German"
    assert "allergies-which" not in steps, "a follow-up question whose condition is not met is not asked"
    assert result["steps"][-1]["state"] == "consent"
    answers = {a["link_id"]: a["value"] for a in result["admission"]["answers"]}
    assert answers == {"reason": "other", "reason-other": ["certificate", "Sportverletzung, Knie"], "allergies": False,
                       "medication": True, "medication-which": "Ramipril 5 mg", "pregnancy": "not-applicable",
                       "phone": "0151 2345678"}
    bundle = fhir.transaction(Admission.from_json(result["admission"]))
    [response] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    assert "emergency-contact" not in json.dumps(response), "empty optional answers are not sent"
    for word in ("Sportverletzung", "Ramipril", "2345678"):
        assert word not in run.stderr and word not in run.stdout


def test_phq9_is_asked_and_its_response_validates_as_fhir(tmp_path):
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    from kiosk.hospital import fhir
    from kiosk.checkin.model import Admission
    result, _ = run_form(tmp_path, "phq-9")
    assert len(result["steps"]) == 9 and result["steps"][-1]["state"] == "consent", "the tenth question stays hidden"
    first = result["steps"][0]["texts"]
    assert "Überhaupt nicht" in first and any(t.startswith("Wie oft fühlten Sie sich") for t in first)
    bundle = fhir.transaction(Admission.from_json(result["admission"]))
    [response] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    QuestionnaireResponse.model_validate(response)
    codings = [a["valueCoding"] for item in _leaves(response["item"]) for a in item["answer"]]
    assert len(codings) == 9 and {c["system"] for c in codings} == {"http://loinc.org"}
    assert {c["code"] for c in codings} == {"LA6568-5"}


def _leaves(items):
    for item in items:
        if "answer" in item:
            yield item
        yield from _leaves(item.get("item", ()))


def test_an_untouched_welcome_screen_slows_down_and_a_touch_or_a_card_brings_the_full_rate_back(tmp_path):
    _, [seen] = uirun.run("ui_pace.py", tmp_path)
    full = 30.0                                       # the kiosk's rate (app.prepare_kivy)
    for quiet in ("welcome_untouched", "welcome_untouched_again", "welcome_after_the_patient"):
        assert seen[quiet]["state"] == "welcome" and seen[quiet]["max_fps"] == 4.0, seen
        # An upper bound only: a busy machine runs fewer frames, never more than the limit allows.
        assert seen[quiet]["frames_in_1s"] <= 8, seen
    assert seen["welcome_touched"]["max_fps"] == full, "the touch itself brings the full rate back"
    assert seen["confirm_untouched"] == {**seen["confirm_untouched"], "state": "confirm", "max_fps": full}
