"""`kiosk site serve` as IT runs it, its config's rules, and what it says when its database is not there."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests
from processes import stop

from kiosk import config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path, backend, api_token, **site) -> tuple:
    ports = {"patient_port": free_port(), "site_port": free_port()}
    values = {"public_url": "http://127.0.0.1:8044", "database_url": backend, "api_token_file": str(api_token),
              **ports, **site}
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[site]\n{lines}\n')
    return path, ports


def test_serve_answers_on_both_listeners_says_nothing_personal_and_stops_on_sigterm(tmp_path, backend, api_token,
                                                                                    invitation):
    path, ports = write_config(tmp_path, backend, api_token[0])
    service = subprocess.Popen([sys.executable, "-m", "kiosk", "site", "serve", "--config", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = service.stdout.readline()
        assert f"http://127.0.0.1:{ports['patient_port']}/" in first and f":{ports['site_port']}/" in first, \
            first + service.stderr.read()
        made = requests.post(f"http://127.0.0.1:{ports['site_port']}/api/v1/invitations", json=invitation(),
                             headers={"Authorization": f"Bearer {api_token[1]}"}, timeout=10)
        assert made.status_code == 201
        browser = requests.Session()
        page = browser.get(f"http://127.0.0.1:{ports['patient_port']}{urlsplit(made.json()['link']).path}", timeout=10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
        for day in ("1", "14"):
            browser.post(f"http://127.0.0.1:{ports['patient_port']}/checkin/birth-date",
                         data={"day": day, "month": "7", "year": "1980", "csrf_token": csrf}, timeout=10)
        service.send_signal(signal.SIGTERM)
        out, err = service.communicate(timeout=30)
    finally:
        stop(service)
    assert service.returncode == 0, err
    said = first + out + err
    token = urlsplit(made.json()["link"]).path.removeprefix("/p/")
    for personal in ("Yilmaz", "Ayse", "1980", "14.07", "ayse@example.org", "Cardiology", token):
        assert personal not in said
    assert made.json()["id"] in said           # the invitation by its id: "made", "a wrong date of birth"


@pytest.mark.parametrize("site, says", [
    ({"site_bind": "0.0.0.0"}, "'site.site_bind' is 0.0.0.0, which other machines can reach, but site.tls_cert"),
    ({"patient_bind": "0.0.0.0"}, "'site.patient_bind' is 0.0.0.0, which other machines can reach, but "
                                  "site.trusted_proxies is empty"),
    ({"database_url": "postgresql://kiosk:s3cret-pw@db.example/site"}, "'site.database_url' holds a password"),
    ({"database_url": "mysql://db.example/site"}, "'site.database_url' must be empty or postgresql://"),
    ({"public_url": "http://checkin.example"}, "'site.public_url' has 'http://checkin.example' without TLS"),
    ({"trusted_proxies": ["proxy.example"]}, "'site.trusted_proxies'"),
    ({"birth_date_tries": 1}, "'site.birth_date_tries'"),
])
def test_the_config_refuses_what_would_expose_the_service(tmp_path, site, says):
    path = tmp_path / "kiosk.toml"
    path.write_text("[site]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in site.items()) + "\n")
    with pytest.raises(config.ConfigError) as refused:
        config.load(path)
    assert says in str(refused.value) and "s3cret-pw" not in str(refused.value)


def test_a_database_that_cannot_be_reached_is_one_sentence(tmp_path, api_token):
    path, _ = write_config(tmp_path, f"postgresql://nobody@127.0.0.1:{free_port()}/site", api_token[0])
    done = subprocess.run([sys.executable, "-m", "kiosk", "site", "serve", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("kiosk: The site service's database (site.database_url) cannot be used:")


def test_an_embedded_database_with_another_key_is_refused(tmp_path, api_token):
    path, _ = write_config(tmp_path, "", api_token[0])
    made = subprocess.run([sys.executable, "-m", "kiosk", "site", "invite", "--config", str(path)],
                          input="{}", capture_output=True, text=True, timeout=60)
    assert made.returncode == 2                                 # refused before the database is opened
    (tmp_path / "data").mkdir(mode=0o700)
    (tmp_path / "data" / "site.db").write_bytes(b"\x01" * 4096)
    done = subprocess.run([sys.executable, "-m", "kiosk", "site", "serve", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "does not open with the key given" in done.stderr and "Traceback" not in done.stderr


def test_a_port_in_use_is_one_sentence(tmp_path, api_token):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        path, _ = write_config(tmp_path, "", api_token[0], patient_port=taken.getsockname()[1])
        done = subprocess.run([sys.executable, "-m", "kiosk", "site", "serve", "--config", str(path)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("kiosk: The site service cannot listen:")
    assert "Traceback" not in done.stderr
