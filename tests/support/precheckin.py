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
