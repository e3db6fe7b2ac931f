"""The ``kiosk`` command's argparse tree: every subcommand, its options and its help (docs/cli.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk import config
from kiosk.cli import arguments
from kiosk.cli import demo, devices, run, site, staff, sync

WAIT_S = (0.1, 3600.0)  # what `kiosk read-card --wait` takes


def _common_options(default) -> argparse.ArgumentParser:
    options = arguments.Parser(add_help=False)
    options.add_argument("--config", metavar="FILE", default=default, type=arguments.existing_file,
                         help=f"settings file (default: ${config.CONFIG_ENV}, else {config.DEFAULT_CONFIG_PATH}, "
                              "else built-in defaults)")
    options.add_argument("--debug", action="store_true", default=default, help="show stack traces and debug logs")
    return options


def build() -> argparse.ArgumentParser:
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
                       description=run.cmd_run.__doc__)
    p.set_defaults(func=run.cmd_run)

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
    p.set_defaults(func=demo.cmd_demo)

    p = sub.add_parser("read-card", parents=[common], help="wait for a card, read it, print it as JSON",
                       description="Waits for a card, reads it and prints one JSON object (docs/cli.md).")
    p.add_argument("--json", action="store_true", help="print the card as JSON (the only output form there is)")
    p.add_argument("--reader", metavar="TEXT", type=arguments.reader_name,
                   help="use the reader whose name contains TEXT (1 to 128 characters)")
    p.add_argument("--wait", type=arguments.seconds(*WAIT_S), default=30.0, metavar="SECONDS",
                   help=f"how long to wait for a card, {WAIT_S[0]:g} to {WAIT_S[1]:g} (default 30)")
    p.set_defaults(func=devices.cmd_read_card)

    p = sub.add_parser("print", parents=[common], help="print a sample or the last admission's ticket or wristband",
                       description=devices.cmd_print.__doc__,
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
    p.set_defaults(func=devices.cmd_print)

    p = sub.add_parser("sync", parents=[common], help="deliver queued admissions to the hospital system",
                       description=sync.cmd_sync.__doc__)
    p.add_argument("--once", action="store_true",
                   help="deliver what is due now, then exit: 0 when nothing is left undelivered, 9 otherwise")
    p.add_argument("--retry-refused", action="store_true",
                   help="first queue the admissions the hospital system refused again (once the cause is fixed)")
    p.set_defaults(func=sync.cmd_sync)

    p = sub.add_parser("desk", parents=[common], help="serve the desk web page for front-desk staff",
                       description=run.cmd_desk.__doc__ + " Listens where [desk] says (desk.bind, desk.port, TLS with "
                                   "desk.tls_cert); `kiosk run` serves it itself when desk.enabled is true.")
    p.set_defaults(func=run.cmd_desk)

    p = sub.add_parser("staff", parents=[common], help="add, list or remove the staff who may use staff mode",
                       description="Members of staff sign in to staff mode on the kiosk and to the desk page with "
                                   "their name and PIN, or with a badge (their own card). PINs are stored only as "
                                   "salted scrypt hashes; five wrong PINs lock a name for five minutes.")
    actions = p.add_subparsers(dest="staff_command", metavar="ACTION", required=True,
                               help="add, list or remove")
    q = actions.add_parser("add", parents=[common], help="add a member; the PIN is asked twice (or read from stdin)",
                           description=staff.cmd_staff_add.__doc__ + " Never give the PIN on the command line.")
    q.add_argument("name", type=arguments.staff_name, help="the name shown in the audit trail, e.g. Dana K. (1 to 64 "
                                                             "characters)")
    q.add_argument("--badge", action="append", default=[], metavar="ID", type=arguments.badge,
                   help="a card identifier that signs this member in (e.g. the KVNR of their own eGK); "
                        "repeatable. Give '-' to have it read like the PIN (asked without echo, or the next "
                        "line of stdin), so that the card number stays out of the process list and the "
                        "shell history")
    q.set_defaults(func=staff.cmd_staff_add)
    q = actions.add_parser("list", parents=[common], help="list the members", description=staff.cmd_staff_list.__doc__)
    q.add_argument("--json", action="store_true", help="print the members as JSON")
    q.set_defaults(func=staff.cmd_staff_list)
    q = actions.add_parser("remove", parents=[common], help="remove a member",
                           description=staff.cmd_staff_remove.__doc__)
    q.add_argument("name", type=arguments.staff_name, help="the member's name as listed")
    q.set_defaults(func=staff.cmd_staff_remove)

    p = sub.add_parser("site", parents=[common], help="the site service: pre-check-in on the patient's phone",
                       description="The one service every kiosk of a site shares (docs/site.md): patients invited "
                                   "for an appointment check in on their own phone before they come.")
    actions = p.add_subparsers(dest="site_command", metavar="ACTION", required=True,
                                 help="serve, invite, staff or report")
    q = actions.add_parser("serve", parents=[common], help="serve the patient pages and the site API",
                           description=site.cmd_site_serve.__doc__ + " Listens where [site] says.")
    q.set_defaults(func=site.cmd_site_serve)
    q = actions.add_parser("invite", parents=[common], help="invite a patient: read the invitation as JSON on stdin, "
                                                              "print the link",
                           description=site.cmd_site_invite.__doc__,
                           epilog="Exit 2 when the invitation is not valid or the appointment has one already "
                                  "(without --replace), 1 when the site service's database cannot be used.")
    q.add_argument("--replace", action="store_true",
                   help="make a new link for an appointment that has one (the old link stops working)")
    q.add_argument("--json", action="store_true",
                   help='print {"id", "link", "expires", "emailed"} as JSON (with --from-fhir: one object a line)')
    q.add_argument("--from-fhir", action="store_true",
                   help="invite every booked Appointment of --date on the hospital's FHIR server instead of reading stdin")
    q.add_argument("--date", type=arguments.iso_date, default=None, metavar="YYYY-MM-DD",
                   help="the day whose appointments --from-fhir invites (default: tomorrow)")
    q.set_defaults(func=site.cmd_site_invite)
    q = actions.add_parser("staff", parents=[common], help="add, list or remove the site's staff (the waiting list's)",
                           description=site.cmd_site_staff.__doc__ + " Never give the PIN on the command line.")
    staff_actions = q.add_subparsers(dest="staff_command", metavar="ACTION", required=True, help="add, list or remove")
    r = staff_actions.add_parser("add", parents=[common], help="add a member; the PIN is asked twice (or read from stdin)")
    r.add_argument("name", type=arguments.staff_name, help="the name shown in the audit trail (1 to 64 characters)")
    r.add_argument("--language", choices=config.SUPPORTED_LANGUAGES, default=None,
                   help="the language of the member's pages (default: the site's first, kiosk.languages)")
    r.set_defaults(func=site.cmd_site_staff)
    r = staff_actions.add_parser("list", parents=[common], help="list the members")
    r.add_argument("--json", action="store_true", help='print [{"name", "language", "locked_until"}] as JSON')
    r.set_defaults(func=site.cmd_site_staff)
    r = staff_actions.add_parser("remove", parents=[common], help="remove a member")
    r.add_argument("name", type=arguments.staff_name, help="the member's name as listed")
    r.set_defaults(func=site.cmd_site_staff)

    q = actions.add_parser("report", parents=[common], help="the managers' report of a day's waits (CSV and a chart)",
                           description=site.cmd_site_report.__doc__)
    reports = q.add_subparsers(dest="report", metavar="REPORT", required=True, help="waits")
    r = reports.add_parser("waits", parents=[common], help="waits from check-in to call, per hour and queue",
                           description=site.cmd_site_report.__doc__,
                           epilog="Exit 1 when the site service's database cannot be used, 2 when the files cannot "
                                  "be written.")
    r.add_argument("--date", type=arguments.iso_date, default=None, metavar="YYYY-MM-DD",
                   help="the day to report (the site's local day; default: today)")
    r.add_argument("--out", type=arguments.output_folder, default=Path("."), metavar="DIR",
                   help="the folder to write waits-<date>.csv and waits-<date>.png into (made if missing; default: here)")
    r.add_argument("--language", choices=config.SUPPORTED_LANGUAGES, default=None,
                   help="the chart's language (default: the first of kiosk.languages)")
    r.add_argument("--json", action="store_true",
                   help='print {"date", "csv", "png", "checked_in", "called"} as JSON')
    r.set_defaults(func=site.cmd_site_report)

    p = sub.add_parser("doctor", parents=[common],
                       help="check config, store, card readers, scanner, printers, hospital endpoint, disk and clock",
                       description=devices.cmd_doctor.__doc__,
                       epilog="Rows: config, permissions (config file and the secret files it names), store, "
                              "card reader, scanner, each printer, hospital, outbox, disk, clock; each ok, warn or "
                              "fail with what to do. The exit code is the first failing row's: 2 config, 3 card "
                              "reader, pcscd, scanner or printer not there, 8 printer fault, 9 hospital system, 1 the kiosk itself "
                              "(permissions, store, disk, clock); warnings keep exit 0.")
    p.add_argument("--json", action="store_true",
                   help='print one JSON object instead of the table: {"ok", "exit_code", "checks": '
                        '[{"check", "status", "detail", "exit_code"}]}')
    p.set_defaults(func=devices.cmd_doctor)
    return top
