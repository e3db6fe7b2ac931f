"""Staff mode on the real app, driven by touches: ``python tests/ui/ui_staff.py OUT_DIR``.

A patient checks in while the ticket printer is out of paper (a printer fault); a second one calls
staff on the confirm screen. Five taps elsewhere open nothing; the corner gesture opens the sign-in,
where a wrong PIN says so and five lock the name; a second member signs in, sees the patient's call,
takes and resolves it; leaves, and the waiting patient's session goes on. Signed in again: reprints the
ticket of the printer fault; switches the kiosk out of service and leaves (the welcome screen says so
and a patient's card starts nothing); a badge card opens staff mode again, with no admission stored;
out of service off; left alone, staff mode signs out by itself. Every staff screen is checked with
kiosk.screens.layout_check in English and German. Writes OUT_DIR/screens.json with what each step saw; raises
(exit status 1) when a step does not go as it should.
"""

import sys
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.hardware.reader import sample_cards
from kiosk.screens import layout_check, walk
from kiosk.config import StaffSettings
from kiosk.screens.demo import run_script
from kiosk.checkin.session import State
from kiosk.signin import LOCKED, WRONG_PIN
from kiosk.desk.staffmode import Screen

BADGE_CARD = 1          # the second sample card (a Belgian eID) is Jonas Weber's badge
IDLE_S = 90.0           # from [staff] idle_timeout_s


def main(out: Path) -> None:
    app = app_for(settings_for(out, ("en", "de", "tr", "fr"), staff=StaffSettings(idle_timeout_s=IDLE_S)))
    store, printers = app.store, app.printers
    cards = sample_cards()
    app.staff.add_member("Petra Schmidt", "2468")
    app.staff.add_member("Jonas Weber", "1357", badges=(cards[BADGE_CARD].person.identifiers[0].value,))

    async def script(app, pilot):
        seen: dict = {"layout": {}}
        mode = app.staff_mode
        window = pilot.window

        def screen():
            return app.frame.manager.current_screen

        async def check_layout(name: str) -> None:
            await pilot.frames(3)
            seen["layout"][name] = layout_check.problems(app.frame, tuple(window.size))
            await pilot.shot(name)

        async def corner(times: int = 5, at=(20, None)) -> None:
            x, y = at[0], at[1] if at[1] is not None else window.height - 20
            for _ in range(times):
                await pilot.touch(x, y)

        async def sign_in(name: str, pin: str) -> None:
            await pilot.type_into(screen().ids.name, name)
            await pilot.type_into(screen().ids.pin, pin)
            await pilot.tap("staff_sign_in")
            await pilot.frames(3)

        # A patient checks in while the ticket printer is out of paper: a printer fault for staff.
        printers["ticket"].fault = "paper_out"
        await pilot.wait_state(State.WELCOME)
        seen["can_speak"] = app.can_speak
        await check_layout("welcome")         # the top bar with its empty corner, four languages
        await walk.check_in(app, pilot, cards[0], sign=True, printed=lambda status: status == "failed")
        faulty = app.flow.session.admission
        printers["ticket"].fault = None
        await pilot.tap("finish")
        await pilot.wait_state(State.WELCOME)

        # A second patient calls staff from the confirm screen.
        await pilot.tap("start")
        await pilot.wait_state(State.IDENTIFY)
        app.reader.insert(cards[0])
        await pilot.wait_state(State.CONFIRM)
        await pilot.tap("call_staff")
        await pilot.wait_state(State.HELP)
        help_incident = next(i for i in store.incidents() if i["kind"] == "help_requested")

        # Five taps elsewhere (just below the corner, and in the middle of the screen) open nothing.
        await corner(5, at=(20, window.height - 200))
        await corner(5, at=(window.width / 2, window.height / 2))
        seen["elsewhere"] = {"active": mode.active, "state": app.flow.state.value}
        assert not mode.active and app.flow.state is State.HELP, seen["elsewhere"]

        # The corner gesture: the sign-in screen; the patient waits.
        await corner(5)
        await pilot.wait_for(lambda: mode.screen is Screen.SIGN_IN, "the staff sign-in")
        assert screen().name == "staff_sign_in" and app.flow.state is State.HELP
        assert app.frame.ids.get("languages") is not None
        await check_layout("sign-in")
        wrong = []
        for _ in range(5):
            await sign_in("Petra Schmidt", "0000")
            wrong.append(screen().notice)
            assert screen().ids.pin.text == "", "the PIN field is emptied after every try"
        seen["wrong_pin_notices"] = wrong
        assert wrong[:4] == [WRONG_PIN] * 4 and wrong[4] == LOCKED, wrong
        assert not mode.signed_in
        seen["wrong_pin_texts"] = pilot.texts()
        await check_layout("sign-in-locked")

        # A second member signs in and sees the patient's call.
        await sign_in("Jonas Weber", "1357")
        await pilot.wait_for(lambda: mode.screen is Screen.INCIDENTS, "the incident list")
        await pilot.wait_for(lambda: not mode.status_pending, "the device status")
        await pilot.frames(3)
        seen["list_texts"] = pilot.texts()
        seen["call_staff_shown"] = any(w.opacity > 0 and not w.disabled for w in app.frame.walk()
                                       if getattr(w, "action", "") == "call_staff")
        await check_layout("incidents")
        await pilot.tap("language:de")
        await check_layout("incidents-de")
        seen["list_texts_de"] = pilot.texts()
        await pilot.tap("language:en")

        await pilot.tap(f"incident:{help_incident['id']}")
        await pilot.wait_for(lambda: mode.screen is Screen.INCIDENT, "the incident")
        await check_layout("incident-help")
        await pilot.tap("staff_take")
        await pilot.frames(3)
        await pilot.type_into(screen().ids.note, "spoke to the patient")
        await pilot.tap("staff_resolve:done")
        await pilot.wait_for(lambda: mode.screen is Screen.INCIDENTS, "the list again")
        seen["resolved"] = next(i for i in app.staff.incidents(include_resolved=True) if i["id"] == help_incident["id"])

        # Leaving: the patient who called staff goes on where they were.
        await pilot.tap("staff_leave")
        await pilot.wait_for(lambda: not mode.active, "staff mode to end")
        seen["after_leaving"] = {"state": app.flow.state.value, "screen": screen().name,
                                 "person_kept": app.flow.session.person is not None}
        await pilot.tap("back")
        await pilot.wait_state(State.CONFIRM)

        # Signed in again: reprint the ticket that failed.
        await corner(5)
        await pilot.wait_for(lambda: mode.screen is Screen.SIGN_IN, "the staff sign-in")
        await sign_in("Jonas Weber", "1357")
        await pilot.wait_for(lambda: mode.screen is Screen.INCIDENTS, "the incident list")
        fault = next(i for i in store.incidents() if i["kind"] == "printer_fault")
        await pilot.tap(f"incident:{fault['id']}")
        await pilot.wait_for(lambda: mode.screen is Screen.INCIDENT, "the printer fault")
        await check_layout("incident-printer-fault")
        seen["fault_texts"] = pilot.texts()
        await pilot.tap("staff_reprint:ticket")
        await pilot.wait_for(lambda: mode.screen is Screen.INCIDENTS, "the reprint")
        seen["reprint_notice"] = screen().notice
        seen["reprinted"] = [p for p in store.prints(faulty.id)]

        # Out of service: the welcome screen says so, and a patient's card starts nothing.
        await pilot.tap("staff_out_of_service")
        await pilot.frames(3)
        await check_layout("incidents-out-of-service")
        await pilot.tap("staff_leave")
        await pilot.wait_for(lambda: not mode.active, "staff mode to end")
        await pilot.wait_state(State.WELCOME)
        await check_layout("out-of-service")
        seen["out_of_service_texts"] = pilot.texts()
        seen["out_of_service_screen"] = screen().name
        admissions = len(store.admissions())
        app.reader.insert(cards[0]).join()
        await pilot.frames(10)
        seen["card_while_out_of_service"] = {"state": app.flow.state.value, "screen": screen().name,
                                             "admissions": len(store.admissions()) - admissions}
        app.reader.remove()
        await pilot.frames(3)

        # A badge opens staff mode (and only staff mode): nothing of the card is kept.
        incidents = len(store.incidents(status=None))
        app.reader.insert(cards[BADGE_CARD]).join()
        await pilot.wait_for(lambda: mode.screen is Screen.INCIDENTS, "staff mode by badge")
        seen["badge"] = {"member": mode.member, "admissions": len(store.admissions()) - admissions,
                         "incidents": len(store.incidents(status=None)) - incidents,
                         "state": app.flow.state.value, "person": app.flow.session.person is not None,
                         "idle_timeout_s": mode.idle_timeout_s}
        app.reader.remove()

        # Out of service off, then left alone: staff mode signs out by itself.
        mode.idle_timeout_s = 1.0          # from here on; the next touch arms it
        await pilot.tap("staff_out_of_service")
        await pilot.wait_for(lambda: not mode.active, "staff mode to sign out when idle")
        await pilot.wait_state(State.WELCOME)
        seen["after_idle"] = {"screen": screen().name, "out_of_service": mode.out_of_service,
                              "start": any(getattr(w, "action", "") == "start" for w in screen().walk())}
        seen["audit"] = [{k: row[k] for k in ("actor", "action", "subject")} for row in store.audit_trail()]
        return [seen]

    run_script(app, out, script)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
