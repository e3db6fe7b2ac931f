"""Address and phone as the patient corrects them on the confirm screen (pure: no Kivy, no I/O).

The card's data stays as it was read (``Session.person``); a ``Correction`` says what the patient typed
instead and which fields that changed, so the admission can carry both the corrected values and the
names of the patient-entered fields for staff to verify (``Admission.patient_entered``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kiosk.messages import N_
from kiosk.checkin.model import Address, Person

MSG_ADDRESS_INCOMPLETE = N_("Please enter the street with the house number and the city, "
                            "or leave all the address fields empty.")
MSG_POSTAL_CODE = N_("Please check the postal code: it has 4 to 10 letters or digits.")
MSG_PHONE = N_("Please check the phone number: 6 to 20 digits, for example 0151 2345678.")

FIELDS = ("address", "phone")       # what a patient may correct; these names go on the admission
DRAFT_FIELDS = ("street", "postal_code", "city", "phone")    # the text fields of the correct screen

_POSTAL_CODE = re.compile(r"[A-Za-z0-9 -]{4,10}")
_PHONE = re.compile(r"[0-9 +\-/()]{6,20}")


@dataclass(frozen=True)
class Correction:
    """What the patient typed, and which of ``FIELDS`` differ from what the card (or name entry) gave."""

    address: Address | None
    phone: str
    fields: tuple[str, ...]


def _clean(text: str) -> str:
    return " ".join(text.split())


def _same_address(old: Address | None, lines: tuple[str, ...], postal_code: str, city: str) -> bool:
    """Whether what was typed (cleaned) is the card's address as the correct screen showed it."""
    if old is None:
        return not (lines or postal_code or city)
    old_lines = tuple(line for line in (_clean(x) for x in old.lines) if line)
    return (", ".join(lines), postal_code, city) == (", ".join(old_lines), _clean(old.postal_code).upper(),
                                                     _clean(old.city))


def correct(person: Person, lines: tuple[str, ...], postal_code: str, city: str,
            phone: str) -> tuple[Correction | None, str]:
    """Check what was typed against ``person`` (as read): ``(correction, "")``, or ``(None, msgid)`` saying
    what to fix. Only what the patient changed is checked: a card's address or phone left as it was is
    taken as it is, even when the checks would refuse it (a Postfach without a city, a foreign postal
    code). Unchanged values keep their original form (a card's several address lines, its country); a
    correction whose ``fields`` is empty changes nothing."""
    lines = tuple(line for line in (_clean(x) for x in lines) if line)
    postal_code, city, phone = _clean(postal_code).upper(), _clean(city), _clean(phone)
    old = person.address
    if _same_address(old, lines, postal_code, city):
        address = old
    else:
        if lines or postal_code or city:
            if not lines or not city:
                return None, MSG_ADDRESS_INCOMPLETE
            if not _POSTAL_CODE.fullmatch(postal_code):
                return None, MSG_POSTAL_CODE
        address = Address(lines, postal_code, city, old.country if old else "") if lines else None
    if phone == _clean(person.phone):
        phone = person.phone
    elif phone and not (_PHONE.fullmatch(phone) and sum(c.isdigit() for c in phone) >= 6):
        return None, MSG_PHONE
    fields = tuple(name for name, changed in (("address", address is not old),
                                               ("phone", phone != person.phone)) if changed)
    return Correction(address, phone, fields), ""


def apply(person: Person | None, correction: Correction | None) -> Person | None:
    """``person`` with the patient's corrections, as the admission stores it."""
    if person is None or correction is None or not correction.fields:
        return person
    return replace(person, address=correction.address, phone=correction.phone)


def draft(person: Person) -> dict[str, str]:
    """The correct screen's fields, filled with ``person``'s address and phone."""
    a = person.address
    return {"street": ", ".join(a.lines) if a else "", "postal_code": a.postal_code if a else "",
            "city": a.city if a else "", "phone": person.phone}
