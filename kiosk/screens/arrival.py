from datetime import date, datetime

from kivy.properties import BooleanProperty, StringProperty

from kiosk.i18n import format_appointment, format_clock
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
        when = _when(a.appointment_start, flow.session.language) if a and a.appointment_start else ""
        self.appointment = " · ".join(p for p in (when, a.location) if p) if a else ""


def _when(start: str, language: str) -> str:
    """The appointment's time today, or its day and time when it is another day (a patient who came early)."""
    try:
        moment = datetime.fromisoformat(start)
    except ValueError:
        return start
    return format_clock(start, language) if moment.astimezone().date() == date.today() else \
        format_appointment(moment, language)


SCREEN = ArrivalScreen
