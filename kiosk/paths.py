"""Where the kiosk's shipped files are."""

from pathlib import Path

# assets/ sits beside the package in the checkout and in the editable install that `make` does.
ASSETS = Path(__file__).resolve().parent.parent / "assets"
