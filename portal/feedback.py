"""The feedback page each side opens from the link e-mailed after the call (DESIGN.md §2 step 6):
no account, the signed token in the URL. Did the call take place, a rating from 1 to 5, a
comment, and for the prospect whether it helped their decision; one POST with its CSRF token.

Answers the rules refuse re-render the form with each message beside its answer (422), nothing
saved; a link already used, too late, or for a call cancelled gets a page that says why.
"""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, TextAreaField

from access import public
from models import FeedbackSide
from models.types import utcnow, zone_or_utc
from pages import show_refusal
from portal import bp
from portal.token_pages import refused_page, token_page
from workflows import feedback
from workflows.introductions import public_profile
from workflows.links import Purpose
from workflows.prospect_links import LinkRefused, read


class FeedbackForm(FlaskForm):
    """The answers as typed; ``feedback.parse_feedback`` checks them."""

    call_happened = RadioField("Did the call take place?", validate_choice=False, choices=[
        SelectChoice("yes", "Yes, it took place"), SelectChoice("no", "No, it did not take place")])
    rating = RadioField("How did it go?", validate_choice=False, choices=[
        SelectChoice(str(n), f"{n} – {label}") for n, label in feedback.RATINGS.items()])
    comment = TextAreaField("A comment (optional)",
                            render_kw={"rows": 4, "maxlength": feedback.COMMENT_MAX_LENGTH})
    helped_decision = RadioField("Did it help your decision?", validate_choice=False, default="unsure",
                                 choices=[SelectChoice("yes", "Yes"), SelectChoice("no", "No"),
                                          SelectChoice("unsure", "Not sure yet")])
    shared_with_advocate = BooleanField("The advocate may read my comment", default=True)


@bp.get("/feedback/<token_text>", endpoint="feedback")
@public
def feedback_page(token_text: str):
    try:
        engagement, side = _open(token_text)
    except feedback.AlreadyGiven as given:
        return token_page("portal/feedback_given.html", message=given.message)
    except LinkRefused as refusal:
        return refused_page(refusal)
    return _form(engagement, side, token_text, _form_for(side, formdata=None))


@bp.post("/feedback/<token_text>")
@public
def give_feedback(token_text: str):
    try:
        engagement, side = _open(token_text)
    except LinkRefused as refusal:
        return refused_page(refusal)
    form = _form_for(side)
    if not form.validate_on_submit():  # the CSRF token; the answers are the workflow's to check
        flash("This form has expired: your answers were not saved. Please give them again.", "error")
        return _form(engagement, side, token_text, form, status=400)
    try:
        feedback.give_feedback(engagement.id, side, feedback.parse_feedback(request.form, side))
    except feedback.FeedbackInvalid as invalid:
        show_refusal(form, invalid)
        return _form(engagement, side, token_text, form, status=422)
    except LinkRefused as refusal:
        return refused_page(refusal)
    flash("Thank you for your feedback!", "success")
    return redirect(url_for("portal.feedback", token_text=token_text))


def _open(token_text: str):
    engagement, payload = read(token_text, Purpose.FEEDBACK)
    side = feedback.side_of(payload)
    feedback.check_open(engagement, side, utcnow())
    return engagement, side


def _form_for(side: FeedbackSide, **kwargs) -> FeedbackForm:
    form = FeedbackForm(**kwargs)
    if side is FeedbackSide.ADVOCATE:  # the prospect's decision is theirs to tell
        del form.helped_decision
        del form.shared_with_advocate
    return form


def _form(engagement, side: FeedbackSide, token_text: str, form: FeedbackForm, *, status: int = 200):
    for_advocate = side is FeedbackSide.ADVOCATE
    zone = zone_or_utc(engagement.advocate.account.timezone if for_advocate else engagement.prospect_timezone)
    request_ = engagement.request
    return token_page(
        "portal/feedback.html",
        status,
        form=form,
        engagement=engagement,
        for_advocate=for_advocate,
        advocate=public_profile(engagement.advocate),
        company=request_.prospect_company if request_ is not None else "",
        starts=engagement.starts_at.astimezone(zone),
        zone=zone.key,
        action=url_for("portal.give_feedback", token_text=token_text),
    )
