"""The real app for a UI test: built inside the script's own process (``app_for``), and the script run
from the test in a process of its own (``run``: Kivy allows one App per process), on SDL's offscreen driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kiosk.config import KioskSettings, ReaderSettings, Settings

UI = Path(__file__).resolve().parent.parent / "ui"     # the UI scripts


def settings_for(out: Path, languages: tuple[str, ...] = ("de", "en"), *, kiosk: dict | None = None,
                 **sections) -> Settings:
    """Settings for a test app: its store in ``out/data``, a simulated reader, the given sections."""
    return Settings(kiosk=KioskSettings(data_dir=str(out / "data"), languages=languages, **(kiosk or {})),
                    reader=ReaderSettings(kind="simulated"), **sections)


def app_for(settings: Settings, **build):
    """The kiosk app (not yet running) with the devices the settings name and its own store."""
    from kiosk import app as kiosk_app
    from kiosk.store.opening import open_store
    kiosk_app.prepare_kivy(settings.data_path / "kivy", headless=True)
    reader, printers = kiosk_app.open_devices(settings)
    return kiosk_app.build_app(settings, store=open_store(settings), reader=reader, printers=printers,
                               **build)


def env() -> dict:
    """The environment without DISPLAY: the app renders offscreen even where a display exists."""
    e = dict(os.environ)
    e.pop("DISPLAY", None)
    return e


def run(script: str, out: Path, *args) -> tuple[subprocess.CompletedProcess, list]:
    """Run ``tests/ui/<script> <args> <out>``; it must succeed. Returns the run and what the script's
    ``run_script`` returned (``patients`` of ``out/screens.json``)."""
    done = subprocess.run([sys.executable, str(UI / script), *map(str, args), str(out)], capture_output=True,
                          text=True, timeout=300, env=env(), cwd=UI)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads((out / "screens.json").read_text(encoding="utf-8"))["patients"]
