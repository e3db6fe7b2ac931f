"""What deploy/install.sh needs to know from a kiosk's config: ``python -m kiosk.deploy COMMAND --config FILE``.

``udev-rules`` prints the udev rules for the printers the kiosk drives itself over USB (``usb://VID:PID``);
``transport`` prints hospital.transport (the installer enables kiosk-sync.service only when it is not
``none``). A config that does not load is one sentence on stderr and exit 2, as for ``kiosk``.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

from kiosk import config

# The kiosk's own group gets the device; usblp is unbound as soon as it binds to one of its interfaces, so
# no /dev/usb/lpN appears for a printer the kiosk talks to through pyusb (python-escpos would detach the
# driver at every job by itself, but nothing else on the machine should be able to open the printer).
RULES = """\
# {where} = usb://{vendor}:{product}
ACTION!="remove", SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_device", ATTR{{idVendor}}=="{vendor}", \
ATTR{{idProduct}}=="{product}", GROUP="kiosk", MODE="0660"
ACTION=="bind", SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_interface", DRIVER=="usblp", ATTRS{{idVendor}}=="{vendor}", \
ATTRS{{idProduct}}=="{product}", RUN+="/bin/sh -c 'echo %k > /sys/bus/usb/drivers/usblp/unbind'"
"""


def usb_printers(settings: config.Settings) -> list[tuple[str, str, str]]:
    """(setting, vendor, product) of every usb:// printer, the ids as udev writes them (4 lower-case hex digits)."""
    found = []
    for kind in ("ticket", "wristband"):
        parts = urlsplit(getattr(settings.printer, kind).uri)
        if parts.scheme == "usb":     # the config has checked it: usb://VID:PID in hex
            vendor, product = (f"{int(x, 16):04x}" for x in parts.netloc.split(":"))
            found.append((f"printer.{kind}.uri", vendor, product))
    return found


def udev_rules(settings: config.Settings) -> str:
    """The rules for ``usb_printers``, once per printer; a comment when there are none."""
    printers: dict[tuple[str, str], list[str]] = {}
    for where, vendor, product in usb_printers(settings):
        printers.setdefault((vendor, product), []).append(where)
    if not printers:
        return "# The config names no usb:// printer.\n"
    return "".join(RULES.format(where=", ".join(where), vendor=vendor, product=product)
                   for (vendor, product), where in printers.items())


def main(argv: list[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m kiosk.deploy", description=__doc__.split("\n\n")[0])
    top.add_argument("command", choices=["udev-rules", "transport"],
                     help="udev-rules: the rules for usb:// printers; transport: hospital.transport")
    top.add_argument("--config", metavar="FILE", help=f"settings file (default: ${config.CONFIG_ENV}, "
                                                      f"else {config.DEFAULT_CONFIG_PATH}, else built-in defaults)")
    args = top.parse_args(argv)
    try:
        settings = config.load(config.config_path(args.config))
    except config.ConfigError as e:
        print(f"kiosk.deploy: {e}", file=sys.stderr)
        return 2
    if args.command == "udev-rules":
        sys.stdout.write(udev_rules(settings))
    else:
        print(settings.hospital.transport)
    return 0


if __name__ == "__main__":
    sys.exit(main())
