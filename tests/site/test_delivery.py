"""A finished pre-check-in reaches the hospital system before the patient comes (kiosk.site.delivery), through
a real FHIR server (SEKMET) and a real MLLP peer, on both backends; the kiosk's arrival then completes the
same visit there, never a second one."""

from __future__ import annotations

import time
from dataclasses import replace
from types import SimpleNamespace

import hl7
import pytest
import sqlalchemy as sa
from fhirserver import FhirServer
from mllppeer import MllpPeer
from processes import wait_until as _wait
from precheckin import finished_precheck

from kiosk import config
from kiosk.checkin import forms
from kiosk.checkin.arrival import admission_of, answered
from kiosk.hospital import transports
from kiosk.hospital.site_client import pre_check_in
from kiosk.site import arrivals, invitations, precheck
from kiosk.site.schema import outbox

FORM = forms.load("intake-basic")
PRECHECK = "urn:kiosk:precheck"


def _with_hospital(settings: config.Settings, transport: str, url: str) -> config.Settings:
    return settings.replace(hospital=config.HospitalSettings(transport=transport, url=url, retry_max_s=1.0),
                            forms=config.FormsSettings(intake="intake-basic"))




def _rows(service) -> list[dict]:
    with service.site.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]


def _appointment(server: FhirServer) -> str:
    """A booked Appointment at the hospital, as the invitation names it; its id."""
    return server.create({"resourceType": "Appointment", "status": "booked",
                          "participant": [{"status": "accepted"}]})["id"]


def _arrival_admission(service, invitation_id: str):
    """The admission a kiosk makes when this patient arrives (kiosk.checkin.arrival), from what the site
    service's kiosk API answers."""
    found = arrivals.Found(invitations.find(service.site, invitation_id=invitation_id)).as_json(FORM.url)
    a = pre_check_in(found)
    _, given, response = answered(FORM, a.answers)
    return admission_of(a, "kiosk-admission-1", "lobby-1", "2026-12-07T08:10:00+00:00", language="de",
                        identified_by="code", coverage=None, answers=given, response=response, test_data=False)


def test_a_finished_pre_check_in_reaches_the_fhir_server_before_arrival_and_the_arrival_completes_it(
        serve, make_settings, invitation):
    with FhirServer() as server:
        appointment = _appointment(server)
        service = serve(_with_hospital(make_settings(), "fhir", server.base))
        _, invitation_id = finished_precheck(service, invitation(appointment={
            **invitation()["appointment"], "id": appointment}))

        encounter = _wait(lambda: server.search("Encounter", identifier=f"{PRECHECK}|{invitation_id}"),
                          "the pre-admission at the FHIR server")[0]
        assert encounter["status"] == "planned"
        assert encounter["appointment"][0]["reference"] == f"Appointment/{appointment}"
        _wait(lambda: _rows(service)[0]["status"] == "delivered", "the outbox row marked delivered")
        [response] = server.search("QuestionnaireResponse")
        assert response["encounter"]["reference"] == f"Encounter/{encounter['id']}"
        assert response["item"][0]["answer"] == [{"valueCoding": response["item"][0]["answer"][0]["valueCoding"]}]
        [consent] = server.search("Consent")
        assert consent["status"] == "active" and consent["sourceAttachment"]["contentType"] == "image/png"
        [patient] = server.search("Patient")
        assert patient["address"][0]["city"] == "Berlin"
        assert patient["meta"]["tag"][0]["code"] == "patient-entered"

        # The patient comes back to the link and changes their answer: delivered again, replacing the first.
        made = invitations.find(service.site, invitation_id=invitation_id)
        precheck.save_answer(service.site, made, FORM, "reason", "other")
        _wait(lambda: len(_rows(service)) == 2 and _rows(service)[1]["status"] == "delivered", "the change delivered")
        [response] = server.search("QuestionnaireResponse")
        assert response["item"][0]["answer"][0]["valueCoding"]["code"] == "other"

        # The kiosk's arrival: the same Encounter, now arrived, and still one of each.
        admission = _arrival_admission(service, invitation_id)
        kiosk = transports.FhirTransport(config.HospitalSettings(transport="fhir", url=server.base))
        attempt = kiosk.send(admission, {"id": 1})
        assert attempt.kind == "delivered", attempt.reason
        [arrived] = server.search("Encounter")
        assert arrived["id"] == encounter["id"] and arrived["status"] == "arrived"
        assert {"system": "urn:kiosk:admission", "value": admission.id} in arrived["identifier"]
        assert server.count("QuestionnaireResponse") == server.count("Consent") == server.count("Patient") == 1
        assert server.search("Appointment", _id=appointment)[0]["status"] == "arrived"

        # A pre-admission that comes late (the site service was away) does not undo the arrival.
        again = transports.FhirTransport(config.HospitalSettings(transport="fhir", url=server.base), pre_admit=True)
        site_admission = replace(_arrival_admission(service, invitation_id), id=invitation_id, kiosk_id="site-1")
        assert again.send(site_admission, {"id": 9}).kind == "delivered"
        assert [e["status"] for e in server.search("Encounter")] == ["arrived"]


def test_a_pre_check_in_goes_as_an_adt_a05_and_the_arrival_as_an_a04_of_the_same_visit(serve, make_settings, invitation):
    with MllpPeer() as peer:
        service = serve(_with_hospital(make_settings(), "hl7v2", peer.url))
        _, invitation_id = finished_precheck(service, invitation())
        _wait(lambda: peer.messages, "the ADT^A05 at the MLLP peer")
        message = hl7.parse(peer.messages[0])
        assert str(message.segment("MSH")(9)) == "ADT^A05^ADT_A05"
        assert str(message.segment("EVN")(1)) == "A05"
        assert str(message.segment("PV1")(19)) == invitation_id
        assert str(message.segment("PID")(5)) == "Yilmaz^Ayse^^^^^L"
        _wait(lambda: _rows(service)[0]["status"] == "delivered", "the outbox row marked delivered")

        # A change after finishing is a new A05 (a control id of its own), not a resend the peer drops.
        made = invitations.find(service.site, invitation_id=invitation_id)
        precheck.save_consent(service.site, made, "declined", "0123456789abcdef")
        _wait(lambda: len(peer.unique()) == 2, "the second A05")

        admission = _arrival_admission(service, invitation_id)
        a04 = hl7.parse(transports.hl7v2.adt(admission, transports.control_id_for(admission),
                                             transports.hl7_options(config.HospitalSettings(), "lobby-1"),
                                             sent_at=transports.moment(admission.created_at)))
        assert str(a04.segment("MSH")(9)) == "ADT^A04^ADT_A01"
        assert str(a04.segment("PV1")(19)) == invitation_id            # the visit the A05 announced
        assert str(a04.segment("PV1")(50)) == admission.id


def test_what_waits_when_the_patient_arrives_is_withdrawn_and_nothing_undelivered_is_wiped(
        serve, make_settings, invitation):
    with MllpPeer(answer="silent") as peer:
        settings = _with_hospital(make_settings(), "hl7v2", peer.url)
        settings = settings.replace(hospital=replace(settings.hospital, timeout_s=0.5))
        service = serve(settings)
        _, invitation_id = finished_precheck(service, invitation())
        _wait(lambda: _rows(service)[0]["attempts"] >= 1, "a first failed attempt")

        # Undelivered: kept past its expiry and past the arrival's retention, whatever the housekeeping says.
        assert invitations.wipe_expired(service.site, now=time.time() + 10 * 86400) == 0
        assert invitations.find(service.site, invitation_id=invitation_id) is not None

        arrivals.arrive(service.site, invitation_id, "lobby-1", "kiosk-admission-1")
        _wait(lambda: _rows(service)[0]["status"] == "withdrawn", "the waiting row withdrawn")
        # The worker reading it after the arrival sends nothing (an A05 after the kiosk's A04 would undo it).
        sent = len(peer.messages)
        from kiosk.hospital.outbox import NothingToSend
        with pytest.raises(NothingToSend):
            service.delivery.open_store().get_admission(invitation_id)
        assert len(peer.messages) == sent
        # (the kiosk's admission carries it all now): wiped with its rows after the retention
        assert arrivals.wipe_arrived(service.site, 0, now=time.time() + 1) == 1
        assert _rows(service) == []


def _refused(server: FhirServer, serve, make_settings, invitation, said: str):
    """A site service whose first pre-check-in the FHIR server refuses (422, saying ``said``), set aside:
    (the service, that pre-check-in's id)."""
    server.fail_next(422, body={"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "processing", "diagnostics": said}]})
    service = serve(_with_hospital(make_settings(), "fhir", server.base))
    _, invitation_id = finished_precheck(service, invitation())
    _wait(lambda: _rows(service)[0]["status"] == "dead", "the refused row set aside")
    return service, invitation_id


def test_a_refused_pre_check_in_is_set_aside_for_staff_and_the_next_one_goes(serve, make_settings, invitation):
    from kiosk.site.delivery import open_incidents
    with FhirServer() as server:
        service, first = _refused(server, serve, make_settings, invitation, "Yilmaz is not known here")
        [incident] = open_incidents(service.site)
        assert (incident["kind"], incident["severity"], incident["invitation_id"]) == ("sync_rejected", "high", first)
        assert "Yilmaz" not in incident["detail"]

        _, second = finished_precheck(service, invitation(appointment={**invitation()["appointment"], "id": "appt-2"}))
        _wait(lambda: server.search("Encounter", identifier=f"{PRECHECK}|{second}"), "the next pre-check-in delivered")
        assert server.count("Encounter", identifier=f"{PRECHECK}|{first}") == 0


def test_changes_before_a_worker_reads_the_pre_check_in_make_one_delivery(make_settings, invitation):
    """Without a running worker: every step after finishing would queue, but one unread row carries them all."""
    from kiosk.site.db import open_site_db
    with MllpPeer() as peer:
        settings = _with_hospital(make_settings(), "hl7v2", peer.url)
        site = open_site_db(settings)
        try:
            service = SimpleNamespace(site=site)      # finished_precheck needs a service's .site only
            _, invitation_id = finished_precheck(service, invitation())
            made = invitations.find(site, invitation_id=invitation_id)
            precheck.save_answer(site, made, FORM, "reason", "other")
            precheck.save_consent(site, made, "declined", "0123456789abcdef")
            assert [r["status"] for r in _rows(service)] == ["pending"]
        finally:
            site.dispose()


def test_without_a_hospital_transport_the_pre_check_in_waits_for_the_arrival(serve, make_settings, invitation):
    service = serve(make_settings())
    finished_precheck(service, invitation())
    assert service.delivery is None and _rows(service) == []


def test_two_instances_on_one_database_deliver_each_version_once(serve, make_settings, invitation):
    """Both run a worker; the lock (advisory on PostgreSQL, a file beside the embedded one) lets one send at
    a time, so no message goes twice (without it both would send the same head)."""
    with MllpPeer() as peer:
        settings = _with_hospital(make_settings(), "hl7v2", peer.url)
        one, two = serve(settings), serve(settings)
        made = [finished_precheck((one, two)[n % 2], invitation(appointment={**invitation()["appointment"],
                                                                            "id": f"appt-{n}"}))[1] for n in range(8)]
        _wait(lambda: all(r["status"] == "delivered" for r in _rows(one)) and len(_rows(one)) == 8,
              "every pre-check-in delivered", timeout=60)
        visits = [str(hl7.parse(m).segment("PV1")(19)) for m in peer.messages]
        assert sorted(visits) == sorted(made)


def test_thoughts_of_self_harm_answered_at_home_raise_a_high_incident_at_once(serve, make_settings, invitation):
    """PHQ-9 item 9 answered "several days" on the phone: staff hear of it when it is saved, not when the patient
    comes (and once, however often it is saved); "not at all" raises nothing."""
    from kiosk.site.delivery import open_incidents
    settings = make_settings().replace(forms=config.FormsSettings(intake="phq-9"))
    service = serve(settings)
    phq = forms.load("phq-9")
    _, calm = invitations.create(service.site, invitations.parse_request(invitation(), default_language="de"))
    precheck.save_answer(service.site, calm, phq, "44260-8", "LA6568-5")              # not at all
    assert open_incidents(service.site) == []
    _, made = invitations.create(service.site, invitations.parse_request(
        invitation(appointment={**invitation()["appointment"], "id": "appt-2"}), default_language="de"))
    for _ in range(2):
        precheck.save_answer(service.site, invitations.find(service.site, invitation_id=made.id), phq,
                             "44260-8", "LA6569-3")                                    # several days
    [incident] = open_incidents(service.site)
    assert (incident["kind"], incident["severity"], incident["invitation_id"], incident["detail"]) == (
        "answer_needs_staff", "high", made.id, "answered_at_home:appt-2")
    # Resolved by staff: a later step does not raise it again; the answer changed to another that alerts does.
    from kiosk.site.delivery import act_on_incident
    assert act_on_incident(service.site, incident["id"], "resolve", "Dana K. via desk lobby-1")
    precheck.save_answer(service.site, invitations.find(service.site, invitation_id=made.id), phq, "44250-9", "LA6568-5")
    assert open_incidents(service.site) == []
    precheck.save_answer(service.site, invitations.find(service.site, invitation_id=made.id), phq, "44260-8", "LA6571-9")
    assert len(open_incidents(service.site)) == 1


def test_the_kiosks_desk_pages_list_the_sites_incidents_and_take_and_resolve_them(serve, make_settings, invitation,
                                                                                   site_secret):
    """The site listener answers a desk page's peer API (kiosk.desk.peers, what a kiosk's page asks the site's
    other kiosks): the self-harm answer from home, said in the page's language with the appointment to find the
    patient by, taken and resolved by name; without the site's secret nothing."""
    from kiosk.desk.incidents import messages
    from kiosk.desk.peers import PeerDown, Peers
    from kiosk.i18n import Catalogs
    settings = make_settings().replace(forms=config.FormsSettings(intake="phq-9"))
    service = serve(settings)
    _, made = invitations.create(service.site, invitations.parse_request(invitation(), default_language="de"))
    precheck.save_answer(service.site, made, forms.load("phq-9"), "44260-8", "LA6570-1")      # more than half the days
    peers = Peers((service.api.url,), site_secret[1], timeout_s=5)
    try:
        [(_, listing, why)] = peers.listings()
        assert why == "" and listing["kiosk"] == settings.site.id and listing["reprint_kinds"] == ()
        [row] = listing["incidents"]
        assert (row["kind"], row["severity"], row["status"], row["admission_id"]) == ("answer_needs_staff", "high",
                                                                                      "open", "")
        said = [m.render(lambda text: Catalogs(("de",)).gettext("de", text)) for m in messages(row["kind"], row["detail"])]
        assert said[-1] == ("Zu Hause in der Voranmeldung beantwortet, für den Termin appt-1: den Patienten vor seinem "
                            "Kommen kontaktieren.")
        assert peers.act(settings.site.id, row["id"], "take", "Dana K.", "lobby-1", {}) == (
            200, {"message": "You have taken this incident."})
        assert peers.listings()[0][1]["incidents"][0]["taken_by"] == "Dana K. via desk lobby-1"
        assert peers.act(settings.site.id, row["id"], "resolve", "Dana K.", "lobby-1", {"how": "done", "note": ""})[0] == 200
        assert peers.listings()[0][1]["incidents"] == []
        assert peers.act(settings.site.id, row["id"], "resolve", "Dana K.", "lobby-1", {})[0] == 409
    finally:
        peers.close()
    stranger = Peers((service.api.url,), "0" * 64, timeout_s=5)
    try:
        with pytest.raises(PeerDown):
            stranger._listing(service.api.url)
    finally:
        stranger.close()


def test_a_refused_pre_check_in_is_kept_until_staff_resolve_its_incident(serve, make_settings, invitation):
    from kiosk.site.delivery import act_on_incident, open_incidents
    with FhirServer() as server:
        service, invitation_id = _refused(server, serve, make_settings, invitation, "refused")
        later = time.time() + 10 * 86400
        assert invitations.wipe_expired(service.site, now=later) == 0
        [incident] = open_incidents(service.site)
        assert act_on_incident(service.site, incident["id"], "resolve", "Dana K. via desk lobby-1")
        assert invitations.wipe_expired(service.site, now=later) == 1 and _rows(service) == []
        from kiosk.site.db import incidents                 # staff's note and the detail went with it
        with service.site.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one() == 0


@pytest.mark.parametrize("folder_format", ["fhir", "hl7v2"])
def test_to_a_drop_folder_each_version_is_a_file_of_its_own(serve, make_settings, invitation, tmp_path, folder_format):
    import json
    folder = tmp_path / "drop"
    folder.mkdir()
    settings = _with_hospital(make_settings(), "folder", folder.as_uri())
    service = serve(settings.replace(hospital=replace(settings.hospital, folder_format=folder_format)))
    _, invitation_id = finished_precheck(service, invitation())
    first = _wait(lambda: sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")), "the first file")
    precheck.save_consent(service.site, invitations.find(service.site, invitation_id=invitation_id), "declined",
                          "0123456789abcdef")
    names = _wait(lambda: (lambda n: n if len(n) == 2 else None)(
        sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))), "the second file")
    suffix = ".json" if folder_format == "fhir" else ".hl7"
    assert names[0] == first[0] and all(n.startswith(f"{invitation_id}-") and n.endswith(suffix) for n in names)
    latest = (folder / names[-1]).read_text(encoding="utf-8")
    if folder_format == "fhir":
        consent = next(e["resource"] for e in json.loads(latest)["entry"] if e["resource"]["resourceType"] == "Consent")
        assert consent["status"] == "rejected"
    else:
        assert str(hl7.parse(latest).segment("MSH")(9)) == "ADT^A05^ADT_A05"


def test_after_the_arrival_nothing_a_late_page_sends_changes_the_pre_check_in(serve, make_settings, invitation):
    service = serve(make_settings())
    _, invitation_id = finished_precheck(service, invitation())
    made = invitations.find(service.site, invitation_id=invitation_id)
    arrivals.arrive(service.site, invitation_id, "lobby-1", "kiosk-admission-1")
    precheck.save_answer(service.site, made, FORM, "reason", "other")
    assert invitations.find(service.site, invitation_id=invitation_id).answers == {"reason": "appointment"}


def test_what_waits_follows_a_changed_transport_or_is_withdrawn_without_one(make_settings, invitation):
    from kiosk.site.db import open_site_db
    from kiosk.site.delivery import follow_the_destination
    site = open_site_db(_with_hospital(make_settings(), "fhir", "http://127.0.0.1:9/fhir"))     # no worker runs
    try:
        service = SimpleNamespace(site=site)
        finished_precheck(service, invitation())
        assert [(r["destination"], r["status"]) for r in _rows(service)] == [("fhir", "pending")]
        site.deliver_to = "hl7v2"
        assert follow_the_destination(site) == 1 and [r["destination"] for r in _rows(service)] == ["hl7v2"]
        site.deliver_to = ""
        assert follow_the_destination(site) == 1 and [r["status"] for r in _rows(service)] == ["withdrawn"]
    finally:
        site.dispose()
