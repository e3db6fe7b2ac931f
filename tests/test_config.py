"""kiosk/config/: the typed settings schema and the TOML file it reads (docs/cli.md, configuration keys scripts rely on)."""

import dataclasses
from pathlib import Path

import pytest

from kiosk import config

# The keys that IT scripts and other tools rely on (docs/cli.md, "Configuration keys that scripts rely on").
DESIGN_KEYS = [
    "kiosk.id",
    "kiosk.data_dir",
    "kiosk.languages",
    "reader.kind",
    "reader.names",
    "printer.ticket.uri",
    "printer.ticket.profile",
    "hospital.transport",
    "hospital.url",
]

# Every key set, in the shape of the docs/cli.md example; whole numbers where floats belong.
FULL_TOML = """
[kiosk]
id = "lobby-2"
data_dir = "/srv/kiosk"
languages = ["en", "de"]
queue_prefix = "B"
idle_timeout_s = 90
idle_warning_s = 10.5
done_timeout_s = 30

[reader]
kind = "simulated"
names = ["REINER SCT", "Cherry"]

[printer.ticket]
uri = "tcp://10.0.0.20:9100"
profile = "TM-T20II"

[hospital]
transport = "fhir"
url = "https://his.example/fhir"
timeout_s = 5

[forms]
intake = "intake-basic"
"""


@pytest.fixture(autouse=True)
def no_config_env(monkeypatch):
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def lookup(settings: config.Settings, dotted: str):
    value = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def test_defaults_load_without_a_file():
    settings = config.load(None)
    assert settings == config.Settings()
    assert settings.kiosk.id == "lobby-1"
    assert settings.kiosk.data_dir == "/var/lib/kiosk"
    assert settings.data_path == Path("/var/lib/kiosk")
    assert settings.reader.kind == "pcsc"
    assert settings.hospital.transport == "none"
    assert settings.kiosk.languages == config.SUPPORTED_LANGUAGES


def flatten(values: dict, prefix: str = "") -> dict:
    out = {}
    for name, value in values.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def test_describe_lists_every_field_with_its_default():
    settings = config.Settings()
    rows = config.describe()
    keys = [key for key, _, _ in rows]
    assert len(keys) == len(set(keys))
    # Every leaf of the settings, found without describe(), is described, with the same default.
    assert flatten(dataclasses.asdict(settings)) == {key: default for key, default, _ in rows}
    for key, default, _ in rows:
        assert lookup(settings, key) == default, key


@pytest.mark.parametrize("key,default,description", config.describe())
def test_every_field_has_a_description_with_its_unit(key, default, description):
    assert len(description) >= 20, key
    # Every description ends with its unit or its allowed values in parentheses, e.g. "(seconds)."
    assert description.endswith(")."), key
    assert "(" in description


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_design_keys_exist(key):
    assert key in {k for k, _, _ in config.describe()}
    lookup(config.Settings(), key)


def test_full_file_is_read_with_the_right_types(tmp_path):
    settings = config.load(write(tmp_path, FULL_TOML))
    assert settings.kiosk.id == "lobby-2"
    assert settings.kiosk.data_dir == "/srv/kiosk"
    assert settings.data_path == Path("/srv/kiosk")
    assert settings.kiosk.languages == ("en", "de")
    assert isinstance(settings.kiosk.languages, tuple)
    assert settings.kiosk.queue_prefix == "B"
    assert settings.kiosk.idle_timeout_s == 90.0
    assert isinstance(settings.kiosk.idle_timeout_s, float)
    assert settings.kiosk.idle_warning_s == 10.5
    assert isinstance(settings.kiosk.done_timeout_s, float)
    assert settings.reader.kind == "simulated"
    assert settings.reader.names == ("REINER SCT", "Cherry")
    assert isinstance(settings.reader.names, tuple)
    assert settings.printer.ticket.uri == "tcp://10.0.0.20:9100"
    assert settings.printer.ticket.profile == "TM-T20II"
    assert settings.hospital.transport == "fhir"
    assert settings.hospital.url == "https://his.example/fhir"
    assert settings.hospital.timeout_s == 5.0
    assert isinstance(settings.hospital.timeout_s, float)
    assert settings.forms.intake == "intake-basic"


def test_partial_file_keeps_the_other_defaults(tmp_path):
    settings = config.load(write(tmp_path, '[kiosk]\nid = "ward-3"\n'))
    assert settings.kiosk.id == "ward-3"
    assert settings.kiosk.data_dir == "/var/lib/kiosk"
    assert settings.reader == config.ReaderSettings()
    assert settings.hospital == config.HospitalSettings()


def test_empty_file_gives_the_defaults(tmp_path):
    assert config.load(write(tmp_path, "")) == config.Settings()


@pytest.mark.parametrize("text,key", [
    # unknown key at the top level
    ('colour = "blue"\n', "'colour'"),
    # unknown section
    ('[scanners]\nkind = "pcsc"\n', "'scanners'"),
    # unknown key in a section
    ('[kiosk]\nname = "lobby-1"\n', "'kiosk.name'"),
    ('[printer.ticket]\nuri = "preview:t"\nwidth_mm = 80\n', "'printer.ticket.width_mm'"),
    # wrong types
    ('[kiosk]\nidle_timeout_s = "60"\n', "'kiosk.idle_timeout_s'"),
    ('[kiosk]\nidle_timeout_s = true\n', "'kiosk.idle_timeout_s'"),
    ('[kiosk]\nid = 7\n', "'kiosk.id'"),
    ('[kiosk]\nlanguages = "de"\n', "'kiosk.languages'"),
    ('[reader]\nnames = [1, 2]\n', "'reader.names'"),
    # a table where a value belongs
    ('[kiosk]\nid = { name = "lobby-1" }\n', "'kiosk.id'"),
    ('[kiosk.data_dir]\npath = "/srv"\n', "'kiosk.data_dir'"),
    # a value where a section belongs
    ('kiosk = "lobby-1"\n', "'kiosk'"),
    ('[printer]\nticket = "tcp://10.0.0.20:9100"\n', "'printer.ticket'"),
    # bad choice
    ('[reader]\nkind = "usb"\n', "'reader.kind'"),
    ('[hospital]\ntransport = "email"\n', "'hospital.transport'"),
    # unknown language, no language
    ('[kiosk]\nlanguages = ["de", "xx"]\n', "'kiosk.languages'"),
    ('[kiosk]\nlanguages = []\n', "'kiosk.languages'"),
    # out of range
    ('[kiosk]\nidle_timeout_s = 0\n', "'kiosk.idle_timeout_s'"),
    ('[kiosk]\ndone_timeout_s = -5\n', "'kiosk.done_timeout_s'"),
    ('[hospital]\ntimeout_s = 0.0\n', "'hospital.timeout_s'"),
])
def test_bad_settings_raise_an_error_naming_the_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(config.ConfigError) as e:
        config.load(path)
    message = str(e.value)
    assert key in message
    assert str(path) in message
    assert "\n" not in message


@pytest.mark.parametrize("text,words", [
    ('[reader]\nkind = "usb"\n', ["pcsc", "simulated", "'usb'"]),
    ('[kiosk]\nlanguages = ["de", "xx"]\n', ["xx", "de, en, tr, fr"]),
    ('[kiosk]\nidle_timeout_s = 0\n', ["between 10 and 3600 seconds", "not 0."]),
    ('[kiosk]\nidle_timeout_s = "60"\n', ["a number", "'60'"]),
    ('kiosk = "lobby-1"\n', ["section", "[kiosk]"]),
    ('[site]\nurl = "http://site.example:8045"\n', ["site.url", "without TLS", "https://"]),
    ('[site]\nurl = "https://site.example:8045"\n', ["'site.url' is set", "desk.peer_secret_file"]),
])
def test_error_messages_say_what_is_wrong(tmp_path, text, words):
    with pytest.raises(config.ConfigError) as e:
        config.load(write(tmp_path, text))
    for word in words:
        assert word in str(e.value)


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, '[kiosk\nid = "lobby-1"\n')
    with pytest.raises(config.ConfigError) as e:
        config.load(path)
    assert str(path) in str(e.value)
    assert "not valid TOML" in str(e.value)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere" / "kiosk.toml"
    with pytest.raises(config.ConfigError) as e:
        config.load(path)
    assert str(path) in str(e.value)
    assert "does not exist" in str(e.value)


def test_config_error_is_a_value_error():
    assert issubclass(config.ConfigError, ValueError)


@pytest.mark.parametrize("transport,url", [
    ("fhir", "http://127.0.0.1:8080/fhir"),
    ("fhir", "http://localhost/fhir"),
    ("fhir", "http://[::1]:8080/fhir"),
    ("fhir", "https://his.example/fhir"),
    ("fhir", "https://10.0.0.5/fhir"),
    ("hl7v2", "mllp://127.0.0.1:2575"),
    ("hl7v2", "mllps://10.1.1.1:2575"),
    ("folder", "file:///var/spool/his"),
    ("none", ""),
])
def test_hospital_urls_accepted(tmp_path, transport, url):
    settings = config.load(write(tmp_path, f'[hospital]\ntransport = "{transport}"\nurl = "{url}"\n'))
    assert settings.hospital.transport == transport
    assert settings.hospital.url == url


@pytest.mark.parametrize("transport,url,words", [
    # plain http and MLLP without TLS only to loopback
    ("fhir", "http://10.0.0.5/fhir", ["TLS", "https://"]),
    ("fhir", "http://his.example/fhir", ["TLS", "his.example"]),
    ("fhir", "http://127.0.0.1.his.example/fhir", ["TLS"]),
    ("hl7v2", "mllp://10.1.1.1:2575", ["TLS", "mllps://"]),
    # a transport without its url
    ("fhir", "", ["must be set"]),
    ("hl7v2", "", ["must be set"]),
    ("folder", "", ["must be set"]),
    # the wrong scheme for the transport
    ("fhir", "mllp://127.0.0.1:2575", ["https://"]),
    ("hl7v2", "https://his.example/fhir", ["mllps://"]),
    ("folder", "https://his.example/fhir", ["file://"]),
    ("fhir", "file:///var/spool/his", ["https://"]),
])
def test_hospital_urls_rejected(tmp_path, transport, url, words):
    path = write(tmp_path, f'[hospital]\ntransport = "{transport}"\nurl = "{url}"\n')
    with pytest.raises(config.ConfigError) as e:
        config.load(path)
    message = str(e.value)
    assert "'hospital.url'" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True),
    ("127.1.2.3", True),
    ("::1", True),
    ("localhost", True),
    ("10.0.0.5", False),
    ("his.example", False),
    ("", False),
    (None, False),
])
def test_is_loopback(host, loopback):
    assert config.is_loopback(host) is loopback


def test_config_path_explicit_wins(tmp_path, monkeypatch):
    monkeypatch.setenv(config.CONFIG_ENV, str(tmp_path / "from-env.toml"))
    assert config.config_path(tmp_path / "given.toml") == tmp_path / "given.toml"
    assert config.config_path(str(tmp_path / "given.toml")) == tmp_path / "given.toml"


def test_config_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(config.CONFIG_ENV, str(tmp_path / "from-env.toml"))
    assert config.config_path(None) == tmp_path / "from-env.toml"


def test_config_path_default():
    if config.DEFAULT_CONFIG_PATH.exists():
        assert config.config_path(None) == config.DEFAULT_CONFIG_PATH
    else:
        assert config.config_path(None) is None


def test_config_path_from_environment_is_loaded(tmp_path, monkeypatch):
    path = write(tmp_path, '[kiosk]\nid = "from-env"\n')
    monkeypatch.setenv(config.CONFIG_ENV, str(path))
    assert config.load(config.config_path(None)).kiosk.id == "from-env"


def test_settings_are_frozen():
    settings = config.load(None)
    with pytest.raises(AttributeError):
        settings.kiosk.id = "other"  # type: ignore[misc]


def test_replace_swaps_whole_sections():
    settings = config.Settings()
    changed = settings.replace(reader=config.ReaderSettings(kind="simulated"))
    assert changed.reader.kind == "simulated"
    assert changed.kiosk == settings.kiosk
    assert settings.reader.kind == "pcsc"


@pytest.mark.parametrize("form", ["intake-general", "phq-9"])
def test_the_shipped_forms_can_be_chosen(tmp_path, form):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[forms]\nintake = "{form}"\n', encoding="utf-8")
    assert config.load(path).forms.intake == form
