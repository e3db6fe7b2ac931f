"""The checks a setting's value goes through, and ``setting``, which puts a field's default, description and
checks together. Each check returns None for a good value, else a sentence fragment saying what is wrong
(``must be ...``); the ``kiosk`` command's option types (kiosk.cli.arguments) use the same ones.
"""

from __future__ import annotations

import codecs
import ipaddress
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from kiosk.checkin.model import NATIONAL_ID_SYSTEMS
from kiosk.messages import shown
from kiosk.paths import ASSETS

SUPPORTED_LANGUAGES = ("de", "en", "tr", "fr")


class ConfigError(ValueError):
    """A config file that cannot be used; the message is one sentence for the person who wrote it."""


Check = Callable[[Any], "str | None"]


def setting(default: Any, description: str, *, choices: tuple | None = None, check: Check | None = None) -> Any:
    """A config field: its default, a one-line description with the unit, and optional checks.

    :param choices: the only values allowed
    :param check: returns a sentence fragment saying what is wrong (``must be ...``), or None when the
        value is good; a :class:`Range` also puts its bounds into the description's closing parenthesis
    """
    if isinstance(check, Range):
        assert description.endswith(")."), description
        description = f"{description[:-2]}, {check})."
    meta = {"description": description, "choices": choices, "check": check}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Range:
    """The numbers a setting (or a command-line option) takes: finite, from ``lo`` to ``hi`` inclusive,
    in ``unit``. Called with a value, it is a check: None, or what is wrong."""

    lo: float
    hi: float
    unit: str = ""

    def __str__(self) -> str:
        return f"{self.lo:g} to {self.hi:g}"

    @property
    def wanted(self) -> str:
        return f"must be between {self.lo:g} and {self.hi:g}" + (f" {self.unit}" if self.unit else "")

    def holds(self, value: Any) -> bool:
        return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and self.lo <= value <= self.hi)

    def __call__(self, value: Any) -> str | None:
        return None if self.holds(value) else f"{self.wanted}, not {shown(value)}"


def seconds(lo: float, hi: float) -> Range:
    return Range(lo, hi, "seconds")


def all_of(*checks: Check) -> Check:
    """The first problem any of ``checks`` finds."""
    def check(value: Any) -> str | None:
        return next((problem for c in checks if (problem := c(value))), None)
    return check


def text_check(max_len: int, *, required: bool = True, chars: Callable[[str], bool] = str.isprintable,
               what: str = "printable characters") -> Check:
    """A text of 1 (0 when not ``required``) to ``max_len`` characters, each one ``chars`` accepts
    (``what`` says which in the sentence)."""
    wanted = f"must be {'1 to' if required else 'at most'} {max_len} {what}"

    def check(value: str) -> str | None:
        if (value or not required) and len(value) <= max_len and all(map(chars, value)):
            return None
        return f"{wanted}, not {shown(value)}"
    return check


def visible(c: str) -> bool:
    return c.isprintable() and not c.isspace()


def name_char(c: str) -> bool:
    return c.isalnum() or c in "-_."


NAME_CHARS = "letters, digits, '-', '_' or '.'"


def entries(each: Check | None = None) -> Check:
    """A list without repeated entries, each of them good for ``each`` (when given)."""
    def check(values: tuple) -> str | None:
        for i, value in enumerate(values):
            if value in values[:i]:
                return f"has {shown(value)} twice"
            problem = each and each(value)
            if problem:
                return f"has an entry that {problem}"
        return None
    return check


def path_check(*, required: bool = False, kind: str | None = None) -> Check:
    """An absolute path (or "" when not ``required``); ``kind`` "file": one that is a file now, "folder": one
    that is not a file. (os.path's tests: one that cannot be looked at is no file, not a traceback.)"""
    def check(value: str) -> str | None:
        if not value:
            return "must be an absolute path, not ''" if required else None
        if len(value) > 4096 or not value.isprintable():
            return f"must be a path of at most 4096 printable characters, not {shown(value)}"
        if not os.path.isabs(value):
            return (f"must be an absolute path (from /), not {shown(value)}: a relative one would depend on the "
                    "folder the kiosk is started from")
        if kind == "file" and not os.path.isfile(value):
            return f"names no file: there is no {value}"
        if kind == "folder" and os.path.exists(value) and not os.path.isdir(value):
            return f"names a file, not a folder: {value}"
        return None
    return check


file_check = path_check(kind="file")


def language_list(value: tuple) -> str | None:
    if not value:
        return "must name at least one language"
    unknown = [shown(v) for v in value if v not in SUPPORTED_LANGUAGES]
    if unknown:
        return f"has {', '.join(unknown)}, but the kiosk speaks only {', '.join(SUPPORTED_LANGUAGES)}"
    return None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


url_check = text_check(2048, required=False, chars=visible, what="printable characters without spaces")


def printer_uri(uri: str) -> str | None:
    if not uri or url_check(uri):
        return url_check(uri)
    from kiosk.hardware.printer_uri import uri_problem
    problem = uri_problem(uri)
    return problem and "cannot be used: " + problem[0].lower() + problem[1:].rstrip(".")


def printer_profile(name: str) -> str | None:
    """None when python-escpos knows the capability profile ``name``, else what is wrong."""
    from kiosk.hardware.escpos_lib import known_profiles
    if name in known_profiles():
        return None
    return f"must be a printer profile python-escpos knows ({', '.join(sorted(known_profiles()))}), not {shown(name)}"


def national_id_systems(systems: tuple) -> str | None:
    unknown = [s for s in systems if s not in NATIONAL_ID_SYSTEMS]
    if unknown:
        return f"has {', '.join(map(shown, unknown))}, but the cards give only {' and '.join(NATIONAL_ID_SYSTEMS)}"
    return None


# MSH-5 and MSH-6 are HDs whose namespace id HL7 v2.5 gives 20 characters. hl7v2.escape would keep the
# delimiters as text, but in an HD "^" and "&" separate its components: a value that holds them is refused
# rather than sent as something else than its writer meant.
HL7_CHARS = "printable characters without | ^ ~ \\ &"
hl7_name = text_check(20, required=False, chars=lambda c: c.isprintable() and c not in "|^~\\&", what=HL7_CHARS)


def identifier_system(system: str) -> str | None:
    if not system:
        return None
    parts = urlsplit(system)
    if (parts.scheme not in ("urn", "http", "https") or not (parts.netloc or parts.path) or len(system) > 256
            or not system.isprintable() or any(c.isspace() for c in system)):
        return f"must be an identifier system URI (urn:oid:..., http://... or https://...), not {shown(system)}"
    return None


def form_exists(name: str) -> str | None:
    if not (ASSETS / "forms" / f"{name}.json").is_file():
        return f"names no form: there is no {ASSETS / 'forms' / name}.json"
    from kiosk.checkin import forms
    try:
        form = forms.load(name)
    except forms.FormError as e:
        return f"names a form the kiosk cannot use: {e}"
    missing = sorted(form.item_types - forms.RENDERED_TYPES)
    if missing:
        return (f"names a form with items the kiosk's screens cannot show yet ({', '.join(missing)}); "
                f"they show {', '.join(sorted(forms.RENDERED_TYPES))}")
    return None


def command_line(command: str) -> str | None:
    import shlex
    try:
        return None if shlex.split(command) else "must name a program"
    except ValueError as e:
        return f"cannot be split into a program and its options: {e}"


CONSENT_FILE_PREFIX = "file:"
CONSENT_MAX = 50_000                    # characters: a long consent form, scrolled on the screen


def _consent_text(value: str) -> str | None:
    """Lines of text (tabs and line breaks allowed, no other control characters) of bounded length."""
    if len(value) > CONSENT_MAX:
        return f"must be at most {CONSENT_MAX} characters long, not {len(value)}"
    control = next((c for c in value if (ord(c) < 32 or 127 <= ord(c) < 160) and c not in "\t\n\r"), None)
    return control and f"must not hold control characters such as {control!r}"


def read_consent_text(value: str) -> tuple[str, str | None]:
    """The text a consent setting stands for (a ``file:`` read now), or a problem in the words of ``loader._check``."""
    if not value.startswith(CONSENT_FILE_PREFIX):
        return value.strip(), _consent_text(value)
    name = value.removeprefix(CONSENT_FILE_PREFIX)
    problem = path_check(required=True)(name)
    if problem:
        return "", f"names a file that {problem}"
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return "", f"names a file the kiosk cannot read as UTF-8 text: {name} ({getattr(e, 'strerror', None) or e})"
    problem = _consent_text(text)
    if problem:
        return "", f"names a file whose text {problem}"
    return (text.strip(), None) if text.strip() else ("", f"names an empty file: {name}")


PORT = Range(1, 65535)


def ip_address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"must be an IP address such as 127.0.0.1 or 0.0.0.0, not {shown(value)}"
    return None


PEER_SECRET_MIN = 32


def peer_urls(urls: tuple) -> str | None:
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return f"has {url!r}, which is not an https:// URL of a kiosk's desk page"
        if parts.username or parts.password or parts.query or parts.fragment:
            return f"has {url!r}: give only scheme, host, port and path"
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            return (f"has {url!r} without TLS, which is allowed only for 127.0.0.1 or localhost; use https:// for "
                    f"{parts.hostname}")
    return None


def read_peer_secret(path: str) -> str:
    """The shared secret in ``path``, stripped. :raises ConfigError: without the key's name (the caller adds it)"""
    try:
        mode = os.stat(path).st_mode
        if mode & 0o077:
            raise ConfigError(f"can be read or changed by other users (mode {mode & 0o777:04o}): chmod 600 {path}")
        secret = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"names a file the kiosk cannot read: {path} ({getattr(e, 'strerror', None) or e})") from None
    if len(secret) < PEER_SECRET_MIN or not all(c.isascii() and c.isprintable() and not c.isspace() for c in secret):
        raise ConfigError(f"names a file without a usable secret: {path} needs at least {PEER_SECRET_MIN} letters and "
                          "digits on one line (e.g. `openssl rand -hex 32`)")
    return secret


def usable_peer_secret(path: str) -> str | None:
    if not path:
        return None
    try:
        read_peer_secret(path)
    except ConfigError as e:
        return str(e)
    return None


def quarter_turn(value: int) -> str | None:
    return None if value in (0, 90, 180, 270) else f"must be 0, 90, 180 or 270, not {shown(value)}"


_TOUCH_SCALE = Range(0.5, 2)


def touch_scale(value: float) -> str | None:
    """Between 0.5 and 2 either way round (negative: mirrored); a smaller one would squeeze the whole panel into
    a corner of the screen, a larger one leave most of the screen out of reach."""
    if _TOUCH_SCALE.holds(abs(value)):
        return None
    return f"must be between 0.5 and 2, or between -2 and -0.5 to mirror, not {shown(value)}"


def metrics_port(port: int) -> str | None:
    return None if port == 0 or PORT.holds(port) else f"must be 0 (off) or between 1 and 65535, not {shown(port)}"


def web_url(what: str) -> Check:
    """One https:// URL (http:// to loopback only), or empty; ``what`` says whose it is in the sentence."""
    printable = text_check(2048, required=False, chars=visible, what="printable characters without spaces")

    def check(url: str) -> str | None:
        problem = printable(url) or (peer_urls((url,)) if url else None)
        return problem and problem.replace("of a kiosk's desk page", what)
    return check


public_url = web_url("where patients reach the patient listener")
site_url = web_url("of the site service's site listener")


def smtp_url(url: str) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or parts.path.strip("/") or parts.username:
        return f"must be empty, smtps://host:port or smtp://host:port, not {shown(url)}"
    return None


def database_url(url: str) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.password is not None:          # checked first: the sentences below quote the URL
        return "holds a password: put it in ~/.pgpass or the file PGPASSFILE names, not in the config"
    if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
        return f"must be empty or postgresql://user@host:port/database, not {shown(url)}"
    return None


def text_codec(name: str) -> str | None:
    """A character set Python decodes bytes to text with (utf-8, latin-1, cp437, ...)."""
    try:
        if codecs.lookup(name)._is_text_encoding:
            return None
    except (LookupError, ValueError):             # ValueError: a name with a NUL in it
        pass
    return f"must be the name of a character set, e.g. utf-8, latin-1 or cp437, not {shown(name)}"
