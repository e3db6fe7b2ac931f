"""`kiosk read-card --json` through a real pcscd, with virtual cards played over the vpcd protocol."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cardfiles import (beid_card, beid_identity, egk_card, egk_pd_file, egk_pd_xml, egk_status_vd, egk_vd_file,
                       egk_vd_xml, unknown_card)
from vcard import Vpcd

from kiosk.hardware.pcsc import Watcher

KIOSK = str(Path(sys.executable).parent / "kiosk")
PERSONAL = ("Müller", "Lüdenscheidt", "Jürgen", "X110411675", "1958")


def read_card(pcscd, *extra, wait="10"):
    return subprocess.run([KIOSK, "read-card", "--json", "--reader", pcscd.reader_name, "--wait", wait, *extra],
                          capture_output=True, text=True, timeout=60)


def test_egk_is_read_into_the_documented_shape(pcscd):
    with Vpcd(egk_card(status=egk_status_vd())):
        run = read_card(pcscd)
    assert run.returncode == 0, run.stderr
    card = json.loads(run.stdout)
    assert card["card"] == "egk" and card["atr"] == "3BD396FF81B1FE451F078081052D"
    patient = card["patient"]
    assert patient["resourceType"] == "Patient"
    assert patient["identifier"] == [{"system": "http://fhir.de/sid/gkv/kvid-10", "value": "X110411675"}]
    assert patient["name"] == [{"family": "Müller-Lüdenscheidt", "given": ["Jürgen", "Heinz"]}]
    assert patient["gender"] == "male" and patient["birthDate"] == "1958-03-21"
    coverage = card["coverage"]
    assert coverage["payor"] == [{"identifier": {"system": "http://fhir.de/sid/arge-ik/iknr", "value": "109500969"},
                                  "display": "Test GKV"}]
    assert coverage["subscriberId"] == "X110411675" and coverage["period"] == {"start": "2020-01-01"}
    assert card["warnings"] == []
    for word in PERSONAL:
        assert word not in run.stderr


def test_egk_of_schema_5_1_with_name_parts_and_partial_birth_date(pcscd):
    pd = egk_pd_file(egk_pd_xml(version="5.1", given="Anna-Lena", family="Berg", vorsatzwort="von",
                                namenszusatz="Freifrau", titel="Prof. Dr.", birth="19800700", sex="W"))
    with Vpcd(egk_card(pd=pd, vd=egk_vd_file(egk_vd_xml(version="5.1", end="20301231")))):
        run = read_card(pcscd)
    assert run.returncode == 0, run.stderr
    card = json.loads(run.stdout)
    assert card["patient"]["name"] == [{"family": "Freifrau von Berg", "given": ["Anna-Lena"],
                                        "prefix": ["Prof. Dr."]}]
    assert card["patient"]["birthDate"] == "1980-07" and card["patient"]["gender"] == "female"
    assert card["coverage"]["period"] == {"start": "2020-01-01", "end": "2030-12-31"}


def test_belgian_eid_is_read_into_the_documented_shape(pcscd):
    with Vpcd(beid_card()):
        run = read_card(pcscd)
    assert run.returncode == 0, run.stderr
    card = json.loads(run.stdout)
    assert card["card"] == "beid" and card["coverage"] is None
    patient = card["patient"]
    assert patient["identifier"][0]["system"] == "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin"
    assert patient["name"] == [{"family": "Dubois-Lefèvre", "given": ["Marie-Claire"]}]
    assert patient["birthDate"] == "1985-07-30" and patient["gender"] == "female"
    assert patient["address"][0]["country"] == "BE"


def test_a_wrong_check_digit_is_read_with_a_warning(pcscd):
    with Vpcd(egk_card(pd=egk_pd_file(egk_pd_xml(kvnr="X110411676")))):
        run = read_card(pcscd)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["warnings"] == ["KVNR check digit does not match"]


@pytest.mark.parametrize("card, code, words", [
    (unknown_card, 5, "not one the kiosk reads"),
    (lambda: egk_card(deactivated=True), 6, "deactivated"),
    (lambda: egk_card(pd=egk_pd_file(egk_pd_xml())[:-20]), 6, "cannot be used"),
    (lambda: beid_card(identity=beid_identity(raw={0x0C: b"31 FEB 1990"})), 6, "cannot be used"),
], ids=["payment-card", "deactivated-egk", "truncated-gzip", "impossible-birth-date"])
def test_cards_that_cannot_be_used_end_in_one_sentence_and_their_exit_code(pcscd, card, code, words):
    with Vpcd(card()):
        run = read_card(pcscd)
    assert run.returncode == code, run.stderr
    assert words in run.stderr and "Traceback" not in run.stderr and run.stdout == ""
    for word in (*PERSONAL, "Dubois", "Marie-Claire", "85073003"):
        assert word not in run.stderr                 # error sentences quote no card data


def test_card_pulled_out_during_the_read_exits_7(pcscd):
    card = egk_card()
    card.remove_after = 3
    with Vpcd(card):
        run = read_card(pcscd)
    assert run.returncode == 7, run.stderr
    assert "taken out during the read" in run.stderr


def test_no_card_exits_4_and_no_reader_exits_3(pcscd):
    run = read_card(pcscd, wait="1")
    assert run.returncode == 4 and "No card" in run.stderr
    run = subprocess.run([KIOSK, "read-card", "--json", "--reader", "No such reader", "--wait", "1"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 3 and "No such reader" in run.stderr


def test_the_watcher_reports_insert_read_and_removal(pcscd):
    events, seen = [], threading.Condition()

    def on_event(kind, *args):
        with seen:
            events.append((kind, *(a.card if hasattr(a, "card") else a for a in args)))
            seen.notify_all()

    def wait_for(n):
        with seen:
            assert seen.wait_for(lambda: len(events) >= n, timeout=15), events

    watcher = Watcher([pcscd.reader_name], on_event)
    watcher.start()
    try:
        with Vpcd(egk_card()):
            wait_for(2)
        wait_for(3)
        pulled = beid_card()
        pulled.remove_after = 2
        with Vpcd(pulled):
            wait_for(5)
    finally:
        watcher.stop()
    assert events[:5] == [("inserted",), ("read", "egk"), ("removed",), ("inserted",), ("removed",)]


def test_the_watcher_survives_a_pcscd_restart(pcscd):
    if not pcscd.started_here:
        pytest.skip("the running pcscd was not started by the tests, so they do not restart it")
    events, seen = [], threading.Condition()

    def on_event(kind, *args):
        with seen:
            events.append(kind)
            seen.notify_all()

    def wait_for(kind):
        with seen:
            assert seen.wait_for(lambda: kind in events, timeout=20), events
            events.clear()

    watcher = Watcher([pcscd.reader_name], on_event, retry_s=0.2)
    watcher.start()
    try:
        with Vpcd(egk_card()):
            wait_for("read")
        pcscd.restart()
        wait_for("fault")                      # it noticed pcscd going away...
        with Vpcd(egk_card()):
            wait_for("read")                   # ...and reads again once it is back
    finally:
        watcher.stop()
