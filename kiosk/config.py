"""Typed settings read from one TOML file, validated once at start-up.

Every field has a default and a one-line description with its unit (``setting``). Unknown keys,
wrong types and bad values raise :class:`ConfigError` with a sentence naming the key.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from kiosk.model import KVNR_SYSTEM, NATIONAL_ID_SYSTEMS, SSIN_SYSTEM
from kiosk.paths import ASSETS

DEFAULT_CONFIG_PATH = Path("/etc/kiosk/kiosk.toml")
CONFIG_ENV = "KIOSK_CONFIG"
SUPPORTED_LANGUAGES = ("de", "en", "tr", "fr")


class ConfigError(ValueError):
    """A config file that cannot be used; the message is one sentence for the person who wrote it."""


def setting(default: Any, description: str, *, choices: tuple | None = None,
            check: Callable[[Any], str | None] | None = None) -> Any:
    """A config field: its default, a one-line description with the unit, and optional checks.

    :param choices: the only values allowed
    :param check: returns a sentence fragment saying what is wrong, or None when the value is good
    """
    meta = {"description": description, "choices": choices, "check": check}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _languages(value: tuple) -> str | None:
    if not value:
        return "must name at least one language"
    unknown = [v for v in value if v not in SUPPORTED_LANGUAGES]
    if unknown:
        return f"has {', '.join(unknown)}, but the kiosk speaks only {', '.join(SUPPORTED_LANGUAGES)}"
    return None


@dataclass(frozen=True)
class KioskSettings:
    id: str = setting("lobby-1", "Name of this kiosk, shown to staff and sent with every admission (text).")
    data_dir: str = setting("/var/lib/kiosk", "Folder for the store and everything else the kiosk writes (path).")
    languages: tuple = setting(SUPPORTED_LANGUAGES, "Languages offered to patients; the first is where every session starts (ISO 639-1 codes).",
                               check=_languages)
    queue_prefix: str = setting("A", "Letters printed before the queue number on the ticket, e.g. A-017 (text).")
    idle_timeout_s: float = setting(60.0, "Time without a touch before a session is wiped (seconds).", check=_positive)
    idle_warning_s: float = setting(15.0, "How long the 'Are you still there?' warning shows before the wipe (seconds).",
                                    check=_positive)
    done_timeout_s: float = setting(20.0, "How long the final screen with the queue number stays (seconds).", check=_positive)
    help_timeout_s: float = setting(300.0, "How long a patient who called staff may wait before the idle warning (seconds).",
                                    check=_positive)


@dataclass(frozen=True)
class ReaderSettings:
    kind: str = setting("pcsc", "Card reader driver: pcsc (real readers through pcscd) or simulated (sample cards).",
                        choices=("pcsc", "simulated"))
    names: tuple = setting((), "Use only readers whose name contains one of these (texts; empty = every reader).")


def _printer_uri(uri: str) -> str | None:
    if not uri:
        return None
    from kiosk.hardware.printer import uri_problem
    problem = uri_problem(uri)
    return problem and "cannot be used: " + problem[0].lower() + problem[1:].rstrip(".")


@dataclass(frozen=True)
class TicketPrinterSettings:
    uri: str = setting("preview:tickets", "Where queue tickets go: tcp://host:9100, usb://VID:PID, serial:///dev/ttyUSB0?baudrate=19200, "
                       "file:///dev/usb/lp0, cups://queue, or preview:DIR for PNG files (URI; a relative DIR is inside "
                       "data_dir; empty = no tickets).", check=_printer_uri)
    profile: str = setting("TM-T88V", "python-escpos capability profile of the printer model, e.g. TM-T88V, TM-T20II (profile name).")
    timeout_s: float = setting(5.0, "Longest wait for each step of a job: reaching the printer and its status, sending the job "
                               "(plus a serial line's transfer time), the printer finishing it (seconds).", check=_positive)
    show_name: bool = setting(False, "Print the patient's name under the queue number (true/false; off: tickets get left on chairs).")


def _national_ids(systems: tuple) -> str | None:
    unknown = [s for s in systems if s not in NATIONAL_ID_SYSTEMS]
    if unknown:
        return f"has {', '.join(unknown)}, but the cards give only {' and '.join(NATIONAL_ID_SYSTEMS)}"
    return None


@dataclass(frozen=True)
class WristbandPrinterSettings:
    uri: str = setting("", "Where patient wristbands go, as for tickets (URI; empty = the kiosk prints no wristbands).",
                       check=_printer_uri)
    profile: str = setting("TM-L90", "python-escpos capability profile of the band printer; a 203 dpi one, as bands are drawn "
                           "dot for dot (profile name).")
    timeout_s: float = setting(5.0, "Longest wait for each step of a wristband job, as for tickets (seconds).", check=_positive)
    national_ids: tuple = setting((), "National numbers that may be printed on the band, by identifier system, where the "
                                  "site's rules allow it (in Germany and Belgium they restrict it): "
                                  f"{KVNR_SYSTEM} (German insurance number, KVNR) or {SSIN_SYSTEM} (Belgian national "
                                  "number); printed, named for what it is, only when the hospital system gave no patient "
                                  "number of its own (hospital.patient_id_system) (identifier systems; empty = none).",
                                  check=_national_ids)


@dataclass(frozen=True)
class PrinterSettings:
    ticket: TicketPrinterSettings = field(default_factory=TicketPrinterSettings,
                                          metadata={"description": "The queue-ticket printer (section)."})
    wristband: WristbandPrinterSettings = field(default_factory=WristbandPrinterSettings,
                                                metadata={"description": "The wristband printer, for sites that band patients at check-in (section)."})


def _file(path: str) -> str | None:
    return None if not path or Path(path).is_file() else f"names no file: there is no {path}"


def _identifier_system(system: str) -> str | None:
    if not system:
        return None
    parts = urlsplit(system)
    if parts.scheme not in ("urn", "http", "https") or not (parts.netloc or parts.path) or any(c.isspace() for c in system):
        return f"must be an identifier system URI (urn:oid:..., http://... or https://...), not {system!r}"
    return None


@dataclass(frozen=True)
class HospitalSettings:
    transport: str = setting("none", "How admissions reach the hospital system: fhir, hl7v2, folder, or none (keep them only in the store).",
                             choices=("fhir", "hl7v2", "folder", "none"))
    url: str = setting("", "Address of the hospital system: https://... for fhir, mllp://host:port for hl7v2, file:///dir for folder (URL).")
    timeout_s: float = setting(10.0, "Longest wait for one answer from the hospital system (seconds).", check=_positive)
    ca_file: str = setting("", "CA certificates to verify the hospital system's TLS certificate with (path; empty = the system's).", check=_file)
    client_cert: str = setting("", "Client certificate for TLS, PEM, with its key in the same file or in client_key (path; empty = none).",
                               check=_file)
    client_key: str = setting("", "Key of client_cert when it is a file of its own (path; empty = none).", check=_file)
    token_file: str = setting("", "File holding a bearer token sent as Authorization with every FHIR request (path; empty = none).", check=_file)
    encounter_status: str = setting("arrived", "FHIR Encounter.status of a check-in: arrived (FHIR R4) or in-progress (ISiK and "
                                    "other servers without arrived).", choices=("arrived", "in-progress"))
    folder_format: str = setting("fhir", "What the drop folder gets, one file per admission: fhir (transaction Bundle JSON) or hl7v2 "
                                 "(ADT^A04).", choices=("fhir", "hl7v2"))
    hl7_receiving_application: str = setting("", "MSH-5 of HL7 v2 messages, as the receiving system expects it (text).")
    hl7_receiving_facility: str = setting("", "MSH-6 of HL7 v2 messages (text).")
    hl7_patient_class: str = setting("O", "PV1-2 patient class of HL7 v2 messages: O outpatient, E emergency, I inpatient (code).",
                                     choices=("O", "E", "I", "P"))
    appointment_lookup_s: float = setting(3.0, "Longest wait for the patient's appointments of today (FHIR) while they "
                                          "look at their details; then they check in as a walk-in (seconds).", check=_positive)
    retry_max_s: float = setting(300.0, "Longest pause between two attempts to deliver an admission while the hospital "
                                 "system is unreachable (seconds).", check=_positive)
    patient_id_system: str = setting("", "Identifier system of the hospital's own patient numbers (e.g. the urn:oid:... of "
                                     "its MRN), as its FHIR server gives them in Patient.identifier: the Patient of the "
                                     "patient's appointment today is read with the appointment, and this number is "
                                     "printed on the wristband (URI; empty = none).", check=_identifier_system)


def _form_exists(name: str) -> str | None:
    if not (ASSETS / "forms" / f"{name}.json").is_file():
        return f"names no form: there is no {ASSETS / 'forms' / name}.json"
    from kiosk import forms
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
    intake: str = setting("intake-basic", "Questionnaire asked at check-in, a file name in assets/forms without .json (name).",
                          check=_form_exists)


def _command(command: str) -> str | None:
    import shlex
    try:
        return None if shlex.split(command) else "must name a program"
    except ValueError as e:
        return f"cannot be split into a program and its options: {e}"


def _speech_rate(wpm: int) -> str | None:
    return None if 80 <= wpm <= 450 else "must be between 80 and 450 (espeak-ng's range)"


@dataclass(frozen=True)
class SpeechSettings:
    enabled: bool = setting(True, "Offer the \"Read aloud\" button on every screen (true/false; it shows only when the "
                            "command is installed).")
    command: str = setting("espeak-ng", "The text-to-speech program and any options of its own, run without a shell; it gets "
                           "the voice, rate and text on stdin like espeak-ng (command line).", check=_command)
    rate_wpm: int = setting(150, "Speaking rate; slower than espeak-ng's 175 for older patients (words per minute).",
                            check=_speech_rate)


CONSENT_FILE_PREFIX = "file:"


def _read_consent_text(value: str) -> tuple[str, str | None]:
    """The text a consent setting stands for (a ``file:`` read now), or a problem in the words of ``_check``."""
    if not value.startswith(CONSENT_FILE_PREFIX):
        return value.strip(), None
    path = Path(value.removeprefix(CONSENT_FILE_PREFIX))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return "", f"names a file the kiosk cannot read as UTF-8 text: {path} ({getattr(e, 'strerror', None) or e})"
    return (text.strip(), None) if text.strip() else ("", f"names an empty file: {path}")


def _consent_text_setting(language: str) -> Any:
    return setting("", f"Consent text shown in {language}: empty = the kiosk's standard wording (translated), else the "
                   f"site's own text, shown as written, or file:/path/to/text.txt to read it from a UTF-8 file at "
                   f"start-up (text).")


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


def _port(port: int) -> str | None:
    return None if 1 <= port <= 65535 else "must be between 1 and 65535"


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
                        "the hospital network, which needs tls_cert (IP address).")
    port: int = setting(8043, "TCP port of the desk page (number).", check=_port)
    tls_cert: str = setting("", "Certificate of the desk page, PEM, with its key in the same file or in tls_key; set, the "
                            "page is served over HTTPS only (path; empty = plain HTTP, allowed on 127.0.0.1 only).",
                            check=_file)
    tls_key: str = setting("", "Key of tls_cert when it is a file of its own (path; empty = none).", check=_file)
    session_h: float = setting(8.0, "A desk sign-in lasts this long, a shift, then staff sign in again (hours).",
                               check=_positive)
    peers: tuple = setting((), "Desk base URLs of the site's other kiosks whose incidents this page lists too, e.g. "
                           "https://lobby-2.example:8043 (URLs: https, or http to 127.0.0.1/localhost only; empty = "
                           "this kiosk's own incidents only; needs peer_secret_file).", check=_peer_urls)
    peer_secret_file: str = setting("", "File holding the site's shared secret for the desk pages' peer API, the same on "
                                    "every kiosk, mode 0600 (path; empty = this kiosk neither serves nor calls the peer API).",
                                    check=_peer_secret_file)
    peer_ca_file: str = setting("", "CA certificates to verify the peers' desk TLS certificates with (path; empty = the "
                                "system's).", check=_file)
    peer_timeout_s: float = setting(2.0, "Longest wait for a peer kiosk's list of incidents; one that takes longer is shown "
                                    "as not answering (seconds).", check=_positive)


@dataclass(frozen=True)
class StaffSettings:
    idle_timeout_s: float = setting(120.0, "Time without a touch before staff mode on the kiosk screen signs the staff "
                                    "member out (seconds).", check=_positive)


def _rotation(value: int) -> str | None:
    return None if value in (0, 90, 180, 270) else "must be 0, 90, 180 or 270"


@dataclass(frozen=True)
class StoreSettings:
    encryption: str = setting("sqlcipher", "How the store file is kept on disk: sqlcipher (encrypted, AES-256, with the key "
                              "below) or none (plain SQLite, readable by anyone holding the disk; `kiosk doctor` warns).",
                              choices=("sqlcipher", "none"))
    key_file: str = setting("/etc/kiosk/store.key", "File holding the store's key: 64 hexadecimal digits on one line "
                            "(`openssl rand -hex 32`), readable by root only; the environment variable KIOSK_STORE_KEY "
                            "and the systemd credential store-key come first (path).")
    retention_h: float = setting(24.0, "Personal data of an admission with nothing left to deliver or resolve is wiped "
                                 "this long after check-in; the queue number and times stay (hours).", check=_positive)


@dataclass(frozen=True)
class DisplaySettings:
    rotation: int = setting(0, "Turn the picture and the touches with it, for a screen mounted on its side or upside down "
                            "(degrees: 0, 90, 180 or 270).", check=_rotation)
    touch_x_scale: float = setting(1.0, "Touch calibration: a touch's horizontal position is multiplied by this (-1 with "
                                   "touch_x_offset 1 mirrors it) (factor).")
    touch_x_offset: float = setting(0.0, "Touch calibration: then this is added, as a share of the screen's width (-1 to 1).")
    touch_y_scale: float = setting(1.0, "Touch calibration: a touch's vertical position is multiplied by this (factor).")
    touch_y_offset: float = setting(0.0, "Touch calibration: then this is added, as a share of the screen's height (-1 to 1).")
    idle_fps: float = setting(1.0, "Frames per second once the welcome screen has waited 5 s untouched (30 while in "
                              "use): an idle kiosk then uses a fraction of the CPU. Under X (Xwayland in cage, as "
                              "installed) a touch or a card ends the wait between two frames at once; on other "
                              "displays the first touch may wait up to 1/idle_fps s (frames per second, 1 to 30).",
                              check=lambda v: None if 1 <= v <= 30 else "must be between 1 and 30")


@dataclass(frozen=True)
class LogSettings:
    level: str = setting("info", "How much the kiosk logs, to the journal (or stderr): debug, info, warning or error; "
                         "never personal data at any level (level).", choices=("debug", "info", "warning", "error"))


@dataclass(frozen=True)
class MetricsSettings:
    textfile: str = setting("/var/lib/prometheus/node-exporter/kiosk.prom", "File the kiosk's figures are written to "
                            "for the Prometheus node exporter's textfile collector, when its folder exists (path; empty "
                            "= none).")
    port: int = setting(0, "Serve the same figures at http://127.0.0.1:PORT/metrics for a local Prometheus agent "
                        "(number; 0 = off).", check=lambda p: None if p == 0 else _port(p))
    interval_s: float = setting(15.0, "How often the figures are brought up to date (seconds).", check=_positive)


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
        value = float(value) if ok else value
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
        raise ConfigError(f"'{key}' must be {kind}, not {value!r}.")
    return value


def _check(key: str, value: Any, meta: Any) -> None:
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"'{key}' must be one of {', '.join(choices)}, not {value!r}.")
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

Plain `http://` (and MLLP without TLS) is accepted only for loopback addresses (127.0.0.1, localhost);
anything else must be TLS with verification on.

| key | default | what it is |
|---|---|---|
"""
    rows = [f"| `{key}` | `{_toml(default)}` | {description.replace('|', '/')} |" for key, default, description in describe()]
    return head + "\n".join(rows) + "\n"


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    (root / "deploy" / "kiosk.example.toml").write_text(example_toml(), encoding="utf-8")
    (root / "docs" / "configuration.md").write_text(reference_markdown(), encoding="utf-8")
