"""A kiosk of the lobby in the calling walk (tests/site/test_calling_end_to_end.py): the real app checks in two
patients with sample cards, by touch, and prints their tickets, each numbered by the site service.
``python tests/ui/ui_calling.py SITE_URL SECRET_FILE OUT_DIR``.

The kiosk ("lobby-1") has the simulated reader and a real ESC/POS ticket printer on 127.0.0.1
(tests/support/fakeprinter.py). The script waits until its outbox has put both tickets on the site's list.
Writes ``OUT_DIR/screens.json`` with each ticket's number, the printer's bytes (hex) and the outbox rows.
"""

import sys
from pathlib import Path

from fakeprinter import NetPrinter
from uirun import app_for, settings_for

from kiosk.config import DeskSettings, PrinterSettings, SiteSettings, TicketPrinterSettings
from kiosk.hardware.reader import sample_cards
from kiosk.screens import walk
from kiosk.screens.demo import run_script
from kiosk.store import OutboxStatus


def main(site_url: str, secret_file: str, out: Path) -> None:
    with NetPrinter() as printer:
        app = app_for(settings_for(
            out, kiosk={"id": "lobby-1"}, site=SiteSettings(url=site_url), desk=DeskSettings(peer_secret_file=secret_file),
            printer=PrinterSettings(ticket=TicketPrinterSettings(uri=printer.uri, timeout_s=2.0))))

        async def script(app, pilot):
            seen = []
            for card in sample_cards()[:2]:
                await walk.check_in(app, pilot, card, language="en")
                admission = app.store.get_admission(app.flow.session.admission.id)
                seen.append({"admission": admission.id, "queue_number": admission.queue_number,
                             "wait_min": admission.wait_min, "print_status": app.flow.session.print_status,
                             "family": card.person.family})
                await pilot.tap("finish")
            ids = {s["admission"] for s in seen}

            def rows():
                return [r for r in app.store.outbox() if r["admission_id"] in ids and r["destination"] == "site"]
            await pilot.wait_for(lambda: len(rows()) == 2 and all(r["status"] != OutboxStatus.PENDING for r in rows()),
                                 "both tickets on the site's list")
            printer.wait_idle()
            return [{"tickets": seen, "outbox": sorted(r["status"] for r in rows()),
                     "printed": [c.hex() for c in printer.connections]}]

        run_script(app, out, script)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
