from kiosk.screens.common import KioskScreen


class WelcomeScreen(KioskScreen):
    """Choose a language and start, or just insert a card."""


SCREEN = WelcomeScreen
