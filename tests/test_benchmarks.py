"""Every benchmark in ``benchmarks/`` runs to the end at its smallest size, as ``make bench`` runs it on a fresh
clone: with nothing set in the environment (no store key, no PYTHONPATH of the tests), and prints its figures
beside its baseline. The figures themselves are not judged here (no timed assertions): that is the benchmark's
job, on a quiet machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

# The smallest size of each; bench_soak.py runs in tests/ops/test_soak.py (a short day with every fault).
SMALLEST = {
    "bench_read_card.py": ["--rounds", "1"],
    "bench_print.py": ["--rounds", "1"],
    "bench_sync.py": ["--admissions", "2"],
    "bench_taps.py": [],
    "bench_idle.py": ["--rounds", "2", "--idle-s", "1", "--settle-s", "0"],
    "bench_checkins.py": ["--patients", "20", "--timed", "1"],
    "bench_site.py": ["--patients", "2"],
    "bench_lobby.py": ["--displays", "2", "--staff", "1", "--calls", "2"],
}
RATIO = re.compile(r"\| \d+\.\d\dx \|")


def test_every_benchmark_is_run_here_or_by_the_soak_test():
    assert {p.name for p in BENCHMARKS.glob("bench_*.py")} == set(SMALLEST) | {"bench_soak.py"}


def test_make_bench_runs_every_benchmark():
    makefile = (BENCHMARKS.parent / "Makefile").read_text(encoding="utf-8")
    assert set(re.findall(r"benchmarks/(bench_\w+\.py)", makefile)) == set(SMALLEST) | {"bench_soak.py"}


@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_a_benchmark_runs_on_a_fresh_clone(name, request, tmp_path):
    if name == "bench_read_card.py":
        request.getfixturevalue("pcscd")         # the virtual reader it reads its cards from
    # Nothing set by hand; the checkout's own kiosk first, as the editable install of a fresh clone gives it.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(BENCHMARKS.parent)}
    done = subprocess.run([sys.executable, str(BENCHMARKS / name), *SMALLEST[name]], capture_output=True, text=True,
                          timeout=900, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    if name == "bench_taps.py":           # counts taps, beside the target in its docstring
        assert re.search(r"\| no-questions \| \d+ \|", done.stdout), done.stdout
        assert re.search(r"\| intake-basic, pre-checked \| 1 \| .* \| this_is_me \|", done.stdout), done.stdout
    else:
        assert RATIO.search(done.stdout), done.stdout


def test_the_soak_finds_its_helpers_and_pcscd_on_a_fresh_clone(pcscd, tmp_path):
    """What bench_soak.py takes from beside the tests, as `make bench` runs it (nothing set in the environment):
    its modules, the privacy check's needles (made after the day) and the pcscd with the vpcd reader.
    tests/ops/test_soak.py runs the day itself, under pytest, where more is on the path."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(BENCHMARKS.parent)}
    done = subprocess.run([sys.executable, "-c", "import bench_soak; bench_soak.needles(bench_soak.make_patients(2, 1)); "
                                                 "print(bench_soak._bench_pcscd().reader_name)"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=BENCHMARKS)
    assert done.returncode == 0 and done.stdout.strip() == pcscd.reader_name, done.stderr[-3000:]
