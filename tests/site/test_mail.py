"""The invitation's link by e-mail through a real SMTP server on 127.0.0.1 (aiosmtpd): in the patient's
language, plain text and HTML, nothing about the patient in the subject; the invitation is made whether the
mail goes or not."""

from __future__ import annotations

import socket

import pytest
import requests

from kiosk import config


def invite(service, token, body):
    return requests.post(f"{service.api.url}/api/v1/invitations", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {token}"})


def test_the_link_is_mailed_in_the_patients_language(serve, make_settings, api_token, invitation, relay):
    url, inbox = relay
    service = serve(make_settings(smtp_url=url, smtp_from="Klinik <checkin@hospital.example>"))
    answer = invite(service, api_token[1], invitation())
    assert answer.status_code == 201 and answer.json()["emailed"] is True
    [(to, mail)] = inbox.messages
    assert to == ["ayse@example.org"] and mail["Subject"] == "Ihr Link zur Anmeldung"
    assert mail["Content-Language"] == "de"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    link = answer.json()["link"]
    assert link in plain and f'href="{link}"' in html and "09:30" in plain
    whole = mail.as_string()
    for private in ("Yilmaz", "Ayse", "1980", "Cardiology"):
        assert private not in whole


def test_no_relay_or_no_address_no_mail_and_a_dead_relay_still_invites(serve, make_settings, api_token, invitation,
                                                                        relay):
    url, inbox = relay
    service = serve(make_settings(smtp_url=url, smtp_from="checkin@hospital.example"))
    without = invitation(patient={**invitation()["patient"], "telecom": []})
    assert invite(service, api_token[1], without).json()["emailed"] is False and not inbox.messages
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"smtp://127.0.0.1:{closed.getsockname()[1]}"
    other = serve(make_settings(smtp_url=dead, smtp_from="checkin@hospital.example"))
    answer = invite(other, api_token[1], invitation(appointment={**invitation()["appointment"], "id": "appt-9"}))
    assert answer.status_code == 201 and answer.json()["emailed"] is False and answer.json()["link"]


def test_a_relay_needs_a_sender(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[site]\nsmtp_url = "smtps://relay.hospital.example"\n')
    with pytest.raises(config.ConfigError, match="site.smtp_from"):
        config.load(path)
    path.write_text('[site]\nsmtp_url = "http://relay.hospital.example"\n')
    with pytest.raises(config.ConfigError, match="'site.smtp_url' must be empty, smtps://"):
        config.load(path)
