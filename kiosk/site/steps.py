"""The patient's steps once they typed their birth date: their appointment and what is left to do
(``/checkin``), their details (address and phone, corrections flagged for staff as at the kiosk), the
site's intake form one question a page (the kiosk's form and rules: enableWhen, required, repeats), the
consent with a signature drawn on the page or a recorded decline, and at the end the arrival code as a
QR code and as text, also as a file to keep. Every page works without JavaScript but the signature pad.
"""

from __future__ import annotations

import base64
import io
import json
import logging

from flask import Blueprint, Response, redirect, request, url_for

from kiosk.checkin import answers as checking
from kiosk.checkin import corrections, signature
from kiosk.checkin.forms import Question
from kiosk.checkin.model import Person
from kiosk.i18n import format_appointment
from kiosk.messages import N_, STANDARD_CONSENT
from kiosk.site import invitations, precheck
from kiosk.site.invitations import Invitation
from kiosk.site.pages import _, here, language, page, signed_in_only

log = logging.getLogger(__name__)

steps = Blueprint("steps", __name__)

TEXTS = {
    "steps": N_("Before you come"),
    "details": N_("Your details"),
    "questions": N_("Questions about your visit"),
    "consent": N_("Your consent"),
    "done": N_("Done"),
    "to_do": N_("Still to do"),
    "start": N_("Start"),
    "name": N_("Name"),
    "street": N_("Street and house number"),
    "postal_code": N_("Postal code"),
    "city": N_("City"),
    "phone": N_("Phone"),
    "details_intro": N_("Please check your address and phone number and correct them if needed."),
    "progress": N_("Question {number} of {total}"),
    "several": N_("Choose all that apply, then tap Continue."),
    "date_hint": N_("day.month.year"),
    "or_type": N_("Or type your answer"),
    "yes": N_("Yes"),
    "no": N_("No"),
    "agree": N_("I agree"),
    "decline": N_("I do not agree"),
    "decline_note": N_("If you do not agree, you will still be checked in. Staff will talk to you about it."),
    "sign_here": N_("Sign here with your finger"),
    "clear_signature": N_("Clear signature"),
    "no_script": N_("Signing needs JavaScript, which this browser has switched off. You can give your consent at "
                    "the kiosk instead."),
    "finish": N_("Finish and show my arrival code"),
    "arrival_title": N_("Your arrival code"),
    "arrival_intro": N_("At the kiosk in the lobby, hold this code to the scanner, or type it in. You will "
                        "not be asked these questions again."),
    "arrival_image": N_("QR code of your arrival code"),
    "save_code": N_("Save the code as a picture"),
    "change_answers": N_("You can change your answers until you arrive."),
}
MSG_SIGN = N_("Please sign in the box, or choose 'I do not agree'.")

MAX_POINTS = 5000          # a signature's points, all strokes together
SIGNATURE_PX = (600, 200)  # the PNG kept with the consent


def step_page(template: str, status: int = 200, **values):
    texts = {key: _(text) for key, text in TEXTS.items()}
    return page(template, status, s=texts, **values)


def consent_text(invitation: Invitation) -> str:
    """The consent text as shown to this patient: the site's own in their language, or the standard wording."""
    return here().settings.consent.texts().get(language()) or _(STANDARD_CONSENT)


def open_question(invitation: Invitation) -> int | None:
    """The number of the first question still to answer (the first of all before any was answered, then
    the first required one without an answer), None when the form is done."""
    if not here().form.questions:
        return None
    if invitation.answers is None:
        return 1
    asked = _enabled(invitation)
    return next((n for n, q in enumerate(asked, 1) if q.required and q.link_id not in invitation.answers), None)


def next_step(invitation: Invitation) -> str:
    """Where the patient goes next: the first step not done, else the overview."""
    if invitation.contact is None:
        return url_for("steps.details")
    if open_question(invitation) is not None:
        return url_for("steps.question", number=open_question(invitation))
    if invitation.consent is None:
        return url_for("steps.consent")
    return url_for("steps.overview")


@steps.get("/checkin")
@signed_in_only
def overview(invitation: Invitation):
    done = {"details": invitation.contact is not None,
            "questions": open_question(invitation) is None,
            "consent": invitation.consent is not None}
    code = precheck.arrival_code(here().site, invitation) if invitation.finished_at else ""
    return step_page("overview.html", when=format_appointment(invitation.start, language()), where=invitation.location,
                     done=done, code=precheck.shown_code(code) if code else "", next_step=next_step(invitation))


@steps.route("/checkin/details", methods=["GET", "POST"])
@signed_in_only
def details(invitation: Invitation):
    invited = Person.from_fhir(invitation.patient)
    shown = precheck.person(invitation)
    if request.method == "GET":
        return step_page("details.html", name=shown.display_name, values=corrections.draft(shown))
    values = {k: request.form.get(k, "")[:200] for k in corrections.DRAFT_FIELDS}
    lines = tuple(values["street"].split(","))
    correction, problem = corrections.correct(invited, lines, values["postal_code"], values["city"], values["phone"])
    if correction is None:
        return step_page("details.html", 400, name=shown.display_name, values=values, error=_(problem))
    precheck.save_contact(here().site, invitation, correction)
    return redirect(next_step(_fresh(invitation)), 303)


def _fresh(invitation: Invitation) -> Invitation:
    """The invitation as stored now (after a step saved)."""
    return invitations.find(here().site, invitation_id=invitation.id) or invitation


def _enabled(invitation: Invitation) -> list[Question]:
    return checking.enabled(here().form, invitation.answers or {})


@steps.route("/checkin/questions/<int:number>", methods=["GET", "POST"])
@signed_in_only
def question(invitation: Invitation, number: int):
    asked = _enabled(invitation)
    if not 1 <= number <= len(asked):
        return redirect(url_for("steps.overview"), 303)
    q = asked[number - 1]
    given = (invitation.answers or {}).get(q.link_id)
    if request.method == "GET":
        return _question_page(q, number, len(asked), given)
    if q.repeats and q.type in ("choice", "open-choice"):
        picked = [p[:500] for p in request.form.getlist("answer")]
        typed = request.form.get("typed", "")[:500]
        value, problem = checking.check_several(q, picked + ([typed] if typed.strip() else []))
        value = list(value) if value else value
    else:
        raw = request.form.get("typed", "") or request.form.get("answer", "")
        value, problem = checking.check(q, raw[:2000])
    if problem:
        return _question_page(q, number, len(asked), given, error=_(problem), status=400)
    answers = precheck.save_answer(here().site, invitation, here().form, q.link_id, value)
    now_asked = checking.enabled(here().form, answers)
    if number < len(now_asked):
        return redirect(url_for("steps.question", number=number + 1), 303)
    return redirect(url_for("steps.consent") if invitation.consent is None else url_for("steps.overview"), 303)


def _question_page(q: Question, number: int, total: int, given, *, error: str = "", status: int = 200):
    lang = language()
    options = ([("true", _("Yes")), ("false", _("No"))] if q.type == "boolean"
               else [(o.code, o.text(lang)) for o in q.options])
    if q.type == "boolean" and given is not None:
        given = "true" if given else "false"
    chosen = set(given) if isinstance(given, list) else {given}
    typed = "" if given is None or isinstance(given, list) or given in {o[0] for o in options} else str(given)
    group = here().form.find(q.group).text(lang) if q.group else ""
    return step_page("question.html", status, q=q, text=q.text(lang), group=group, options=options,
                     chosen={str(c) for c in chosen if c is not None}, typed=typed, number=number, total=total,
                     several=q.repeats and q.type in ("choice", "open-choice"), error=error)


@steps.route("/checkin/consent", methods=["GET", "POST"])
@signed_in_only
def consent(invitation: Invitation):
    text = consent_text(invitation)
    wants_signature = here().settings.consent.signature
    if request.method == "GET":
        return step_page("consent.html", text=text, signature=wants_signature)
    decision = request.form.get("decision")
    drawn = ""
    if decision == "accepted" and wants_signature:
        strokes = _strokes(request.form.get("signature", ""))
        if not strokes:
            return step_page("consent.html", 400, text=text, signature=wants_signature, error=_(MSG_SIGN))
        drawn = base64.b64encode(signature.render_png(strokes, SIGNATURE_PX)).decode("ascii")
    elif decision not in ("accepted", "declined"):
        return step_page("consent.html", 400, text=text, signature=wants_signature, error=_(MSG_SIGN))
    precheck.save_consent(here().site, invitation, decision, signature.text_id(text), drawn)
    return redirect(url_for("steps.overview"), 303)


def _strokes(sent: str) -> list[list[tuple[float, float]]]:
    """The signature pad's strokes (JSON: a list of strokes, each a list of [x, y] fractions, y upwards), or
    [] when there is none or it is not what the pad sends."""
    try:
        strokes = json.loads(sent) if sent else []
        points = [(float(x), float(y)) for stroke in strokes for x, y in stroke]
    except (ValueError, TypeError):
        return []
    if not points or len(points) > MAX_POINTS or not all(-0.1 <= v <= 1.1 for p in points for v in p):
        return []
    return [[(float(x), float(y)) for x, y in stroke] for stroke in strokes if stroke]


@steps.post("/checkin/finish")
@signed_in_only
def finish(invitation: Invitation):
    if next_step(invitation) != url_for("steps.overview"):
        return redirect(next_step(invitation), 303)
    precheck.finish(here().site, invitation)
    log.info("invitation %s: pre-check-in finished", invitation.id)
    return redirect(url_for("steps.overview"), 303)


@steps.get("/checkin/arrival.png")
@signed_in_only
def arrival_png(invitation: Invitation):
    if not invitation.finished_at:
        return redirect(url_for("steps.overview"), 303)
    import qrcode
    code = precheck.arrival_code(here().site, invitation)
    image = qrcode.make(precheck.qr_text(here().settings.site.id, code), box_size=8, border=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    headers = {"Content-Disposition": "attachment; filename=arrival-code.png"} if request.args.get("save") else {}
    return Response(out.getvalue(), mimetype="image/png", headers=headers)
