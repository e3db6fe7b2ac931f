"""What goes on a queue ticket and on a wristband (pure). Printers turn a layout into ESC/POS bytes or a PNG.

The ticket carries no birth date or insurance number, and by default no name either: tickets get
left on chairs, and the queue number exists so that nobody's name is called out in the lobby. Staff
find the admission from the queue number or the QR code (the admission id). The wristband is worn,
so it carries the identifiers a nurse checks: name and birth date, plus a patient number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from kiosk.i18n import Catalogs, format_birth_date, format_moment
from kiosk.model import Admission, Person


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


@dataclass(frozen=True)
class WristbandLayout:
    """A patient band, read along its length: the name first, then the birth date and patient number,
    a CODE128 barcode of the patient number and a QR code that holds all the identifiers."""

    admission_id: str
    name: str                    # "Müller, Jürgen Hans": family name first, as printed on the card
    birth_date: str              # "Date of birth: 21 March 1958", in the admission's language
    number: str                  # "Patient no. X110611111"
    barcode: str                 # CODE128 content: the patient number alone
    qr: str                      # the identifiers, one "KEY:value" per line


def ticket(admission: Admission, translate: Callable[[str], str], when: str, *,
           show_name: bool = False) -> TicketLayout:
    """The queue ticket for a stored admission.

    :param translate: gettext for the admission's language
    :param when: the check-in time, already formatted for that language
    :param show_name: print the patient's name under the number (a site's choice; off by default)
    """
    _ = translate
    name = (Line(full_name(admission.person), bold=True),) if show_name and admission.person.family else ()
    return TicketLayout(
        admission_id=admission.id,
        queue_number=admission.queue_number,
        lines=(
            Line(_("Your number"), "large"),
            Line(admission.queue_number, "huge", bold=True),
            *name,
            Line(_("Please take a seat in the waiting area. We will call your number.")),
            Line(when),
            Line(admission.kiosk_id),
        ),
        qr=f"ADMISSION:{admission.id}",
    )


def ticket_for(admission: Admission, catalogs: Catalogs, *, show_name: bool = False) -> TicketLayout:
    """The ticket in the admission's own language, with its check-in time formatted for it."""
    lang = admission.language
    return ticket(admission, catalogs.translator(lang),
                  format_moment(datetime.fromisoformat(admission.created_at), lang), show_name=show_name)


def patient_number(admission: Admission) -> str:
    """The number on the band: the card's identifier (insurance or national number) when the patient
    checked in with a card, else the admission id, which staff look up the same way."""
    ids = admission.person.identifiers
    return ids[0].value if ids else admission.id


def full_name(person: Person) -> str:
    """Family name first ("Müller, Jürgen Hans"), spelled as on the card: no upper-casing, which would
    get Turkish dotted capitals and German sharp s wrong."""
    given = " ".join([*person.prefix, *person.given])
    return f"{person.family}, {given}" if given else person.family


def wristband(admission: Admission, translate: Callable[[str], str]) -> WristbandLayout:
    """The wristband for a stored admission; ``translate`` is gettext for its language."""
    _ = translate
    person = admission.person
    number = patient_number(admission)
    given = " ".join(person.given)
    return WristbandLayout(
        admission_id=admission.id,
        name=full_name(person),
        birth_date=_("Date of birth: {date}").format(date=format_birth_date(person.birth_date, admission.language))
        if person.birth_date else _("Date of birth: unknown"),
        number=_("Patient no. {number}").format(number=number),
        barcode=number,
        qr="\n".join([f"PID:{number}", f"NAME:{person.family}^{given}", f"DOB:{person.birth_date}",
                      f"ADMISSION:{admission.id}"]),
    )


def wristband_for(admission: Admission, catalogs: Catalogs) -> WristbandLayout:
    return wristband(admission, catalogs.translator(admission.language))
