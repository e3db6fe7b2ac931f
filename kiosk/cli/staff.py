"""``kiosk staff add|list|remove``: the members of staff who may use staff mode and the desk page."""

from __future__ import annotations

import contextlib
import json
import sys

from kiosk.cli.common import EXIT_OK, CommandError, load_settings, open_store


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
    from kiosk.desk.staff import staff_builder
    from kiosk.signin import StaffError
    settings = load_settings(args)
    store = open_store(settings)
    try:
        yield staff_builder(settings)(store)
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
