"""The site's members of staff: kept once per site (not once per kiosk) in the site's database, for the
waiting list and the lobby's calls. They sign in by the same rule as on a kiosk (kiosk.signin: scrypt PINs,
five wrong in a row lock the name for five minutes, every try audited, a name that is no member written
down only as a keyed hash), and each chooses the language of their pages.

``SiteStaff`` is the store the rule runs over (``staff_pin_try``, ``staff_signed_in``, ``staff_pin_wrong``),
and what ``kiosk site staff`` adds, lists and removes.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timezone

import sqlalchemy as sa

from kiosk import signin
from kiosk.config import SUPPORTED_LANGUAGES
from kiosk.signin import StaffError
from kiosk.site.db import SiteDb
from kiosk.site.schema import name_tries, sessions, staff, write_audit
from kiosk.times import moment

NAME_SECRET = "sign_in_names"


class SiteStaff:
    """The members of staff of a site's database."""

    def __init__(self, site: SiteDb, *, now=lambda: datetime.now(timezone.utc)):
        self.site = site
        self._now = now

    # --- kept by IT (kiosk site staff) ---

    def add(self, name: str, pin: str, *, language: str = "", actor: str = "it") -> str:
        """Add a member; their name. :raises StaffError: no usable name or PIN, or the name is taken"""
        name = signin.checked_member(name, pin)
        if language and language not in SUPPORTED_LANGUAGES:
            raise StaffError(f"The language must be one of {', '.join(SUPPORTED_LANGUAGES)}.")
        with self.site.engine.begin() as conn:
            if conn.execute(sa.select(staff.c.name).where(staff.c.name == name)).first():
                raise StaffError(signin.NAME_TAKEN)
            conn.execute(sa.insert(staff).values(name=name, pin_hash=signin.hash_pin(pin), language=language,
                                                 created_at=int(time.time())))
            write_audit(conn, actor, "staff.added", name)
        return name

    def remove(self, name: str, *, actor: str = "it") -> None:
        """:raises StaffError: no such member"""
        with self.site.engine.begin() as conn:
            if not conn.execute(sa.delete(staff).where(staff.c.name == name.strip())).rowcount:
                raise StaffError(signin.NO_MEMBER)
            conn.execute(sa.delete(sessions).where(sessions.c.name == name.strip()))     # signed out everywhere
            write_audit(conn, actor, "staff.removed", name.strip())

    def members(self) -> list[dict]:
        """[{"name", "language", "locked_until"}] by name, never the hash."""
        now = self._now()
        with self.site.engine.connect() as conn:
            rows = conn.execute(sa.select(staff.c.name, staff.c.language, staff.c.locked_until).order_by(staff.c.name))
            return [{"name": r.name, "language": r.language,
                     "locked_until": r.locked_until if r.locked_until and moment(r.locked_until) > now else ""}
                    for r in rows]

    def member(self, name: str) -> dict | None:
        """{"name", "language"} of a member, or None (IT may have removed them)."""
        with self.site.engine.connect() as conn:
            row = conn.execute(sa.select(staff.c.name, staff.c.language).where(staff.c.name == name)).first()
        return row._asdict() if row else None

    def set_language(self, name: str, language: str) -> None:
        """The language the member's pages are in (one of SUPPORTED_LANGUAGES)."""
        if language not in SUPPORTED_LANGUAGES:
            raise StaffError(f"The language must be one of {', '.join(SUPPORTED_LANGUAGES)}.")
        with self.site.engine.begin() as conn:
            conn.execute(sa.update(staff).where(staff.c.name == name).values(language=language))

    # --- signing in (kiosk.signin.sign_in) ---

    def sign_in(self, name: str, pin: str, *, where: str) -> str:
        """:raises WrongPin, Locked: as kiosk.signin.sign_in"""
        return signin.sign_in(self, name, pin, where=where, now=self._now())

    def staff_pin_try(self, name: str, where: str, max_wrong: int, now: datetime, lock_until: str) -> dict:
        """Reserve one PIN check for ``name`` before the PIN is looked at (kiosk.store.staff.StaffMixin's
        contract): refused while locked; else counted as wrong already, the ``max_wrong``-th locking the name."""
        at = int(now.timestamp())
        # (The key first: it is read, or made once, in a transaction of its own.)
        name_digest = hmac.new(self.site.secret(NAME_SECRET), name.encode("utf-8"), hashlib.sha256).hexdigest()
        with self.site.engine.begin() as conn:
            row = conn.execute(sa.select(staff.c.pin_hash, staff.c.wrong_pins, staff.c.locked_until)
                               .where(staff.c.name == name).with_for_update()).first()
            if row is not None:
                pin_hash, wrong, until, subject, digest = row.pin_hash, row.wrong_pins, row.locked_until, name, ""
            else:
                digest = name_digest
                conn.execute(sa.text("INSERT INTO site_name_tries (digest, wrong_pins, locked_until, last_try) "
                                     "VALUES (:digest, 0, '', :at) ON CONFLICT (digest) DO NOTHING"),
                             {"digest": digest, "at": at})
                tries = conn.execute(sa.select(name_tries.c.wrong_pins, name_tries.c.locked_until)
                                     .where(name_tries.c.digest == digest).with_for_update()).one()
                pin_hash, wrong, until, subject = "", tries.wrong_pins, tries.locked_until, f"name#{digest[:16]}"
            if until and moment(until) > now:
                write_audit(conn, where, "staff.refused_locked", subject)
                return {"refused": until, "pin_hash": "", "subject": subject, "locks": ""}
            wrong, until = wrong + 1, ""
            if wrong >= max_wrong:
                wrong, until = 0, lock_until
            if digest:
                conn.execute(sa.update(name_tries).where(name_tries.c.digest == digest)
                             .values(wrong_pins=wrong, locked_until=until, last_try=at))
            else:
                conn.execute(sa.update(staff).where(staff.c.name == name).values(wrong_pins=wrong, locked_until=until))
        return {"refused": "", "pin_hash": pin_hash, "subject": subject, "locks": until}

    def staff_signed_in(self, name: str, where: str, how: str = "pin") -> None:
        with self.site.engine.begin() as conn:
            conn.execute(sa.update(staff).where(staff.c.name == name).values(wrong_pins=0, locked_until=""))
            write_audit(conn, name, "staff.signed_in", name, f"{how} {where}")

    def staff_pin_wrong(self, subject: str, where: str, locked_until: str = "") -> None:
        with self.site.engine.begin() as conn:
            write_audit(conn, where, "staff.pin_wrong", subject, "" if not subject.startswith("name#") else "no such name")
            if locked_until:
                write_audit(conn, where, "staff.locked", subject, locked_until)

    def signed_out(self, name: str, *, where: str) -> None:
        with self.site.engine.begin() as conn:
            write_audit(conn, name, "staff.signed_out", name, where)

    def forget_tries(self, older_than_s: float = signin.LOCK_S) -> int:
        """Drop the counts of names that are no member whose last try is older than that; how many."""
        with self.site.engine.begin() as conn:
            return conn.execute(sa.delete(name_tries).where(
                name_tries.c.last_try < int(time.time() - older_than_s))).rowcount
