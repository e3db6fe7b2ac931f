"""The site's queues ("Registration", "Blood tests"): which one a patient joins, from the appointment or the
intake answers, and how a queue number is written. Pure: the config (``[queues]``) hands in its lists.

A queue is ``<prefix> <name>``: the prefix goes before the number on the ticket (``B-017``), the name is
printed above it and shown to staff. A route is ``appointment: <text> -> <prefix>`` (the appointment's
location or description contains the text, in any case) or ``answer: <linkId> = <value> -> <prefix>``
(the intake answer to that question is, or for several choices includes, the value); the first route
that matches decides, and a patient no route matches joins the first queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.messages import shown

PREFIX_MAX, NAME_MAX = 4, 40


@dataclass(frozen=True)
class Queue:
    prefix: str
    name: str


@dataclass(frozen=True)
class Display:
    """A lobby display: the calls of ``queues`` (all when empty), announced in ``languages``."""
    name: str
    queues: tuple[str, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    kind: str                 # appointment | answer
    link_id: str              # the question (answer routes)
    text: str                 # what the appointment contains, or the answer's value
    prefix: str


def number(prefix: str, seq: int) -> str:
    """How a queue number is written: ``B-017``."""
    return f"{prefix}-{seq:03d}"


def parse_queue(entry: str) -> Queue:
    """``"B Blood tests"`` as a Queue. :raises ValueError: one sentence saying what is wrong"""
    prefix, _, name = entry.strip().partition(" ")
    name = name.strip()
    if not (0 < len(prefix) <= PREFIX_MAX and prefix.isalnum() and prefix.isascii()):
        raise ValueError(f"must start with a prefix of 1 to {PREFIX_MAX} letters or digits (A to Z, 0 to 9), then a "
                         f"space and the queue's name, e.g. 'B Blood tests', not {shown(entry)}")
    if not (0 < len(name) <= NAME_MAX and name.isprintable()):
        raise ValueError(f"must give the queue's name (1 to {NAME_MAX} printable characters) after its prefix, "
                         f"not {shown(entry)}")
    return Queue(prefix.upper(), name)


def parse_route(entry: str, prefixes: tuple[str, ...]) -> Route:
    """``"answer: reason = blood -> B"`` as a Route to one of ``prefixes``. :raises ValueError: a sentence"""
    example = "e.g. 'appointment: Laboratory -> B' or 'answer: reason = blood -> B'"
    rule, arrow, prefix = entry.rpartition("->")
    kind, colon, what = rule.partition(":")
    kind, what, prefix = kind.strip(), what.strip(), prefix.strip().upper()
    if not arrow or not colon or kind not in ("appointment", "answer") or not what:
        raise ValueError(f"must be 'appointment: <text> -> <queue prefix>' or 'answer: <question> = <value> -> <queue "
                         f"prefix>', {example}, not {shown(entry)}")
    if prefix not in prefixes:
        raise ValueError(f"leads to {prefix!r}, which is no queue of queues.names ({', '.join(prefixes)})")
    if kind == "appointment":
        return Route(kind, "", what.casefold(), prefix)
    link_id, equals, value = what.partition("=")
    if not equals or not link_id.strip() or not value.strip():
        raise ValueError(f"must name the question and the value: 'answer: <question> = <value> -> <queue prefix>', "
                         f"{example}, not {shown(entry)}")
    return Route(kind, link_id.strip(), value.strip().casefold(), prefix)


def parse_display(entry: str, prefixes: tuple[str, ...], languages: tuple[str, ...]) -> Display:
    """``"lobby: A B / de en"`` as a Display (queues and languages may be left out: every queue, and no
    language, which the display takes as the site's first). :raises ValueError: a sentence"""
    name, _, rest = entry.partition(":")
    name = name.strip()
    queue_part, slash, language_part = rest.partition("/")
    if not (0 < len(name) <= 40 and all(c.isalnum() or c in "-_" for c in name) and name.isascii()):
        raise ValueError(f"must start with the display's name (1 to 40 letters, digits, '-' or '_'), e.g. 'lobby: A B / "
                         f"de en', not {shown(entry)}")
    queues = tuple(q.upper() for q in queue_part.split())
    unknown = [q for q in queues if q not in prefixes]
    if unknown:
        raise ValueError(f"shows {unknown[0]!r}, which is no queue of queues.names ({', '.join(prefixes)})")
    spoken = tuple(language_part.split())
    wrong = [code for code in spoken if code not in languages]
    if wrong or (slash and not spoken) or len(set(spoken)) < len(spoken):
        raise ValueError(f"must announce in languages of {', '.join(languages)}, each once, not {shown(language_part.strip())}")
    return Display(name, queues, spoken)


def _is(answer: Any, value: str) -> bool:
    values = answer if isinstance(answer, (list, tuple)) else [answer]
    return any((("true" if v else "false") if isinstance(v, bool) else str(v)).casefold() == value for v in values)


class Queues:
    """The site's queues and routes, as ``[queues]`` gives them (already checked by the config)."""

    def __init__(self, names: tuple[str, ...], routes: tuple[str, ...] = ()):
        self.queues = tuple(parse_queue(entry) for entry in names)
        prefixes = tuple(q.prefix for q in self.queues)
        self.routes = tuple(parse_route(entry, prefixes) for entry in routes)
        self.by_prefix = {q.prefix: q for q in self.queues}

    def choose(self, appointment: str, answers: dict[str, Any]) -> str:
        """The prefix of the queue a patient joins: the first route that matches the appointment's text
        (its location or description) or an intake answer, else the first queue."""
        place = appointment.casefold()
        for route in self.routes:
            if route.kind == "appointment" and route.text in place:
                return route.prefix
            if route.kind == "answer" and route.link_id in answers and _is(answers[route.link_id], route.text):
                return route.prefix
        return self.queues[0].prefix

    def name(self, prefix: str) -> str:
        """The queue's name, or its prefix where this kiosk's config does not know it."""
        queue = self.by_prefix.get(prefix)
        return queue.name if queue else prefix
