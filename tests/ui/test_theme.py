"""Every theme's text stays readable: WCAG contrast of at least 4.5:1 for every pair the screens use."""

import pytest

from kiosk.screens import theme


@pytest.mark.parametrize("name", list(theme.THEMES))
@pytest.mark.parametrize("text,background", theme.PAIRS)
def test_contrast_of_every_pair_in_every_theme(name, text, background):
    t = theme.THEMES[name]
    ratio = theme.contrast(getattr(t, text), getattr(t, background))
    assert ratio >= 4.5, f"{name}: {text} on {background} is {ratio:.2f}:1"


def test_the_contrast_formula():
    assert theme.contrast((0, 0, 0, 1), (1, 1, 1, 1)) == pytest.approx(21.0)
    assert theme.contrast((0.5, 0.5, 0.5, 1), (0.5, 0.5, 0.5, 1)) == pytest.approx(1.0)
    assert theme.contrast((0.467, 0.467, 0.467, 1), (1, 1, 1, 1)) == pytest.approx(4.48, abs=0.02)   # #777 on white


def test_every_colour_the_screens_use_is_in_a_pair():
    used = {name for pair in theme.PAIRS for name in pair}
    assert used == set(theme.colour_names())
