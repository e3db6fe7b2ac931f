"""Deployment: deploy/install.sh (a dry run, and real runs into a throwaway root), the systemd units
(systemd-analyze verify), the udev rules made from the config, the systemd notifications of the kiosk, of
`kiosk sync` and of `kiosk site serve` (received on a real AF_UNIX datagram socket), and Kivy set for a kiosk (rotation, touch
calibration, Escape, F1, right click: tests/ui/ui_kiosk_settings.py)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uirun

from kiosk import config
from kiosk.cli import deploy
from kiosk.ops import sdnotify

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
DEPLOY = ROOT / "deploy"
INSTALL = DEPLOY / "install.sh"
KIOSK = Path(sys.executable).parent / "kiosk"
UNITS = ("kiosk.service", "kiosk-sync.service", "kiosk-site.service")
# A real install sets owners (root, kiosk) and runs useradd: root only, as on a kiosk (and here, and in CI).
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="install.sh installs as root")

# What the kiosk's IT changes in /etc/kiosk/kiosk.toml after the first install: a USB ticket printer
# (its id in upper case; udev compares sysfs's lower case) and delivery into a folder.
SITE_CONFIG = """\
[kiosk]
id = "lobby-7"
[printer.ticket]
uri = "usb://04B8:0E15"
[hospital]
transport = "folder"
url = "file:///var/spool/kiosk"
"""


def install(*args, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", str(INSTALL), *map(str, args)], capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.lstat().st_mode))


def owner(path: Path) -> tuple[int, int]:
    s = path.lstat()
    return s.st_uid, s.st_gid


def kiosk_ids(root: Path) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        name, _, uid, gid, _comment, home, shell = line.split(":")
        if name == "kiosk":
            assert (home, shell) == ("/var/lib/kiosk", "/usr/sbin/nologin")
            return int(uid), int(gid)
    raise AssertionError("no kiosk user in the root's passwd")


@pytest.fixture
def root(tmp_path) -> Path:
    """A throwaway root like a fresh Debian 12 with systemd: its accounts and systemd's units (copies of
    this machine's), and what `install.sh --skip venv` expects to find: a virtual environment (here a
    wrapper around the test's own, which has the kiosk installed) and cage (a stand-in: cage is not
    installed where the tests run)."""
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        try:
            shutil.copy2(Path("/etc") / name, r / "etc" / name)
        except PermissionError:              # shadow files, for a dry run as a user
            (r / "etc" / name).touch()
    shutil.copytree("/usr/lib/systemd/system", r / "usr/lib/systemd/system", symlinks=True)
    for path, target in (("opt/kiosk/venv/bin/python", sys.executable), ("opt/kiosk/venv/bin/kiosk", KIOSK),
                         ("usr/bin/cage", None)):
        script = r / path
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(f'#!/bin/sh\nexec {target} "$@"\n' if target else '#!/bin/sh\nshift\nexec "$@"\n')
        script.chmod(0o755)
    return r


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


# --- install.sh --------------------------------------------------------------------------------------

def test_help_and_a_wrong_option():
    done = install("--help")
    for option in ("--dry-run", "--root DIR", "--wheelhouse DIR", "--skip venv"):
        assert option in done.stdout
    wrong = install("--frobnicate", check=False)
    assert wrong.returncode == 2 and wrong.stderr.strip() == "install.sh: unknown option --frobnicate (see --help)"


def test_sh_runs_it_with_bash(root):
    """`sh deploy/install.sh` (dash on Debian) hands over to bash: the script uses arrays."""
    for args in (["--help"], ["--dry-run", "--root", str(root), "--skip", "venv"]):
        by_sh = subprocess.run(["sh", str(INSTALL), *args], capture_output=True, text=True, timeout=60)
        assert (by_sh.returncode, by_sh.stdout) == (0, install(*args).stdout), by_sh.stderr


def test_dry_run_prints_every_step_and_changes_nothing(root):
    shutil.rmtree(root / "opt")                                 # no virtual environment yet
    before = tree(root)
    lines = install("--dry-run", "--root", root).stdout.splitlines()
    assert tree(root) == before
    text = "\n".join(lines)
    assert re.search(r"^skip \(--root\): apt-get install .*\bpcscd libccid cage xwayland\b", text, re.MULTILINE)
    assert "gcc python3-dev libpcsclite-dev" in text          # pyscard is built: no wheelhouse with a wheel
    assert f"run: useradd --prefix {root} --system --user-group --home-dir /var/lib/kiosk --no-create-home " \
           "--shell /usr/sbin/nologin --comment 'Admission kiosk' kiosk" in lines
    assert f"run: usermod --prefix {root} --append --groups lp,dialout kiosk" in lines
    # A new virtual environment beside the one that runs, filled from a copy of the last commit, then switched to.
    venv = next(line for line in lines if line.startswith("run: python3 -m venv "))
    new = re.fullmatch(rf"run: python3 -m venv {root}/opt/kiosk/(venv-0\.1\.0-\d{{14}})", venv).group(1)
    at = lines.index(venv)
    assert lines[at + 1:at + 6] == [
        f"copy what is committed in {ROOT} (git archive HEAD) into a temporary folder, where pip builds it",
        (f"run: {root}/opt/kiosk/{new}/bin/pip install --quiet --root-user-action=ignore -c {DEPLOY}/constraints.txt "
         "/tmp/kiosk-src.XXXXXX"),
        f"run: ln -sfn {new} {root}/opt/kiosk/venv.new",
        f"run: mv -T {root}/opt/kiosk/venv.new {root}/opt/kiosk/venv",
        f"run: ln -sfn /opt/kiosk/venv/bin/kiosk {root}/usr/local/bin/kiosk",
    ]
    for expected in ("make /etc/kiosk (0750 root:kiosk)",
                     "install /etc/kiosk/kiosk.toml (0640 root:kiosk) from deploy/kiosk.example.toml",
                     "install /etc/default/kiosk (0640 root:root) from deploy/kiosk.default",
                     "make /etc/kiosk/store.key: a new random key, 64 hex digits (0600 root:root)",
                     "make /var/lib/kiosk (0700 kiosk:kiosk)",
                     "install /etc/systemd/system/kiosk.service (0644 root:root) from deploy/systemd/kiosk.service",
                     ("install /etc/systemd/system/kiosk.service.d/key.conf (0644 root:root): "
                      "LoadCredential=store-key:/etc/kiosk/store.key"),
                     "install /etc/systemd/system/kiosk-sync.service (0644 root:root) from deploy/systemd/kiosk-sync.service",
                     "install /etc/systemd/system/kiosk-site.service (0644 root:root) from deploy/systemd/kiosk-site.service",
                     ("install /etc/systemd/system/kiosk-site.service.d/key.conf (0644 root:root): "
                      "LoadCredential=store-key:/etc/kiosk/store.key"),
                     "install /etc/pam.d/kiosk (0644 root:root) from deploy/pam/kiosk",
                     "run: /opt/kiosk/venv/bin/python -m kiosk.cli.deploy udev-rules --config /etc/kiosk/kiosk.toml",
                     "install /etc/polkit-1/rules.d/50-kiosk-pcsc.rules (0644 root:root) from deploy/polkit/50-kiosk-pcsc.rules",
                     f"run: systemctl --root={root} mask ctrl-alt-del.target",
                     f"run: systemctl --root={root} enable kiosk.service",
                     "run: /opt/kiosk/venv/bin/python -m kiosk.cli.deploy public-url --config /etc/kiosk/kiosk.toml",
                     "site.public_url is not set: no kiosk-site.service here (only the site service's host runs it)",
                     f"run: systemctl --root={root} disable kiosk-site.service",
                     f"run: systemctl --root={root} set-default graphical.target"):
        assert expected in lines, expected
    assert any(line.startswith("install /etc/udev/rules.d/60-kiosk-printers.rules") for line in lines)


def test_dry_run_on_this_machine_names_apt_get_and_the_live_systemd_steps():
    lines = install("--dry-run").stdout.splitlines()
    assert lines[0] == "run: apt-get update -q"
    assert lines[1].startswith("run: env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
                               "pcscd libccid cage xwayland ")
    for unwanted in ("chromium", "vsmartcard", "openssl"):
        assert unwanted not in lines[1]
    assert "run: systemctl enable kiosk.service" in lines


# dpkg's status file (dpkg-query reads $DPKG_ADMINDIR/status) with chrony installed, as `dpkg -s chrony` shows it.
CHRONY = """\
Package: chrony
Status: install ok installed
Priority: optional
Section: net
Architecture: amd64
Version: 4.3-2+deb12u1
Provides: time-daemon
Description: Versatile implementation of the Network Time Protocol
"""


@pytest.mark.parametrize("status, timesyncd", [("", True), (CHRONY, False)])
def test_systemd_timesyncd_only_where_no_time_daemon_is_installed(tmp_path, status, timesyncd):
    """A minimal Debian has no time daemon; one with chrony keeps it (timesyncd would conflict with it)."""
    admin = tmp_path / "dpkg"
    (admin / "info").mkdir(parents=True)
    (admin / "status").write_text(status)
    done = subprocess.run(["bash", str(INSTALL), "--dry-run"], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, DPKG_ADMINDIR=str(admin)))
    apt = done.stdout.splitlines()[1].split()
    assert apt[:4] == ["run:", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    assert ("systemd-timesyncd" in apt) == timesyncd
    assert "chrony" not in apt


def test_a_wheelhouse_with_pyscard_needs_no_compiler(tmp_path):
    (tmp_path / "pyscard-2.3.1-cp311-cp311-linux_x86_64.whl").touch()
    (tmp_path / "admission_kiosk-0.1.0-py3-none-any.whl").touch()
    lines = install("--dry-run", "--wheelhouse", tmp_path).stdout.splitlines()
    assert "gcc" not in lines[1] and "pcscd libccid" in lines[1]
    wheel = tmp_path / "admission_kiosk-0.1.0-py3-none-any.whl"
    pip = next(line for line in lines if " install --quiet " in line)
    assert re.fullmatch(rf"run: /opt/kiosk/venv-0\.1\.0-\d{{14}}/bin/pip install --quiet --root-user-action=ignore "
                        rf"-c {DEPLOY}/constraints.txt --no-index --find-links {tmp_path} {wheel}", pip)


def key_conf(key_file: str | None) -> str:
    """The drop-in install.sh writes for each unit: the credential store-key from store.key_file (none: plain)."""
    return ("# Written by deploy/install.sh from store.key_file and store.encryption in /etc/kiosk/kiosk.toml: run it "
            "again\n# after changing them. The kiosk reads the key at $CREDENTIALS_DIRECTORY/store-key.\n"
            "[Service]\nLoadCredential=\n" + (f"LoadCredential=store-key:{key_file}\n" if key_file else ""))


@as_root
def test_install_into_a_root_then_upgrade_in_place_keeps_config_key_and_store(root):
    out = install("--root", root, "--skip", "venv").stdout
    uid, gid = kiosk_ids(root)
    groups = {line.split(":")[0]: line.split(":")[3].split(",") for line in (root / "etc/group").read_text().splitlines()}
    assert "kiosk" in groups["lp"] and "kiosk" in groups["dialout"] and groups["kiosk"] is not None

    etc = root / "etc/kiosk"
    assert (mode(etc), owner(etc)) == ("0o750", (0, gid))
    cfg = etc / "kiosk.toml"
    assert (mode(cfg), owner(cfg)) == ("0o640", (0, gid))
    assert cfg.read_text() == (DEPLOY / "kiosk.example.toml").read_text()
    key = etc / "store.key"
    assert (mode(key), owner(key)) == ("0o600", (0, 0))
    assert re.fullmatch(r"[0-9a-f]{64}\n", key.read_text())
    default = root / "etc/default/kiosk"                        # it may hold KIOSK_STORE_KEY
    assert (mode(default), owner(default), default.read_text()) == ("0o640", (0, 0), (DEPLOY / "kiosk.default").read_text())
    data = root / "var/lib/kiosk"
    assert (mode(data), owner(data)) == ("0o700", (uid, gid))
    assert os.readlink(root / "usr/local/bin/kiosk") == "/opt/kiosk/venv/bin/kiosk"     # `sudo kiosk doctor`
    for unit in UNITS:
        installed = root / "etc/systemd/system" / unit
        assert (mode(installed), owner(installed)) == ("0o644", (0, 0))
        assert installed.read_text() == (DEPLOY / "systemd" / unit).read_text()
        dropin = root / "etc/systemd/system" / f"{unit}.d/key.conf"
        assert (mode(dropin), owner(dropin), dropin.read_text()) == ("0o644", (0, 0), key_conf("/etc/kiosk/store.key"))
    for target, source in (("etc/pam.d/kiosk", "pam/kiosk"),
                           ("etc/polkit-1/rules.d/50-kiosk-pcsc.rules", "polkit/50-kiosk-pcsc.rules"),
                           ("etc/systemd/logind.conf.d/kiosk.conf", "lockdown/logind.conf"),
                           ("etc/systemd/system.conf.d/kiosk.conf", "lockdown/system.conf"),
                           ("etc/sysctl.d/60-kiosk.conf", "lockdown/sysctl.conf")):
        assert (mode(root / target), (root / target).read_text()) == ("0o644", (DEPLOY / source).read_text()), target
    rules = root / "etc/udev/rules.d/60-kiosk-printers.rules"
    head = (DEPLOY / "udev/60-kiosk-printers.rules").read_text()
    assert mode(rules) == "0o644" and rules.read_text() == head + "# The config names no usb:// printer.\n"
    system = root / "etc/systemd/system"
    assert os.readlink(system / "graphical.target.wants/kiosk.service") == "/etc/systemd/system/kiosk.service"
    assert os.readlink(system / "default.target").endswith("/graphical.target")
    assert os.readlink(system / "ctrl-alt-del.target") == "/dev/null"
    # is_symlink: the link names /etc/systemd/system/..., outside the root, so exists() would never see it
    assert not (system / "multi-user.target.wants/kiosk-sync.service").is_symlink()     # hospital.transport none
    assert "hospital.transport is none: no kiosk-sync.service" in out
    assert not (system / "multi-user.target.wants/kiosk-site.service").is_symlink()     # site.public_url not set

    # IT sets the kiosk up; the kiosk stores admissions; then an update of the checkout is installed.
    cfg.write_text(SITE_CONFIG)
    stored = data / "kiosk.db"
    stored.write_bytes(b"admissions")
    first_key = key.read_bytes()
    (system / "kiosk.service").write_text("[Service]\nExecStart=/bin/true\n")      # the old version's unit
    lines = install("--root", root, "--skip", "venv").stdout.splitlines()
    for kept in ("keep /etc/kiosk/kiosk.toml (it exists)", "keep /etc/default/kiosk (it exists)",
                 "keep /etc/kiosk/store.key (never replaced: the store cannot be opened without it)",
                 "keep /var/lib/kiosk (the store)", "keep user kiosk (it exists)"):
        assert kept in lines
    assert not any(line.startswith("fix ") for line in lines)          # nothing was loosened
    assert cfg.read_text() == SITE_CONFIG and key.read_bytes() == first_key and stored.read_bytes() == b"admissions"
    assert (mode(key), mode(cfg), mode(data)) == ("0o600", "0o640", "0o700")
    assert kiosk_ids(root) == (uid, gid)
    assert (root / "etc/passwd").read_text().count("\nkiosk:") == 1
    assert (system / "kiosk.service").read_text() == (DEPLOY / "systemd/kiosk.service").read_text()
    assert rules.read_text() == head + deploy.udev_rules(config.load(cfg))
    assert 'ATTR{idVendor}=="04b8", ATTR{idProduct}=="0e15", GROUP="kiosk", MODE="0660"' in rules.read_text()
    assert os.readlink(system / "multi-user.target.wants/kiosk-sync.service") == "/etc/systemd/system/kiosk-sync.service"

    # A dry run now says what an upgrade would keep.
    dry = install("--dry-run", "--root", root).stdout
    assert "keep /etc/kiosk/store.key" in dry and "make /etc/kiosk/store.key" not in dry


@as_root
def test_an_upgrade_gives_loosened_files_their_owner_and_mode_back_never_new_content(root):
    install("--root", root, "--skip", "venv")
    _, gid = kiosk_ids(root)
    key, cfg, default = root / "etc/kiosk/store.key", root / "etc/kiosk/kiosk.toml", root / "etc/default/kiosk"
    contents = {path: path.read_bytes() for path in (key, cfg, default)}
    for path, loose in ((key, 0o644), (cfg, 0o666), (default, 0o644)):       # default: an older install.sh's
        os.chown(path, 1000, 1000)
        path.chmod(loose)
    lines = install("--root", root, "--skip", "venv").stdout.splitlines()
    assert "fix /etc/kiosk/store.key: 0600 root:root (it was 644 1000:1000; its content stays as it is)" in lines
    assert "fix /etc/kiosk/kiosk.toml: 0640 root:kiosk (it was 666 1000:1000; its content stays as it is)" in lines
    assert "fix /etc/default/kiosk: 0640 root:root (it was 644 1000:1000; its content stays as it is)" in lines
    assert [(mode(p), owner(p)) for p in (key, cfg, default)] == [("0o600", (0, 0)), ("0o640", (0, gid)),
                                                                   ("0o640", (0, 0))]
    assert {path: path.read_bytes() for path in contents} == contents


@as_root
def test_the_services_load_the_key_file_the_config_names(root):
    install("--root", root, "--skip", "venv")
    cfg = root / "etc/kiosk/kiosk.toml"
    elsewhere = root / "etc/kiosk/keys/lobby-7.key"
    elsewhere.parent.mkdir()
    elsewhere.write_text(secrets.token_hex(32) + "\n")
    first = elsewhere.read_text()
    cfg.write_text('[store]\nkey_file = "/etc/kiosk/keys/lobby-7.key"\n')
    install("--root", root, "--skip", "venv")
    for unit in UNITS:
        dropin = root / "etc/systemd/system" / f"{unit}.d/key.conf"
        assert dropin.read_text() == key_conf("/etc/kiosk/keys/lobby-7.key")
    assert elsewhere.read_text() == first and mode(elsewhere) == "0o600"
    cfg.write_text('[store]\nencryption = "none"\n')         # a plain store: no credential (a missing one fails the unit)
    lines = install("--root", root, "--skip", "venv").stdout.splitlines()
    assert "store.encryption is none: no store key" in lines
    for unit in UNITS:
        assert (root / "etc/systemd/system" / f"{unit}.d/key.conf").read_text() == key_conf(None)
    cfg.write_text('[store]\nkey_file = "keys/lobby-7.key"\n')
    done = install("--root", root, "--skip", "venv", check=False)
    assert done.returncode == 2 and "'store.key_file' must be an absolute path (from /), not 'keys/lobby-7.key'" in done.stderr


@as_root
def test_the_site_service_runs_only_on_the_host_whose_config_sets_site_public_url(root):
    """A kiosk that is not the site service's host never gets kiosk-site.service enabled; the host does, and
    loses it again when its config no longer names where the patient pages are published."""
    wants = root / "etc/systemd/system/multi-user.target.wants/kiosk-site.service"
    cfg = root / "etc/kiosk/kiosk.toml"
    install("--root", root, "--skip", "venv")
    cfg.write_text(SITE_CONFIG)                                # a lobby kiosk: no [site]
    lines = install("--root", root, "--skip", "venv").stdout.splitlines()
    assert "site.public_url is not set: no kiosk-site.service here (only the site service's host runs it)" in lines
    assert not wants.is_symlink()        # a link to /etc/..., outside the root: exists() is False
    cfg.write_text(SITE_CONFIG + '[site]\npublic_url = "https://checkin.hospital.example"\n')
    lines = install("--root", root, "--skip", "venv").stdout.splitlines()
    assert "site.public_url is set: kiosk-site.service, the site service, runs here" in lines
    assert os.readlink(wants) == "/etc/systemd/system/kiosk-site.service"
    dropin = root / "etc/systemd/system/kiosk-site.service.d/key.conf"          # site.db's key, the store's
    assert dropin.read_text() == key_conf("/etc/kiosk/store.key")
    cfg.write_text(SITE_CONFIG)
    install("--root", root, "--skip", "venv")
    assert not wants.is_symlink()


def checkout_copy(target: Path) -> Path:
    """This checkout as it is (committed or not, without what git ignores), committed in a git repository
    of its own at ``target``: what IT clones onto a kiosk."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    git = ["git", "-C", str(target), "-c", "user.name=test", "-c", "user.email=test@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the kiosk"]):
        subprocess.run(git + args, check=True, capture_output=True)
    return target


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> tuple[Path, Path]:
    """(checkout, wheelhouse): a copy of the checkout, and the wheels install.sh --wheelhouse takes, as
    --help says how to make them: `make install` makes them into .venv/wheelhouse (pip wheel -r
    deploy/constraints.txt, and setuptools to build the kiosk from source), so that no test reaches a
    package index."""
    made = Path(sys.prefix) / "wheelhouse"
    if not list(made.glob("setuptools-*.whl")):
        pytest.fail(f"no wheelhouse in {made}: `make install` makes it (rm .venv/.installed; make install)")
    checkout = checkout_copy(tmp_path_factory.mktemp("checkout"))
    wheels = tmp_path_factory.mktemp("wheelhouse")
    for wheel in made.iterdir():
        (wheels / wheel.name).symlink_to(wheel)
    # The kiosk's own wheel, built from the copy as --help says, with nothing but these wheels.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--find-links",
                    str(wheels), "-w", str(wheels), str(checkout)], check=True, capture_output=True, timeout=300)
    shutil.rmtree(checkout / "build", ignore_errors=True)      # pip wheel's, not the installer's
    for info in checkout.glob("*.egg-info"):
        shutil.rmtree(info)
    return checkout, wheels


@as_root
def test_real_installs_switch_the_virtual_environment_at_once_and_keep_the_one_before(root, wheelhouse, tmp_path):
    """Three real runs into a throwaway root, with pip and no index: from the wheelhouse over a virtual
    environment of an older install.sh (a folder), from the checkout's last commit, and one that fails."""
    checkout, wheels = wheelhouse
    script = checkout / "deploy/install.sh"
    opt = root / "opt/kiosk"
    shutil.rmtree(opt / "venv")
    (opt / "venv/bin").mkdir(parents=True)                   # what the first install.sh made
    (opt / "venv/bin/python").symlink_to(sys.executable)
    (opt / "venv/OLD").touch()

    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(script), "--root", str(root), *args], capture_output=True, text=True,
                              timeout=600, env={**os.environ, **(env or {})})

    def venvs() -> list[str]:
        return sorted(p.name for p in opt.iterdir())

    first = run("--wheelhouse", str(wheels))
    assert first.returncode == 0, first.stderr
    current = os.readlink(opt / "venv")
    assert re.fullmatch(r"venv-0\.1\.0-\d{14}", current)
    before = next(name for name in venvs() if name.startswith("venv-before-"))
    assert (opt / before / "OLD").exists() and venvs() == sorted(["venv", current, before])
    assert f"/opt/kiosk/venv is {current} from now on; {before} stays for a rollback" in first.stdout
    done = subprocess.run([str(opt / "venv/bin/kiosk"), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Self-service admission kiosk" in done.stdout
    installed = json.loads(subprocess.run([str(opt / "venv/bin/python"), "-m", "pip", "list", "--format=json"],
                                          capture_output=True, text=True, check=True).stdout)
    from packaging.utils import canonicalize_name
    versions = {canonicalize_name(p["name"]): p["version"] for p in installed}
    assert {name: versions.get(name) for name in pinned()} == pinned()   # deploy/constraints.txt, to the letter

    # From the checkout: pip builds a copy of the last commit, and the checkout stays clean.
    copies = set(Path("/tmp").glob("kiosk-src.*"))
    second = run(env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)})
    assert second.returncode == 0, second.stderr
    latest = os.readlink(opt / "venv")
    assert latest != current and venvs() == sorted(["venv", current, latest])        # the oldest is gone
    assert subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--ignored"],
                          capture_output=True, text=True, check=True).stdout == ""
    assert set(Path("/tmp").glob("kiosk-src.*")) == copies

    # A build that fails (a package missing) changes nothing.
    broken = tmp_path / "broken"
    broken.mkdir()
    for wheel in wheels.iterdir():
        if not wheel.name.lower().startswith("kivy-2"):
            (broken / wheel.name).symlink_to(wheel)
    failed = run("--wheelhouse", str(broken))
    assert failed.returncode == 1
    assert "the new virtual environment could not be built" in failed.stderr and "the kiosk keeps the one it has" in failed.stderr
    assert os.readlink(opt / "venv") == latest and venvs() == sorted(["venv", current, latest])

    # A config the new version refuses (stricter checks than the running one's) switches nothing either.
    config = root / "etc/kiosk/kiosk.toml"
    config.write_text(config.read_text().replace("\nidle_fps = 1.0\n", "\nidle_fps = 0.5\n"))
    refused = run("--wheelhouse", str(wheels))
    assert refused.returncode == 2, refused.stderr
    assert "'display.idle_fps'" in refused.stderr and "nothing was switched" in refused.stderr
    assert os.readlink(opt / "venv") == latest and venvs() == sorted(["venv", current, latest])


@as_root
def test_a_broken_config_stops_the_installer_with_its_sentence(root):
    install("--root", root, "--skip", "venv")
    (root / "etc/kiosk/kiosk.toml").write_text("[printer.ticket]\nuri = 7\n")
    done = install("--root", root, "--skip", "venv", check=False)
    assert done.returncode == 2
    assert "kiosk.cli.deploy: In " in done.stderr and "'printer.ticket.uri' must be a text in quotes" in done.stderr


@as_root
def test_systemd_analyze_verify_passes_on_every_unit(root):
    """Verified as installed in the throwaway root, where every path they start exists: systemd-analyze
    checks the executables and the units they depend on inside --root. Warnings count as failures
    (systemd-analyze exits 0 on an unknown key or a value it cannot parse)."""
    install("--root", root, "--skip", "venv")
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: deploy/system-packages.sh installs the Debian package systemd"
    units = [root / "etc/systemd/system" / unit for unit in UNITS]
    assert {u.name for u in units} == {p.name for p in (DEPLOY / "systemd").iterdir()}
    done = subprocess.run([analyze, "verify", f"--root={root}", *map(str, units)], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    # The check can fail: the same with cage missing.
    (root / "usr/bin/cage").unlink()
    done = subprocess.run([analyze, "verify", f"--root={root}", str(units[0])], capture_output=True, text=True)
    assert done.returncode != 0 and "/usr/bin/cage is not executable" in done.stderr


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Every key of a unit file with its values in order (a key may come more than once)."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_units_never_give_up_and_dump_no_core():
    """A kiosk that stopped restarting is a black screen in the lobby; a core dump (the watchdog's SIGABRT)
    would hold a patient's data."""
    for unit in UNITS:
        settings = unit_settings(DEPLOY / "systemd" / unit)
        assert settings["LimitCORE"] == ["0"], unit
        assert settings["StartLimitIntervalSec"] == ["0"] and "StartLimitBurst" not in settings, unit
        assert (settings["Restart"], settings["RestartSec"]) == (["always"], ["5"]), unit
    # pinged per admission it tries (a few hospital.timeout_s at most), so minutes are plenty
    assert unit_settings(DEPLOY / "systemd/kiosk-sync.service")["WatchdogSec"] == ["2min"]
    # kiosk site serve says READY=1 and STOPPING=1 but sends no WATCHDOG=1: a WatchdogSec= would kill it
    site = unit_settings(DEPLOY / "systemd/kiosk-site.service")
    assert site["Type"] == ["notify"] and "WatchdogSec" not in site


@as_root
def test_hardening_as_systemd_reads_it(root):
    """systemd-analyze security --offline reads the installed units (drop-ins too) as systemd would."""
    install("--root", root, "--skip", "venv")

    def passed(unit: str) -> set[str]:
        done = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={root}",
                               str(root / "etc/systemd/system" / unit)], capture_output=True, text=True)
        return {line.split()[1] for line in done.stdout.splitlines() if line.startswith("✓")}
    common = {"NoNewPrivileges=", "RemoveIPC=", "CapabilityBoundingSet=~CAP_SYS_ADMIN", "ProtectSystem=",
              "ProtectKernelModules=", "PrivateTmp="}
    sync = passed("kiosk-sync.service")
    assert common | {"ProtectProc=", "PrivateDevices=", "ProtectHome=", "ProtectClock="} <= sync
    # The site service, a server on the network with patients' data, is hardened at least as kiosk-sync is.
    assert sync <= passed("kiosk-site.service")
    kiosk = passed("kiosk.service")
    assert common <= kiosk
    assert "PrivateDevices=" not in kiosk                     # cage opens the screen and the touch panel


def test_polkit_rule_admits_the_kiosk_user_to_pcscd_and_nothing_else():
    """The rule run in a real JavaScript engine (node) with polkit's addRule; polkit's own engine (duktape)
    knows ES5 only, so no newer syntax either."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: no JavaScript engine to run the rule in")
    rule = DEPLOY / "polkit/50-kiosk-pcsc.rules"
    harness = """
        const fs = require("fs");
        let rule = null;
        const polkit = {Result: {YES: "yes", NO: "no", AUTH_ADMIN: "auth_admin"}, addRule(f) { rule = f; }};
        new Function("polkit", fs.readFileSync(process.argv[1], "utf8"))(polkit);
        const asked = JSON.parse(process.argv[2]);
        console.log(JSON.stringify(asked.map(([id, user]) => rule({id: id}, {user: user}) ?? null)));
    """
    asked = [["org.debian.pcsc-lite.access_pcsc", "kiosk"], ["org.debian.pcsc-lite.access_card", "kiosk"],
             ["org.debian.pcsc-lite.access_pcsc", "www-data"], ["org.freedesktop.login1.reboot", "kiosk"]]
    done = subprocess.run([node, "-e", harness, str(rule), json.dumps(asked)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["yes", "yes", None, None]
    code = "\n".join(line for line in rule.read_text().splitlines() if not line.lstrip().startswith("//"))
    assert not re.search(r"=>|\blet\b|\bconst\b|`", code)


# --- kiosk.cli.deploy --------------------------------------------------------------------------------------

def test_udev_rules_for_each_usb_printer_once(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[printer.ticket]\nuri = "usb://4B8:202?out_ep=0x01"\n'
                   '[printer.wristband]\nuri = "usb://04b8:0202"\n')
    rules = deploy.udev_rules(config.load(cfg))
    assert rules.splitlines() == [
        "# printer.ticket.uri, printer.wristband.uri = usb://04b8:0202",
        ('ACTION!="remove", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="04b8", '
         'ATTR{idProduct}=="0202", GROUP="kiosk", MODE="0660"'),
        # change too: the installer's `udevadm trigger` sends change events, with DRIVER set where usblp holds it
        ('ACTION=="bind|change", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_interface", DRIVER=="usblp", '
         'ATTRS{idVendor}=="04b8", ATTRS{idProduct}=="0202", '
         'RUN+="/bin/sh -c \'echo %k > /sys/bus/usb/drivers/usblp/unbind\'"'),
    ]
    cfg.write_text('[printer.ticket]\nuri = "tcp://10.0.0.20:9100"\n')
    assert deploy.udev_rules(config.load(cfg)) == "# The config names no usb:// printer.\n"


def test_deploy_command_line(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[hospital]\ntransport = "hl7v2"\nurl = "mllps://his.example:2575"\n')
    done = subprocess.run([sys.executable, "-m", "kiosk.cli.deploy", "transport", "--config", str(cfg)],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "hl7v2\n")
    done = subprocess.run([sys.executable, "-m", "kiosk.cli.deploy", "key-file", "--config", str(cfg)],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "/etc/kiosk/store.key\n")
    done = subprocess.run([sys.executable, "-m", "kiosk.cli.deploy", "public-url", "--config", str(cfg)],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "\n")                      # not the site service's host
    cfg.write_text('[site]\npublic_url = "https://checkin.hospital.example"\n')
    done = subprocess.run([sys.executable, "-m", "kiosk.cli.deploy", "public-url", "--config", str(cfg)],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "https://checkin.hospital.example\n")
    cfg.write_text("[nonsense]\n")
    done = subprocess.run([sys.executable, "-m", "kiosk.cli.deploy", "udev-rules", "--config", str(cfg)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"kiosk.cli.deploy: In {cfg}: 'nonsense' is not a setting the kiosk knows.\n"


def pinned() -> dict[str, str]:
    """deploy/constraints.txt as {canonical name: version}."""
    from packaging.utils import canonicalize_name
    lines = [line for line in (DEPLOY / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", line) for line in lines), lines
    return {canonicalize_name(name): version for name, version in (line.split("==") for line in lines)}


def test_constraints_pin_every_runtime_requirement():
    """deploy/constraints.txt (`make constraints`) cannot fall behind pyproject.toml: each dependency there is
    pinned, at a version its specifier allows, and so is everything they need in turn (as installed here)."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    pins = pinned()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"]:
        wanted = Requirement(line)
        assert canonicalize_name(wanted.name) in pins, f"{wanted.name} is not in deploy/constraints.txt: make constraints"
        assert wanted.specifier.contains(pins[canonicalize_name(wanted.name)], prereleases=True), wanted
    needed = {canonicalize_name(name) for name in deploy.runtime_requirements()}
    assert needed - set(pins) == set(), "not pinned in deploy/constraints.txt: make constraints"
    for test_only in ("pytest", "hypothesis", "selenium", "sekmet-fhir", "admission-kiosk"):
        assert test_only not in pins


# --- sd_notify ---------------------------------------------------------------------------------------

class Listener:
    """systemd's side of $NOTIFY_SOCKET: a datagram socket, read all the time on a thread of its own
    (the kernel queues only a few datagrams for a reader that does not read), which collects what the
    service says."""

    def __init__(self, address: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.address = address
        self.said: list[str] = []
        self.heard = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = self.sock.recv(4096).decode()
            except OSError:
                return
            if not message:              # shut down
                return
            with self.heard:
                self.said.append(message)
                self.heard.notify_all()

    def messages(self, until=None, timeout: float = 1.0) -> list[str]:
        """What arrived so far, after up to ``timeout`` seconds for a message that ``until`` accepts (by
        default: for nothing more to come for 0.2 s)."""
        with self.heard:
            if until is None:
                while self.heard.wait(0.2):
                    pass
            else:
                self.heard.wait_for(lambda: any(map(until, self.said)), timeout)
            return list(self.said)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@pytest.fixture
def listener(tmp_path):
    made = []

    def make(address: str) -> Listener:
        made.append(Listener(address))
        return made[-1]
    yield make
    for one in made:
        one.close()


def test_notify_reaches_path_and_abstract_sockets(tmp_path, listener, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sdnotify.notify("READY=1")                       # not started by systemd: nothing to do
    for address in (str(tmp_path / "notify"), f"@kiosk-test-{secrets.token_hex(4)}"):
        heard = listener(address)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        assert sdnotify.notify("READY=1", "STATUS=welcome")
        assert heard.messages() == ["READY=1\nSTATUS=welcome"]
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert not sdnotify.notify("WATCHDOG=1")                    # no exception: the next ping may get through


@pytest.mark.parametrize("usec, pid, expected", [
    (None, None, None), ("0", None, None), ("30000000", None, 15.0), ("30000000", "self", 15.0),
    ("30000000", "parent", 15.0),            # cage is the service's main process, the kiosk its child
    ("30000000", "1", None), ("thirty", None, None),
])
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(monkeypatch, usec, pid, expected):
    for name, value in (("WATCHDOG_USEC", usec),
                        ("WATCHDOG_PID", {"self": str(os.getpid()), "parent": str(os.getppid())}.get(pid, pid))):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert sdnotify.watchdog_interval() == expected


def test_the_kiosk_is_ready_after_its_first_frame_and_its_ui_thread_feeds_the_watchdog(tmp_path, listener,
                                                                                     monkeypatch):
    heard = listener(f"@kiosk-test-{secrets.token_hex(4)}")
    monkeypatch.setenv("NOTIFY_SOCKET", heard.address)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")             # a ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    _, screens = uirun.run("ui_sdnotify.py", tmp_path / "out")
    assert screens[0]["gc_enabled"] and screens[0]["gc_frozen"] > 10_000   # start-up's objects, frozen
    said = heard.messages()
    assert said[0] == "STATUS=welcome"                          # the first screen is being built
    assert said[1] == "READY=1\nSTATUS=welcome"                 # ... and was drawn
    hang, resume = said.index("X_TEST=hang"), said.index("X_TEST=resume")
    assert said[2:hang].count("WATCHDOG=1") >= 2                # pings while the screen runs
    assert resume == hang + 1                                   # none while the Kivy thread hangs
    assert "WATCHDOG=1" in said[resume:]                        # and again once it goes on
    assert "STOPPING=1" in said[resume:]                         # and it says when it stops
    assert set(said) <= {"STATUS=welcome", "READY=1\nSTATUS=welcome", "WATCHDOG=1", "X_TEST=hang", "X_TEST=resume",
                         "STOPPING=1"}


def test_kiosk_sync_on_its_own_is_ready_and_feeds_the_watchdog(tmp_path, listener):
    heard = listener(str(tmp_path / "notify"))
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n'
                   f'[hospital]\ntransport = "folder"\nurl = "file://{tmp_path / "hospital"}"\n')
    env = dict(os.environ, NOTIFY_SOCKET=heard.address, WATCHDOG_USEC="1000000")
    worker = subprocess.Popen([str(KIOSK), "sync", "--config", str(cfg)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        said = heard.messages(until=lambda m: m == "WATCHDOG=1", timeout=20)
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=20)
    assert said[0] == "READY=1\nSTATUS=delivering admissions (folder)", err
    assert said[-1] == "WATCHDOG=1"
    assert worker.returncode == 0, err


def test_kiosk_site_serve_is_ready_once_both_listeners_listen_and_says_when_it_stops(tmp_path, listener):
    """What Type=notify in kiosk-site.service counts on: READY=1 with both listeners taking connections,
    STOPPING=1 on SIGTERM, exit 0."""
    heard = listener(str(tmp_path / "notify"))
    cfg = tmp_path / "kiosk.toml"
    ports = []
    for _ in range(2):                                      # the config takes no port 0: two free ones
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n'
                   f'[site]\npatient_port = {ports[0]}\nsite_port = {ports[1]}\n')
    service = subprocess.Popen([str(KIOSK), "site", "serve", "--config", str(cfg)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ, NOTIFY_SOCKET=heard.address))
    try:
        said = heard.messages(until=lambda m: m == "READY=1", timeout=30)
        assert said == ["READY=1"], service.stderr.read() if service.poll() is not None else said
        assert re.findall(r"http://127\.0\.0\.1:(\d+)/", service.stdout.readline()) == list(map(str, ports))
        for port in ports:
            socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()
        service.send_signal(signal.SIGTERM)
        _out, err = service.communicate(timeout=30)
    finally:
        if service.poll() is None:
            service.kill()
            service.communicate()
    assert service.returncode == 0, err
    assert heard.messages() == ["READY=1", "STOPPING=1"]


class LockHolder:
    """Another process holding the delivery lock beside the store, as the kiosk app's worker does for a
    whole round (kiosk.hospital.outbox.Sync.run_once)."""

    def __init__(self, lock: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", ("import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
                                    "print('held', flush=True); sys.stdin.read()"), str(lock)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline() == "held\n"

    def release(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def test_kiosk_sync_feeds_the_watchdog_while_the_apps_worker_holds_the_lock(tmp_path, listener):
    """Waiting for the app's worker to finish its round is no silence that makes systemd kill kiosk-sync, and
    it ends when the worker is stopped; once the lock is free, it delivers."""
    from kiosk.store.opening import open_store
    from kiosk.checkin.model import Admission, Person
    heard = listener(str(tmp_path / "notify"))
    hospital = tmp_path / "hospital"
    hospital.mkdir()
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n'
                   f'[hospital]\ntransport = "folder"\nurl = "file://{hospital}"\n')
    store = open_store(config.load(cfg))
    try:
        store.save_admission(Admission(id="7d0c1e9a-0000-4000-8000-000000000001", kiosk_id="lobby-1",
                                       created_at="2024-03-01T09:00:00+00:00", language="de", identified_by="card:egk",
                                       person=Person(family="Zwiebelkuchen", given=("Hedwig",))),
                             destinations=("folder",))
        lock = store.path.with_name(store.path.name + ".sync-lock")
    finally:
        store.close()
    app_worker = LockHolder(lock)
    env = dict(os.environ, NOTIFY_SOCKET=heard.address, WATCHDOG_USEC="1000000")
    worker = subprocess.Popen([str(KIOSK), "sync", "--config", str(cfg)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        heard.messages(until=lambda m: m.startswith("READY=1"), timeout=20)
        time.sleep(3.5)                                     # a lock poll every second
        said = heard.messages()
        assert said[0].startswith("READY=1") and said[1:].count("WATCHDOG=1") >= 2, said
        assert list(hospital.iterdir()) == []               # the other worker's turn
        app_worker.release()
        deadline = time.monotonic() + 15
        # The folder transport writes a .tmp and renames it: wait for the finished file.
        while not list(hospital.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p.suffix for p in hospital.iterdir()] == [".json"]

        app_worker = LockHolder(lock)                       # the app's next round; kiosk-sync waits, then stops
        time.sleep(2.5)
        stopping = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=10)
        assert time.monotonic() - stopping < 5 and worker.returncode == 0, err
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
        app_worker.release()


# --- Kivy set for a kiosk ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kiosk_settings(tmp_path_factory):
    out = tmp_path_factory.mktemp("kiosk-settings")
    _run, results = uirun.run("ui_kiosk_settings.py", out)
    return results[0]


def test_the_picture_is_turned_and_a_touch_lands_where_it_is_shown(kiosk_settings):
    r = kiosk_settings
    assert (r["window"], r["screen"], r["rotation"]) == ([800, 1280], [1280, 800], 90)     # portrait on a landscape panel
    x, y, width, height = r["probe_on_screen"]
    assert (width, height) == (120, 120) and (x, y) != (150, 1000)                         # found, and not unturned
    assert r["probe_after_touch"] == {"downs": ["left"], "ups": 1}                         # one touch, not two
    assert r["probe_after_uncalibrated_touch"] == {"downs": ["left"], "ups": 1}            # the calibration matters


def test_a_right_click_is_one_plain_touch_with_no_multitouch_dot(kiosk_settings):
    assert kiosk_settings["probe_after_right_click"] == {"downs": ["left", "right"], "ups": 2}
    assert kiosk_settings["touches_left"] == []


def test_escape_does_not_quit_and_f1_opens_no_settings(kiosk_settings):
    assert kiosk_settings["after_escape"] == {"event_loop": "started", "state": "welcome"}
    after = kiosk_settings["after_f1"]
    assert after["event_loop"] == "started"
    assert after["window_children"] == after["before"] == ["KioskFrame"]
