"""The ``kiosk`` command: thin subcommands over the library (docs/cli.md, the command-line contract).

Exit codes: 0 ok, 1 the kiosk itself (doctor: permissions, store, disk, clock), 2 usage or config error,
3 device not found, 4 timed out waiting for a card, 5 unsupported card, 6 card data invalid, 7 card removed
during the read, 8 printer fault, 9 hospital system unreachable or refused.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from kiosk import arguments, config
from kiosk.ops import logs
from kiosk.checkin.forms import FormError

EXIT_OK, EXIT_USAGE, EXIT_NO_DEVICE, EXIT_TIMEOUT, EXIT_PRINTER, EXIT_HOSPITAL = 0, 2, 3, 4, 8, 9
POLL_S = 2.0            # how often `kiosk sync`, apart from the app, looks for new admissions
WAIT_S = (0.1, 3600.0)  # what `kiosk read-card --wait` takes


class CommandError(Exception):
    """Ends the command with one sentence on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def _settings(args) -> config.Settings:
    settings = getattr(args, "settings", None) or config.load(config.config_path(args.config))
    logs.set_level(settings.log.level, debug=args.debug)
    return settings


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_run(args) -> int:
    """The kiosk, fullscreen, with the devices the config names."""
    from kiosk import app as kiosk_app
    from kiosk.hardware.reader import DeviceUnavailable
    settings = _settings(args)
    if not _has_display():
        raise CommandError("There is no display to show the kiosk on (neither DISPLAY nor WAYLAND_DISPLAY is set).",
                           EXIT_NO_DEVICE)
    try:
        reader, printers = kiosk_app.open_devices(settings)
    except DeviceUnavailable as e:
        raise CommandError(str(e)) from None
    store = _open_store(settings)
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
                           wake=lambda: app.sync and app.sync.wake())
    # Its first round (purge, figures) once the welcome screen is up: nothing competes with the start.
    housekeeping = _housekeeping(settings, store.reopen, after_s=10.0, printers=printers,
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

    from kiosk.hardware.reader import DeviceUnavailable
    from kiosk.hardware.printing import open_printers
    settings = _settings(args)
    _open_store(settings).close()          # the store exists and opens (migrations) before serving
    try:
        printers = open_printers(settings)
    except DeviceUnavailable as e:
        raise CommandError(str(e)) from None
    desk = _start_desk(settings, printers)
    print(f"The desk page is at {desk.url}/ (stop with Ctrl-C).")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    housekeeping = _housekeeping(settings, lambda: _open_store(settings), printers=printers)
    try:
        stop.wait()
    finally:
        housekeeping.stop()
        desk.stop()
    return EXIT_OK


def _housekeeping(settings: config.Settings, open_store, after_s: float = 0.0, **devices):
    """The retention purge and the metrics, started on a thread of their own, which calls ``open_store`` for
    its own store connection; its first round ``after_s`` from now; ``devices`` as
    kiosk.ops.housekeeping.Housekeeping takes them."""
    from kiosk.ops.housekeeping import Housekeeping
    return Housekeeping(settings, open_store, **devices).start(after_s=after_s)


def _start_desk(settings: config.Settings, printers: dict, **staff_options):
    from kiosk.desk import web as desk
    try:
        return desk.serve(settings, desk.staff_factory(settings, printers=printers, **staff_options),
                          reprint_kinds=tuple(printers))
    except desk.DeskUnavailable as e:
        raise CommandError(f"{e}.", EXIT_NO_DEVICE) from None


def cmd_demo(args) -> int:
    """The kiosk with a simulated card reader and a printer that writes PNG files, on a throwaway store of its
    own: nothing of it reaches the configured store, and the hospital system only with --send-samples."""
    from kiosk import app as kiosk_app
    from kiosk.config import HospitalSettings, ReaderSettings

    settings = _settings(args)
    if args.send_samples and settings.hospital.transport == "none":
        raise CommandError("There is nowhere to send the samples: hospital.transport is none in the config.")
    try:
        cards = kiosk_app.sample_cards(Path(args.patients) if args.patients else None)
    except OSError as e:
        raise CommandError(f"The patients file {args.patients} cannot be read: {e.strerror}.") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CommandError(f"The patients file {args.patients} must be a JSON list of cards in the "
                           f"read-card --json shape, each with a \"patient\" object ({type(e).__name__}: {e}).") from None
    headless = args.headless
    if not headless and not _has_display():
        print("There is no display here, so the demo walks the sample patients through the kiosk headless "
              f"and writes what it shows to {args.out}/.")
        headless = True
    out = Path(args.out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CommandError(f"The output folder {out} cannot be created: {e.strerror}.") from None
    # Never the configured store, nor (without --send-samples) the hospital system: sample patients in a
    # real hospital are exactly what must not happen. The store is encrypted with a key only this process knows.
    scratch = Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
    settings = settings.replace(kiosk=dataclasses.replace(settings.kiosk, data_dir=str(scratch)),
                                reader=ReaderSettings(kind="simulated"),
                                hospital=settings.hospital if args.send_samples else HospitalSettings())
    try:
        store = _open_store(settings, key=secrets.token_hex(32))
        try:
            return _demo(args, settings, store, cards, out, headless)
        finally:
            store.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)    # what it held is in the output folder


def _demo(args, settings: config.Settings, store, cards, out: Path, headless: bool) -> int:
    from kiosk import app as kiosk_app
    from kiosk.screens import demo
    from kiosk.hardware.printer import PreviewPrinter
    from kiosk.hardware.reader import SimulatedReader

    # Tickets and wristbands as PNG files: copied into the output folder by the headless walk, written there
    # directly when a person plays the patient.
    printer = PreviewPrinter(settings.data_path / "tickets" if headless else out / "tickets")
    kiosk_app.prepare_kivy(settings.data_path / "kivy", headless=headless, demo=True)
    try:
        app = kiosk_app.build_app(settings, store=store, reader=SimulatedReader(cards),
                                  printers={"ticket": printer, "wristband": printer},
                                  sample_card_button=not headless,
                                  demo=demo.BANNER_SENDING if args.send_samples else demo.BANNER)
    except FormError as e:
        raise CommandError(f"The intake form cannot be used: {e}.") from None
    if not headless:
        print(f"Tickets and wristbands are written to {printer.folder}; the demo's store goes when the demo ends.")
        app.run()
    else:
        try:
            summary = demo.run_headless(app, out, cards, tour=not args.send_samples)
        except demo.DemoError as e:
            raise CommandError(f"The demo stopped: {e}.", 1) from None
        _demo_summary(summary, out, tour=not args.send_samples)
    if args.send_samples:
        _send_samples(settings, store, app.flow.form)
    return EXIT_OK


def _demo_summary(summary: dict, out: Path, *, tour: bool) -> None:
    print(f"The demo checked in {len(summary['patients'])} sample patients and wrote to {out}/:")
    print(f"  {len(summary['screens'])} screenshots: p<N>-<step>-<screen>.png"
          + (", and every screen in every language with normal and larger text: "
             "screens/<language>/<screen>[-large].png" if tour else ""))
    problems = [f"{shot['file']}: {problem}" for shot in summary["screens"] for problem in shot.get("problems", ())]
    if problems:
        print(f"  {len(problems)} layout problems (too small to touch or read, cut off, out of the screen):")
        print("\n".join(f"    {line}" for line in problems))
    print("  printed tickets and wristbands: p<N>-ticket.png, p<N>-wristband.png; "
          "admissions as stored: p<N>-admission.json")
    print("  screens.json: what every screenshot shows, as text")


def _send_samples(settings: config.Settings, store, form) -> None:
    """What the demo's sample admissions still wait for, sent now through the configured connection (the
    app's own worker sent what it could while the demo ran); they carry the test-data marks."""
    from kiosk.hospital import outbox, transports
    name = settings.hospital.transport
    try:
        transport = transports.open_transport(settings)
    except (OSError, ValueError) as e:
        raise CommandError(f"The connection to the hospital system cannot be set up: {e}.") from None
    try:
        progress = outbox.Sync(store, transport, form=form,
                               retry_max_s=settings.hospital.retry_max_s).run_once(now_or_never=True)
    finally:
        transport.close()
    print(f"Sent {store.outbox_count(name, 'delivered')} sample admission(s) to the hospital system ({name}), marked "
          "as test data (FHIR meta.security HTEST, HL7 v2 processing ID T).")
    refused = [row for row in store.outbox("dead") if row["destination"] == name]
    if progress.waiting or refused:
        why = (f"the hospital system refused {len(refused)} ({outbox.code(refused[0]['last_error'])})" if refused
               else f"{progress.waiting} could not be delivered ({outbox.code(progress.last_reason) or 'not due yet'})")
        raise CommandError(f"Not every sample reached the hospital system: {why}; the demo's store is gone with "
                           "the demo, so run it again once the cause is fixed.", EXIT_HOSPITAL)


def cmd_print(args) -> int:
    """Print a sample ticket or wristband, or one of a stored admission (the last one by default)."""
    from datetime import datetime, timezone

    from kiosk.hardware import printing
    from kiosk.hardware.printer import REASONS, open_printer
    from kiosk.hardware.reader import DeviceUnavailable
    from kiosk.i18n import Catalogs
    from kiosk.checkin.model import Admission, Identifier, Person
    from kiosk.store import PrintInProgress

    if args.sample and args.admission:
        raise CommandError("Give either --sample or --admission, not both.")
    if not args.debug:
        logging.getLogger("kiosk.hardware.printing").setLevel(logging.CRITICAL)   # the one sentence below says it
    settings = _settings(args)
    section = getattr(settings.printer, args.what)
    try:
        printer = open_printer(args.printer, settings.kiosk.data_dir, profile=args.profile or section.profile,
                               timeout_s=section.timeout_s)
    except DeviceUnavailable as e:
        raise CommandError(str(e)) from None
    store = None
    if args.sample:
        admission = Admission(id="00000000-0000-4000-8000-000000000000", kiosk_id=settings.kiosk.id,
                              created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              language=settings.kiosk.languages[0], identified_by="sample", test_data=True,
                              person=Person(family="Mustermann-Çelik", given=("Zoë", "Jürgen"), birth_date="1980-07-14",
                                            identifiers=(Identifier("sample", "X123456789"),)),
                              queue_number=f"{settings.kiosk.queue_prefix}-000")
    else:
        store = _open_store(settings)
        admission = _stored_admission(store, args.admission)
    layout = printing.layout_for(args.what, admission, Catalogs([admission.language]), settings)
    if store is None:
        outcome = printing.attempt(printer, layout)
    else:
        try:
            outcome = printing.reprint(store, printer, layout, args.what, actor="cli")
        except PrintInProgress:
            raise CommandError(f"The {args.what} of admission {admission.queue_number} is being printed right now; "
                               "wait for it before printing it again.") from None
    if outcome.status == "failed":
        code = EXIT_NO_DEVICE if outcome.reason in ("unreachable", "not_a_printer") else EXIT_PRINTER
        raise CommandError(f"The {args.what} was not printed: {REASONS.get(outcome.reason, outcome.reason)} "
                           f"({args.printer}).", code)
    where = f" to {outcome.path}" if outcome.path else ""
    print(f"Printed the {args.what} of {admission.queue_number}{where}.")
    if outcome.status == "unconfirmed":
        print("The printer did not report its status after the job: check that it came out.")
    if outcome.paper_low:
        print("The printer's paper is nearly used up.")
    return EXIT_OK


def _stored_admission(store, admission_id: str | None):
    from sqlite_utils.db import NotFoundError
    if admission_id:
        try:
            admission = store.get_admission(admission_id)
        except NotFoundError:
            raise CommandError(f"There is no admission {admission_id} in the store.") from None
    else:
        admission = store.last_admission()
    if admission is None:
        raise CommandError("There is no admission in the store yet; use --sample to print a sample.")
    wiped_at = store.admission_state(admission.id)["wiped_at"]
    if wiped_at:
        raise CommandError(f"The personal data of admission {admission.queue_number} was wiped at {wiped_at} "
                           "(store.retention_h): there is nothing of it to print.")
    return admission


def cmd_read_card(args) -> int:
    """Wait for a card, read it, print it as one JSON object."""
    from kiosk.hardware.cards.apdu import CardError
    from kiosk.hardware.pcsc import PcscUnavailable, read_one

    settings = _settings(args)
    names = (args.reader,) if args.reader else settings.reader.names
    try:
        card = read_one(names, args.wait)
    except PcscUnavailable as e:
        raise CommandError(f"No card reader to read from: {e}.", EXIT_NO_DEVICE) from None
    except TimeoutError as e:
        raise CommandError(f"No card: {e}.", EXIT_TIMEOUT) from None
    except CardError as e:
        sentence = {"unsupported": "This card is not one the kiosk reads (eGK or Belgian eID)",
                    "removed": "The card was taken out during the read; leave it in until the read is done"
                    }.get(e.reason, "The card's data cannot be used")
        raise CommandError(f"{sentence}: {e}.", e.exit_code) from None
    print(json.dumps(card.to_json(), ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_sync(args) -> int:
    """Deliver the outbox to the hospital system: until stopped, or (--once) what is due now."""
    from kiosk.checkin import forms

    settings = _settings(args)
    transport_name = settings.hospital.transport
    if transport_name == "none" and not args.once:
        raise CommandError("There is nothing to run: hospital.transport is none in the config.")
    try:
        form = forms.load(settings.forms.intake)
    except FormError as e:
        raise CommandError(f"The intake form cannot be used: {e}.") from None
    # A delivery record lost in a power cut means a resend: harmless for FHIR (conditional
    # interactions), not for receivers that may not de-duplicate (HL7 v2, a drop folder).
    store = _open_store(settings, power_safe=transport_name != "fhir")
    try:
        return _sync(args, settings, store, form)
    finally:
        store.close()


def _sync(args, settings: config.Settings, store, form) -> int:
    import signal
    import threading

    from kiosk.hospital import outbox, transports
    from kiosk.ops import sdnotify

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
                housekeeping = _housekeeping(settings, store.reopen)
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
    dead = store.outbox_count(transport_name, "dead") if transport_name != "none" else 0
    if dead:
        raise CommandError(f"{dead} admission(s) were refused by the hospital system and wait for staff "
                           "(incidents sync_rejected or duplicate_patient; --retry-refused sends them again).",
                           EXIT_HOSPITAL)
    elsewhere = store.undelivered_elsewhere(transport_name)
    if elsewhere:
        raise CommandError(f"{elsewhere} admission(s) wait for a transport no longer configured "
                           "(they were stored while hospital.transport was another).", EXIT_HOSPITAL)
    return EXIT_OK


def cmd_staff_add(args) -> int:
    """Add a member of staff: the PIN is read from the terminal twice (or one line of stdin), and each
    badge given as "--badge -" is read the same way after it (asked at the terminal without echo, or the
    next line of stdin)."""
    with _staff(args) as staff:
        pin = _read_pin()
        badges = tuple(_read_badge() if badge == "-" else badge for badge in args.badge)
        staff.add_member(args.name, pin, badges, actor="it")
    print(f"Added {args.name.strip()} to the staff ({len(badges)} badge(s)).")
    return EXIT_OK


@contextlib.contextmanager
def _staff(args):
    """The staff actions on the configured store, closed afterwards; what staff cannot do is one sentence."""
    from kiosk.desk.staff import Staff, StaffError
    store = _open_store(_settings(args))
    try:
        yield Staff(store)
    except StaffError as e:
        raise CommandError(str(e)) from None
    finally:
        store.close()


def _read_badge() -> str:
    """A badge identifier (a staff member's own card number, e.g. the KVNR of their eGK), never from
    argv: asked without echo at a terminal, else the next line of stdin."""
    if sys.stdin.isatty():
        import getpass
        badge = getpass.getpass("Badge (the card identifier): ").strip()
    else:
        badge = sys.stdin.readline().strip()
    if not badge:
        raise CommandError("No badge identifier was given; nothing was added.")
    return badge


def _read_pin() -> str:
    """The PIN, never from argv: typed twice without echo at a terminal, else the first line of stdin
    (for IT's scripts)."""
    if sys.stdin.isatty():
        import getpass
        pin = getpass.getpass("PIN (4 to 12 digits): ")
        if getpass.getpass("The same PIN again: ") != pin:
            raise CommandError("The two PINs differ; nothing was added.")
        return pin
    return sys.stdin.readline().rstrip("\r\n")


def cmd_staff_list(args) -> int:
    """The members of staff: name, how many badges, and whether wrong PINs have locked them."""
    with _staff(args) as staff:
        # Badges are staff members' own card numbers: only how many there are is shown.
        members = [{"name": m["name"], "badges": len(m["badges"]), "locked_until": m["locked_until"]}
                   for m in staff.members()]
    if args.json:
        print(json.dumps(members, ensure_ascii=False, indent=2))
    elif not members:
        print("There are no members of staff yet (kiosk staff add NAME).")
    for m in members if not args.json else ():
        locked = f", locked until {m['locked_until']}" if m["locked_until"] else ""
        print(f"{m['name']}: {m['badges']} badge(s){locked}")
    return EXIT_OK


def cmd_staff_remove(args) -> int:
    """Remove a member of staff; what they did stays in the audit trail."""
    with _staff(args) as staff:
        staff.remove_member(args.name, actor="it")
    print(f"Removed {args.name.strip()} from the staff.")
    return EXIT_OK


def cmd_doctor(args) -> int:
    """Checks everything the kiosk needs (config, store, card reader, printers, hospital system, disk,
    clock) and prints a table; exit 0 only when all pass."""
    from kiosk.ops import doctor
    rows = doctor.run(config.config_path(args.config))
    if args.json:
        print(json.dumps(doctor.report(rows), ensure_ascii=False, indent=2))
    else:
        tty = sys.stdout.isatty()
        print(doctor.table(rows, width=shutil.get_terminal_size().columns if tty else None,
                           colour=tty and not os.environ.get("NO_COLOR")))
    return doctor.exit_code(rows)


def _open_store(settings: config.Settings, **options):
    from kiosk.app import open_store
    from kiosk.store import DB_ERRORS, StoreLocked
    try:
        return open_store(settings, **options)
    except StoreLocked as e:
        raise CommandError(str(e)) from None
    except DB_ERRORS as e:
        raise CommandError(f"The store {settings.data_path / 'kiosk.db'} cannot be used: {e}.") from None
    except OSError as e:
        raise CommandError(f"The store in {settings.kiosk.data_dir} cannot be opened: {e.strerror or e}; "
                           "check kiosk.data_dir.") from None


def _common_options(default) -> argparse.ArgumentParser:
    options = arguments.Parser(add_help=False)
    options.add_argument("--config", metavar="FILE", default=default, type=arguments.existing_file,
                         help=f"settings file (default: ${config.CONFIG_ENV}, else {config.DEFAULT_CONFIG_PATH}, "
                              "else built-in defaults)")
    options.add_argument("--debug", action="store_true", default=default, help="show stack traces and debug logs")
    return options


def parser() -> argparse.ArgumentParser:
    # --config and --debug work before and after the subcommand; the subcommand's copy must not
    # overwrite what was given before it, hence SUPPRESS there.
    common = _common_options(argparse.SUPPRESS)
    top = arguments.Parser(
        prog="kiosk", parents=[_common_options(None)],
        description="Self-service admission kiosk for hospital and clinic lobbies.",
        epilog="Exit codes: 0 ok, 1 the kiosk itself (doctor: permissions, store, disk, clock), 2 usage or config "
               "error, 3 device not found, 4 timed out waiting, 5 unsupported card, 6 card data invalid, 7 card "
               "removed during the read, 8 printer fault, 9 hospital system unreachable or refused; a value that "
               "makes no sense (out of range, a file that is not there) is a usage error, one sentence naming the "
               "option. Run as root "
               "(sudo), a command goes on as the owner of kiosk.data_dir once it has read the config and the store "
               "key, so that the files it writes stay the kiosk user's.")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", parents=[common], help="run the kiosk fullscreen with the configured devices",
                       description=cmd_run.__doc__)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", parents=[common], help="run the kiosk with a simulated card reader and printer",
                       description="The kiosk with a simulated card reader and a printer that writes PNG files. "
                                   "Forms, languages and consent come from the config; the store is a throwaway "
                                   "one of its own, and the hospital system is reached only with --send-samples. "
                                   "Every screen says that it is a demo, and tickets and wristbands say 'Sample'.")
    p.add_argument("--headless", action="store_true",
                   help="walk scripted patients through the screens on a virtual display and write screenshots, "
                        "tickets and admissions into --out")
    p.add_argument("--out", default="demo-out", type=arguments.output_folder, metavar="DIR",
                   help="folder for what the demo writes (the headless walk's screenshots, tickets and admissions; "
                        "the tickets of a demo with a window), made if it is not there (default: demo-out)")
    p.add_argument("--patients", metavar="FILE", type=arguments.existing_file,
                   help="JSON list of sample patients in the read-card --json shape, one check-in each")
    p.add_argument("--send-samples", action="store_true",
                   help="send the sample patients' admissions to the configured hospital system (its test system, "
                        "before going live), marked as test data; without it the demo never reaches the hospital "
                        "system. Exit 9 when they did not all arrive")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("read-card", parents=[common], help="wait for a card, read it, print it as JSON",
                       description="Waits for a card, reads it and prints one JSON object (docs/cli.md).")
    p.add_argument("--json", action="store_true", help="print the card as JSON (the only output form there is)")
    p.add_argument("--reader", metavar="TEXT", type=arguments.reader_name,
                   help="use the reader whose name contains TEXT (1 to 128 characters)")
    p.add_argument("--wait", type=arguments.seconds(*WAIT_S), default=30.0, metavar="SECONDS",
                   help=f"how long to wait for a card, {WAIT_S[0]:g} to {WAIT_S[1]:g} (default 30)")
    p.set_defaults(func=cmd_read_card)

    p = sub.add_parser("print", parents=[common], help="print a sample or the last admission's ticket or wristband",
                       description=cmd_print.__doc__,
                       epilog="Exit 3 when the printer cannot be reached, 8 when it reports a fault (paper out, "
                              "cover open, offline, cutter) or drops the connection.")
    p.add_argument("what", choices=["ticket", "wristband"], help="what to print")
    p.add_argument("--printer", required=True, metavar="URI", type=arguments.printer_uri,
                   help="tcp://host:9100, usb://VID:PID, serial:///dev/ttyUSB0?baudrate=19200, file:///dev/usb/lp0, "
                        "cups://queue or preview:DIR")
    p.add_argument("--sample", action="store_true", help="print a sample instead of a stored admission")
    p.add_argument("--admission", metavar="ID", type=arguments.admission_id,
                   help="the stored admission to print, by its id (default: the last one)")
    p.add_argument("--profile", metavar="NAME", type=arguments.printer_profile,
                   help="python-escpos printer profile (default: printer.ticket.profile or printer.wristband.profile)")
    p.set_defaults(func=cmd_print)

    p = sub.add_parser("sync", parents=[common], help="deliver queued admissions to the hospital system",
                       description=cmd_sync.__doc__)
    p.add_argument("--once", action="store_true",
                   help="deliver what is due now, then exit: 0 when nothing is left undelivered, 9 otherwise")
    p.add_argument("--retry-refused", action="store_true",
                   help="first queue the admissions the hospital system refused again (once the cause is fixed)")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("desk", parents=[common], help="serve the desk web page for front-desk staff",
                       description=cmd_desk.__doc__ + " Listens where [desk] says (desk.bind, desk.port, TLS with "
                                   "desk.tls_cert); `kiosk run` serves it itself when desk.enabled is true.")
    p.set_defaults(func=cmd_desk)

    p = sub.add_parser("staff", parents=[common], help="add, list or remove the staff who may use staff mode",
                       description="Members of staff sign in to staff mode on the kiosk and to the desk page with "
                                   "their name and PIN, or with a badge (their own card). PINs are stored only as "
                                   "salted scrypt hashes; five wrong PINs lock a name for five minutes.")
    actions = p.add_subparsers(dest="staff_command", metavar="ACTION", required=True,
                               help="add, list or remove")
    q = actions.add_parser("add", parents=[common], help="add a member; the PIN is asked twice (or read from stdin)",
                           description=cmd_staff_add.__doc__ + " Never give the PIN on the command line.")
    q.add_argument("name", type=arguments.staff_name, help="the name shown in the audit trail, e.g. Dana K. (1 to 64 "
                                                             "characters)")
    q.add_argument("--badge", action="append", default=[], metavar="ID", type=arguments.badge,
                   help="a card identifier that signs this member in (e.g. the KVNR of their own eGK); "
                        "repeatable. Give '-' to have it read like the PIN (asked without echo, or the next "
                        "line of stdin), so that the card number stays out of the process list and the "
                        "shell history")
    q.set_defaults(func=cmd_staff_add)
    q = actions.add_parser("list", parents=[common], help="list the members", description=cmd_staff_list.__doc__)
    q.add_argument("--json", action="store_true", help="print the members as JSON")
    q.set_defaults(func=cmd_staff_list)
    q = actions.add_parser("remove", parents=[common], help="remove a member", description=cmd_staff_remove.__doc__)
    q.add_argument("name", type=arguments.staff_name, help="the member's name as listed")
    q.set_defaults(func=cmd_staff_remove)

    p = sub.add_parser("doctor", parents=[common],
                       help="check config, store, card readers, printers, hospital endpoint, disk and clock",
                       description=cmd_doctor.__doc__,
                       epilog="Rows: config, permissions (config file and the secret files it names), store, "
                              "card reader, each printer, hospital, outbox, disk, clock; each ok, warn or fail "
                              "with what to do. The exit code is the first failing row's: 2 config, 3 card reader, "
                              "pcscd or printer not there, 8 printer fault, 9 hospital system, 1 the kiosk itself "
                              "(permissions, store, disk, clock); warnings keep exit 0.")
    p.add_argument("--json", action="store_true",
                   help='print one JSON object instead of the table: {"ok", "exit_code", "checks": '
                        '[{"check", "status", "detail", "exit_code"}]}')
    p.set_defaults(func=cmd_doctor)
    return top


def _run_as_data_owner(args) -> None:
    """Started as root (IT's `sudo kiosk staff add`, `doctor`, `sync --once`) with a data_dir that
    belongs to another user (the kiosk's): go on as that user, with its groups, so that no file in data_dir
    ends up root's and unreadable to the kiosk. The store key is read first, while root may still read a
    root-only key file, and handed on in KIOSK_STORE_KEY. The demo stays as it is: it writes nothing into
    data_dir (its store is a temporary folder)."""
    if os.geteuid() != 0 or args.func is cmd_demo:
        return
    import pwd

    from kiosk.store import KEY_ENV, StoreLocked, read_key
    try:
        settings = args.settings = config.load(config.config_path(args.config))   # read once: _settings
    except config.ConfigError:
        return                   # the command itself says what is wrong with the config (doctor: in its table)
    try:
        owner = settings.data_path.stat()
    except OSError:
        return                   # not there yet: the command makes it (or says why it cannot)
    if owner.st_uid == 0:
        return
    try:
        key = read_key(settings.store)
    except StoreLocked:
        key = None               # the command says so if it needs the store
    if key:
        os.environ[KEY_ENV] = key
    try:
        try:
            user = pwd.getpwuid(owner.st_uid)
            os.initgroups(user.pw_name, user.pw_gid)
            gid = user.pw_gid
        except KeyError:         # no such user in /etc/passwd: its ids only
            os.setgroups([])
            gid = owner.st_gid
        os.setgid(gid)
        os.setuid(owner.st_uid)
    except OSError as e:
        raise CommandError(f"Started as root, the kiosk cannot go on as the owner of {settings.data_path} "
                           f"(uid {owner.st_uid}): {e.strerror or e}.") from None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.debug = bool(args.debug)
    if args.func is not cmd_run:
        gc.enable()          # paused by the `kiosk` command while the modules loaded (kiosk.__main__)
    # INFO until the config is read (its errors come first), then settings.log.level (_settings).
    logs.setup(debug=args.debug)
    umask = os.umask(0o077)  # everything the kiosk writes is its user's only (the store: 0600, its folder 0700)
    try:
        _run_as_data_owner(args)
        return args.func(args)
    except (CommandError, config.ConfigError) as e:
        if args.debug:
            logging.exception("command failed")
        print(f"{logs.priority_prefix(logging.ERROR)}kiosk: {e}", file=sys.stderr)
        return getattr(e, "code", EXIT_USAGE)
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(umask)      # for a caller that runs main() in its own process (the tests)
