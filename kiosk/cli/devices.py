"""``kiosk read-card``, ``kiosk print`` and ``kiosk doctor``: the card reader, the printers, and the
check of everything the kiosk needs."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys

from kiosk import config
from kiosk.cli.common import (EXIT_NO_DEVICE, EXIT_OK, EXIT_PRINTER, EXIT_TIMEOUT, CommandError, load_settings,
                              open_store)


def cmd_print(args) -> int:
    """Print a sample ticket or wristband, or one of a stored admission (the last one by default)."""
    from datetime import datetime, timezone

    from kiosk.hardware import printing
    from kiosk.hardware.errors import REASONS, DeviceUnavailable
    from kiosk.hardware.printer import PrintOutcome
    from kiosk.hardware.printer_uri import open_printer
    from kiosk.i18n import Catalogs
    from kiosk.checkin.model import Admission, Identifier, Person
    from kiosk.store import PrintInProgress

    if args.sample and args.admission:
        raise CommandError("Give either --sample or --admission, not both.")
    if not args.debug:
        logging.getLogger("kiosk.hardware.printing").setLevel(logging.CRITICAL)   # the one sentence below says it
    settings = load_settings(args)
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
        store = open_store(settings)
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
    if outcome.status == PrintOutcome.FAILED:
        code = EXIT_NO_DEVICE if outcome.reason in ("unreachable", "not_a_printer") else EXIT_PRINTER
        raise CommandError(f"The {args.what} was not printed: {REASONS.get(outcome.reason, outcome.reason)} "
                           f"({args.printer}).", code)
    where = f" to {outcome.path}" if outcome.path else ""
    print(f"Printed the {args.what} of {admission.queue_number}{where}.")
    if outcome.status == PrintOutcome.UNCONFIRMED:
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

    settings = load_settings(args)
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
