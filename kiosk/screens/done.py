from kivy.properties import StringProperty

from kiosk.screens.common import KioskScreen


class DoneScreen(KioskScreen):
    """The queue number, and whether the ticket printed."""

    queue_number = StringProperty("")
    print_status = StringProperty("")

    def show(self, flow) -> None:
        super().show(flow)
        self.queue_number = flow.session.admission.queue_number
        self.print_status = flow.session.print_status


SCREEN = DoneScreen
