"""The house of ``kiosk/``: the layers of ``[tool.importlinter]`` in pyproject.toml hold (``make test`` runs
``lint-imports`` on the checkout), each contract fails when its guarantee is broken, and no module is over 400
lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KIOSK = ROOT / "kiosk"
MAX_LINES = 400
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def test_no_module_is_over_400_lines():
    over = {str(p.relative_to(ROOT)): n for p in sorted(KIOSK.rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not over, f"over {MAX_LINES} lines: {over}"


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache", "--no-logo", str(root / "pyproject.toml")], cwd=root,
                          capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


@pytest.fixture(scope="module")
def house(tmp_path_factory) -> Path:
    """A copy of the checkout's kiosk/ and pyproject.toml, for breaking."""
    root = tmp_path_factory.mktemp("house")
    shutil.copytree(KIOSK, root / "kiosk", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_house_keeps_its_contracts(house):
    done = lint(house)
    assert done.returncode == 0, done.stdout[-3000:]


# One broken guarantee each: (module, the import added to it, the contract that must fail).
BREAKS = [
    ("checkin/flow.py", "import kivy", "The check-in is pure"),
    ("checkin/model.py", "import sqlite3", "The check-in is pure"),
    ("hospital/fhir.py", "import kiosk.desk.staff", "know nothing of the screens or the desk"),
    ("store/__init__.py", "import kiosk.screens.theme", "know nothing of the screens or the desk"),
    ("screens/welcome.py", "import kiosk.store", "The screens reach neither"),
    ("screens/welcome.py", "import kiosk.hardware.pcsc", "The screens reach neither"),
    ("hospital/fhir.py", "import kiosk.app", "Only the command line imports the composition root"),
    ("hospital/fhir.py", "import kiosk.ops.metrics", "The packages form layers"),
    ("store/db.py", "import kiosk.hospital.fhir", "The packages form layers"),
    ("checkin/model.py", "import kiosk.hardware.layouts", "No import cycle"),
    ("hardware/escpos_lib.py", "import kiosk.hardware.escpos_printer", "No import cycle"),
]


@pytest.mark.parametrize("module, line, contract", BREAKS, ids=[f"{m}: {l}" for m, l, _ in BREAKS])
def test_a_broken_guarantee_fails_its_contract(house, module, line, contract):
    path = house / "kiosk" / module
    kept = path.read_text(encoding="utf-8")
    path.write_text(kept + f"\n{line}  # noqa\n", encoding="utf-8")
    try:
        done = lint(house)
    finally:
        path.write_text(kept, encoding="utf-8")
    assert done.returncode != 0, done.stdout[-3000:]
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, done.stdout[-3000:]
