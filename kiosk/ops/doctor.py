"""``kiosk doctor``: checks what a kiosk needs, row by row, each with one sentence IT can act on.

Rows, in this order: config, permissions, store, card reader, one per printer, hospital, outbox, disk,
clock. A row is ok, warn or fail; nothing of a patient ever appears in one (the outbox row gives counts
and ages only). The exit code is that of the first failing row (docs/cli.md: 2 config, 3 reader, pcscd or
printer not there, 8 printer fault, 9 hospital system; 1 = the kiosk itself: permissions, store, disk,
clock), 0 when no row fails: warnings do not count.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
import shutil
import ssl
import stat
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from kiosk import config
from kiosk.config import Settings
from kiosk import times

log = logging.getLogger(__name__)

EXIT_KIOSK, EXIT_CONFIG, EXIT_NO_DEVICE, EXIT_PRINTER, EXIT_HOSPITAL = 1, 2, 3, 8, 9
STORE_FILE = "kiosk.db"                 # in kiosk.data_dir (kiosk.app.open_store)
ENVIRONMENT_FILE = Path("/etc/default/kiosk")   # EnvironmentFile= of both units: may hold KIOSK_STORE_KEY
DISK_FAIL_BYTES = 1 << 30               # less free than this on data_dir's filesystem: fail
DISK_WARN_BYTES = 4 << 30               # ... than this: warn
OUTBOX_WARN_AGE_S = 3600.0              # an admission waiting longer than this for the hospital: warn
LOCAL_CHECK_S = 20.0                    # longest a check on this machine may take (store: busy timeout, migrations)
GUARD_S = 3.0                           # added to a network check's own timeouts before it is given up
# adjtimex(2): the clock state TIME_ERROR, and the status bit STA_UNSYNC (include/uapi/linux/timex.h).
TIME_ERROR, STA_UNSYNC = 5, 0x0040
# A query parameter of hospital.url whose name says it carries a credential.
_SECRET_PARAM = re.compile(r"token|key|secret|pass|auth|sig", re.IGNORECASE)
_FAULT_ACTIONS = {"paper_out": "put in a new roll", "cover_open": "close the cover",
                  "cutter_error": "open the cover and clear the cutter",
                  "printer_error": "switch it off and on, and call its service if that does not help",
                  "offline": "look at its paper, cover and error light"}


@dataclass(frozen=True)
class Row:
    """One line of the report. ``exit_code`` is 0 unless the row fails."""

    check: str
    status: str                         # ok | warn | fail
    detail: str                         # what was found and what to do, one or two sentences
    exit_code: int = 0


def ok(check: str, detail: str) -> Row:
    return Row(check, "ok", detail)


def warn(check: str, detail: str) -> Row:
    return Row(check, "warn", detail)


def fail(check: str, detail: str, code: int) -> Row:
    return Row(check, "fail", detail, code)


# --- running the checks ---------------------------------------------------------------------------

def run(path: Path | None) -> list[Row]:
    """Every check for the config file at ``path`` (None: built-in defaults), in table order. Never raises."""
    try:
        settings = config.load(path)
    except config.ConfigError as e:
        return [fail("config", f"{e} Fix it and run kiosk doctor again: the other checks need the config.", EXIT_CONFIG)]
    if path is None:
        rows = [warn("config", f"No config file was found (no --config, no ${config.CONFIG_ENV}, no "
                               f"{config.DEFAULT_CONFIG_PATH}): built-in defaults; write {config.DEFAULT_CONFIG_PATH} "
                               "from deploy/kiosk.example.toml.")]
    else:
        rows = [ok("config", f"{path} loads and is valid.")]
    for name, check, timeout_s, code in _plan(settings, path):
        rows.append(guarded(name, check, timeout_s, code))
    return rows


def _plan(settings: Settings, path: Path | None) -> list[tuple[str, Callable[[], Row], float, int]]:
    """(row name, check, longest it may take in seconds, exit code when it cannot tell) in table order."""
    h = settings.hospital
    kinds = ("ticket", "wristband") if settings.printer.wristband.uri else ("ticket",)
    return [
        ("permissions", lambda: check_permissions(settings, path), LOCAL_CHECK_S, EXIT_KIOSK),
        ("store", lambda: check_store(settings), LOCAL_CHECK_S, EXIT_KIOSK),
        ("card reader", lambda: check_reader(settings), LOCAL_CHECK_S, EXIT_NO_DEVICE),
        *((f"{kind} printer", lambda kind=kind: check_printer(settings, kind),
           2 * getattr(settings.printer, kind).timeout_s + GUARD_S, EXIT_NO_DEVICE) for kind in kinds),
        ("hospital", lambda: check_hospital(settings), 2 * h.timeout_s + GUARD_S, EXIT_HOSPITAL),
        ("outbox", lambda: check_outbox(settings), LOCAL_CHECK_S, EXIT_KIOSK),
        ("disk", lambda: check_disk(settings), LOCAL_CHECK_S, EXIT_KIOSK),
        ("clock", check_clock, LOCAL_CHECK_S, EXIT_KIOSK),
    ]


def guarded(name: str, check: Callable[[], Row], timeout_s: float, code: int) -> Row:
    """``check()`` on a thread of its own: a check that crashes or hangs is a failing row, not the end of
    the report (a hung one is left behind; its thread does not keep the process alive)."""
    result: list[Row] = []

    def target() -> None:
        try:
            result.append(check())
        except Exception as e:
            log.debug("the %s check failed", name, exc_info=True)
            result.append(fail(name, f"The check itself failed ({type(e).__name__}); run kiosk doctor --debug "
                                     "for the details.", code))

    thread = threading.Thread(target=target, name=f"doctor-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not result:
        return fail(name, f"The check did not finish within {timeout_s:g} seconds; run kiosk doctor --debug "
                          "and look at what it waits for.", code)
    return result[0]


def exit_code(rows: list[Row]) -> int:
    """The exit code of the first failing row, 0 when none fails."""
    return next((row.exit_code for row in rows if row.status == "fail"), 0)


# --- the checks -----------------------------------------------------------------------------------

def check_permissions(settings: Settings, path: Path | None, environment_file: Path = ENVIRONMENT_FILE) -> Row:
    """The config file root's and changeable by root only, in a folder only root can change; every secret
    file it names, and the services' environment file, unreadable by others; no credential inside a config
    file that everybody can read."""
    problems, notes = [], []
    readable_by_all = False
    if path is not None:
        st = path.stat()
        readable_by_all = bool(st.st_mode & stat.S_IROTH)
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            problems.append(f"The config file {path} can be changed by other users (mode {_mode(st)}): "
                            f"chmod go-w {path}.")
        # Under sudo, doctor already runs as the owner of data_dir (the kiosk user): root, and only root, is
        # the right owner whoever runs it. The folder too: whoever may write it may replace the file.
        if st.st_uid != 0:
            problems.append(f"The config file {path} belongs to user id {st.st_uid}, who could change what the kiosk "
                            f"does: chown root {path}.")
        folder = path.absolute().parent
        st = folder.stat()
        if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            problems.append(f"The folder {folder} can be changed by a user other than root (user id {st.st_uid}, mode "
                            f"{_mode(st)}), who could replace the config: chown root {folder}; chmod go-w {folder}.")
    # The services' environment file may hold KIOSK_STORE_KEY; like the other files, checked when it exists.
    for key, secret in [*_secret_files(settings), ("the services' environment file", str(environment_file))]:
        try:
            st = os.stat(secret)
        except FileNotFoundError:
            continue                    # config checks the files it needs; a missing store key is the store's row
        except OSError as e:
            notes.append(f"{key} {secret} cannot be looked at by this user ({e.strerror}): run kiosk doctor as root.")
            continue
        if st.st_mode & stat.S_IROTH:
            problems.append(f"{key} {secret} can be read by every user (mode {_mode(st)}): chmod o-r {secret}.")
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            problems.append(f"{key} {secret} can be changed by other users (mode {_mode(st)}): chmod go-w {secret}.")
    for key in _inline_secrets(settings):
        if readable_by_all:
            problems.append(f"{key} holds a credential and {path} can be read by every user: chmod o-r {path}, or "
                            "give the credential in hospital.token_file.")
    if problems:
        return fail("permissions", " ".join(problems + notes), EXIT_KIOSK)
    if notes:
        return warn("permissions", " ".join(notes))
    if path is None:
        return ok("permissions", "The secret files of the built-in defaults are safe from other users.")
    return ok("permissions", f"{path} and the secret files it names are safe from other users.")


def _mode(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"


def _secret_files(settings: Settings) -> list[tuple[str, str]]:
    """(key, path) of every file the config names that holds a secret; a certificate only when its key
    is in the same file."""
    h, d = settings.hospital, settings.desk
    files = [("hospital.token_file", h.token_file), ("hospital.client_key", h.client_key),
             ("desk.tls_key", d.tls_key), ("desk.peer_secret_file", d.peer_secret_file)]
    files += [(key, cert) for key, cert in (("hospital.client_cert", h.client_cert), ("desk.tls_cert", d.tls_cert))
              if cert and _holds_key(cert)]
    if settings.store.encryption != "none":
        files.append(("store.key_file", settings.store.key_file))
    return [(key, path) for key, path in files if path]


def _holds_key(pem: str) -> bool:
    try:
        return b"PRIVATE KEY-----" in Path(pem).read_bytes()
    except OSError:
        return True                     # cannot tell: treat it like a key


def _inline_secrets(settings: Settings) -> list[str]:
    """The keys whose value carries a credential (a user or password in a URL, a token in its query)."""
    parts = urlsplit(settings.hospital.url)
    if parts.username or parts.password or any(_SECRET_PARAM.search(name) for name, _ in parse_qsl(parts.query)):
        return ["hospital.url"]
    return []


def check_store(settings: Settings) -> Row:
    """The store opens with its key, is migrated, and takes a write transaction. It is looked at, never
    migrated: a kiosk of an older version may be running on it."""
    from kiosk.app import open_store
    from kiosk.store import DB_ERRORS, StoreLocked, migrations, read_key
    where = settings.data_path / STORE_FILE
    try:
        if not where.exists():
            read_key(settings.store)            # the kiosk could not make it without
            return warn("store", f"There is no store yet ({where}): the kiosk makes it when it first starts; if it "
                                 "has run before, check kiosk.data_dir.")
        store = open_store(settings, migrate=False)
    except StoreLocked as e:
        return fail("store", str(e), EXIT_KIOSK)
    except DB_ERRORS as e:
        return fail("store", f"The store {where} cannot be used ({e}): move it aside and restore the last backup.",
                    EXIT_KIOSK)
    except OSError as e:
        return fail("store", f"The store {where} cannot be opened ({e.strerror or e}): check the owner and mode of "
                             f"{settings.kiosk.data_dir}.", EXIT_KIOSK)
    try:
        pending = [m.name for m in migrations.pending(store.db)]
        if pending:
            return fail("store", f"The store {where} lacks the migrations {', '.join(pending)} of this version: the "
                                 "kiosk brings it up to date when it starts: systemctl restart kiosk (after an update, "
                                 "once deploy/install.sh has finished).", EXIT_KIOSK)
        try:
            store.db.execute("BEGIN IMMEDIATE")     # takes the write lock, as every write of the kiosk does
            store.db.conn.rollback()
        except DB_ERRORS as e:
            return fail("store", f"The store {where} cannot be written ({e}): check the free space, the owner and "
                                 f"mode of {settings.kiosk.data_dir}, and for a process holding a lock on it.", EXIT_KIOSK)
        applied = len(store.applied_migrations())
        if not store.encrypted:
            return warn("store", f"{where} takes writes and is up to date, but it is not encrypted (store.encryption "
                                 "= none): whoever holds the disk can read the admissions; use sqlcipher with a key.")
        return ok("store", f"{where} opens with its key (SQLCipher), takes writes and has all {applied} migrations.")
    finally:
        store.close()


def check_reader(settings: Settings) -> Row:
    """pcscd answers and lists a reader that reader.names lets the kiosk use."""
    if settings.reader.kind == "simulated":
        return warn("card reader", "The reader is simulated (reader.kind = simulated): patients cannot check in with "
                                   "their cards, and its sample cards make test data; set reader.kind = pcsc.")
    from kiosk.hardware.pcsc import Pcsc, PcscUnavailable
    names = settings.reader.names
    try:
        pcsc = Pcsc(names)
        try:
            readers = pcsc.readers()
        finally:
            pcsc.close()
    except PcscUnavailable as e:
        return fail("card reader", f"{str(e)[0].upper()}{str(e)[1:]}: systemctl start pcscd; if it runs, check the "
                                   "polkit rule that lets the kiosk user in.", EXIT_NO_DEVICE)
    if not readers:
        which = f" whose name contains {' or '.join(names)} (reader.names)" if names else ""
        return fail("card reader", f"pcscd runs, but there is no reader{which}: plug the reader in; pcsc_scan lists "
                                   "what pcscd sees.", EXIT_NO_DEVICE)
    return ok("card reader", f"pcscd runs and lists {', '.join(readers)}.")


def check_printer(settings: Settings, kind: str) -> Row:
    """The printer of ``kind`` (ticket, wristband) can be reached and reports paper in, cover closed, online."""
    from kiosk.hardware import printing
    from kiosk.hardware.printer import REASONS, PreviewPrinter, PrintFault, open_printer
    from kiosk.hardware.reader import DeviceUnavailable
    name, key = f"{kind} printer", f"printer.{kind}.uri"
    section = getattr(settings.printer, kind)
    uri = section.uri
    if not uri:
        return warn(name, f"No {kind} printer is set ({key} is empty): patients get no {kind}.")
    try:
        printer = open_printer(uri, settings.kiosk.data_dir, profile=section.profile, timeout_s=section.timeout_s)
        if kind == "wristband":
            printing.check_band_profile(printer)
    except DeviceUnavailable as e:
        return fail(name, str(e), EXIT_NO_DEVICE)
    if isinstance(printer, PreviewPrinter):
        return warn(name, f"{uri} writes pictures into {printer.folder}, not on paper: set {key} to the printer.")
    parts = urlsplit(uri)
    if parts.scheme == "cups":
        return warn(name, f"{uri}: CUPS does not pass on the printer's paper and cover state; lpstat -p shows the queue.")
    if parts.scheme == "file" and Path(parts.path).is_file():
        return ok(name, f"{uri} is a plain file, not a printer: what the kiosk prints is written into it.")
    try:
        # status() says "unknown" both for a printer that is not there and one that does not answer
        # status queries: one connection of its own tells the two apart.
        printer._connect(time.monotonic() + section.timeout_s).close()
    except PrintFault:
        return fail(name, f"{uri} cannot be reached within {section.timeout_s:g} s: check that the printer is switched "
                          f"on and connected, and that {key} is its address.", EXIT_NO_DEVICE)
    status = printer.status()
    if status.not_a_printer:
        return fail(name, f"{uri}: {REASONS['not_a_printer']}: set {key} to the printer's address.", EXIT_NO_DEVICE)
    if not status.known:
        return warn(name, f"{uri} is there but does not answer status queries (DLE EOT): the kiosk cannot tell when "
                          "its paper runs out; turn real-time status on in the printer's settings.")
    if status.fault:
        return fail(name, f"{uri}: {REASONS[status.fault]}: {_FAULT_ACTIONS[status.fault]}.", EXIT_PRINTER)
    if status.paper_low:
        return warn(name, f"{uri} is online, but its paper is nearly used up: put in a new roll soon.")
    return ok(name, f"{uri} is online, with paper and its cover closed.")


def check_hospital(settings: Settings) -> Row:
    """The hospital system answers: a FHIR CapabilityStatement, an MLLP connection, or a writable folder."""
    h = settings.hospital
    if h.transport == "none":
        return warn("hospital", "hospital.transport is none: admissions stay on this kiosk and reach no hospital "
                                "system; set hospital.transport and hospital.url.")
    from kiosk.checkin import forms
    from kiosk.hospital import sync
    where = _without_credentials(h.url)
    try:
        transport = sync.open_transport(settings, forms.load(settings.forms.intake))
    except (OSError, ValueError) as e:
        return fail("hospital", f"The connection to {where} cannot be set up ({e}): check hospital.ca_file, "
                                "client_cert, client_key and token_file.", EXIT_HOSPITAL)
    try:
        if h.transport == "fhir":
            return _fhir_metadata(transport, where, h.timeout_s)
        if h.transport == "hl7v2":
            return _mllp_check(transport, where, h.timeout_s)
        return _folder_writable(transport.folder)
    finally:
        transport.close()


def _without_credentials(url: str) -> str:
    """The URL to show: no user, password or query."""
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""
    return parts._replace(netloc=host, query="", fragment="").geturl()


def _fhir_metadata(transport, where: str, timeout_s: float) -> Row:
    import requests
    try:
        answer = transport.session.get(f"{transport.base}/metadata", timeout=transport.timeout, verify=transport.verify)
    except requests.exceptions.SSLError:
        return fail("hospital", f"TLS to {where} failed: the server's certificate is not trusted (hospital.ca_file) or "
                                "it refused the client certificate (hospital.client_cert).", EXIT_HOSPITAL)
    except requests.exceptions.Timeout:
        return fail("hospital", f"{where} did not answer within {timeout_s:g} s (hospital.timeout_s): check the "
                                "network and the FHIR server.", EXIT_HOSPITAL)
    except requests.exceptions.RequestException:
        return fail("hospital", f"{where} cannot be reached: check the network, the name and hospital.url.", EXIT_HOSPITAL)
    if answer.status_code in (401, 403):
        return fail("hospital", f"{where} refused the kiosk (HTTP {answer.status_code}): check hospital.token_file and "
                                "the client certificate.", EXIT_HOSPITAL)
    try:
        body = answer.json() if answer.ok else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("resourceType") != "CapabilityStatement":
        return fail("hospital", f"{where}/metadata gave no CapabilityStatement (HTTP {answer.status_code}): "
                                "hospital.url must be the FHIR base, e.g. https://his.example/fhir.", EXIT_HOSPITAL)
    version = body.get("fhirVersion", "")
    software = (body.get("software") or {}).get("name", "a FHIR server")
    if not version.startswith("4.0"):
        return warn("hospital", f"{where} ({software}) speaks FHIR {version or 'of no stated version'}; the kiosk sends "
                                "FHIR R4 (4.0.1).")
    return ok("hospital", f"{where} answers: {software}, FHIR {version}.")


def _mllp_check(transport, where: str, timeout_s: float) -> Row:
    """A connection as the MLLP transport opens it (TLS included), then a network check (NMQ^N01, processing ID
    D: no patient in it) that an HL7 v2 receiver answers: only that answer shows an HL7 receiver is there, not
    just something that takes connections (a web server, an SSH server, the wrong port)."""
    from datetime import UTC, datetime

    from kiosk.hospital import hl7v2
    over_tls = " over TLS" if transport.context else ""
    try:
        hl7v2.connect(transport.host, transport.port, time.monotonic() + transport.timeout, transport.context).close()
    except ssl.SSLError as e:
        return fail("hospital", f"TLS to {where} failed ({e.reason or e}): check hospital.ca_file, client_cert and "
                                "client_key.", EXIT_HOSPITAL)
    except TimeoutError:
        return fail("hospital", f"{where} did not answer within {timeout_s:g} s (hospital.timeout_s): check the "
                                "network and the interface engine.", EXIT_HOSPITAL)
    except OSError as e:
        return fail("hospital", f"{where} cannot be reached ({e.strerror or e}): check that the interface engine "
                                "listens there, the network, and hospital.url.", EXIT_HOSPITAL)
    control_id = f"KIOSKCHK{int(time.time())}"
    check = hl7v2.network_check(transport.options, control_id, sent_at=datetime.now(UTC))
    not_hl7 = (f"Something takes connections at {where}{over_tls} but does not answer as an HL7 v2 receiver "
               "({why}): check the port in hospital.url (the interface engine's MLLP port, often 2575).")
    try:
        answer = hl7v2.send_mllp(transport.host, transport.port, check, transport.timeout, context=transport.context)
    except TimeoutError:
        return warn("hospital", f"{where} takes connections{over_tls} but gave no HL7 v2 answer to a network check "
                                f"(NMQ^N01) within {timeout_s:g} s: either it is not the interface engine's MLLP "
                                "port (hospital.url), or the engine answers admissions only; watch the first "
                                "delivery (kiosk sync --once).")
    except OSError:
        return fail("hospital", not_hl7.format(why="it closed the connection without an answer"), EXIT_HOSPITAL)
    try:
        ack = hl7v2.parse_ack(answer)
    except ValueError:
        return fail("hospital", not_hl7.format(why="its answer is no HL7 v2 acknowledgement"), EXIT_HOSPITAL)
    if ack.control_id != control_id:
        return fail("hospital", not_hl7.format(why="its answer acknowledges another message"), EXIT_HOSPITAL)
    return ok("hospital", f"{where} answers as an HL7 v2 receiver{over_tls} (network check: {ack.code}).")


def _folder_writable(folder: Path) -> Row:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".kiosk-doctor-", suffix=".tmp"):
            pass
    except OSError as e:
        return fail("hospital", f"The drop folder {folder} cannot be written ({e.strerror or e}): create it, writable "
                                "by the kiosk user, or fix hospital.url.", EXIT_HOSPITAL)
    return ok("hospital", f"The drop folder {folder} can be written.")


def check_outbox(settings: Settings) -> Row:
    """How many admissions wait to be delivered, for how long, and how many the hospital refused."""
    from kiosk.app import open_store
    from kiosk.store import DB_ERRORS, StoreLocked, migrations
    if not (settings.data_path / STORE_FILE).exists():
        return ok("outbox", "Nothing waits to be delivered (there is no store yet).")
    try:
        store = open_store(settings, migrate=False)
    except (StoreLocked, OSError, *DB_ERRORS) as e:
        return warn("outbox", f"Not known: the store does not open ({type(e).__name__}; see the store row).")
    try:
        if migrations.pending(store.db):
            return warn("outbox", "Not known: the store is not up to date (see the store row).")
        figures = store.outbox_figures()
        transport = settings.hospital.transport
        elsewhere = store.undelivered_elsewhere(transport) if transport != "none" else 0
    finally:
        store.close()
    return outbox_row(figures["pending"], figures["dead"], figures["oldest_pending_at"], elsewhere,
                      datetime.now(timezone.utc))


def outbox_row(pending: int, dead: int, oldest_at: str, elsewhere: int, now: datetime,
               warn_age_s: float = OUTBOX_WARN_AGE_S) -> Row:
    """The outbox row from the store's figures (``oldest_at``: ISO time of the oldest pending, "" if none)."""
    problems = []
    found = "Nothing waits to be delivered." if not pending else f"{pending} admission(s) wait to be delivered"
    if pending:
        age_s = (now - times.moment(oldest_at)).total_seconds()
        found += f", the oldest for {_duration(age_s)}."
        if age_s > warn_age_s:
            problems.append("Check the hospital row and that the sync runs (journalctl -u kiosk -u kiosk-sync).")
    if dead:
        problems.append(f"{dead} admission(s) were refused by the hospital system and wait for staff (desk page; "
                        "kiosk sync --once --retry-refused once the cause is fixed).")
    if elsewhere:
        problems.append(f"{elsewhere} admission(s) wait for a hospital.transport no longer configured.")
    return warn("outbox", " ".join([found, *problems])) if problems else ok("outbox", found)


def _duration(seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def check_disk(settings: Settings) -> Row:
    """Free space on the filesystem of kiosk.data_dir (the nearest folder that exists)."""
    where = settings.data_path.absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    return disk_row(shutil.disk_usage(where).free, where)


def disk_row(free: int, where: Path, fail_below: int = DISK_FAIL_BYTES, warn_below: int = DISK_WARN_BYTES) -> Row:
    """The disk row for ``free`` bytes free on the filesystem of ``where``."""
    found = f"{free / (1 << 30):.1f} GiB free on the filesystem of {where}"
    if free < fail_below:
        return fail("disk", f"Only {found}: the store needs room to take admissions; free space (journalctl "
                            "--vacuum-size, old packages).", EXIT_KIOSK)
    if free < warn_below:
        return warn("disk", f"{found}: free some space soon.")
    return ok("disk", f"{found}.")


class _Timex(ctypes.Structure):
    """struct timex of glibc (sys/timex.h), with its padding."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_padding", ctypes.c_int * 11)]


def kernel_clock() -> tuple[int, int]:
    """(clock state, status bits) from adjtimex(2) with modes 0: reads only, needs no privilege and no systemd.

    :raises OSError: the call failed
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    timex = _Timex(modes=0)
    state = libc.adjtimex(ctypes.byref(timex))
    if state == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return state, timex.status


def clock_row(state: int, status: int) -> Row:
    """The clock row from what adjtimex(2) returned: TIME_ERROR or STA_UNSYNC mean "not synchronised"."""
    if state == TIME_ERROR or status & STA_UNSYNC:
        return fail("clock", "The system clock is not synchronised with a time server: admissions carry the time and "
                             "TLS needs it right; enable NTP (systemctl enable --now systemd-timesyncd, or chrony) and "
                             "let it reach a time server.", EXIT_KIOSK)
    return ok("clock", "The system clock is synchronised with a time server (the kernel says so).")


def check_clock() -> Row:
    try:
        state, status = kernel_clock()
    except OSError as e:
        return warn("clock", f"The kernel does not say whether the clock is synchronised ({e.strerror}): check "
                             "timedatectl or chronyc tracking.")
    return clock_row(state, status)


# --- output ---------------------------------------------------------------------------------------

_COLOURS = {"ok": "\033[32m", "warn": "\033[33m", "fail": "\033[31m"}
_HEADER = ("CHECK", "STATUS", "WHAT IT FOUND / WHAT TO DO")


def table(rows: list[Row], *, width: int | None = None, colour: bool = False) -> str:
    """The rows as an aligned table and a summary line. ``width``: wrap the last column to fit (None: do not);
    ``colour``: the status in colour (for a terminal)."""
    first = max(len(_HEADER[0]), *(len(row.check) for row in rows)) + 2
    second = len(_HEADER[1]) + 2
    wrap = max(30, width - first - second - 1) if width else None   # a full line would wrap on some terminals
    lines = [f"{_HEADER[0]:<{first}}{_HEADER[1]:<{second}}{_HEADER[2]}"]
    for row in rows:
        status = f"{row.status:<{second}}"
        if colour:
            status = f"{_COLOURS[row.status]}{row.status}\033[0m{' ' * (second - len(row.status))}"
        detail = textwrap.wrap(row.detail, wrap, break_on_hyphens=False) if wrap else [row.detail]
        lines.append(f"{row.check:<{first}}{status}{detail[0]}")
        lines += [" " * (first + second) + more for more in detail[1:]]
    return "\n".join(lines + ["", summary(rows)])


def summary(rows: list[Row]) -> str:
    failed = [row for row in rows if row.status == "fail"]
    warned = sum(row.status == "warn" for row in rows)
    warnings = f", {warned} with a warning" if warned else ""
    if not failed:
        return f"All {len(rows)} checks pass{warnings}: exit 0."
    return (f"{len(failed)} of {len(rows)} checks fail{warnings}: exit {exit_code(rows)} "
            f"(the first failing check: {failed[0].check}).")


def report(rows: list[Row]) -> dict:
    """The ``--json`` object."""
    return {"ok": exit_code(rows) == 0, "exit_code": exit_code(rows), "checks": [asdict(row) for row in rows]}
