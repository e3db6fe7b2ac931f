from kivy.properties import StringProperty

from kiosk.screens.common import KioskScreen


class HelpScreen(KioskScreen):
    """Staff have been called; says why, and lets the patient go back."""

    reason = StringProperty("")

    def show(self, flow) -> None:
        super().show(flow)
        self.reason = flow.session.help_reason


SCREEN = HelpScreen
