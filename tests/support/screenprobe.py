"""The real patient screens, asked to show a flow's state: for the state-machine tests (test_flow_machine.py).

``ScreenProbe`` starts this file as a process of its own (Kivy stays out of the pytest process: one
Kivy per process, and its environment would reach every later test). The process imports Kivy for SDL's
offscreen driver without opening a window, builds the screen of each state it is sent the way the app
does (``KioskApp._render``: a new screen whenever the state changes, the patient's language on the
translator) and calls its ``show(flow)``, which copies what the screen needs from the flow into Kivy
properties and so runs every kv rule bound to them. It answers ``None`` or the traceback of what failed.

The protocol is pickles on stdin and on a copy of stdout (Kivy may print: its stdout goes to stderr).
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).parent


def _write(stream, obj) -> None:
    data = pickle.dumps(obj)
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _read(stream):
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack(">I", head)
    return pickle.loads(stream.read(size))


class ScreenProbe:
    """``with ScreenProbe() as probe:`` ``probe.configure(form=..., **CheckIn options)`` once per flow, then
    ``probe.show(state, session)`` after every step: None when the screen showed it, else the traceback."""

    RENEW_AFTER = 2000       # screens shown before a fresh process: Kivy here keeps a little of every screen

    def __init__(self):
        self._home = tempfile.TemporaryDirectory(prefix="screenprobe-")
        self._process = None
        self._start()

    def _start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent.parent), str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        self._process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), self._home.name],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         env=env, cwd=HERE)
        self._shown = 0

    def _stop(self) -> None:
        from processes import stop
        try:
            self._process.stdin.close()
        except OSError:
            pass
        stop(self._process)
        self._process.stdout.close()

    def __enter__(self) -> ScreenProbe:
        return self

    def __exit__(self, *_exc) -> None:
        self._stop()
        self._home.cleanup()

    def _ask(self, request):
        _write(self._process.stdin, request)
        answer = _read(self._process.stdout)
        if answer is None:
            raise RuntimeError(f"the screen probe ended (exit status {self._process.poll()})")
        return answer[0]

    def configure(self, *, form: str, **options) -> None:
        """A new flow for the screens: the form by name and CheckIn's other keyword arguments (plain data)."""
        if self._shown > self.RENEW_AFTER:
            self._stop()
            self._start()
        error = self._ask(("configure", form, options))
        if error:
            raise RuntimeError(error)

    def show(self, state, session) -> str | None:
        self._shown += 1
        return self._ask(("show", state, session))


# --- the process ----------------------------------------------------------------------------------

def _serve(home: Path) -> None:
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)                                # whatever Kivy prints goes to stderr
    protocol_in = sys.stdin.buffer

    from kiosk import app as kiosk_app
    kiosk_app.prepare_kivy(home / "kivy", headless=True)
    from kivy.clock import Clock
    from kivy.lang import global_idmap

    from kiosk.checkin import forms
    from kiosk import screens
    from kiosk.checkin.flow import CheckIn
    from kiosk.i18n import Catalogs
    from kiosk.screens.common import Localizer, Look

    tr = look = flow = None
    shown, screen = None, None
    while (request := _read(protocol_in)) is not None:
        try:
            if request[0] == "configure":
                _, form, options = request
                flow = CheckIn(form=forms.load(form), **options)
                if tr is None:
                    tr = Localizer(Catalogs(flow.languages), flow.session.language)
                    look = Look()
                    global_idmap["tr"], global_idmap["look"] = tr, look
                    screens.load_rules("common")
                if screen is not None:          # its kv bindings go now, not when the collector frees it
                    screen.forget()
                shown = screen = None
            else:
                _, state, session = request
                flow.state, flow.session = state, session
                tr.language = session.language
                if state is not shown:           # KioskApp._render: a new screen for every state
                    if screen is not None:
                        screen.forget()          # as the app does: and its kv bindings go at once
                    screen = screens.screen_class(state)(send=lambda _event: None, tr=tr, name=state.value)
                    shown = state
                screen.show(flow)
                if screen.name != state.value:   # the screen manager knows a screen by it: never a patient's text
                    raise AssertionError(f"the {state.value} screen changed its own name while showing")
                for event in Clock.get_events():
                    event.cancel()       # no frame ever runs here: what the screen scheduled for one would pile up
            answer = None
        except Exception:
            answer = traceback.format_exc()
        _write(protocol_out, (answer,))


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
