"""The settings, one frozen dataclass per section of the TOML file, and ``Settings`` holding them all. Each
field is a ``setting``: its default, a one-line description with the unit, its checks (kiosk.config.fields).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.checkin.model import KVNR_SYSTEM, SSIN_SYSTEM
from kiosk.config.fields import (
    CONSENT_MAX, HL7_CHARS, NAME_CHARS, PORT, SUPPORTED_LANGUAGES, ConfigError, Range, all_of, command_line, entries,
    file_check, form_exists, hl7_name, identifier_system, ip_address, language_list, metrics_port, name_char,
    national_id_systems, path_check, peer_urls, printer_profile, printer_uri, quarter_turn,
    read_consent_text, seconds, setting, text_check, text_codec, touch_scale, url_check, usable_peer_secret, visible)

from kiosk.config.site import QueueSettings, SiteSettings


@dataclass(frozen=True)
class KioskSettings:
    id: str = setting("lobby-1", f"Name of this kiosk, shown to staff and sent with every admission (text: 1 to 20 "
                      f"{NAME_CHARS}; HL7 v2 takes no more as the sending facility).",
                      check=text_check(20, chars=name_char, what=NAME_CHARS))
    data_dir: str = setting("/var/lib/kiosk", "Folder for the store and everything else the kiosk writes (absolute path).",
                            check=path_check(required=True, kind="folder"))
    languages: tuple = setting(SUPPORTED_LANGUAGES, "Languages offered to patients, each once; the first is where every "
                               "session starts (ISO 639-1 codes).", check=all_of(language_list, entries()))
    queue_prefix: str = setting("A", "Letters printed before the kiosk's own queue numbers, e.g. A-017: every ticket's "
                                "without a site service (site.url), else those printed while the site service is away; "
                                "with a site service each kiosk needs its own, other than every queue's prefix, so that "
                                "no two tickets share a number (text: 1 to 4 letters or digits).",
                                check=text_check(4, chars=str.isalnum, what="letters or digits"))
    idle_timeout_s: float = setting(60.0, "Time without a touch before a session is wiped (seconds).",
                                    check=seconds(10, 3600))
    idle_warning_s: float = setting(15.0, "How long the 'Are you still there?' warning shows before the wipe; shorter "
                                    "than idle_timeout_s (seconds).", check=seconds(5, 600))
    done_timeout_s: float = setting(20.0, "How long the final screen with the queue number stays (seconds).",
                                    check=seconds(3, 600))
    help_timeout_s: float = setting(300.0, "How long a patient who called staff may wait before the idle warning (seconds).",
                                    check=seconds(10, 3600))


@dataclass(frozen=True)
class ReaderSettings:
    kind: str = setting("pcsc", "Card reader driver: pcsc (real readers through pcscd) or simulated (sample cards).",
                        choices=("pcsc", "simulated"))
    names: tuple = setting((), "Use only readers whose name contains one of these (texts of 1 to 128 printable "
                           "characters, each once; empty = every reader).", check=entries(text_check(128)))


@dataclass(frozen=True)
class ScannerSettings:
    kind: str = setting("none", "Barcode scanner for arrival codes: none, serial (a serial or USB-CDC port), hid (a USB "
                        "scanner in keyboard mode) or simulated (for demos and tests).",
                        choices=("none", "serial", "hid", "simulated"))
    port: str = setting("", "Port of a serial scanner, best its /dev/serial/by-id/... name, which stays when the scanner "
                        "moves to another USB socket (absolute path; needed for kind serial).", check=path_check())
    baudrate: int = setting(9600, "Speed of a serial scanner's port, as set in the scanner; a USB-CDC port ignores it "
                            "(bits per second).", check=Range(1200, 921600, "bits per second"))
    line_ending: str = setting("any", "What ends a scan on a serial scanner: cr, lf, crlf, or any of them (suffix).",
                               choices=("any", "cr", "lf", "crlf"))
    encoding: str = setting("utf-8", "Character set a serial scanner sends, e.g. utf-8, latin-1, cp437; a byte that is "
                            "not valid in it is read as U+FFFD (name).", check=text_codec)
    hid_device: str = setting("", "Input device of a scanner in USB keyboard mode, best its "
                              "/dev/input/by-id/usb-...-event-kbd name; the kiosk grabs it, so its keys reach nothing "
                              "else (absolute path; needed for kind hid).", check=path_check())

    def __post_init__(self) -> None:
        for kind, key in (("serial", "port"), ("hid", "hid_device")):
            if self.kind == kind and not getattr(self, key):
                raise ConfigError(f"'scanner.{key}' must be set when scanner.kind is {kind}.")


_TIMEOUT_PRINTER = seconds(0.1, 120)


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
                                  check=all_of(entries(), national_id_systems))


@dataclass(frozen=True)
class PrinterSettings:
    ticket: TicketPrinterSettings = field(default_factory=TicketPrinterSettings,
                                          metadata={"description": "The queue-ticket printer (section)."})
    wristband: WristbandPrinterSettings = field(default_factory=WristbandPrinterSettings,
                                                metadata={"description": "The wristband printer, for sites that band patients at check-in (section)."})


@dataclass(frozen=True)
class HospitalSettings:
    transport: str = setting("none", "How admissions reach the hospital system: fhir, hl7v2, folder, or none (keep them only in the store). "
                             "On the site service: how finished pre-check-ins reach it before the patients come (none: only with "
                             "their arrival).",
                             choices=("fhir", "hl7v2", "folder", "none"))
    url: str = setting("", "Address of the hospital system: https://... for fhir, mllp://host:port for hl7v2, file:///dir for folder (URL: at "
                       "most 2048 characters, no spaces).", check=url_check)
    timeout_s: float = setting(10.0, "Longest wait for one answer from the hospital system (seconds).",
                               check=seconds(0.1, 300))
    ca_file: str = setting("", "CA certificates to verify the hospital system's TLS certificate with (absolute path; empty = the system's).", check=file_check)
    client_cert: str = setting("", "Client certificate for TLS, PEM, with its key in the same file or in client_key (absolute path; empty = none).",
                               check=file_check)
    client_key: str = setting("", "Key of client_cert when it is a file of its own (absolute path; empty = none).", check=file_check)
    token_file: str = setting("", "File holding a bearer token sent as Authorization with every FHIR request (absolute path; empty = none).", check=file_check)
    encounter_status: str = setting("arrived", "FHIR Encounter.status of a check-in: arrived (FHIR R4) or in-progress (ISiK and "
                                    "other servers without arrived).", choices=("arrived", "in-progress"))
    folder_format: str = setting("fhir", "What the drop folder gets, one file per admission: fhir (transaction Bundle JSON) or hl7v2 "
                                 "(ADT^A04).", choices=("fhir", "hl7v2"))
    hl7_receiving_application: str = setting("", "MSH-5 of HL7 v2 messages, as the receiving system expects it (text: at "
                                             f"most 20 {HL7_CHARS}).", check=hl7_name)
    hl7_receiving_facility: str = setting("", f"MSH-6 of HL7 v2 messages (text: at most 20 {HL7_CHARS}).",
                                          check=hl7_name)
    hl7_patient_class: str = setting("O", "PV1-2 patient class of HL7 v2 messages: O outpatient, E emergency, I inpatient (code).",
                                     choices=("O", "E", "I", "P"))
    appointment_lookup_s: float = setting(3.0, "Longest wait for the patient's appointments of today (FHIR) while they "
                                          "look at their details; then they check in as a walk-in (seconds).",
                                          check=seconds(0.1, 30))
    retry_max_s: float = setting(300.0, "Longest pause between two attempts to deliver an admission while the hospital "
                                 "system is unreachable (seconds).", check=seconds(1, 3600))
    patient_id_system: str = setting("", "Identifier system of the hospital's own patient numbers (e.g. the urn:oid:... of "
                                     "its MRN), as its FHIR server gives them in Patient.identifier: the Patient of the "
                                     "patient's appointment today is read with the appointment, and this number is "
                                     "printed on the wristband (URI; empty = none).", check=identifier_system)


@dataclass(frozen=True)
class FormsSettings:
    intake: str = setting("intake-basic", f"Questionnaire asked at check-in, a file name in assets/forms without .json "
                          f"(name: 1 to 64 {NAME_CHARS}).",
                          check=all_of(text_check(64, chars=lambda c: c.isascii() and name_char(c), what=f"ASCII {NAME_CHARS}"),
                                     form_exists))


@dataclass(frozen=True)
class SpeechSettings:
    enabled: bool = setting(True, "Offer the \"Read aloud\" button on every screen (true/false; it shows only when the "
                            "command is installed).")
    command: str = setting("espeak-ng", "The text-to-speech program and any options of its own, run without a shell; it gets "
                           "the voice, rate and text on stdin like espeak-ng (command line: at most 1024 printable characters).",
                           check=all_of(text_check(1024), command_line))
    rate_wpm: int = setting(150, "Speaking rate; slower than espeak-ng's 175 for older patients, within espeak-ng's "
                            "range (words per minute).", check=Range(80, 450, "words per minute"))


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
            text, problem = read_consent_text(getattr(self, f"text_{language}"))
            if problem:
                raise ConfigError(f"'consent.text_{language}' {problem}.")
            if text:
                texts[language] = text
        object.__setattr__(self, "_texts", texts)

    def texts(self) -> dict[str, str]:
        """The site's own consent texts by language, as read at start-up; languages without one are left out."""
        return dict(self._texts)


@dataclass(frozen=True)
class DeskSettings:
    enabled: bool = setting(False, "Serve the desk web page (open incidents, live, with staff actions) while `kiosk run` "
                            "runs (true/false; `kiosk desk` serves it on its own).")
    bind: str = setting("127.0.0.1", "Address the desk page listens on: 127.0.0.1 for this machine only, or an address of "
                        "the hospital network, which needs tls_cert (IP address).", check=ip_address)
    port: int = setting(8043, "TCP port of the desk page (number).", check=PORT)
    tls_cert: str = setting("", "Certificate of the desk page, PEM, with its key in the same file or in tls_key; set, the "
                            "page is served over HTTPS only (absolute path; empty = plain HTTP, allowed on 127.0.0.1 only).",
                            check=file_check)
    tls_key: str = setting("", "Key of tls_cert when it is a file of its own (absolute path; empty = none).", check=file_check)
    session_h: float = setting(8.0, "A desk sign-in lasts this long, a shift, then staff sign in again (hours).",
                               check=Range(0.1, 24, "hours"))
    peers: tuple = setting((), "Desk base URLs of the site's other kiosks whose incidents this page lists too, e.g. "
                           "https://lobby-2.example:8043 (URLs: https, or http to 127.0.0.1/localhost only; empty = "
                           "this kiosk's own incidents only; needs peer_secret_file; each once).",
                           check=all_of(entries(text_check(2048, chars=visible, what="printable characters without spaces")),
                                      peer_urls))
    peer_secret_file: str = setting("", "File holding the site's shared secret for the desk pages' peer API, the same on "
                                    "every kiosk, mode 0600 (absolute path; empty = this kiosk neither serves nor calls the peer API).",
                                    check=all_of(path_check(), usable_peer_secret))
    peer_ca_file: str = setting("", "CA certificates to verify the peers' desk TLS certificates with (absolute path; empty = the "
                                "system's).", check=file_check)
    peer_timeout_s: float = setting(2.0, "Longest wait for a peer kiosk's list of incidents; one that takes longer is shown "
                                    "as not answering (seconds).", check=seconds(0.1, 30))


@dataclass(frozen=True)
class StaffSettings:
    idle_timeout_s: float = setting(120.0, "Time without a touch before staff mode on the kiosk screen signs the staff "
                                    "member out (seconds).", check=seconds(10, 3600))


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
                            "(degrees: 0, 90, 180 or 270).", check=quarter_turn)
    touch_x_scale: float = setting(1.0, "Touch calibration: a touch's horizontal position is multiplied by this (-1 with "
                                   "touch_x_offset 1 mirrors it) (factor: 0.5 to 2, or -2 to -0.5).", check=touch_scale)
    touch_x_offset: float = setting(0.0, "Touch calibration: then this is added, as a share of the screen's width (share).",
                                    check=Range(-1, 1))
    touch_y_scale: float = setting(1.0, "Touch calibration: a touch's vertical position is multiplied by this (factor: 0.5 "
                                   "to 2, or -2 to -0.5).", check=touch_scale)
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


@dataclass(frozen=True)
class MetricsSettings:
    textfile: str = setting("/var/lib/prometheus/node-exporter/kiosk.prom", "File the kiosk's figures are written to "
                            "for the Prometheus node exporter's textfile collector, when its folder exists (absolute "
                            "path; empty = none).", check=path_check())
    port: int = setting(0, "Serve the same figures at http://127.0.0.1:PORT/metrics for a local Prometheus agent "
                        "(number: 1 to 65535; 0 = off).", check=metrics_port)
    interval_s: float = setting(15.0, "How often the figures are brought up to date (seconds).", check=seconds(0.1, 3600))


@dataclass(frozen=True)
class Settings:
    kiosk: KioskSettings = field(default_factory=KioskSettings, metadata={"description": "This kiosk (section)."})
    reader: ReaderSettings = field(default_factory=ReaderSettings, metadata={"description": "The card reader (section)."})
    scanner: ScannerSettings = field(default_factory=ScannerSettings,
                                     metadata={"description": "The barcode scanner (section)."})
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
    queues: QueueSettings = field(default_factory=QueueSettings,
                                  metadata={"description": "The queues patients wait in and which one each joins "
                                                           "(section)."})
    site: SiteSettings = field(default_factory=SiteSettings,
                               metadata={"description": "The site service: pre-check-in on the patient's phone "
                                                        "(`kiosk site`) (section)."})
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
