"""The contracts the project keeps are in the repository (docs/), and what code and docs cite exists, so a
reader of the repository can follow every reference.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from kiosk.hardware.reader import sample_cards
from kiosk.checkin.model import IK_SYSTEM, KVNR_SYSTEM, SSIN_SYSTEM

ROOT = Path(__file__).resolve().parent.parent
# A Markdown file named in prose or code: "docs/cli.md", "[x](configuration.md)", "README.md".
CITED = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.md)\b")


def _tracked() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if name.endswith((".py", ".md", ".kv", ".toml", ".sh", ".js", ".html"))]


def test_every_markdown_file_cited_is_in_the_repository():
    """Every *.md a file of the repository names resolves: beside the citing file, in docs/, or at the top.
    A note outside the repository is one a reader cannot follow: cite the public sources it rests on."""
    missing = []
    for path in _tracked():
        if not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for name in CITED.findall(line):
                where = (path.parent / name, ROOT / "docs" / Path(name).name, ROOT / name)
                if not any(candidate.is_file() for candidate in where):
                    missing.append(f"{path.relative_to(ROOT)}:{n} cites {name}")
    assert not missing, "\n".join(missing)


def _documented_read_card_object() -> dict:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("## `kiosk read-card --json`", 1)[1].split("\n## ", 1)[0]
    return json.loads(section.split("```json", 1)[1].split("```", 1)[0])


def test_read_card_contract_in_docs_matches_what_the_command_prints():
    """docs/cli.md shows the object `kiosk read-card --json` prints: the same keys, and the identifier
    systems the card parsers write are the ones it names."""
    documented = _documented_read_card_object()
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for card in sample_cards():                    # the read-card shape (assets/demo/patients.json)
        printed = card.to_json()
        assert set(printed) == set(documented)
        assert printed["patient"]["resourceType"] == "Patient"
        assert printed["card"] in ("egk", "beid") and f"`{printed['card']}`" in text
    for system in (KVNR_SYSTEM, IK_SYSTEM, SSIN_SYSTEM):
        assert f"`{system}`" in text
