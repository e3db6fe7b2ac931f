from kiosk.screens.common import EntryScreen


class EnterCodeScreen(EntryScreen):
    """Type the appointment code from the invitation letter."""

    fields = ("code",)


SCREEN = EnterCodeScreen
