"""What `make docs` (``python -m kiosk.config``) writes from the settings: the reference table in
docs/configuration.md and deploy/kiosk.example.toml.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kiosk.config.sections import Settings


def describe(cls: type = Settings, prefix: str = "") -> list[tuple[str, Any, str]]:
    """Every setting as (dotted key, default, description): the config reference and its test use this."""
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            rows.extend(describe(type(default), f"{prefix}{f.name}."))
        else:
            rows.append((f"{prefix}{f.name}", default, f.metadata.get("description", "")))
    return rows


def _toml(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def example_toml() -> str:
    """deploy/kiosk.example.toml: every setting with its default and description."""
    lines = ["# Example /etc/kiosk/kiosk.toml: every setting with its default.",
             "# Delete what you do not change; unknown keys are an error (the kiosk names them).",
             "# Made by `make docs` from kiosk/config/."]
    section = None
    for key, default, description in describe():
        sec, name = key.rsplit(".", 1)
        if sec != section:
            lines += ["", f"[{sec}]"]
            section = sec
        lines += [f"# {description}", f"{name} = {_toml(default)}"]
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """docs/configuration.md: the table of every setting."""
    head = """# Configuration reference

One TOML file per kiosk: the file given with `--config`, else the one named by `$KIOSK_CONFIG`, else
`/etc/kiosk/kiosk.toml` if it exists, else the built-in defaults. Every key has a default; an unknown key,
a wrong type or a bad value stops the kiosk with exit code 2 and one sentence naming the key.
`deploy/kiosk.example.toml` lists every key with its default. Both files are made by `make docs` from
`kiosk/config/`.

Every value is checked: a number must be finite (TOML's `nan` and `inf` are refused) and within the range
its line gives; a path must be absolute (a relative one would depend on the folder the kiosk is started
from), and a file the kiosk reads at start-up (certificates, keys, the token, the peer secret, a consent
text) must be there; a text must be printable (no control characters) and within its length; a list may
not hold an empty or a repeated entry.

Plain `http://` (and MLLP without TLS) is accepted only for loopback addresses (127.0.0.1, localhost);
anything else must be TLS with verification on.

| key | default | what it is |
|---|---|---|
"""
    bar = "\\|"                  # a | of a description, escaped for the table
    rows = [f"| `{key}` | `{_toml(default)}` | {description.replace('|', bar)} |" for key, default, description in describe()]
    return head + "\n".join(rows) + "\n"
