"""Typed settings read from one TOML file, validated once at start-up.

Every field has a default and a one-line description with its unit (``setting``). Unknown keys,
wrong types and bad values raise :class:`ConfigError` with a sentence naming the key. Every value is
checked: numbers are finite and within a :class:`Range`, paths absolute, texts printable and of bounded
length, lists without empty or repeated entries. The same checks serve the ``kiosk`` command's options
(kiosk.cli.arguments).

``fields``: the checks and ``setting``; ``sections``: one frozen dataclass per section, and ``Settings``;
``loader``: reading the file; ``reference``: what ``make docs`` writes (``python -m kiosk.config``).
"""

from kiosk.config.fields import (
    SUPPORTED_LANGUAGES, Check, ConfigError, Range, is_loopback, printer_profile, printer_uri, read_peer_secret,
    shown, text_check, visible)
from kiosk.config.loader import CONFIG_ENV, DEFAULT_CONFIG_PATH, config_path, load
from kiosk.config.reference import describe, example_toml, reference_markdown
from kiosk.config.sections import (
    ConsentSettings, DeskSettings, DisplaySettings, FormsSettings, HospitalSettings, KioskSettings, LogSettings,
    MetricsSettings, PrinterSettings, QueueSettings, ReaderSettings, Settings, SiteSettings, SpeechSettings, StaffSettings,
    StoreSettings,
    TicketPrinterSettings, WristbandPrinterSettings)

__all__ = [
    "CONFIG_ENV", "DEFAULT_CONFIG_PATH", "SUPPORTED_LANGUAGES", "Check", "ConfigError", "ConsentSettings",
    "DeskSettings", "DisplaySettings", "FormsSettings", "HospitalSettings", "KioskSettings", "LogSettings",
    "MetricsSettings", "PrinterSettings", "QueueSettings", "Range", "ReaderSettings", "Settings", "SiteSettings", "SpeechSettings",
    "StaffSettings",
    "StoreSettings", "TicketPrinterSettings", "WristbandPrinterSettings", "config_path", "describe", "example_toml",
    "is_loopback", "load", "printer_profile", "printer_uri", "read_peer_secret", "reference_markdown", "shown",
    "text_check", "visible",
]
