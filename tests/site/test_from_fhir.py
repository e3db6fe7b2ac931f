"""`kiosk site invite --from-fhir --date D` against a real FHIR server (SEKMET on 127.0.0.1): one invitation
per booked Appointment of the day, with its patient and place; the rest left out; a second run invites no
one twice; an unreachable server is exit 9."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from fhirserver import FhirServer

DAY = "2030-05-06"


@pytest.fixture(scope="module")
def server():
    with FhirServer() as fhir:
        ayse = fhir.create({"resourceType": "Patient", "name": [{"family": "Yilmaz", "given": ["Ayse"]}],
                            "birthDate": "1980-07-14", "telecom": [{"system": "email", "value": "ayse@example.org"}],
                            "communication": [{"language": {"coding": [{"code": "tr"}]}, "preferred": True}]})
        jean = fhir.create({"resourceType": "Patient", "name": [{"family": "Dupont", "given": ["Jean"]}],
                            "birthDate": "1975-01-02"})
        unborn = fhir.create({"resourceType": "Patient", "name": [{"family": "X"}]})        # no birth date

        def appointment(patient, start, status="booked", **more):
            return fhir.create({"resourceType": "Appointment", "status": status, "start": start,
                                "end": start.replace(":00+", ":30+", 1),
                                "participant": [{"actor": {"reference": f"Patient/{patient['id']}"}, "status": "accepted"},
                                                *more.pop("extra", [])], **more})
        appointment(ayse, f"{DAY}T09:30:00+02:00",
                    extra=[{"actor": {"reference": "Location/1", "display": "Cardiology, building B"}, "status": "accepted"}])
        appointment(jean, f"{DAY}T11:00:00+02:00", serviceType=[{"text": "Blood tests"}])
        appointment(jean, f"{DAY}T15:00:00+02:00", status="cancelled")
        appointment(jean, "2030-05-07T09:00:00+02:00")
        appointment(unborn, f"{DAY}T16:00:00+02:00", description="Check-up")
        yield fhir


def run(tmp_path, backend, url, *args):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[hospital]\ntransport = "fhir"\nurl = "{url}"\n'
                      f'[site]\npublic_url = "https://checkin.example"\ndatabase_url = "{backend}"\n')
    return subprocess.run([sys.executable, "-m", "kiosk", "site", "invite", "--config", str(config), "--from-fhir",
                           *args], capture_output=True, text=True, timeout=120)


def test_one_invitation_per_booked_appointment_of_the_day(tmp_path, backend, server):
    done = run(tmp_path, backend, server.base, "--date", DAY, "--json")
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    made = [r for r in rows if "link" in r]
    assert len(made) == 2 and all(r["link"].startswith("https://checkin.example/p/") for r in made)
    [failed] = [r for r in rows if "error" in r]
    assert "birthDate" in failed["error"]
    assert done.returncode == 2 and "1 of 3 appointments of 2030-05-06 could not be invited" in done.stderr
    for private in ("Yilmaz", "Dupont", "1980", "ayse@"):
        assert private not in done.stdout + done.stderr
    from kiosk import config as kconfig
    from kiosk.site import invitations
    from kiosk.site.db import open_site_db
    settings = kconfig.load(tmp_path / "kiosk.toml")
    site = open_site_db(settings)
    try:
        stored = {r["appointment"]: invitations.find(site, invitation_id=r["id"]) for r in made}
    finally:
        site.dispose()
    places = sorted((s.location, s.language, s.start.isoformat()) for s in stored.values())
    assert places == [("Blood tests", "de", f"{DAY}T11:00:00+02:00"), ("Cardiology, building B", "tr", f"{DAY}T09:30:00+02:00")]
    again = run(tmp_path, backend, server.base, "--date", DAY, "--json")
    assert sum(json.loads(line).get("invited_before", False) for line in again.stdout.splitlines()) == 2


def test_an_unreachable_server_is_exit_9_and_a_bad_date_exit_2(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/fhir"
    done = run(tmp_path, "", url, "--date", DAY)
    assert done.returncode == 9 and done.stderr.startswith("kiosk: The hospital's FHIR server did not give")
    bad = run(tmp_path, "", url, "--date", "06.05.2030")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
