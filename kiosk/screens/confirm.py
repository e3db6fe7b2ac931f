from kivy.properties import ListProperty, StringProperty

from kiosk.checkin import corrections

from kiosk.i18n import format_birth_date, format_clock
from kiosk.screens.common import KioskScreen, spoken_texts


class ConfirmScreen(KioskScreen):
    """The details from the card (or as typed), for the patient to confirm."""

    # Not "name": that is the Screen's own, by which the screen manager knows it (a patient's name must
    # not become a screen's).
    person_name = StringProperty("")
    birth_date = StringProperty("")
    address = StringProperty("")
    insurance = StringProperty("")
    appointment = StringProperty("")
    phone = StringProperty("")
    changed = ListProperty()          # fields the patient corrected: shown marked

    def show(self, flow) -> None:
        super().show(flow)
        s = flow.session
        person, coverage = corrections.apply(s.person, s.correction), s.coverage
        self.phone = person.phone
        self.changed = list(s.correction.fields) if s.correction else []
        self.person_name = person.display_name
        self.birth_date = format_birth_date(person.birth_date, s.language) if person.birth_date else ""
        a = person.address
        self.address = ", ".join(p for p in (*a.lines, f"{a.postal_code} {a.city}".strip()) if p) if a else ""
        self.insurance = " · ".join(p for p in (coverage.payor_name, coverage.subscriber_id) if p) if coverage else ""
        found = s.appointment
        when = format_clock(found.start, s.language) if found and found.start else ""
        self.appointment = " · ".join(p for p in (when, found.description) if p) if found else ""

    def spoken_details(self) -> str:
        """The details as read aloud when the patient asks for them: "Name: ...", one row a line."""
        rows = [w.parent for w in self.walk(restrict=True) if getattr(w, "personal", False)]
        return "\n".join(": ".join(texts) for row in rows if (texts := spoken_texts(row, personal=True)))


SCREEN = ConfirmScreen
