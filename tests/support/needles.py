"""What a privacy check searches for: a patient's texts in every form the kiosk's processes could write them
(tests/ops/test_phi_logs.py, benchmarks/bench_soak.py)."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import quote

from babel.dates import format_date


def date_formats(iso: str) -> set[str]:
    """A birth date as the kiosk could write it: ISO, German, compact, US and UK, and long in its languages."""
    d = date.fromisoformat(iso)
    written = {iso, d.strftime("%d.%m.%Y"), d.strftime("%Y%m%d"), d.strftime("%d/%m/%Y"), d.strftime("%m/%d/%Y"),
               f"{d.day}.{d.month}.{d.year}"}
    for language in ("de", "en", "fr", "tr"):
        written |= {format_date(d, style, locale=language) for style in ("medium", "long")}
    return written


def encodings(text: str) -> set[str]:
    """``text`` as it would look escaped in JSON (ensure_ascii), in a URL, or with HL7 v2 escapes."""
    return {text, json.dumps(text)[1:-1], quote(text), text.replace("^", "\\S\\").replace("&", "\\T\\")}
