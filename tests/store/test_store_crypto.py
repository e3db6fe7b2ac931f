"""The store encrypted at rest (SQLCipher), its key, its file modes, and `kiosk` run as root.

The probes read the store's files byte by byte: a distinctive patient's name, birth date and KVNR must not
be there when the store is encrypted; the same probe on a plain store finds them, which shows it can see."""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import sqlcipher3

from kiosk import cli
from kiosk.config import StoreSettings
from kiosk.checkin.model import Admission, Identifier, Person
from kiosk.store import KEY_ENV, Store, StoreLocked, read_key

NAME, BORN, KVNR = "Quorthwaite-Zybelinski", "1937-04-29", "Q468213579"
WRONG_KEY = "0f" * 32
ROOT = Path(__file__).parents[2]


def admission(number: int = 1, **changes) -> Admission:
    return replace(Admission(
        id=f"5e1c0d7a-0000-4000-8000-{number:012d}", kiosk_id="lobby-1", created_at="2024-03-01T08:15:00+00:00",
        language="de", identified_by="card:egk",
        person=Person(family=NAME, given=("Ottilie",), birth_date=BORN,
                      identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", KVNR),))), **changes)


def store_bytes(path: Path) -> bytes:
    """kiosk.db, -wal and -shm as they are on disk."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal"),
                                              path.with_name(path.name + "-shm")) if p.exists())


def personal(data: bytes) -> list[str]:
    return [word for word in (NAME, BORN, KVNR) if word.encode("utf-8") in data]


# --- the file cannot be read without its key --------------------------------------------------------------

@pytest.mark.parametrize("key", ["store_key", None], ids=["sqlcipher", "plain"])
def test_a_patient_is_in_the_files_of_a_plain_store_only(tmp_path, key, request):
    key = key and request.getfixturevalue(key)
    path = tmp_path / "kiosk.db"
    store = Store(path, key=key)
    try:
        store.save_admission(admission())
        assert store.encrypted is bool(key)
        open_files = store_bytes(path)            # the admission is in the WAL while the store is open
        assert path.with_name("kiosk.db-wal").stat().st_size > 0
    finally:
        store.close()
    closed = store_bytes(path)                    # and in kiosk.db after the last connection checkpointed
    if key:
        assert personal(open_files) == [] and personal(closed) == []
        assert not path.read_bytes().startswith(b"SQLite format 3")
    else:
        assert personal(open_files) == [NAME, BORN, KVNR] and personal(closed) == [NAME, BORN, KVNR]


def test_the_file_cannot_be_opened_without_its_key(tmp_path, store_key):
    path = tmp_path / "kiosk.db"
    store = Store(path, key=store_key)
    store.save_admission(admission())
    store.close()

    plain = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
        plain.execute("SELECT * FROM admissions").fetchall()
    plain.close()
    for key in (None, WRONG_KEY):
        conn = sqlcipher3.connect(str(path))
        if key:
            conn.execute(f"PRAGMA key = \"x'{key}'\"")
        with pytest.raises(sqlcipher3.DatabaseError, match="file is not a database"):
            conn.execute("SELECT * FROM admissions").fetchall()
        conn.close()

    with pytest.raises(StoreLocked, match="was opened without a key"):
        Store(path)
    with pytest.raises(StoreLocked, match="does not open with the key given"):
        Store(path, key=WRONG_KEY)
    again = Store(path, key=store_key.upper())        # hexadecimal digits in either case
    try:
        assert again.get_admission(admission().id).person.family == NAME
    finally:
        again.close()


def test_a_plain_store_opened_with_a_key_is_refused_and_left_as_it_was(tmp_path, store_key):
    path = tmp_path / "kiosk.db"
    Store(path).close()
    before = path.read_bytes()
    with pytest.raises(StoreLocked, match="is a plain SQLite file"):
        Store(path, key=store_key)
    assert path.read_bytes() == before


@pytest.mark.parametrize("key", ["", "abc", "0f" * 31, "0f" * 33, "zz" * 32, "passphrase " * 6])
def test_a_key_is_64_hexadecimal_digits(tmp_path, key):
    with pytest.raises(StoreLocked, match="64 hexadecimal digits"):
        Store(tmp_path / "kiosk.db", key=key)
    assert not (tmp_path / "kiosk.db").exists()


@pytest.fixture(params=["store_key", None], ids=["sqlcipher", "plain"])
def two_connections(tmp_path, request):
    """A store (encrypted or plain) and a second connection to it, as the sync worker opens one."""
    store = Store(tmp_path / "kiosk.db", key=request.param and request.getfixturevalue(request.param))
    other = store.reopen(power_safe=False)
    yield store, other
    other.close()
    store.close()


def test_every_connection_overwrites_deleted_data(two_connections):
    # Debian's SQLite and SQLCipher (on a keyed file) have it on already; the store does not rely on the
    # build. What it is for: tests/store/test_retention.py, test_without_secure_delete_the_old_data_would_stay...
    store, other = two_connections
    for s in (store, other):
        assert s.db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert (other.encrypted, other.kiosk_id, other.power_safe) == (store.encrypted, "lobby-1", False)


def test_every_connection_waits_15_s_for_a_writer_and_sorts_in_memory(two_connections):
    for s in two_connections:
        assert s.db.execute("PRAGMA busy_timeout").fetchone()[0] == 15000
        assert s.db.execute("PRAGMA temp_store").fetchone()[0] == 2        # MEMORY: no spill files in $TMPDIR


def test_a_store_opens_when_a_later_sqlcipher_defaults_to_other_settings(tmp_path, store_key):
    Store(tmp_path / "kiosk.db", key=store_key).close()
    defaults = sqlcipher3.connect(":memory:")
    defaults.execute("PRAGMA cipher_default_compatibility = 3")     # process-wide, as a new major version would
    try:
        store = Store(tmp_path / "kiosk.db", key=store_key)
        store.close()
    finally:
        defaults.execute("PRAGMA cipher_default_compatibility = 4")
        defaults.close()


def test_reopen_gives_a_worker_thread_its_own_connection_with_the_same_key(tmp_path, store_key):
    store = Store(tmp_path / "kiosk.db", key=store_key, kiosk_id="ward-3")
    seen = []

    def work():
        mine = store.reopen()
        try:
            seen.append(mine.save_admission(admission(kiosk_id="ward-3")).queue_number)
        finally:
            mine.close()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    try:
        assert seen == ["A-001"]
        assert [a.queue_number for a in store.admissions()] == ["A-001"]
    finally:
        store.close()


# --- where the key comes from -------------------------------------------------------------------------------

@pytest.fixture
def no_key_around(monkeypatch, tmp_path):
    """Neither the environment nor a systemd credential holds a key; the key file is in tmp_path (absent)."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    return StoreSettings(key_file=str(tmp_path / "store.key"))


def test_read_key_takes_the_environment_then_the_credential_then_the_key_file(no_key_around, monkeypatch, tmp_path):
    keys = {name: os.urandom(32).hex() for name in ("env", "credential", "file")}
    Path(no_key_around.key_file).write_text(keys["file"] + "\n", encoding="ascii")
    assert read_key(no_key_around) == keys["file"]
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "store-key").write_text(keys["credential"], encoding="ascii")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "credentials"))
    assert read_key(no_key_around) == keys["credential"]
    monkeypatch.setenv(KEY_ENV, keys["env"])
    assert read_key(no_key_around) == keys["env"]
    assert read_key(replace(no_key_around, encryption="none")) is None


def test_read_key_without_a_key_names_the_three_places_and_how_to_make_one(no_key_around):
    with pytest.raises(StoreLocked) as caught:
        read_key(no_key_around)
    sentence = str(caught.value)
    for words in (KEY_ENV, "store-key", no_key_around.key_file, "openssl rand -hex 32", "chmod 600",
                  "store.encryption = none"):
        assert words in sentence
    assert "\n" not in sentence and sentence.endswith(".")


def test_read_key_names_a_key_file_that_holds_no_key(no_key_around):
    Path(no_key_around.key_file).write_text("my secret password\n", encoding="ascii")
    with pytest.raises(StoreLocked, match=f"in {no_key_around.key_file} is not 64 hexadecimal digits"):
        read_key(no_key_around)


# --- what IT sees at the command line -----------------------------------------------------------------------

def kiosk(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_sentence(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kiosk: ") and lines[0].endswith("."), err
    return lines[0]


def config(tmp_path: Path, store: str = "") -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[store]\nkey_file = "{tmp_path / "store.key"}"\n'
                    f'{store}\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("argv", [["staff", "list"], ["sync", "--once"],
                                  ["print", "ticket", "--printer", "preview:prints"]])
def test_a_missing_key_is_one_sentence_and_exit_2(capsys, no_key_around, tmp_path, argv):
    code, out, err = kiosk(capsys, *argv, "--config", config(tmp_path))
    assert (code, out) == (2, "")
    assert "there is no key" in one_sentence(err) and "openssl rand -hex 32" in err
    assert not (tmp_path / "data" / "kiosk.db").exists()


@pytest.mark.parametrize("made,store,env,words", [
    ("sqlcipher", "", WRONG_KEY, "does not open with the key given"),
    ("sqlcipher", 'encryption = "none"', None, "was opened without a key"),
    ("plain", "", None, "is a plain SQLite file"),
])
def test_a_store_that_does_not_match_its_key_is_one_sentence_and_exit_2(capsys, monkeypatch, tmp_path, store_key,
                                                                        made, store, env, words):
    Store(tmp_path / "data" / "kiosk.db", key=store_key if made == "sqlcipher" else None).close()
    if env:
        monkeypatch.setenv(KEY_ENV, env)
    for argv in (["staff", "list"], ["sync", "--once"]):
        code, out, err = kiosk(capsys, *argv, "--config", config(tmp_path, store))
        assert (code, out) == (2, "")
        assert words in one_sentence(err) and str(tmp_path / "data" / "kiosk.db") in err


def test_the_key_file_opens_the_store_of_kiosk_staff(capsys, no_key_around, tmp_path):
    key = os.urandom(32).hex()
    Path(no_key_around.key_file).write_text(key + "\n", encoding="ascii")
    assert kiosk(capsys, "staff", "list", "--config", config(tmp_path))[:2] == (
        0, "There are no members of staff yet (kiosk staff add NAME).\n")
    store = Store(tmp_path / "data" / "kiosk.db", key=key)
    assert store.encrypted and store.staff() == []
    store.close()


# --- file modes ---------------------------------------------------------------------------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_makes_its_folders_0700_and_its_files_0600(tmp_path, store_key):
    tmp_path.chmod(0o755)
    old = os.umask(0o022)                          # as a shell would have it: the store does not rely on umask
    try:
        store = Store(tmp_path / "var" / "kiosk" / "kiosk.db", key=store_key)
        store.save_admission(admission())
        files = sorted(p.name for p in (tmp_path / "var" / "kiosk").iterdir())
        modes = {p.name: mode(p) for p in (tmp_path / "var" / "kiosk").iterdir()}
        store.close()
    finally:
        os.umask(old)
    assert files == ["kiosk.db", "kiosk.db-shm", "kiosk.db-wal"]
    assert modes == {"kiosk.db": 0o600, "kiosk.db-shm": 0o600, "kiosk.db-wal": 0o600}
    assert mode(tmp_path / "var") == mode(tmp_path / "var" / "kiosk") == 0o700
    assert mode(tmp_path) == 0o755                 # a folder that was there is left as it is


def test_a_store_file_others_could_read_is_made_0600(tmp_path, store_key):
    Store(tmp_path / "kiosk.db", key=store_key).close()
    (tmp_path / "kiosk.db").chmod(0o644)
    before = mode(tmp_path)
    Store(tmp_path / "kiosk.db", key=store_key).close()
    assert mode(tmp_path / "kiosk.db") == 0o600
    assert mode(tmp_path) == before


def test_a_data_folder_others_could_enter_is_made_0700(tmp_path, store_key):
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    tmp_path.chmod(0o755)
    Store(folder / "kiosk.db", key=store_key).close()
    assert mode(folder) == 0o700
    assert mode(tmp_path) == 0o755                 # its parents are left as they are


def test_what_the_kiosk_command_writes_is_its_users_only(capsys, tmp_path):
    old = os.umask(0o022)
    try:
        code, _, err = kiosk(capsys, "print", "ticket", "--printer", f"preview:{tmp_path / 'prints'}", "--sample",
                             "--config", config(tmp_path))
        assert os.umask(0o022) == 0o022            # main() gives its caller's umask back
    finally:
        os.umask(old)
    assert code == 0, err
    [ticket] = (tmp_path / "prints").iterdir()
    assert mode(ticket) == 0o600 and mode(tmp_path / "prints") == 0o700


# --- `sudo kiosk ...` --------------------------------------------------------------------------------------

# The command as `sudo kiosk` runs it, in a process of its own. Python's standard library lies under /root
# on this machine, which the user the command turns into cannot read: the modules it needs later are
# imported before main() (on a kiosk they are in /usr/lib, readable by all).
AS_ROOT = ("import sys, getpass, pwd, hashlib, hmac, secrets, base64, json, sqlite3, importlib.metadata\n"
           "import sqlite_utils, sqlcipher3, kiosk.app, kiosk.desk.staff, kiosk.store\n"
           "from kiosk.cli import main\n"
           "sys.exit(main(sys.argv[1:]))\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="runs only as root (as on this project's machines and in CI)")
def test_root_goes_on_as_the_owner_of_data_dir_after_reading_the_root_only_key(store_key):
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="kiosk-root-"))       # not under pytest's root-only folders
    try:
        base.chmod(0o755)
        data = base / "data"
        data.mkdir(mode=0o700)
        os.chown(data, nobody.pw_uid, nobody.pw_gid)
        key_file = base / "store.key"
        key_file.write_text(store_key + "\n", encoding="ascii")
        key_file.chmod(0o600)                                  # root's only: nobody cannot read it
        cfg = base / "kiosk.toml"
        cfg.write_text(f'[kiosk]\ndata_dir = "{data}"\n[store]\nkey_file = "{key_file}"\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, "CREDENTIALS_DIRECTORY")}
        env["PYTHONPATH"] = str(ROOT)
        run = subprocess.run([sys.executable, "-c", AS_ROOT, "staff", "add", "Dana K.", "--config", str(cfg)],
                             input="482913\n", capture_output=True, text=True, env=env, cwd=base, timeout=120)
        assert (run.returncode, run.stderr) == (0, ""), run.stderr
        made = sorted(data.iterdir())
        assert "kiosk.db" in [p.name for p in made]
        for path in made:
            assert (path.stat().st_uid, path.stat().st_gid, mode(path)) == (nobody.pw_uid, nobody.pw_gid, 0o600)
        store = Store(data / "kiosk.db", key=store_key)
        try:
            assert [m["name"] for m in store.staff()] == ["Dana K."]
        finally:
            store.close()
    finally:
        shutil.rmtree(base)
