"""What deploy/install.sh needs to know from a kiosk's config: ``python -m kiosk.cli.deploy COMMAND --config FILE``.

``udev-rules`` prints the udev rules for the printers the kiosk drives itself over USB (``usb://VID:PID``);
``transport`` prints hospital.transport (the installer enables kiosk-sync.service only when it is not
``none``); ``public-url`` prints site.public_url, or an empty line (it enables kiosk-site.service only
where it is set: on the site service's host); ``key-file`` prints store.key_file (the services load it as
their credential store-key), or an empty line for a plain store. A config that does not load is one
sentence on stderr and exit 2, as for ``kiosk``. ``constraints`` (no config: ``make constraints``) prints
deploy/constraints.txt, the versions of every package the kiosk needs at run time as installed in this
environment.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from kiosk import config
from kiosk.cli.arguments import Parser, existing_file

PROJECT = "admission-kiosk"

# The kiosk's own group gets the device; usblp is unbound as soon as it binds to one of its interfaces, so
# no /dev/usb/lpN appears for a printer the kiosk talks to through pyusb (python-escpos would detach the
# driver at every job by itself, but nothing else on the machine should be able to open the printer).
# "change" as well: `udevadm trigger` (the installer's) sends change events, which carry DRIVER for an
# interface usblp holds already, so a printer plugged in before the install is freed at once.
RULES = """\
# {where} = usb://{vendor}:{product}
ACTION!="remove", SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_device", ATTR{{idVendor}}=="{vendor}", \
ATTR{{idProduct}}=="{product}", GROUP="kiosk", MODE="0660"
ACTION=="bind|change", SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_interface", DRIVER=="usblp", \
ATTRS{{idVendor}}=="{vendor}", ATTRS{{idProduct}}=="{product}", \
RUN+="/bin/sh -c 'echo %k > /sys/bus/usb/drivers/usblp/unbind'"
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


def key_file(settings: config.Settings) -> str:
    """store.key_file, for the services' LoadCredential=store-key:FILE; "" when the store is plain (no key).
    The config has checked that it is an absolute path, as systemd needs."""
    return "" if settings.store.encryption == "none" else settings.store.key_file


def runtime_requirements(project: str = PROJECT) -> dict[str, str]:
    """{name: version} of every distribution ``project`` needs at run time, as installed here: its
    dependencies with the extras it asks for, and theirs, with markers evaluated for this Python (the
    ``test`` extra and the tools around it left out). The project itself is not among them."""
    from importlib import metadata

    # packaging comes with pytest: `make constraints` runs in the checkout's environment, not on a kiosk.
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    found: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()                 # (distribution, extra) already followed
    todo = [(project, "")]
    while todo:
        name, extra = todo.pop()
        if (canonicalize_name(name), extra) in seen:
            continue
        seen.add((canonicalize_name(name), extra))
        dist = metadata.distribution(name)
        if canonicalize_name(name) != canonicalize_name(project):
            found[dist.metadata["Name"]] = dist.version
        for line in dist.requires or []:
            wanted = Requirement(line)
            if wanted.marker is None or wanted.marker.evaluate({"extra": extra}):
                todo += [(wanted.name, "")] + [(wanted.name, more) for more in wanted.extras]
    return dict(sorted(found.items(), key=lambda item: canonicalize_name(item[0])))


def constraints() -> str:
    """deploy/constraints.txt: ``runtime_requirements`` as pip constraints."""
    return ("# What the kiosk needs at run time, at the versions it was tested with: deploy/install.sh installs\n"
            "# with pip -c deploy/constraints.txt. Made by `make constraints` (python -m kiosk.cli.deploy constraints)\n"
            "# from the development environment; tests/cli/test_deploy.py fails when pyproject.toml needs a package\n"
            "# that is not pinned here.\n"
            + "".join(f"{name}=={version}\n" for name, version in runtime_requirements().items()))


class _Parser(Parser):
    command = "kiosk.cli.deploy"        # its usage errors start with this, like its config errors


def parser() -> Parser:
    top = _Parser(prog="python -m kiosk.cli.deploy", description=__doc__.split("\n\n")[0])
    top.add_argument("command", choices=["udev-rules", "transport", "public-url", "key-file", "constraints"],
                     help="udev-rules: the rules for usb:// printers; transport: hospital.transport; public-url: "
                          "site.public_url (empty when not set); key-file: store.key_file (empty for a plain store); "
                          "constraints: deploy/constraints.txt")
    top.add_argument("--config", metavar="FILE", type=existing_file,
                     help=f"settings file (default: ${config.CONFIG_ENV}, else {config.DEFAULT_CONFIG_PATH}, else "
                          "built-in defaults)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "constraints":
        sys.stdout.write(constraints())
        return 0
    try:
        settings = config.load(config.config_path(args.config))
        if args.command == "udev-rules":
            sys.stdout.write(udev_rules(settings))
        elif args.command == "key-file":
            print(key_file(settings))
        elif args.command == "public-url":
            print(settings.site.public_url)
        else:
            print(settings.hospital.transport)
    except config.ConfigError as e:
        print(f"kiosk.cli.deploy: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
