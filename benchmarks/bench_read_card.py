"""Card read: APDUs sent and time, the kiosk's reader beside a raw-pyscard baseline, in the same run.

Both read the same virtual card through the same pcscd + vpcd: the kiosk with ``Pcsc.read`` (connect
exclusively, recognise the card, parse), the baseline with plain pyscard calls that replay the minimal
APDU sequence for that card and parse nothing. Runs alternate so that machine noise hits both alike.
Targets: no more APDUs than the baseline; median time within 1.2x of the baseline.

    .venv/bin/python benchmarks/bench_read_card.py [--rounds N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from smartcard import scard  # noqa: E402
from cardfiles import beid_card, egk_card  # noqa: E402
from vcard import Vpcd  # noqa: E402

from kiosk.hardware.pcsc import Pcsc  # noqa: E402

READER = "Virtual PCD 00 00"


def ensure_pcscd() -> subprocess.Popen | None:
    """pcscd with the vpcd reader; started here (and returned, to stop) when none runs."""
    started = None
    if subprocess.run(["pgrep", "-x", "pcscd"], stdout=subprocess.DEVNULL).returncode != 0:
        binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
        started = subprocess.Popen([binary, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pcsc = Pcsc([READER])
            found = pcsc.readers()
            pcsc.close()
            if found:
                return started
        except Exception:      # noqa: BLE001 - pcscd still starting
            pass
        time.sleep(0.2)
    raise SystemExit("pcscd with the vpcd reader did not come up (make test installs pcscd and vsmartcard-vpcd)")


def raw_transmit(card, protocol, apdu: list[int]) -> tuple[list[int], int]:
    hresult, response = scard.SCardTransmit(card, protocol, apdu)
    assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
    return response[:-2], (response[-2] << 8) | response[-1]


def baseline_egk(card, protocol) -> None:
    """The eGK read sequence of gemLF_Impl_eGK, with the length reads folded into the first chunk."""
    t = lambda apdu: raw_transmit(card, protocol, apdu)  # noqa: E731
    t([0x00, 0xA4, 0x04, 0x0C, 0x06, 0xD2, 0x76, 0x00, 0x00, 0x01, 0x02])
    t([0x00, 0xB0, 0x8C, 0x00, 0x19])
    for sfi in (0x81, 0x82):
        first, _ = t([0x00, 0xB0, sfi, 0x00, 0xFC])
        if sfi == 0x81:
            end = 2 + ((first[0] << 8) | first[1])
        else:
            end = ((first[2] << 8) | first[3]) + 1
        offset = len(first)
        while offset < end:
            data, _ = t([0x00, 0xB0, offset >> 8, offset & 0xFF, min(0xFC, end - offset)])
            offset += len(data)


def baseline_beid(card, protocol) -> None:
    """The Belgian eID read: select by path, READ with Le=FC, resend with the Le of 6Cxx."""
    t = lambda apdu: raw_transmit(card, protocol, apdu)  # noqa: E731
    for select in ([0x00, 0xA4, 0x08, 0x0C, 0x06, 0x3F, 0x00, 0xDF, 0x01, 0x40, 0x31],
                   [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x40, 0x33]):
        t(select)
        _, sw = t([0x00, 0xB0, 0x00, 0x00, 0xFC])
        if sw >> 8 == 0x6C:
            t([0x00, 0xB0, 0x00, 0x00, sw & 0xFF])


def run_baseline(read) -> None:
    _, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    hresult, card, protocol = scard.SCardConnect(context, READER, scard.SCARD_SHARE_EXCLUSIVE,
                                                 scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
    assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
    try:
        read(card, protocol)
    finally:
        scard.SCardDisconnect(card, scard.SCARD_UNPOWER_CARD)
        scard.SCardReleaseContext(context)


def run_kiosk() -> None:
    pcsc = Pcsc([READER])
    try:
        pcsc.read(READER)
    finally:
        pcsc.close()


def measure(make_card, baseline, rounds: int) -> dict:
    card = make_card()
    times = {"kiosk": [], "baseline": []}
    apdus = {}
    with Vpcd(card):
        pcsc = Pcsc([READER])
        deadline = time.monotonic() + 10
        while not any(slot.present for slot in pcsc.wait(200)):     # until pcscd sees the card
            if time.monotonic() > deadline:
                raise SystemExit("pcscd never saw the virtual card")
        pcsc.close()
        for i in range(rounds * 2):
            who = ("kiosk", "baseline")[(i + i // 2) % 2]      # k b b k k b ...: neither always goes first
            before = len(card.apdus)
            start = time.perf_counter()
            run_kiosk() if who == "kiosk" else run_baseline(baseline)
            times[who].append(time.perf_counter() - start)
            apdus[who] = len(card.apdus) - before
    return {"apdus": apdus, "median_ms": {k: statistics.median(v) * 1000 for k, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="reads per side and card (default 15)")
    args = parser.parse_args()
    started = ensure_pcscd()
    try:
        rows = [(name, measure(make, base, args.rounds))
                for name, make, base in (("eGK", egk_card, baseline_egk), ("Belgian eID", beid_card, baseline_beid))]
    finally:
        if started:
            started.terminate()
            started.wait(10)
    print("| card read | APDUs kiosk | APDUs baseline | median kiosk | median baseline | ratio |")
    print("|---|---|---|---|---|---|")
    ok = True
    for name, r in rows:
        ratio = r["median_ms"]["kiosk"] / r["median_ms"]["baseline"]
        ok &= r["apdus"]["kiosk"] <= r["apdus"]["baseline"] and ratio <= 1.2
        print(f"| {name} | {r['apdus']['kiosk']} | {r['apdus']['baseline']} | {r['median_ms']['kiosk']:.1f} ms "
              f"| {r['median_ms']['baseline']:.1f} ms | {ratio:.2f}x |")
    print(f"targets (APDUs <= baseline, time <= 1.2x): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
