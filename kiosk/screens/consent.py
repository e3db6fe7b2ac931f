from kivy.properties import BooleanProperty, StringProperty

from kiosk.checkin.events import ConsentGiven
from kiosk.screens.common import KioskScreen
from kiosk.screens.signature import SignaturePad  # noqa: F401  (registers the widget consent.kv uses)


class ConsentScreen(KioskScreen):
    """The consent text (the site's own, or the kiosk's standard wording), a signature pad when the site
    asks for one, and agree or decline: either way the check-in is completed and the answer recorded,
    with which text was shown."""

    site_text = StringProperty("")       # the site's text in the patient's language ("" = standard wording)
    signature = BooleanProperty(True)    # patients who agree sign first

    def show(self, flow) -> None:
        super().show(flow)
        self.site_text = flow.consent_text
        self.signature = flow.consent_signature

    def agree(self) -> None:
        pad = self.ids.pad
        strokes, size = (pad.signature(), pad.pixel_size()) if self.signature else ((), (0, 0))
        self.send(ConsentGiven(True, self.ids.consent_text.text, strokes, size))

    def decline(self) -> None:
        self.send(ConsentGiven(False, self.ids.consent_text.text))

    def on_leave(self, *_args) -> None:
        self.ids.pad.clear()        # nothing of the signature stays behind on a screen no one sees


SCREEN = ConsentScreen
