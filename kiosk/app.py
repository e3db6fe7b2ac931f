"""The composition root: builds the flow, its effects, staff and the screens from config, store and devices,
and hands each down to what uses it.

Kivy is imported only inside ``build_app``, after ``prepare_kivy`` has set its environment, so that
``import kiosk.app`` stays cheap and Kivy never writes into a read-only install or a home folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

from kiosk.checkin import forms
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.model import CardData
from kiosk.config import Settings
from kiosk.desk import staff_runner
from kiosk.desk.staff import staff_builder
from kiosk.effects import Effects
from kiosk.hardware import printing
from kiosk.hardware.printer import Printer
from kiosk.hardware.reader import CardReader, SimulatedReader, open_reader, sample_cards
from kiosk.hardware.scanner import BarcodeScanner
from kiosk.hardware.scanning import open_scanner
from kiosk.hardware.speech import Speaker
from kiosk.i18n import Catalogs
from kiosk.screens import kivy_env
from kiosk.store import STORE_ERRORS, Store

log = logging.getLogger(__name__)


def prepare_kivy(kivy_home: Path, *, headless: bool, demo: bool = False) -> None:
    """Set Kivy's environment; must run before the first ``import kivy``. ``demo``: room for its banner."""
    kivy_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("KIVY_NO_ARGS", "1")          # nobody passes -m inspector to the kiosk
    os.environ["KIVY_HOME"] = str(kivy_home)             # nothing of Kivy's in $HOME or the install
    os.environ["KIVY_NO_CONFIG"] = "1"                   # Kivy's settings come from here, not a config.ini
    os.environ["KIVY_NO_FILELOG"] = "1"
    os.environ["KIVY_LOG_MODE"] = "PYTHON"               # tracebacks reach our log handler (not swallowed)
    os.environ["KIVY_CLIPBOARD"] = "dummy"               # patient text never reaches the system clipboard
    os.environ["KCFG_KIVY_EXIT_ON_ESCAPE"] = "0"
    os.environ["KCFG_KIVY_KEYBOARD_MODE"] = "systemanddock"    # on-screen keyboard, and scanners as keyboards
    os.environ.setdefault("KCFG_KIVY_LOG_LEVEL", "warning")
    os.environ["KCFG_GRAPHICS_MAXFPS"] = "30"
    width, height = kivy_env.WINDOW_SIZE
    os.environ["KCFG_GRAPHICS_WIDTH"], os.environ["KCFG_GRAPHICS_HEIGHT"] = str(width), str(
        height + (kivy_env.DEMO_BANNER_PX if demo else 0))
    os.environ["KCFG_GRAPHICS_RESIZABLE"] = "0"
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"      # renders with Mesa, no X server needed


def build_app(settings: Settings, *, store: Store, reader: CardReader, printers: dict[str, Printer],
              sample_card_button: bool = False, speaker: Speaker | None = None, demo: str = "",
              scanner: BarcodeScanner | None = None):
    """The kiosk as a Kivy App, wired to these parts (Kivy must be prepared: ``prepare_kivy``).

    :param printers: what is printed at check-in, by kind (ticket, wristband), and where
    :param speaker: reads screens aloud (default: the one ``[speech]`` names; none when it is off)
    :param demo: `kiosk demo`: the sentence (msgid) every screen shows above it; its admissions are test data
    :param scanner: the barcode scanner for arrival codes (default: the one ``[scanner]`` names, if any)
    :raises kiosk.checkin.forms.FormError: the intake form cannot be used
    """
    kivy_env.configure(settings.display)
    from kiosk.screens.kiosk_app import KioskApp          # Kivy's modules read the Config as they load

    k = settings.kiosk
    catalogs = Catalogs(k.languages)
    flow = CheckIn(kiosk_id=k.id, languages=k.languages, form=forms.load(settings.forms.intake),
                   idle_timeout_s=k.idle_timeout_s, idle_warning_s=k.idle_warning_s,
                   done_timeout_s=k.done_timeout_s, help_timeout_s=k.help_timeout_s,
                   prints=tuple(kind for kind in printing.KINDS if kind in printers),
                   look_up_appointments=settings.hospital.transport == "fhir", find_arrivals=bool(settings.site.url),
                   consent_signature=settings.consent.signature,
                   consent_texts=settings.consent.texts(), test_data=bool(demo), queues=settings.queues.queues())
    effects = Effects(settings, store=store, printers=printers, flow=flow, catalogs=catalogs)
    staff_for = staff_builder(settings, printers=printers, reader_state=lambda: reader.state.value,
                              wake=effects.wake_sync, catalogs=catalogs)
    if speaker is None and settings.speech.enabled:
        speaker = Speaker(settings.speech.command, rate_wpm=settings.speech.rate_wpm)
    if settings.speech.enabled and not (speaker is not None and speaker.available):
        log.warning("read aloud is off: %s is not installed", settings.speech.command.split()[0])
    return KioskApp(settings, flow=flow, effects=effects, catalogs=catalogs, reader=reader, staff=staff_for(store),
                    scanner=scanner if scanner is not None else open_scanner(settings),
                    run_staff_job=staff_runner.on_own_connection(store, staff_for), store_errors=STORE_ERRORS,
                    speaker=speaker, sample_card_button=sample_card_button, demo=demo,
                    insert_sample_card=reader.insert if isinstance(reader, SimulatedReader) else None)


def open_devices(settings: Settings, *, cards: Sequence[CardData] = ()) -> tuple[CardReader, dict[str, Printer]]:
    """The reader and printers the config names; raises DeviceUnavailable with a sentence for IT."""
    if settings.reader.kind == "simulated" and not cards:
        cards = sample_cards()             # only a simulated reader needs the sample patients
    reader = open_reader(settings.reader.kind, cards, settings.reader.names)
    return reader, printing.open_printers(settings)
