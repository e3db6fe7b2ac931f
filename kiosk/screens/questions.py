from kivy.properties import StringProperty

from kiosk.events import Answered
from kiosk.screens.common import KioskButton, KioskScreen


class QuestionsScreen(KioskScreen):
    """One intake question at a time, each answer a large button."""

    progress = StringProperty("")
    question = StringProperty("")

    def show(self, flow) -> None:
        super().show(flow)
        s, q, _ = flow.session, flow.question, self.tr._
        self.progress = _("Question {number} of {total}").format(number=s.question_index + 1,
                                                                   total=len(flow.form.questions))
        self.question = q.text(s.language)
        if q.type == "boolean":
            answers = [(True, _("Yes")), (False, _("No"))]
        else:
            answers = [(o.code, o.text(s.language)) for o in q.options]
        box = self.ids.answers
        box.clear_widgets()
        for value, text in answers:
            button = KioskButton(text=text, action=f"answer:{value}",
                                 style="primary" if s.answers.get(q.link_id) == value else "secondary")
            button.bind(on_release=lambda _b, value=value: self.send(Answered(value)))
            box.add_widget(button)


SCREEN = QuestionsScreen
