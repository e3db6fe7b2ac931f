"""The signature pad: the patient signs with a finger (its look is the ``<SignaturePad>`` rule in consent.kv).

Each touch that starts on the pad is one stroke: the points the finger passed through, kept as fractions
of the pad (x from the left, y from the bottom, 0..1) so that they survive a resize and can be drawn at
any size (``kiosk.checkin.signature.render_png``). The strokes are personal data: they live only in this widget
until the patient agrees, and ``clear`` forgets them.
"""

from __future__ import annotations

from kivy.graphics import Color, InstructionGroup, Line
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ColorProperty, ListProperty
from kivy.uix.widget import Widget

LINE_WIDTH_DP = 2.5


class SignaturePad(Widget):
    """A white area a finger draws on. ``strokes`` as fractions of the pad; ``signed`` once there is ink."""

    strokes = ListProperty()             # [[(x, y), ...], ...]
    signed = BooleanProperty(False)
    ink = ColorProperty([0, 0, 0, 1])

    def __init__(self, **kwargs):
        self._ink = InstructionGroup()
        self._drawn: list[Line] = []             # one line per stroke
        self._open: dict[object, int] = {}       # touch uid -> the stroke its finger is drawing
        super().__init__(**kwargs)
        self.canvas.add(self._ink)
        self.bind(pos=self._redraw, size=self._redraw, ink=self._redraw)
        self._redraw()

    # --- what the consent screen asks ---

    def clear(self) -> None:
        """Forget every stroke (the "Clear" button, and whenever the screen is left)."""
        self._open.clear()
        self.strokes = []
        self.signed = False
        self._redraw()

    def signature(self) -> tuple[tuple[tuple[float, float], ...], ...]:
        """The strokes as tuples of (x, y) fractions of the pad, for ``ConsentGiven``."""
        return tuple(tuple((float(x), float(y)) for x, y in stroke) for stroke in self.strokes if stroke)

    def pixel_size(self) -> tuple[int, int]:
        """The pad's size in pixels: the signature image is drawn at this size."""
        return round(self.width), round(self.height)

    # --- touches ---

    def on_touch_down(self, touch):
        if self.disabled or not self.collide_point(*touch.pos) or touch.is_mouse_scrolling:
            return super().on_touch_down(touch)
        touch.grab(self)
        self.strokes.append([self._relative(touch)])
        self._open[touch.uid] = len(self.strokes) - 1
        self._drawn.append(self._line(self.strokes[-1]))
        self.signed = True
        return True

    def on_touch_move(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_move(touch)
        index = self._open.get(touch.uid)
        if index is not None:
            point = self._relative(touch)
            self.strokes[index].append(point)
            self._drawn[index].points += self._absolute(point)
        return True

    def on_touch_up(self, touch):
        if touch.grab_current is not self:
            return super().on_touch_up(touch)
        touch.ungrab(self)
        self._open.pop(touch.uid, None)
        return True

    # --- drawing ---

    def _relative(self, touch) -> tuple[float, float]:
        x = (touch.x - self.x) / self.width if self.width else 0.0
        y = (touch.y - self.y) / self.height if self.height else 0.0
        return min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)

    def _absolute(self, point) -> list[float]:
        return [self.x + point[0] * self.width, self.y + point[1] * self.height]

    def _line(self, stroke) -> Line:
        points = [v for p in stroke for v in self._absolute(p)]
        if len(points) == 2:
            points = points * 2          # a tap is a dot
        line = Line(points=points, width=dp(LINE_WIDTH_DP), cap="round", joint="round")
        self._ink.add(line)
        return line

    def _redraw(self, *_args) -> None:
        self._ink.clear()
        self._ink.add(Color(*self.ink))
        self._drawn = [self._line(stroke) for stroke in self.strokes]
