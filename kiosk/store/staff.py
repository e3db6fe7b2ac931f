"""Staff members (name, PIN hash, badges, wrong-PIN count and lock) and their sign-ins. The rules (how
many wrong PINs lock a name, for how long) are the caller's, kiosk.desk.staff: the store counts and keeps.

A member's badges are kept twice: as they are in the member's row (``badges``, a JSON list, for IT's
listing), and as keyed digests in ``staff_badges`` (kiosk.store.digests), which is what a card is
looked up by: the badge check every card goes through reads no member unless the card is a badge."""

from __future__ import annotations

import json
from datetime import datetime

from kiosk.store import digests
from kiosk.store.db import Connection, now_iso
from kiosk.times import moment


class StaffMixin(Connection):
    """The staff members of the store (``kiosk.store.Store``)."""

    def add_staff(self, name: str, pin_hash: str, badges: tuple[str, ...], actor: str) -> bool:
        """Add a member of staff; False when the name is taken.

        :raises DB_ERRORS: a badge is another member's already (``badge_holder`` tells beforehand)
        """
        with self._write():
            if self.db.execute("SELECT 1 FROM staff WHERE name = ?", [name]).fetchone():
                return False
            self.db["staff"].insert({"name": name, "pin_hash": pin_hash, "badges": json.dumps(list(badges)),
                                     "wrong_pins": 0, "locked_until": "", "created_at": now_iso()})
            key = digests.secret(self.db, digests.BADGE_SECRET, make=True)
            for badge in badges:
                self.db.execute("INSERT INTO staff_badges (digest, name) VALUES (?, ?)",
                                [digests.keyed(key, badge), name])
            self._audit(actor, "staff.added", name, f"{len(badges)} badge(s)")
        return True

    def remove_staff(self, name: str, actor: str) -> bool:
        """Remove a member, and with it its badges; False when there is no such member."""
        with self._write():
            gone = self.db.execute("DELETE FROM staff WHERE name = ? RETURNING name", [name]).fetchone()
            if gone:
                self._audit(actor, "staff.removed", name)
        return bool(gone)

    def staff(self) -> list[dict]:
        """Every member (with the PIN hash: for kiosk.desk.staff only), by name; badges as a list."""
        return [{**row, "badges": json.loads(row["badges"] or "[]")}
                for row in self.db["staff"].rows_where(order_by="name")]

    def badge_holder(self, identifier: str) -> str | None:
        """The name of the member whose badge ``identifier`` is (matched exactly), or None. One look-up of
        the identifier's keyed digest: no member's row (no PIN hash) is read for a card that is no badge,
        and the identifier itself is not handed to SQLite."""
        key = digests.secret(self.db, digests.BADGE_SECRET) if identifier else None
        if key is None:
            return None
        row = self.db.execute("SELECT name FROM staff_badges WHERE digest = ?",
                              [digests.keyed(key, identifier)]).fetchone()
        return row[0] if row else None

    def staff_member(self, name: str) -> dict | None:
        row = next(iter(self.db["staff"].rows_where("name = ?", [name])), None)
        return {**row, "badges": json.loads(row["badges"] or "[]")} if row else None

    def set_staff_language(self, name: str, language: str) -> None:
        """The language ``name`` reads the desk page in (a language code; "" = the kiosk's first)."""
        with self._write():
            self.db.execute("UPDATE staff SET language = ? WHERE name = ?", [language, name])

    def staff_signed_in(self, name: str, where: str, how: str = "pin") -> None:
        """A right PIN (or badge): the count of wrong ones starts again."""
        with self._write():
            self.db.execute("UPDATE staff SET wrong_pins = 0, locked_until = '' WHERE name = ?", [name])
            self._audit(name, "staff.signed_in", name, f"{how} {where}")

    def staff_signed_out(self, name: str, where: str, how: str) -> None:
        """A member left staff mode (``how``: tap or idle)."""
        with self._write():
            self._audit(name, "staff.signed_out", name, f"{how} {where}")

    def staff_pin_try(self, name: str, where: str, max_wrong: int, now: datetime, lock_until: str) -> dict:
        """Reserve one PIN check for the name typed, in one write transaction, before the PIN is looked at:
        a locked name is refused (audited, actor ``where``); else the try is counted as wrong already, and
        the ``max_wrong``-th in a row locks the name until ``lock_until`` (the count starts again), so that
        no more than ``max_wrong`` checks happen per name and lock, however many come at once. A right PIN
        then clears count and lock (``staff_signed_in``).

        Names that are no member count the same way, under a keyed hash of the name (in ``kiosk_state``,
        with the time of the last try): a name typed that is no member is never written down.

        Returns ``{"refused": lock time or "", "pin_hash": the member's or "", "subject": the member's name
        or "name#<hash>", "locks": lock time if this try locked the name, else ""}``.
        """
        with self._write():
            row = self.db.execute("SELECT pin_hash, wrong_pins, locked_until FROM staff WHERE name = ?",
                                  [name]).fetchone()
            if row:
                pin_hash, wrong, until = row
                subject, state_key = name, ""
            else:
                digest = self._name_digest(name)
                pin_hash, subject, state_key = "", f"name#{digest[:16]}", f"sign_in_tries:{digest}"
                stored = self.db.execute("SELECT value FROM kiosk_state WHERE key = ?", [state_key]).fetchone()
                wrong, until, _ = name_tries(stored[0] if stored else "")
            if until and moment(until) > now:
                self._audit(where, "staff.refused_locked", subject)
                return {"refused": until, "pin_hash": "", "subject": subject, "locks": ""}
            wrong, until = wrong + 1, ""
            if wrong >= max_wrong:
                wrong, until = 0, lock_until
            if state_key:     # "<count> <locked until> <last try>" (purge_personal_data forgets old ones)
                self.db.execute("INSERT INTO kiosk_state (key, value) VALUES (?, ?) "
                                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                [state_key, f"{wrong} {until} {now.isoformat(timespec='seconds')}"])
            else:
                self.db.execute("UPDATE staff SET wrong_pins = ?, locked_until = ? WHERE name = ?",
                                [wrong, until, name])
        return {"refused": "", "pin_hash": pin_hash or "", "subject": subject, "locks": until}

    def staff_pin_wrong(self, subject: str, where: str, locked_until: str = "") -> None:
        """Audit a wrong PIN (counted already by ``staff_pin_try``): the actor is the place it was typed at,
        the subject the member (or "name#<hash>"); and the lock it set, if any."""
        with self._write():
            self._audit(where, "staff.pin_wrong", subject, "" if not subject.startswith("name#") else "no such name")
            if locked_until:
                self._audit(where, "staff.locked", subject, locked_until)

    def _name_digest(self, name: str) -> str:
        """A keyed hash of a name (the key is the kiosk's own, made on first use): the same name gives the
        same digest on this kiosk, and a list of names does not turn it back into one. Within a write."""
        return digests.keyed(digests.secret(self.db, digests.NAME_SECRET, make=True), name)

    def staff_refused(self, name: str, where: str, why: str) -> None:
        """A sign-in refused without looking at the PIN: an unknown badge."""
        with self._write():
            self._audit(name or "unknown", f"staff.refused_{why}", name, where)


def name_tries(value: str) -> tuple[int, str, str]:
    """A kiosk_state wrong-PIN count of a name that is no member: (count, locked until, last try), the
    times "" when not set (rows written before the last try was kept have two parts)."""
    count, until, last = (value.split(" ") + ["", "", ""])[:3]
    return int(count or 0), until, last
