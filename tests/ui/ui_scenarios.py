"""Drives the real kiosk app by touch through the paths the demo does not take.

Run by tests/ui/test_ui.py in a process of its own (Kivy allows one App run per process):
``python tests/ui/ui_scenarios.py OUT_DIR``. Writes ``OUT_DIR/screens.json`` with what every step showed.
"""

import sys
from pathlib import Path

from kiosk import app as kiosk_app
from kiosk.hardware.reader import sample_cards
from kiosk.store.opening import open_store
from kiosk.config import KioskSettings, ReaderSettings, Settings
from kiosk.checkin.events import StillHere
from kiosk.checkin.session import State
from kiosk.hardware.preview import PreviewPrinter
from kiosk.hardware.reader import SimulatedReader
from kiosk.screens import walk


async def type_into(pilot, field_id: str, text: str, *, then: str = "close") -> None:
    """Tap a field, type into it the way the on-screen keyboard does, then close the keyboard
    (``then="close"``) or press its Enter key (``then="enter"``)."""
    field = pilot.app.frame.manager.current_screen.ids[field_id]
    if not field.focus:                   # Enter in the field before already moved here
        await pilot.touch(*field.to_window(*field.center))
    assert field.focus, f"tapping {field_id} did not focus it"
    field.insert_text(text)
    await pilot.frames(1)
    if then == "enter":
        field.dispatch("on_text_validate")
    else:
        field.focus = False
    await pilot.frames(2)


async def scenarios(app, pilot) -> dict:
    seen = {}
    manager = app.frame.manager

    def note(step):
        seen[step] = {"state": app.flow.state.value, "texts": pilot.texts(), "screens": len(manager.screens)}

    # 1. No card: the patient types name and birth date, first with a mistake.
    await pilot.wait_state(State.WELCOME)
    await pilot.tap("language:en")
    await pilot.tap("start")
    await pilot.tap("choose_name")
    await pilot.wait_state(State.ENTER_NAME)
    await type_into(pilot, "given", "Ayşe")
    await type_into(pilot, "family", "Çelik-Yıldız")
    await type_into(pilot, "birth", "31.02.1990")
    await pilot.tap("continue")
    await pilot.shot("enter-name-mistake")
    note("name_mistake")
    app.frame.manager.current_screen.ids.birth.text = ""
    await type_into(pilot, "birth", "28.02.1990")
    await pilot.tap("continue")
    await pilot.wait_state(State.CONFIRM)
    await pilot.shot("confirm-typed")
    note("confirm")

    # 2. Call staff from the confirm screen, then go back to it; switch language there.
    await pilot.tap("call_staff")
    await pilot.wait_state(State.HELP)
    await pilot.shot("help")
    note("help")
    await pilot.tap("back")
    await pilot.wait_state(State.CONFIRM)
    await pilot.tap("language:fr")
    note("confirm_fr")
    await pilot.tap("language:en")

    # 3. The printer runs out of paper: the patient is told, staff get an incident.
    app.printers["ticket"].fault = "paper_out"
    async def no_or_the_last(app, pilot, q) -> None:
        await pilot.tap(f"answer:{'False' if q.type == 'boolean' else q.options[-1].code}")

    await walk.to_consent(app, pilot, answer=no_or_the_last)
    await walk.consent(app, pilot, sign=False, agree=False, printed=lambda status: status == "failed")
    await pilot.shot("done-paper-out")
    note("done_paper_out")
    admission_id = app.flow.session.admission.id
    await pilot.tap("finish")

    # 4. A patient walks away with their details on screen: warning, then the session is wiped.
    await pilot.wait_state(State.WELCOME)
    await pilot.tap("start")
    await pilot.tap("choose_name")
    await pilot.wait_state(State.ENTER_NAME)
    await type_into(pilot, "given", "Ayşe", then="enter")
    assert app.frame.manager.current_screen.ids.family.focus, "Enter goes on to the next field"
    await type_into(pilot, "family", "Çelik-Yıldız", then="enter")
    await type_into(pilot, "birth", "28.02.1990", then="enter")   # Enter in the last field continues
    await pilot.wait_state(State.CONFIRM)
    # Short, for this step only; the warning long enough for the touch below to land on it on a busy machine.
    app.flow.idle_timeout_s, app.flow.idle_warning_s = 4.0, 3.0
    app.send(StillHere())                                           # re-arms the idle timer
    await pilot.wait_state(State.IDLE_WARNING)
    await pilot.shot("idle-warning")
    note("idle_warning")
    await pilot.touch(40, 300)            # anywhere on the warning, not only its button
    await pilot.wait_state(State.CONFIRM)
    note("touched_during_warning")
    await pilot.wait_state(State.IDLE_WARNING)
    await pilot.wait_state(State.WELCOME)
    note("after_timeout")
    seen["after_timeout"]["session_person"] = repr(app.flow.session.person)
    app.flow.idle_timeout_s, app.flow.idle_warning_s = 60.0, 15.0

    # 5. A card pulled out during the read.
    app.reader.insert()
    await pilot.wait_for(lambda: app.flow.session.reading, "the card read to start")
    app.reader.remove()
    await pilot.wait_for(lambda: app.flow.session.notice, "the card-removed notice")
    await pilot.shot("card-removed")
    note("card_removed")

    # 6. Larger text and high contrast, chosen on the welcome screen, last until the session is wiped.
    await pilot.tap("back")
    await pilot.wait_state(State.WELCOME)
    await pilot.tap("large_text")
    await pilot.tap("high_contrast")
    await pilot.shot("welcome-large-contrast")
    start = pilot.button("start")
    look = {}
    look["on"] = {"scale": app.look.scale, "start_font": start.font_size,
                       "start_colours": [list(start.background_color), list(start.color)]}
    await pilot.tap("start")
    await pilot.wait_state(State.IDENTIFY)
    await pilot.shot("identify-large-contrast")
    look["identify"] = {"scale": app.look.scale, "theme_ink": list(app.look.ink)}
    await pilot.tap("back")                       # back from identify wipes the session
    await pilot.wait_state(State.WELCOME)
    look["after_wipe"] = {"scale": app.look.scale, "high_contrast": app.look.high_contrast}

    stored = app.store.get_admission(admission_id)
    return {"steps": seen, "look": look, "incidents": [(i["kind"], i["admission_id"]) for i in app.store.incidents()],
            "admission": stored.to_json()}


def main(out: Path) -> None:
    data = out / "data"
    settings = Settings(kiosk=KioskSettings(data_dir=str(data)), reader=ReaderSettings(kind="simulated"))
    kiosk_app.prepare_kivy(data / "kivy", headless=True)
    from kiosk.screens.demo import run_script
    app = kiosk_app.build_app(settings, store=open_store(settings),
                              reader=SimulatedReader(sample_cards(), read_s=30),  # removed long before
                              printers={"ticket": PreviewPrinter(data / "tickets")})
    run_script(app, out, scenarios)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
