from kivy.properties import StringProperty

from kiosk.hardware.printer import PrintOutcome
from kiosk.messages import N_
from kiosk.screens.common import KioskScreen

# What the patient reads under the number: (outcome, what the site prints) -> msgid.
MESSAGES = {
    (PrintOutcome.PRINTING, "ticket"): N_("Printing your ticket..."),
    (PrintOutcome.PRINTING, "wristband"): N_("Printing your wristband..."),
    (PrintOutcome.PRINTING, "both"): N_("Printing your ticket and wristband..."),
    (PrintOutcome.PRINTED, "ticket"):
        N_("Please take your ticket and wait in the waiting area. We will call your number."),
    (PrintOutcome.PRINTED, "wristband"):
        N_("Please take your wristband and put it on. Then wait in the waiting area; we will call your number."),
    (PrintOutcome.PRINTED, "both"):
        N_("Please take your ticket and your wristband, and put the wristband on. Then wait in the waiting area; we "
           "will call your number."),
    (PrintOutcome.UNCONFIRMED, "ticket"):
        N_("Please take your ticket. If none came out, go to the front desk and tell them your number."),
    (PrintOutcome.UNCONFIRMED, "wristband"):
        N_("Please take your wristband. If none came out, go to the front desk and tell them your number."),
    (PrintOutcome.UNCONFIRMED, "both"):
        N_("Please take your ticket and wristband. If something is missing, go to the front desk and tell them your "
           "number."),
    (PrintOutcome.FAILED, "ticket"):
        N_("Your ticket could not be printed. Please go to the front desk and tell them your number."),
    (PrintOutcome.FAILED, "wristband"):
        N_("Your wristband could not be printed. Please go to the front desk and tell them your number."),
    (PrintOutcome.FAILED, "both"):
        N_("Your ticket and wristband could not be printed. Please go to the front desk and tell them your number."),
    ("", "none"): N_("Please wait in the waiting area. We will call your number."),
}


def message(prints: dict[str, str]) -> str:
    """The sentence for these prints (kind -> status); a failed one tells the patient where to go."""
    failed = [kind for kind, status in prints.items() if status == PrintOutcome.FAILED]
    if failed:
        return MESSAGES[PrintOutcome.FAILED, "both" if len(failed) > 1 else failed[0]]
    for status in (PrintOutcome.PRINTING, PrintOutcome.UNCONFIRMED, PrintOutcome.PRINTED):
        if status in prints.values():
            return MESSAGES[status, "both" if len(prints) > 1 else next(iter(prints))]
    return MESSAGES["", "none"]


class DoneScreen(KioskScreen):
    """The queue number, and what to do with the ticket or wristband (or that it did not print)."""

    queue_number = StringProperty("")
    message = StringProperty("")

    def show(self, flow) -> None:
        super().show(flow)
        self.queue_number = flow.session.admission.queue_number
        self.message = message(flow.session.prints)


SCREEN = DoneScreen
