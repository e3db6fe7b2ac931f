from kiosk.screens.common import EntryScreen


class CorrectScreen(EntryScreen):
    """Change the address or phone number shown on the confirm screen (filled with what it showed)."""

    fields = ("street", "postal_code", "city", "phone")


SCREEN = CorrectScreen
