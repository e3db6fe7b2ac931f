from kiosk.screens.common import KioskScreen


class ConsentScreen(KioskScreen):
    """Agree or decline; either way the check-in is completed and the answer recorded."""


SCREEN = ConsentScreen
