"""Dates as patients type them and as cards give them (pure)."""

from __future__ import annotations

import re
from datetime import date

_TYPED = (re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
          re.compile(r"(?P<d>\d{1,2})[./-](?P<m>\d{1,2})[./-](?P<y>\d{4})"))


def typed_date(text: str) -> date | None:
    """A date as typed on the kiosk, or None: day first (14.07.1980, 14/07/1980, 14-07-1980) or ISO
    (1980-07-14); surrounding spaces are ignored, a day the month does not have is no date."""
    text = text.strip()
    for pattern in _TYPED:
        m = pattern.fullmatch(text)
        if m:
            try:
                return date(int(m["y"]), int(m["m"]), int(m["d"]))
            except ValueError:
                return None
    return None


def is_partial_date(iso: str) -> bool:
    """True for a real date with the precision a card may have: 1980-07-14, 1980-07 or 1980."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", iso)
    if not m:
        return False
    year, month, day = (int(p) if p else 1 for p in m.groups())
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
