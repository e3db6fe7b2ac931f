"""Staff members' PINs and the sign-in rule, the same wherever staff sign in: staff mode on a kiosk and its
desk page (kiosk.desk.staff, on the kiosk's store) and the site service's waiting list (kiosk.site.staff, on
the site's database).

A PIN is stored only as a salted scrypt hash (``hash_pin``/``verify_pin``). Five wrong PINs in a row for one
name lock that name for five minutes; a right PIN resets the count; every try, failed or not, is audited
(never the PIN). ``sign_in`` runs the rule over any store with the four methods below.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Protocol

from kiosk.messages import N_

MAX_WRONG_PINS = 5
LOCK_S = 300.0
NAME_MAX = 64

# scrypt as OWASP's password storage cheat sheet gives it (N=2^14, r=8, p=1: 16 MiB, ~50 ms a check),
# a 16-byte salt from the OS and a 32-byte key.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SALT_BYTES, KEY_BYTES = 2 ** 14, 8, 1, 16, 32
PIN_PATTERN = re.compile(r"[0-9]{4,12}")
# A scrypt hash of a random PIN nobody kept: what an unknown name's PIN is checked against.
_DECOY = "scrypt$16384$8$1$PpNnb1hXrFsgxRd2kH6AlA==$3b7Zn72U7BtVb9/9aOAvm0i6Zpb97WVzQbgjSOknFtE="

NEED_NAME = N_("Give the staff member a name.")
BAD_PIN = N_("A PIN is 4 to 12 digits.")
NAME_TAKEN = N_("There is already a staff member with this name.")
NO_MEMBER = N_("There is no staff member with this name.")
WRONG_PIN = N_("The name or the PIN is not right.")
LOCKED = N_("Too many wrong PINs: this name is locked for five minutes.")


class StaffError(Exception):
    """An action staff cannot do now; the message is one sentence to show them (English msgid: translate it)."""


class WrongPin(StaffError):
    pass


class Locked(StaffError):
    """Too many wrong PINs; ``until`` is an ISO time."""

    def __init__(self, message: str, until: str):
        super().__init__(message)
        self.until = until


class PinStore(Protocol):
    """What the rule needs of a store of staff members (kiosk.store.staff.StaffMixin is the reference)."""

    def staff_pin_try(self, name: str, where: str, max_wrong: int, now: datetime, lock_until: str) -> dict: ...

    def staff_signed_in(self, name: str, where: str, how: str = "pin") -> None: ...

    def staff_pin_wrong(self, subject: str, where: str, locked_until: str = "") -> None: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_pin(pin: str) -> str:
    """A salted scrypt hash of the PIN, as one self-describing string (algorithm, parameters, salt, hash):
    ``scrypt$16384$8$1$<salt, base64>$<hash, base64>``."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_pin(stored: str, pin: str) -> bool:
    """True when ``pin`` matches ``stored`` (constant-time compare). A stored value this cannot read
    matches nothing."""
    try:
        algorithm, n, r, p, salt, key = stored.split("$")
        if algorithm != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        got = hashlib.scrypt(pin.encode("utf-8"), salt=base64.b64decode(salt, validate=True), n=int(n), r=int(r),
                             p=int(p), dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def checked_member(name: str, pin: str) -> str:
    """The name, stripped, of a member to add with this PIN. :raises StaffError: no usable name or PIN"""
    name = name.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise StaffError(NEED_NAME)
    if not PIN_PATTERN.fullmatch(pin):
        raise StaffError(BAD_PIN)
    return name


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def sign_in(store: PinStore, name: str, pin: str, *, where: str, now: datetime) -> str:
    """The member's name when the PIN is right. ``where`` (e.g. "kiosk lobby-1", "desk 10.0.0.5") is the
    actor of the audit lines of a refused try (whoever typed it, it was typed there), the member its
    subject; a name that is no member is written down only as a keyed hash of it.

    The try is reserved in the store before the PIN is checked (and counted as wrong until it proves
    right), so that at most MAX_WRONG_PINS checks happen per name and lock, however many tries come at
    once, from however many threads or processes. Names that are no member lock the same way.

    :raises WrongPin: unknown name or wrong PIN (the same sentence for both)
    :raises Locked: five wrong PINs in a row; for five minutes
    """
    name = name.strip()
    tried = store.staff_pin_try(name, where, MAX_WRONG_PINS, now, iso(now + timedelta(seconds=LOCK_S)))
    if tried["refused"]:
        raise Locked(LOCKED, tried["refused"])
    # A name that is no member gets the same work (a scrypt against a hash no PIN is known for), so
    # that the time taken does not tell names apart.
    right = verify_pin(tried["pin_hash"] or _DECOY, pin) and bool(tried["pin_hash"])
    if right:
        store.staff_signed_in(name, where)
        return name
    store.staff_pin_wrong(tried["subject"], where, tried["locks"])
    if tried["locks"]:
        raise Locked(LOCKED, tried["locks"])
    raise WrongPin(WRONG_PIN)
