#!/bin/bash
# Installs the admission kiosk on Debian 12, or upgrades it in place: run as root from a checkout of the
# project (sudo deploy/install.sh). `deploy/install.sh --help` says what it does; docs/operations.md,
# "Installing" and "Updating", says why.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"     # `sh deploy/install.sh` too: what follows is bash
set -eu
umask 022            # the virtual environment and the units must be readable by the kiosk user

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
OPT=/opt/kiosk
VENV=$OPT/venv                   # a symlink to the current virtual environment, venv-VERSION-TIME beside it
COMMAND=/usr/local/bin/kiosk     # `sudo kiosk doctor` (sudo's PATH has /usr/local/bin)
USER_NAME=kiosk
HOME_DIR=/var/lib/kiosk
GROUPS_EXTRA=lp,dialout          # USB printer-class devices and /dev/usb/lpN; serial printers
CONFIG=/etc/kiosk/kiosk.toml
KEY=/etc/kiosk/store.key         # store.key_file of a new config
ENVIRONMENT=/etc/default/kiosk
# What the kiosk needs at run time (nothing for building or testing: see deploy/system-packages.sh).
PACKAGES="pcscd libccid cage xwayland dbus libpam-systemd libgl1 libegl1 libgles2 libgl1-mesa-dri libmtdev1
libusb-1.0-0 espeak-ng python3-venv ca-certificates"
# pyscard has no Linux wheel on PyPI: pip builds it, unless the wheelhouse brings it built.
BUILD_PACKAGES="gcc python3-dev libpcsclite-dev swig pkg-config"
# Admissions carry the time and TLS needs it right: a time daemon, unless one is there (chrony, ntpsec, ...).
TIME_PACKAGE=systemd-timesyncd

usage() {
    cat <<EOF
Usage: deploy/install.sh [--dry-run] [--root DIR] [--wheelhouse DIR] [--skip venv] [--help]

Installs the admission kiosk on Debian 12 as root, or upgrades it in place when run again:
  1. apt-get installs what the kiosk needs to run: $(echo $PACKAGES)
     (and, to build pyscard, $BUILD_PACKAGES, unless --wheelhouse has a pyscard wheel;
     and $TIME_PACKAGE when no time daemon such as chrony is installed)
  2. the system user $USER_NAME (home $HOME_DIR, no login shell), also in groups $GROUPS_EXTRA
  3. a new virtual environment $OPT/venv-VERSION-TIME with the kiosk in it, at the versions of
     deploy/constraints.txt (pip, from a clean copy of the checkout's last commit; offline with
     --wheelhouse); then $VENV, a symlink, is switched to it at once. The one before stays for a
     rollback, older ones are removed; a failed build changes nothing. $COMMAND links to it
  4. /etc/kiosk (root:kiosk 0750); $CONFIG from deploy/kiosk.example.toml (0640) and $ENVIRONMENT
     (0640 root:root), each only when absent; the store key (store.key_file, $KEY: 64 hex digits,
     root:root 0600) only when absent: an existing key is never replaced, the store could not be opened
     without it; existing ones get their owner and mode back when they were loosened; $HOME_DIR (kiosk 0700)
  5. systemd units kiosk.service (cage on tty1), kiosk-sync.service and kiosk-site.service, with
     drop-ins loading store.key_file as their credential, the PAM file, udev rules for the configured
     USB printers, the polkit rule for pcscd, and the lock-down (Ctrl+Alt+Del masked, no login prompts
     on other terminals, power keys ignored, SysRq off)
  6. daemon-reload, udev reload, kiosk.service enabled (kiosk-sync.service too when hospital.transport is
     not none, kiosk-site.service when site.public_url is set: the site service's host),
     graphical.target the default; services already running are restarted
Run again after an update of the checkout, or after changing printer URIs, hospital.transport,
site.public_url or the store settings: the config, the key and $HOME_DIR (the store) stay as they are.

Options:
  --dry-run         print every step, one per line, and change nothing
  --root DIR        install into DIR as the root of the file system, for tests: the user is made in
                    DIR/etc/passwd (useradd --prefix), units are enabled with systemctl --root, and
                    apt-get, udevadm and everything that needs a running systemd is left out. A
                    virtual environment made there names DIR in its scripts: to prepare an image, run
                    install.sh inside its chroot instead
  --wheelhouse DIR  install the kiosk and its Python packages from the wheels in DIR, without network
                    (make it on a build machine: pip wheel -w DIR -c deploy/constraints.txt CHECKOUT)
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
gid_of() { if [ "$1" = root ]; then echo 0; else kiosk_gid; fi; }
# put MODE GROUP SOURCE TARGET: install a file, replacing what is there. GROUP is root or kiosk (the owner
# is root).
put() {
    step "install $4 ($1 root:$2) from ${3#"$SRC"/}"
    [ "$DRY_RUN" -eq 1 ] && return
    install -D -m "$1" -o 0 -g "$(gid_of "$2")" "$3" "$ROOT$4"
}
# put_once: the same, only when TARGET does not exist yet (a file IT may have changed).
put_once() {
    if [ -e "$ROOT$4" ]; then step "keep $4 (it exists)"; else put "$@"; fi
}
# write TARGET: what comes on stdin becomes TARGET (0644 root:root), at once (renamed into place).
write() {
    if [ "$DRY_RUN" -eq 1 ]; then cat >/dev/null; return; fi
    mkdir -p "$(dirname "$ROOT$1")"
    cat > "$ROOT$1.new"
    chmod 0644 "$ROOT$1.new"
    mv "$ROOT$1.new" "$ROOT$1"
}
# secure PATH MODE GROUP LOOSE: an existing PATH whose mode has a bit of LOOSE (octal), or that is not
# root's or not in GROUP (root or kiosk), gets MODE root:GROUP back. Its content stays as it is.
secure() {
    local now uid gid want
    [ -e "$ROOT$1" ] || return 0
    want=$(gid_of "$3")
    read -r now uid gid < <(stat -L -c '%a %u %g' "$ROOT$1")
    if (( (8#$now & 8#$4) || uid != 0 || gid != ${want:-0} )); then
        step "fix $1: $2 root:$3 (it was $now $uid:$gid; its content stays as it is)"
        [ "$DRY_RUN" -eq 1 ] || { chown 0:"$want" "$ROOT$1"; chmod "$2" "$ROOT$1"; }
    fi
}
# from_config VARIABLE COMMAND DEFAULT: VARIABLE gets what `python -m kiosk.cli.deploy COMMAND` says about the
# config (a config that does not load stops the install with its sentence); DEFAULT, that of the example
# config, in a dry run before the first install, when there is neither kiosk nor config yet.
from_config() {
    local said=$3
    step "run: $VENV/bin/python -m kiosk.cli.deploy $2 --config $CONFIG"
    if [ -x "$ROOT$VENV/bin/python" ] && [ -e "$ROOT$CONFIG" ]; then
        said=$("$ROOT$VENV/bin/python" -m kiosk.cli.deploy "$2" --config "$ROOT$CONFIG") || exit $?
    fi
    printf -v "$1" '%s' "$said"
}
systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }
# Whether a package that provides time-daemon (chrony, ntpsec, openntpd, systemd-timesyncd) is installed.
has_time_daemon() {
    dpkg-query -W -f='${db:Status-Status} ${Provides}\n' 2>/dev/null | grep -Eq '^installed .*\btime-daemon\b'
}

# What a failed run leaves behind is removed: the copy of the checkout, a half-built virtual environment.
copy=
building=
cleanup() {
    [ -z "$copy" ] || rm -rf "$copy"
    [ -z "$building" ] || rm -rf "$building"
}
trap cleanup EXIT

# 1. Debian packages
wheel_has_pyscard=0
[ -n "$WHEELHOUSE" ] && ls "$WHEELHOUSE"/pyscard-*.whl >/dev/null 2>&1 && wheel_has_pyscard=1
if [ "$wheel_has_pyscard" -eq 0 ] && [ "$SKIP_VENV" -eq 0 ]; then
    PACKAGES="$PACKAGES $BUILD_PACKAGES"
fi
if [ -n "$ROOT" ]; then
    step "skip (--root): apt-get install $(echo $PACKAGES)"
else
    has_time_daemon || PACKAGES="$PACKAGES $TIME_PACKAGE"     # never in place of one there is (chrony)
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

# 3. the virtual environment: built beside the one that runs, then switched to at once, so that the
# services never see half an install, and a failed one leaves the kiosk as it was.
built_failed() {
    echo "install.sh: the new virtual environment could not be built (see pip's message above); nothing was" \
         "changed: the kiosk keeps the one it has" >&2
    exit 1
}
if [ "$SKIP_VENV" -eq 1 ]; then
    step "skip (--skip venv): the virtual environment $VENV stays as it is"
else
    if [ -n "$WHEELHOUSE" ]; then
        wheel=$(ls "$WHEELHOUSE"/admission_kiosk-*.whl 2>/dev/null | sort -V | tail -n 1)
        [ -n "$wheel" ] || { echo "install.sh: $WHEELHOUSE has no admission_kiosk-*.whl" >&2; exit 2; }
        version=$(basename "$wheel" | cut -d- -f2)
    else
        version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$SRC/pyproject.toml" | head -n 1)
    fi
    # Made at the path it keeps: its scripts name their python by its absolute path.
    stamp=$(date -u +%Y%m%d%H%M%S)
    while [ -e "$ROOT$OPT/venv-$version-$stamp" ]; do sleep 1; stamp=$(date -u +%Y%m%d%H%M%S); done
    new=venv-$version-$stamp
    [ "$DRY_RUN" -eq 1 ] || building=$ROOT$OPT/$new
    run python3 -m venv "$ROOT$OPT/$new"
    pip=("$ROOT$OPT/$new/bin/pip" install --quiet --root-user-action=ignore -c "$HERE/constraints.txt")
    if [ -n "$WHEELHOUSE" ]; then
        run "${pip[@]}" --no-index --find-links "$WHEELHOUSE" "$wheel" || built_failed
    else
        # pip builds in a copy, so the checkout gets no build/ or *.egg-info of root's.
        if [ -e "$SRC/.git" ] && command -v git >/dev/null; then
            git=(git -c safe.directory="$SRC" -C "$SRC")
            step "copy what is committed in $SRC (git archive HEAD) into a temporary folder, where pip builds it"
            if [ -n "$("${git[@]}" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
                echo "install.sh: $SRC has changes that are not committed: they are not installed" >&2
            fi
            if [ "$DRY_RUN" -eq 0 ]; then
                copy=$(mktemp -d /tmp/kiosk-src.XXXXXX)
                ( set -o pipefail; "${git[@]}" archive HEAD | tar -x -C "$copy" )
            fi
        else
            step "copy $SRC (without .git, .venv, build/, *.egg-info) into a temporary folder, where pip builds it"
            if [ "$DRY_RUN" -eq 0 ]; then
                copy=$(mktemp -d /tmp/kiosk-src.XXXXXX)
                tar -C "$SRC" --exclude=./.git --exclude=./.venv --exclude=./build --exclude='*.egg-info' \
                    --exclude=__pycache__ -cf - . | tar -x -C "$copy"
            fi
        fi
        run "${pip[@]}" "${copy:-/tmp/kiosk-src.XXXXXX}" || built_failed
    fi
    # A config the new version refuses (its checks may be stricter than the running one's) would keep the new
    # kiosk from starting: it is read with the new environment first, and then nothing is switched.
    if [ "$DRY_RUN" -eq 0 ] && [ -e "$ROOT$CONFIG" ] \
            && ! "$ROOT$OPT/$new/bin/python" -m kiosk.cli.deploy transport --config "$ROOT$CONFIG" >/dev/null; then
        echo "install.sh: the new version does not take $CONFIG (the sentence above): change it and run" \
             "install.sh again; nothing was switched: the kiosk keeps the one it has" >&2
        rm -rf "${ROOT:?}$OPT/$new"
        exit 2
    fi
    # The switch: a symlink renamed over the old one. The virtual environment of an older install.sh, a
    # folder in the symlink's place, moves aside first (its scripts reach it through the symlink's path,
    # so it can be switched back to as well).
    previous=
    if [ -L "$ROOT$VENV" ]; then
        previous=$(basename "$(readlink "$ROOT$VENV")")
    elif [ -d "$ROOT$VENV" ]; then
        previous=venv-before-$stamp
    fi
    run ln -sfn "$new" "$ROOT$VENV.new"
    [ ! -d "$ROOT$VENV" ] || [ -L "$ROOT$VENV" ] || run mv -T "$ROOT$VENV" "$ROOT$OPT/$previous"
    run mv -T "$ROOT$VENV.new" "$ROOT$VENV"
    building=
    if [ -n "$previous" ]; then
        step "$VENV is $new from now on; $previous stays for a rollback (docs/operations.md, \"Updating\")"
    fi
    for old in "$ROOT$OPT"/venv-*; do
        [ -e "$old" ] || continue
        case $(basename "$old") in "$new"|"$previous") ;; *) run rm -rf "$old" ;; esac
    done
fi
if [ "$DRY_RUN" -eq 0 ] && [ ! -x "$ROOT$VENV/bin/python" ]; then
    echo "install.sh: there is no virtual environment in $ROOT$VENV; run install.sh without --skip venv" >&2
    exit 1
fi
[ "$DRY_RUN" -eq 1 ] || mkdir -p "$ROOT$(dirname "$COMMAND")"
run ln -sfn "$VENV/bin/kiosk" "$ROOT$COMMAND"

# 4. config, key, data
step "make /etc/kiosk (0750 root:kiosk)"
[ "$DRY_RUN" -eq 1 ] || install -d -m 0750 -o 0 -g "$(kiosk_gid)" "$ROOT/etc/kiosk"
put_once 0640 kiosk "$SRC/deploy/kiosk.example.toml" "$CONFIG"
secure "$CONFIG" 0640 kiosk 022            # writable by others, it could turn the kiosk against patients
put_once 0640 root "$HERE/kiosk.default" "$ENVIRONMENT"
secure "$ENVIRONMENT" 0640 root 027        # it may hold KIOSK_STORE_KEY
from_config key key-file "$KEY"
if [ -z "$key" ]; then
    step "store.encryption is none: no store key"
elif [ -e "$ROOT$key" ] || [ -L "$ROOT$key" ]; then
    step "keep $key (never replaced: the store cannot be opened without it)"
    secure "$key" 0600 root 077
else
    step "make $key: a new random key, 64 hex digits (0600 root:root)"
    if [ "$DRY_RUN" -eq 0 ]; then
        mkdir -p "$(dirname "$ROOT$key")"
        (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' > "$ROOT$key.new")
        sync "$ROOT$key.new"
        mv -n "$ROOT$key.new" "$ROOT$key"
    fi
fi
if [ -e "$ROOT$HOME_DIR" ]; then
    step "keep $HOME_DIR (the store)"
else
    step "make $HOME_DIR (0700 kiosk:kiosk)"
    [ "$DRY_RUN" -eq 1 ] || install -d -m 0700 -o "$(ids | cut -d: -f1)" -g "$(kiosk_gid)" "$ROOT$HOME_DIR"
fi

# 5. units, PAM, udev, polkit, lock-down
for unit in kiosk.service kiosk-sync.service kiosk-site.service; do
    put 0644 root "$HERE/systemd/$unit" "/etc/systemd/system/$unit"
    dropin=/etc/systemd/system/$unit.d/key.conf
    step "install $dropin (0644 root:root): LoadCredential=store-key:${key:-(none)}"
    {   echo "# Written by deploy/install.sh from store.key_file and store.encryption in $CONFIG: run it again"
        echo "# after changing them. The kiosk reads the key at \$CREDENTIALS_DIRECTORY/store-key."
        echo "[Service]"
        echo "LoadCredential="
        [ -z "$key" ] || echo "LoadCredential=store-key:$key"
    } | write "$dropin"
done
put 0644 root "$HERE/pam/kiosk" /etc/pam.d/kiosk
rules=/etc/udev/rules.d/60-kiosk-printers.rules
step "install $rules (0644 root:root) from deploy/udev/60-kiosk-printers.rules and the usb:// printers of $CONFIG"
from_config printers udev-rules ""
{ cat "$HERE/udev/60-kiosk-printers.rules"; printf '%s\n' "$printers"; } | write "$rules"
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
    # change events: usblp lets go of a usb:// printer that was plugged in before (the rules above)
    run udevadm trigger --subsystem-match=usb
    run sysctl --quiet --load=/etc/sysctl.d/60-kiosk.conf
else
    why="systemd is not running"
    [ -z "$ROOT" ] || why="--root"
    step "skip ($why): daemon-reload, udevadm control --reload-rules, udevadm trigger, sysctl --load"
fi
run systemctl "${systemctl_root[@]}" enable kiosk.service
from_config transport transport none
if [ "$transport" != none ]; then
    run systemctl "${systemctl_root[@]}" enable kiosk-sync.service
else
    step "hospital.transport is none: no kiosk-sync.service"
    run systemctl "${systemctl_root[@]}" disable kiosk-sync.service
fi
# The site service runs on one host of the site (a site server or one lobby box): the one whose config says
# where its patient pages are published.
from_config public_url public-url ""
if [ -n "$public_url" ]; then
    step "site.public_url is set: kiosk-site.service, the site service, runs here"
    run systemctl "${systemctl_root[@]}" enable kiosk-site.service
else
    step "site.public_url is not set: no kiosk-site.service here (only the site service's host runs it)"
    run systemctl "${systemctl_root[@]}" disable kiosk-site.service
fi
run systemctl "${systemctl_root[@]}" set-default graphical.target
if systemd_running; then
    # An update: what runs now gets the new code (the kiosk's screen restarts: a patient at it starts over).
    run systemctl try-restart kiosk.service kiosk-sync.service kiosk-site.service
fi
step "done: the kiosk starts on tty1 at the next boot (or now: systemctl start kiosk); kiosk doctor checks it"
