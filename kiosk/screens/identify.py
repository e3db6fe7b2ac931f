from kivy.properties import BooleanProperty

from kiosk.screens.common import KioskScreen


class IdentifyScreen(KioskScreen):
    """Insert a card, or choose another way to say who you are."""

    reading = BooleanProperty(False)

    def show(self, flow) -> None:
        super().show(flow)
        self.reading = flow.session.reading


SCREEN = IdentifyScreen
