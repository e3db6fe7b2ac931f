"""``kiosk demo``: the kiosk with a simulated card reader and PNG printers on a throwaway store, with a
window or headless, and the samples sent to the hospital's test system with --send-samples."""

from __future__ import annotations

import base64
import dataclasses
import secrets
import shutil
import tempfile
from pathlib import Path

from kiosk import config
from kiosk.checkin.forms import FormError
from kiosk.cli.common import EXIT_HOSPITAL, EXIT_OK, CommandError, has_display, load_settings, open_store


def cmd_demo(args) -> int:
    """The kiosk with a simulated card reader and a printer that writes PNG files, on a throwaway store of its
    own: nothing of it reaches the configured store, and the hospital system only with --send-samples."""
    from kiosk.hardware.reader import sample_cards
    from kiosk.config import HospitalSettings, ReaderSettings

    settings = load_settings(args)
    if args.send_samples and settings.hospital.transport == "none":
        raise CommandError("There is nowhere to send the samples: hospital.transport is none in the config.")
    try:
        cards = sample_cards(Path(args.patients) if args.patients else None)
    except OSError as e:
        raise CommandError(f"The patients file {args.patients} cannot be read: {e.strerror}.") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CommandError(f"The patients file {args.patients} must be a JSON list of cards in the "
                           f"read-card --json shape, each with a \"patient\" object ({type(e).__name__}: {e}).") from None
    headless = args.headless
    if not headless and not has_display():
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
        store = open_store(settings, key=secrets.token_hex(32))
        try:
            return _demo(args, settings, store, cards, out, headless)
        finally:
            store.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)    # what it held is in the output folder


def _demo(args, settings: config.Settings, store, cards, out: Path, headless: bool) -> int:
    from kiosk import app as kiosk_app
    from kiosk.screens import demo
    from kiosk.hardware.preview import PreviewPrinter
    from kiosk.hardware.reader import SimulatedReader

    # Tickets and wristbands as PNG files: copied into the output folder by the headless walk, written there
    # directly when a person plays the patient.
    printer = PreviewPrinter(settings.data_path / "tickets" if headless else out / "tickets")
    site, arrivals = None, ()
    if headless and not args.send_samples:
        # A site service of the demo's own, on 127.0.0.1, with two sample patients who pre-checked in: one
        # arrives by scanning their code, the other's "Is this you?" is shown in every language.
        site, arrivals, settings = _demo_site(settings, cards[0], out)
    kiosk_app.prepare_kivy(settings.data_path / "kivy", headless=headless, demo=True)
    try:
        app = kiosk_app.build_app(settings, store=store, reader=SimulatedReader(cards),
                                  printers={"ticket": printer, "wristband": printer},
                                  sample_card_button=not headless,
                                  demo=demo.BANNER_SENDING if args.send_samples else demo.BANNER)
    except FormError as e:
        if site is not None:
            site.stop()
        raise CommandError(f"The intake form cannot be used: {e}.") from None
    if not headless:
        print(f"Tickets and wristbands are written to {printer.folder}; the demo's store goes when the demo ends.")
        app.run()
    else:
        try:
            summary = demo.run_headless(app, out, cards, tour=not args.send_samples, arrivals=arrivals)
            if site is not None:
                from kiosk.cli.demo_lobby import photograph_lobby
                photograph_lobby(site, settings, store, out)
        except demo.DemoError as e:
            raise CommandError(f"The demo stopped: {e}.", 1) from None
        finally:
            if site is not None:
                site.stop()
        _demo_summary(summary, out, tour=not args.send_samples)
    if args.send_samples:
        _send_samples(settings, store, app.flow.form)
    return EXIT_OK


def _demo_site(settings: config.Settings, card, out: Path) -> tuple:
    """The demo's site service (its own encrypted database in the demo's scratch folder) with two sample
    patients who finished their pre-check-in (the intake form answered, consent signed): the first on the
    patient pages, as on a phone (photographed into ``out``: kiosk.cli.demo_phone), the second directly.
    (the running service, the arrival QR texts, the kiosk's settings to reach it with a simulated scanner)."""
    from datetime import datetime, timedelta

    from kiosk.checkin import answers, forms, signature
    from kiosk.cli import demo_phone
    from kiosk.checkin.corrections import correct, draft
    from kiosk.config.sections import ScannerSettings
    from kiosk.messages import STANDARD_CONSENT
    from kiosk.site import invitations, precheck
    from kiosk.site.db import SITE_FILE, SiteDb, file_engine
    from kiosk.site.server import SiteService
    folder = settings.data_path / "site"
    secret = folder / "site.secret"
    folder.mkdir(mode=0o700)
    secret.write_text(secrets.token_hex(32) + "\n")
    secret.chmod(0o600)
    site_settings = settings.replace(desk=dataclasses.replace(settings.desk, peer_secret_file=str(secret), peers=()),
                                     site=dataclasses.replace(settings.site, public_url="http://127.0.0.1:8044",
                                                              patient_port=0, site_port=0, site_bind="127.0.0.1",
                                                              patient_bind="127.0.0.1", tls_cert="", tls_key="",
                                                              api_token_file="", smtp_url=""))
    db = SiteDb(file_engine(folder / SITE_FILE, secrets.token_hex(32)))
    db.create_schema()
    service = SiteService(db, site_settings).start()
    form = forms.load(settings.forms.intake)
    start = (datetime.now().astimezone() + timedelta(minutes=20)).replace(second=0, microsecond=0)
    qrs = []
    for n in (1, 2):
        request = invitations.parse_request({
            "appointment": {"id": f"demo-{n}", "start": start.isoformat(), "location": "Outpatients, ground floor"},
            "patient": card.person.to_fhir(), "language": settings.kiosk.languages[0]},
            default_language=settings.kiosk.languages[0])
        token, made = invitations.create(db, request)
        shown = draft(card.person)            # confirmed as the card has them
        if n == 1:
            try:
                demo_phone.walk(service.patient.url, invitations.link(service.patient.url, token), out,
                                birth_date=card.person.birth_date, details=shown, form=form, answer=_sample_answer)
            except Exception as e:            # the service's own pages failed: say so, the demo stops
                service.stop()
                raise CommandError(f"The demo stopped: the patient pages failed ({type(e).__name__}: {e}).", 1) from None
            code = precheck.arrival_code(db, made)
        else:
            precheck.save_contact(db, made, correct(card.person, tuple(shown["street"].split(",")),
                                                    shown["postal_code"], shown["city"], shown["phone"])[0])
            given: dict = {}
            while (q := next((q for q in answers.enabled(form, given) if q.link_id not in given), None)) is not None:
                given[q.link_id] = _sample_answer(q)
                precheck.save_answer(db, invitations.find(db, invitation_id=made.id), form, q.link_id, given[q.link_id])
            drawn = signature.render_png([[(0.1, 0.5), (0.3, 0.7), (0.5, 0.4), (0.8, 0.6)]], (600, 200))
            precheck.save_consent(db, made, "accepted", signature.text_id(STANDARD_CONSENT),
                                  base64.b64encode(drawn).decode("ascii"))
            code = precheck.finish(db, invitations.find(db, invitation_id=made.id))
        qrs.append(precheck.qr_text(site_settings.site.id, code))
    kiosk_settings = settings.replace(site=dataclasses.replace(settings.site, url=service.api.url),
                                      desk=dataclasses.replace(settings.desk, peer_secret_file=str(secret)),
                                      scanner=ScannerSettings(kind="simulated"))
    return service, tuple(qrs), kiosk_settings


def _sample_answer(q):
    """What the demo's pre-checked patients answered: no, the first option, one, a date, or a word."""
    kinds = {"boolean": False, "integer": 1, "decimal": 1.0, "date": "2000-01-01"}
    value = q.options[0].code if q.options else kinds.get(q.type, "-")
    return (value,) if q.repeats and q.type in ("choice", "open-choice") else value


def _demo_summary(summary: dict, out: Path, *, tour: bool) -> None:
    print(f"The demo checked in {len(summary['patients'])} sample patients and wrote to {out}/:")
    print(f"  {len(summary['screens'])} screenshots: p<N>-<step>-<screen>.png"
          + (", and every screen in every language with normal and larger text: "
             "screens/<language>/<screen>[-large].png" if tour else ""))
    problems = [f"{shot['file']}: {problem}" for shot in summary["screens"] for problem in shot.get("problems", ())]
    if problems:
        print(f"  {len(problems)} layout problems (too small to touch or read, cut off, out of the screen):")
        print("\n".join(f"    {line}" for line in problems))
    if any(out.glob("phone-*.png")):
        print("  the pre-checked patient's pages on a phone, before they came: phone-<N>-<page>.png")
    elif tour:
        print("  (Chromium is not installed: the patient pages on a phone are not photographed)")
    if (out / "waiting-list.png").exists():
        print("  the site's waiting list as staff see it, and the lobby display, after three calls: "
              "waiting-list.png, display-<name>.png")
    print("  printed tickets and wristbands: p<N>-ticket.png, p<N>-wristband.png; "
          "admissions as stored: p<N>-admission.json")
    print("  screens.json: what every screenshot shows, as text")


def _send_samples(settings: config.Settings, store, form) -> None:
    """What the demo's sample admissions still wait for, sent now through the configured connection (the
    app's own worker sent what it could while the demo ran); they carry the test-data marks."""
    from kiosk.hospital import outbox, transports
    from kiosk.store import OutboxStatus
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
    print(f"Sent {store.outbox_count(name, OutboxStatus.DELIVERED)} sample admission(s) to the hospital system "
          f"({name}), marked as test data (FHIR meta.security HTEST, HL7 v2 processing ID T).")
    refused = [row for row in store.outbox(OutboxStatus.DEAD) if row["destination"] == name]
    if progress.waiting or refused:
        why = (f"the hospital system refused {len(refused)} ({outbox.code(refused[0]['last_error'])})" if refused
               else f"{progress.waiting} could not be delivered ({outbox.code(progress.last_reason) or 'not due yet'})")
        raise CommandError(f"Not every sample reached the hospital system: {why}; the demo's store is gone with "
                           "the demo, so run it again once the cause is fixed.", EXIT_HOSPITAL)
