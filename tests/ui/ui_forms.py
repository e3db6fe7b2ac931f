"""The real app asks a questionnaire it did not write by hand: ``python tests/ui/ui_forms.py FORM OUT_DIR``.

intake-general: an open choice that repeats (two ticked, one unticked, the language switched and back,
one typed in), a follow-up question that appears and one that does not, a
phone number too long (the sentence next to the field says what to fix), optional fields left empty.
phq-9: all nine answered "not at all", so the tenth (enableWhen any) is never asked.
Writes ``OUT_DIR/screens.json`` with what each step showed and the admission as stored.
"""

import sys
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.hardware.reader import sample_cards
from kiosk.config import FormsSettings
from kiosk.screens import walk
from kiosk.screens.demo import run_script
from kiosk.checkin.session import State

STEPS = {   # form -> [(question linkId, what the patient does)]
    "intake-general": [("reason", "tap:other"), ("reason-other", "tick:certificate"), ("reason-other", "tick:results"),
                       ("reason-other", "tick:results"), ("reason-other", "switch:en"),
                       ("reason-other", "switch:de"), ("reason-other", "type:Sportverletzung, Knie"),
                       ("allergies", "tap:False"), ("medication", "tap:True"), ("medication-which", "type:Ramipril 5 mg"),
                       ("pregnancy", "tap:not-applicable"), ("phone", "type:" + "0" * 31), ("phone", "clear"),
                       ("phone", "type:0151 2345678"), ("emergency-contact-name", "type:"),
                       ("emergency-contact-phone", "type:")],
    "phq-9": [(None, "tap:LA6568-5")] * 9,
}


def main(form: str, out: Path) -> None:
    app = app_for(settings_for(out, forms=FormsSettings(intake=form)))

    async def script(app, pilot):
        seen = []
        await walk.to_confirm(app, pilot, sample_cards()[0])
        await pilot.tap("details_confirmed")
        for n, (link_id, action) in enumerate(STEPS[form]):
            await pilot.wait_state(State.QUESTIONS)
            q = app.flow.question
            assert link_id in (None, q.link_id), f"step {n}: asked {q.link_id}, expected {link_id}"
            field = app.frame.manager.current_screen.ids.typed
            what, _, value = action.partition(":")
            if what == "tap":
                await pilot.tap(f"answer:{value}")
            elif what == "tick":             # a question that repeats: the button ticks (again: unticks)
                await pilot.tap(f"answer:{value}")
                assert app.flow.question.link_id == q.link_id, "ticking an answer does not move on"
                continue
            elif what == "switch":           # the screen is drawn again: what was ticked stays ticked
                await pilot.tap(f"language:{value}")
                continue
            elif what == "clear":
                field.text = ""
                continue
            else:
                await pilot.frames(3)
                if not field.focus:          # back on the same question after a mistake: tap into the field
                    await pilot.touch(*field.to_window(*field.center))
                field.insert_text(value)
                field.focus = False
                await pilot.frames(2)
                await pilot.tap("continue")
            await pilot.frames(2)
            shot = await pilot.shot(f"{n:02d}-{q.link_id}")
            seen.append({"question": q.link_id, "state": app.flow.state.value, "file": shot.name,
                         "notice": app.flow.session.notice, "texts": pilot.texts()})
        await walk.consent(app, pilot, sign=True)          # drawn with a finger, not a tap
        admission = app.store.last_admission()
        return [{"steps": seen, "admission": admission.to_json()}]

    run_script(app, out, script)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
