"""The kiosk as a Kivy App: the frame and its screens, the clock and the timers, device events posted to the
check-in flow, and staff mode on the screen. What the flow's effects do to the store, the printers and the
hospital system is ``kiosk.effects``; everything else it works with is handed in, built by ``kiosk.app``.

Kivy's ``Config`` is read as its modules load: ``kiosk.screens.kivy_env.configure`` comes before this
module is imported. The window is made with the app (``_window``), not when this module is imported.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import deque
from typing import Callable

from kivy.app import App
from kivy.cache import Cache
from kivy.clock import Clock
from kivy.config import Config
from kivy.lang import global_idmap
from kivy.uix.screenmanager import NoTransition

from kiosk import screens
from kiosk.checkin.events import (CardFailed, CardInserted, CardRead, CardRemoved, IdleTimeout, ReaderFault, Scanned,
                                  StillHere, Wipe)
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.session import State
from kiosk.desk.staffmode import StaffMode
from kiosk.i18n import Catalogs
from kiosk.ops import sdnotify
from kiosk.screens import staff_screens
from kiosk.screens.common import KioskFrame, Localizer, Look
from kiosk.screens.keyboard import KioskKeyboard
from kiosk.screens.wakeup import Pacer

log = logging.getLogger(__name__)


def _window():
    """Kivy's window, made at the first import of ``kivy.core.window`` (as Kivy's Config says then)."""
    from kivy.core.window import Window
    return Window


class KioskApp(App):
    """The kiosk's screen.

    :param flow: the patient's check-in (its events come from here, its effects go to ``effects``)
    :param effects: performs the flow's effects (``kiosk.effects.Effects``); its results come back as events
    :param reader: the card reader (started with the app, stopped with it)
    :param scanner: the barcode scanner for arrival codes, or None (started and stopped likewise)
    :param staff: staff actions on the UI thread's store connection (``kiosk.desk.staff.Staff``)
    :param run_staff_job: ``run(job)`` does ``job(staff)`` on a store connection of its own, for another
        thread; returns ``(result, None)``, or ``(None, the StaffError)``
    :param store_errors: what a call of the store raises when it fails (the patient flow goes on)
    :param speaker: reads screens aloud (None: no read aloud)
    :param insert_sample_card: for a simulated reader, "insert a sample card" (the demo's button)
    :param demo: `kiosk demo`: the sentence (msgid) every screen shows above it
    """

    title = "Admission kiosk"

    def __init__(self, settings, *, flow: CheckIn, effects, catalogs: Catalogs, reader, staff,
                 run_staff_job: Callable, store_errors: tuple[type[BaseException], ...], speaker=None,
                 insert_sample_card: Callable[[], None] | None = None, sample_card_button: bool = False,
                 demo: str = "", scanner=None):
        _window()                             # the window first, as Kivy's Config has it now
        super().__init__()
        self.settings = settings
        self.flow = flow
        self.effects = effects
        self.store, self.printers, self.last_prints = effects.store, effects.printers, effects.last_prints
        self.catalogs = catalogs
        self.reader = reader
        self.scanner = scanner
        self.staff = staff
        self.speaker = speaker
        self.can_speak = speaker is not None and speaker.available
        self.tr = Localizer(catalogs, flow.session.language)
        self.look = Look()
        self.frame = None
        self._run_staff_job = run_staff_job
        self._store_errors = store_errors
        self._insert_sample_card = insert_sample_card
        self._sample_card_button = sample_card_button
        self._demo = demo
        self._shown_state: State | str | None = None
        self._status = ""                     # what systemd shows (STATUS=): never personal data
        self._idle_timer = None
        self._idle_timer_is_staff = False
        # The staff mode of this screen: its slow actions run on a thread (_staff_runner).
        self.staff_mode = StaffMode(staff, kiosk_id=settings.kiosk.id, printers=tuple(effects.printers),
                                    idle_timeout_s=settings.staff.idle_timeout_s, runner=self._staff_runner)
        self.pacer = Pacer(Clock, full_fps=Config.getint("graphics", "maxfps"), idle_fps=settings.display.idle_fps,
                           quiet_screen=lambda: self.flow.state is State.WELCOME and not self.staff_mode.active)
        effects.connect(post=self.post, call_soon=self.call_soon)

    # --- Kivy life cycle ---

    def build(self):
        Window = _window()
        global_idmap["tr"] = self.tr
        global_idmap["look"] = self.look
        screens.load_rules("common")          # the rest as their screens are first made
        Window.clearcolor = (1, 1, 1, 1)
        # The docked on-screen keyboard: our layouts; the frame moves the screen up for it (not Kivy's
        # softinput_mode, whose "below_target" shifts touches without shifting the picture).
        Window.set_vkeyboard_class(KioskKeyboard)
        Window.bind(on_touch_down=self._on_touch)
        self.pacer.install()
        Window.bind(on_flip=self._first_frame)
        self.frame = KioskFrame(send=self.send, speak=self.speak, can_speak=self.can_speak,
                                corner_tap=self._corner_tap, demo=self._demo)
        self.frame.languages = list(self.settings.kiosk.languages)
        self.effects.interrupt_prints()       # a stopped kiosk's half-done jobs: staff judge
        self._wire_reader()
        self.reader.start()
        if self.scanner is not None:
            self.scanner.on_scan = lambda text: self.post(Scanned(text))
            self.scanner.start()
        Clock.schedule_interval(self._staff_poll, 2.0)
        self._render()
        return self.frame

    def open_settings(self, *_args) -> bool:
        return False        # F1 must not open Kivy's settings panel on a kiosk

    def _first_frame(self, *_args) -> None:
        """The first screen is shown: systemd hears that the kiosk is up, and its watchdog hears from the
        Kivy thread from now on, so that a screen that hangs stops the pings (and gets restarted)."""
        _window().unbind(on_flip=self._first_frame)
        sdnotify.notify("READY=1", f"STATUS={self._status}")
        # The collector was paused while the modules loaded (kiosk.__main__): start-up's garbage goes
        # now, and what is left lasts as long as the kiosk, so it is frozen (never scanned again).
        gc.collect()
        gc.freeze()
        gc.enable()
        interval = sdnotify.watchdog_interval()
        if interval:
            Clock.schedule_interval(self._watchdog_ping, interval)
        # The hospital's libraries load once the welcome screen is shown, not before it.
        Clock.schedule_once(lambda _dt: self.effects.connect_hospital())

    def _watchdog_ping(self, _dt) -> None:
        sdnotify.notify("WATCHDOG=1")

    def on_stop(self) -> None:
        sdnotify.notify("STOPPING=1")
        self.stop_speaking()
        self.reader.stop()
        if self.scanner is not None:
            self.scanner.stop()
        self.effects.stop()

    # --- events in, effects out ---

    def post(self, event: object) -> None:
        """Thread-safe: deliver an event from a device thread on the Kivy thread (the bridge)."""
        Clock.schedule_once(lambda _dt: self.send(event))
        if self.pacer.wake is not None:
            self.pacer.wake()                 # a slow, quiet loop takes it now, not next frame

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Thread-safe: run ``fn`` on the Kivy thread, then handle the event it returns (if any)."""
        def run(_dt) -> None:
            event = fn()
            if event is not None:
                self.send(event)
        Clock.schedule_once(run)

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
        if isinstance(effect, Wipe):
            self.stop_speaking()              # nothing of this patient is said to the next one
            self.look.reset()                 # the next patient starts with the standard look
            for category in ("textinput.label", "textinput.width"):
                Cache.remove(category)        # keyed by typed patient text, kept 60 s otherwise
            return None
        return self.effects.perform(effect)

    def _wire_reader(self) -> None:
        r = self.reader
        r.on_card_inserted = lambda: self.post(CardInserted())
        r.on_card_read = lambda card: self.post(CardRead(card))
        r.on_card_removed = lambda: self.post(CardRemoved())
        r.on_card_failed = lambda reason: self.post(CardFailed(reason))
        r.on_fault = lambda reason: self.post(ReaderFault(reason))

    # --- staff mode (kiosk.desk.staffmode: the rules; here: the patient's session and the screens) ---

    def _staff_runner(self, job, done) -> None:
        """A staff action that may wait for a printer, on a thread with a Store of its own (one per
        thread); ``done(result, error)`` then runs on the Kivy thread and the staff screen is redrawn."""
        def work() -> None:
            result, error = self._run_staff_job(job)
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
            except self._store_errors as e:     # the patient checks in all the same
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

    def staff_act(self, action: Callable[..., object], *args) -> None:
        """A tap on a staff screen: ``action`` (a method of the staff mode) with ``args``, then the screen
        again; nothing once staff mode is over."""
        if not self.staff_mode.active:
            return
        action(*args)
        self._render()

    def leave_staff(self, *, idle: bool = False) -> None:
        """Staff mode ends: staff tapped "Leave", or (``idle``) nobody touched the screen for its time."""
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
        except self._store_errors as e:
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
                screen = staff_screens.SCREENS[mode.screen](mode=mode, act=self.staff_act,
                                                            leave_staff=self.leave_staff, send=self.send,
                                                            tr=self.tr, name=key)
            elif key == "staff_out_of_service":
                screen = staff_screens.StaffOutOfServiceScreen(send=self.send, tr=self.tr, name=key)
            else:
                screen = screens.screen_class(flow.state)(send=self.send, tr=self.tr, name=flow.state.value)
            screen.sample_card_button = self._sample_card_button
            screen.can_speak, screen.speak = self.can_speak, self.speak
            self.stop_speaking()              # what the last screen said is over
            if self._insert_sample_card is not None:
                screen.insert_sample_card = self._insert_sample_card
            if manager.current_screen is not None:
                manager.current_screen.forget()   # no text, undo history or keyboard of it stays behind
            _window().release_all_keyboards()    # the old screen's field lets go of the on-screen keyboard
            manager.switch_to(screen, transition=NoTransition())
            self._shown_state = key
        manager.current_screen.show(flow)
        self._arm_idle_timer()
        self.pacer.pace()

    def _on_touch(self, *_args) -> bool:
        if self.flow.state is State.IDLE_WARNING and not self.staff_mode.active:
            self.post(StillHere())        # any touch on the warning means someone is there
        self._arm_idle_timer(touched=True)
        self.pacer.pace(touched=True)
        return False

    def _arm_idle_timer(self, *, touched: bool = False) -> None:
        staff = self.staff_mode.active
        if staff and self._idle_timer is not None and self._idle_timer_is_staff and not touched:
            return       # only a touch keeps staff mode on: a printer or reader event is no one there
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._idle_timer_is_staff = staff
        if staff:        # the patient's timer is off meanwhile
            self._idle_timer = Clock.schedule_once(lambda _dt: self.leave_staff(idle=True),
                                                   self.staff_mode.timer())
            return
        timer = self.flow.timer()
        if timer:
            event, seconds = timer
            self._idle_timer = Clock.schedule_once(lambda _dt: self.send(event), seconds)
