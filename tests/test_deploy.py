"""Deployment: deploy/install.sh (a dry run, and real runs into a throwaway root), the systemd units
(systemd-analyze verify), the udev rules made from the config, the systemd notifications of the kiosk and
of `kiosk sync` (received on a real AF_UNIX datagram socket), and Kivy set for a kiosk (rotation, touch
calibration, Escape, F1, right click: tests/ui_kiosk_settings.py)."""

from __future__ import annotations

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
from pathlib import Path

import pytest
import uirun

from kiosk import config, deploy, sdnotify

HERE = Path(__file__).parent
DEPLOY = HERE.parent / "deploy"
INSTALL = DEPLOY / "install.sh"
KIOSK = Path(sys.executable).parent / "kiosk"
UNITS = ("kiosk.service", "kiosk-sync.service")
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
    assert f"run: python3 -m venv {root}/opt/kiosk/venv" in lines
    assert f"run: {root}/opt/kiosk/venv/bin/pip install --quiet --root-user-action=ignore --upgrade {HERE.parent}" in lines
    for expected in ("make /etc/kiosk (0750 root:kiosk)",
                     "install /etc/kiosk/kiosk.toml (0640 root:kiosk) from deploy/kiosk.example.toml",
                     "make /etc/kiosk/store.key: a new random key, 64 hex digits (0600 root:root)",
                     "make /var/lib/kiosk (0700 kiosk:kiosk)",
                     "install /etc/systemd/system/kiosk.service (0644 root:root) from deploy/systemd/kiosk.service",
                     "install /etc/systemd/system/kiosk-sync.service (0644 root:root) from deploy/systemd/kiosk-sync.service",
                     "install /etc/pam.d/kiosk (0644 root:root) from deploy/pam/kiosk",
                     "run: /opt/kiosk/venv/bin/python -m kiosk.deploy udev-rules --config /etc/kiosk/kiosk.toml",
                     "install /etc/polkit-1/rules.d/50-kiosk-pcsc.rules (0644 root:root) from deploy/polkit/50-kiosk-pcsc.rules",
                     f"run: systemctl --root={root} mask ctrl-alt-del.target",
                     f"run: systemctl --root={root} enable kiosk.service",
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


def test_a_wheelhouse_with_pyscard_needs_no_compiler(tmp_path):
    (tmp_path / "pyscard-2.3.1-cp311-cp311-linux_x86_64.whl").touch()
    (tmp_path / "admission_kiosk-0.1.0-py3-none-any.whl").touch()
    lines = install("--dry-run", "--wheelhouse", tmp_path).stdout.splitlines()
    assert "gcc" not in lines[1] and "pcscd libccid" in lines[1]
    wheel = tmp_path / "admission_kiosk-0.1.0-py3-none-any.whl"
    pip = "run: /opt/kiosk/venv/bin/pip install --quiet --root-user-action=ignore --no-index"
    assert f"{pip} --find-links {tmp_path} {wheel}" in lines
    assert f"{pip} --no-deps --force-reinstall {wheel}" in lines                 # a rebuilt wheel of the same version


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
    data = root / "var/lib/kiosk"
    assert (mode(data), owner(data)) == ("0o700", (uid, gid))
    for unit in UNITS:
        installed = root / "etc/systemd/system" / unit
        assert (mode(installed), owner(installed)) == ("0o644", (0, 0))
        assert installed.read_text() == (DEPLOY / "systemd" / unit).read_text()
    for target, source in (("etc/pam.d/kiosk", "pam/kiosk"),
                           ("etc/polkit-1/rules.d/50-kiosk-pcsc.rules", "polkit/50-kiosk-pcsc.rules"),
                           ("etc/systemd/logind.conf.d/kiosk.conf", "lockdown/logind.conf"),
                           ("etc/systemd/system.conf.d/kiosk.conf", "lockdown/system.conf"),
                           ("etc/sysctl.d/60-kiosk.conf", "lockdown/sysctl.conf"),
                           ("etc/default/kiosk", "kiosk.default")):
        assert (mode(root / target), (root / target).read_text()) == ("0o644", (DEPLOY / source).read_text()), target
    rules = root / "etc/udev/rules.d/60-kiosk-printers.rules"
    head = (DEPLOY / "udev/60-kiosk-printers.rules").read_text()
    assert mode(rules) == "0o644" and rules.read_text() == head + "# The config names no usb:// printer.\n"
    system = root / "etc/systemd/system"
    assert os.readlink(system / "graphical.target.wants/kiosk.service") == "/etc/systemd/system/kiosk.service"
    assert os.readlink(system / "default.target").endswith("/graphical.target")
    assert os.readlink(system / "ctrl-alt-del.target") == "/dev/null"
    assert not (system / "multi-user.target.wants/kiosk-sync.service").exists()     # hospital.transport none
    assert "hospital.transport is none: no kiosk-sync.service" in out

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
def test_a_broken_config_stops_the_installer_with_its_sentence(root):
    install("--root", root, "--skip", "venv")
    (root / "etc/kiosk/kiosk.toml").write_text("[printer.ticket]\nuri = 7\n")
    done = install("--root", root, "--skip", "venv", check=False)
    assert done.returncode == 2
    assert "kiosk.deploy: In " in done.stderr and "'printer.ticket.uri' must be a text in quotes" in done.stderr


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


# --- kiosk.deploy --------------------------------------------------------------------------------------

def test_udev_rules_for_each_usb_printer_once(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[printer.ticket]\nuri = "usb://4B8:202?out_ep=0x01"\n'
                   '[printer.wristband]\nuri = "usb://04b8:0202"\n')
    rules = deploy.udev_rules(config.load(cfg))
    assert rules.splitlines() == [
        "# printer.ticket.uri, printer.wristband.uri = usb://04b8:0202",
        ('ACTION!="remove", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="04b8", '
         'ATTR{idProduct}=="0202", GROUP="kiosk", MODE="0660"'),
        ('ACTION=="bind", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_interface", DRIVER=="usblp", ATTRS{idVendor}=="04b8", '
         'ATTRS{idProduct}=="0202", RUN+="/bin/sh -c \'echo %k > /sys/bus/usb/drivers/usblp/unbind\'"'),
    ]
    cfg.write_text('[printer.ticket]\nuri = "tcp://10.0.0.20:9100"\n')
    assert deploy.udev_rules(config.load(cfg)) == "# The config names no usb:// printer.\n"


def test_deploy_command_line(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text('[hospital]\ntransport = "hl7v2"\nurl = "mllps://his.example:2575"\n')
    done = subprocess.run([sys.executable, "-m", "kiosk.deploy", "transport", "--config", str(cfg)],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "hl7v2\n")
    cfg.write_text("[nonsense]\n")
    done = subprocess.run([sys.executable, "-m", "kiosk.deploy", "udev-rules", "--config", str(cfg)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"kiosk.deploy: In {cfg}: 'nonsense' is not a setting the kiosk knows.\n"


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
    uirun.run("ui_sdnotify.py", tmp_path / "out")
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
