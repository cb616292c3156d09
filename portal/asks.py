"""The advocate's asks: the inbox, and one ask answered by the advocate: the prospect context
without the prospect's identity, why they were picked, and two forms: accept, or decline with
a reason.

``/portal/asks`` lists the asks waiting for an answer first (soonest due first), then one page
at a time the others, newest first. ``/portal/asks/<id>`` shows the ask; each form POSTs to its
own URL, which calls one workflow function, flashes and redirects. A refused change (the ask
is no longer pending, the quarter is full, somebody else took the request) re-renders the page
with the reason, status 409.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length

from models import AskStatus, size_band
from models.types import ID_MAX, utcnow
from pages import int_arg, viewer_zone
from portal import bp, current_advocate_id
from workflows import ask_inbox, quota
from workflows import requests as flow
from workflows.request_tags import request_tags

# --- forms -----------------------------------------------------------------------------------

PICK_A_REASON = "Pick a reason from the list."


class AcceptForm(FlaskForm):
    """The accept button: only its CSRF token travels."""


class DeclineForm(FlaskForm):
    reason = SelectField(
        "Why not this time?",
        choices=[SelectChoice("", "Pick a reason…")]
        + [SelectChoice(code, label) for code, label in flow.DECLINE_REASONS.items()],
        validators=[InputRequired(PICK_A_REASON)],
        invalid_choice_message=PICK_A_REASON,
    )
    note = TextAreaField(
        "A note for your program coordinator (optional)",
        validators=[
            Length(
                max=flow.DECLINE_NOTE_MAX_LENGTH,
                message=f"Keep the note to {flow.DECLINE_NOTE_MAX_LENGTH} characters or fewer.",
            )
        ],
        render_kw={"rows": 3, "maxlength": flow.DECLINE_NOTE_MAX_LENGTH},
    )


# --- the inbox -------------------------------------------------------------------------------

ANSWERED_PER_PAGE = 25
# What became of an ask, as its advocate reads it. A pending ask past its time reads as expired:
# it can no longer be answered, and the next job run marks it so.
ASK_OUTCOME_WORDS = {
    AskStatus.ACCEPTED: "You accepted",
    AskStatus.DECLINED: "You declined",
    AskStatus.EXPIRED: "Expired unanswered",
    AskStatus.PENDING: "Expired unanswered",
    AskStatus.WITHDRAWN: "Withdrawn",
}


@bp.get("/portal/asks")
def asks():
    advocate_id = current_advocate_id()
    page = int_arg(request.args, "page", 1, high=ID_MAX // ANSWERED_PER_PAGE)
    now = utcnow()
    answered, more = ask_inbox.answered_asks(advocate_id, now, page, ANSWERED_PER_PAGE)
    pending = ask_inbox.pending_asks(advocate_id, now) if page == 1 else []
    return render_template(
        "portal/asks.html",
        pending=pending,
        tags=request_tags(ask.request_id for ask in pending),
        answered=answered,
        page=page,
        more=more,
        outcome=ASK_OUTCOME_WORDS,
        size=lambda ask: size_band(ask.request.employees),
        zone=viewer_zone(),
    )


# --- one ask ---------------------------------------------------------------------------------


@bp.get("/portal/asks/<int:ask_id>")
def ask(ask_id: int):
    return _page(ask_id)


@bp.post("/portal/asks/<int:ask_id>/accept")
def accept_ask(ask_id: int):
    if not AcceptForm().validate_on_submit():
        abort(400)
    try:
        engagement = flow.accept_ask(ask_id, current_advocate_id())
    except (flow.IllegalTransition, quota.QuotaExceeded) as refusal:
        return _page(ask_id, 409, refusal=str(refusal))
    if engagement.format_code == "written":
        flash("Thank you for accepting! Answer the questions below whenever suits you: "
              "save a draft as often as you like, then submit.", "success")
        return redirect(url_for("portal.written", engagement_id=engagement.id))
    flash("Thank you for accepting! The prospect contact is below; we introduce you next.", "success")
    return redirect(url_for("portal.ask", ask_id=ask_id))


@bp.post("/portal/asks/<int:ask_id>/decline")
def decline_ask(ask_id: int):
    form = DeclineForm()
    if not form.validate_on_submit():
        return _page(ask_id, 400, decline_form=form)
    try:
        flow.decline_ask(ask_id, current_advocate_id(), form.reason.data, form.note.data or "")
    except flow.IllegalTransition as refusal:
        return _page(ask_id, 409, refusal=str(refusal))
    except flow.RequestFlowError as refusal:
        field = form._fields.get(refusal.field or "")
        (field.errors if field is not None else form.form_errors).append(str(refusal))
        return _page(ask_id, 400, decline_form=form)
    flash("You declined this ask. Thank you for answering: your coordinator will ask someone else.",
          "success")
    return redirect(url_for("portal.home"))


# --- helpers ---------------------------------------------------------------------------------


def _page(ask_id: int, status: int = 200, *, refusal: str | None = None,
          decline_form: DeclineForm | None = None):
    advocate_id = current_advocate_id()
    now = utcnow()
    the_ask, engagement = ask_inbox.advocate_ask(ask_id, advocate_id)
    overdue = flow.is_overdue(the_ask, now)
    answerable = the_ask.status is AskStatus.PENDING and not overdue
    if refusal:
        flash(refusal, "error")
    elif status == 400:
        flash("Nothing was changed: see the message beside the form.", "error")
    return render_template(
        "portal/ask.html",
        ask=the_ask,
        req=the_ask.request,
        tags=request_tags([the_ask.request_id])[the_ask.request_id],
        engagement=engagement,
        size=size_band(the_ask.request.employees),
        overdue=overdue,
        answerable=answerable,
        use=quota.quarter_use(current_user.advocate) if answerable else None,
        decline_reason=flow.decline_reason_text(the_ask.decline_reason),
        accept_form=AcceptForm(formdata=None),
        decline_form=decline_form or DeclineForm(formdata=None),
        zone=viewer_zone(),
    ), status
