from kiosk.screens.common import KioskScreen


class EnterCodeScreen(KioskScreen):
    """Type the appointment code from the invitation letter."""


SCREEN = EnterCodeScreen
