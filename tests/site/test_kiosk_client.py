"""The kiosk's client of the site service's kiosk API (kiosk.hospital.site_client), against a real site service (SQLCipher
backend): a pre-check-in found by QR text, typed code or card, marked arrived through the outbox, and every
way of finding nothing."""

from __future__ import annotations

import socket
from datetime import datetime

import pytest
from precheckin import finished_precheck

from kiosk import config
from kiosk.checkin.model import Admission, Identifier, Person
from kiosk.hospital import outbox
from kiosk.hospital.site_client import SiteArrivals, SiteClient
from kiosk.site import invitations, precheck
from kiosk.store import OutboxStatus, Store

KVNR = Identifier("http://fhir.de/sid/gkv/kvid-10", "A123456780")


@pytest.fixture
def backend():
    return ""            # the embedded file: the API is the same on both backends (tests/site/)


@pytest.fixture
def pre_checked(serve, invitation):
    """(service, arrival code, invitation id) of a patient with a card number who finished their pages."""
    service = serve()
    body = invitation(patient={**invitation()["patient"], "identifier": [{"system": KVNR.system, "value": KVNR.value}]})
    return (service, *finished_precheck(service, body))


def client_of(service, secret, **kw) -> SiteClient:
    return SiteClient(service.api.url, secret, **kw)


def test_found_by_the_qr_text_or_the_typed_code(pre_checked, site_secret):
    service, code, invitation_id = pre_checked
    client = client_of(service, site_secret[1])
    for sent in (precheck.qr_text("site-1", code), precheck.shown_code(code).lower()):
        found = client.find_by_code(sent)
        assert found.reason == "" and found.arrival.id == invitation_id
    arrival = found.arrival
    assert (arrival.given, arrival.family_initial, arrival.location) == ("Ayse", "Y", "Cardiology, building B")
    assert arrival.appointment_id == "appt-1" and arrival.appointment_start.endswith("09:30:00" + arrival.appointment_start[19:])
    assert arrival.person.family == "Yilmaz" and arrival.person.phone == "0171 2222222"
    assert arrival.person.identifiers == (KVNR,) and arrival.patient_entered == ("address", "phone")
    assert arrival.answers == {"reason": "appointment"} and arrival.form.endswith("intake-basic")
    assert arrival.consent == "accepted" and arrival.consent_text_id == "0123456789abcdef"
    assert arrival.consent_signature.startswith(b"\x89PNG")


def test_found_by_the_card_on_the_appointment_day_only(pre_checked, site_secret):
    service, _, invitation_id = pre_checked
    start = invitations.find(service.site, invitation_id=invitation_id).start
    midnight = int(datetime.combine(start.date(), datetime.min.time()).astimezone().timestamp())
    client = client_of(service, site_secret[1])
    assert client.find_by_card(KVNR, midnight, midnight + 86400).arrival.id == invitation_id
    assert client.find_by_card(KVNR, midnight - 86400, midnight).reason == "unknown"
    assert client.find_by_card(Identifier(KVNR.system, "B999999990"), midnight, midnight + 86400).reason == "unknown"


@pytest.mark.parametrize("sent, reason", [("KIOSK1:other-site:ABCDEFGHJK", "other_site"), ("ABCDE-FGHJK", "unknown")])
def test_codes_that_find_nothing_say_why(pre_checked, site_secret, sent, reason):
    service, _, _ = pre_checked
    found = client_of(service, site_secret[1]).find_by_code(sent)
    assert found.arrival is None and found.reason == reason


def test_a_wrong_secret_is_refused_and_nothing_found(pre_checked):
    service, code, _ = pre_checked
    found = client_of(service, "nope-" * 8).find_by_code(code)
    assert found.arrival is None and found.reason == "refused"


def test_an_unreachable_service_is_said_as_such():
    with socket.socket() as s:                 # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = SiteClient(f"http://127.0.0.1:{port}", "x" * 32, timeout_s=1)
    assert client.find_by_code("ABCDE-FGHJK").reason == "unreachable"
    assert client.arrived("9f0c1d2e3a4b5c6d", "lobby-1", "adm-1").kind == "retry"


def test_marked_arrived_once_through_the_outbox(pre_checked, site_secret, make_settings, tmp_path):
    """The admission's outbox row for ``site`` marks the pre-check-in arrived; a second admission of the same
    pre-check-in (someone else with the code) is set aside with an incident for staff."""
    service, code, invitation_id = pre_checked
    settings = make_settings().replace(site=config.SiteSettings(url=service.api.url),
                                       kiosk=config.KioskSettings(id="lobby-1"))
    store = Store(tmp_path / "kiosk.db", kiosk_id="lobby-1")
    person = Person("Yilmaz", ("Ayse",))
    for n in (1, 2):
        store.save_admission(Admission(f"adm-{n}", "lobby-1", "2026-12-08T08:00:00+00:00", "de", "precheck", person,
                                       precheck_id=invitation_id), destinations=("site",))
    transport = SiteArrivals(settings)
    progress = outbox.Sync(store, transport).run_once()
    assert (progress.delivered, progress.dead) == (1, 1)
    rows = {r["admission_id"]: r for r in store.outbox()}
    assert rows["adm-1"]["status"] == OutboxStatus.DELIVERED and rows["adm-2"]["status"] == OutboxStatus.DEAD
    assert [i["detail"] for i in store.incidents()] == ["site:precheck_arrived"]
    assert client_of(service, site_secret[1]).find_by_code(code).reason == "arrived"
    assert transport.client.arrived(invitation_id, "lobby-1", "adm-1").kind == "delivered"    # a retry: the same
    transport.close()
    store.close()
