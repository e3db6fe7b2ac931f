"""``kiosk run`` (the kiosk, fullscreen) and ``kiosk desk`` (the desk page on its own): the long-running
services with the configured devices."""

from __future__ import annotations

import os

from kiosk import config
from kiosk.checkin.forms import FormError
from kiosk.cli.common import (EXIT_NO_DEVICE, EXIT_OK, CommandError, has_display, load_settings, open_store,
                              start_housekeeping)


def cmd_run(args) -> int:
    """The kiosk, fullscreen, with the devices the config names."""
    from kiosk import app as kiosk_app
    from kiosk.hardware.errors import DeviceUnavailable
    settings = load_settings(args)
    if not has_display():
        raise CommandError("There is no display to show the kiosk on (neither DISPLAY nor WAYLAND_DISPLAY is set).",
                           EXIT_NO_DEVICE)
    try:
        reader, printers = kiosk_app.open_devices(settings)
    except DeviceUnavailable as e:
        raise CommandError(str(e)) from None
    store = open_store(settings)
    kiosk_app.prepare_kivy(settings.data_path / "kivy", headless=False)
    os.environ["KCFG_GRAPHICS_FULLSCREEN"] = "auto"
    os.environ["KCFG_GRAPHICS_SHOW_CURSOR"] = "0"
    try:
        app = kiosk_app.build_app(settings, store=store, reader=reader, printers=printers)
    except FormError as e:
        raise CommandError(f"The intake form cannot be used: {e}.") from None
    desk = None
    if settings.desk.enabled:
        desk = _start_desk(settings, printers, reader_state=lambda: reader.state.value,
                           wake=app.effects.wake_sync)
    # Its first round (purge, figures) once the welcome screen is up: nothing competes with the start.
    housekeeping = start_housekeeping(settings, store.reopen, after_s=10.0, printers=printers,
                                 reader_state=lambda: reader.state.value, preferred=True)
    try:
        app.run()
    finally:
        housekeeping.stop()
        if desk is not None:
            desk.stop()
    return EXIT_OK


def cmd_desk(args) -> int:
    """The desk web page on its own, without the kiosk screen, until stopped (SIGTERM or Ctrl-C)."""
    import signal
    import threading

    from kiosk.hardware.errors import DeviceUnavailable
    from kiosk.hardware.printing import open_printers
    settings = load_settings(args)
    open_store(settings).close()          # the store exists and opens (migrations) before serving
    try:
        printers = open_printers(settings)
    except DeviceUnavailable as e:
        raise CommandError(str(e)) from None
    desk = _start_desk(settings, printers)
    print(f"The desk page is at {desk.url}/ (stop with Ctrl-C).")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    housekeeping = start_housekeeping(settings, lambda: open_store(settings), printers=printers)
    try:
        stop.wait()
    finally:
        housekeeping.stop()
        desk.stop()
    return EXIT_OK


def _start_desk(settings: config.Settings, printers: dict, **staff_options):
    from kiosk.desk import web as desk
    try:
        return desk.serve(settings, desk.staff_factory(settings, printers=printers, **staff_options),
                          reprint_kinds=tuple(printers))
    except desk.DeskUnavailable as e:
        raise CommandError(f"{e}.", EXIT_NO_DEVICE) from None
