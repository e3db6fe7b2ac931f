"""A pre-checked patient at the real app (tests/ui/ui_arrival.py in a process of its own, offscreen), with a
real site service (SQLCipher) in this process: the QR code of a finished pre-check-in scanned by the
simulated scanner, "Is this you?", one touch, the ticket, the admission stored with the answers and consent
from home, the site service told; then a used code, another site's and the service away, each a sentence
and the kiosk's own check-in."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
import uirun
from precheckin import SIGNATURE, finished_precheck

from kiosk import config
from kiosk.i18n import format_appointment
from kiosk.site import invitations, precheck
from kiosk.site.schema import tickets as site_tickets

TOMORROW = (datetime.now().astimezone() + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    from kiosk.site.db import open_site_db
    from kiosk.site.server import SiteService
    folder = tmp_path_factory.mktemp("site")
    secret = folder / "site.secret"
    secret.write_text(secrets.token_hex(32) + "\n")
    secret.chmod(0o600)
    settings = config.Settings().replace(
        kiosk=config.KioskSettings(data_dir=str(folder / "data")),
        site=config.SiteSettings(public_url="http://127.0.0.1:8044", patient_port=0, site_port=0),
        desk=config.DeskSettings(peer_secret_file=str(secret)))
    service = SiteService(open_site_db(settings), settings).start()
    try:
        body = {"appointment": {"id": "appt-1", "start": TOMORROW.isoformat(), "location": "Kardiologie, Haus B"},
                "patient": {"resourceType": "Patient", "name": [{"family": "Yilmaz", "given": ["Ayse"]}],
                            "birthDate": "1980-07-14"}, "language": "de"}
        code, invitation_id = finished_precheck(service, body)
        out = tmp_path_factory.mktemp("arrival")
        run, [results] = uirun.run("ui_arrival.py", out, service.api.url, secret, precheck.qr_text("site-1", code))
        with service.site.engine.connect() as conn:
            listed = [r._asdict() for r in conn.execute(sa.select(site_tickets))]
        yield results, invitations.find(service.site, invitation_id=invitation_id), invitation_id, out, listed
    finally:
        service.stop()


def test_scan_is_this_you_one_touch_and_the_ticket(walked):
    results, _, _, out, _ = walked
    first = results["arrived"]
    assert first["state"] == "arrival" and first["language"] == "de"
    assert "Sind Sie das?" in first["texts"] and "Ayse Y." in first["texts"]
    # Tomorrow's appointment (a patient who came a day early): its day is said too.
    assert f"{format_appointment(TOMORROW, 'de')} · Kardiologie, Haus B" in first["texts"]
    assert first["layout"] == []                       # at larger text, in German
    assert first["print_status"] == "printed" and (out / "data").exists() and first["ticket"].endswith(".png")
    assert any("Sie sind angemeldet" in t or t.startswith("A-") for t in first["done_texts"])


def test_the_admission_carries_the_pre_check_in(walked):
    results, _, invitation_id, _, _ = walked
    admission = results["arrived"]["admission"]
    assert admission["precheck_id"] == invitation_id and admission["identified_by"] == "precheck"
    assert admission["appointment_id"] == "appt-1" and admission["patient"]["name"][0]["family"] == "Yilmaz"
    assert admission["patient_entered"] == ["address", "phone"]
    assert admission["answers"] == [{"link_id": "reason", "value": "appointment"}]
    assert admission["form_response"]["item"][0]["linkId"] == "reason"
    assert admission["consent"] == "accepted" and admission["consent_text_id"] == "0123456789abcdef"
    assert admission["consent_signature"] == SIGNATURE and base64.b64decode(SIGNATURE).startswith(b"\x89PNG")


def test_the_site_service_knows_the_patient_arrived_and_lists_the_ticket_it_numbered(walked):
    results, invitation, _, _, listed = walked
    admission = results["arrived"]["admission"]
    assert results["arrived"]["site_row"] == "delivered"
    assert invitation.arrived_at and invitation.arrived_admission == admission["id"]
    # The number is the site's (the first of queue R today), printed and on the waiting list, pre-checked in.
    assert admission["queue_number"] == "R-001" and admission["queue"] == "R"        # [queues]' default
    assert [(t["admission_id"], t["number"], t["status"], t["invitation_id"]) for t in listed] == [
        (admission["id"], "R-001", "waiting", invitation.id)]


@pytest.mark.parametrize("step, sentence", [
    ("used", "Dieser Ankunftscode wurde bereits verwendet."),
    ("other_site", "Dieser Ankunftscode gehört zu einem anderen Standort."),
    ("unreachable", "Ihre Voranmeldung kann gerade nicht abgerufen werden.")])
def test_what_finds_nothing_says_why_on_the_identify_screen(walked, step, sentence):
    seen = walked[0][step]
    assert seen["state"] == "identify" and any(t.startswith(sentence) for t in seen["texts"])
    # Staff hear of the used code only (raised then, open still): another site's code or an outage raise nothing.
    assert seen["incidents"] == ["arrival_code_used"]


