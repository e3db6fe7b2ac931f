"""Read aloud in the real app: ``python tests/ui/ui_speech.py OUT_DIR``.

Visits every screen, taps "Read aloud" on each, and on the confirm screen also "Read my details
aloud", in English and Turkish. The speaker is the real one (espeak-ng, its audio into a pipe nobody
reads, so an utterance lasts until it is stopped) and notes what it was given. Writes
``OUT_DIR/screens.json`` with what was spoken on each screen, and whether speech was still running
after the screen changed and after the wipe.
"""

import os
import sys
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.hardware.reader import sample_cards
from kiosk.checkin.session import State
from kiosk.hardware.speech import Speaker
from kiosk.screens import walk


class NotingSpeaker(Speaker):
    """The real speaker, which also keeps what it was asked to say (in this test process only)."""

    def __init__(self, stdout: int):
        super().__init__("espeak-ng --stdout", stdout=stdout)
        self.said: list[tuple[str, str]] = []

    def say(self, text: str, language: str) -> bool:
        self.said.append((text, language))
        return super().say(text, language)


async def script(app, pilot) -> list[dict]:
    speaker = app.speaker
    spoken: dict[str, list] = {}
    visited: list[str] = []

    async def read(step: str, action: str = "read_aloud") -> None:
        before, state = len(speaker.said), app.flow.state.value
        await pilot.tap(action)          # raises if this screen has no such button
        assert len(speaker.said) == before + 1, f"{step}: {action} said nothing"
        text, language = speaker.said[-1]
        spoken[step] = {"state": state, "text": text, "language": language, "speaking": speaker.speaking(),
                        "state_after": app.flow.state.value}
        visited.append(state)

    await pilot.wait_state(State.WELCOME)
    await read("welcome")
    await pilot.tap("start")
    await pilot.wait_state(State.IDENTIFY)
    spoken["welcome"]["speaking_after_screen_change"] = speaker.speaking()
    await read("identify")
    await pilot.tap("choose_code")
    await pilot.wait_state(State.ENTER_CODE)
    await read("enter_code")
    await pilot.tap("back")
    await pilot.wait_state(State.IDENTIFY)
    await pilot.tap("choose_name")
    await pilot.wait_state(State.ENTER_NAME)
    field = app.frame.manager.current_screen.ids.given
    await pilot.touch(*field.to_window(*field.center))
    field.insert_text("Zebulon")          # typed, but never read aloud
    field.focus = False
    await pilot.frames(2)
    await read("enter_name")
    await pilot.tap("back")
    await pilot.wait_state(State.IDENTIFY)

    app.reader.insert(sample_cards()[0])
    await pilot.wait_state(State.CONFIRM)
    screen = app.frame.manager.current_screen
    shown = {"name": screen.person_name, "birth_date": screen.birth_date, "address": screen.address,
             "insurance": screen.insurance}
    await read("confirm")
    await read("confirm_details", "read_details_aloud")
    await pilot.tap("language:tr")
    await read("confirm_tr")
    await pilot.tap("language:en")
    await pilot.tap("correct_details")     # the fields hold the address from the card: never read
    await pilot.wait_state(State.CORRECT)
    await read("correct")
    await pilot.tap("back")
    await pilot.wait_state(State.CONFIRM)

    await pilot.tap("call_staff")
    await pilot.wait_state(State.HELP)
    await read("help")
    await pilot.tap("back")
    await pilot.wait_state(State.CONFIRM)
    await pilot.tap("details_confirmed")
    await pilot.wait_state(State.QUESTIONS)
    await read("questions")
    event, _seconds = app.flow.timer()     # the idle timer's event, now rather than in a minute
    app.send(event)
    await pilot.wait_state(State.IDLE_WARNING)
    await read("idle_warning")            # any touch on the warning means someone is there: it goes away
    await pilot.wait_state(State.QUESTIONS)
    while app.flow.state is State.QUESTIONS:
        await walk.answer_question(app, pilot, app.flow.question)
    await pilot.wait_state(State.CONSENT)
    await read("consent")
    await pilot.tap("consent_declined")     # no signature needed: the patient is checked in all the same
    await pilot.wait_for(lambda: app.flow.state is State.DONE and app.flow.session.print_status != "printing",
                         "the ticket")
    await read("done")
    await pilot.tap("finish")              # the wipe
    await pilot.wait_state(State.WELCOME)
    spoken["done"]["speaking_after_wipe"] = speaker.speaking()
    # A patient who pre-checked in scans their arrival code: "Is this you?"
    app.scanner.scan(app.arrival_qr).join()
    await pilot.wait_for(lambda: app.flow.state is State.ARRIVAL and not app.flow.session.arrival_asked, "Is this you?")
    await read("arrival")
    await pilot.tap("not_me")
    await pilot.wait_state(State.WELCOME)
    return [{"spoken": spoken, "shown": shown, "visited": visited}]


def main(out: Path) -> None:
    from precheckin import site_with_a_pre_checked_patient

    from kiosk.config import DeskSettings, FormsSettings, SiteSettings
    from kiosk.config.sections import ScannerSettings
    from kiosk.screens.demo import run_script
    read_end, write_end = os.pipe()      # the "sound card": never read, so speech lasts until stopped
    site, secret, qr = site_with_a_pre_checked_patient(out, language="en")
    app = app_for(settings_for(out, ("en", "tr"), site=SiteSettings(url=site.api.url), forms=FormsSettings(intake="intake-basic"),
                               desk=DeskSettings(peer_secret_file=str(secret)), scanner=ScannerSettings(kind="simulated")),
                  speaker=NotingSpeaker(write_end))
    app.arrival_qr = qr
    try:
        run_script(app, out, script)
    finally:
        app.speaker.stop()
        site.stop()
        os.close(read_end)
        os.close(write_end)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
