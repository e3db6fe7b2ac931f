"""Every coded value of every HL7 v2 message the kiosk sends is in its HL7 table (tests/support/hl7tables.py): the
A04 of each sample card and a typed name, for each patient class the config offers, the site's A05 of a
pre-check-in and its arrival's A04, sample patients' (MSH-11 T) and doctor's network check (NMQ^N01). A value
that is no table's (PID-8 MAENNLICH, PV1-2 X, an event A99) is found, so the check can fail."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
from hl7tables import table, violations

from kiosk.checkin.model import Admission, Person
from kiosk.config.sections import HospitalSettings
from kiosk.hardware.reader import sample_cards
from kiosk.hospital import hl7v2
from kiosk.hospital.hl7v2 import Hl7Options

SENT_AT = datetime(2026, 12, 8, 9, 30, tzinfo=timezone.utc)
CARDS = {card.card + ":" + card.person.family: card for card in sample_cards()} | {"typed name": None}
CLASSES = HospitalSettings.__dataclass_fields__["hl7_patient_class"].metadata["choices"]     # the config's


def admission(card) -> Admission:
    person, coverage = (card.person, card.coverage) if card else (
        Person("Yılmaz", ("Ayşe",), birth_date="1990-02-03", gender="female", phone="0151 2345678"), None)
    return Admission(id="00000000-0000-4000-8000-000000000001", kiosk_id="lobby-1",
                     created_at="2026-12-08T09:29:00+00:00", language="de",
                     identified_by=f"card:{card.card}" if card else "name", person=person, coverage=coverage)


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("patient_class", CLASSES)
def test_every_coded_value_sent_is_in_its_table(card, patient_class):
    options = Hl7Options(patient_class=patient_class)
    made = admission(CARDS[card])
    for gender in ("male", "female", "other", "unknown"):
        sent = replace(made, person=replace(made.person, gender=gender))
        messages = [hl7v2.adt(sent, "C1", options, sent_at=SENT_AT),
                    hl7v2.adt(replace(sent, test_data=True), "C2", options, sent_at=SENT_AT)]
        pre = replace(sent, precheck_id="inv-0001")
        messages += [hl7v2.adt(pre, "C3", options, sent_at=SENT_AT, pre_admit=True),
                     hl7v2.adt(pre, "C4", options, sent_at=SENT_AT)]
        for message in messages:
            assert violations(message) == [], message.replace("\r", "\n")
    assert violations(hl7v2.network_check(options, "C5", sent_at=SENT_AT)) == []


def test_the_tables_are_hl7_s():
    assert {"F", "M", "O", "U"} <= table("0001") and {"O", "E", "I", "P"} <= table("0004")
    assert {"A04", "A05", "A08"} <= table("0003") and {"NII", "NNxxx"} <= table("0203")


@pytest.mark.parametrize("wrong, found", [
    (("|M|", "|MAENNLICH|"), "PID-8 'MAENNLICH' not in table 0001"),
    (("PV1|1|O|", "PV1|1|X|"), "PV1-2 'X' not in table 0004"),
    (("ADT^A04^ADT_A01", "ADT^A99^ADT_A01"), "MSH-9.2 'A99' not in table 0003"),
    (("^NII", "^KVNR"), "PID-3.5 'KVNR' not in table 0203"),
    (("IN1|1|GKV|", "IN1|1|AOK|"), "IN1-2 'AOK' not in table GKV/PKV/BG"),
])
def test_a_value_no_table_has_is_found(wrong, found):
    card = next(c for c in CARDS.values() if c and c.coverage)
    message = hl7v2.adt(replace(admission(card), person=replace(card.person, gender="male")), "C1", Hl7Options(),
                        sent_at=SENT_AT)
    assert wrong[0] in message
    assert found in violations(message.replace(wrong[0], wrong[1], 1))
