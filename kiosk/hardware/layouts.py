"""What goes on a queue ticket (pure). Printers turn a layout into ESC/POS bytes or a PNG.

The ticket carries no name or birth date: tickets get left on chairs. Staff find the admission
from the queue number or the QR code (the admission id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from kiosk.i18n import Catalogs, format_moment
from kiosk.model import Admission


@dataclass(frozen=True)
class Line:
    text: str
    size: str = "normal"        # normal | large | huge
    bold: bool = False


@dataclass(frozen=True)
class TicketLayout:
    admission_id: str
    queue_number: str
    lines: tuple[Line, ...]
    qr: str                      # printed as a QR code under the lines


def ticket(admission: Admission, translate: Callable[[str], str], when: str) -> TicketLayout:
    """The queue ticket for a stored admission.

    :param translate: gettext for the admission's language
    :param when: the check-in time, already formatted for that language
    """
    _ = translate
    return TicketLayout(
        admission_id=admission.id,
        queue_number=admission.queue_number,
        lines=(
            Line(_("Your number"), "large"),
            Line(admission.queue_number, "huge", bold=True),
            Line(_("Please take a seat in the waiting area. We will call your number.")),
            Line(when),
            Line(admission.kiosk_id),
        ),
        qr=f"ADMISSION:{admission.id}",
    )


def ticket_for(admission: Admission, catalogs: Catalogs) -> TicketLayout:
    """The ticket in the admission's own language, with its check-in time formatted for it."""
    lang = admission.language
    return ticket(admission, catalogs.translator(lang),
                  format_moment(datetime.fromisoformat(admission.created_at), lang))
