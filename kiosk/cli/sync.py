"""``kiosk sync``: the outbox delivered to the hospital system, until stopped or (--once) what is due now."""

from __future__ import annotations

import logging

from kiosk import config
from kiosk.checkin.forms import FormError
from kiosk.cli.common import EXIT_HOSPITAL, EXIT_OK, CommandError, load_settings, open_store, start_housekeeping

POLL_S = 2.0            # how often `kiosk sync`, apart from the app, looks for new admissions


def cmd_sync(args) -> int:
    """Deliver the outbox to the hospital system: until stopped, or (--once) what is due now."""
    from kiosk.checkin import forms

    settings = load_settings(args)
    transport_name = settings.hospital.transport
    if transport_name == "none" and not args.once:
        raise CommandError("There is nothing to run: hospital.transport is none in the config.")
    try:
        form = forms.load(settings.forms.intake)
    except FormError as e:
        raise CommandError(f"The intake form cannot be used: {e}.") from None
    # A delivery record lost in a power cut means a resend: harmless for FHIR (conditional
    # interactions), not for receivers that may not de-duplicate (HL7 v2, a drop folder).
    store = open_store(settings, power_safe=transport_name != "fhir")
    try:
        return _sync(args, settings, store, form)
    finally:
        store.close()


def _sync(args, settings: config.Settings, store, form) -> int:
    import signal
    import threading

    from kiosk.ops import sdnotify
    from kiosk.hospital import outbox, transports
    from kiosk.store import OutboxStatus

    transport_name = settings.hospital.transport
    if transport_name != "none":
        if args.retry_refused:
            print(f"{store.outbox_requeue(transport_name, 'cli')} refused admission(s) queued again.")
        try:
            transport = transports.open_transport(settings)
        except (OSError, ValueError) as e:
            raise CommandError(f"The connection to the hospital system cannot be set up: {e}.") from None
        # systemd's watchdog (kiosk-sync.service) hears from the worker after each message it tries, once a
        # round (at most POLL_S apart), and while it waits for the app's worker to finish a round.
        watched = not args.once and sdnotify.watchdog_interval() is not None
        worker = outbox.Sync(store, transport, form=form, retry_max_s=settings.hospital.retry_max_s,
                             alive=(lambda: sdnotify.notify("WATCHDOG=1")) if watched else (lambda: None))
        try:
            if not args.once:
                stop, wake = threading.Event(), threading.Event()

                def stop_now(*_):
                    stop.set()
                    wake.set()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, stop_now)
                housekeeping = start_housekeeping(settings, store.reopen)
                sdnotify.notify("READY=1", f"STATUS=delivering admissions ({transport_name})")
                try:
                    worker.run_forever(stop, wake, poll_s=POLL_S)
                finally:
                    housekeeping.stop()
                return EXIT_OK
            if not args.debug:
                logging.getLogger("kiosk.hospital.outbox").setLevel(logging.CRITICAL)   # the sentences below say it
            progress = worker.run_once(now_or_never=True)
        finally:
            transport.close()
        print(f"Delivered {progress.delivered} admission(s) to the hospital system ({transport_name}).")
        if progress.waiting:
            when = progress.next_due.astimezone().strftime("%H:%M:%S") if progress.next_due else "the next run"
            raise CommandError(f"{progress.waiting} admission(s) still wait to be delivered: "
                               f"{outbox.code(progress.last_reason) or 'not due yet'}; the next attempt is at {when}.",
                               EXIT_HOSPITAL)
    else:
        print("Nothing to deliver: hospital.transport is none, so admissions stay in the store.")
    dead = store.outbox_count(transport_name, OutboxStatus.DEAD) if transport_name != "none" else 0
    if dead:
        raise CommandError(f"{dead} admission(s) were refused by the hospital system and wait for staff "
                           "(incidents sync_rejected or duplicate_patient; --retry-refused sends them again).",
                           EXIT_HOSPITAL)
    elsewhere = store.undelivered_elsewhere(transport_name)
    if elsewhere:
        raise CommandError(f"{elsewhere} admission(s) wait for a transport no longer configured "
                           "(they were stored while hospital.transport was another).", EXIT_HOSPITAL)
    return EXIT_OK
