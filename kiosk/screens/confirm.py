from datetime import datetime

from kivy.properties import StringProperty

from kiosk.i18n import format_birth_date, format_clock
from kiosk.screens.common import KioskScreen


class ConfirmScreen(KioskScreen):
    """The details from the card (or as typed), for the patient to confirm."""

    name = StringProperty("")
    birth_date = StringProperty("")
    address = StringProperty("")
    insurance = StringProperty("")
    appointment = StringProperty("")

    def show(self, flow) -> None:
        super().show(flow)
        s = flow.session
        person, coverage = s.person, s.coverage
        self.name = person.display_name
        self.birth_date = format_birth_date(person.birth_date, s.language) if person.birth_date else ""
        a = person.address
        self.address = ", ".join(p for p in (*a.lines, f"{a.postal_code} {a.city}".strip()) if p) if a else ""
        self.insurance = " · ".join(p for p in (coverage.payor_name, coverage.subscriber_id) if p) if coverage else ""
        found = s.appointment
        when = format_clock(datetime.fromisoformat(found.start), s.language) if found and found.start else ""
        self.appointment = " · ".join(p for p in (when, found.description) if p) if found else ""


SCREEN = ConfirmScreen
