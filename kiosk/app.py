"""The composition root: builds config, store, devices, flow and screens, and runs them in Kivy.

Kivy is imported only inside this module's functions after ``prepare_kivy`` has set its environment,
so that ``import kiosk.app`` stays cheap and Kivy never writes into a read-only install or a home folder.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Sequence

from kiosk.checkin import forms
from kiosk.hardware import printing
from kiosk.ops import sdnotify
from kiosk.screens import wakeup
from kiosk.config import Settings
from kiosk.checkin.events import (AdmissionFailed, AdmissionStored, AppointmentFound, CardFailed, CardInserted, CardRead,
                                  CardRemoved, IdleTimeout, LookUpAppointment, Print, PrintFinished, RaiseIncident,
                                  ReaderFault, SaveAdmission, StillHere, Wipe)
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.session import State
from kiosk.hardware.printer import Printer
from kiosk.hardware.reader import CardReader, SimulatedReader
from kiosk.i18n import Catalogs
from kiosk.messages import N_
from kiosk.checkin.model import CardData, Incident, IncidentKind, Severity
from kiosk.paths import ASSETS
from kiosk.hardware.speech import Speaker
from kiosk.desk.staff import Staff, StaffError
from kiosk.desk.staffmode import StaffMode
from kiosk.store import DB_ERRORS, PrintInProgress, Store, read_key

log = logging.getLogger(__name__)

WINDOW_SIZE = (1280, 800)
# `kiosk demo` shows a banner above the top bar on every screen; its window is this much taller, so that the
# screens below have the room they have on a kiosk (and its screenshots show them as they are there).
DEMO_BANNER_PX = 40
QUIET_AFTER_S = 5.0        # untouched this long, the welcome screen slows to display.idle_fps

STAFF_ACTION_FAILED = N_("The kiosk could not do that just now. Please try again or call IT.")


def staff_failure(error: Exception) -> StaffError:
    """A staff action that failed on this side (the store, a file): logged by its class only, and told to
    staff as one sentence they can act on, not as the name of an exception."""
    log.error("staff action failed: %s", type(error).__name__)
    return StaffError(STAFF_ACTION_FAILED)


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
    width, height = WINDOW_SIZE
    os.environ["KCFG_GRAPHICS_WIDTH"], os.environ["KCFG_GRAPHICS_HEIGHT"] = str(width), str(
        height + (DEMO_BANNER_PX if demo else 0))
    os.environ["KCFG_GRAPHICS_RESIZABLE"] = "0"
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"      # renders with Mesa, no X server needed


def sample_cards(path: Path | None = None) -> list[CardData]:
    """Sample patients in the ``read-card --json`` shape (default: the built-in ones)."""
    path = path or ASSETS / "demo" / "patients.json"
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path} must hold a JSON list of at least one card")
    return [CardData.from_json(item) for item in data]


def build_app(settings: Settings, *, store: Store, reader: CardReader, printers: dict[str, Printer],
              sample_card_button: bool = False, speaker: Speaker | None = None, demo: str = ""):
    """The kiosk as a Kivy App, wired to these parts (Kivy must be prepared: ``prepare_kivy``).

    :param printers: what is printed at check-in, by kind (ticket, wristband), and where
    :param speaker: reads screens aloud (default: the one ``[speech]`` names; none when it is off)
    :param demo: `kiosk demo`: the sentence (msgid) every screen shows above it; its admissions are test data
    """
    import kivy
    # No X cut buffer: selected patient text must not reach the X selection (nor need xclip/xsel).
    kivy.kivy_options["cutbuffer"] = ()
    # Kivy then logs "Cutbuffer: Unable to find any valuable Cutbuffer provider" as CRITICAL at every
    # start: intended here, and a critical line in the journal would wake whoever watches for them.
    logging.getLogger("kivy").addFilter(
        lambda record: not record.getMessage().startswith("Cutbuffer: Unable to find any valuable"))
    from kivy.config import Config

    # Touch arrives as pointer events (X, Xwayland): one input provider only, else every tap counts
    # twice; no red multitouch dots. Set before the window exists.
    for provider in Config.options("input"):
        Config.remove_option("input", provider)
    Config.set("input", "mouse", "mouse,disable_multitouch")
    # The screen as mounted ([display]): Kivy turns the picture and the touches with it. The touch
    # panel's calibration applies before that turn, to the pointer as the panel reports it; the settings
    # count from the top left (like libinput's calibration matrix), Kivy's calibration from the bottom left.
    display = settings.display
    Config.set("graphics", "rotation", str(display.rotation))
    if not Config.has_section("postproc:calibration"):
        Config.add_section("postproc:calibration")
    Config.set("postproc:calibration", "mouse",
               f"xratio={display.touch_x_scale},xoffset={display.touch_x_offset},yratio={display.touch_y_scale},"
               f"yoffset={1 - display.touch_y_scale - display.touch_y_offset}")

    from kivy.app import App
    from kivy.cache import Cache
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.lang import global_idmap
    from kivy.uix.screenmanager import NoTransition

    from kiosk import screens
    from kiosk.screens import staff_screens
    from kiosk.screens.common import KioskFrame, Localizer, Look
    from kiosk.screens.keyboard import KioskKeyboard

    class KioskApp(App):
        title = "Admission kiosk"

        def __init__(self) -> None:
            super().__init__()
            self.settings = settings
            self.store = store
            self.reader = reader
            self.printers = printers
            self.catalogs = Catalogs(settings.kiosk.languages)
            k = settings.kiosk
            self.flow = CheckIn(kiosk_id=k.id, languages=k.languages, form=forms.load(settings.forms.intake),
                                idle_timeout_s=k.idle_timeout_s, idle_warning_s=k.idle_warning_s,
                                done_timeout_s=k.done_timeout_s, help_timeout_s=k.help_timeout_s,
                                prints=tuple(kind for kind in printing.KINDS if kind in printers),
                                look_up_appointments=settings.hospital.transport == "fhir",
                                consent_signature=settings.consent.signature,
                                consent_texts=settings.consent.texts(), test_data=bool(demo))
            self.tr = Localizer(self.catalogs, self.flow.session.language)
            self.look = Look()
            self.frame = None
            self._shown_state: State | None = None
            self._status = ""                     # what systemd shows (STATUS=): never personal data
            self._idle_timer = None
            self.print_threads: list[threading.Thread] = []
            self.sync = self.lookup = None        # once the first screen is up: _connect_hospital
            self.last_prints: dict[str, str] = {}     # kind -> the PNG a preview printer wrote last
            if speaker is None and settings.speech.enabled:
                self.speaker = Speaker(settings.speech.command, rate_wpm=settings.speech.rate_wpm)
            else:
                self.speaker = speaker
            self.can_speak = self.speaker is not None and self.speaker.available
            self.staff = self._staff(store)
            self.staff_mode = StaffMode(self.staff, kiosk_id=k.id, printers=tuple(printers),
                                        idle_timeout_s=settings.staff.idle_timeout_s, runner=self._staff_runner)
            self._idle_timer_is_staff = False
            self._full_fps = Config.getint("graphics", "maxfps")
            self._slow_down = Clock.create_trigger(self._quiet, QUIET_AFTER_S)
            self._wake = None
            if settings.speech.enabled and not self.can_speak:
                log.warning("read aloud is off: %s is not installed", settings.speech.command.split()[0])

        # --- Kivy life cycle ---

        def build(self):
            global_idmap["tr"] = self.tr
            global_idmap["look"] = self.look
            screens.load_rules("common")          # the rest as their screens are first made
            Window.clearcolor = (1, 1, 1, 1)
            # The docked on-screen keyboard: our layouts; the frame moves the screen up for it (not Kivy's
            # softinput_mode, whose "below_target" shifts touches without shifting the picture).
            Window.set_vkeyboard_class(KioskKeyboard)
            Window.bind(on_touch_down=self._on_touch)
            self._wake = wakeup.install(Clock, quiet=lambda: 0 < Clock._max_fps < self._full_fps,
                                        woken=lambda: self._pace(touched=True))
            Window.bind(on_flip=self._first_frame)
            self.frame = KioskFrame(send=self.send, speak=self.speak, can_speak=self.can_speak,
                                    corner_tap=self._corner_tap, demo=demo)
            self.frame.languages = list(settings.kiosk.languages)
            for job in self.store.interrupt_prints():     # a stopped kiosk's half-done jobs: staff judge
                self.store.raise_incident(Incident(IncidentKind.PRINTER_FAULT, Severity.HIGH,
                                                   f"{job['kind']}:interrupted", admission_id=job["admission_id"]))
            self._wire_reader()
            self.reader.start()
            Clock.schedule_interval(self._staff_poll, 2.0)
            self._render()
            return self.frame

        def open_settings(self, *_args) -> bool:
            return False        # F1 must not open Kivy's settings panel on a kiosk

        def _first_frame(self, *_args) -> None:
            """The first screen is shown: systemd hears that the kiosk is up, and its watchdog hears from the
            Kivy thread from now on, so that a screen that hangs stops the pings (and gets restarted)."""
            Window.unbind(on_flip=self._first_frame)
            sdnotify.notify("READY=1", f"STATUS={self._status}")
            # The collector was paused while the modules loaded (kiosk.__main__): start-up's garbage goes
            # now, and what is left lasts as long as the kiosk, so it is frozen (never scanned again).
            gc.collect()
            gc.freeze()
            gc.enable()
            interval = sdnotify.watchdog_interval()
            if interval:
                Clock.schedule_interval(self._watchdog_ping, interval)
            Clock.schedule_once(self._connect_hospital)

        def _connect_hospital(self, _dt=None) -> None:
            """Delivery to the hospital system (its thread) and appointment lookups: set up once the welcome
            screen is shown, since loading the HTTP and HL7 libraries would otherwise delay it (issue 9)."""
            if settings.hospital.transport == "none" or self.sync is not None:
                return
            from kiosk.hospital import sync
            self.sync = sync.SyncThread(settings, self.flow.form)
            self.sync.start()
            if settings.hospital.transport == "fhir":
                try:
                    self.lookup = sync.FhirTransport(settings.hospital, self.flow.form)   # its own session
                except Exception as e:             # e.g. an unreadable token file: walk-ins only
                    log.error("appointment lookups are off: %s", type(e).__name__)
                    self.flow.look_up_appointments = False

        def _watchdog_ping(self, _dt) -> None:
            sdnotify.notify("WATCHDOG=1")

        def on_stop(self) -> None:
            sdnotify.notify("STOPPING=1")
            self.stop_speaking()
            self.reader.stop()
            if self.sync:
                self.sync.stop()
            for thread in self.print_threads:
                thread.join(timeout=5)

        # --- events in, effects out ---

        def post(self, event: object) -> None:
            """Thread-safe: deliver an event from a device thread on the Kivy thread (the bridge)."""
            Clock.schedule_once(lambda _dt: self.send(event))
            if self._wake is not None:
                self._wake()                          # a slow, quiet loop takes it now, not next frame

        def send(self, event: object) -> None:
            """Handle an event on the Kivy thread, perform its effects, then redraw."""
            if self._staff_gate(event):
                self._render()
                return
            queue = deque([event])
            while queue:
                for effect in self.flow.handle(queue.popleft()):
                    follow_up = self._perform(effect)
                    if follow_up is not None:
                        queue.append(follow_up)
            self._render()

        def _perform(self, effect: object) -> object | None:
            if isinstance(effect, SaveAdmission):
                destinations = () if settings.hospital.transport == "none" else (settings.hospital.transport,)
                try:
                    stored = self.store.save_admission(effect.admission, queue_prefix=settings.kiosk.queue_prefix,
                                                       destinations=destinations, prints=self.flow.prints)
                except (*DB_ERRORS, OSError) as e:
                    log.error("admission not stored: %s", type(e).__name__)
                    return AdmissionFailed(type(e).__name__)
                log.info("admission stored queue=%s", stored.queue_number)
                if self.sync:
                    self.sync.wake()
                return AdmissionStored(stored.queue_number)
            if isinstance(effect, Print):
                return self._print(effect.admission, effect.kind)
            if isinstance(effect, LookUpAppointment):
                self._look_up(effect.identifier)
                return None
            if isinstance(effect, RaiseIncident):
                incident = effect.incident
                log.warning("incident %s severity=%s", incident.kind.value, incident.severity.value)
                try:
                    self.store.raise_incident(incident)
                except (*DB_ERRORS, OSError) as e:
                    log.error("incident %s not stored: %s", incident.kind.value, type(e).__name__)
            elif isinstance(effect, Wipe):
                self.stop_speaking()              # nothing of this patient is said to the next one
                self.look.reset()                 # the next patient starts with the standard look
                for category in ("textinput.label", "textinput.width"):
                    Cache.remove(category)        # keyed by typed patient text, kept 60 s otherwise
            return None

        def _print(self, admission, kind: str) -> PrintFinished | None:
            """Print on a thread; record the job in the store and tell the flow how it ended."""
            layout = printing.layout_for(kind, admission, self.catalogs, settings)
            try:
                job_id = self.store.print_started(admission.id, kind, "kiosk")
            except PrintInProgress:          # staff are printing it this very moment
                return PrintFinished(admission.id, kind, "failed", "busy")
            except (*DB_ERRORS, OSError) as e:
                log.error("print job not recorded: %s", type(e).__name__)
                job_id = None

            def job() -> None:
                outcome = printing.attempt(self.printers[kind], layout)
                Clock.schedule_once(lambda _dt: self._printed(job_id, admission.id, kind, outcome))

            self.print_threads = [t for t in self.print_threads if t.is_alive()]
            thread = threading.Thread(target=job, name=f"print-{kind}", daemon=True)
            self.print_threads.append(thread)
            thread.start()
            return None

        def _look_up(self, identifier) -> None:
            """Ask the hospital system on a thread; the patient goes on meanwhile (walk-in if no answer)."""
            today = datetime.now().astimezone().date()
            self._connect_hospital()              # the card came before its scheduled turn (just after start)
            lookup = self.lookup                  # None: lookups are off (walk-in)

            def job() -> None:
                found = lookup and lookup.find_appointment(identifier, today, settings.hospital.appointment_lookup_s)
                self.post(AppointmentFound(identifier.value, found))
            threading.Thread(target=job, name="appointment-lookup", daemon=True).start()

        def _printed(self, job_id, admission_id: str, kind: str, outcome) -> None:
            if job_id is not None:
                try:
                    self.store.print_finished(job_id, outcome.status, outcome.reason)
                except (*DB_ERRORS, OSError) as e:
                    log.error("print job %s not recorded: %s", job_id, type(e).__name__)
            self.last_prints[kind] = outcome.path
            self.send(PrintFinished(admission_id, kind, outcome.status, outcome.reason, outcome.paper_low))

        def _wire_reader(self) -> None:
            r = self.reader
            r.on_card_inserted = lambda: self.post(CardInserted())
            r.on_card_read = lambda card: self.post(CardRead(card))
            r.on_card_removed = lambda: self.post(CardRemoved())
            r.on_card_failed = lambda reason: self.post(CardFailed(reason))
            r.on_fault = lambda reason: self.post(ReaderFault(reason))

        # --- staff mode (kiosk.desk.staffmode: the rules; here: the patient's session and the screens) ---

        def _staff(self, store: Store) -> Staff:
            return Staff(store, printers=self.printers, reader_state=lambda: self.reader.state.value,
                         layout_for=lambda kind, admission: printing.layout_for(kind, admission, self.catalogs,
                                                                                settings),
                         wake=lambda: self.sync and self.sync.wake())

        def _staff_runner(self, job, done) -> None:
            """A staff action that may wait for a printer, on a thread with a Store of its own (one per
            thread); ``done(result, error)`` then runs on the Kivy thread and the staff screen is redrawn."""
            def work() -> None:
                result = error = None
                try:
                    store = self.store.reopen()
                    try:
                        result = job(self._staff(store))
                    finally:
                        store.close()
                except StaffError as e:
                    error = e
                except (*DB_ERRORS, OSError) as e:
                    error = staff_failure(e)
                Clock.schedule_once(lambda _dt: self._staff_done(done, result, error))
            threading.Thread(target=work, name="staff-action", daemon=True).start()

        def _staff_done(self, done, result, error) -> None:
            done(result, error)
            screen = self.frame.manager.current_screen
            if self.staff_mode.active and screen is not None:
                if self.staff_mode.screen.value != self._shown_state:
                    self._render()
                else:
                    screen.show(self.flow)

        def _patient_active(self) -> bool:
            """A patient's session worth keeping under staff mode: past welcome and identify."""
            return self.flow.state not in (State.WELCOME, State.IDENTIFY)

        def _staff_gate(self, event: object) -> bool:
            """True when staff mode takes ``event`` (a badge) or holds it back from the patient flow."""
            mode = self.staff_mode
            if isinstance(event, CardRead) and not mode.signed_in:
                was_active = mode.active
                try:
                    badge = mode.badge(event.card, patient_active=self._patient_active())
                except (*DB_ERRORS, OSError) as e:     # the patient checks in all the same
                    log.error("badge not checked: %s", type(e).__name__)
                    badge = False
                if badge:
                    if not was_active:
                        self._staff_entered()
                    return True
            return mode.holds_back(event, at_welcome=self.flow.state is State.WELCOME)

        def _corner_tap(self) -> None:
            if self.staff_mode.corner_tap(time.monotonic(), patient_active=self._patient_active()):
                self._staff_entered()
                self._render()

        def _staff_entered(self) -> None:
            """Staff mode has just begun: a patient's session is paused, or (none yet) the kiosk starts over."""
            self.stop_speaking()
            if not self.staff_mode.keeps_patient:
                self._wipe_patient()
            self.flow.session.reading = False     # a badge's read is over; no patient waits for it
            self.frame.staff_mode = True

        def _wipe_patient(self) -> None:
            if self.flow.state is not State.WELCOME:
                for effect in self.flow.handle(IdleTimeout()):
                    self._perform(effect)

        def staff_do(self, action: str, *args) -> None:
            """A tap on a staff screen: the staff mode method ``action``, then the screen again."""
            mode = self.staff_mode
            if action == "leave":
                self._leave_staff()
                return
            if not mode.active:
                return
            getattr(mode, action)(*args)
            self._render()

        def _leave_staff(self, *, idle: bool = False) -> None:
            if not self.staff_mode.leave(idle=idle):
                self._wipe_patient()           # out of service now, or no patient was waiting
            self.frame.staff_mode = False
            self._render()

        def _staff_poll(self, _dt) -> None:
            """What the desk page or another thread changed: out of service, new incidents, devices."""
            mode = self.staff_mode
            try:
                changed = mode.refresh_out_of_service()
                mode.refresh_status()
                if mode.active and self.frame.manager.current_screen is not None:
                    self.frame.manager.current_screen.show(self.flow)    # not _render: no touch, no more time
                elif changed and self.flow.state is State.WELCOME:
                    self._render()
            except (*DB_ERRORS, OSError) as e:
                log.error("staff mode not refreshed: %s", type(e).__name__)

        # --- read aloud ---

        def speak(self, text: str) -> None:
            """Read ``text`` aloud in the patient's language (a tap: it stops what was being read)."""
            if self.can_speak:
                self.speaker.say(text, self.flow.session.language)

        def stop_speaking(self) -> None:
            if self.speaker is not None:
                self.speaker.stop()

        # --- screens and the idle timer ---

        def _render(self) -> None:
            flow = self.flow
            self.tr.language = flow.session.language
            self.frame.language = flow.session.language
            manager = self.frame.manager
            mode = self.staff_mode
            if mode.active:
                key = mode.screen.value
            elif flow.state is State.WELCOME and mode.out_of_service:
                key = "staff_out_of_service"
            else:
                key = flow.state
            status = ("staff mode" if mode.active else "out of service" if key == "staff_out_of_service"
                      else "welcome" if key is State.WELCOME else "serving a patient")
            if status != self._status:
                self._status = status
                sdnotify.notify(f"STATUS={status}")
            if key != self._shown_state:
                # A new screen for every state: nothing of the previous patient survives on a reused one.
                if mode.active or key == "staff_out_of_service":
                    screens.load_rules("staff_screens")
                if mode.active:
                    screen = staff_screens.SCREENS[mode.screen](mode=mode, do=self.staff_do, send=self.send,
                                                                tr=self.tr, name=key)
                elif key == "staff_out_of_service":
                    screen = staff_screens.StaffOutOfServiceScreen(send=self.send, tr=self.tr, name=key)
                else:
                    screen = screens.screen_class(flow.state)(send=self.send, tr=self.tr, name=flow.state.value)
                screen.sample_card_button = sample_card_button
                screen.can_speak, screen.speak = self.can_speak, self.speak
                self.stop_speaking()              # what the last screen said is over
                if isinstance(self.reader, SimulatedReader):
                    screen.insert_sample_card = self.reader.insert
                if manager.current_screen is not None:
                    manager.current_screen.forget()   # no text, undo history or keyboard of it stays behind
                Window.release_all_keyboards()    # the old screen's field lets go of the on-screen keyboard
                manager.switch_to(screen, transition=NoTransition())
                self._shown_state = key
            manager.current_screen.show(flow)
            self._arm_idle_timer()
            self._pace()

        def _on_touch(self, *_args) -> bool:
            if self.flow.state is State.IDLE_WARNING and not self.staff_mode.active:
                self.post(StillHere())        # any touch on the warning means someone is there
            self._arm_idle_timer(touched=True)
            self._pace(touched=True)
            return False

        def _pace(self, *, touched: bool = False) -> None:
            """The full frame rate while someone uses the screen; display.idle_fps once the welcome screen
            has waited QUIET_AFTER_S untouched: an idle Kivy loop costs CPU every frame, all night."""
            if self._full_fps <= 0:
                return                                # no frame limit at all (a benchmark): leave it so
            quiet = self.flow.state is State.WELCOME and not self.staff_mode.active
            if touched or not quiet:
                Clock._max_fps = self._full_fps       # Kivy reads it before every frame (it has no setter)
            self._slow_down.cancel()
            if quiet:
                self._slow_down()

        def _quiet(self, _dt) -> None:
            if self.flow.state is State.WELCOME and not self.staff_mode.active:
                Clock._max_fps = min(self._full_fps, settings.display.idle_fps)

        def _arm_idle_timer(self, *, touched: bool = False) -> None:
            staff = self.staff_mode.active
            if staff and self._idle_timer is not None and self._idle_timer_is_staff and not touched:
                return       # only a touch keeps staff mode on: a printer or reader event is no one there
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            self._idle_timer_is_staff = staff
            if staff:        # the patient's timer is off meanwhile
                self._idle_timer = Clock.schedule_once(lambda _dt: self._leave_staff(idle=True),
                                                       self.staff_mode.timer())
                return
            timer = self.flow.timer()
            if timer:
                event, seconds = timer
                self._idle_timer = Clock.schedule_once(lambda _dt: self.send(event), seconds)

    return KioskApp()


def open_devices(settings: Settings, *, cards: Sequence[CardData] = ()) -> tuple[CardReader, dict[str, Printer]]:
    """The reader and printers the config names; raises DeviceUnavailable with a sentence for IT."""
    from kiosk.hardware.reader import open_reader
    if settings.reader.kind == "simulated" and not cards:
        cards = sample_cards()             # only a simulated reader needs the sample patients
    reader = open_reader(settings.reader.kind, cards, settings.reader.names)
    return reader, printing.open_printers(settings)


def open_store(settings: Settings, **options) -> Store:
    """The kiosk's store (kiosk.db in data_dir), with the key ``read_key`` finds unless ``options`` give one.

    :raises kiosk.store.StoreLocked: no key, or not the store's; ``DB_ERRORS``, OSError: it cannot be opened
    """
    if "key" not in options:
        options["key"] = read_key(settings.store)
    return Store(settings.data_path / "kiosk.db", kiosk_id=settings.kiosk.id, **options)
