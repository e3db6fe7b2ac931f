"""The consent screen of the real app, driven by touches: ``python tests/ui/ui_consent.py OUT_DIR``.

The site has its own German consent text (config ``[consent] text_de``) and asks for a signature.
Patient 1 (German, larger text and high contrast) inserts a sample card, confirms, answers, sees the site's
text, cannot agree before signing, draws a stroke and clears it, signs with two strokes and agrees.
Patient 2 (English) sees the kiosk's standard wording and declines without signing.
Writes ``OUT_DIR/screens.json``: what each consent screen showed and the admissions as stored.
"""

import sys
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.hardware.reader import sample_cards
from kiosk.config import ConsentSettings
from kiosk.screens import walk
from kiosk.screens.demo import DemoError, run_script
from kiosk.checkin.session import State

SITE_TEXT_DE = ("Mit meiner Unterschrift willige ich ein, dass das Klinikum Musterstadt meine Daten "
                "für Behandlung und Abrechnung verarbeitet (Patienteninformation Stand 2026-10).")
# What the finger draws, as fractions of the pad (x from the left, y from the bottom).
STROKES = [[(0.10, 0.40), (0.20, 0.75), (0.30, 0.40), (0.40, 0.75), (0.50, 0.40)],
           [(0.60, 0.55), (0.90, 0.55)]]


def main(out: Path) -> None:
    app = app_for(settings_for(out, consent=ConsentSettings(text_de=SITE_TEXT_DE, signature=True)))

    def agree_enabled(pilot) -> bool:
        try:
            pilot.button("consent_accepted")
        except DemoError:
            return False
        return True

    async def to_consent(pilot, language: str, *, looks: tuple[str, ...] = ()) -> None:
        await walk.to_confirm(app, pilot, sample_cards()[0], language=language, looks=looks)
        await walk.to_consent(app, pilot)

    def on_screen(widget) -> bool:
        """Wholly inside the screen area below the top bar, and not squeezed to nothing."""
        manager = app.frame.manager
        x, y = widget.to_window(widget.x, widget.y)
        left, bottom = manager.to_window(manager.x, manager.y)
        return (widget.width > 0 and widget.height > 0 and x >= left and y >= bottom
                and x + widget.width <= left + manager.width and y + widget.height <= bottom + manager.height)

    def by_action(action: str):
        return next(w for w in app.frame.walk(restrict=True) if getattr(w, "action", None) == action)

    async def script(app, pilot):
        results = {}

        # --- patient 1: signs and agrees ---
        await to_consent(pilot, "de", looks=("large_text", "high_contrast"))
        screen = app.frame.manager.current_screen
        pad = screen.ids.pad
        first = {"texts": pilot.texts(), "agree_before_signing": agree_enabled(pilot),
                 "scale": app.look.scale, "pad_size": list(pad.size),
                 "on_screen": {name: on_screen(pad if name == "pad" else by_action(name))
                               for name in ("pad", "clear_signature", "back", "consent_declined", "consent_accepted")}}
        await pilot.draw(pad, [(0.2, 0.2), (0.8, 0.8)])
        first["strokes_after_a_line"] = len(pad.strokes)
        first["agree_after_a_line"] = agree_enabled(pilot)
        await pilot.tap("clear_signature")
        first["strokes_after_clear"] = len(pad.strokes)
        first["agree_after_clear"] = agree_enabled(pilot)
        for stroke in STROKES:
            await pilot.draw(pad, stroke)
        first["strokes_signed"] = pad.signature()
        await pilot.shot("p1-consent-signed")
        await pilot.tap("consent_accepted")
        await pilot.wait_for(lambda: app.flow.state is State.DONE, "the done screen")
        first["pad_strokes_after_leaving"] = len(pad.strokes)
        first["shown_text"] = screen.ids.consent_text.text
        admission = app.store.get_admission(app.flow.session.admission.id)
        first["admission"] = admission.to_json()
        results["signed"] = first
        del screen, pad
        await pilot.tap("finish")

        # --- patient 2: declines ---
        await to_consent(pilot, "en")
        screen = app.frame.manager.current_screen
        second = {"texts": pilot.texts(), "pad_strokes": len(screen.ids.pad.strokes),
                  "shown_text": screen.ids.consent_text.text, "scale": app.look.scale}
        await pilot.shot("p2-consent")
        await pilot.tap("consent_declined")
        await pilot.wait_for(lambda: app.flow.state is State.DONE, "the done screen")
        second["admission"] = app.store.get_admission(app.flow.session.admission.id).to_json()
        results["declined"] = second
        del screen
        await pilot.tap("finish")
        await pilot.wait_state(State.WELCOME)
        return [results]

    run_script(app, out, script)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
