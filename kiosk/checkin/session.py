"""Where a patient is in the check-in (``State``) and what the kiosk knows of them so far (``Session``), pure."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from kiosk.checkin import corrections
from kiosk.checkin.model import Admission, Appointment, Coverage, Incident, Person, PreCheckIn


class State(enum.Enum):
    WELCOME = "welcome"
    IDENTIFY = "identify"
    ENTER_CODE = "enter_code"
    ENTER_NAME = "enter_name"
    CONFIRM = "confirm"
    CORRECT = "correct"
    ARRIVAL = "arrival"              # a pre-check-in: looked up, then "Is this you?"
    QUESTIONS = "questions"
    CONSENT = "consent"
    DONE = "done"
    HELP = "help"
    IDLE_WARNING = "idle_warning"


@dataclass
class Session:
    language: str
    person: Person | None = None
    coverage: Coverage | None = None
    identified_by: str = ""
    sample: bool = False                  # identified by a sample card (a simulated reader's)
    appointment_code: str = ""
    appointment: Appointment | None = None   # today's, found by the hospital system for a card patient
    arrival_asked: str = ""               # what the site service is being asked with: "code", a card's identifier value
    arrival: PreCheckIn | None = None     # the pre-check-in found, shown as "Is this you?"
    correction: corrections.Correction | None = None    # address/phone the patient changed on confirm
    answers: dict[str, Any] = field(default_factory=dict)
    draft: dict[str, str] = field(default_factory=dict)     # what is typed into the fields on screen
    ticked: tuple = ()                    # the answers ticked so far on a question that takes several
    question_index: int = 0
    reading: bool = False
    saving: bool = False
    admission: Admission | None = None
    prints: dict[str, str] = field(default_factory=dict)    # ticket/wristband -> printing | printed | unconfirmed | failed
    notice: str = ""                      # a sentence (msgid) for the patient on the current screen
    help_reason: str = ""                 # msgid shown on the help screen
    help_resume: State | None = None
    idle_resume: State | None = None
    pending: list[Incident] = field(default_factory=list)   # raised once the admission has an id

    @property
    def print_status(self) -> str:
        """All the admission's prints together: printing until each has ended, then the worst outcome."""
        for status in ("printing", "failed", "unconfirmed", "printed"):
            if status in self.prints.values():
                return status
        return ""
