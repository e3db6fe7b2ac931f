"""Staff mode on the real app says every incident in the staff member's language, urgent first:
``python tests/ui/ui_incident_texts.py OUT_DIR``.

Every incident the kiosk raises (tests/support/incident_forms.py) is in the store. Staff open staff mode with the
corner gesture, name and PIN; in each language (tapped in the top bar) the incident list, which says every
incident's sentences, is read as shown, and then a quarter of the incidents on their own screen (opened as a
tap on its row opens it; each incident in one of the languages). Then, with those resolved, an urgent
incident is raised before eight routine ones while the list is on screen: it is read again, top to bottom.
Writes OUT_DIR/screens.json: {"forms": [[kind, detail]], "ids": {id: [kind, detail]}, "languages": {language:
{"list": {id: text}, "incident": {id: [sentence, details, facts]}}}, "order": [ids top to bottom], ...}.
"""

import sys
from pathlib import Path

import incident_forms
from uirun import app_for, settings_for

from kiosk.screens.demo import run_script
from kiosk.checkin.session import State
from kiosk.checkin.model import Incident, IncidentKind, Severity
from kiosk.desk.staffmode import Screen

LANGUAGES = ("de", "en", "tr", "fr")
ROUTINE = ((IncidentKind.HELP_REQUESTED, Severity.MEDIUM, "confirm"), (IncidentKind.PAPER_LOW, Severity.LOW, "ticket"),
           (IncidentKind.DETAILS_CORRECTED, Severity.LOW, "phone"), (IncidentKind.CARD_UNREADABLE, Severity.MEDIUM, "invalid"),
           (IncidentKind.IDENTITY_UNVERIFIED, Severity.LOW, "name"), (IncidentKind.CARD_REMOVED, Severity.LOW, ""),
           (IncidentKind.COVERAGE_ENDED, Severity.MEDIUM, ""), (IncidentKind.PRINTER_NO_STATUS, Severity.LOW, "ticket"))


def main(out: Path) -> None:
    app = app_for(settings_for(out, LANGUAGES))
    store = app.store
    found = incident_forms.forms_by_kind(out / "forms")
    forms = [(kind, detail) for kind, details in found.items() for detail in details]
    ids = {store.raise_incident(Incident(IncidentKind(kind), Severity.MEDIUM, detail)): (kind, detail)
           for kind, detail in forms}
    app.staff.add_member("Petra Schmidt", "2468")

    async def script(app, pilot):
        seen: dict = {"forms": forms, "ids": {str(k): v for k, v in ids.items()}, "languages": {}}
        mode = app.staff_mode
        window = pilot.window

        def screen():
            return app.frame.manager.current_screen

        def rows() -> list:
            """The incident list's rows as shown, top to bottom: (id, text)."""
            buttons = [w for w in app.frame.walk(restrict=True) if str(getattr(w, "action", "")).startswith("incident:")]
            buttons.sort(key=lambda b: -b.to_window(b.x, b.top)[1])
            return [(int(b.action.split(":")[1]), b.text) for b in buttons]

        await pilot.wait_state(State.WELCOME)
        for _ in range(5):
            await pilot.touch(20, window.height - 20)
        await pilot.wait_for(lambda: mode.screen is Screen.SIGN_IN, "the staff sign-in")
        await pilot.type_into(screen().ids.name, "Petra Schmidt")
        await pilot.type_into(screen().ids.pin, "2468")
        await pilot.tap("staff_sign_in")
        await pilot.wait_for(lambda: mode.screen is Screen.INCIDENTS, "the incident list")

        for turn, language in enumerate(LANGUAGES):
            await pilot.tap(f"language:{language}")
            await pilot.wait_for(lambda: app.tr.language == language and len(rows()) == len(ids), "the list")
            listed = rows()
            texts = set(pilot.texts())
            assert all(text in texts for _, text in listed), "every row's text is shown"
            said = {}
            for incident, _ in listed[turn::len(LANGUAGES)]:
                app.staff_act(mode.open_incident, incident)
                await pilot.frames(1)
                page = screen()
                assert page.name == "staff_incident" and mode.selected == incident
                shown = set(pilot.texts())
                assert page.sentence in shown and (not page.details or page.details in shown)
                said[str(incident)] = [page.sentence, page.details, page.facts]
            app.staff_act(mode.back_to_list)
            await pilot.frames(2)
            seen["languages"][language] = {"list": {str(i): text for i, text in listed}, "incident": said}

        # Urgent first: with the list on screen, an urgent incident and then eight routine ones come in.
        for incident in ids:
            app.staff.resolve(incident, "Petra Schmidt", "not_needed")
        await pilot.tap("language:en")
        await pilot.wait_for(lambda: rows() == [], "an empty list")
        urgent = store.raise_incident(Incident(IncidentKind.HOSPITAL_UNREACHABLE, Severity.HIGH, "fhir"))
        routine = [(store.raise_incident(Incident(kind, severity, detail)), severity.value)
                   for kind, severity, detail in ROUTINE]
        await pilot.wait_for(lambda: len(rows()) == 9, "the nine incidents in the list")
        seen["urgent"], seen["routine"] = urgent, routine
        seen["order"] = [incident for incident, _ in rows()]
        seen["order_texts"] = [text for _, text in rows()]
        await pilot.shot("urgent-first")
        return [seen]

    run_script(app, out, script)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
