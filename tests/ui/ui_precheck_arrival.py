"""The end of the pre-check-in walk (tests/site/test_end_to_end.py): a patient arrives at the real app and scans
the QR code their phone showed. ``python tests/ui/ui_precheck_arrival.py SITE_URL SECRET_FILE QR_TEXT TRANSPORT
HOSPITAL_URL OUT_DIR``.

The kiosk has the simulated scanner, a real ESC/POS ticket printer on 127.0.0.1 (tests/support/fakeprinter.py)
and the hospital system at HOSPITAL_URL (TRANSPORT fhir or hl7v2). The scan, "Is this you?", one touch, the
ticket printed; then the script waits until the outbox has delivered the admission to the hospital system
and the arrival to the site service. Writes ``OUT_DIR/screens.json`` with what it saw, the printer's bytes
(hex) and the outbox rows.
"""

import sys
from pathlib import Path

from fakeprinter import NetPrinter
from uirun import app_for, settings_for

from kiosk.checkin.session import State
from kiosk.config import DeskSettings, HospitalSettings, PrinterSettings, SiteSettings, TicketPrinterSettings
from kiosk.config.sections import FormsSettings, ScannerSettings
from kiosk.screens.demo import run_script
from kiosk.store import OutboxStatus


def main(site_url: str, secret_file: str, qr: str, transport: str, hospital_url: str, out: Path) -> None:
    with NetPrinter() as printer:
        app = app_for(settings_for(
            out, site=SiteSettings(url=site_url), desk=DeskSettings(peer_secret_file=secret_file),
            scanner=ScannerSettings(kind="simulated"), forms=FormsSettings(intake="intake-basic"),
            hospital=HospitalSettings(transport=transport, url=hospital_url, retry_max_s=2.0),
            printer=PrinterSettings(ticket=TicketPrinterSettings(uri=printer.uri, timeout_s=2.0))))

        async def script(app, pilot):
            app.scanner.scan(qr).join()
            await pilot.wait_for(lambda: app.flow.state is State.ARRIVAL and app.flow.session.arrival is not None,
                                 "Is this you?")
            await pilot.frames(2)
            seen = {"state": app.flow.state.value, "texts": pilot.texts()}
            await pilot.shot("is-this-you")
            taps = 1
            await pilot.tap("this_is_me")
            await pilot.wait_for(lambda: app.flow.state is State.DONE
                                 and app.flow.session.print_status not in ("", "printing"), "the ticket printed")
            admission = app.flow.session.admission
            seen.update(taps=taps, print_status=app.flow.session.print_status, queue_number=admission.queue_number,
                        admission=app.store.get_admission(admission.id).to_json())
            await pilot.shot("ticket")

            def rows():
                return [r for r in app.store.outbox() if r["admission_id"] == admission.id]
            await pilot.wait_for(lambda: len(rows()) == 2 and all(r["status"] != OutboxStatus.PENDING for r in rows()),
                                 "the admission at the hospital and the arrival at the site service")
            seen["outbox"] = {r["destination"]: r["status"] for r in rows()}
            printer.wait_idle()
            seen["printed"] = [c.hex() for c in printer.connections]
            return [seen]

        run_script(app, out, script)


if __name__ == "__main__":
    main(*sys.argv[1:6], Path(sys.argv[6]))
