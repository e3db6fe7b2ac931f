from kivy.properties import NumericProperty

from kiosk.screens.common import KioskScreen


class IdleWarningScreen(KioskScreen):
    """'Are you still there?' before the session is wiped."""

    seconds = NumericProperty(0)

    def show(self, flow) -> None:
        super().show(flow)
        self.seconds = flow.idle_warning_s


SCREEN = IdleWarningScreen
