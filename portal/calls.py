"""One of the advocate's calls (``/portal/calls/<id>``): who they talk to, when (in their own
zone), how the call is joined; a form to give this one call its own join details, and cancelling
it with a reason, behind a confirmation step.

Only the advocate's own calls: another advocate's answers 404, the same as a call that does not
exist. Each change is a POST that calls one workflow function (``workflows.bookings``), flashes
and redirects back here; a refusal re-renders the page with its reason and status (422 for the
input, beside its field; 409 for a call that has begun, is over or was cancelled). A written
reference has its own page (``portal.written``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from models import Engagement, EngagementStatus
from models.types import utcnow
from pages import show_refusal, viewer_zone
from portal import bp, current_advocate_id
from portal.forms import JoinForm
from workflows import bookings, errors
from workflows.request_view import ProspectView, prospect_view


class CancelCallForm(FlaskForm):
    reason = TextAreaField(
        "Why can the call not take place? (the prospect reads it)",
        render_kw={"rows": 2, "maxlength": bookings.CANCEL_REASON_MAX_LENGTH, "required": True},
    )


# --- views -----------------------------------------------------------------------------------


@bp.get("/portal/calls/<int:engagement_id>")
def call(engagement_id: int):
    return _page(engagement_id)


@bp.post("/portal/calls/<int:engagement_id>/join")
def set_call_join(engagement_id: int):
    form = JoinForm()
    advocate_id = current_advocate_id()
    if not form.validate_on_submit():
        abort(400)
    url, phone = form.values()
    try:
        saved = bookings.set_join_details(engagement_id, advocate_id, url=url, phone=phone)
    except errors.Invalid as refusal:
        show_refusal(form, refusal)
        return _page(engagement_id, refusal.status, join_form=form,
                     message=f"Nothing was changed. {refusal.message}")
    except errors.Conflict as refusal:
        return _page(engagement_id, refusal.status, message=refusal.message)
    if not saved.changed:
        flash("Nothing had changed in the join details of this call.", "info")
    elif saved.invited:
        flash("Join details changed for this call. You and the prospect get the updated invitation.",
              "success")
    else:
        flash("Join details changed for this call: the invitation gives them when the prospect books.",
              "success")
    return redirect(url_for("portal.call", engagement_id=engagement_id, _anchor="join"))


@bp.post("/portal/calls/<int:engagement_id>/cancel")
def cancel_call(engagement_id: int):
    form = CancelCallForm()
    advocate_id = current_advocate_id()
    if not form.validate_on_submit():
        abort(400)
    try:
        cancelled = bookings.cancel_booking(engagement_id, side="advocate", reason=form.reason.data or "",
                                            by=current_user, advocate_id=advocate_id)
    except errors.Invalid as refusal:
        show_refusal(form, refusal)
        return _page(engagement_id, refusal.status, cancel_form=form,
                     message=refusal.message)
    except errors.Conflict as refusal:
        return _page(engagement_id, refusal.status, message=refusal.message)
    if cancelled.starts_at is not None:
        flash("The call is cancelled. You and the prospect get the cancellation for your calendars, "
              "and your place in the quarter is free again.", "success")
    else:
        flash("The call is called off before it was booked: the prospect's booking link no longer works, "
              "and your place in the quarter is free again. Your program coordinator takes it from here.",
              "success")
    return redirect(url_for("portal.call", engagement_id=engagement_id))


# --- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallPage:
    engagement: Engagement
    prospect: ProspectView
    join_url: str
    join_phone: str
    own_join: bool  # the call has details of its own, not the advocate's default
    open: bool  # its join details can change and it can be cancelled: not begun, over or cancelled
    now: datetime

    @property
    def minutes(self) -> int | None:
        e = self.engagement
        if e.starts_at is None or e.ends_at is None:
            return None
        return int((e.ends_at - e.starts_at).total_seconds() // 60)

    @property
    def begun(self) -> bool:
        return self.engagement.starts_at is not None and self.engagement.starts_at <= self.now


def call_page(engagement: Engagement, now: datetime) -> CallPage:
    url, phone = bookings.join_details(engagement)
    try:
        bookings.check_changeable(engagement, now)
        bookings.check_cancellable(engagement, now, "advocate")
    except errors.Conflict:
        still_open = False
    else:
        still_open = True
    return CallPage(
        engagement=engagement,
        prospect=prospect_view(engagement),
        join_url=url,
        join_phone=phone,
        own_join=(url, phone) != bookings.default_join_details(engagement),
        open=still_open,
        now=now,
    )


def _page(engagement_id: int, status: int = 200, *, join_form: JoinForm | None = None,
          cancel_form: CancelCallForm | None = None, message: str | None = None):
    engagement = bookings.advocate_call(engagement_id, current_advocate_id())
    if engagement.format_code == "written":
        return redirect(url_for("portal.written", engagement_id=engagement.id))
    page = call_page(engagement, utcnow())
    if join_form is None:
        join_form = JoinForm(formdata=None, data={"join_url": engagement.join_url,
                                                  "join_phone": engagement.join_phone})
    if message:
        flash(message, "error")
    return render_template(
        "portal/call.html",
        page=page,
        e=engagement,
        status_words=STATUS_WORDS,
        join_form=join_form,
        cancel_form=cancel_form or CancelCallForm(formdata=None),
        zone=viewer_zone(),
    ), status


STATUS_WORDS = {
    EngagementStatus.AWAITING_BOOKING: "Waiting for the prospect to book",
    EngagementStatus.BOOKED: "Booked",
    EngagementStatus.COMPLETED: "Took place",
    EngagementStatus.NO_SHOW: "Did not take place",
    EngagementStatus.CANCELLED: "Cancelled",
}
