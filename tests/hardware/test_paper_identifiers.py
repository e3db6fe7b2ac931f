"""Every identifier printed on paper is one the config allows for that purpose.

A wristband carries the hospital's own patient number (from the patient's appointment in the hospital
system) or none; a national number (the eGK's KVNR, the Belgian national register number) only where
``printer.wristband.national_ids`` allows it, and then named for what it is, never "Patient no.". A ticket
carries none. This walks every way a patient can be identified (both card kinds, a card with both numbers,
a typed name) against every config, through the kiosk's own path to the paper (``printing.layout_for``
with settings read from a TOML file, the ESC/POS job decoded back, barcodes and QR codes read with zxing, and
the preview printer's picture).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from escpos_decode import decode, read_codes
from PIL import Image

from kiosk import config
from kiosk.hardware import printing
from kiosk.hardware.reader import sample_cards
from kiosk.hardware import escpos_jobs
from kiosk.hardware.preview import PreviewPrinter
from kiosk.i18n import Catalogs
from kiosk.checkin.model import KVNR_SYSTEM, NATIONAL_ID_SYSTEMS, SSIN_SYSTEM, Admission, Identifier

HOSPITAL_NUMBER = "M-0012345"
EGK, BEID = sample_cards()
BOTH = replace(EGK.person, identifiers=(Identifier(KVNR_SYSTEM, "X110411675"), Identifier(SSIN_SYSTEM, "85073003328")))
TYPED = replace(EGK.person, identifiers=())
PERSONS = {"egk": EGK.person, "beid": BEID.person, "both numbers": BOTH, "typed name": TYPED}
NATIONAL = [(), (KVNR_SYSTEM,), (SSIN_SYSTEM,), (KVNR_SYSTEM, SSIN_SYSTEM)]
CATALOGS = Catalogs(config.SUPPORTED_LANGUAGES)


def settings_for(tmp_path: Path, national_ids: tuple[str, ...]) -> config.Settings:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[printer.wristband]\nuri = "preview:bands"\nnational_ids = {list(national_ids)!r}\n'
                    .replace("'", '"'), encoding="utf-8")
    return config.load(path)


def admission(person, patient_number: str, language: str = "de") -> Admission:
    return Admission(id="7d1e4c2a-0000-4000-8000-00000000000a", kiosk_id="lobby-1",
                     created_at="2026-12-07T08:15:00+00:00", language=language, identified_by="card:egk",
                     person=person, queue_number="A-017", patient_number=patient_number)


def allowed_on_band(person, patient_number: str, national_ids: tuple[str, ...]) -> set[str]:
    if patient_number:
        return {patient_number}
    return {next((i.value for i in person.identifiers if i.system in national_ids), "")} - {""}


def printed_identifiers(text: str, codes: list[tuple[str, str]], person, patient_number: str) -> set[str]:
    """Which of the patient's identifiers (national ones and the hospital's) appear anywhere on the paper."""
    everything = text + "\n".join(content for _, content in codes)
    return {value for value in [i.value for i in person.identifiers] + [patient_number] if value and value in everything}


@pytest.mark.parametrize("who,national_ids,patient_number", [
    (who, national, number) for who, national, number in itertools.product(PERSONS, NATIONAL, ("", HOSPITAL_NUMBER))])
def test_the_wristband_carries_only_numbers_the_config_allows(tmp_path, who, national_ids, patient_number):
    settings = settings_for(tmp_path, national_ids)
    person = PERSONS[who]
    adm = admission(person, patient_number)
    layout = printing.layout_for("wristband", adm, CATALOGS, settings)
    job = decode(escpos_jobs.wristband_job(layout, "TM-L90"))
    [band] = job.images()
    codes = read_codes(band)
    expected = allowed_on_band(person, patient_number, national_ids)
    assert printed_identifiers(job.text + layout.number + layout.name + layout.birth_date, codes, person,
                               patient_number) == expected
    assert ({c for kind, c in codes if kind == "Code128"}) == expected
    if expected:
        [number] = expected
        label = layout.number.removesuffix(number).strip()
        assert label == ("Patienten-Nr." if patient_number else
                         {KVNR_SYSTEM: "Versicherten-Nr.", SSIN_SYSTEM: "Nationalregister-Nr."}[
                             next(i.system for i in person.identifiers if i.value == number)])
    else:
        assert layout.number == "" and layout.barcode == ""
    # The same band drawn by the preview printer (the demo's and `preview:` printers' picture).
    path = PreviewPrinter(tmp_path / "bands").print_layout(layout).path
    with Image.open(path) as picture:
        assert {c for kind, c in read_codes(picture) if kind == "Code128"} == expected


@pytest.mark.parametrize("who,national_ids", list(itertools.product(PERSONS, NATIONAL)))
def test_the_ticket_carries_no_identifier_at_all(tmp_path, who, national_ids):
    settings = settings_for(tmp_path, national_ids)
    person = PERSONS[who]
    adm = admission(person, HOSPITAL_NUMBER)
    layout = printing.layout_for("ticket", adm, CATALOGS, settings)
    printout = decode(escpos_jobs.ticket_job(layout, "TM-T88V"))
    codes = [("QRCode", code) for code in printout.qr_codes()]
    assert printed_identifiers(printout.text, codes, person, HOSPITAL_NUMBER) == set()
    assert codes == [("QRCode", f"ADMISSION:{adm.id}")]


@pytest.mark.parametrize("language", config.SUPPORTED_LANGUAGES)
def test_a_national_number_is_never_called_a_patient_number_in_any_language(tmp_path, language):
    settings = settings_for(tmp_path, NATIONAL_ID_SYSTEMS)
    patient_label = CATALOGS.gettext(language, "Patient no. {number}").format(number="")
    for person in (EGK.person, BEID.person):
        layout = printing.layout_for("wristband", admission(person, "", language), CATALOGS, settings)
        assert layout.number and not layout.number.startswith(patient_label.strip())


def test_the_config_takes_only_the_national_numbers_cards_give(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[printer.wristband]\nnational_ids = ["urn:oid:1.2.3"]\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match=r"'printer\.wristband\.national_ids' has 'urn:oid:1\.2\.3'"):
        config.load(path)
    assert config.Settings().printer.wristband.national_ids == (), "none by default"
