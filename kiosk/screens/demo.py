"""``kiosk demo --headless``: scripted patients walk through the real screens by touch.

Each patient inserts a (simulated) card and taps through every screen like a person would, and signs
the consent with a drawn stroke: the touches go through Kivy's input queue to the real widgets. Every screen passed is saved as a PNG
together with the texts it showed (``screens.json``), the printed ticket as PNG and the admission as
stored (JSON).
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from pathlib import Path
from typing import Sequence

from kiosk.checkin.session import State
from kiosk.screens import walk
from kiosk.messages import N_
from kiosk.checkin.model import CardData

STEP_TIMEOUT_S = 15.0
# What every screen of `kiosk demo` says above it (KioskFrame.demo): nobody should check in for real there.
BANNER = N_("Demo with sample patients: nothing here reaches the hospital.")
BANNER_SENDING = N_("Demo with sample patients: sent to the hospital system as test data.")


class DemoError(RuntimeError):
    """The walk-through did not reach a screen it expected; the message says which."""


class Pilot:
    """Drives the running app with real touch events and records what each screen shows."""

    def __init__(self, app, out: Path):
        from kivy.core.window import Window
        self.app = app
        self.window = Window
        self.out = out
        self.shots: list[dict] = []

    async def frames(self, n: int = 3) -> None:
        for _ in range(n):
            await asyncio.sleep(1 / 30)

    async def wait_for(self, condition, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT_S
        while not condition():
            if loop.time() > deadline:
                raise DemoError(f"the demo waited {STEP_TIMEOUT_S:.0f} s for {what}, "
                                f"but the kiosk stayed on the {self.app.flow.state.value} screen")
            await asyncio.sleep(0.02)
        await self.frames()

    async def wait_state(self, state: State) -> None:
        await self.wait_for(lambda: self.app.flow.state is state, f"the {state.value} screen")

    def button(self, action: str):
        for widget in self.app.frame.walk(restrict=True):
            if getattr(widget, "action", None) == action and not widget.disabled:
                return widget
        raise DemoError(f"no button '{action}' on the {self.app.flow.state.value} screen")

    async def tap(self, action: str) -> None:
        """Touch the button named ``action`` at its centre, as a finger would."""
        widget = self.button(action)
        await self.touch(*widget.to_window(*widget.center))

    async def touch(self, x: float, y: float) -> None:
        """A finger down and up at window position (x, y)."""
        from kivy.base import EventLoop
        touch = _Touch(self.window, x, y)
        EventLoop.post_dispatch_input("begin", touch)
        await self.frames(2)
        EventLoop.post_dispatch_input("end", touch)
        await self.frames(2)

    async def type_into(self, field, text: str) -> None:
        """Touch ``field`` (it takes the keyboard), put ``text`` in place of what it held, and let it go."""
        await self.touch(*field.to_window(*field.center))
        await self.frames(2)
        field.text = ""
        field.insert_text(text)
        field.focus = False
        await self.frames(2)

    async def draw(self, widget, points) -> None:
        """A finger put down on ``widget``, moved through ``points`` and lifted: one stroke. The points are
        fractions of the widget's size (x from the left, y from the bottom)."""
        from kivy.base import EventLoop

        def at(point) -> tuple[float, float]:
            return widget.to_window(widget.x + point[0] * widget.width, widget.y + point[1] * widget.height)

        touch = _Touch(self.window, *at(points[0]))
        EventLoop.post_dispatch_input("begin", touch)
        await self.frames(1)
        for point in points[1:]:
            touch.move(_touch_args(self.window, *at(point)))
            EventLoop.post_dispatch_input("update", touch)
            await self.frames(1)
        EventLoop.post_dispatch_input("end", touch)
        await self.frames(2)

    async def sign(self) -> None:
        """Sign on the consent screen's signature pad with a finger (a demo scribble: two strokes)."""
        pad = self.app.frame.manager.current_screen.ids.pad
        loops = [(0.08 + 0.5 * t - 0.04 * math.sin(8 * math.pi * t), 0.5 - 0.18 * math.cos(8 * math.pi * t) + 0.1 * t)
                 for t in (i / 40 for i in range(41))]
        await self.draw(pad, loops)
        await self.draw(pad, [(0.62, 0.42), (0.70, 0.36), (0.80, 0.38), (0.90, 0.46)])

    async def shot(self, name: str) -> Path:
        await self.frames(2)
        path = self.out / f"{name}.png"
        made = Path(self.window.screenshot(name=str(path)))
        made.replace(path)               # Kivy appends a counter to the name
        self.shots.append({"file": path.relative_to(self.out).as_posix(), "screen": self.app.flow.state.value,
                           "texts": self.texts()})
        return path

    def texts(self) -> list[str]:
        """The texts a person sees now: every visible label and button, top bar first."""
        from kivy.uix.label import Label
        return [w.text for w in self.app.frame.walk(restrict=True)
                if isinstance(w, Label) and w.text and w.opacity > 0 and not w.disabled]


def _Touch(window, x: float, y: float):
    from kivy.input.motionevent import MotionEvent

    class Touch(MotionEvent):
        def depack(self, args):
            self.sx, self.sy = args
            self.profile = ["pos"]
            super().depack(args)

    return Touch("demo", 1, _touch_args(window, x, y), is_touch=True, type_id="touch")


def _touch_args(window, x: float, y: float) -> tuple[float, float]:
    return x / (window.width - 1), y / (window.height - 1)


async def walk_patients(app, pilot: Pilot, cards: Sequence[CardData]) -> list[dict]:
    """Check in one scripted patient per card, in the configured languages in turn."""
    languages = app.settings.kiosk.languages
    results = []
    for n, card in enumerate(cards, start=1):
        p = f"p{n}"
        language = languages[(n - 1) % len(languages)]
        await walk.check_in(app, pilot, card, language=language, shots=p)
        admission = app.store.get_admission(app.flow.session.admission.id)
        result = {"patient": n, "queue_number": admission.queue_number}
        (pilot.out / f"{p}-admission.json").write_text(
            json.dumps(admission.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
        result["admission"] = f"{p}-admission.json"
        for kind, path in app.last_prints.items():
            if path:
                shutil.copy(path, pilot.out / f"{p}-{kind}.png")
                result[kind] = f"{p}-{kind}.png"
        results.append(result)
        await pilot.tap("finish")
    await pilot.wait_state(State.WELCOME)
    return results


async def scan_arrival(app, pilot: Pilot, qr: str) -> None:
    """The arrival code scanned on the welcome screen, and the site service's answer on the screen."""
    app.scanner.scan(qr).join()
    await pilot.wait_for(lambda: app.flow.state is not State.WELCOME and not app.flow.session.arrival_asked,
                         "the site service's answer")
    await pilot.frames(2)


async def arrive(app, pilot: Pilot, qr: str, n: int) -> dict:
    """A patient who pre-checked in at home scans their arrival code, says "Yes, this is me", takes the ticket."""
    p = f"p{n}"
    await scan_arrival(app, pilot, qr)
    await pilot.wait_state(State.ARRIVAL)
    await pilot.shot(f"{p}-01-{State.ARRIVAL.value}")
    pilot.shots[-1]["language"] = app.flow.session.language       # the one the patient chose at home
    await pilot.tap("this_is_me")
    await pilot.wait_for(lambda: app.flow.state is State.DONE and walk.printing_ended(app.flow.session.print_status),
                         "the ticket to be printed")
    await pilot.shot(f"{p}-02-{State.DONE.value}")
    pilot.shots[-1]["language"] = app.flow.session.language
    admission = app.store.get_admission(app.flow.session.admission.id)
    (pilot.out / f"{p}-admission.json").write_text(json.dumps(admission.to_json(), indent=2, ensure_ascii=False),
                                                   encoding="utf-8")
    result = {"patient": n, "queue_number": admission.queue_number, "admission": f"{p}-admission.json",
              "pre_checked": True}
    for kind, path in app.last_prints.items():
        if path:
            shutil.copy(path, pilot.out / f"{p}-{kind}.png")
            result[kind] = f"{p}-{kind}.png"
    await pilot.tap("finish")
    await pilot.wait_state(State.WELCOME)
    return result


async def show_every_screen(app, pilot: Pilot, card: CardData, arrival: str = "") -> None:
    """Every screen in every language the kiosk offers, with normal and with larger text, saved as
    ``screens/<language>/<screen>[-large].png``. Each of these shots records what a person would find
    wrong with it (too small to touch or read, cut off, out of the screen: kiosk.screens.layout_check)."""
    from kiosk.screens import layout_check
    from kiosk.checkin.events import IdleWarning

    async def look(language: str, large: bool) -> None:
        (pilot.out / "screens" / language).mkdir(parents=True, exist_ok=True)
        await pilot.shot(f"screens/{language}/{app.flow.state.value}{'-large' if large else ''}")
        pilot.shots[-1].update(language=language, large_text=large,
                               problems=layout_check.problems(app.frame, tuple(pilot.window.size)))

    for large in (False, True):
        for language in app.settings.kiosk.languages:
            await pilot.wait_state(State.WELCOME)
            await pilot.tap(f"language:{language}")
            if large:
                await pilot.tap("large_text")
            await look(language, large)
            if arrival:                       # "Is this you?", then "No": back to the welcome screen
                await scan_arrival(app, pilot, arrival)
                await pilot.wait_state(State.ARRIVAL)
                await pilot.tap(f"language:{language}")     # the pre-check-in's language, until the patient chooses
                await look(language, large)
                await pilot.tap("not_me")
                await pilot.wait_state(State.WELCOME)
                await pilot.tap(f"language:{language}")
                if large:
                    await pilot.tap("large_text")
            await pilot.tap("start")
            await pilot.wait_state(State.IDENTIFY)
            await look(language, large)
            for choice, state in (("choose_code", State.ENTER_CODE), ("choose_name", State.ENTER_NAME)):
                await pilot.tap(choice)
                await pilot.wait_state(state)
                await look(language, large)
                await pilot.tap("back")
                await pilot.wait_state(State.IDENTIFY)
            app.reader.insert(card)
            await pilot.wait_state(State.CONFIRM)
            await look(language, large)
            await pilot.tap("correct_details")
            await pilot.wait_state(State.CORRECT)
            await look(language, large)
            await pilot.tap("back")
            await pilot.wait_state(State.CONFIRM)
            await pilot.tap("call_staff")
            await pilot.wait_state(State.HELP)
            await look(language, large)
            await pilot.tap("back")
            await pilot.wait_state(State.CONFIRM)
            await pilot.tap("details_confirmed")
            first = True
            while app.flow.state is State.QUESTIONS:
                if first:
                    await look(language, large)
                    first = False
                await walk.answer_question(app, pilot, app.flow.question)
            await pilot.wait_state(State.CONSENT)
            await look(language, large)
            app.send(IdleWarning())
            await pilot.wait_state(State.IDLE_WARNING)
            await look(language, large)
            await pilot.tap("still_here")
            await pilot.wait_state(State.CONSENT)
            if app.flow.consent_signature:
                await pilot.sign()
            await pilot.tap("consent_accepted")
            await pilot.wait_for(lambda: app.flow.state is State.DONE and walk.printing_ended(app.flow.session.print_status),
                                 "the ticket to be printed")
            await look(language, large)
            await pilot.tap("finish")
            await pilot.wait_state(State.WELCOME)


def run_headless(app, out: Path, cards: Sequence[CardData], *, tour: bool = True, arrivals: Sequence[str] = ()) -> dict:
    """Walk ``cards`` through ``app`` (a built, not yet running KioskApp), then a patient who pre-checked in
    scanning the first of ``arrivals`` (arrival QR texts of the demo's site service), then (``tour``) show
    every screen in every language ("Is this you?" for the second of ``arrivals``); returns the summary
    written to ``out/screens.json``. Raises DemoError when a screen was not reached."""
    async def script(app, pilot: Pilot) -> list[dict]:
        patients = await walk_patients(app, pilot, cards)
        if arrivals:
            patients.append(await arrive(app, pilot, arrivals[0], len(patients) + 1))
        if tour:
            await show_every_screen(app, pilot, cards[0], arrivals[1] if len(arrivals) > 1 else "")
        return patients

    return run_script(app, out, script)


def run_script(app, out: Path, script) -> dict:
    """Run ``app`` and, beside it, ``await script(app, pilot)``; stop the app when the script ends.
    Writes ``out/screens.json`` ({"patients": what the script returned, "screens": every shot})."""
    out.mkdir(parents=True, exist_ok=True)

    async def main() -> dict:
        pilot = None
        errors: list[BaseException] = []

        async def drive() -> list[dict]:
            nonlocal pilot
            try:
                await asyncio.sleep(0.3)
                pilot = Pilot(app, out)
                return await script(app, pilot)
            except BaseException as e:        # re-raised below, after the app has stopped
                errors.append(e)
                return []
            finally:
                app.stop()

        _, results = await asyncio.gather(app.async_run(async_lib="asyncio"), drive())
        if errors:
            raise errors[0]
        return {"patients": results, "screens": pilot.shots}

    summary = asyncio.run(main())
    (out / "screens.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return summary
