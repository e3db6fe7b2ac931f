"""Typed settings read from one TOML file, validated once at start-up.

Every field has a default and a one-line description with its unit (``setting``). Unknown keys,
wrong types and bad values raise :class:`ConfigError` with a sentence naming the key. Every value is
checked: numbers are finite and within a :class:`Range`, paths absolute, texts printable and of bounded
length, lists without empty or repeated entries. The same checks serve the ``kiosk`` command's options
(kiosk.arguments).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from kiosk.checkin.model import KVNR_SYSTEM, NATIONAL_ID_SYSTEMS, SSIN_SYSTEM
from kiosk.paths import ASSETS

DEFAULT_CONFIG_PATH = Path("/etc/kiosk/kiosk.toml")
CONFIG_ENV = "KIOSK_CONFIG"
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


def shown(value: Any) -> str:
    """``value`` as a sentence quotes it, on one line: a number as written, a text in quotes with its
    control characters escaped, a long text by its start and its length."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and len(value) > 40:
        return f"{value[:20]!r}... ({len(value)} characters)"
    return repr(value)


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


def _seconds(lo: float, hi: float) -> Range:
    return Range(lo, hi, "seconds")


def _all(*checks: Check) -> Check:
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


def _name_char(c: str) -> bool:
    return c.isalnum() or c in "-_."


NAME_CHARS = "letters, digits, '-', '_' or '.'"


def _entries(each: Check | None = None) -> Check:
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


_file = path_check(kind="file")


def _languages(value: tuple) -> str | None:
    if not value:
        return "must name at least one language"
    unknown = [shown(v) for v in value if v not in SUPPORTED_LANGUAGES]
    if unknown:
        return f"has {', '.join(unknown)}, but the kiosk speaks only {', '.join(SUPPORTED_LANGUAGES)}"
    return None


@dataclass(frozen=True)
class KioskSettings:
    id: str = setting("lobby-1", f"Name of this kiosk, shown to staff and sent with every admission (text: 1 to 20 "
                      f"{NAME_CHARS}; HL7 v2 takes no more as the sending facility).",
                      check=text_check(20, chars=_name_char, what=NAME_CHARS))
    data_dir: str = setting("/var/lib/kiosk", "Folder for the store and everything else the kiosk writes (absolute path).",
                            check=path_check(required=True, kind="folder"))
    languages: tuple = setting(SUPPORTED_LANGUAGES, "Languages offered to patients, each once; the first is where every "
                               "session starts (ISO 639-1 codes).", check=_all(_languages, _entries()))
    queue_prefix: str = setting("A", "Letters printed before the queue number on the ticket, e.g. A-017 (text: 1 to 4 "
                                "letters or digits).", check=text_check(4, chars=str.isalnum, what="letters or digits"))
    idle_timeout_s: float = setting(60.0, "Time without a touch before a session is wiped (seconds).",
                                    check=_seconds(10, 3600))
    idle_warning_s: float = setting(15.0, "How long the 'Are you still there?' warning shows before the wipe; shorter "
                                    "than idle_timeout_s (seconds).", check=_seconds(5, 600))
    done_timeout_s: float = setting(20.0, "How long the final screen with the queue number stays (seconds).",
                                    check=_seconds(3, 600))
    help_timeout_s: float = setting(300.0, "How long a patient who called staff may wait before the idle warning (seconds).",
                                    check=_seconds(10, 3600))


@dataclass(frozen=True)
class ReaderSettings:
    kind: str = setting("pcsc", "Card reader driver: pcsc (real readers through pcscd) or simulated (sample cards).",
                        choices=("pcsc", "simulated"))
    names: tuple = setting((), "Use only readers whose name contains one of these (texts of 1 to 128 printable "
                           "characters, each once; empty = every reader).", check=_entries(text_check(128)))


_url = text_check(2048, required=False, chars=visible, what="printable characters without spaces")


def printer_uri(uri: str) -> str | None:
    if not uri or _url(uri):
        return _url(uri)
    from kiosk.hardware.printer_uri import uri_problem
    problem = uri_problem(uri)
    return problem and "cannot be used: " + problem[0].lower() + problem[1:].rstrip(".")


def printer_profile(name: str) -> str | None:
    """None when python-escpos knows the capability profile ``name``, else what is wrong."""
    from kiosk.hardware.escpos_lib import known_profiles
    if name in known_profiles():
        return None
    return f"must be a printer profile python-escpos knows ({', '.join(sorted(known_profiles()))}), not {shown(name)}"


_TIMEOUT_PRINTER = _seconds(0.1, 120)


@dataclass(frozen=True)
class TicketPrinterSettings:
    uri: str = setting("preview:tickets", "Where queue tickets go: tcp://host:9100, usb://VID:PID, serial:///dev/ttyUSB0?baudrate=19200, "
                       "file:///dev/usb/lp0, cups://queue, or preview:DIR for PNG files (URI; a relative DIR is inside "
                       "data_dir; empty = no tickets).", check=printer_uri)
    profile: str = setting("TM-T88V", "python-escpos capability profile of the printer model, e.g. TM-T88V, TM-T20II (profile name: "
                           "one python-escpos knows).",
                           check=printer_profile)
    timeout_s: float = setting(5.0, "Longest wait for each step of a job: reaching the printer and its status, sending the job "
                               "(plus a serial line's transfer time), the printer finishing it (seconds).", check=_TIMEOUT_PRINTER)
    show_name: bool = setting(False, "Print the patient's name under the queue number (true/false; off: tickets get left on chairs).")


def _national_ids(systems: tuple) -> str | None:
    unknown = [s for s in systems if s not in NATIONAL_ID_SYSTEMS]
    if unknown:
        return f"has {', '.join(map(shown, unknown))}, but the cards give only {' and '.join(NATIONAL_ID_SYSTEMS)}"
    return None


@dataclass(frozen=True)
class WristbandPrinterSettings:
    uri: str = setting("", "Where patient wristbands go, as for tickets (URI; empty = the kiosk prints no wristbands).",
                       check=printer_uri)
    profile: str = setting("TM-L90", "python-escpos capability profile of the band printer; a 203 dpi one, as bands are drawn "
                           "dot for dot (profile name: one python-escpos knows).", check=printer_profile)
    timeout_s: float = setting(5.0, "Longest wait for each step of a wristband job, as for tickets (seconds).",
                               check=_TIMEOUT_PRINTER)
    national_ids: tuple = setting((), "National numbers that may be printed on the band, by identifier system, where the "
                                  "site's rules allow it (in Germany and Belgium they restrict it): "
                                  f"{KVNR_SYSTEM} (German insurance number, KVNR) or {SSIN_SYSTEM} (Belgian national "
                                  "number); printed, named for what it is, only when the hospital system gave no patient "
                                  "number of its own (hospital.patient_id_system) (identifier systems; empty = none).",
                                  check=_all(_entries(), _national_ids))


@dataclass(frozen=True)
class PrinterSettings:
    ticket: TicketPrinterSettings = field(default_factory=TicketPrinterSettings,
                                          metadata={"description": "The queue-ticket printer (section)."})
    wristband: WristbandPrinterSettings = field(default_factory=WristbandPrinterSettings,
                                                metadata={"description": "The wristband printer, for sites that band patients at check-in (section)."})


# MSH-5 and MSH-6 are HDs whose namespace id HL7 v2.5 gives 20 characters. hl7v2.escape would keep the
# delimiters as text, but in an HD "^" and "&" separate its components: a value that holds them is refused
# rather than sent as something else than its writer meant.
_HL7_CHARS = "printable characters without | ^ ~ \\ &"
_hl7_name = text_check(20, required=False, chars=lambda c: c.isprintable() and c not in "|^~\\&", what=_HL7_CHARS)


def _identifier_system(system: str) -> str | None:
    if not system:
        return None
    parts = urlsplit(system)
    if (parts.scheme not in ("urn", "http", "https") or not (parts.netloc or parts.path) or len(system) > 256
            or not system.isprintable() or any(c.isspace() for c in system)):
        return f"must be an identifier system URI (urn:oid:..., http://... or https://...), not {shown(system)}"
    return None


@dataclass(frozen=True)
class HospitalSettings:
    transport: str = setting("none", "How admissions reach the hospital system: fhir, hl7v2, folder, or none (keep them only in the store).",
                             choices=("fhir", "hl7v2", "folder", "none"))
    url: str = setting("", "Address of the hospital system: https://... for fhir, mllp://host:port for hl7v2, file:///dir for folder (URL: at "
                       "most 2048 characters, no spaces).", check=_url)
    timeout_s: float = setting(10.0, "Longest wait for one answer from the hospital system (seconds).",
                               check=_seconds(0.1, 300))
    ca_file: str = setting("", "CA certificates to verify the hospital system's TLS certificate with (absolute path; empty = the system's).", check=_file)
    client_cert: str = setting("", "Client certificate for TLS, PEM, with its key in the same file or in client_key (absolute path; empty = none).",
                               check=_file)
    client_key: str = setting("", "Key of client_cert when it is a file of its own (absolute path; empty = none).", check=_file)
    token_file: str = setting("", "File holding a bearer token sent as Authorization with every FHIR request (absolute path; empty = none).", check=_file)
    encounter_status: str = setting("arrived", "FHIR Encounter.status of a check-in: arrived (FHIR R4) or in-progress (ISiK and "
                                    "other servers without arrived).", choices=("arrived", "in-progress"))
    folder_format: str = setting("fhir", "What the drop folder gets, one file per admission: fhir (transaction Bundle JSON) or hl7v2 "
                                 "(ADT^A04).", choices=("fhir", "hl7v2"))
    hl7_receiving_application: str = setting("", "MSH-5 of HL7 v2 messages, as the receiving system expects it (text: at "
                                             f"most 20 {_HL7_CHARS}).", check=_hl7_name)
    hl7_receiving_facility: str = setting("", f"MSH-6 of HL7 v2 messages (text: at most 20 {_HL7_CHARS}).",
                                          check=_hl7_name)
    hl7_patient_class: str = setting("O", "PV1-2 patient class of HL7 v2 messages: O outpatient, E emergency, I inpatient (code).",
                                     choices=("O", "E", "I", "P"))
    appointment_lookup_s: float = setting(3.0, "Longest wait for the patient's appointments of today (FHIR) while they "
                                          "look at their details; then they check in as a walk-in (seconds).",
                                          check=_seconds(0.1, 30))
    retry_max_s: float = setting(300.0, "Longest pause between two attempts to deliver an admission while the hospital "
                                 "system is unreachable (seconds).", check=_seconds(1, 3600))
    patient_id_system: str = setting("", "Identifier system of the hospital's own patient numbers (e.g. the urn:oid:... of "
                                     "its MRN), as its FHIR server gives them in Patient.identifier: the Patient of the "
                                     "patient's appointment today is read with the appointment, and this number is "
                                     "printed on the wristband (URI; empty = none).", check=_identifier_system)


def _form_exists(name: str) -> str | None:
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


@dataclass(frozen=True)
class FormsSettings:
    intake: str = setting("intake-basic", f"Questionnaire asked at check-in, a file name in assets/forms without .json "
                          f"(name: 1 to 64 {NAME_CHARS}).",
                          check=_all(text_check(64, chars=lambda c: c.isascii() and _name_char(c), what=f"ASCII {NAME_CHARS}"),
                                     _form_exists))


def _command(command: str) -> str | None:
    import shlex
    try:
        return None if shlex.split(command) else "must name a program"
    except ValueError as e:
        return f"cannot be split into a program and its options: {e}"


@dataclass(frozen=True)
class SpeechSettings:
    enabled: bool = setting(True, "Offer the \"Read aloud\" button on every screen (true/false; it shows only when the "
                            "command is installed).")
    command: str = setting("espeak-ng", "The text-to-speech program and any options of its own, run without a shell; it gets "
                           "the voice, rate and text on stdin like espeak-ng (command line: at most 1024 printable characters).",
                           check=_all(text_check(1024), _command))
    rate_wpm: int = setting(150, "Speaking rate; slower than espeak-ng's 175 for older patients, within espeak-ng's "
                            "range (words per minute).", check=Range(80, 450, "words per minute"))


CONSENT_FILE_PREFIX = "file:"
CONSENT_MAX = 50_000                    # characters: a long consent form, scrolled on the screen


def _consent_text(value: str) -> str | None:
    """Lines of text (tabs and line breaks allowed, no other control characters) of bounded length."""
    if len(value) > CONSENT_MAX:
        return f"must be at most {CONSENT_MAX} characters long, not {len(value)}"
    control = next((c for c in value if (ord(c) < 32 or 127 <= ord(c) < 160) and c not in "\t\n\r"), None)
    return control and f"must not hold control characters such as {control!r}"


def _read_consent_text(value: str) -> tuple[str, str | None]:
    """The text a consent setting stands for (a ``file:`` read now), or a problem in the words of ``_check``."""
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


def _consent_text_setting(language: str) -> Any:
    return setting("", f"Consent text shown in {language}: empty = the kiosk's standard wording (translated), else the "
                   f"site's own text, shown as written, or file:/path/to/text.txt (an absolute path) to read it from a "
                   f"UTF-8 file at start-up (text: at most {CONSENT_MAX} characters; line breaks, but no other control "
                   f"characters).")


@dataclass(frozen=True)
class ConsentSettings:
    text_de: str = _consent_text_setting("German")
    text_en: str = _consent_text_setting("English")
    text_tr: str = _consent_text_setting("Turkish")
    text_fr: str = _consent_text_setting("French")
    signature: bool = setting(True, "Ask patients who agree to sign with a finger on the screen; the signature is stored "
                              "as a PNG with the admission and sent with the FHIR Consent (true/false).")

    def __post_init__(self) -> None:
        # The files are read once, here (while the config is loaded and checked), and their text kept: a
        # file removed or changed later changes nothing until the next start. Kept outside the fields, so
        # no TOML key can set it.
        texts = {}
        for language in SUPPORTED_LANGUAGES:
            text, problem = _read_consent_text(getattr(self, f"text_{language}"))
            if problem:
                raise ConfigError(f"'consent.text_{language}' {problem}.")
            if text:
                texts[language] = text
        object.__setattr__(self, "_texts", texts)

    def texts(self) -> dict[str, str]:
        """The site's own consent texts by language, as read at start-up; languages without one are left out."""
        return dict(self._texts)


_PORT = Range(1, 65535)


def _ip_address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"must be an IP address such as 127.0.0.1 or 0.0.0.0, not {shown(value)}"
    return None


PEER_SECRET_MIN = 32


def _peer_urls(urls: tuple) -> str | None:
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


def _peer_secret_file(path: str) -> str | None:
    if not path:
        return None
    try:
        read_peer_secret(path)
    except ConfigError as e:
        return str(e)
    return None


@dataclass(frozen=True)
class DeskSettings:
    enabled: bool = setting(False, "Serve the desk web page (open incidents, live, with staff actions) while `kiosk run` "
                            "runs (true/false; `kiosk desk` serves it on its own).")
    bind: str = setting("127.0.0.1", "Address the desk page listens on: 127.0.0.1 for this machine only, or an address of "
                        "the hospital network, which needs tls_cert (IP address).", check=_ip_address)
    port: int = setting(8043, "TCP port of the desk page (number).", check=_PORT)
    tls_cert: str = setting("", "Certificate of the desk page, PEM, with its key in the same file or in tls_key; set, the "
                            "page is served over HTTPS only (absolute path; empty = plain HTTP, allowed on 127.0.0.1 only).",
                            check=_file)
    tls_key: str = setting("", "Key of tls_cert when it is a file of its own (absolute path; empty = none).", check=_file)
    session_h: float = setting(8.0, "A desk sign-in lasts this long, a shift, then staff sign in again (hours).",
                               check=Range(0.1, 24, "hours"))
    peers: tuple = setting((), "Desk base URLs of the site's other kiosks whose incidents this page lists too, e.g. "
                           "https://lobby-2.example:8043 (URLs: https, or http to 127.0.0.1/localhost only; empty = "
                           "this kiosk's own incidents only; needs peer_secret_file; each once).",
                           check=_all(_entries(text_check(2048, chars=visible, what="printable characters without spaces")),
                                      _peer_urls))
    peer_secret_file: str = setting("", "File holding the site's shared secret for the desk pages' peer API, the same on "
                                    "every kiosk, mode 0600 (absolute path; empty = this kiosk neither serves nor calls the peer API).",
                                    check=_all(path_check(), _peer_secret_file))
    peer_ca_file: str = setting("", "CA certificates to verify the peers' desk TLS certificates with (absolute path; empty = the "
                                "system's).", check=_file)
    peer_timeout_s: float = setting(2.0, "Longest wait for a peer kiosk's list of incidents; one that takes longer is shown "
                                    "as not answering (seconds).", check=_seconds(0.1, 30))


@dataclass(frozen=True)
class StaffSettings:
    idle_timeout_s: float = setting(120.0, "Time without a touch before staff mode on the kiosk screen signs the staff "
                                    "member out (seconds).", check=_seconds(10, 3600))


def _rotation(value: int) -> str | None:
    return None if value in (0, 90, 180, 270) else f"must be 0, 90, 180 or 270, not {shown(value)}"


_TOUCH_SCALE = Range(0.5, 2)


def _touch_scale(value: float) -> str | None:
    """Between 0.5 and 2 either way round (negative: mirrored); a smaller one would squeeze the whole panel into
    a corner of the screen, a larger one leave most of the screen out of reach."""
    if _TOUCH_SCALE.holds(abs(value)):
        return None
    return f"must be between 0.5 and 2, or between -2 and -0.5 to mirror, not {shown(value)}"


@dataclass(frozen=True)
class StoreSettings:
    encryption: str = setting("sqlcipher", "How the store file is kept on disk: sqlcipher (encrypted, AES-256, with the key "
                              "below) or none (plain SQLite, readable by anyone holding the disk; `kiosk doctor` warns).",
                              choices=("sqlcipher", "none"))
    key_file: str = setting("/etc/kiosk/store.key", "File holding the store's key: 64 hexadecimal digits on one line "
                            "(`openssl rand -hex 32`), readable by root only; the environment variable KIOSK_STORE_KEY "
                            "and the systemd credential store-key come first (absolute path).",
                            check=path_check(required=True))
    retention_h: float = setting(24.0, "Personal data of an admission with nothing left to deliver or resolve is wiped "
                                 "this long after check-in; the queue number and times stay (hours).",
                                 check=Range(1, 720, "hours"))


@dataclass(frozen=True)
class DisplaySettings:
    rotation: int = setting(0, "Turn the picture and the touches with it, for a screen mounted on its side or upside down "
                            "(degrees: 0, 90, 180 or 270).", check=_rotation)
    touch_x_scale: float = setting(1.0, "Touch calibration: a touch's horizontal position is multiplied by this (-1 with "
                                   "touch_x_offset 1 mirrors it) (factor: 0.5 to 2, or -2 to -0.5).", check=_touch_scale)
    touch_x_offset: float = setting(0.0, "Touch calibration: then this is added, as a share of the screen's width (share).",
                                    check=Range(-1, 1))
    touch_y_scale: float = setting(1.0, "Touch calibration: a touch's vertical position is multiplied by this (factor: 0.5 "
                                   "to 2, or -2 to -0.5).", check=_touch_scale)
    touch_y_offset: float = setting(0.0, "Touch calibration: then this is added, as a share of the screen's height (share).",
                                    check=Range(-1, 1))
    idle_fps: float = setting(1.0, "Frames per second once the welcome screen has waited 5 s untouched (30 while in "
                              "use): an idle kiosk then uses a fraction of the CPU. Under X (Xwayland in cage, as "
                              "installed) a touch or a card ends the wait between two frames at once; on other "
                              "displays the first touch may wait up to 1/idle_fps s (frames per second).",
                              check=Range(1, 30, "frames per second"))


@dataclass(frozen=True)
class LogSettings:
    level: str = setting("info", "How much the kiosk logs, to the journal (or stderr): debug, info, warning or error; "
                         "never personal data at any level (level).", choices=("debug", "info", "warning", "error"))


def _metrics_port(port: int) -> str | None:
    return None if port == 0 or _PORT.holds(port) else f"must be 0 (off) or between 1 and 65535, not {shown(port)}"


@dataclass(frozen=True)
class MetricsSettings:
    textfile: str = setting("/var/lib/prometheus/node-exporter/kiosk.prom", "File the kiosk's figures are written to "
                            "for the Prometheus node exporter's textfile collector, when its folder exists (absolute "
                            "path; empty = none).", check=path_check())
    port: int = setting(0, "Serve the same figures at http://127.0.0.1:PORT/metrics for a local Prometheus agent "
                        "(number: 1 to 65535; 0 = off).", check=_metrics_port)
    interval_s: float = setting(15.0, "How often the figures are brought up to date (seconds).", check=_seconds(0.1, 3600))


@dataclass(frozen=True)
class Settings:
    kiosk: KioskSettings = field(default_factory=KioskSettings, metadata={"description": "This kiosk (section)."})
    reader: ReaderSettings = field(default_factory=ReaderSettings, metadata={"description": "The card reader (section)."})
    printer: PrinterSettings = field(default_factory=PrinterSettings, metadata={"description": "Printers (section)."})
    hospital: HospitalSettings = field(default_factory=HospitalSettings,
                                       metadata={"description": "The hospital system (section)."})
    forms: FormsSettings = field(default_factory=FormsSettings, metadata={"description": "Intake forms (section)."})
    consent: ConsentSettings = field(default_factory=ConsentSettings,
                                     metadata={"description": "The consent screen (section)."})
    speech: SpeechSettings = field(default_factory=SpeechSettings, metadata={"description": "Read aloud (section)."})
    staff: StaffSettings = field(default_factory=StaffSettings,
                                 metadata={"description": "Staff mode on the kiosk screen (section)."})
    desk: DeskSettings = field(default_factory=DeskSettings,
                               metadata={"description": "The desk web page for front-desk staff (section)."})
    store: StoreSettings = field(default_factory=StoreSettings,
                                 metadata={"description": "The local store of admissions (section)."})
    display: DisplaySettings = field(default_factory=DisplaySettings,
                                     metadata={"description": "The touchscreen (section)."})
    log: LogSettings = field(default_factory=LogSettings, metadata={"description": "Logging (section)."})
    metrics: MetricsSettings = field(default_factory=MetricsSettings,
                                     metadata={"description": "Figures for Prometheus (section)."})

    @property
    def data_path(self) -> Path:
        return Path(self.kiosk.data_dir)

    def replace(self, **sections: Any) -> "Settings":
        """A copy with whole sections replaced, e.g. ``replace(reader=ReaderSettings(kind="simulated"))``."""
        return dataclasses.replace(self, **sections)


def config_path(explicit: str | os.PathLike | None) -> Path | None:
    """The file to read: the one given, else $KIOSK_CONFIG, else /etc/kiosk/kiosk.toml if it exists, else none."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load(path: str | os.PathLike | None) -> Settings:
    """Read and validate the settings in ``path`` (None: built-in defaults)."""
    if path is None:
        return Settings()
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"The config file {path} does not exist.") from None
    except OSError as e:
        raise ConfigError(f"The config file {path} cannot be read: {e.strerror}.") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"The config file {path} is not valid TOML: {e}.") from None
    try:
        settings = _build(Settings, raw, "")
        _check_hospital(settings.hospital)
        _check_desk(settings.desk)
        if settings.kiosk.idle_warning_s >= settings.kiosk.idle_timeout_s:
            raise ConfigError("'kiosk.idle_warning_s' must be shorter than kiosk.idle_timeout_s "
                              f"({settings.kiosk.idle_timeout_s:g} s).")
    except ConfigError as e:
        raise ConfigError(f"In {path}: {e}") from None
    return settings


def _build(cls: type, raw: dict, prefix: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise ConfigError(f"'{prefix}{key}' is not a setting the kiosk knows.")
    values = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        key = f"{prefix}{name}"
        value = raw[name]
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"'{key}' must be a section ([{key}]), not a single value.")
            values[name] = _build(type(default), value, f"{key}.")
            continue
        values[name] = _coerce(key, value, default)
        _check(key, values[name], f.metadata)
    return cls(**values)


def _coerce(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        kind = "true or false"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        kind = "a number"
        if ok:
            try:
                value = float(value)
            except OverflowError:           # a whole number too large for a float: the range says so
                value = math.copysign(math.inf, value)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        kind = "a whole number"
    elif isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        kind = "a list of texts"
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, str)
        kind = "a text in quotes"
    if not ok:
        raise ConfigError(f"'{key}' must be {kind}, not {shown(value)}.")
    return value


def _check(key: str, value: Any, meta: Any) -> None:
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"'{key}' must be one of {', '.join(choices)}, not {shown(value)}.")
    check = meta.get("check")
    problem = check(value) if check else None
    if problem:
        raise ConfigError(f"'{key}' {problem}.")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_hospital(h: HospitalSettings) -> None:
    """Plain http:// and MLLP without TLS only to loopback; everything else TLS (docs/cli.md)."""
    if h.transport == "none":
        return
    if not h.url:
        raise ConfigError(f"'hospital.url' must be set when hospital.transport is {h.transport}.")
    parts = urlsplit(h.url)
    allowed = {"fhir": ("https", "http"), "hl7v2": ("mllps", "mllp"), "folder": ("file",)}[h.transport]
    if parts.scheme not in allowed:
        raise ConfigError(f"'hospital.url' must start with {allowed[0]}:// for transport {h.transport}, not {h.url!r}.")
    if h.transport != "folder" and not parts.hostname:
        raise ConfigError(f"'hospital.url' names no host: {h.url!r}.")
    if h.transport == "folder" and not parts.path.strip("/"):
        raise ConfigError(f"'hospital.url' names no folder: {h.url!r}.")
    if parts.scheme in ("http", "mllp") and not is_loopback(parts.hostname):
        raise ConfigError(f"'hospital.url' uses {parts.scheme}:// without TLS, which is allowed only for 127.0.0.1 or "
                          f"localhost; use {allowed[0]}:// for {parts.hostname}.")


def _check_desk(d: DeskSettings) -> None:
    """The desk page without TLS only on loopback: staff PINs and sessions must not cross the network in clear."""
    if d.tls_key and not d.tls_cert:
        raise ConfigError("'desk.tls_key' is set but desk.tls_cert is not; give the certificate too.")
    if not d.tls_cert and not is_loopback(d.bind):
        raise ConfigError(f"'desk.bind' is {d.bind}, which other machines can reach, but desk.tls_cert is not set; "
                          "serve the desk page over TLS (desk.tls_cert) or bind it to 127.0.0.1.")
    if d.peers and not d.peer_secret_file:
        raise ConfigError("'desk.peers' is set but desk.peer_secret_file is not; give the site's shared secret too.")


def describe(cls: type = Settings, prefix: str = "") -> list[tuple[str, Any, str]]:
    """Every setting as (dotted key, default, description): the config reference and its test use this."""
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            rows.extend(describe(type(default), f"{prefix}{f.name}."))
        else:
            rows.append((f"{prefix}{f.name}", default, f.metadata.get("description", "")))
    return rows


def _toml(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def example_toml() -> str:
    """deploy/kiosk.example.toml: every setting with its default and description."""
    lines = ["# Example /etc/kiosk/kiosk.toml: every setting with its default.",
             "# Delete what you do not change; unknown keys are an error (the kiosk names them).",
             "# Made by `make docs` from kiosk/config.py."]
    section = None
    for key, default, description in describe():
        sec, name = key.rsplit(".", 1)
        if sec != section:
            lines += ["", f"[{sec}]"]
            section = sec
        lines += [f"# {description}", f"{name} = {_toml(default)}"]
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """docs/configuration.md: the table of every setting."""
    head = """# Configuration reference

One TOML file per kiosk: the file given with `--config`, else the one named by `$KIOSK_CONFIG`, else
`/etc/kiosk/kiosk.toml` if it exists, else the built-in defaults. Every key has a default; an unknown key,
a wrong type or a bad value stops the kiosk with exit code 2 and one sentence naming the key.
`deploy/kiosk.example.toml` lists every key with its default. Both files are made by `make docs` from
`kiosk/config.py`.

Every value is checked: a number must be finite (TOML's `nan` and `inf` are refused) and within the range
its line gives; a path must be absolute (a relative one would depend on the folder the kiosk is started
from), and a file the kiosk reads at start-up (certificates, keys, the token, the peer secret, a consent
text) must be there; a text must be printable (no control characters) and within its length; a list may
not hold an empty or a repeated entry.

Plain `http://` (and MLLP without TLS) is accepted only for loopback addresses (127.0.0.1, localhost);
anything else must be TLS with verification on.

| key | default | what it is |
|---|---|---|
"""
    bar = "\\|"                  # a | of a description, escaped for the table
    rows = [f"| `{key}` | `{_toml(default)}` | {description.replace('|', bar)} |" for key, default, description in describe()]
    return head + "\n".join(rows) + "\n"


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    (root / "deploy" / "kiosk.example.toml").write_text(example_toml(), encoding="utf-8")
    (root / "docs" / "configuration.md").write_text(reference_markdown(), encoding="utf-8")
