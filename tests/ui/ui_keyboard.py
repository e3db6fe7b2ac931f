"""Patients type their names on the on-screen keyboard: ``python tests/ui/ui_keyboard.py OUT_DIR``.

Every letter is a touch on a key of the docked keyboard, found from the keyboard's own key geometry;
shift is a tap on the shift key when the letter is not on the layer shown. Three patients with no card:
one types an appointment code first (and calls staff, and is idle, in between), one hides the keyboard with its key,
one types Turkish names. Writes ``OUT_DIR/screens.json`` with what each field showed and each admission
as stored.
"""

import sys
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.config import FormsSettings
from kiosk.screens import walk
from kiosk.screens.demo import DemoError, run_script
from kiosk.checkin.session import State

PATIENTS = [   # what each patient types; "\b" is the backspace key
    {"language": "de", "code": "AB12-CD34", "given": "Hans-Jürgen", "family": "Müllerr\b-Lüdenscheidt",
     "birth": "14.07.1980"},
    {"language": "en", "given": "Zoë", "family": "O'Brien", "birth": "03.11.1975", "hide_keyboard": True},
    {"language": "de", "given": "Işıl Ayşe", "family": "Gündoğan", "birth": "01.02.1990"},
]


def main(out: Path) -> None:
    app = app_for(settings_for(out, forms=FormsSettings(intake="no-questions")))

    async def script(app, pilot):
        from kivy.core.window import Window

        from kiosk.screens.keyboard import KioskKeyboard

        def keyboard():
            shown = [w for w in Window.children if isinstance(w, KioskKeyboard)]
            return shown[0] if shown else None

        def field(name):
            return app.frame.manager.current_screen.ids[name]

        def looks(name) -> dict:
            """What the patient sees of the keyboard while ``name`` has it."""
            kb, f = keyboard(), field(name)
            keys = [size for line in range(1, kb.available_layouts[kb.layout]["rows"] + 1)
                    for _pos, size in kb.layout_geometry[f"LINE_{line}"]]
            return {"field": name, "focus": f.focus, "layout": kb.layout, "keyboard_top": kb.top,
                    "field_bottom": f.to_window(f.x, f.y)[1], "field_top": f.to_window(f.x, f.top)[1],
                    "smallest_key": [min(w for w, _ in keys), min(h for _, h in keys)],
                    "shift_at_start": kb.have_capslock, "room": app.frame.keyboard_room}

        async def press(key: str) -> None:
            kb = keyboard()
            where = kb.key_centre(key)
            if where is None:                       # not on this layer: shift first
                await pilot.touch(*kb.key_centre("capslock"))
                where = kb.key_centre(key)
            if where is None:
                raise DemoError(f"no key for {key!r} on the {kb.layout} keyboard")
            await pilot.touch(*where)

        async def type_into(name: str, text: str, seen: list) -> None:
            f = field(name)
            if not f.focus:                         # the keyboard is down: the field is where it is drawn
                await pilot.touch(*f.to_window(*f.center))
            await pilot.wait_for(lambda: keyboard() is not None and f.focus, f"the keyboard for {name}")
            seen.append(looks(name))
            for c in text:
                await press("backspace" if c == "\b" else c)

        results = []
        for n, patient in enumerate(PATIENTS, start=1):
            seen = []
            await pilot.wait_state(State.WELCOME)
            await pilot.tap(f"language:{patient['language']}")
            await pilot.tap("start")
            await pilot.wait_state(State.IDENTIFY)
            if "code" in patient:
                await pilot.tap("choose_code")
                await pilot.wait_state(State.ENTER_CODE)
                await type_into("code", patient["code"], seen)
                await pilot.tap("call_staff")       # the top bar stays above the keyboard
                await pilot.wait_state(State.HELP)
                seen.append({"screen": "help", "keyboard": keyboard() is not None, "room": app.frame.keyboard_room})
                await pilot.tap("back")
                await pilot.wait_state(State.ENTER_CODE)
                await type_into("code", "", seen)   # the code typed before help is still there
                event, _seconds = app.flow.timer()  # what the idle timer sends: the screen changes, no touch
                app.send(event)
                await pilot.wait_state(State.IDLE_WARNING)
                seen.append({"screen": "idle_warning", "keyboard": keyboard() is not None,
                             "room": app.frame.keyboard_room})
                await pilot.tap("still_here")
                await pilot.wait_state(State.ENTER_CODE)
                await type_into("code", "", seen)
                await press("enter")
            else:
                await pilot.tap("choose_name")
            await pilot.wait_state(State.ENTER_NAME)
            await type_into("given", patient["given"], seen)
            if patient.get("hide_keyboard"):
                await press("escape")
                seen.append({"screen": "enter_name", "hidden": keyboard() is None, "room": app.frame.keyboard_room,
                             "focus": field("given").focus})
            else:
                await press("enter")                # on to the last name
            await type_into("family", patient["family"], seen)
            await press("enter")                    # on to the birth date
            await type_into("birth", patient["birth"], seen)
            await press("enter")                    # done: the details as typed
            await pilot.wait_state(State.CONFIRM)
            seen.append({"screen": "confirm", "keyboard": keyboard() is not None, "room": app.frame.keyboard_room})
            await pilot.shot(f"p{n}-confirm")
            await walk.to_consent(app, pilot)
            await walk.consent(app, pilot)
            admission = app.store.last_admission()
            results.append({"steps": seen, "admission": admission.to_json(),
                            "appointment_code": app.flow.session.appointment_code})
            await pilot.tap("finish")
        await pilot.wait_state(State.WELCOME)
        return results

    run_script(app, out, script)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
