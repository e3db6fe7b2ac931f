"""The whole pre-check-in through real parts, as issue 20 asks: an invitation made through the site listener's
API; a real headless Chromium at a phone's size filling the patient's pages (birth date, a corrected phone,
the intake form, a signature drawn with a finger, the consent, the arrival code); the pre-admission seen at
the hospital system (SEKMET over FHIR, or ADT^A05 at a real MLLP peer) before the patient comes; then the
kiosk app (offscreen, in a process of its own, tests/ui/ui_precheck_arrival.py) receiving the QR code read
out of the browser's own screenshot (zxing-cpp) through the simulated scanner, one touch, the ticket printed
on a real ESC/POS printer on 127.0.0.1 and decoded back, and the arrival at the hospital system and at the
site service. On the embedded database and on PostgreSQL.
"""

from __future__ import annotations

import io
import socket
import time

import hl7
import pytest
import requests
import uirun
from browser import PHONE, set_viewport
from escpos_decode import decode
from fhirserver import FhirServer
from mllppeer import MllpPeer
from processes import wait_until as _wait

from kiosk import config
from kiosk.site import invitations

PRECHECK = "urn:kiosk:precheck"


@pytest.fixture(params=[("sqlcipher", "fhir"), ("postgresql", "fhir"), ("postgresql", "hl7v2")],
                ids=["sqlcipher-fhir", "postgresql-fhir", "postgresql-hl7v2"])
def walk(request):
    return request.param


@pytest.fixture
def backend(walk, request):
    return "" if walk[0] == "sqlcipher" else request.getfixturevalue("postgres").database()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




def _fill_the_pages(browser, link: str) -> str:
    """The patient on their phone, from the link to the arrival code; the QR code's text, read out of the
    browser's screenshot."""
    import zxingcpp
    from PIL import Image
    from selenium.webdriver.common.by import By
    from test_patient_browser import draw_signature, leaving, type_birth_date
    set_viewport(browser, PHONE)
    browser.delete_all_cookies()
    browser.get(link)
    type_birth_date(browser, "14", "7", "1980")
    leaving(browser, browser.find_element(By.ID, "start").click)
    browser.find_element(By.ID, "phone").send_keys("0151 2345678")
    leaving(browser, browser.find_element(By.ID, "continue").click)
    for choice in (1, 2, 2):                 # reason: a booked appointment; no allergies; contact unchanged
        browser.find_element(By.CSS_SELECTOR, f"label[for='answer-{choice}']").click()
        leaving(browser, browser.find_element(By.ID, "continue").click)
    draw_signature(browser, "finger")
    leaving(browser, browser.find_element(By.ID, "agree").click)
    leaving(browser, browser.find_element(By.ID, "finish").click)
    qr = browser.find_element(By.ID, "arrival-qr")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", qr)
    [read] = zxingcpp.read_barcodes(Image.open(io.BytesIO(browser.get_screenshot_as_png())))
    return read.text


def test_invited_filled_on_the_phone_delivered_scanned_at_the_kiosk_ticket_and_arrival(
        walk, browser, serve, make_settings, api_token, site_secret, tmp_path):
    _, transport = walk
    with FhirServer() as fhir, MllpPeer() as peer:
        appointment = fhir.create({"resourceType": "Appointment", "status": "booked",
                                   "participant": [{"status": "accepted"}]})["id"]
        hospital_url = fhir.base if transport == "fhir" else peer.url
        port = _free_port()
        settings = make_settings(patient_port=port, public_url=f"http://127.0.0.1:{port}").replace(
            hospital=config.HospitalSettings(transport=transport, url=hospital_url, retry_max_s=2.0),
            forms=config.FormsSettings(intake="intake-basic"))
        service = serve(settings)

        # The hospital's appointment system invites the patient.
        start = time.strftime("%Y-%m-%dT%H:%M:00%z", time.localtime(time.time() + 3600))
        made = requests.post(f"{service.api.url}/api/v1/invitations", timeout=10, headers={
            "Authorization": f"Bearer {api_token[1]}"}, json={
            "appointment": {"id": appointment, "start": f"{start[:-2]}:{start[-2:]}", "location": "Cardiology"},
            "patient": {"resourceType": "Patient", "name": [{"family": "Yilmaz", "given": ["Ayse"]}],
                        "birthDate": "1980-07-14"}, "language": "en"})
        assert made.status_code == 201, made.text
        invitation_id = made.json()["id"]

        qr_text = _fill_the_pages(browser, made.json()["link"])
        assert qr_text.startswith(f"KIOSK1:{settings.site.id}:")

        # Delivered before the patient comes.
        if transport == "fhir":
            planned = _wait(lambda: fhir.search("Encounter", identifier=f"{PRECHECK}|{invitation_id}"),
                            "the pre-admission at the FHIR server")[0]
            assert planned["status"] == "planned"
            assert planned["appointment"][0]["reference"] == f"Appointment/{appointment}"
            [response] = fhir.search("QuestionnaireResponse")
            assert [i["linkId"] for i in response["item"]] == ["reason", "allergies", "contact-changed"]
            [consent] = fhir.search("Consent")
            assert consent["status"] == "active" and consent["sourceAttachment"]["contentType"] == "image/png"
            assert "0151 2345678" in [t["value"] for t in fhir.search("Patient")[0]["telecom"]]
        else:
            _wait(lambda: peer.messages, "the ADT^A05 at the MLLP peer")
            a05 = hl7.parse(peer.messages[0])
            assert str(a05.segment("MSH")(9)) == "ADT^A05^ADT_A05" and str(a05.segment("PV1")(19)) == invitation_id
            assert "0151 2345678" in str(a05.segment("PID")(13))

        # The patient arrives and scans the code their phone shows.
        out = tmp_path / "kiosk"
        _, [seen] = uirun.run("ui_precheck_arrival.py", out, service.api.url, site_secret[0], qr_text, transport,
                              hospital_url)
        assert seen["state"] == "arrival" and "Ayse Y." in seen["texts"]
        assert seen["taps"] == 1 and seen["print_status"] == "printed"
        ticket = decode(bytes.fromhex(seen["printed"][-1]))
        assert seen["queue_number"] in ticket.text and ticket.cuts == 1
        assert seen["outbox"] == {transport: "delivered", "site": "delivered"}
        admission = seen["admission"]
        assert admission["precheck_id"] == invitation_id and admission["consent"] == "accepted"
        assert [a["link_id"] for a in admission["answers"]] == ["reason", "allergies", "contact-changed"]

        if transport == "fhir":
            [arrived] = fhir.search("Encounter")
            assert arrived["id"] == planned["id"] and arrived["status"] == "arrived"
            assert {"system": "urn:kiosk:admission", "value": admission["id"]} in arrived["identifier"]
            assert fhir.count("QuestionnaireResponse") == fhir.count("Consent") == fhir.count("Patient") == 1
            assert fhir.search("Appointment", _id=appointment)[0]["status"] == "arrived"
        else:
            a04 = hl7.parse(peer.messages[-1])
            assert str(a04.segment("MSH")(9)) == "ADT^A04^ADT_A01"
            assert str(a04.segment("PV1")(19)) == invitation_id and str(a04.segment("PV1")(50)) == admission["id"]
        found = invitations.find(service.site, invitation_id=invitation_id)
        assert found.arrived_at and found.arrived_admission == admission["id"]
