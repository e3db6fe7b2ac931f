"""Staff mode on the real app (tests/ui/ui_incident_texts.py in a process of its own): every incident the kiosk
raises, in the list and on its own screen, said in each of the four languages through the catalogs;
an urgent incident raised before eight routine ones is at the top of the list."""

import incident_forms
import pytest
import uirun

from kiosk.desk import incidents
from kiosk.i18n import Catalogs
from kiosk.checkin.model import IncidentKind, Severity

LANGUAGES = ("de", "en", "tr", "fr")


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    _, [seen] = uirun.run("ui_incident_texts.py", tmp_path_factory.mktemp("incident-texts"))
    return seen


@pytest.mark.parametrize("language", LANGUAGES)
def test_staff_mode_says_every_incident_in_the_language_on_screen(seen, language):
    catalogs = Catalogs([language])
    shown = seen["languages"][language]
    assert set(shown["list"]) == set(seen["ids"]) and len(shown["incident"]) >= len(seen["ids"]) // len(LANGUAGES)
    assert set().union(*(seen["languages"][other]["incident"] for other in LANGUAGES)) == set(seen["ids"])
    assert {tuple(form) for form in seen["ids"].values()} == {tuple(form) for form in seen["forms"]}
    severity = catalogs.gettext(language, incidents.SEVERITY_TEXTS[Severity.MEDIUM])
    for incident, (kind, detail) in seen["ids"].items():
        expected = incidents.texts(kind, detail, catalogs.translator(language))
        headline, *said = shown["list"][incident].split("\n")
        assert said == expected and severity in headline, (language, kind, detail)
        if incident in shown["incident"]:
            sentence, details, facts = shown["incident"][incident]
            assert [sentence, *details.splitlines()] == expected and severity in facts, (language, kind, detail)
        if language != "en":
            assert incident_forms.english_in(expected, kind, detail) == [], (language, kind, detail)


def test_staff_mode_lists_an_urgent_incident_raised_before_eight_routine_ones_first(seen):
    routine = seen["routine"]
    medium = [incident for incident, severity in reversed(routine) if severity == "medium"]
    low = [incident for incident, severity in reversed(routine) if severity == "low"]
    assert seen["order"] == [seen["urgent"], *medium, *low]
    headline, sentence, *_ = seen["order_texts"][0].split("\n")
    assert "Urgent" in headline and sentence == incidents.KIND_TEXTS[IncidentKind.HOSPITAL_UNREACHABLE]
