"""The soak benchmark (benchmarks/bench_soak.py) at a small size, every fault at least once.

Two kiosks (FHIR with the real PcscReader through pcscd and vpcd, HL7 v2 over MLLP with the simulated reader)
check in a short day of patients through the real screens while the fault schedule runs; the checks come from
the stores, the FHIR server, the MLLP receiver and the printers (see the benchmark's docstring).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_soak  # noqa: E402

PATIENTS = 32                # 16 per kiosk: enough for every fault of the schedule to get its own patients
# Resident memory of the kiosk over its longest stretch without a kill, from its 5th patient (every screen, form,
# language and the on-screen keyboard loaded by then): bench_checkins.py measures +0.0 MiB over 500 check-ins,
# and its target is under 10 MB more after 500; a short stretch of faults must stay within the same.
MEMORY_BOUND_MIB = 10.0

FAULTS = [
    "hospital system down for an hour (1/24 of the day)",
    "connections reset as requests arrive (2 per transport)",
    "slow answers within the timeout (0.5 s) for 1/48 of the day",
    "slow answers beyond the timeout (2.5 s) for 1/96 of the day",
    "FHIR 503 with Retry-After: 1 (3 answers)",
    "FHIR 429 with Retry-After: 2",
    "FHIR 500 after the server committed",
    "FHIR 422 refusal (set aside, sent again at the end)",
    "MLLP AR, the receiver busy (2 answers)",
    "MLLP AE refusal (set aside, sent again at the end)",
    "MLLP connection dropped after receipt",
    "MLLP ACK never sent (the kiosk times out)",
    "printer out of paper",
    "printer offline",
    "printer switched off",
    "printer silent (no status)",
    "card reader unplugged",
    "clock stepped 3 h ahead, then back",
    "disk nearly full (RLIMIT_FSIZE)",
    "kiosk killed at a random moment",
    "kiosk killed while saving (its admission written, its outbox row not yet, nothing committed)",
    "kiosk killed just after saving (committed, its ticket not yet started)",
    "kiosk killed while printing",
    "kiosk killed while delivering (its answer held back)",
    "sync killed at a random moment",
]


@pytest.fixture(scope="module")
def day(pcscd):
    return bench_soak.soak(PATIENTS, faults=True, pcscd=pcscd)


def test_every_fault_was_injected_and_met_the_kiosks(day, pcscd):
    expected = FAULTS + (["pcscd restarted"] if pcscd.started_here else [])
    assert [f for f in expected if not day["faults"][f]] == []
    assert day["notes"] == [], "every fault met a request, every delivery kill found its sender"
    # ... and had its effect: patients sent to the desk (disk), names typed (reader), resends, reprints.
    assert day["desk"] >= 1 and day["typed"] >= 1 and day["resends de-duplicated"] >= 1
    assert day["retried"] >= 1 and day["reprints"] and set(day["reprints"]) == {0}


def test_nothing_lost_and_nothing_duplicated(day):
    assert day["lost"] == [] and day["duplicated"] == [] and day["at the hospital but not stored"] == []
    assert day["check-ins"] + day["desk"] == PATIENTS, "every patient reached the done screen or the desk"
    assert day["settled"], "the kiosks delivered what they held once the faults ended"
    assert all(codes[-1] == 0 for codes in day["drains"].values())


def test_every_ticket_is_printed_reprinted_or_has_an_incident(day):
    assert day["unaccounted"] == []
    assert sum(day["tickets"].values()) == day["stored"]
    assert day["tickets"]["printed"] and day["tickets"]["reprinted"] and day["tickets"]["printer incident open"]


def test_no_personal_data_outside_the_store(day):
    assert day["leaks"] == {}
    assert day["probe"] == day["stored"], "the same search finds every stored patient at the hospital"


def test_memory_stays_flat_over_the_longest_stretch_without_a_kill(day):
    assert set(day["memory"]) == {"lobby-a", "lobby-b"}
    for stretch in day["memory"].values():
        assert stretch["patients"] >= 3
        assert stretch["to"] - stretch["from"] < MEMORY_BOUND_MIB, stretch
