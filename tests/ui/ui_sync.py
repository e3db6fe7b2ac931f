"""The real kiosk app delivering to a real FHIR server (SEKMET, in this process) while patients check in.

A card patient with a booked appointment today sees it on the confirm screen; once the admission is
stored, the app's sync thread delivers it and marks the appointment arrived. A second patient checks in
while the hospital system holds its answers: the kiosk goes on, and the admission arrives later.
Run by tests/ui/test_ui.py: ``python tests/ui/ui_sync.py OUT_DIR``; writes ``OUT_DIR/screens.json``.
"""

import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path

from fhirserver import FhirServer

from kiosk import app as kiosk_app
from kiosk.hardware.reader import sample_cards
from kiosk.store.opening import open_store
from kiosk.config import HospitalSettings, KioskSettings, ReaderSettings, Settings
from kiosk.screens.demo import walk_patients


async def until(condition, seconds=30.0):
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return False


def main(out: Path) -> None:
    data = out / "data"
    cards = sample_cards()
    with FhirServer() as server:
        patient = server.create(cards[0].person.to_fhir())
        today = datetime.now(timezone.utc).date().isoformat()
        booked = server.create({"resourceType": "Appointment", "status": "booked", "description": "Kardiologie",
                                "start": f"{today}T23:00:00Z", "end": f"{today}T23:30:00Z",
                                "participant": [{"actor": {"reference": f"Patient/{patient['id']}"},
                                                 "status": "accepted"}]})
        settings = Settings(kiosk=KioskSettings(data_dir=str(data), languages=("en",)),
                            reader=ReaderSettings(kind="simulated"),
                            hospital=HospitalSettings(transport="fhir", url=server.base, timeout_s=2.0, retry_max_s=1.0))
        kiosk_app.prepare_kivy(data / "kivy", headless=True)
        from kiosk.screens.demo import run_script
        reader, printers = kiosk_app.open_devices(settings, cards=cards)
        app = kiosk_app.build_app(settings, store=open_store(settings), reader=reader, printers=printers)

        async def script(app, pilot) -> list[dict]:
            pilot.out = out / "with-appointment"
            pilot.out.mkdir()
            [first] = await walk_patients(app, pilot, [cards[0]])
            confirm = next(s for s in pilot.shots if s["screen"] == "confirm")
            delivered = await until(lambda: server.count("Encounter") == 1)
            appointment = server.search("Appointment", _id=booked["id"])[0]["status"]
            server.hold_responses()                          # the hospital system stops answering
            pilot.out = out / "hospital-not-answering"
            pilot.out.mkdir()
            [second] = await walk_patients(app, pilot, [cards[1]])
            stuck = [r["status"] for r in app.store.outbox()]
            server.release()
            later = await until(lambda: server.count("Encounter") == 2)
            return [{"confirm_texts": confirm["texts"], "first": first["queue_number"], "second": second["queue_number"],
                     "delivered": delivered, "appointment": appointment, "outbox_while_held": stuck,
                     "delivered_later": later, "patients": server.count("Patient"),
                     "outbox": [r["status"] for r in app.store.outbox()]}]

        run_script(app, out, script)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
