"""Inputs that make no sense are refused with one sentence, walked class by class.

- Every config key, as ``kiosk.config.describe()`` lists it, gets the out-of-range values of its kind (numbers:
  nan, inf, negative, 0, huge; paths: relative, empty, NUL; texts: control characters, too long; lists:
  empty and repeated entries) and must refuse each with a ConfigError whose one sentence names the key. What a
  key legitimately takes is in ACCEPTED, with why; a new key without a check fails here.
- Every argument of the ``kiosk`` command (and of ``python -m kiosk.cli.deploy``), found by walking the argparse
  parsers, gets bad values through the real command and must end with exit code 2, one line on stderr naming
  the argument, and nothing written. A new option without a type (or choices) or without bad values here fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import cli, config
from kiosk.cli import deploy

KIOSK = str(Path(sys.executable).parent / "kiosk")
LONG = "x" * 100_000                       # longer than any text the kiosk takes

# --- config --------------------------------------------------------------------------------------------

BAD_NUMBERS = [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e12]
BAD_WHOLE_NUMBERS = [-1, 0, 10 ** 12]
BAD_PATHS = ["relative/file", "/with\0nul", "/with\nline-break", "/" + "x" * 5000]
BAD_TEXTS = ["with a bell\a", "with\0nul", LONG]

# One good entry of each list, so that a repeated entry (not an unknown one) is what is refused.
GOOD_ENTRY = {
    "kiosk.languages": "de",
    "reader.names": "REINER SCT",
    "desk.peers": "https://lobby-2.example:8043",
}

# Bad values a kind's generic ones do not reach: the key's own rules.
SPECIFIC = {
    "kiosk.id": ["lobby 1", "lobby/1", "x" * 21],              # HL7 v2 MSH-4 takes 20; it is part of desk URLs
    "kiosk.queue_prefix": ["ABCDE", "A-", " "],
    "kiosk.idle_timeout_s": [5.0, 7200.0],
    "kiosk.idle_warning_s": [1.0],
    "reader.names": [["x" * 129]],
    "printer.ticket.uri": ["lpt1", "preview:", "tcp://printer\t:9100"],
    "printer.ticket.profile": ["TM-T20"],
    "printer.wristband.profile": ["TM-L91"],
    "hospital.url": ["https://his.example/f hir"],
    "hospital.hl7_receiving_application": ["HIS^1.2.3^ISO", "x" * 21],
    "hospital.hl7_receiving_facility": ["WARD|3", "x" * 21],
    "hospital.retry_max_s": [0.5],
    "forms.intake": ["../forms/intake-basic", "intake basic"],
    "consent.text_de": ["file:consent-de.txt", "file:"],
    "speech.command": ["'unclosed"],
    "speech.rate_wpm": [79, 451],
    "desk.bind": ["localhost", "lobby-1.example"],
    "desk.port": [65536],
    "desk.session_h": [25.0],
    "desk.peers": [["lobby-2:8043"]],
    "store.retention_h": [0.5, 721.0],
    "display.rotation": [45, 360],
    "display.touch_x_scale": [0.1, -0.1, 3.0],
    "display.touch_x_offset": [1.5, -1.5],
    "display.idle_fps": [0.5, 31.0],
    "metrics.port": [65536],
}

# Values from the lists above that a key legitimately takes, and why. Anything else it must refuse.
ACCEPTED = {
    ("printer.ticket.uri", ""),                  # no ticket printer
    ("metrics.textfile", ""),                    # no textfile for the node exporter
    ("metrics.port", 0),                         # no /metrics port
    ("display.rotation", 0),                     # the screen as it is
    ("display.touch_x_scale", -1.0),             # a panel whose x is mirrored
    ("display.touch_y_scale", -1.0),
    ("display.touch_x_offset", -1.0),            # offsets are shares of the screen, -1 to 1
    ("display.touch_x_offset", 0.0),
    ("display.touch_y_offset", -1.0),
    ("display.touch_y_offset", 0.0),
}


def is_path(description: str) -> bool:
    return re.search(r"\((absolute )?path\b", description) is not None


def bad_values(key: str, default, description: str) -> list:
    """The values of ``key``'s kind that make no sense for most keys, then its own."""
    if isinstance(default, bool):
        values = []                              # true or false: the type is the whole range
    elif isinstance(default, float):
        values = BAD_NUMBERS
    elif isinstance(default, int):
        values = BAD_WHOLE_NUMBERS
    elif isinstance(default, tuple):
        good = GOOD_ENTRY.get(key, "?")
        values = [[""], ["with a bell\a"], [LONG], [good, good]]
    elif is_path(description):
        values = BAD_PATHS + ([""] if default else [])
    else:
        values = BAD_TEXTS + ([""] if default else [])
    # The wristband's and the other language's keys share their twin's rules.
    twin = re.sub(r"^printer\.wristband\.(uri)$", r"printer.ticket.\1", key)
    twin = re.sub(r"^consent\.text_..$", "consent.text_de", twin)
    twin = re.sub(r"^display\.touch_y_", "display.touch_x_", twin)
    return values + SPECIFIC.get(key, []) + (SPECIFIC.get(twin, []) if twin != key else [])


def toml_value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)                     # JSON's escapes are TOML's: \u0000, \u0007, \n


def load_one(tmp_path: Path, key: str, value) -> config.Settings:
    section, name = key.rsplit(".", 1)
    path = tmp_path / "kiosk.toml"
    path.write_text(f"[{section}]\n{name} = {toml_value(value)}\n", encoding="utf-8")
    return config.load(path)


def accepted(key: str, value) -> bool:
    return not isinstance(value, list) and (key, value) in ACCEPTED


REFUSED = [(key, value) for key, default, description in config.describe()
           for value in bad_values(key, default, description) if not accepted(key, value)]


def case_ids(cases) -> list[str]:
    return [f"{key}={value!r}"[:80] for key, value in cases]


@pytest.mark.parametrize("key,value", REFUSED, ids=case_ids(REFUSED))
def test_every_config_key_refuses_what_makes_no_sense_naming_the_key(tmp_path, key, value):
    with pytest.raises(config.ConfigError) as e:
        load_one(tmp_path, key, value)
    message = str(e.value)
    assert f"'{key}'" in message
    assert message.isprintable() and len(message) < 1000, message      # one line; a long value is not echoed whole


@pytest.mark.parametrize("key,value", sorted(ACCEPTED, key=repr), ids=case_ids(sorted(ACCEPTED, key=repr)))
def test_what_a_key_legitimately_takes_is_taken(tmp_path, key, value):
    settings = load_one(tmp_path, key, value)
    found = settings
    for part in key.split("."):
        found = getattr(found, part)
    assert found == value


def test_every_key_but_true_or_false_has_values_it_refuses():
    for key, default, description in config.describe():
        refused = [v for v in bad_values(key, default, description) if not accepted(key, v)]
        assert refused or isinstance(default, bool), key


@pytest.mark.parametrize("key,default", [(k, d) for k, d, _ in config.describe() if isinstance(d, (int, float))
                                         and not isinstance(d, bool)])
def test_every_number_states_its_range_in_its_description(key, default):
    description = next(d for k, _, d in config.describe() if k == key)
    assert re.search(r"\d to -?\d|\d, \d+ or \d", description), description      # "1 to 30", "0, 90, 180 or 270"


def test_the_defaults_pass_their_own_checks(tmp_path):
    # Every default written out, as deploy/kiosk.example.toml does, loads: the ranges fit what ships.
    path = tmp_path / "kiosk.toml"
    path.write_text(config.example_toml(), encoding="utf-8")
    assert config.load(path) == config.Settings()


# --- the command line ----------------------------------------------------------------------------------

def value_arguments(parser: argparse.ArgumentParser):
    """(prog, name, action) of every argument that takes a value, in this parser and its subcommands'."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.nargs == 0:
            continue
        name = action.option_strings[0] if action.option_strings else (action.metavar or action.dest)
        yield parser.prog, name, action
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from value_arguments(sub)


KIOSK_PARSER, DEPLOY_PARSER = cli.parser.build(), deploy.parser()
ARGUMENTS = [*value_arguments(KIOSK_PARSER), *value_arguments(DEPLOY_PARSER)]

NAMES = ["", " ", "x" * 65, "a\ab"]                # staff names: 1 to 64 printable characters
BAD_ARGUMENTS = {
    "--config": ["", "nowhere.toml", "{folder}", "a\ab"],
    "COMMAND": ["frobnicate", ""],
    "ACTION": ["frobnicate"],
    "REPORT": ["frobnicate", ""],
    "command": ["frobnicate"],                    # python -m kiosk.cli.deploy COMMAND
    "--out": ["", "{file}", "{file}/sub", "a\ab"],
    "--patients": ["", "nowhere.json", "{folder}"],
    "--reader": ["", "x" * 129, "a\ab"],
    "--wait": ["-1", "0", "0.05", "3601", "nan", "inf", "-inf", "abc", ""],
    "what": ["receipt", ""],
    "--printer": ["", "lpt1", "tcp:/127.0.0.1", "preview:", "tcp://printer\a:9100"],
    "--admission": ["", "12", "adm-1", "7d0c1e9a-0000-1000-8000-000000000001", "7d0c1e9a000040008000000000000001"],
    "--profile": ["", "TM-T20", "x" * 200],
    "name": NAMES,
    "--badge": ["", " ", "x" * 65, "a b"],
    "--date": ["", "2026-13-01", "08.12.2026", "2026-1-1", "tomorrow"],
    "--language": ["", "xx", "EN", "d e"],
}

# How each command is given when all is well; the argument under test replaces or joins these.
POSITIONALS = {"kiosk print": {"what": "ticket"}, "kiosk staff add": {"name": "Dana"},
               "kiosk staff remove": {"name": "Dana"}, "kiosk staff": {"ACTION": "list"}, "kiosk site": {"ACTION": "invite"},
               "kiosk site staff add": {"name": "Dana"}, "kiosk site staff remove": {"name": "Dana"},
               "kiosk site staff": {"ACTION": "list"}, "kiosk site report": {"REPORT": "waits"},
               "python -m kiosk.cli.deploy": {"command": "transport"}}
OPTIONS = {"kiosk print": {"--printer": "preview:prints", "--sample": None},
           "kiosk demo": {"--headless": None}, "kiosk sync": {"--once": None}, "kiosk read-card": {"--json": None}}


def argv_for(prog: str, name: str, value: str, config_file: str) -> list[str]:
    if prog == "kiosk":                           # options before the subcommand, or the subcommand itself
        return [value] if name == "COMMAND" else [name, value, "sync", "--once"]
    words = prog.split()[1:] if prog.startswith("kiosk") else []
    positionals = [value if n == name else v for n, v in POSITIONALS.get(prog, {}).items()]
    options = {**OPTIONS.get(prog, {}), "--config": config_file}
    if name.startswith("--"):
        options[name] = value
    # Options before the positionals: `kiosk staff --config FILE list` is staff's own --config.
    return words + [word for option, given in options.items() for word in (option, given) if word is not None] + positionals


def files_under(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


ARGUMENT_CASES = [(prog, name, value) for prog, name, _ in ARGUMENTS for value in BAD_ARGUMENTS.get(name, [None])]


def test_every_argument_that_takes_a_value_has_a_type_and_bad_values_here():
    for prog, name, action in ARGUMENTS:
        assert action.type is not None or action.choices, f"{prog} {name} takes any value"
        assert name in BAD_ARGUMENTS, f"{prog} {name} has no bad values in this test"


@pytest.mark.parametrize("prog,name,value", [c for c in ARGUMENT_CASES if c[2] is not None],
                         ids=lambda v: repr(v)[:40])
def test_every_argument_refuses_what_makes_no_sense_with_one_sentence_and_writes_nothing(
        capsys, monkeypatch, tmp_path, prog, name, value):
    work = tmp_path / "work"
    (work / "folder").mkdir(parents=True)
    (work / "file").write_text("a file\n", encoding="utf-8")
    config_file = work / "kiosk.toml"
    config_file.write_text(f'[kiosk]\ndata_dir = "{work / "data"}"\n', encoding="utf-8")
    monkeypatch.chdir(work)
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)
    before = files_under(work)
    value = value.format(folder=work / "folder", file=work / "file")
    argv = argv_for(prog, name, value, str(config_file))
    main = deploy.main if prog.startswith("python") else cli.main
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    assert (e.value.code, out) == (2, ""), (argv, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].endswith("."), err
    command = "kiosk.cli.deploy" if prog.startswith("python") else "kiosk"
    assert lines[0].startswith(f"{command}: {name} "), (argv, err)
    assert files_under(work) == before                # no store, no output folder, no print


def test_the_issues_example_through_the_console_script(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != config.CONFIG_ENV}
    result = subprocess.run([KIOSK, "read-card", "--wait", "-1"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("kiosk: --wait must be between 0.1 and 3600 seconds, not '-1' "
                             "(see kiosk read-card --help).\n")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["read-card", "--wait", "0.1"], ["read-card", "--wait", "3600"],
                                  ["print", "ticket", "--printer", "preview:p", "--admission",
                                   "7D0C1E9A-51B2-4C3D-9E8F-0A1B2C3D4E5F"],
                                  ["staff", "add", " Dana K. ", "--badge", "-", "--badge", "X110411675"],
                                  ["demo", "--out", "new/folder", "--patients", "patients.json"]])
def test_good_values_at_the_edges_are_taken(tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "patients.json").write_text("[]", encoding="utf-8")
    args = KIOSK_PARSER.parse_args(argv)
    if "--admission" in argv:
        assert args.admission == "7d0c1e9a-51b2-4c3d-9e8f-0a1b2c3d4e5f"     # as the store keeps it
    if "--wait" in argv:
        assert args.wait == float(argv[-1])
    assert not (tmp_path / "new").exists()            # checked, not made: the demo makes it when it writes
