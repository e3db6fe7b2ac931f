"""What the house style asks to hold everywhere: each fails when something new forgets it."""

import argparse
from pathlib import Path

import pytest

from kiosk import cli, config, screens
from kiosk.checkin.session import State
from kiosk.i18n import Catalogs, extract_messages

ROOT = Path(__file__).parent.parent
SOURCES = sorted((ROOT / "kiosk").rglob("*.py")) + sorted((ROOT / "kiosk").rglob("*.kv"))
MESSAGES = extract_messages(SOURCES)


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_every_flow_state_has_a_screen_module_and_kv(state):
    assert (screens.HERE / f"{state.value}.py").exists()
    assert (screens.HERE / f"{state.value}.kv").exists()
    source = (screens.HERE / f"{state.value}.py").read_text()
    assert "SCREEN = " in source, "each screen module names its class as SCREEN"


def test_every_config_field_has_a_default_and_a_description():
    rows = config.describe()
    assert len(rows) >= 10
    for key, default, description in rows:
        assert default is not None, key
        assert len(description) >= 20 and description.endswith("."), key


def test_messages_are_found():
    assert "Call staff" in MESSAGES and "Question {number} of {total}" in MESSAGES
    assert len(MESSAGES) > 40


@pytest.mark.parametrize("language", [lang for lang in config.SUPPORTED_LANGUAGES if lang != "en"])
def test_every_user_visible_message_is_translated(language):
    missing = Catalogs([language]).missing(language, MESSAGES)
    assert missing == []


def test_translations_keep_their_placeholders():
    catalogs = Catalogs(config.SUPPORTED_LANGUAGES)
    for language in config.SUPPORTED_LANGUAGES:
        for message in MESSAGES:
            for placeholder in ("{number}", "{total}", "{seconds}"):
                if placeholder in message:
                    assert placeholder in catalogs.gettext(language, message), (language, message)


def test_every_cli_command_has_help_text():
    top = cli.parser.build()
    [subs] = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(subs.choices) == {"run", "demo", "read-card", "print", "sync", "doctor", "desk", "staff", "site"}

    def check(subs, path):
        helps = {a.dest: a.help for a in subs._choices_actions}
        for name, parser in subs.choices.items():
            assert helps[name], f"{path}{name}"
            for action in parser._actions:
                assert action.help, f"{path}{name} {action.option_strings or action.dest}"
                if isinstance(action, argparse._SubParsersAction):      # staff add, site serve ...
                    check(action, f"{path}{name} ")
    check(subs, "")


@pytest.mark.parametrize("module", sorted((ROOT / "kiosk" / "checkin").glob("*.py")), ids=lambda p: p.stem)
def test_the_checkin_imports_no_gui_device_or_storage_library(module):
    source = module.read_text()
    for library in ("kivy", "smartcard", "escpos", "requests", "flask", "sqlite"):
        assert f"import {library}" not in source and f"from {library}" not in source


def test_config_reference_and_example_are_up_to_date():
    # `make docs` writes both from kiosk/config/.
    assert (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8") == config.reference_markdown()
    assert (ROOT / "deploy" / "kiosk.example.toml").read_text(encoding="utf-8") == config.example_toml()
    assert config.load(ROOT / "deploy" / "kiosk.example.toml") == config.Settings()


@pytest.mark.parametrize("language", [lang for lang in config.SUPPORTED_LANGUAGES if lang != "en"])
def test_catalogs_hold_no_message_the_code_no_longer_uses(language):
    from babel.messages.pofile import read_po
    with open(ROOT / "assets" / "locales" / language / "LC_MESSAGES" / "kiosk.po", "rb") as f:
        ids = {m.id for m in read_po(f) if m.id}
    assert ids - set(MESSAGES) == set()


def test_no_screen_renders_markup():
    """What the kiosk shows may come from a patient or the hospital (a name, a place, an answer): a Label with
    ``markup`` on would take ``[b]``, ``[color]`` or ``[ref]`` in it as formatting. None has it on."""
    import re
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sorted(screens.HERE.rglob("*.*")) if path.suffix in (".py", ".kv")
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\bmarkup\s*[:=]\s*(True|1)\b", line)]
    assert found == []
