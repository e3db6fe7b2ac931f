"""``kiosk site``: the site service (docs/site.md): ``serve`` its two listeners, ``invite`` a patient, ``staff``:
the site's members of staff (the waiting list's)."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta

from kiosk.cli.common import EXIT_OK, CommandError, load_settings

EXIT_SITE = 1          # the site service itself: its database cannot be opened or reached


def open_site(settings):
    """The site service's database, or one sentence for IT."""
    import sqlalchemy as sa

    from kiosk.site.db import SITE_FILE, open_site_db
    from kiosk.store import DB_ERRORS, StoreLocked
    try:
        return open_site_db(settings)
    except StoreLocked as e:
        raise CommandError(str(e)) from None
    except sa.exc.SQLAlchemyError as e:
        where = "site.database_url" if settings.site.database_url else str(settings.data_path / SITE_FILE)
        cause = getattr(e, "orig", None) or e
        raise CommandError(f"The site service's database ({where}) cannot be used: "
                           f"{str(cause).strip().splitlines()[0]}.", EXIT_SITE) from None
    except (*DB_ERRORS, OSError) as e:
        raise CommandError(f"The site service's database {settings.data_path / SITE_FILE} cannot be used: "
                           f"{getattr(e, 'strerror', None) or e}; check kiosk.data_dir.", EXIT_SITE) from None


def cmd_site_serve(args) -> int:
    """The site service: the patient listener (the patient pages, published through the hospital's reverse
    proxy) and the site listener (the invitation API, for the site network), until stopped (SIGTERM or
    Ctrl-C)."""
    import signal
    import threading

    from kiosk.ops import sdnotify
    from kiosk.site.server import SiteService
    settings = load_settings(args)
    site = open_site(settings)
    try:
        service = SiteService(site, settings).start()
    except (OSError, ValueError) as e:       # address in use or not here; a certificate that does not load
        site.dispose()
        cause = e.__cause__ or e                  # cheroot wraps the socket's own error
        raise CommandError(f"The site service cannot listen: {getattr(cause, 'strerror', None) or cause}; check "
                           "the [site] settings.", EXIT_SITE) from None
    print(f"Patient pages at {service.patient.url}/, site API at {service.api.url}/ (stop with Ctrl-C).", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sdnotify.notify("READY=1")
    try:
        stop.wait()
    finally:
        sdnotify.notify("STOPPING=1")
        service.stop()
    return EXIT_OK


def cmd_site_invite(args) -> int:
    """Makes one invitation from the JSON body the invitation API takes (docs/site.md), read from standard
    input, so that no personal data goes on the command line; prints the patient's link and when it
    expires. With --from-fhir --date D: one invitation per booked Appointment of that day on the hospital's
    FHIR server (hospital.url)."""
    from kiosk.site import invitations
    settings = load_settings(args)
    if not settings.site.public_url:
        raise CommandError("site.public_url is not set, so there is no link to give; set it to where the reverse "
                           "proxy publishes the patient pages.")
    if args.from_fhir:
        return _invite_day(settings, args)
    try:
        body = json.loads(sys.stdin.read(1024 * 1024))
    except (ValueError, UnicodeDecodeError) as e:
        raise CommandError(f"Standard input is not JSON: {e}.") from None
    try:
        request = invitations.parse_request(body, default_language=settings.kiosk.languages[0])
        if isinstance(body, dict) and "replace" in body and not isinstance(body["replace"], bool):
            raise invitations.InvitationError("replace must be true or false.")
    except invitations.InvitationError as e:
        raise CommandError(str(e)) from None
    site = open_site(settings)
    try:
        answer = _invite(settings, site, request, replace=args.replace or body.get("replace", False))
    except invitations.InvitationExists as e:
        raise CommandError(str(e).replace("send replace: true", "give --replace")) from None
    finally:
        site.dispose()
    if args.json:
        print(json.dumps(answer))
    else:
        print(f"{answer['link']}\nThe link works until {answer['expires']}" + ("; it was e-mailed to the patient."
                                                                             if answer["emailed"] else "."))
    return EXIT_OK


def _invite(settings, site, request, *, replace: bool) -> dict:
    """Make the invitation and mail its link where the config says: what the API answers."""
    from kiosk.config import SUPPORTED_LANGUAGES
    from kiosk.i18n import Catalogs
    from kiosk.site import invitations, mail
    token, invitation = invitations.create(site, request, replace=replace)
    link = invitations.link(settings.site.public_url, token)
    return {"id": invitation.id, "link": link, "expires": request.expires.isoformat(),
            "emailed": mail.mail_link(settings, Catalogs(SUPPORTED_LANGUAGES), request, link)}


def _invite_day(settings, args) -> int:
    """--from-fhir: every booked Appointment of --date; one JSON object per appointment with --json, else a
    line each. Exit 0 when every one was invited (now or before), 9 when the server cannot be asked, 2 when
    some could not be (the sentence says which)."""
    import requests

    from kiosk.cli.common import EXIT_HOSPITAL
    from kiosk.site import from_fhir, invitations
    day = args.date or date.today() + timedelta(days=1)
    if settings.hospital.transport != "fhir":
        raise CommandError("--from-fhir needs the hospital's FHIR server: hospital.transport = fhir and hospital.url.")
    try:
        bundles = from_fhir.search_day(settings.hospital, day, settings.hospital.timeout_s)
    except (requests.RequestException, ValueError) as e:
        raise CommandError(f"The hospital's FHIR server did not give the day's appointments: {type(e).__name__}.",
                           EXIT_HOSPITAL) from None
    site = open_site(settings)
    rows, failed = [], 0
    try:
        for booked in from_fhir.booked(bundles, settings.kiosk.languages[0]):
            row = {"appointment": booked.appointment_id}
            try:
                if booked.body is None:
                    raise invitations.InvitationError(booked.problem)
                row.update(_invite(settings, site, invitations.parse_request(
                    booked.body, default_language=settings.kiosk.languages[0]), replace=False))
            except invitations.InvitationExists:
                row["invited_before"] = True
            except invitations.InvitationError as e:
                row["error"], failed = str(e), failed + 1
            rows.append(row)
    finally:
        site.dispose()
    for row in rows:
        if args.json:
            print(json.dumps(row))
        elif "link" in row:
            print(f"{row['appointment']}: {row['link']}" + (" (e-mailed)" if row["emailed"] else ""))
        else:
            print(f"{row['appointment']}: " + ("invited before" if row.get("invited_before") else row["error"]))
    if failed:
        raise CommandError(f"{failed} of {len(rows)} appointments of {day} could not be invited (see above).")
    return EXIT_OK


def cmd_site_staff(args) -> int:
    """The site's members of staff, who sign in to the waiting list with their name and PIN (the kiosks' own
    staff are ``kiosk staff``): ``add NAME`` (the PIN asked twice at a terminal, or the first line of stdin),
    ``list``, ``remove NAME``."""
    from kiosk.cli.staff import _read_pin
    from kiosk.signin import StaffError
    from kiosk.site.staff import SiteStaff
    settings = load_settings(args)
    site = open_site(settings)
    try:
        staff = SiteStaff(site)
        if args.staff_command == "add":
            name = staff.add(args.name, _read_pin(), language=args.language or "", actor="it")
            print(f"Added {name} to the site's staff.")
        elif args.staff_command == "remove":
            staff.remove(args.name, actor="it")
            print(f"Removed {args.name.strip()} from the site's staff.")
        else:
            members = staff.members()
            if args.json:
                print(json.dumps(members, ensure_ascii=False, indent=2))
            elif not members:
                print("The site has no members of staff yet (kiosk site staff add NAME).")
            for m in members if not args.json else ():
                locked = f", locked until {m['locked_until']}" if m["locked_until"] else ""
                language = m["language"] or "the site's first language"
                print(f"{m['name']}: pages in {language}{locked}")
    except StaffError as e:
        raise CommandError(str(e)) from None
    finally:
        site.dispose()
    return EXIT_OK


def cmd_site_report(args) -> int:
    """The managers' report of one day's waits (kiosk.site.report): ``waits`` writes waits-<date>.csv (per hour of
    check-in and queue: checked in, called, median, 90th percentile and longest minutes from check-in to the first
    call) and waits-<date>.png (a chart of the same) into --out, and prints where. Nothing of any patient."""
    from kiosk.config import SUPPORTED_LANGUAGES
    from kiosk.i18n import Catalogs
    from kiosk.site import report
    settings = load_settings(args)
    day = (args.date or date.today()).isoformat()
    out = args.out
    site = open_site(settings)
    try:
        rows = report.rows(site, day)
    finally:
        site.dispose()
    try:
        out.mkdir(parents=True, exist_ok=True)
        csv_path, png_path = out / f"waits-{day}.csv", out / f"waits-{day}.png"
        report.write_csv(rows, csv_path)
        names = {q.prefix: q.name for q in settings.queues.queues().queues}
        report.draw(rows, png_path, day, names, Catalogs(SUPPORTED_LANGUAGES), args.language or settings.kiosk.languages[0])
    except OSError as e:
        raise CommandError(f"The report cannot be written to {out}: {e.strerror or e}.") from None
    summary = {"date": day, "csv": str(csv_path), "png": str(png_path),
               "checked_in": sum(r["checked_in"] for r in rows), "called": sum(r["called"] for r in rows)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{day}: {summary['checked_in']} checked in, {summary['called']} called. Wrote {csv_path} and {png_path}.")
    return EXIT_OK
