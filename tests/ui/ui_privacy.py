"""Patient A leaves, patient B starts: is anything of A still reachable? ``python tests/ui/ui_privacy.py MODE OUT_DIR``.

MODE ``card-finish``: A is identified by a card, answers the intake form (typing a reason and a phone
number), checks in, is printed a ticket and a wristband and taps Finish.
MODE ``typed-idle``: A types name and birth date, then walks away while typing an answer (the field
still focused, the keyboard up); the idle warning and the wipe follow (short timeouts in the settings).

Then B taps Start and reaches the identify screen. There the script looks for A's strings in every
widget of the window and in every screen still alive, in the flow, in Kivy's Cache, in every
TextInput's inner buffers (undo/redo, lines) and, once, in every object the garbage collector tracks
(their direct members: dict keys and values, list/tuple/set items, attributes, closure cells...).
The same probes run while A is still there, to show that they do find A. Then B taps Back.

Writes ``OUT_DIR/screens.json``; the findings name where something was found, never the text. The
app logs to ``OUT_DIR/kiosk.log`` at DEBUG. A's strings are kept reversed in this file, so that
neither its code nor its constants hold them.
"""

import gc
import hashlib
import logging
import sys
import time
from pathlib import Path

from uirun import app_for, settings_for

from kiosk.config import FormsSettings, PrinterSettings, WristbandPrinterSettings
from kiosk.screens import walk
from kiosk.screens.demo import DemoError
from kiosk.checkin.session import State

# A's details, reversed. fresh(key) makes a new str each time: what the app receives is never the very
# object the probes search with (those live only in NEEDLES and are skipped by identity).
_A = {
    "given": "nylodneuQ", "family": "htrawxyZ", "born_iso": "92-50-1391", "born_typed": "1391.50.92",
    "kvnr": "735924180Q", "street": "77 essagleqqiW", "city": "negnilbbuzroV", "postal": "19899",
    "reason": "tenzuflexkruaQ ednehcewdnaW", "phone": "7382917 1710",
}


def fresh(key: str) -> str:
    return "".join(reversed(_A[key]))


NEEDLES = frozenset(fresh(k) for k in ("given", "family", "born_iso", "born_typed", "kvnr", "street", "city",
                                       "reason", "phone"))
NEEDLE_BYTES = frozenset(n.encode("utf-8") for n in NEEDLES)
_NEEDLE_IDS = {id(n) for n in NEEDLES} | {id(b) for b in NEEDLE_BYTES}
SIGNATURES: set[tuple[int, str]] = set()    # (length, sha256) of A's signature PNG, once it exists
SCAN_BUDGET_S = 120.0          # the gc scan stops there (and says so) rather than hang


def card_a():
    from kiosk.checkin.model import Address, CardData, Coverage, Identifier, Person
    return CardData(card="egk", atr="3BD396FF81B1FE451F078081052D",
                    person=Person(family=fresh("family"), given=(fresh("given"),), birth_date=fresh("born_iso"),
                                  gender="female",
                                  identifiers=(Identifier("http://fhir.de/sid/gkv/kvid-10", fresh("kvnr")),),
                                  address=Address(lines=(fresh("street"),), postal_code=fresh("postal"),
                                                  city=fresh("city"), country="D")),
                    coverage=Coverage(payor_system="http://fhir.de/sid/arge-ik/iknr", payor_id="109500969",
                                      payor_name="Test GKV Sozialversicherung", subscriber_id=fresh("kvnr"),
                                      start="2020-01-01"))


def hit(s) -> bool:
    """``s`` (a str, bytes or bytearray that is not a needle itself) contains one of A's strings."""
    if id(s) in _NEEDLE_IDS:
        return False
    if isinstance(s, str):
        return any(n in s for n in NEEDLES)
    return any(n in s for n in NEEDLE_BYTES)


def is_signature(b) -> bool:
    if type(b) is str or not SIGNATURES:
        return False
    return any(len(b) == n and hashlib.sha256(b).hexdigest() == h for n, h in SIGNATURES)


def texty(value) -> bool:
    """A str, or a list/tuple/set/dict with a str directly inside, that holds one of A's strings."""
    if isinstance(value, (str, bytes, bytearray)):
        return hit(value)
    if isinstance(value, dict):
        return any(isinstance(x, (str, bytes)) and hit(x) for kv in value.items() for x in kv)
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(isinstance(x, (str, bytes)) and hit(x) for x in value)
    return False


def _label(obj) -> str:
    t = type(obj)
    name = f"{t.__module__}.{t.__qualname__}"
    for attr in ("name", "action"):                   # screens and buttons say which they are
        v = getattr(obj, attr, None) if hasattr(type(obj), "properties") else None
        if isinstance(v, str) and v and not hit(v):
            return f"{name}[{attr}={v}]"
    return name


def widget_findings(widget, where: str) -> list[str]:
    """Every Kivy property and plain attribute of ``widget`` and of its children."""
    found = []
    for w in widget.walk(restrict=True):
        for prop in w.properties():
            if prop in ("padding_x", "padding_y"):     # deprecated: reading them only logs a warning
                continue
            try:
                value = getattr(w, prop)
            except Exception:               # a property that cannot be read now holds nothing
                continue
            if texty(value):
                found.append(f"{where}: {_label(w)}.{prop}")
        for attr, value in getattr(w, "__dict__", {}).items():
            if texty(value):
                found.append(f"{where}: {_label(w)}.{attr}")
    return found


def alive(cls) -> list:
    """Instances of ``cls`` the garbage collector knows (dead WeakProxies skipped)."""
    out = []
    for obj in gc.get_objects():
        try:
            if cls in type(obj).__mro__:       # not the weak proxies that stand for one
                out.append(obj)
        except ReferenceError:
            pass
    return out


def textinput_findings(ti, where: str) -> list[str]:
    found = []
    for attr in ("text", "hint_text", "_undo", "_redo", "_lines", "_hint_text_lines", "_lines_flags"):
        value = getattr(ti, attr, None)
        if texty(value) or (isinstance(value, list) and any(texty(x) for x in value if isinstance(x, dict))):
            found.append(f"{where}: TextInput.{attr}")
    cached = getattr(ti, "_label_cached", None)
    if cached is not None and hit(getattr(cached, "text", "") or ""):
        found.append(f"{where}: TextInput._label_cached.text")
    return found


def probe(app, with_gc: bool) -> dict:
    """Where A's strings are reachable now; each finding names a place, never the text."""
    from kivy.cache import Cache
    from kivy.core.window import Window
    from kivy.uix.screenmanager import Screen
    from kivy.uix.textinput import TextInput

    gc.unfreeze()      # the kiosk froze start-up's objects at its first frame: the scans must see them too
    assert any(obj is app for obj in gc.get_objects()), "the gc scans see what start-up made"
    gc.collect()
    result = {"widgets": [], "screens": [], "flow": [], "cache": [], "textinputs": [], "keyboards": [],
              "gc": [], "gc_holders": []}
    for child in list(Window.children):
        result["widgets"] += widget_findings(child, "window")
    manager = app.frame.manager
    for screen in manager.screens:
        result["screens"] += widget_findings(screen, "manager.screens")
    detached = [s for s in alive(Screen) if s not in manager.screens]
    for screen in detached:
        result["screens"] += widget_findings(screen, "detached screen")
    for keyboard in getattr(Window, "_keyboards", {}).values():     # the on-screen keyboard, shown or not
        if getattr(keyboard, "widget", None) is not None:
            result["keyboards"] += widget_findings(keyboard.widget, "keyboard")
            target = keyboard.widget.target
            if target is not None and target.get_root_window() is None:
                result["keyboards"].append(f"keyboard: target is a field no longer shown ({_label(target)})")
    result["detached_screens"] = sorted(_label(s) for s in detached)
    result["detached_holders"] = [_holders_chain(s, detached) for s in detached[:2]]
    result["screens_held"] = len(manager.screens)

    flow = app.flow
    if hit(repr(flow.session)):
        result["flow"].append("flow.session")
    for attr, value in vars(flow).items():
        if attr in ("form", "session"):
            continue                         # the questionnaire (no patient in it); the session, above
        if hit(repr(value)):
            result["flow"].append(f"flow.{attr}")

    result["cache_categories"] = sorted(Cache._objects)
    for category, entries in Cache._objects.items():
        for key, entry in list(entries.items()):
            if hit(str(key)):
                result["cache"].append(f"{category}: key")
            obj = entry.get("object") if isinstance(entry, dict) else entry
            if isinstance(obj, (str, bytes)) and hit(obj):
                result["cache"].append(f"{category}: value")

    try:
        from kiosk.screens.signature import SignaturePad
    except ImportError:                      # a kiosk without signatures
        SignaturePad = None
    result["signature_pads"] = [] if SignaturePad is None else \
        [f"{'shown' if pad.get_root_window() else 'detached'} pad with strokes" for pad in alive(SignaturePad)
         if pad.strokes]
    for ti in alive(TextInput):
        where = "shown" if ti.get_root_window() is not None else "detached"
        result["textinputs"] += textinput_findings(ti, f"{where} TextInput")

    if with_gc:
        result["gc"], result["gc_holders"], result["gc_scan"] = gc_scan()
    return result


def gc_scan() -> tuple[list[str], list[list[str]], dict]:
    """One pass over every gc-tracked object, looking only at its direct members (gc.get_referents):
    str and bytes are not tracked themselves, but whatever holds one is. Non-recursive, no repr, with
    a time budget. For the first few holders, who holds them (two levels up, by type)."""
    gc.collect()
    start = time.monotonic()
    objects = gc.get_objects()
    holders, checked, complete = [], 0, True
    skip = {id(NEEDLES), id(NEEDLE_BYTES), id(_NEEDLE_IDS), id(objects), id(_A)}
    for obj in objects:
        checked += 1
        if checked % 5000 == 0 and time.monotonic() - start > SCAN_BUDGET_S:
            complete = False
            break
        if id(obj) in skip:
            continue
        try:
            if any(_holds(member, 3) for member in gc.get_referents(obj)):
                holders.append(obj)
        except Exception:              # an object that cannot be traversed holds nothing we can see
            continue
    found = sorted({_label(h) for h in holders})
    chains = [_holders_chain(h, objects) for h in holders[:8]]
    del objects, holders
    return found, chains, {"objects": checked, "complete": complete, "seconds": round(time.monotonic() - start, 1)}


def _holds(member, depth: int) -> bool:
    """``member`` is one of A's strings (or the signature), or a container the gc does not track (a
    tuple or dict of plain values only, e.g. ``{"given": ...}``) with one inside."""
    t = type(member)
    if t in (str, bytes, bytearray):
        return hit(member) or is_signature(member)
    if depth and t in (tuple, dict) and not gc.is_tracked(member):
        items = [x for kv in member.items() for x in kv] if t is dict else member
        return any(_holds(x, depth - 1) for x in items)
    return False


def _holders_chain(obj, objects) -> list[str]:
    """Who refers to ``obj``, and who refers to those (by type), for the report of a leak."""
    ignore = {id(objects)}
    chain, level = [_label(obj)], [obj]
    for _ in range(3):
        above = []
        for o in level:
            for r in gc.get_referrers(o):
                if id(r) in ignore or type(r).__name__ == "frame" or r is level:
                    continue
                above.append(r)
        if not above:
            break
        chain.append(" | ".join(sorted({_label(r) for r in above})[:6]))
        level = above[:6]
        ignore |= {id(level)}
    return chain


def keyboards(app) -> dict:
    """The on-screen keyboards on the window, and the widgets that hold a keyboard."""
    from kivy.core.window import Window
    from kivy.uix.vkeyboard import VKeyboard
    held = [w for w in Window.children if isinstance(w, VKeyboard)]
    targets = [_label(k.target) for k in getattr(Window, "_keyboards", {}).values()
               if getattr(k, "target", None) is not None]
    return {"vkeyboards_shown": len(held), "keyboard_targets": targets}


async def walk_a_by_card(app, pilot) -> dict:
    await walk.to_confirm(app, pilot, card_a())
    app.reader.remove()                     # the patient takes the card out
    await pilot.frames(2)
    during = probe(app, with_gc=True)
    await walk.to_consent(app, pilot, answer=answer_as_a)
    await sign(app, pilot)
    await walk.consent(app, pilot, sign=False, printed=lambda status: status not in ("", "printing"))
    admission = app.flow.session.admission
    done = {"print_status": app.flow.session.print_status, "queue_number": admission.queue_number}
    signature = getattr(admission, "consent_signature", b"")
    if signature:                      # the PNG of A's signature: looked for by length and hash
        SIGNATURES.add((len(signature), hashlib.sha256(signature).hexdigest()))
    done["signed"] = bool(signature)
    del admission, signature
    await pilot.tap("finish")
    await pilot.wait_state(State.WELCOME)
    return {"during": during, "done": done}


async def walk_a_by_name_and_leave(app, pilot) -> dict:
    await pilot.wait_state(State.WELCOME)
    await pilot.tap("start")
    await pilot.wait_state(State.IDENTIFY)
    await pilot.tap("choose_name")
    await pilot.wait_state(State.ENTER_NAME)
    for field, key in (("given", "given"), ("family", "family"), ("birth", "born_typed")):
        await type_into(app, pilot, field, key)
    await pilot.tap("continue")
    await pilot.wait_state(State.CONFIRM)
    await pilot.tap("details_confirmed")
    await answer_the_form(app, pilot, stop_at="reason-other")
    # A types the reason and walks away, the field focused and the keyboard up.
    field = app.frame.manager.current_screen.ids.typed
    if not field.focus:
        await pilot.touch(*field.to_window(*field.center))
    field.insert_text(fresh("reason"))
    await pilot.frames(2)
    during = probe(app, with_gc=True)
    during["focused_when_left"] = field.focus
    del field
    await pilot.wait_state(State.IDLE_WARNING)
    await pilot.wait_for(lambda: app.flow.state is State.WELCOME, "the wipe after the idle warning")
    return {"during": during}


async def sign(app, pilot) -> None:
    """A finger stroke across the signature pad, when the consent screen has one."""
    from kivy.base import EventLoop

    from kiosk.screens.demo import _Touch
    screen = app.frame.manager.current_screen
    pad = screen.ids.get("pad")
    if pad is None or not getattr(screen, "signature", False):
        return
    w = pilot.window
    points = [pad.to_window(pad.x + pad.width * f, pad.y + pad.height * (0.3 + 0.4 * (i % 2)))
              for i, f in enumerate((0.2, 0.35, 0.5, 0.65, 0.8))]
    touch = _Touch(w, *points[0])
    EventLoop.post_dispatch_input("begin", touch)
    await pilot.frames(1)
    for x, y in points[1:]:
        touch.move((x / (w.width - 1), y / (w.height - 1)))
        EventLoop.post_dispatch_input("update", touch)
        await pilot.frames(1)
    EventLoop.post_dispatch_input("end", touch)
    await pilot.frames(2)
    del touch, pad, screen


async def type_into(app, pilot, field_id: str, key: str) -> None:
    field = app.frame.manager.current_screen.ids[field_id]
    if not field.focus:
        await pilot.touch(*field.to_window(*field.center))
    field.insert_text(fresh(key))
    await pilot.frames(1)
    field.focus = False
    await pilot.frames(2)


async def answer_as_a(app, pilot, q) -> None:
    """reason: other, then typed; yes/no: no; choices: the last; phone: typed; the rest left empty."""
    typed = {"reason-other": "reason", "phone": "phone"}
    if q.link_id == "reason":
        await pilot.tap("answer:other")
    elif q.type == "boolean":
        await pilot.tap("answer:False")
    elif q.type == "choice":
        await pilot.tap(f"answer:{q.options[-1].code}")
    else:
        field = app.frame.manager.current_screen.ids.typed
        await pilot.frames(3)
        if q.link_id in typed:
            if not field.focus:
                await pilot.touch(*field.to_window(*field.center))
            field.insert_text(fresh(typed[q.link_id]))
        field.focus = False
        del field
        await pilot.frames(2)
        await pilot.tap("continue")
    await pilot.frames(2)


async def answer_the_form(app, pilot, stop_at: str) -> None:
    """The questions answered as A does (``answer_as_a``) up to the one ``stop_at``, left on screen."""
    while app.flow.state is State.QUESTIONS and app.flow.question.link_id != stop_at:
        await answer_as_a(app, pilot, app.flow.question)


def main(mode: str, out: Path) -> None:
    logging.basicConfig(level=logging.DEBUG, filename=str(out / "kiosk.log"), encoding="utf-8",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    short = {"idle_timeout_s": 6.0, "idle_warning_s": 2.0}     # so that A's session ends by itself
    app = app_for(settings_for(out, kiosk=short if mode == "typed-idle" else {},
                               forms=FormsSettings(intake="intake-general"),
                               printer=PrinterSettings(wristband=WristbandPrinterSettings(uri="preview:bands"))))
    from kiosk.screens.demo import run_script

    async def script(app, pilot):
        walk = walk_a_by_card if mode == "card-finish" else walk_a_by_name_and_leave
        result = await walk(app, pilot)
        # B arrives.
        await pilot.frames(3)
        result["keyboards_after_wipe"] = keyboards(app)
        await pilot.tap("start")
        try:
            await pilot.wait_state(State.IDENTIFY)
        except DemoError as e:              # probed all the same: the test says what B could not do
            result["b_start_failed"] = str(e)
        await pilot.frames(3)
        result["after"] = probe(app, with_gc=True)
        result["b_state"] = app.flow.state.value
        result["b_texts_hit"] = [t for t in pilot.texts() if hit(t)] != []
        if app.flow.state is State.IDENTIFY:
            await pilot.tap("back")          # from B's first screen: the start, never A's screens
        await pilot.wait_state(State.WELCOME)
        result["after_back"] = {"state": app.flow.state.value,
                                "texts_hit": [t for t in pilot.texts() if hit(t)] != [],
                                "person": repr(app.flow.session.person),
                                "probe": probe(app, with_gc=False)}
        return [result]

    run_script(app, out, script)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
