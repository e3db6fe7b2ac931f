"""The scripted check-in walk: a patient with a card goes from the welcome screen through identify, confirm,
the questions and consent to done, by touch on the real screens (``kiosk.screens.demo.Pilot``). ``kiosk
demo``, the UI scripts and the benchmarks all walk it here; each phase is a function of its own for a script
that does something else on the way (corrects the details, types the answers, signs in its own way...).

With ``shots`` a prefix, each screen passed is photographed as ``<shots>-NN-<screen>.png``, numbered in order.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Sequence

from kiosk.checkin.model import CardData
from kiosk.checkin.session import State
from kiosk.hardware.printer import PrintOutcome

# What the scripted patients type into questions that take text (a demo, not a diagnosis).
DEMO_TYPED = {"string": "0151 2345678", "text": "-", "integer": "1", "decimal": "1.5", "date": "01.01.2000"}


async def answer_question(app, pilot, question) -> None:
    """The first option (ticked, then Continue, when the question repeats), "yes", or a sample answer
    typed into the field (then Continue)."""
    if question.type == "boolean":
        await pilot.tap("answer:True")
    elif question.options:
        await pilot.tap(f"answer:{question.options[0].code}")
        if question.repeats:               # the button ticks; Continue answers
            await pilot.tap("continue")
    else:
        field = app.frame.manager.current_screen.ids.typed
        await pilot.frames(3)
        if not field.focus:                # normally it has the keyboard already
            await pilot.touch(*field.to_window(*field.center))
        field.insert_text(DEMO_TYPED[question.type])
        field.focus = False
        await pilot.frames(2)
        await pilot.tap("continue")


def printing_ended(status: str) -> bool:
    """Every print of the admission has ended (or there is none)."""
    return status != PrintOutcome.PRINTING


async def to_confirm(app, pilot, card: CardData | None = None, *, language: str = "", looks: Sequence[str] = (),
                     card_on_welcome: bool = False, shots: str = "") -> None:
    """From the welcome screen to the confirm screen with ``card`` (None: the reader's next sample card).

    :param language: tapped on the welcome screen first ("": the language shown)
    :param looks: the look buttons tapped on the welcome screen (``large_text``, ``high_contrast``)
    :param card_on_welcome: the card goes in on the welcome screen, without a tap on Start
    """
    await pilot.wait_state(State.WELCOME)
    if language:
        await pilot.tap(f"language:{language}")
    for look in looks:
        await pilot.tap(look)
    if shots:
        await pilot.shot(f"{shots}-01-welcome")
    if not card_on_welcome:
        await pilot.tap("start")
        await pilot.wait_state(State.IDENTIFY)
        if shots:
            await pilot.shot(f"{shots}-02-identify")
    app.reader.insert(card)
    await pilot.wait_state(State.CONFIRM)
    if shots:
        await pilot.shot(f"{shots}-03-confirm")


async def to_consent(app, pilot, *, answer: Callable[..., Awaitable[None]] = answer_question,
                     shots: str = "") -> int:
    """From the confirm screen ("Yes, that's me") through every question to the consent screen;
    ``await answer(app, pilot, question)`` answers the one on screen. Returns the number of the next shot."""
    await pilot.tap("details_confirmed")
    step = 4
    while app.flow.state is State.QUESTIONS:
        q = app.flow.question
        if shots:
            await pilot.shot(f"{shots}-{step:02d}-question-{q.link_id}")
        await answer(app, pilot, q)
        step += 1
    await pilot.wait_state(State.CONSENT)
    return step


async def consent(app, pilot, *, sign: bool | None = None, agree: bool = True,
                  printed: Callable[[str], bool] = printing_ended, shots: str = "", step: int = 4) -> None:
    """On the consent screen: sign, agree (or decline), and wait for the done screen and for ``printed`` to
    hold of the admission's print status.

    :param sign: draw a signature with a finger first (None: when the site asks for one)
    """
    await pilot.wait_state(State.CONSENT)
    if app.flow.consent_signature if sign is None else sign:
        await pilot.sign()
    if shots:
        await pilot.shot(f"{shots}-{step:02d}-consent")
    await pilot.tap("consent_accepted" if agree else "consent_declined")
    await pilot.wait_for(lambda: app.flow.state is State.DONE and printed(app.flow.session.print_status),
                         "the done screen and its prints")
    if shots:
        await pilot.shot(f"{shots}-{step + 1:02d}-done")


async def check_in(app, pilot, card: CardData | None = None, *, language: str = "", looks: Sequence[str] = (),
                   card_on_welcome: bool = False, answer: Callable[..., Awaitable[None]] = answer_question,
                   sign: bool | None = None, agree: bool = True, printed: Callable[[str], bool] = printing_ended,
                   shots: str = "") -> None:
    """One patient from the welcome screen to the done screen: ``to_confirm``, ``to_consent`` and ``consent``
    with these options (see there). The patient is left on the done screen: "finish" is the caller's."""
    await to_confirm(app, pilot, card, language=language, looks=looks, card_on_welcome=card_on_welcome, shots=shots)
    step = await to_consent(app, pilot, answer=answer, shots=shots)
    await consent(app, pilot, sign=sign, agree=agree, printed=printed, shots=shots, step=step)
