"""Sample data never passes for a patient's. What is not a real check-in (the demo, a sample print,
a simulated reader's sample card) never writes into the configured store, never reaches the hospital system
unless IT asks (`kiosk demo --send-samples`), and is marked as test data wherever it goes: FHIR
``meta.security`` ActReason HTEST, HL7 v2 MSH-11 processing ID T, and "Sample" on the paper.

The demo runs as the real command (headless, real screens) against a real FHIR server and a real MLLP
receiver on 127.0.0.1; the rest is the flow and the message builders, with the printed bytes decoded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import hl7
import pytest
from escpos_decode import decode
from fakeprinter import NetPrinter
from fhirserver import FhirServer
from mllppeer import MllpPeer

from kiosk.hospital import fhir, hl7v2
from kiosk.checkin import forms
from kiosk.hardware.reader import sample_cards
from kiosk.checkin.events import CardRead, ChooseName, ConsentGiven, DetailsConfirmed, NameEntered, Start
from kiosk.checkin.flow import CheckIn
from kiosk.checkin.session import State
from kiosk.hardware.reader import SimulatedReader

KIOSK = str(Path(sys.executable).parent / "kiosk")
HTEST = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST",
         "display": "test health data"}
FORM = forms.load("no-questions")


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIOSK_CONFIG")}
    return e


def config(tmp_path: Path, hospital: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nid = "lobby-samples"\ndata_dir = "{tmp_path / "data"}"\nlanguages = ["en"]\n'
                    f'[forms]\nintake = "no-questions"\n{hospital}', encoding="utf-8")
    return path


def demo(tmp_path: Path, cfg: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([KIOSK, "demo", "--headless", "--out", str(tmp_path / "out"), "--config", str(cfg), *extra],
                          capture_output=True, text=True, timeout=300, env=env())


# --- the demo and the hospital system ---------------------------------------------------------------------

def test_send_samples_delivers_the_sample_patients_to_fhir_marked_as_test_data(tmp_path):
    with FhirServer() as hospital:
        cfg = config(tmp_path, f'[hospital]\ntransport = "fhir"\nurl = "{hospital.base}"\n')
        run = demo(tmp_path, cfg, "--send-samples")
        assert run.returncode == 0, run.stderr
        assert "Sent 2 sample admission(s) to the hospital system (fhir), marked as test data" in run.stdout
        created = {kind: hospital.search(kind) for kind in ("Patient", "Coverage", "Encounter", "Consent")}
    assert len(created["Encounter"]) == len(created["Consent"]) == len(created["Patient"]) == 2
    for kind, resources in created.items():
        for resource in resources:
            assert HTEST in resource.get("meta", {}).get("security", []), (kind, resource.get("meta"))
    # Sending is not storing: the site's store stays as it was (there was none).
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
    # Only the scripted patients, not the tour's screenshots of every screen.
    assert not (tmp_path / "out" / "screens").exists()


def test_send_samples_over_mllp_says_training_in_msh_11(tmp_path):
    with MllpPeer() as peer:
        cfg = config(tmp_path, f'[hospital]\ntransport = "hl7v2"\nurl = "{peer.url}"\n')
        run = demo(tmp_path, cfg, "--send-samples")
        messages = peer.unique()
    assert run.returncode == 0, run.stderr
    assert len(messages) == 2
    assert [str(hl7.parse(m).segment("MSH")(11)) for m in messages] == ["T", "T"]


def test_send_samples_that_do_not_arrive_end_with_exit_9_and_say_why(tmp_path):
    with FhirServer() as hospital:
        url = hospital.base                      # a server that was there, and is gone: nothing listens
    cfg = config(tmp_path, f'[hospital]\ntransport = "fhir"\nurl = "{url}"\ntimeout_s = 2.0\n')
    run = demo(tmp_path, cfg, "--send-samples")
    assert run.returncode == 9, run.stdout + run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("kiosk: Not every sample reached the hospital system")


def test_send_samples_without_a_hospital_system_is_a_usage_error(tmp_path):
    run = demo(tmp_path, config(tmp_path, ""), "--send-samples")
    assert run.returncode == 2
    assert run.stderr.strip() == ("kiosk: There is nowhere to send the samples: hospital.transport is none in "
                                  "the config.")
    assert not (tmp_path / "out").exists(), "refused before anything was written"


# --- everything else that is not a real check-in ------------------------------------------------------------

def test_a_sample_print_says_sample_on_the_paper(tmp_path):
    cfg = config(tmp_path, "")
    with NetPrinter() as printer:
        run = subprocess.run([KIOSK, "print", "ticket", "--sample", "--printer", printer.uri, "--config", str(cfg)],
                             capture_output=True, text=True, timeout=60, env=env())
        printer.wait_idle()
        printed = decode(printer.connections[0]).text
    assert run.returncode == 0, run.stderr
    assert "Sample, not a real admission" in printed and "A-000" in printed
    assert not (tmp_path / "data").exists(), "a sample print stores nothing"


def _check_in(kiosk: CheckIn, event) -> object:
    kiosk.handle(Start())
    kiosk.handle(event)
    if kiosk.state is State.ENTER_NAME:
        kiosk.handle(NameEntered("Doe", "Jane", "14.07.1980"))
    kiosk.handle(DetailsConfirmed())
    [save] = kiosk.handle(ConsentGiven(True))
    return save.admission


def test_a_simulated_readers_card_makes_test_data_and_a_patient_who_types_does_not():
    reader = SimulatedReader(sample_cards(), read_s=0)
    read = []
    reader.on_card_read = read.append
    reader.start()
    reader.insert().join(5)
    [card] = read
    assert card.sample, "whatever card a simulated reader plays, it is a sample"
    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=FORM)
    assert _check_in(kiosk, CardRead(card)).test_data
    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=FORM)
    assert not _check_in(kiosk, ChooseName()).test_data, "a typed name on a real kiosk is a patient"
    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=FORM, test_data=True)
    assert _check_in(kiosk, ChooseName()).test_data, "in the demo, everyone is a sample"


@pytest.mark.parametrize("test_data", [True, False])
def test_fhir_bundle_and_hl7_message_mark_test_data_and_only_test_data(test_data):
    from dataclasses import replace
    from datetime import UTC, datetime

    kiosk = CheckIn(kiosk_id="lobby-1", languages=("en",), form=FORM)
    admission = replace(_check_in(kiosk, CardRead(sample_cards()[0])), queue_number="A-001", test_data=test_data)
    bundle = fhir.transaction(admission)
    labels = [HTEST in (entry["resource"].get("meta") or {}).get("security", []) for entry in bundle["entry"]]
    assert labels == [test_data] * len(bundle["entry"])
    from fhir.resources.R4B.bundle import Bundle
    Bundle.model_validate(json.loads(json.dumps(bundle)))           # still a valid Bundle with its labels
    message = hl7v2.adt(admission, "K1", hl7v2.Hl7Options(), sent_at=datetime.now(UTC))
    assert str(hl7.parse(message.replace("\n", "\r")).segment("MSH")(11)) == ("T" if test_data else "P")
