"""Reading the TOML file into ``Settings``: unknown keys, wrong types, bad values and settings that do not go
together are a :class:`ConfigError` with one sentence naming the key.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiosk.config.fields import ConfigError, is_loopback, shown
from kiosk.config.sections import DeskSettings, HospitalSettings, Settings, SiteSettings

DEFAULT_CONFIG_PATH = Path("/etc/kiosk/kiosk.toml")
CONFIG_ENV = "KIOSK_CONFIG"


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
        _check_site(settings.site, settings.desk)
        _check_queue_prefix(settings)
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


def _tls_off_loopback(section: str, bind_key: str, bind: str, cert: str, key: str, what: str) -> None:
    """A listener beyond this machine only over TLS: a key needs its certificate, and an address other
    machines can reach needs both."""
    if key and not cert:
        raise ConfigError(f"'{section}.tls_key' is set but {section}.tls_cert is not; give the certificate too.")
    if not cert and not is_loopback(bind):
        raise ConfigError(f"'{section}.{bind_key}' is {bind}, which other machines can reach, but {section}.tls_cert is "
                          f"not set; serve {what} over TLS ({section}.tls_cert) or bind it to 127.0.0.1.")


def _check_desk(d: DeskSettings) -> None:
    """The desk page without TLS only on loopback: staff PINs and sessions must not cross the network in clear."""
    _tls_off_loopback("desk", "bind", d.bind, d.tls_cert, d.tls_key, "the desk page")
    if d.peers and not d.peer_secret_file:
        raise ConfigError("'desk.peers' is set but desk.peer_secret_file is not; give the site's shared secret too.")


def _check_site(s: SiteSettings, desk: DeskSettings) -> None:
    """The site listener without TLS only on loopback (the site secret and the invitation token cross it); the
    patient listener off loopback only behind a reverse proxy, which gives patients TLS."""
    _tls_off_loopback("site", "site_bind", s.site_bind, s.tls_cert, s.tls_key, "the site listener")
    if s.smtp_url and not s.smtp_from:
        raise ConfigError("'site.smtp_url' is set but site.smtp_from is not; give the sender's address too.")
    if s.url and not desk.peer_secret_file:
        raise ConfigError("'site.url' is set but desk.peer_secret_file is not; give the site's shared secret too.")
    if not s.trusted_proxies and not is_loopback(s.patient_bind):
        raise ConfigError(f"'site.patient_bind' is {s.patient_bind}, which other machines can reach, but "
                          "site.trusted_proxies is empty; publish the patient listener through the hospital's "
                          "reverse proxy (which gives patients TLS) and name it there, or bind it to 127.0.0.1.")


def _check_queue_prefix(settings: Settings) -> None:
    """With a site service the kiosk's own numbers (printed while the service is away) must differ from the
    site's: no queue may have the kiosk's prefix."""
    prefix = settings.kiosk.queue_prefix.upper()
    if settings.site.url and prefix in (q.prefix for q in settings.queues.queues().queues):
        raise ConfigError(f"'kiosk.queue_prefix' is {settings.kiosk.queue_prefix!r}, which is also a queue's prefix "
                          "(queues.names); with a site service (site.url) the kiosk prints its own numbers only while "
                          "the service is away, and they must not be the site's: give each kiosk a prefix of its own, "
                          "e.g. K1.")
