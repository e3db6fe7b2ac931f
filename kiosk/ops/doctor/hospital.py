"""The hospital row: the hospital system answers as ``hospital.transport`` expects (each transport's ``probe()``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from kiosk.config import Settings
from kiosk.ops.doctor.output import EXIT_HOSPITAL, Row, fail, ok, warn


def check_hospital(settings: Settings) -> Row:
    """The hospital system answers: a FHIR CapabilityStatement, an HL7 v2 receiver, or a writable folder."""
    h = settings.hospital
    if h.transport == "none":
        return warn("hospital", "hospital.transport is none: admissions stay on this kiosk and reach no hospital "
                                "system; set hospital.transport and hospital.url.")
    from kiosk.hospital import transports
    where = _without_credentials(h.url)
    try:
        transport = transports.open_transport(settings)
    except (OSError, ValueError) as e:
        return fail("hospital", f"The connection to {where} cannot be set up ({e}): check hospital.ca_file, "
                                "client_cert, client_key and token_file.", EXIT_HOSPITAL)
    try:
        probe = transport.probe()
    finally:
        transport.close()
    if h.transport == "fhir":
        return fhir_row(probe, where, h.timeout_s)
    if h.transport == "hl7v2":
        return mllp_row(probe, where, h.timeout_s, over_tls=urlsplit(h.url).scheme == "mllps")
    return folder_row(probe, transport.folder)


def check_site(settings: Settings) -> Row:
    """The site service at ``site.url`` answers the kiosk API and takes this kiosk's secret. Never a failure:
    without it the kiosk checks every patient in itself (a pre-checked one as if they had not), so a
    problem is a warning with what to fix."""
    from kiosk.config import ConfigError
    from kiosk.hospital.site_client import SiteClient
    url = settings.site.url
    if not url:
        return ok("site", "site.url is not set: this kiosk asks no site service (no arrival by pre-check-in).")
    where = _without_credentials(url)
    try:
        client = SiteClient.from_settings(settings)
    except ConfigError as e:
        return warn("site", f"The site's shared secret cannot be read ({e}): pre-checked patients check in here "
                            "as if they had not; fix desk.peer_secret_file.")
    try:
        problem = client.probe()
    finally:
        client.close()
    if problem == "unreachable":
        return warn("site", f"The site service at {where} cannot be reached or did not answer within "
                            f"{settings.site.timeout_s:g} s (TLS: site.ca_file): pre-checked patients check in here "
                            "as if they had not; check the network, site.url and kiosk-site.service.")
    if problem == "refused":
        return warn("site", f"The site service at {where} refuses this kiosk's secret: put the site's shared secret "
                            "(the same file as on the site service) at desk.peer_secret_file.")
    if problem:
        return warn("site", f"{where} does not answer as a site service does: site.url must be the site listener's "
                            "address, e.g. https://site.example:8045.")
    return ok("site", f"The site service at {where} answers and takes this kiosk's secret.")


def _without_credentials(url: str) -> str:
    """The URL to show: no user, password or query."""
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""
    return parts._replace(netloc=host, query="", fragment="").geturl()


def fhir_row(probe, where: str, timeout_s: float) -> Row:
    """The row for what ``GET [base]/metadata`` found (``kiosk.hospital.transports.FhirTransport.probe``)."""
    if probe.problem == "tls_failed":
        return fail("hospital", f"TLS to {where} failed: the server's certificate is not trusted (hospital.ca_file) or "
                                "it refused the client certificate (hospital.client_cert).", EXIT_HOSPITAL)
    if probe.problem == "timeout":
        return fail("hospital", f"{where} did not answer within {timeout_s:g} s (hospital.timeout_s): check the "
                                "network and the FHIR server.", EXIT_HOSPITAL)
    if probe.problem == "unreachable":
        return fail("hospital", f"{where} cannot be reached: check the network, the name and hospital.url.", EXIT_HOSPITAL)
    if probe.problem == "refused":
        return fail("hospital", f"{where} refused the kiosk (HTTP {probe.status}): check hospital.token_file and "
                                "the client certificate.", EXIT_HOSPITAL)
    if probe.problem:
        return fail("hospital", f"{where}/metadata gave no CapabilityStatement (HTTP {probe.status}): "
                                "hospital.url must be the FHIR base, e.g. https://his.example/fhir.", EXIT_HOSPITAL)
    software = probe.software or "a FHIR server"
    if not probe.version.startswith("4.0"):
        return warn("hospital", f"{where} ({software}) speaks FHIR {probe.version or 'of no stated version'}; the kiosk "
                                "sends FHIR R4 (4.0.1).")
    return ok("hospital", f"{where} answers: {software}, FHIR {probe.version}.")


def mllp_row(probe, where: str, timeout_s: float, *, over_tls: bool) -> Row:
    """The row for what the connection and the network check found
    (``kiosk.hospital.transports.MllpTransport.probe``)."""
    tls = " over TLS" if over_tls else ""
    if probe.problem == "tls_failed":
        return fail("hospital", f"TLS to {where} failed ({probe.detail}): check hospital.ca_file, client_cert and "
                                "client_key.", EXIT_HOSPITAL)
    if probe.problem == "timeout":
        return fail("hospital", f"{where} did not answer within {timeout_s:g} s (hospital.timeout_s): check the "
                                "network and the interface engine.", EXIT_HOSPITAL)
    if probe.problem == "unreachable":
        return fail("hospital", f"{where} cannot be reached ({probe.detail}): check that the interface engine "
                                "listens there, the network, and hospital.url.", EXIT_HOSPITAL)
    if probe.problem == "silent":
        return warn("hospital", f"{where} takes connections{tls} but gave no HL7 v2 answer to a network check "
                                f"(NMQ^N01) within {timeout_s:g} s: either it is not the interface engine's MLLP "
                                "port (hospital.url), or the engine answers admissions only; watch the first "
                                "delivery (kiosk sync --once).")
    why = {"closed": "it closed the connection without an answer",
           "not_an_ack": "its answer is no HL7 v2 acknowledgement",
           "ack_for_another_message": "its answer acknowledges another message"}.get(probe.problem)
    if probe.problem:
        return fail("hospital", f"Something takes connections at {where}{tls} but does not answer as an HL7 v2 "
                                f"receiver ({why or probe.problem}): check the port in hospital.url (the interface "
                                "engine's MLLP port, often 2575).", EXIT_HOSPITAL)
    return ok("hospital", f"{where} answers as an HL7 v2 receiver{tls} (network check: {probe.ack_code}).")


def folder_row(probe, folder: Path) -> Row:
    """The row for whether the drop folder took a file (``kiosk.hospital.transports.FolderTransport.probe``)."""
    if probe.problem:
        return fail("hospital", f"The drop folder {folder} cannot be written ({probe.detail}): create it, writable "
                                "by the kiosk user, or fix hospital.url.", EXIT_HOSPITAL)
    return ok("hospital", f"The drop folder {folder} can be written.")
