"""Start-up and idle CPU: `kiosk run` beside a bare Kivy app that shows one label, both on the same
virtual X display (Xvfb, Mesa's software renderer, 1280 x 800 like a lobby screen).

The kiosk runs as in a lobby: an encrypted store, delivery to a hospital system over FHIR (configured;
nothing to deliver), a card reader (simulated) and a ticket printer (preview).

Start-up: from starting the process to its first frame, which each side reports with the
systemd notification a service sends when it is ready (READY=1 on $NOTIFY_SOCKET; the kiosk sends it
after the welcome screen's first frame, the bare app after its first frame). Runs alternate;
the medians are compared. Target: at most 1.5x the bare app.

Idle CPU: CPU time of all the process's threads over 30 s on the welcome screen (after
12 s to settle), beside the bare app idling the same 30 s, in every round but the first; the medians are
compared (this shared virtual machine's figures vary by half from one 30 s to the next). Target: at most
half the bare app's.

    .venv/bin/python benchmarks/bench_idle.py [--rounds N] [--idle-s S]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from processes import stop  # noqa: E402
from xvfb import virtual_display  # noqa: E402

BARE = r"""
import os, socket
from kivy.app import App
from kivy.core.window import Window
from kivy.uix.label import Label


def ready(*_):
    Window.unbind(on_flip=ready)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])


class Bare(App):
    def build(self):
        Window.bind(on_flip=ready)
        return Label(text="Welcome", font_size=48)


Bare().run()
"""


def free_port() -> int:
    """A local port nothing listens on: the kiosk delivers to a hospital system, as in a lobby, but none
    answers (nothing is waiting to be delivered)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` so far (nanosecond clock, unlike /proc/PID/stat's ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError):      # a thread that ended meanwhile
            pass
    return total / 1e9


class Side:
    def __init__(self, name: str, argv: list[str], env: dict):
        self.name, self.argv, self.env = name, argv, env
        self.starts: list[float] = []
        self.idle_cpu: list[float] = []

    @contextmanager
    def started(self, tmp: Path):
        """Start the process; yields it once it has reported READY=1 (its first frame)."""
        path = tmp / f"notify-{self.name}"
        path.unlink(missing_ok=True)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(str(path))
            notify.settimeout(120)
            start = time.perf_counter()
            proc = subprocess.Popen(self.argv, env={**self.env, "NOTIFY_SOCKET": str(path)},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                while True:
                    try:
                        message = notify.recv(4096)
                    except TimeoutError:
                        sys.exit(f"{self.name}: no READY=1 within 120 s:\n{proc.stderr.read().decode()[-2000:]}")
                    if b"READY=1" in message.split(b"\n"):
                        break
                self.starts.append(time.perf_counter() - start)
                yield proc
            finally:
                stop(proc, timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="start-ups of each (default 5)")
    parser.add_argument("--idle-s", type=float, default=30.0, help="idle time measured per round (default 30 s)")
    parser.add_argument("--settle-s", type=float, default=12.0,
                        help="wait before the idle time: the kiosk slows down once its welcome screen has been "
                             "untouched 5 s, and its housekeeping's first round comes 10 s after start (default 12 s)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, virtual_display(first=90) as display:
        tmp = Path(tmp)
        config = tmp / "kiosk.toml"
        config.write_text(f"""
[kiosk]
data_dir = "{tmp / 'data'}"
languages = ["de", "en", "tr", "fr"]
[reader]
kind = "simulated"
[printer.ticket]
uri = "preview:{tmp / 'tickets'}"
[metrics]
textfile = ""
[hospital]
transport = "fhir"
url = "http://127.0.0.1:{free_port()}/fhir"
""", encoding="utf-8")
        base_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "DISPLAY": display,
                    "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        kiosk = Side("kiosk run", [str(BIN / "kiosk"), "run", "--config", str(config)],
                     {**base_env, "KIOSK_STORE_KEY": secrets.token_hex(32)})
        (tmp / "bare.py").write_text(BARE, encoding="utf-8")     # Kivy looks for a .kv beside the app's source
        bare = Side("bare Kivy label", [sys.executable, str(tmp / "bare.py")],
                    {**base_env, "KIVY_HOME": str(tmp / "bare-kivy"), "KIVY_NO_ARGS": "1",
                     "KCFG_GRAPHICS_FULLSCREEN": "auto"})
        for n in range(args.rounds):
            for side in (kiosk, bare) if n % 2 == 0 else (bare, kiosk):
                with side.started(tmp) as proc:
                    if n >= 1:                              # warm starts idle for the figure, in turns
                        time.sleep(args.settle_s)
                        before = cpu_seconds(proc.pid)
                        time.sleep(args.idle_s)
                        side.idle_cpu.append(cpu_seconds(proc.pid) - before)

    k, b = statistics.median(kiosk.starts), statistics.median(bare.starts)
    print(f"| start-up to the first frame ({args.rounds} each) | kiosk run | bare Kivy label | ratio |")
    print("|---|---|---|---|")
    print(f"| median | {k:.2f} s | {b:.2f} s | {k / b:.2f}x |")
    print(f"| fastest | {min(kiosk.starts):.2f} s | {min(bare.starts):.2f} s | {min(kiosk.starts) / min(bare.starts):.2f}x |")
    print()
    kc, bc = statistics.median(kiosk.idle_cpu), statistics.median(bare.idle_cpu)
    print(f"| idle, {args.idle_s:.0f} s on the first screen ({len(kiosk.idle_cpu)} each) | kiosk run "
          "| bare Kivy label | ratio |")
    print("|---|---|---|---|")
    print(f"| CPU time, median | {kc * 1000:.0f} ms ({100 * kc / args.idle_s:.2f} % of a core) "
          f"| {bc * 1000:.0f} ms ({100 * bc / args.idle_s:.2f} % of a core) | {kc / bc:.2f}x |")
    print(f"| all rounds | {', '.join(f'{c * 1000:.0f}' for c in kiosk.idle_cpu)} ms "
          f"| {', '.join(f'{c * 1000:.0f}' for c in bare.idle_cpu)} ms | |")


if __name__ == "__main__":
    main()
