from kiosk.screens.common import EntryScreen


class EnterNameScreen(EntryScreen):
    """Type first name, last name and date of birth."""

    fields = ("given", "family", "birth")


SCREEN = EnterNameScreen
