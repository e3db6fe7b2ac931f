"""The real app on a virtual display: the patient corrects address and phone on the confirm screen
(tests/ui/ui_correct.py, one Kivy App in a process of its own)."""

from pathlib import Path

import uirun

HERE = Path(__file__).parent


def test_the_patient_corrects_address_and_phone_and_staff_are_asked_to_verify(tmp_path):
    from kiosk.checkin import corrections
    from kiosk.hospital import fhir
    from kiosk.i18n import Catalogs
    from kiosk.checkin.model import Admission
    run, [result] = uirun.run("ui_correct.py", tmp_path)
    steps = {s["step"]: s for s in result["steps"]}
    de = Catalogs(["de"])

    assert steps["02-correct"]["fields"] == {"street": "Königsallee 12", "postal_code": "40212",
                                             "city": "Düsseldorf", "phone": ""}, "filled with what the card has"
    bad = steps["03-bad-postal-code"]
    assert bad["state"] == "correct" and bad["notice"] == corrections.MSG_POSTAL_CODE
    assert de.gettext("de", corrections.MSG_POSTAL_CODE) in bad["texts"], "the sentence is shown, in German"
    before, after = steps["01-confirm"]["texts"], steps["04-confirm-corrected"]["texts"]
    assert "Königsallee 12, 40212 Düsseldorf" in before
    marked = "  " + de.gettext("de", "(changed by you)")
    assert "Hafenstraße 3, 20457 Hamburg" + marked in after and "0151 2345678" + marked in after
    for step in result["steps"]:
        assert all(step["inside"].values()), f"{step['step']}: a button is off the screen: {step['inside']}"
        assert step["cut_off"] == [], f"{step['step']}: texts outside the screen"

    admission = Admission.from_json(result["admission"])
    address = admission.person.address
    assert (address.lines, address.postal_code, address.city) == (("Hafenstraße 3",), "20457", "Hamburg")
    assert admission.person.phone == "0151 2345678" and admission.person.family == "Müller-Lüdenscheidt"
    assert admission.patient_entered == ("address", "phone")
    [corrected] = [i for i in result["incidents"] if i["kind"] == "details_corrected"]
    assert corrected == {"kind": "details_corrected", "severity": "low", "detail": "address,phone",
                         "admission_id": admission.id}
    patient = fhir.transaction(admission)["entry"][0]["resource"]
    assert patient["meta"]["tag"][0]["code"] == "patient-entered"
    for word in ("Hafenstraße", "20457", "Hamburg", "2345678"):
        assert word not in run.stdout and word not in run.stderr, "no personal data in the output"
