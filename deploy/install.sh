#!/bin/bash
# Installs the admission kiosk on Debian 12, or upgrades it in place: run as root from a checkout of the
# project (sudo deploy/install.sh). `deploy/install.sh --help` says what it does; docs/operations.md,
# "Installing" and "Updating", says why.
set -eu
umask 022            # the virtual environment and the units must be readable by the kiosk user

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
VENV=/opt/kiosk/venv
USER_NAME=kiosk
HOME_DIR=/var/lib/kiosk
GROUPS_EXTRA=lp,dialout          # USB printer-class devices and /dev/usb/lpN; serial printers
CONFIG=/etc/kiosk/kiosk.toml
KEY=/etc/kiosk/store.key
# What the kiosk needs at run time (nothing for building or testing: see deploy/system-packages.sh).
PACKAGES="pcscd libccid cage xwayland dbus libpam-systemd libgl1 libegl1 libgles2 libgl1-mesa-dri libmtdev1
libusb-1.0-0 espeak-ng python3-venv ca-certificates"
# pyscard has no Linux wheel on PyPI: pip builds it, unless the wheelhouse brings it built.
BUILD_PACKAGES="gcc python3-dev libpcsclite-dev swig pkg-config"

usage() {
    cat <<EOF
Usage: deploy/install.sh [--dry-run] [--root DIR] [--wheelhouse DIR] [--skip venv] [--help]

Installs the admission kiosk on Debian 12 as root, or upgrades it in place when run again:
  1. apt-get installs what the kiosk needs to run: $(echo $PACKAGES)
     (and, to build pyscard, $BUILD_PACKAGES, unless --wheelhouse has a pyscard wheel)
  2. the system user $USER_NAME (home $HOME_DIR, no login shell), also in groups $GROUPS_EXTRA
  3. a virtual environment in $VENV with this checkout's kiosk installed (pip; offline with --wheelhouse)
  4. /etc/kiosk (root:kiosk 0750); $CONFIG from deploy/kiosk.example.toml (0640) and /etc/default/kiosk,
     each only when absent; the store key $KEY (64 hex digits, root:root 0600) only when absent:
     an existing key is never replaced, the store could not be opened without it; $HOME_DIR (kiosk 0700)
  5. systemd units kiosk.service (cage on tty1) and kiosk-sync.service, the PAM file, udev rules for the
     configured USB printers, the polkit rule for pcscd, and the lock-down (Ctrl+Alt+Del masked, no
     login prompts on other terminals, power keys ignored, SysRq off)
  6. daemon-reload, udev reload, kiosk.service enabled (kiosk-sync.service too when hospital.transport is
     not none), graphical.target the default; services already running are restarted
Run again after an update of the checkout, or after changing printer URIs or hospital.transport: the
config, the key and $HOME_DIR (the store) stay as they are.

Options:
  --dry-run         print every step, one per line, and change nothing
  --root DIR        install into DIR as the root of the file system, for tests: the user is made in
                    DIR/etc/passwd (useradd --prefix), units are enabled with systemctl --root, and
                    apt-get, udevadm and everything that needs a running systemd is left out. A
                    virtual environment made there names DIR in its scripts: to prepare an image, run
                    install.sh inside its chroot instead
  --wheelhouse DIR  install the kiosk and its Python packages from the wheels in DIR, without network
                    (make it on a build machine: pip wheel -w DIR /path/to/checkout)
  --skip venv       leave the virtual environment as it is (refresh config files, units and rules only)
  --help            this text
EOF
}

DRY_RUN=0
ROOT=
WHEELHOUSE=
SKIP_VENV=0
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) DRY_RUN=1 ;;
        --root) [ $# -ge 2 ] || { echo "install.sh: --root needs a folder" >&2; exit 2; }; ROOT=$2; shift ;;
        --root=*) ROOT=${1#*=} ;;
        --wheelhouse) [ $# -ge 2 ] || { echo "install.sh: --wheelhouse needs a folder" >&2; exit 2; }
                      WHEELHOUSE=$2; shift ;;
        --wheelhouse=*) WHEELHOUSE=${1#*=} ;;
        --skip) [ "${2:-}" = venv ] || { echo "install.sh: --skip takes venv" >&2; exit 2; }; SKIP_VENV=1; shift ;;
        --skip=venv) SKIP_VENV=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || { echo "install.sh: --root $ROOT is not a folder" >&2; exit 2; }
    ROOT=$(cd "$ROOT" && pwd)
fi
if [ -n "$WHEELHOUSE" ]; then
    [ -d "$WHEELHOUSE" ] || { echo "install.sh: --wheelhouse $WHEELHOUSE is not a folder" >&2; exit 2; }
    WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd)
fi
if [ "$(id -u)" -ne 0 ] && [ "$DRY_RUN" -eq 0 ]; then
    echo "install.sh: run it as root (sudo $0), or with --dry-run to see what it does" >&2
    exit 2
fi

# One line per step, the same with --dry-run, which then runs nothing.
step() { printf '%s\n' "$*"; }
run() {
    local arg line=run:
    for arg in "$@"; do
        case $arg in *[[:space:]]*) line="$line '$arg'" ;; *) line="$line $arg" ;; esac
    done
    step "$line"
    [ "$DRY_RUN" -eq 1 ] || "$@"
}
# The kiosk user's uid and gid in the target's passwd (numbers: under --root the host has no such user).
ids() {
    [ ! -r "$ROOT/etc/passwd" ] || awk -F: -v u="$USER_NAME" '$1 == u { print $3 ":" $4 }' "$ROOT/etc/passwd"
}
kiosk_gid() { ids | cut -d: -f2; }
# put MODE OWNER SOURCE TARGET: install a file, replacing what is there. OWNER is root or kiosk (the
# group; the owner is root).
put() {
    step "install $4 ($1 root:$2) from ${3#"$SRC"/}"
    [ "$DRY_RUN" -eq 1 ] && return
    local group=0
    [ "$2" = root ] || group=$(kiosk_gid)
    install -D -m "$1" -o 0 -g "$group" "$3" "$ROOT$4"
}
# put_once: the same, only when TARGET does not exist yet (a file IT may have changed).
put_once() {
    if [ -e "$ROOT$4" ]; then step "keep $4 (it exists)"; else put "$@"; fi
}
systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

# 1. Debian packages
wheel_has_pyscard=0
[ -n "$WHEELHOUSE" ] && ls "$WHEELHOUSE"/pyscard-*.whl >/dev/null 2>&1 && wheel_has_pyscard=1
if [ "$wheel_has_pyscard" -eq 0 ] && [ "$SKIP_VENV" -eq 0 ]; then
    PACKAGES="$PACKAGES $BUILD_PACKAGES"
fi
PACKAGES=$(echo $PACKAGES)
if [ -n "$ROOT" ]; then
    step "skip (--root): apt-get install $PACKAGES"
else
    run apt-get update -q
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $PACKAGES
fi

# 2. the kiosk user
prefix=()
[ -z "$ROOT" ] || prefix=(--prefix "$ROOT")
if [ -n "$(ids)" ]; then
    step "keep user $USER_NAME (it exists)"
else
    run useradd "${prefix[@]}" --system --user-group --home-dir "$HOME_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "Admission kiosk" "$USER_NAME"
fi
run usermod "${prefix[@]}" --append --groups "$GROUPS_EXTRA" "$USER_NAME"

# 3. the virtual environment
if [ "$SKIP_VENV" -eq 1 ]; then
    step "skip (--skip venv): the virtual environment $VENV stays as it is"
else
    [ -x "$ROOT$VENV/bin/python" ] || run python3 -m venv "$ROOT$VENV"
    if [ -n "$WHEELHOUSE" ]; then
        wheel=$(ls "$WHEELHOUSE"/admission_kiosk-*.whl 2>/dev/null | sort -V | tail -n 1)
        [ -n "$wheel" ] || { echo "install.sh: $WHEELHOUSE has no admission_kiosk-*.whl" >&2; exit 2; }
        run "$ROOT$VENV/bin/pip" install --quiet --root-user-action=ignore --no-index --find-links "$WHEELHOUSE" "$wheel"
        # the same version again is a rebuilt kiosk: install it even so (its dependencies stay)
        run "$ROOT$VENV/bin/pip" install --quiet --root-user-action=ignore --no-index --no-deps --force-reinstall "$wheel"
    else
        run "$ROOT$VENV/bin/pip" install --quiet --root-user-action=ignore --upgrade "$SRC"
    fi
fi
if [ "$DRY_RUN" -eq 0 ] && [ ! -x "$ROOT$VENV/bin/python" ]; then
    echo "install.sh: there is no virtual environment in $ROOT$VENV; run install.sh without --skip venv" >&2
    exit 1
fi

# 4. config, key, data
step "make /etc/kiosk (0750 root:kiosk)"
[ "$DRY_RUN" -eq 1 ] || install -d -m 0750 -o 0 -g "$(kiosk_gid)" "$ROOT/etc/kiosk"
put_once 0640 kiosk "$SRC/deploy/kiosk.example.toml" "$CONFIG"
put_once 0644 root "$HERE/kiosk.default" /etc/default/kiosk
if [ -e "$ROOT$KEY" ] || [ -L "$ROOT$KEY" ]; then
    step "keep $KEY (never replaced: the store cannot be opened without it)"
else
    step "make $KEY: a new random key, 64 hex digits (0600 root:root)"
    if [ "$DRY_RUN" -eq 0 ]; then
        (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > "$ROOT$KEY.new")
        sync "$ROOT$KEY.new"
        mv -n "$ROOT$KEY.new" "$ROOT$KEY"
    fi
fi
if [ -e "$ROOT$HOME_DIR" ]; then
    step "keep $HOME_DIR (the store)"
else
    step "make $HOME_DIR (0700 kiosk:kiosk)"
    [ "$DRY_RUN" -eq 1 ] || install -d -m 0700 -o "$(ids | cut -d: -f1)" -g "$(kiosk_gid)" "$ROOT$HOME_DIR"
fi

# 5. units, PAM, udev, polkit, lock-down
for unit in kiosk.service kiosk-sync.service; do
    put 0644 root "$HERE/systemd/$unit" "/etc/systemd/system/$unit"
done
put 0644 root "$HERE/pam/kiosk" /etc/pam.d/kiosk
rules=/etc/udev/rules.d/60-kiosk-printers.rules
step "install $rules (0644 root:root) from deploy/udev/60-kiosk-printers.rules and the usb:// printers of $CONFIG"
step "run: $VENV/bin/python -m kiosk.deploy udev-rules --config $CONFIG"
if [ "$DRY_RUN" -eq 0 ]; then
    mkdir -p "$ROOT/etc/udev/rules.d"
    { cat "$HERE/udev/60-kiosk-printers.rules"
      "$ROOT$VENV/bin/python" -m kiosk.deploy udev-rules --config "$ROOT$CONFIG"; } > "$ROOT$rules.new"
    chmod 0644 "$ROOT$rules.new"
    mv "$ROOT$rules.new" "$ROOT$rules"
fi
put 0644 root "$HERE/polkit/50-kiosk-pcsc.rules" /etc/polkit-1/rules.d/50-kiosk-pcsc.rules
put 0644 root "$HERE/lockdown/logind.conf" /etc/systemd/logind.conf.d/kiosk.conf
put 0644 root "$HERE/lockdown/system.conf" /etc/systemd/system.conf.d/kiosk.conf
put 0644 root "$HERE/lockdown/sysctl.conf" /etc/sysctl.d/60-kiosk.conf
systemctl_root=()
[ -z "$ROOT" ] || systemctl_root=(--root="$ROOT")
run systemctl "${systemctl_root[@]}" mask ctrl-alt-del.target

# 6. systemd and udev
if systemd_running; then
    run systemctl daemon-reload
    run udevadm control --reload-rules
    run udevadm trigger --subsystem-match=usb
    run sysctl --quiet --load=/etc/sysctl.d/60-kiosk.conf
else
    why="systemd is not running"
    [ -z "$ROOT" ] || why="--root"
    step "skip ($why): daemon-reload, udevadm control --reload-rules, udevadm trigger, sysctl --load"
fi
run systemctl "${systemctl_root[@]}" enable kiosk.service
step "run: $VENV/bin/python -m kiosk.deploy transport --config $CONFIG"
if [ "$DRY_RUN" -eq 1 ]; then
    step "run: systemctl enable kiosk-sync.service when hospital.transport is not none, else disable it"
elif [ "$("$ROOT$VENV/bin/python" -m kiosk.deploy transport --config "$ROOT$CONFIG")" != none ]; then
    run systemctl "${systemctl_root[@]}" enable kiosk-sync.service
else
    step "hospital.transport is none: no kiosk-sync.service"
    run systemctl "${systemctl_root[@]}" disable kiosk-sync.service
fi
run systemctl "${systemctl_root[@]}" set-default graphical.target
if systemd_running; then
    # An update: what runs now gets the new code (the kiosk's screen restarts: a patient at it starts over).
    run systemctl try-restart kiosk.service kiosk-sync.service
fi
step "done: the kiosk starts on tty1 at the next boot (or now: systemctl start kiosk); kiosk doctor checks it"
