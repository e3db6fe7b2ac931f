"""The staff mode screens (kiosk.desk.staffmode) and the out-of-service screen. Thin views like the patient
screens: ``show`` copies from the staff mode controller, a tap calls ``act(method, *args)`` with the
controller's method, which the app calls and then redraws, and "Leave" calls ``leave_staff()``. Queue
numbers only, no patient names."""

from __future__ import annotations

from typing import Callable

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from kiosk.screens.common import KioskButton, KioskScreen, clear
from kiosk.desk.staffmode import Screen, StaffMode


class StaffScreen(KioskScreen):
    """Base of the staff screens: ``mode`` is the controller, ``act`` calls one of its methods and redraws,
    ``leave_staff`` ends staff mode."""

    def __init__(self, mode: StaffMode, act: Callable[..., None], leave_staff: Callable[[], None], **kwargs):
        self.mode = mode
        self.act = act
        self.leave_staff = leave_staff
        super().__init__(**kwargs)

    def show(self, flow) -> None:
        self.notice = self.mode.notice.render(self.tr._)

    def forget(self) -> None:
        super().forget()
        self.act = lambda *_args: None        # a late tap on a screen no one sees does nothing
        self.leave_staff = lambda: None


class StaffSignInScreen(StaffScreen):
    def submit(self) -> None:
        name, pin = self.ids.name.text, self.ids.pin.text
        self.ids.pin.text = ""            # a PIN is typed again after every try, and never kept
        self.ids.pin.reset_undo()
        self.act(self.mode.sign_in, name, pin)


class StaffIncidentsScreen(StaffScreen):
    member = StringProperty("")
    status = StringProperty("")
    count = NumericProperty(0)
    out_of_service = BooleanProperty(False)

    def show(self, flow) -> None:
        super().show(flow)
        mode, _ = self.mode, self.tr._
        self.member = mode.member
        self.out_of_service = mode.out_of_service
        self.status = "\n".join(m.render(_) for m in mode.status)
        rows = mode.rows()
        shown = (self.tr.language, tuple((r["id"], r["status"], r["taken_by"]) for r in rows))
        if shown == getattr(self, "_shown", None):
            return                         # the same list: no rebuild under a finger
        self._shown = shown
        self.count = len(rows)
        box = self.ids.incidents
        clear(box)
        for row in rows:
            button = KioskButton(action=f"incident:{row['id']}", style="secondary", base_font=26,
                                 text="\n".join([_headline(row, _), *_said(row, _)]))
            button.bind(on_release=lambda _b, i=row["id"]: self.act(self.mode.open_incident, i))
            box.add_widget(button)


class StaffIncidentScreen(StaffScreen):
    sentence = StringProperty("")
    details = StringProperty("")
    facts = StringProperty("")

    def show(self, flow) -> None:
        super().show(flow)
        _ = self.tr._
        row = self.mode.selected_row()
        if row is None:
            self.sentence, self.details, self.facts = _("This incident is resolved."), "", ""
            clear(self.ids.actions)
            return
        self.sentence, *details = _said(row, _)
        self.details = "\n".join(details)
        self.facts = _headline(row, _)
        # What may be done about it: kiosk.desk.incidents.actions (the same rules as the desk page); resolving
        # has its own buttons below, with the note.
        mode = self.mode
        actions: list[tuple[str, str, Callable[[], tuple]]] = []    # button, label, (method, *args) at the tap
        for allowed in row["actions"]:
            if allowed == "take":
                actions.append(("staff_take", _("Take"), lambda: (mode.take,)))
            elif allowed.startswith("reprint:"):
                kind = allowed.split(":", 1)[1]
                label = _("Reprint ticket") if kind == "ticket" else _("Reprint wristband")
                actions.append((f"staff_reprint:{kind}", label, lambda kind=kind: (mode.reprint, kind)))
            elif allowed == "resend":
                actions.append(("staff_resend", _("Send again"), lambda: (mode.resend,)))
            elif allowed == "cancel":   # the note typed goes with it (onto the incidents it resolves)
                actions.append(("staff_cancel_admission", _("Cancel admission"),
                                lambda: (mode.cancel, self.ids.note.text)))
        shown = (self.tr.language, tuple(a[0] for a in actions))
        if shown == getattr(self, "_shown", None):
            return
        self._shown = shown
        box = self.ids.actions
        clear(box)
        for action, label, call in actions:
            button = KioskButton(action=action, style="secondary", base_font=26, text=label)
            button.bind(on_release=lambda _b, call=call: self.act(*call()))
            box.add_widget(button)


class StaffOutOfServiceScreen(KioskScreen):
    """Instead of the welcome screen while the kiosk is out of service: no Start, no card."""


def _said(row: dict, _) -> list[str]:
    """What the incident's kind and detail say (kiosk.desk.incidents), in the screen's language: the kind's
    sentence first, then the detail's lines."""
    return [message.render(_) for message in row["said"]]


def _headline(row: dict, _) -> str:
    parts = [row["queue_number"], _(row["severity"]), row["time"]]
    if row["status"] == "taken":
        parts.append(_("taken by {name}").format(name=row["taken_by"]))
    return " · ".join(p for p in parts if p)


SCREENS = {Screen.SIGN_IN: StaffSignInScreen, Screen.INCIDENTS: StaffIncidentsScreen,
           Screen.INCIDENT: StaffIncidentScreen}
