from kiosk.screens.common import KioskScreen


class EnterNameScreen(KioskScreen):
    """Type first name, last name and date of birth."""


SCREEN = EnterNameScreen
