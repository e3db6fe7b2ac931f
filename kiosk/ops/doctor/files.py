"""The permissions row: the config file, the secret files it names and the services' environment file."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from kiosk.config import Settings
from kiosk.ops.doctor.output import EXIT_KIOSK, Row, fail, ok, warn

ENVIRONMENT_FILE = Path("/etc/default/kiosk")   # EnvironmentFile= of both units: may hold KIOSK_STORE_KEY
# A query parameter of hospital.url whose name says it carries a credential.
_SECRET_PARAM = re.compile(r"token|key|secret|pass|auth|sig", re.IGNORECASE)


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
