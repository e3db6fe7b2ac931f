"""``python -m kiosk.config`` (``make docs``): writes deploy/kiosk.example.toml and docs/configuration.md."""

from pathlib import Path

from kiosk.config.reference import example_toml, reference_markdown

root = Path(__file__).resolve().parents[2]
(root / "deploy" / "kiosk.example.toml").write_text(example_toml(), encoding="utf-8")
(root / "docs" / "configuration.md").write_text(reference_markdown(), encoding="utf-8")
