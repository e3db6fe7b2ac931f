#!/bin/sh
# Debian 12 packages the kiosk needs to build and run (installed only when missing):
#   python3-venv python3-dev gcc pkg-config   the virtual environment; pyscard compiles against Python
#   libpcsclite-dev swig                       pyscard's build (PC/SC headers, wrapper generator)
#   libgl1 libegl1 libgles2 libgl1-mesa-dri    OpenGL/EGL for Kivy (Mesa llvmpipe when there is no GPU)
#   libmtdev1                                  Kivy's touch input; without it Kivy logs a traceback
#   pcscd                                      the PC/SC service the card readers sit behind
#   libusb-1.0-0                               pyusb's backend, for usb:// printers
#   linux-libc-dev                             the kernel's linux/input.h, which evdev compiles against (barcode
#                                              scanners in USB keyboard mode)
#   openssl                                    the tests make a throwaway TLS certificate with it
#   espeak-ng                                  "Read aloud": speaks the screen in the patient's language
#   vsmartcard-vpcd                            virtual reader driver the tests play cards into (development
#                                              and CI only: it listens on TCP 35963, never put it on a kiosk)
#   chromium chromium-driver                   headless browser the desk page's tests drive (development and
#                                              CI only: a kiosk does not need a browser for its desk page)
#   systemd                                    systemd-analyze and systemctl --root, which the tests run on
#                                              deploy/'s units (a minimal Debian has no systemd)
#   nodejs                                     runs the polkit rule (JavaScript) in tests/cli/test_deploy.py;
#                                              development and CI only
#   npm                                        installs axe-core, the accessibility checker the browser tests
#                                              inject into Chromium (tests/browser/); development and CI only.
#                                              Debian 12's nodejs has no npm: it is its own package there (taken
#                                              only when there is no npm command: NodeSource's nodejs brings
#                                              one and conflicts with Debian's npm)
#   postgresql                                 a real PostgreSQL the site service's tests start in a temporary
#                                              folder (tests/support/postgres.py); development and CI only: a
#                                              site on PostgreSQL uses the hospital's own server
#   xvfb libxtst6                              a virtual X display, and XTest to click on it: the wake-up test
#                                              (tests/ui/test_wakeup.py) and `make bench` (start-up and idle CPU
#                                              of `kiosk run` beside a bare Kivy app); development only
set -eu
PACKAGES="python3-venv python3-dev gcc pkg-config libpcsclite-dev swig libgl1 libegl1 libgles2 libgl1-mesa-dri libmtdev1 pcscd libusb-1.0-0 linux-libc-dev openssl espeak-ng vsmartcard-vpcd chromium chromium-driver systemd xvfb libxtst6 nodejs postgresql"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

echo "Installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
