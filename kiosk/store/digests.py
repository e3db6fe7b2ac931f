"""Keyed digests (HMAC-SHA256) of what the store looks things up by but is not to be handed as it is: the
identifier of a card checked for being a staff badge (every card is), and a name typed at sign-in that is
no member.

A digest tells nothing of what it was made from without its secret: a card identifier is short (a KVNR is
a letter and nine digits), and its bare SHA-256 would be found by trying every one. So a patient's card
identifier never reaches SQLite (not in a statement, a trace or a temporary b-tree), only its digest.

Each secret is the store's own: 256 random bits in ``kiosk_state``, made by the migration that first needs
it (or on first use), rather than derived from the store key: a plain store (``store.encryption = "none"``)
has no key, a store whose key is changed (SQLCipher's rekey) keeps its digests, and the secret goes with
the file wherever it is restored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlite_utils import Database

BADGE_SECRET = "badge_key"              # the kiosk_state keys of the secrets
NAME_SECRET = "sign_in_name_key"


def secret(db: Database, which: str, *, make: bool = False) -> bytes | None:
    """The store's secret ``which``; None when there is none yet, unless ``make`` (within a write: a new
    one is stored)."""
    row = db.execute("SELECT value FROM kiosk_state WHERE key = ?", [which]).fetchone()
    if row:
        return bytes.fromhex(row[0])
    if not make:
        return None
    value = secrets.token_hex(32)
    db.execute("INSERT INTO kiosk_state (key, value) VALUES (?, ?)", [which, value])
    return bytes.fromhex(value)


def keyed(key: bytes, text: str) -> str:
    """The digest of ``text`` under ``key``: 64 hexadecimal digits, the same for the same text and key."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
