"""What goes on a queue ticket and on a wristband (pure). Printers turn a layout into ESC/POS bytes or a PNG.

The ticket carries no birth date or insurance number, and by default no name either: tickets get
left on chairs, and the queue number exists so that nobody's name is called out in the lobby. Staff
find the admission from the queue number or the QR code (the admission id). The wristband is worn,
so it carries the identifiers a nurse checks: name and birth date, plus the hospital's own patient
number when the hospital system gave one (``Admission.patient_number``). A national number (the German
KVNR, the Belgian national number) is printed only where the site's config allows it
(``printer.wristband.national_ids``: the German and Belgian rules restrict its use), and then named for
what it is, never as a patient number. Nothing else identifies a patient on paper. Sample admissions
(``Admission.test_data``) say so on the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kiosk.i18n import Catalogs, format_birth_date, format_moment
from kiosk.messages import N_
from kiosk.checkin.model import KVNR_SYSTEM, SSIN_SYSTEM, Admission, Person
from kiosk import times

SAMPLE = N_("Sample, not a real admission")
# How the band names each number it may carry: the hospital's own, or a national one where allowed.
NUMBER_LABELS = {"hospital": N_("Patient no. {number}"), KVNR_SYSTEM: N_("Insurance no. {number}"),
                 SSIN_SYSTEM: N_("National no. {number}")}


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
    number: str                  # "Patient no. 4711": the number and what it is; "" when none may be printed
    barcode: str                 # CODE128 content: the number alone; "" when none
    qr: str                      # the identifiers, one "KEY:value" per line
    sample: str = ""             # "Sample, not a real admission" for test data


def ticket(admission: Admission, translate: Callable[[str], str], when: str, *,
           show_name: bool = False, queue: str = "") -> TicketLayout:
    """The queue ticket for a stored admission.

    :param translate: gettext for the admission's language
    :param when: the check-in time, already formatted for that language
    :param show_name: print the patient's name under the number (a site's choice; off by default)
    :param queue: the name of the queue the patient joined (the site's words, as configured), "" = none
    """
    _ = translate
    name = (Line(full_name(admission.person), bold=True),) if show_name and admission.person.family else ()
    queue_line = (Line(queue, "large", bold=True),) if queue else ()
    sample = (Line(_(SAMPLE), bold=True),) if admission.test_data else ()
    return TicketLayout(
        admission_id=admission.id,
        queue_number=admission.queue_number,
        lines=(
            *sample,
            *queue_line,
            Line(_("Your number"), "large"),
            Line(admission.queue_number, "huge", bold=True),
            *name,
            Line(_("Please take a seat in the waiting area. We will call your number.")),
            *((Line(_("The wait is about {minutes} minutes.").format(minutes=admission.wait_min)),)
              if admission.wait_min else ()),
            Line(when),
            Line(admission.kiosk_id),
        ),
        qr=f"ADMISSION:{admission.id}",
    )


def ticket_for(admission: Admission, catalogs: Catalogs, *, show_name: bool = False, queue: str = "") -> TicketLayout:
    """The ticket in the admission's own language, with its check-in time formatted for it."""
    lang = admission.language
    return ticket(admission, catalogs.translator(lang),
                  format_moment(times.moment(admission.created_at), lang), show_name=show_name, queue=queue)


def band_number(admission: Admission, national_ids: tuple[str, ...] = ()) -> tuple[str, str]:
    """(what the number is, the number) for the band: the hospital's own patient number when the hospital
    system gave one; else the first of the person's identifiers whose system ``national_ids`` allows; else
    ("", ""): nothing identifies the patient but name and birth date (and the admission, in the QR code)."""
    if admission.patient_number:
        return "hospital", admission.patient_number
    allowed = next((i for i in admission.person.identifiers if i.system in national_ids), None)
    return (allowed.system, allowed.value) if allowed else ("", "")


def full_name(person: Person) -> str:
    """Family name first ("Müller, Jürgen Hans"), spelled as on the card: no upper-casing, which would
    get Turkish dotted capitals and German sharp s wrong."""
    given = " ".join([*person.prefix, *person.given])
    return f"{person.family}, {given}" if given else person.family


def wristband(admission: Admission, translate: Callable[[str], str], *,
              national_ids: tuple[str, ...] = ()) -> WristbandLayout:
    """The wristband for a stored admission; ``translate`` is gettext for its language; ``national_ids``:
    the national identifier systems the site allows on bands (``printer.wristband.national_ids``)."""
    _ = translate
    person = admission.person
    kind, number = band_number(admission, national_ids)
    given = " ".join(person.given)
    return WristbandLayout(
        admission_id=admission.id,
        name=full_name(person),
        birth_date=_("Date of birth: {date}").format(date=format_birth_date(person.birth_date, admission.language))
        if person.birth_date else _("Date of birth: unknown"),
        number=_(NUMBER_LABELS[kind]).format(number=number) if number else "",
        barcode=number,
        qr="\n".join([*([f"PID:{number}"] if number else []), f"NAME:{person.family}^{given}",
                       f"DOB:{person.birth_date}", f"ADMISSION:{admission.id}"]),
        sample=_(SAMPLE) if admission.test_data else "",
    )


def wristband_for(admission: Admission, catalogs: Catalogs, *, national_ids: tuple[str, ...] = ()) -> WristbandLayout:
    return wristband(admission, catalogs.translator(admission.language), national_ids=national_ids)
