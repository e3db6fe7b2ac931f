from kivy.properties import BooleanProperty, StringProperty

from kiosk.i18n import format_clock
from kiosk.screens.common import KioskScreen


class ArrivalScreen(KioskScreen):
    """A pre-check-in: "One moment" while the site service is asked, then "Is this you?" with what the
    patient recognises (given name, the family name's first letter, the appointment's time and place)."""

    found = BooleanProperty(False)
    greeting = StringProperty("")
    appointment = StringProperty("")

    def show(self, flow) -> None:
        super().show(flow)
        a = flow.session.arrival
        self.found = a is not None
        self.greeting = f"{a.given} {a.family_initial}." if a else ""
        when = format_clock(a.appointment_start, flow.session.language) if a and a.appointment_start else ""
        self.appointment = " · ".join(p for p in (when, a.location) if p) if a else ""


SCREEN = ArrivalScreen
