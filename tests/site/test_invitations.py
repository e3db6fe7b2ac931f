"""The invitation API on the site listener and `kiosk site invite`, on both backends: who may call it, what it
makes, what it refuses, and that the database keeps no token."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from kiosk.site import invitations
from kiosk.site.schema import invitations as table


def post(service, token, payload, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{service.api.url}/api/v1/invitations", json=payload, headers=headers, timeout=10, **kw)


def test_an_invitation_gives_a_link_whose_token_is_kept_only_hashed(serve, make_settings, api_token, invitation):
    service = serve(make_settings(public_url="https://checkin.hospital.example/"))
    answer = post(service, api_token[1], invitation())
    assert answer.status_code == 201, answer.text
    made = answer.json()
    parts = urlsplit(made["link"])
    assert (parts.scheme, parts.netloc) == ("https", "checkin.hospital.example")
    token = parts.path.removeprefix("/p/")
    assert len(token) >= 32                          # 24 random bytes, URL-safe base64: 192 bits
    assert made["expires"].endswith(made["expires"][-6:]) and made["expires"][11:19] == "00:00:00"
    with service.site.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(table)).mappings()]
    assert len(rows) == 1 and rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(rows)


@pytest.mark.parametrize("header", ["", "Bearer ", "Bearer wrong-token-of-some-length-000000000000", "Basic abc"])
def test_the_api_wants_its_bearer_token(serve, invitation, header):
    service = serve()
    answer = requests.post(f"{service.api.url}/api/v1/invitations", json=invitation(), timeout=10,
                           headers={"Authorization": header} if header else {})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert "bearer token" in answer.json()["error"]


def test_one_invitation_per_appointment_unless_replaced(serve, api_token, invitation):
    service = serve()
    first = post(service, api_token[1], invitation()).json()
    again = post(service, api_token[1], invitation())
    assert again.status_code == 409 and "replace" in again.json()["error"]
    second = post(service, api_token[1], invitation(replace=True))
    assert second.status_code == 201
    old = requests.get(service.patient.url + urlsplit(first["link"]).path, timeout=10, allow_redirects=False)
    new = requests.get(service.patient.url + urlsplit(second.json()["link"]).path, timeout=10, allow_redirects=False)
    assert (old.status_code, new.status_code) == (404, 303)


@pytest.mark.parametrize("change, says", [
    ({"appointment": {"id": "a", "start": "2026-12-08T09:30:00", "location": "x"}}, "UTC offset"),
    ({"appointment": {"id": "a", "start": "2020-01-01T09:30:00+01:00", "location": "x"}}, "day is over"),
    ({"appointment": {"id": "", "start": "2030-01-01T09:30:00+01:00", "location": "x"}}, "appointment.id"),
    ({"appointment": {"id": "a", "start": "2030-01-01T09:30:00+01:00", "location": "x\ny"}}, "one line"),
    ({"patient": {"resourceType": "Person"}}, "FHIR Patient"),
    ({"patient": {"resourceType": "Patient", "name": [{"family": "X"}], "birthDate": "1980-07"}}, "full date"),
    ({"patient": {"resourceType": "Patient", "name": [{"family": "X"}], "birthDate": "2999-01-01"}}, "in the past"),
    ({"patient": {"resourceType": "Patient", "birthDate": "1980-07-14"}}, "patient.name"),
    ({"patient": {"resourceType": "Patient", "name": [{"family": "X"}], "birthDate": "1980-07-14",
                  "telecom": [{"system": "fax", "value": "1"}]}}, "telecom"),
    ({"language": "xx"}, "language must be one of de, en, tr, fr"),
    ({"replace": "yes"}, "replace must be true or false"),
    ({"extra": 1}, "Unknown field 'extra'"),
])
def test_a_bad_invitation_is_refused_with_a_sentence(serve, api_token, invitation, change, says):
    service = serve()
    answer = post(service, api_token[1], invitation(**change))
    assert answer.status_code == 400 and says in answer.json()["error"]
    with service.site.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


@pytest.mark.parametrize("data, headers, status", [
    ("not json", {"Content-Type": "application/json"}, 400),
    ('{"appointment": ', {"Content-Type": "application/json"}, 400),
    ("[]", {"Content-Type": "application/json"}, 400),
    ('{"a": 1}', {"Content-Type": "text/plain"}, 400),
    ("{" + " " * (70 * 1024) + "}", {"Content-Type": "application/json"}, 413),
])
def test_malformed_and_oversized_bodies(serve, api_token, data, headers, status):
    service = serve()
    answer = requests.post(f"{service.api.url}/api/v1/invitations", data=data, timeout=10,
                           headers={"Authorization": f"Bearer {api_token[1]}", **headers})
    assert answer.status_code == status and answer.json()["error"]


def test_the_api_is_not_on_the_patient_listener_nor_the_pages_on_the_site_listener(serve, api_token, invitation):
    service = serve()
    on_patient = requests.post(f"{service.patient.url}/api/v1/invitations", json=invitation(), timeout=10,
                               headers={"Authorization": f"Bearer {api_token[1]}"})
    assert on_patient.status_code in (404, 405)
    link = post(service, api_token[1], invitation()).json()["link"]
    on_site = requests.get(service.api.url + urlsplit(link).path, timeout=10, allow_redirects=False,
                           headers={"Authorization": f"Bearer {api_token[1]}"})
    assert on_site.status_code == 404


def test_a_link_ends_with_its_day_and_is_then_deleted(serve, invitation):
    service = serve()
    request = invitations.parse_request(invitation(), default_language="de")
    token, made = invitations.create(service.site, request)
    assert invitations.find(service.site, token=token) == made
    after = request.expires.timestamp()
    assert invitations.find(service.site, token=token, now=after) is None
    assert invitations.wipe_expired(service.site, now=after - 1) == 0
    assert invitations.wipe_expired(service.site, now=after) == 1
    assert invitations.find(service.site, invitation_id=made.id, now=after - 60) is None


def kiosk(settings_file, *args, stdin=""):
    return subprocess.run([sys.executable, "-m", "kiosk", "site", "invite", "--config", str(settings_file), *args],
                          input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture
def config_file(tmp_path, backend):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[site]\npublic_url = "https://checkin.example"\n'
                    f'database_url = "{backend}"\n')
    return path


def test_kiosk_site_invite_reads_the_body_on_stdin(config_file, invitation):
    done = kiosk(config_file, "--json", stdin=json.dumps(invitation()))
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made["link"].startswith("https://checkin.example/p/") and set(made) == {"id", "link", "expires", "emailed"}
    again = kiosk(config_file, stdin=json.dumps(invitation()))
    assert again.returncode == 2 and "give --replace" in again.stderr and "Traceback" not in again.stderr
    replaced = kiosk(config_file, "--replace", stdin=json.dumps(invitation()))
    assert replaced.returncode == 0 and replaced.stdout.startswith("https://checkin.example/p/")
    assert "The link works until" in replaced.stdout
    bad = kiosk(config_file, stdin="{")
    assert bad.returncode == 2 and bad.stderr.startswith("kiosk: Standard input is not JSON")
    assert "Yilmaz" not in done.stderr + again.stderr + replaced.stderr
