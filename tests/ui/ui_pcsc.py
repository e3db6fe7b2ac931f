"""The real kiosk app with a real PC/SC reader (pcscd + vpcd): cards go in and out, screens follow.

Run by tests/ui/test_ui.py in a process of its own: ``python tests/ui/ui_pcsc.py OUT_DIR READER_NAME``.
"""

import sys
from pathlib import Path

from cardfiles import egk_card
from vcard import Vpcd

from kiosk import app as kiosk_app
from kiosk.store.opening import open_store
from kiosk.config import KioskSettings, Settings
from kiosk.checkin.session import State
from kiosk.hardware.preview import PreviewPrinter
from kiosk.hardware.reader import PcscReader


async def insert_and_remove(app, pilot) -> dict:
    seen = {}
    await pilot.wait_state(State.WELCOME)
    with Vpcd(egk_card()):                       # the patient inserts the card on the welcome screen
        await pilot.wait_state(State.CONFIRM)
        await pilot.shot("pcsc-confirm")
        seen["confirm"] = pilot.texts()
    await pilot.tap("back")
    await pilot.wait_state(State.IDENTIFY)
    pulled = egk_card()
    pulled.remove_after = 3
    with Vpcd(pulled):                           # pulled out after three APDUs
        await pilot.wait_for(lambda: app.flow.session.notice, "the card-removed notice")
    await pilot.shot("pcsc-card-removed")
    seen["removed"] = pilot.texts()
    seen["incidents"] = [i["kind"] for i in app.store.incidents()]
    return seen


def main(out: Path, reader: str) -> None:
    data = out / "data"
    settings = Settings(kiosk=KioskSettings(data_dir=str(data), languages=("en", "de")))
    kiosk_app.prepare_kivy(data / "kivy", headless=True)
    from kiosk.screens.demo import run_script
    app = kiosk_app.build_app(settings, store=open_store(settings), reader=PcscReader([reader]),
                              printers={"ticket": PreviewPrinter(data / "tickets")})
    run_script(app, out, insert_and_remove)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
