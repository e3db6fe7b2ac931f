"""The real kiosk app with real ESC/POS printers on 127.0.0.1 (tests/support/fakeprinter.py), one fault at a time.

For each case a patient checks in by card and touch while the ticket or wristband printer has the
fault; then the fault is cleared and staff reprint (``kiosk.hardware.printing.reprint``, what staff mode calls).
Run by tests/ui/test_ui.py in a process of its own: ``python tests/ui/ui_printing.py OUT_DIR``; writes
``OUT_DIR/screens.json`` with, per case, what the done screen said and what the store and printers hold.
"""

import sys
from pathlib import Path

from fakeprinter import NetPrinter, STATUS_BYTES

from kiosk import app as kiosk_app
from kiosk.hardware.reader import sample_cards
from kiosk.store.opening import open_store
from kiosk.hardware import printing
from kiosk.config import (KioskSettings, PrinterSettings, ReaderSettings, Settings, TicketPrinterSettings,
                          WristbandPrinterSettings)
from kiosk.screens.demo import walk_patients
from kiosk.checkin.model import Admission, IncidentKind, Person

STATUS_LEN = 12          # DLE EOT 1..4 asked before a job
CASES = [               # (case, kind, fault): a printer state, or "switched_off" / "dropped"
    ("ticket-paper-out", "ticket", "paper_out"),
    ("ticket-cover-open", "ticket", "cover_open"),
    ("ticket-offline", "ticket", "offline"),
    ("ticket-switched-off", "ticket", "switched_off"),
    ("wristband-cutter", "wristband", "cutter_error"),
    ("wristband-dropped", "wristband", "dropped"),
    ("ticket-paper-low", "ticket", "paper_low"),
    ("ticket-paper-low-again", "ticket", "paper_low"),
]


def break_printer(fake: NetPrinter, fault: str) -> None:
    if fault == "switched_off":
        fake.power_off()
    elif fault == "dropped":
        fake.drop_after = STATUS_LEN + 64
    else:
        fake.state = fault


def mend_printer(fake: NetPrinter) -> None:
    fake.power_on()
    fake.drop_after = None
    fake.state = "ready"


def main(out: Path) -> None:
    data = out / "data"
    with NetPrinter() as tickets, NetPrinter() as bands:
        settings = Settings(
            kiosk=KioskSettings(data_dir=str(data), languages=("en", "de")), reader=ReaderSettings(kind="simulated"),
            printer=PrinterSettings(ticket=TicketPrinterSettings(uri=tickets.uri, timeout_s=1.0),
                                    wristband=WristbandPrinterSettings(uri=bands.uri, timeout_s=1.0)))
        fakes = {"ticket": tickets, "wristband": bands}
        kiosk_app.prepare_kivy(data / "kivy", headless=True)
        from kiosk.screens.demo import run_script
        reader, printers = kiosk_app.open_devices(settings, cards=sample_cards())
        store = open_store(settings)
        # The kiosk before this one stopped while a ticket was printing.
        earlier = store.save_admission(Admission(id="00000000-0000-4000-8000-00000000dead", kiosk_id="lobby-1",
                                                 created_at="2026-11-27T07:00:00+00:00", language="en",
                                                 identified_by="name", person=Person(family="Earlier")))
        store.print_started(earlier.id, "ticket", "kiosk")
        app = kiosk_app.build_app(settings, store=store, reader=reader, printers=printers)
        card = sample_cards()[0]

        async def script(app, pilot) -> list[dict]:
            results = [{"case": "interrupted", "prints": [(p["kind"], p["status"]) for p in app.store.prints(earlier.id)],
                        "incidents": [(i["kind"], i["admission_id"], i["detail"]) for i in app.store.incidents()]}]
            app.store.resolve_incidents(earlier.id, IncidentKind.PRINTER_FAULT, "staff")
            for case, kind, fault in CASES:
                fake = fakes[kind]
                start = len(fake.connections)

                def copies() -> int:      # whole jobs (they end with a cut) since this case began
                    return sum(b"\x1dV" in c for c in fake.connections[start:])
                break_printer(fake, fault)
                pilot.out = out / case
                pilot.out.mkdir()
                [walked] = await walk_patients(app, pilot, [card])
                done = next(s for s in reversed(pilot.shots) if s["screen"] == "done")
                admission = app.store.last_admission()
                copies_before = copies()
                incidents_before = [(i["kind"], i["admission_id"], i["detail"]) for i in app.store.incidents()]
                mend_printer(fake)
                layout = printing.layout_for(kind, admission, app.catalogs, settings)
                reprint = printing.reprint(app.store, app.printers[kind], layout, kind, actor="staff")
                fake.wait_idle()
                last = fake.connections[-1][STATUS_LEN:-STATUS_LEN]
                results.append({
                    "case": case, "kind": kind, "fault": fault, "done_texts": done["texts"],
                    "admission_id": admission.id, "queue_number": admission.queue_number,
                    "walked_queue_number": walked["queue_number"],
                    "copies_before_reprint": copies_before, "incidents_before_reprint": incidents_before,
                    "reprint": reprint.status,
                    "incidents_after_reprint": [(i["kind"], i["admission_id"], i["detail"])
                                                for i in app.store.incidents()],
                    "prints": [(p["kind"], p["actor"], p["status"], p["reason"])
                               for p in app.store.prints(admission.id)],
                    "copies_after_reprint": copies(),
                    "last_job": last.hex(),
                })
            return results

        run_script(app, out, script)


if __name__ == "__main__":
    assert STATUS_BYTES
    main(Path(sys.argv[1]))
