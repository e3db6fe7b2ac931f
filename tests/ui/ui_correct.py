"""The patient corrects address and phone in the real app: ``python tests/ui/ui_correct.py OUT_DIR``.

An eGK sample card is read; on the confirm screen the patient taps "Change address or phone", finds
the card's address in the fields, types a new address with a postal code that cannot be one (the
sentence next to the form says what to fix), fixes it, adds a phone number and saves; the confirm screen
shows the new values marked; the patient confirms, agrees and finishes. Writes ``OUT_DIR/screens.json``
with what each step showed, the admission as stored and the incidents raised.
"""

import sys
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.hardware.reader import sample_cards
from kiosk.config import FormsSettings
from kiosk.screens import walk
from kiosk.screens.demo import run_script
from kiosk.checkin.session import State

STREET, BAD_POSTAL_CODE, POSTAL_CODE, CITY, PHONE = "Hafenstraße 3", "2X", "20457", "Hamburg", "0151 2345678"


def main(out: Path) -> None:
    app = app_for(settings_for(out, forms=FormsSettings(intake="no-questions")))

    async def script(app, pilot):
        from kivy.core.window import Window
        steps = []

        def inside(action: str) -> bool:
            """The button is wholly on the screen (a finger can reach all of it)."""
            button = pilot.button(action)
            x, y = button.to_window(button.x, button.y)
            return x >= 0 and y >= 0 and x + button.width <= Window.width and y + button.height <= Window.height

        def cut_off() -> list[str]:
            """Texts of the screen that lie (partly) outside it: hidden under the top bar or below the window."""
            from kivy.uix.label import Label
            screen = app.frame.manager.current_screen
            bottom, top = screen.to_window(0, screen.y)[1], screen.to_window(0, screen.top)[1]
            out = []
            for w in screen.walk(restrict=True):
                if isinstance(w, Label) and w.text and w.opacity > 0 and w.height > 0:
                    y = w.to_window(0, w.y)[1]
                    if y < bottom - 1 or y + w.height > top + 1:
                        out.append(w.text)
            return out

        async def step(name: str, *actions: str) -> None:
            shot = await pilot.shot(name)
            steps.append({"step": name, "state": app.flow.state.value, "file": shot.name,
                          "notice": app.flow.session.notice, "texts": pilot.texts(),
                          "inside": {a: inside(a) for a in actions}, "cut_off": cut_off()})

        async def type_into(name: str, text: str) -> None:
            field = app.frame.manager.current_screen.ids[name]
            await pilot.touch(*field.to_window(*field.center))
            field.text = ""
            field.insert_text(text)
            field.focus = False             # the on-screen keyboard goes (it would cover the next field)
            await pilot.frames(3)

        async def fields() -> dict:
            ids = app.frame.manager.current_screen.ids
            return {name: ids[name].text for name in ("street", "postal_code", "city", "phone")}

        await walk.to_confirm(app, pilot, sample_cards()[0])
        await step("01-confirm", "details_wrong", "details_confirmed", "back", "correct_details")
        await pilot.tap("correct_details")
        await pilot.wait_state(State.CORRECT)
        await step("02-correct", "back", "save_corrections")
        steps[-1]["fields"] = await fields()
        await type_into("street", STREET)
        await type_into("postal_code", BAD_POSTAL_CODE)
        await type_into("city", CITY)
        await type_into("phone", PHONE)
        await pilot.tap("save_corrections")
        await step("03-bad-postal-code", "back", "save_corrections")
        await type_into("postal_code", POSTAL_CODE)
        await pilot.tap("save_corrections")
        await pilot.wait_state(State.CONFIRM)
        await step("04-confirm-corrected", "details_wrong", "details_confirmed", "back", "correct_details")
        await walk.to_consent(app, pilot)
        await walk.consent(app, pilot)          # signed when the site asks for a signature
        admission = app.store.last_admission()
        incidents = [{k: i[k] for k in ("kind", "severity", "detail", "admission_id")} for i in app.store.incidents()]
        await pilot.tap("finish")
        await pilot.wait_state(State.WELCOME)
        return [{"steps": steps, "admission": admission.to_json(), "incidents": incidents}]

    run_script(app, out, script)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
