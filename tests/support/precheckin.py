"""A patient who finished their pre-check-in on a running site service, as the kiosk's tests need one (the
site service's own tests, tests/site/, make theirs through its pages and API)."""

from __future__ import annotations

# A 1x1 PNG, as a drawn signature arrives (base64).
SIGNATURE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def finished_precheck(service, body: dict) -> tuple[str, str]:
    """A patient invited with ``body`` (the invitation API's JSON) who finished their pages on ``service``
    (a kiosk.site.server.SiteService): address and phone corrected, the intake form's reason answered,
    consent given with a signature. Returns (arrival code, invitation id)."""
    from kiosk.checkin import forms
    from kiosk.checkin.corrections import correct
    from kiosk.checkin.model import Person
    from kiosk.site import invitations, precheck
    _, made = invitations.create(service.site, invitations.parse_request(body, default_language="de"))
    correction, _ = correct(Person.from_fhir(made.patient), ("Hauptstr. 5",), "10115", "Berlin", "0171 2222222")
    precheck.save_contact(service.site, made, correction)
    precheck.save_answer(service.site, made, forms.load("intake-basic"), "reason", "appointment")
    precheck.save_consent(service.site, made, "accepted", "0123456789abcdef", SIGNATURE)
    code = precheck.finish(service.site, invitations.find(service.site, invitation_id=made.id))
    return code, made.id


def site_with_a_pre_checked_patient(folder, form: str = "intake-basic", language: str = "de"):
    """A site service started in this process (its database in ``folder``, with the store key of the
    environment, KIOSK_STORE_KEY) holding one patient who finished their pre-check-in, with an appointment
    in an hour: (the service, the site's shared secret file, the arrival QR's text). Stop the service."""
    import secrets
    from datetime import datetime, timedelta

    from kiosk import config
    from kiosk.site import precheck
    from kiosk.site.db import open_site_db
    from kiosk.site.server import SiteService
    secret = folder / "site.secret"
    secret.write_text(secrets.token_hex(32) + "\n")
    secret.chmod(0o600)
    settings = config.Settings().replace(
        kiosk=config.KioskSettings(data_dir=str(folder / "site")), desk=config.DeskSettings(peer_secret_file=str(secret)),
        site=config.SiteSettings(public_url="http://127.0.0.1:8044", patient_port=0, site_port=0),
        forms=config.FormsSettings(intake=form))
    service = SiteService(open_site_db(settings), settings).start()
    start = (datetime.now().astimezone() + timedelta(hours=1)).replace(second=0, microsecond=0)
    code, _ = finished_precheck(service, {
        "appointment": {"id": "pre-checked-1", "start": start.isoformat(), "location": "Cardiology"},
        "patient": {"resourceType": "Patient", "name": [{"family": "Bench", "given": ["Pat"]}], "birthDate": "1980-07-14"},
        "language": language})
    return service, secret, precheck.qr_text(settings.site.id, code)
