from kivy.clock import Clock
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty

from kiosk.screens import keyboards
from kiosk.checkin.events import Answered, Ticked
from kiosk.screens.common import KioskButton, KioskScreen, clear


class QuestionsScreen(KioskScreen):
    """One intake question at a time: yes/no and choices as large buttons, everything else typed
    into a field (an open choice offers both), with the group's text above it."""

    progress = StringProperty("")
    group = StringProperty("")
    question = StringProperty("")
    typed = BooleanProperty(False)        # the question takes a typed answer
    several = BooleanProperty(False)      # the question repeats: its buttons tick, Continue answers
    hint = StringProperty("")
    keyboard_layout = StringProperty("text")   # the on-screen keyboard for the question's type
    input_filter = ObjectProperty(None, allownone=True)    # what the field accepts (None: any text)
    _shown = ""                           # the question the field was filled for
    _ticked: tuple = ()                   # the flow's ticks on a question that takes several

    def show(self, flow) -> None:
        super().show(flow)
        s, q, _ = flow.session, flow.question, self.tr._
        self.progress = _("Question {number} of {total}").format(number=s.question_index + 1,
                                                                   total=len(flow.questions()))
        self.group = flow.form.find(q.group).text(s.language) if q.group else ""
        self.question = q.text(s.language)
        self.typed = q.type not in ("boolean", "choice")
        self.keyboard_layout = keyboards.FOR_QUESTION.get(q.type, "text")
        self.input_filter = _ACCEPTS.get(q.type)
        self.hint = {"date": _("day.month.year"), "open-choice": _("Or type your answer")}.get(q.type, "")
        if q.type == "boolean":
            answers = [(True, _("Yes")), (False, _("No"))]
        else:
            answers = [(o.code, o.text(s.language)) for o in q.options]
        self.several = q.repeats and bool(q.options)
        answer = s.answers.get(q.link_id)
        chosen = set(s.ticked) if self.several else {answer}
        self._ticked = s.ticked
        box = self.ids.answers
        clear(box)
        for value, text in answers:
            button = KioskButton(text=text, action=f"answer:{value}",
                                 style="primary" if value in chosen else "secondary")
            event = Ticked(value) if self.several else Answered(value)
            button.bind(on_release=lambda _b, event=event: self.send(event))
            box.add_widget(button)
        if q.link_id != self._shown:       # a new question: its field shows its own answer, if any
            self._shown = q.link_id
            field = self.ids.typed
            codes = {o.code for o in q.options}
            given = answer if isinstance(answer, tuple) else (answer,)
            field.text = next((str(a) for a in given if a is not None and a not in codes), "")
            if self.typed and not q.options:   # the keyboard is up at once: no tap into the field first
                Clock.schedule_once(lambda _dt: setattr(field, "focus", True))

    def several_answer(self) -> tuple:
        """A repeating question's answers: the options ticked (kept by the flow) and what was typed."""
        typed = self.ids.typed.text
        return (*self._ticked, typed) if self.typed and typed.strip() else self._ticked


_ACCEPTS = {kind: keyboards.accepting(characters) for kind, characters in keyboards.ACCEPTS.items()}

SCREEN = QuestionsScreen
