"""A pre-checked patient arrives at the real app, driven by a simulated scanner and touches:
``python tests/ui/ui_arrival.py SITE_URL SECRET_FILE QR_TEXT OUT_DIR``.

Patient 1 scans the QR code of their finished pre-check-in (the site service at SITE_URL, the site's shared
secret in SECRET_FILE): "Is this you?" (checked with kiosk.screens.layout_check in German, at larger text),
Yes, the ticket on the preview printer, and the arrival delivered to the site service through the outbox.
Then the same code again (used already), a QR code of another site, and the site service unreachable: each
a sentence on the identify screen. Writes ``OUT_DIR/screens.json`` with what each step saw.
"""

import socket
import sys
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.checkin.session import State
from kiosk.config import DeskSettings, SiteSettings
from kiosk.config.sections import ScannerSettings
from kiosk.screens import layout_check
from kiosk.screens.demo import run_script
from kiosk.store import OutboxStatus


def main(site_url: str, secret_file: str, qr: str, out: Path) -> None:
    app = app_for(settings_for(out, site=SiteSettings(url=site_url), desk=DeskSettings(peer_secret_file=secret_file),
                               scanner=ScannerSettings(kind="simulated")))

    async def script(app, pilot):
        results = {}

        async def scan(text: str) -> None:
            app.scanner.scan(text).join()
            await pilot.wait_for(lambda: app.flow.state is not State.WELCOME and not app.flow.session.arrival_asked,
                                 "the site service's answer")
            await pilot.frames(2)

        # --- patient 1: scans, recognises themself, takes the ticket ---
        await pilot.tap("large_text")
        await scan(qr)
        first = {"state": app.flow.state.value, "texts": pilot.texts(), "language": app.flow.session.language,
                 "layout": layout_check.problems(app.frame, tuple(pilot.window.size))}
        await pilot.shot("is-this-you")
        await pilot.tap("this_is_me")
        await pilot.wait_for(lambda: app.flow.state is State.DONE and app.flow.session.print_status not in ("", "printing"),
                             "the ticket printed")
        admission_id = app.flow.session.admission.id
        first["done_texts"] = pilot.texts()
        first["print_status"] = app.flow.session.print_status
        first["ticket"] = app.last_prints.get("ticket", "")
        first["admission"] = app.store.get_admission(admission_id).to_json()

        def site_row():
            return next(r for r in app.store.outbox() if r["admission_id"] == admission_id and r["destination"] == "site")
        await pilot.wait_for(lambda: site_row()["status"] != OutboxStatus.PENDING, "the arrival at the site service")
        first["site_row"] = site_row()["status"]
        await pilot.tap("finish")
        await pilot.wait_state(State.WELCOME)
        results["arrived"] = first

        # --- the same code again, another site's code, and the site service away ---
        for name, text in (("used", qr), ("other_site", "KIOSK1:other-site:ABCDEFGHJK"), ("unreachable", qr)):
            if name == "unreachable":
                with socket.socket() as s:            # a port nobody listens on
                    s.bind(("127.0.0.1", 0))
                    app.effects.site.base = f"http://127.0.0.1:{s.getsockname()[1]}/api/v1/arrivals"
            await scan(text)
            results[name] = {"state": app.flow.state.value, "notice": app.flow.session.notice, "texts": pilot.texts(),
                             "incidents": [i["kind"] for i in app.store.incidents()]}
            await pilot.shot(name)
            await pilot.tap("back")
            await pilot.wait_state(State.WELCOME)
        return [results]

    run_script(app, out, script)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
