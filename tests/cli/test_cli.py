"""kiosk/cli/: the ``kiosk`` command (docs/cli.md, the command-line contract), in-process and as the console script.

``kiosk run`` and ``kiosk demo`` start Kivy and are covered elsewhere; here they only show their help.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from kiosk import cli, config
from kiosk.checkin.model import Admission, Person
from kiosk.store import Store

KIOSK = str(Path(sys.executable).parent / "kiosk")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Each subcommand and words from its help that say what it is for.
SUBCOMMANDS = [
    ("run", "fullscreen"),
    ("demo", "simulated card reader"),
    ("read-card", "prints one JSON object"),
    ("print", "ticket"),
    ("sync", "hospital system"),
    ("doctor", "exit 0 only when all pass"),
    ("desk", "desk web page"),
    ("staff", "salted scrypt hashes"),
    ("site", "patients invited for an appointment"),
]


@pytest.fixture(autouse=True)
def no_config_env(monkeypatch):
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def config_file(tmp_path, data_dir):
    """A valid config whose store lives in tmp_path, so nothing is written to /var/lib/kiosk."""
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nid = "test-kiosk"\ndata_dir = "{data_dir}"\n', encoding="utf-8")
    return path


def run(capsys, *argv):
    """main() in-process; returns (exit code, stdout, stderr). A usage error ends in SystemExit, as argparse's do."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_sentence(err: str):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kiosk: ")
    assert lines[0].endswith(".")
    assert "Traceback" not in err


def test_top_help(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "admission kiosk" in out
    assert "--config" in out
    assert "Exit codes" in out
    for name, _ in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name,purpose", SUBCOMMANDS)
def test_subcommand_help(capsys, name, purpose):
    with pytest.raises(SystemExit) as e:
        cli.main([name, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: kiosk {name}" in out
    assert purpose in " ".join(out.split())
    assert "--config" in out
    assert "--debug" in out


def test_every_subcommand_has_help_text():
    subparsers = next(a for a in cli.parser.build()._actions if a.choices and a.dest == "command")
    names = {c.dest for c in subparsers._choices_actions}
    assert names == {name for name, _ in SUBCOMMANDS}
    for action in subparsers._choices_actions:
        assert len(action.help) >= 20, action.dest


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["frobnicate"])
    assert e.value.code == 2
    assert "frobnicate" in capsys.readouterr().err


def test_print_sample_ticket_to_preview(capsys, config_file, tmp_path):
    folder = tmp_path / "tickets"
    code, out, err = run(capsys, "print", "ticket", "--printer", f"preview:{folder}", "--sample",
                         "--config", config_file)
    assert code == 0, err
    pngs = list(folder.glob("*.png"))
    assert len(pngs) == 1
    assert pngs[0].read_bytes()[:8] == PNG_SIGNATURE
    assert "A-000" in out
    assert str(pngs[0]) in out


def test_print_relative_preview_folder_is_inside_data_dir(capsys, config_file, data_dir):
    code, _, err = run(capsys, "print", "ticket", "--printer", "preview:tickets", "--sample", "--config", config_file)
    assert code == 0, err
    pngs = list((data_dir / "tickets").glob("*.png"))
    assert len(pngs) == 1
    assert pngs[0].read_bytes()[:8] == PNG_SIGNATURE


def test_print_last_admission(capsys, config_file, data_dir, tmp_path, store_key):
    # The same file the kiosk opens (kiosk.store.opening.open_store): kiosk.db in data_dir.
    store = Store(data_dir / "kiosk.db", key=store_key, kiosk_id="test-kiosk")
    try:
        stored = store.save_admission(Admission(
            id="7d0c1e9a-0000-4000-8000-000000000001", kiosk_id="test-kiosk",
            created_at="2024-03-01T08:15:00+00:00", language="de", identified_by="card:egk",
            person=Person(family="Müller", given=("Jürgen",))), queue_prefix="B")
    finally:
        store.close()
    folder = tmp_path / "tickets"
    code, out, err = run(capsys, "print", "ticket", "--printer", f"preview:{folder}", "--config", config_file)
    assert code == 0, err
    assert stored.queue_number == "B-001"
    assert "B-001" in out
    pngs = list(folder.glob("*.png"))
    assert [p.name for p in pngs] == ["ticket-B-001-7d0c1e9a.png"]
    assert pngs[0].read_bytes()[:8] == PNG_SIGNATURE


def test_print_without_sample_and_empty_store_exits_2(capsys, config_file, tmp_path):
    folder = tmp_path / "tickets"
    code, out, err = run(capsys, "print", "ticket", "--printer", f"preview:{folder}", "--config", config_file)
    assert code == 2
    assert "--sample" in err
    assert_one_sentence(err)
    assert not folder.exists() or not list(folder.iterdir())


def test_print_with_a_data_dir_that_cannot_be_made_exits_2(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{blocker / "data"}"\n', encoding="utf-8")
    code, _, err = run(capsys, "print", "ticket", "--printer", f"preview:{tmp_path / 'tickets'}", "--config", path)
    assert code == 2
    assert "kiosk.data_dir" in err
    assert_one_sentence(err)


# A kiosk.db that is not an SQLite file raises sqlite3.DatabaseError when the store opens.
def test_print_with_a_store_that_is_not_a_database_exits_2(capsys, config_file, data_dir, tmp_path):
    data_dir.mkdir()
    (data_dir / "kiosk.db").write_bytes(b"this is a text file, not SQLite\n" * 200)
    code, _, err = run(capsys, "print", "ticket", "--printer", f"preview:{tmp_path / 'tickets'}",
                       "--config", config_file)
    assert code == 2
    assert "kiosk.db" in err or str(data_dir) in err
    assert_one_sentence(err)


def test_print_sample_wristband_to_preview(capsys, config_file, tmp_path):
    folder = tmp_path / "bands"
    code, out, err = run(capsys, "print", "wristband", "--printer", f"preview:{folder}", "--sample",
                         "--config", config_file)
    assert code == 0, err
    [png] = folder.glob("wristband-*.png")
    assert Image.open(png).size == (2200, 192) and str(png) in out


@pytest.mark.parametrize("uri", ["tcp:/127.0.0.1", "usb://04b8", "lpt1", "serial://", "cups://"])
def test_print_to_an_address_that_names_no_printer_exits_2(capsys, config_file, uri):
    code, out, err = run(capsys, "print", "ticket", "--printer", uri, "--sample", "--config", config_file)
    assert code == 2 and out == ""
    assert repr(uri) in err and "tcp://host:9100" in err
    assert_one_sentence(err)


def test_print_with_an_unknown_profile_exits_2(capsys, config_file):
    code, _, err = run(capsys, "print", "ticket", "--printer", "tcp://127.0.0.1:9", "--profile", "TM-T20",
                       "--sample", "--config", config_file)
    assert code == 2 and "'TM-T20'" in err and "TM-T20II" in err
    assert_one_sentence(err)


def test_print_needs_a_printer(capsys, config_file):
    with pytest.raises(SystemExit) as e:
        cli.main(["print", "ticket", "--sample", "--config", str(config_file)])
    assert e.value.code == 2
    assert "--printer" in capsys.readouterr().err


def test_sync_once_with_transport_none(capsys, config_file):
    code, out, err = run(capsys, "sync", "--once", "--config", config_file)
    assert code == 0, err
    assert "hospital.transport is none" in out
    assert err == ""


def test_sync_without_once_and_transport_none_exits_2(capsys, config_file):
    code, _, err = run(capsys, "sync", "--config", config_file)
    assert code == 2
    assert "hospital.transport is none" in err
    assert_one_sentence(err)


@pytest.mark.parametrize("text,key", [
    ('[kiosk]\ncolour = "blue"\n', "'kiosk.colour'"),
    ('printers = 2\n', "'printers'"),
    ('[reader]\nkind = "usb"\n', "'reader.kind'"),
    ('[hospital]\ntransport = "fhir"\nurl = "http://10.0.0.5/fhir"\n', "'hospital.url'"),
    ('[kiosk\n', "not valid TOML"),
])
def test_bad_config_exits_2_naming_the_key(capsys, tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "sync", "--once", "--config", path)
    assert code == 2
    assert out == ""
    assert key in err
    assert str(path) in err
    assert "Traceback" not in err
    assert err.startswith("kiosk: ")


def test_missing_config_file_exits_2(capsys, tmp_path):
    path = tmp_path / "nowhere.toml"
    code, out, err = run(capsys, "sync", "--once", "--config", path)
    assert (code, out) == (2, "")
    assert err.startswith(f"kiosk: --config names no file: there is no {path} ")
    assert_one_sentence(err)


def test_missing_config_file_from_the_environment_exits_2(capsys, monkeypatch, tmp_path):
    path = tmp_path / "nowhere.toml"
    monkeypatch.setenv(config.CONFIG_ENV, str(path))
    code, out, err = run(capsys, "sync", "--once")
    assert (code, out) == (2, "")
    assert f"The config file {path} does not exist" in err
    assert_one_sentence(err)


def test_config_from_environment_is_honoured(capsys, monkeypatch, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[kiosk]\ncolour = "blue"\n', encoding="utf-8")
    monkeypatch.setenv(config.CONFIG_ENV, str(path))
    code, _, err = run(capsys, "sync", "--once")
    assert code == 2
    assert "'kiosk.colour'" in err
    assert str(path) in err


def test_explicit_config_wins_over_environment(capsys, monkeypatch, tmp_path, config_file):
    monkeypatch.setenv(config.CONFIG_ENV, str(tmp_path / "nowhere.toml"))
    code, _, err = run(capsys, "sync", "--once", "--config", config_file)
    assert code == 0, err


# --config before the subcommand must not be overwritten by the subcommand's own default.
def test_config_before_the_subcommand_is_honoured(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[kiosk]\ncolour = "blue"\n', encoding="utf-8")
    code, _, err = run(capsys, "--config", path, "sync", "--once")
    assert code == 2
    assert "'kiosk.colour'" in err


def script_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != config.CONFIG_ENV}
    env.update(extra)
    return env


def test_console_script_help():
    result = subprocess.run([KIOSK, "--help"], capture_output=True, text=True, env=script_env(), timeout=60)
    assert result.returncode == 0
    assert "usage: kiosk" in result.stdout
    for name, _ in SUBCOMMANDS:
        assert name in result.stdout


def test_console_script_bad_config_exits_2_without_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[printer.ticket]\nwidth_mm = 80\n', encoding="utf-8")
    result = subprocess.run([KIOSK, "sync", "--once", "--config", str(path)], capture_output=True, text=True,
                            env=script_env(), timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "'printer.ticket.width_mm'" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_console_script_sync_once(config_file):
    result = subprocess.run([KIOSK, "sync", "--once", "--config", str(config_file)], capture_output=True,
                            text=True, env=script_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Nothing to deliver" in result.stdout


@pytest.mark.parametrize("order", [["sync", "--once", "--debug"], ["--debug", "sync", "--once"]],
                         ids=["after", "before"])
def test_console_script_debug_shows_the_stack_trace(tmp_path, order):
    # Run as a process: in-process, pytest's log capture would take the logged traceback.
    # --debug counts before the subcommand too: the subcommand's default must not overwrite it.
    path = tmp_path / "bad.toml"
    path.write_text('[kiosk]\ncolour = "blue"\n', encoding="utf-8")
    result = subprocess.run([KIOSK, *order, "--config", str(path)], capture_output=True,
                            text=True, env=script_env(), timeout=60)
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert "'kiosk.colour'" in result.stderr


def test_run_without_a_display_exits_3(capsys, monkeypatch, config_file):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, _, err = run(capsys, "run", "--config", config_file)
    assert code == 3 and "display" in err
    assert_one_sentence(err)


def test_run_with_a_printer_address_that_names_no_printer_exits_2(capsys, monkeypatch, tmp_path, data_dir):
    # Fails before any window opens: the config is checked first.
    monkeypatch.setenv("DISPLAY", ":99")
    path = tmp_path / "tcp.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{data_dir}"\n[printer.ticket]\nuri = "tcp//10.0.0.20:9100"\n',
                    encoding="utf-8")
    code, _, err = run(capsys, "run", "--config", path)
    assert code == 2 and "'printer.ticket.uri'" in err and "tcp://host:9100" in err


# --- kiosk staff ---------------------------------------------------------------------------------------

def staff_cmd(capsys, monkeypatch, config_file, *argv, stdin=""):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return run(capsys, "staff", *argv, "--config", config_file)


def test_the_kiosk_command_pauses_the_garbage_collector_only_until_the_command_runs(capsys, monkeypatch,
                                                                                    config_file):
    import gc

    from kiosk.__main__ import main
    monkeypatch.setattr(sys, "argv", ["kiosk", "staff", "list", "--config", str(config_file)])
    seen = []
    real = cli.staff.cmd_staff_list
    monkeypatch.setattr(cli.staff, "cmd_staff_list", lambda args: seen.append(gc.isenabled()) or real(args))
    try:
        assert main() == 0
        assert seen == [True] and gc.isenabled()
    finally:
        gc.enable()


def test_staff_are_added_from_stdin_listed_and_removed(capsys, monkeypatch, config_file, data_dir, store_key):
    code, out, err = staff_cmd(capsys, monkeypatch, config_file, "add", "Dana K.", "--badge", "X110411675",
                               stdin="482913\n")
    assert (code, err) == (0, "") and out == "Added Dana K. to the staff (1 badge(s)).\n"
    assert staff_cmd(capsys, monkeypatch, config_file, "add", "Mehmet", stdin="1234")[0] == 0
    code, out, _ = staff_cmd(capsys, monkeypatch, config_file, "list")
    assert (code, out) == (0, "Dana K.: 1 badge(s)\nMehmet: 0 badge(s)\n")
    code, out, _ = staff_cmd(capsys, monkeypatch, config_file, "list", "--json")
    assert json.loads(out) == [{"name": "Dana K.", "badges": 1, "locked_until": ""},
                               {"name": "Mehmet", "badges": 0, "locked_until": ""}]
    store = Store(data_dir / "kiosk.db", key=store_key)
    try:
        from kiosk.desk.staff import Staff
        assert Staff(store).sign_in("Dana K.", "482913", where="test") == "Dana K."
    finally:
        store.close()
    assert staff_cmd(capsys, monkeypatch, config_file, "remove", "Mehmet")[:2] == (0, "Removed Mehmet from the staff.\n")
    code, out, err = staff_cmd(capsys, monkeypatch, config_file, "remove", "Mehmet")
    assert (code, out) == (2, "")
    assert_one_sentence(err)
    assert staff_cmd(capsys, monkeypatch, config_file, "list")[1] == "Dana K.: 1 badge(s)\n"


@pytest.mark.parametrize("argv,stdin,words", [
    (["add", "Lea"], "98\n", "4 to 12 digits"),
    (["add", "Lea"], "", "4 to 12 digits"),
    (["add", "Lea"], "97 31\n", "4 to 12 digits"),
    (["add", " "], "1234\n", "name"),
    (["add", "Dana"], "5678\n", "already"),
])
def test_staff_add_with_bad_input_exits_2_with_one_sentence(capsys, monkeypatch, config_file, argv, stdin, words):
    assert staff_cmd(capsys, monkeypatch, config_file, "add", "Dana", stdin="1234\n")[0] == 0
    code, out, err = staff_cmd(capsys, monkeypatch, config_file, *argv, stdin=stdin)
    assert (code, out) == (2, "")
    assert_one_sentence(err)
    assert words in err and (not stdin.strip() or stdin.strip() not in err)


def test_badges_are_read_like_the_pin_and_stay_out_of_argv(capsys, monkeypatch, config_file, data_dir, store_key):
    code, out, err = staff_cmd(capsys, monkeypatch, config_file, "add", "Dana K.", "--badge", "-", "--badge", "-",
                               stdin="482913\nX110411675\n 56001012345 \n")
    assert (code, err) == (0, "") and out == "Added Dana K. to the staff (2 badge(s)).\n"
    assert "X110411675" not in out
    store = Store(data_dir / "kiosk.db", key=store_key)
    try:
        from kiosk.desk.staff import Staff
        assert Staff(store).members()[0]["badges"] == ["X110411675", "56001012345"]
        assert Staff(store).sign_in_badge("56001012345", where="test") == "Dana K."
    finally:
        store.close()
    code, out, err = staff_cmd(capsys, monkeypatch, config_file, "add", "Mehmet", "--badge", "-", stdin="1234\n")
    assert (code, out) == (2, "") and "No badge identifier" in err
    assert_one_sentence(err)


def test_a_pin_is_never_taken_from_the_command_line(capsys, config_file):
    with pytest.raises(SystemExit) as e:
        cli.main(["staff", "add", "Dana", "482913", "--config", str(config_file)])
    assert e.value.code == 2


def test_staff_list_of_an_empty_store(capsys, monkeypatch, config_file):
    assert staff_cmd(capsys, monkeypatch, config_file, "list")[:2] == (
        0, "There are no members of staff yet (kiosk staff add NAME).\n")
    assert json.loads(staff_cmd(capsys, monkeypatch, config_file, "list", "--json")[1]) == []


def at_a_terminal(config_file, typed: list[str]):
    """`kiosk staff add` in a process whose controlling terminal is a pseudo-terminal we type into."""
    import pty
    import select

    master, slave = pty.openpty()
    # setsid --ctty (util-linux): a session of its own whose controlling terminal is the pty on stdin.
    process = subprocess.Popen(["setsid", "--ctty", "--wait", KIOSK, "staff", "add", "Dana", "--config",
                                str(config_file)], stdin=slave, stdout=slave, stderr=slave, env=script_env())
    os.close(slave)
    output = b""
    try:
        for line in typed:
            while b"PIN" not in output.split(b"\n")[-1]:         # wait for the prompt, then type
                assert select.select([master], [], [], 30)[0], f"no PIN prompt: {output!r}"
                output += os.read(master, 1024)
            os.write(master, line.encode() + b"\n")
            output = output.rsplit(b"\n", 1)[0] + b"\n"
        while True:
            try:
                chunk = os.read(master, 1024)
            except OSError:                                       # EIO: the process closed the terminal
                break
            if not chunk:
                break
            output += chunk
        return process.wait(timeout=60), output.decode(errors="replace")
    finally:
        os.close(master)


def test_staff_add_at_a_terminal_asks_for_the_pin_twice_without_echo(config_file):
    code, output = at_a_terminal(config_file, ["482913", "482913"])
    assert code == 0, output
    assert "Added Dana to the staff" in output and "482913" not in output


def test_staff_add_at_a_terminal_refuses_two_different_pins(config_file):
    code, output = at_a_terminal(config_file, ["482913", "482914"])
    assert code == 2
    assert "The two PINs differ" in output and "48291" not in output
