"""Requests in the admin area: the queue, the intake form, and one request's page with its
status and asks first, the ranked candidates, the prospect context and the timeline.

Staff see every request; sales see only their own (``workflows.requests.request_for`` checks the
owner; another person's request answers 404 like one that never existed). What each of them
sees of a request is ``workflows.request_view``'s to decide: sales never see the candidates,
the match scores or why an advocate declined.

A live call has its own part of the page (``templates/admin/_call.html``): when the introduction
went out, for everybody who may see the request; sending it again (to a corrected address) and
cancelling the call with a reason, for staff only (the routes take the blueprint's staff-only
default, so a seller's POST is a 403).

Each action is a POST with its CSRF token that calls one workflow function, flashes and
redirects back to the request. A refusal re-renders the page with the reason and its status
(409 for a change the request's state does not allow, 422 for a rule on the input).

Every page issues the same number of queries whatever the number of requests, asks, events or
advocates: lists are read with eager loading, and the pool for the ranking in a fixed number of
queries (``workflows.match_rows.load_pool``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import bindparam, func, select, union
from wtforms import (
    DateField,
    EmailField,
    Form,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from access import STAFF, allow
from admin import bp
from admin.written_section import section_context
from matching.engine import MatchResult
from models import (
    Account,
    Ask,
    AskStatus,
    EngagementStatus,
    Format,
    Industry,
    ReferenceRequest,
    RequestOutcome,
    RequestStatus,
    Role,
    db,
    size_band,
)
from models.types import utcnow
from pages import (
    OnceForm,
    date_and_time,
    drawn,
    id_path,
    mark_token,
    show_refusal,
    unmark_token,
    viewer_zone,
    whole_number,
)
from workflows import bookings, errors, followup, request_submission
from workflows import requests as flow
from workflows.audit import record_access_denied
from workflows.catalogue_choices import catalogue_choices
from workflows.engagements import current_engagement
from workflows.matching import RANKINGS_KEPT, cached_rank
from workflows.request_input import RequestInvalid, parse_request, parse_request_edit
from workflows.request_tags import RequestTags, request_tags
from workflows.request_view import AskView, RequestView, TimelineEntry, view_request
from workflows.submissions import AlreadySubmitted

QUEUE_LIMIT = 200  # rows on one queue page; the filters narrow it down
CANDIDATES_SHOWN = 10  # the best ones; "show all" lists every eligible advocate
EXCLUDED_SHOWN = 100  # a page of the advocates left out, by advocate number; every one is counted
CLOSED = (RequestStatus.COMPLETED, RequestStatus.CANCELLED)
# Statuses in which the request still needs an advocate: the candidates are worth ranking.
LOOKING = (RequestStatus.NEW, RequestStatus.ASKING)

STATUS_WORDS = {
    RequestStatus.NEW: "New",
    RequestStatus.ASKING: "Asking",
    RequestStatus.MATCHED: "Matched",
    RequestStatus.SCHEDULED: "Scheduled",
    RequestStatus.COMPLETED: "Completed",
    RequestStatus.CANCELLED: "Cancelled",
}
STATUS_HINTS = {
    RequestStatus.NEW: "Nobody has been asked yet, or the last ask went unanswered.",
    RequestStatus.ASKING: "An advocate has been asked and has not answered yet.",
    RequestStatus.MATCHED: "An advocate accepted.",
    RequestStatus.SCHEDULED: "The call is booked.",
    RequestStatus.COMPLETED: "The reference took place.",
    RequestStatus.CANCELLED: "The request was called off.",
}
ASK_WORDS = {
    AskStatus.PENDING: "Waiting for an answer",
    AskStatus.ACCEPTED: "Accepted",
    AskStatus.DECLINED: "Declined",
    AskStatus.EXPIRED: "Expired unanswered",
    AskStatus.WITHDRAWN: "Withdrawn",
}
OUTCOME_WORDS = {RequestOutcome.OPEN: "Open", RequestOutcome.WON: "Won", RequestOutcome.LOST: "Lost"}


def local(moment: datetime | None, with_time: bool = True) -> str:
    """A moment as the viewer reads it, in their own time zone."""
    if moment is None:
        return ""
    moment = moment.astimezone(viewer_zone())
    return date_and_time(moment) if with_time else moment.strftime("%d %b %Y")


def is_overdue(req, today: date) -> bool:
    """Needed by a day already past (UTC) and still not completed or called off (of a request,
    or of a row with its ``needed_by`` and ``status``)."""
    return req.needed_by is not None and req.needed_by < today and req.status not in CLOSED


# --- the queue -------------------------------------------------------------------------------

AGE_CHOICES = [
    SelectChoice("", "Any time"),
    SelectChoice("1", "In the last day"),
    SelectChoice("7", "In the last 7 days"),
    SelectChoice("30", "In the last 30 days"),
    SelectChoice("90", "In the last 90 days"),
]
STATUS_CHOICES = [
    SelectChoice("", "Any status"),
    SelectChoice("open", "Open (not completed or cancelled)"),
    SelectChoice("overdue", "Overdue"),
] + [SelectChoice(status.value, STATUS_WORDS[status]) for status in RequestStatus]


class QueueFilters(Form):
    """The queue's filters: a GET form, so the filtered queue has its own address."""

    status = SelectField("Status", choices=STATUS_CHOICES, default="",
                         invalid_choice_message="Pick a status from the list.")
    owner = SelectField("Requested by", choices=[], default="",
                        invalid_choice_message="Pick a person from the list.")
    age = SelectField("Created", choices=AGE_CHOICES, default="",
                      invalid_choice_message="Pick an age from the list.")
    needed_before = DateField("Needed by, on or before", validators=[Optional()],
                              render_kw={"type": "date"})


def queue_filters() -> QueueFilters:
    form = QueueFilters(request.args)
    if not current_user.is_staff:
        del form.owner  # sales see their own requests only: there is nobody else to pick
        return form
    form.owner.choices = select_choices("Anybody", db.session.execute(_owners_query()).all())
    return form


@cache
def _owners_query():
    """The sellers by their role's index, and whoever requested by the requests: one OR of the
    two read every account of the pool."""
    sellers = select(Account.id, Account.name).where(Account.role == Role.SALES)
    requesters = (select(Account.id, Account.name)
                  .join(ReferenceRequest, ReferenceRequest.requested_by_id == Account.id))
    return union(sellers, requesters).order_by("name", "id")


@dataclass(frozen=True)
class QueueRow:
    """What a row of the queue shows of a request: read as plain columns, no ORM objects."""

    id: int
    needed_by: date | None
    prospect_company: str
    opportunity_name: str | None
    industry: str | None
    format: str
    requested_by: str | None  # None: the account was removed
    status: RequestStatus
    status_text: str
    created: str  # the day it was made, in the viewer's zone
    pending_asks: int
    overdue: bool


@bp.get("/requests", endpoint="requests")
@allow(STAFF, Role.SALES)
def queue():
    form = queue_filters()
    if not form.validate():
        if form.needed_before.errors:  # WTForms' own message names no format
            form.needed_before.errors = ["Give a date like 2026-05-31, or leave it empty."]
        return render_template("admin/requests.html", form=form, rows=[], total=0, invalid=True,
                               filtered=True), 400
    today = utcnow().date()
    rows, total = _queue(form, today)
    filtered = any(request.args.get(name) for name in ("status", "owner", "age", "needed_before"))
    request_path, sales = id_path("admin.request", "request_id"), current_user.role == Role.SALES

    def row_html(row: QueueRow) -> Markup:
        return drawn("admin/_queue_row.html", "queue_row", row, sales, request_path(row.id))

    return render_template("admin/requests.html", form=form, rows=rows, total=total, invalid=False,
                           filtered=filtered, row_html=row_html)


def _queue(form: QueueFilters, today: date) -> tuple[list[QueueRow], int]:
    """The requests the filters pick (sales: their own only), soonest needed first, in two
    queries: the rows with their owner, industry, format and pending asks, and the total."""
    status = form.status.data or ""
    owner = int(form.owner.data) if "owner" in form and form.owner.data else None
    values = {
        "viewer_id": current_user.id,
        "today": today,
        "status": RequestStatus(status) if status not in ("", "open", "overdue") else None,
        "owner_id": owner,
        "since": utcnow() - timedelta(days=int(form.age.data)) if form.age.data else None,
        "needed_before": form.needed_before.data,
    }
    rows_query, total_query = _queue_queries(
        current_user.role == Role.SALES, status if status in ("", "open", "overdue") else "one",
        owner is not None, values["since"] is not None, values["needed_before"] is not None)
    zone = viewer_zone()
    rows = []
    for row in db.session.execute(rows_query, values):
        rows.append(QueueRow(row.id, row.needed_by, row.prospect_company, row.opportunity_name, row.industry,
                             row.format, row.requested_by, row.status, STATUS_WORDS[row.status],
                             row.created_at.astimezone(zone).strftime("%d %b %Y"), row.pending,
                             is_overdue(row, today)))
    total = len(rows) if len(rows) < QUEUE_LIMIT else db.session.scalar(total_query, values)
    return rows, total


@lru_cache(maxsize=64)
def _queue_queries(own: bool, status: str, owner: bool, since: bool, needed_before: bool):
    """The queue's two queries for one shape of filters (``status``: "", "open", "overdue", or
    "one" status), built once with bound parameters; ``_queue`` gives their values."""
    conditions = []
    if own:
        conditions.append(ReferenceRequest.requested_by_id == bindparam("viewer_id"))
    if status == "open":
        conditions.append(ReferenceRequest.status.not_in(CLOSED))
    elif status == "overdue":
        conditions += [ReferenceRequest.status.not_in(CLOSED),
                       ReferenceRequest.needed_by < bindparam("today")]
    elif status == "one":
        conditions.append(ReferenceRequest.status == bindparam("status"))
    if owner:
        conditions.append(ReferenceRequest.requested_by_id == bindparam("owner_id"))
    if since:
        conditions.append(ReferenceRequest.created_at >= bindparam("since"))
    if needed_before:
        conditions.append(ReferenceRequest.needed_by <= bindparam("needed_before"))
    pending = (
        select(func.count(Ask.id))
        .where(Ask.request_id == ReferenceRequest.id, Ask.status == AskStatus.PENDING)
        .correlate(ReferenceRequest)
        .scalar_subquery()
    )
    rows = (
        select(ReferenceRequest.id, ReferenceRequest.needed_by, ReferenceRequest.prospect_company,
               ReferenceRequest.opportunity_name, Industry.name.label("industry"),
               Format.name.label("format"), Account.name.label("requested_by"), ReferenceRequest.status,
               ReferenceRequest.created_at, pending.label("pending"))
        .join(Format, Format.code == ReferenceRequest.format_code)
        .outerjoin(Industry, Industry.id == ReferenceRequest.industry_id)
        .outerjoin(Account, Account.id == ReferenceRequest.requested_by_id)
        .where(*conditions)
        # Soonest needed first; requests without a date last.
        .order_by(ReferenceRequest.needed_by.is_(None), ReferenceRequest.needed_by, ReferenceRequest.id)
        .limit(QUEUE_LIMIT)
    )
    return rows, select(func.count(ReferenceRequest.id)).where(*conditions)


# --- the intake form -------------------------------------------------------------------------


def select_choices(empty: str, pairs) -> list[SelectChoice]:
    """A select's options: "nothing picked" first, then (value, label) pairs or ``Choice``s."""
    return [SelectChoice("", empty)] + [SelectChoice(str(value), label) for value, label, *_ in pairs]


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


class RequestForm(OnceForm):
    """Every field of the contract (DESIGN.md §9), named as in the contract. The form only
    carries the text: the workflow (``parse_request``) reads and checks it (lists one item per
    line), and its messages appear beside each field."""

    opportunity_id = StringField("CRM opportunity ID", render_kw={"autocomplete": "off"})
    opportunity_name = StringField("Opportunity name")
    amount = StringField("Deal amount", render_kw={"inputmode": "decimal"})
    prospect_company = StringField("Prospect company (required)",
                                   render_kw={"autocomplete": "off", "required": True})
    industry = SelectField("Industry (required)", choices=[], validate_choice=False,
                           render_kw={"required": True})
    employees = StringField("Employees at the prospect", render_kw={"inputmode": "numeric"})
    region = SelectField("Region", choices=[], validate_choice=False)
    contact_name = StringField("Contact name", render_kw={"autocomplete": "off"})
    contact_email = EmailField("Contact e-mail", render_kw={"autocomplete": "off"})
    format = SelectField("Format (required)", choices=[], validate_choice=False,
                         render_kw={"required": True})
    needed_by = StringField("Needed by", render_kw={"type": "date"})
    use_cases = TextAreaField("Use cases, one per line", render_kw={"rows": 3})
    topics = SelectMultipleField(
        "Topics the prospect wants to hear about",
        choices=[],
        validate_choice=False,  # the workflow names any topic it does not know
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    competitors = TextAreaField("Competitors in the deal, one per line", render_kw={"rows": 3})
    questions = TextAreaField("Questions for a written reference, one per line", render_kw={"rows": 4})
    notes = TextAreaField("Notes for the coordinator", render_kw={"rows": 3})

    def fill_choices(self) -> None:
        """The catalogues, by name (what the contract's JSON carries too)."""
        options = catalogue_choices("industry_name", "region_name", "format", "topic_name")
        self.industry.choices = select_choices("Pick an industry…", options["industry_name"])
        self.region.choices = select_choices("Pick a region…", options["region_name"])
        self.format.choices = select_choices("Pick a format…", options["format"])
        self.topics.choices = [SelectChoice(c.value, c.name) for c in options["topic_name"]]

    def show_errors(self, errors: dict[str, Any]) -> None:
        """The workflow's messages beside their fields; those of no field above the form."""
        for name, found in errors.items():
            messages = [_sentence(m) for m in ([found] if isinstance(found, str) else found)]
            field = self._fields.get(name)
            if field is None or name == "csrf_token":
                self.form_errors.extend(messages)
            else:
                field.errors = list(field.errors or []) + messages


@bp.route("/requests/new", methods=["GET", "POST"])
@allow(STAFF, Role.SALES)
def new_request():
    form = RequestForm()
    form.fill_choices()
    if not form.is_submitted():
        return render_template("admin/new_request.html", form=form)
    if not form.validate():  # the CSRF token; the fields are the workflow's to check
        abort(400)
    try:
        data = parse_request(request.form)  # the form's text as typed: the workflow reads it
        created = request_submission.submit_request(data, by=current_user, once=form.once("request-form"))
    except AlreadySubmitted as again:
        flash("This form was already sent: here is the request it created. Nothing new was saved.",
              "info")
        return redirect(url_for("admin.request", request_id=again.submission.resource_id))
    except RequestInvalid as invalid:
        form.show_errors(invalid.errors)
        flash("Nothing was saved: see the messages beside the fields.", "error")
        return render_template("admin/new_request.html", form=form), 422
    flash(f"Request for {created.prospect_company} submitted. "
          + ("The coordinator picks an advocate next." if current_user.role == Role.SALES
             else "Pick an advocate to ask below."), "success")
    return redirect(url_for("admin.request", request_id=created.id))


# --- one request -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DetailPage:
    view: RequestView
    owner: bool
    size: str | None
    match: MatchResult | None  # ranked only for staff, while the request still needs an advocate
    overdue: bool
    all_candidates: bool
    tags: RequestTags
    follow_up: followup.CallFollowUp | None = None  # a booked call that has begun

    @property
    def request(self) -> ReferenceRequest:
        return self.view.request

    @property
    def staff(self) -> bool:
        return self.view.sight.match_details

    @property
    def asks(self) -> list[AskView]:
        return self.view.asks

    @property
    def timeline(self):
        return self.view.timeline

    @property
    def engagement(self):
        return self.view.engagement

    @property
    def open(self) -> bool:
        return self.request.status not in CLOSED

    @property
    def looking(self) -> bool:
        return self.request.status in LOOKING

    @property
    def editable(self) -> bool:
        return self.request.status in flow.ASKABLE and (self.staff or self.owner)

    @property
    def pending(self) -> list[AskView]:
        """Asks waiting for an answer: asking someone else as well takes a second step."""
        return [a for a in self.asks if a.pending]

    @property
    def live_call(self) -> bool:
        """The request's engagement is a live call (not a written reference)."""
        return self.engagement is not None and self.engagement.format_code != "written"

    @property
    def introductions(self) -> list[TimelineEntry]:
        """Each time the introduction went to the prospect for the current engagement."""
        if self.engagement is None:
            return []
        return [line for line in self.timeline
                if line.kind == "introduced" and line.detail.get("engagement_id") == self.engagement.id]

    @property
    def awaiting_booking(self) -> bool:
        return self.live_call and self.engagement.status is EngagementStatus.AWAITING_BOOKING

    @property
    def call_cancellable(self) -> bool:
        """The call can still be called off: waiting to be booked, or booked and not begun."""
        if not self.live_call:
            return False
        e = self.engagement
        return e.status is EngagementStatus.AWAITING_BOOKING or (
            e.status is EngagementStatus.BOOKED and e.starts_at is not None and e.starts_at > utcnow())

    @property
    def candidates(self):
        if self.match is None:
            return ()
        return self.match.candidates if self.all_candidates else self.match.candidates[:CANDIDATES_SHOWN]


class AskForm(FlaskForm):
    advocate_id = HiddenField(validators=[InputRequired()])
    # Sent by the second step: asking someone while another ask is still waiting for an answer.
    also = HiddenField()


class ButtonForm(FlaskForm):
    """A button (withdraw): only its CSRF token travels."""


class CancelForm(FlaskForm):
    reason = TextAreaField(
        "Why is it no longer needed? (optional)",
        render_kw={"rows": 2, "maxlength": flow.CANCEL_REASON_MAX_LENGTH},
    )


class ResendForm(FlaskForm):
    """Send the introduction again, to a corrected address if one is given."""

    contact_email = EmailField("Send it to (leave empty for the same address)",
                               render_kw={"autocomplete": "off"})

    show_errors = RequestForm.show_errors


class CallCancelForm(FlaskForm):
    reason = TextAreaField(
        "Why is the call cancelled? (the prospect and the advocate read it)",
        render_kw={"rows": 2, "maxlength": bookings.CANCEL_REASON_MAX_LENGTH, "required": True},
    )


OUTCOME_PICK = "Pick won or lost."


class OutcomeForm(FlaskForm):
    outcome = SelectField(
        "Deal outcome",
        choices=[SelectChoice("", "Pick one…"), SelectChoice("won", "Won"), SelectChoice("lost", "Lost")],
        validators=[InputRequired(OUTCOME_PICK)],
        invalid_choice_message=OUTCOME_PICK,
    )


class EditForm(FlaskForm):
    """What the seller may still change before an advocate accepts; read by the workflow's rules."""

    needed_by = StringField("Needed by", render_kw={"type": "date"})
    contact_name = StringField("Contact name", render_kw={"autocomplete": "off"})
    contact_email = EmailField("Contact e-mail", render_kw={"autocomplete": "off"})
    topics = SelectMultipleField(
        "Topics the prospect wants to hear about",
        choices=[],
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    notes = TextAreaField("Notes for the coordinator", render_kw={"rows": 3})

    def fill_choices(self) -> None:
        topics = catalogue_choices("topic_name")["topic_name"]
        self.topics.choices = [SelectChoice(c.value, c.name) for c in topics]

    show_errors = RequestForm.show_errors


def edit_form(req: ReferenceRequest, tags: RequestTags) -> EditForm:
    form = EditForm(formdata=None, data={
        "needed_by": req.needed_by.isoformat() if req.needed_by else "",
        "contact_name": req.contact_name,
        "contact_email": req.contact_email,
        "topics": list(tags.topics),
        "notes": req.notes,
    })
    form.fill_choices()
    return form


@bp.get("/requests/<int:request_id>", endpoint="request")
@allow(STAFF, Role.SALES)
def request_page(request_id: int):
    return _page(request_id)


@bp.post("/requests/<int:request_id>/asks")
def ask_advocate(request_id: int):
    form = AskForm()
    advocate_id = whole_number(form.advocate_id.data)
    if not form.validate_on_submit() or advocate_id is None:
        flash("Pick an advocate from the list of candidates.", "error")
        return _page(request_id, 400)
    pending = db.session.scalar(
        select(func.count(Ask.id)).where(Ask.request_id == request_id, Ask.status == AskStatus.PENDING)
    )
    if pending and form.also.data != "yes":
        flash("An ask for this request is still waiting for an answer: confirm that you want to ask "
              "someone else as well. Nothing was changed.", "error")
        return _page(request_id, 409)
    try:
        made = flow.ask(request_id, advocate_id, by=current_user)
    except errors.NotFound:
        _not_found(request_id)
    except errors.WorkflowError as refusal:
        return _refused(request_id, refusal)
    name = made.advocate.account.name if made is not None and made.advocate else "The advocate"
    flash(f"Asked {name}. They have until {local(made.expires_at)} to answer; "
          "the e-mail with the request is on its way.", "success")
    return redirect(url_for("admin.request", request_id=request_id, _anchor="asks"))


@bp.post("/requests/<int:request_id>/asks/<int:ask_id>/withdraw")
def withdraw_ask(request_id: int, ask_id: int):
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        withdrawn = flow.withdraw_ask(ask_id, by=current_user)
    except errors.NotFound:
        abort(404)
    except errors.WorkflowError as refusal:
        return _refused(request_id, refusal)
    flash(f"The ask to {withdrawn.advocate.account.name} is withdrawn: they no longer need to answer.",
          "success")
    return redirect(url_for("admin.request", request_id=withdrawn.request_id, _anchor="asks"))


@bp.post("/requests/<int:request_id>/cancel")
@allow(STAFF, Role.SALES)
def cancel_request(request_id: int):
    form = CancelForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        flow.cancel_request(request_id, by=current_user, reason=form.reason.data or "")
    except errors.NotFound:
        _not_found(request_id)
    except errors.WorkflowError as refusal:
        return _refused(request_id, refusal)
    flash("The request is cancelled. Any advocate still asked has been told it is no longer needed.",
          "success")
    return redirect(url_for("admin.request", request_id=request_id))


@bp.post("/requests/<int:request_id>/outcome")
@allow(STAFF, Role.SALES)
def record_outcome(request_id: int):
    form = OutcomeForm()
    if not form.validate_on_submit():
        flash(form.outcome.errors[0] if form.outcome.errors else "Nothing was changed.", "error")
        return _page(request_id, 400, outcome_form=form)
    try:
        flow.record_outcome(request_id, form.outcome.data, by=current_user)
    except errors.NotFound:
        _not_found(request_id)
    except errors.WorkflowError as refusal:
        return _refused(request_id, refusal)
    flash(f"Outcome recorded: the deal was {form.outcome.data}. Thank you for letting us know.", "success")
    return redirect(url_for("admin.request", request_id=request_id))


@bp.post("/requests/<int:request_id>/call/no-show")
def mark_no_show(request_id: int):
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        followup.mark_no_show(request_id, by=current_user)
    except errors.NotFound:
        _not_found(request_id)
    except errors.WorkflowError as refusal:
        return _refused(request_id, refusal)
    flash("Marked a no-show: the call did not take place, and the request is closed.", "success")
    return redirect(url_for("admin.request", request_id=request_id))


@bp.post("/requests/<int:request_id>/call/completed")
def complete_call(request_id: int):
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        followup.complete_call(request_id, by=current_user)
    except errors.NotFound:
        _not_found(request_id)
    except errors.WorkflowError as refusal:
        return _refused(request_id, refusal)
    flash("Completed: the advocate earns their points and gets the thank-you; the seller is asked "
          "for the deal's outcome.", "success")
    return redirect(url_for("admin.request", request_id=request_id))


@bp.post("/requests/<int:request_id>/introduction/resend")
def resend_introduction(request_id: int):
    form = ResendForm(prefix="resend")
    if not form.validate_on_submit():
        abort(400)
    try:
        engagement = bookings.resend_introduction(request_id, by=current_user,
                                                  contact_email=form.contact_email.data or None)
    except RequestInvalid as invalid:
        form.show_errors(invalid.errors)
        flash("Nothing was sent: see the message beside the address.", "error")
        return _page(request_id, 422, resend_form=form)
    except errors.NotFound:
        _not_found(request_id)
    except errors.Invalid as refusal:
        show_refusal(form, refusal)
        flash(f"Nothing was sent. {refusal.message}", "error")
        return _page(request_id, refusal.status, resend_form=form)
    except errors.WorkflowError as refusal:
        return _refused(request_id, refusal)
    flash(f"The introduction is on its way to {engagement.prospect_email} again, with a link to book the "
          "call; the seller is in copy.", "success")
    return redirect(url_for("admin.request", request_id=request_id, _anchor="call"))


@bp.post("/requests/<int:request_id>/call/cancel")
def cancel_call(request_id: int):
    form = CallCancelForm(prefix="call")
    if not form.validate_on_submit():
        abort(400)
    try:
        cancelled = bookings.cancel_request_call(request_id, by=current_user, reason=form.reason.data or "")
    except errors.NotFound:
        _not_found(request_id)
    except errors.Invalid as refusal:
        show_refusal(form, refusal)
        flash(refusal.message, "error")
        return _page(request_id, refusal.status, call_cancel_form=form)
    except errors.WorkflowError as refusal:
        return _refused(request_id, refusal)
    told = ("Both sides get the cancellation for their calendars" if cancelled.starts_at is not None
            else "The prospect's booking link no longer works")
    flash(f"The call is cancelled. {told}, the advocate's place in the quarter is free again, and the "
          "request needs an advocate again.", "success")
    return redirect(url_for("admin.request", request_id=request_id))


@bp.post("/requests/<int:request_id>/edit")
@allow(STAFF, Role.SALES)
def edit_request(request_id: int):
    form = EditForm()
    form.fill_choices()
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = request_submission.edit_request(request_id, parse_request_edit(request.form),
                                                  by=current_user)
    except RequestInvalid as invalid:
        form.show_errors(invalid.errors)
        flash("Nothing was changed: see the messages beside the fields.", "error")
        return _page(request_id, 422, edit=form)
    except errors.NotFound:
        _not_found(request_id)
    except errors.WorkflowError as refusal:
        return _refused(request_id, refusal)
    if changed:
        flash("Request changed: " + ", ".join(n.replace("_", " ") for n in changed) + ".", "success")
    else:
        flash("Nothing had changed.", "info")
    return redirect(url_for("admin.request", request_id=request_id))


def _refused(request_id: int, refusal: errors.WorkflowError):
    flash(str(refusal), "error")
    return _page(request_id, refusal.status)


def _not_found(request_id: int):
    """404, the same for someone else's request as for none; the first is audited."""
    if db.session.get(ReferenceRequest, request_id) is not None:
        record_access_denied(current_user, request.path)
    abort(404)


def _page(request_id: int, status: int = 200, *, outcome_form: OutcomeForm | None = None,
          edit: EditForm | None = None, return_form=None, resend_form: ResendForm | None = None,
          call_cancel_form: CallCancelForm | None = None):
    try:
        req = flow.request_for(current_user, request_id)
    except flow.RequestNotFound:
        _not_found(request_id)
    page = detail_page(req, all_candidates=request.args.get("candidates") == "all")
    return render_template(
        "admin/request.html",
        page=page,
        req=req,
        words=STATUS_WORDS,
        hints=STATUS_HINTS,
        ask_words=ASK_WORDS,
        outcome_words=OUTCOME_WORDS,
        local=local,
        zone=viewer_zone(),
        outcome_form=outcome_form or OutcomeForm(formdata=None),
        cancel_form=CancelForm(formdata=None),
        resend_form=resend_form or ResendForm(formdata=None, prefix="resend"),
        call_cancel_form=call_cancel_form or CallCancelForm(formdata=None, prefix="call"),
        edit_form=edit or (edit_form(req, page.tags) if page.editable else None),
        candidates_html=candidates_html(page, req) if page.match is not None else "",
        **section_context(page.engagement, return_form),
    ), status


class DrawnWithRanking:
    """HTML drawn once for a kept ranking (``workflows.matching.cached_rank`` keeps one while it
    holds) and the little else it shows, kept by the ranking's identity for as long: the same
    for everyone who sees it but the viewer's CSRF token (``pages.mark_token``)."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, tuple[MatchResult, str]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, match: MatchResult, key: tuple, draw) -> Markup:
        found = (id(match), id(current_app._get_current_object()), *key)
        with self._lock:
            kept = self._kept.get(found)
        if kept is not None and kept[0] is match:
            return unmark_token(kept[1])
        html = str(draw())
        with self._lock:
            self._kept[found] = (match, mark_token(html))
            while len(self._kept) > 2 * RANKINGS_KEPT:
                self._kept.popitem(last=False)
        return Markup(html)


_kept_with_ranking = DrawnWithRanking()


def excluded_html(match: MatchResult) -> Markup:
    """``_excluded.html`` for the ranking, drawn once."""
    return _kept_with_ranking(match, ("excluded",), lambda: render_template(
        "admin/_excluded.html", match=match, excluded_shown=EXCLUDED_SHOWN))


def candidates_html(page: DetailPage, req: ReferenceRequest) -> Markup:
    """``_candidates.html`` for the page's ranking, drawn once for each way it can look: all
    candidates or the first ones, and who has an ask pending (the Ask buttons say so)."""
    pending = tuple(a.name for a in page.pending)
    key = ("candidates", req.id, page.all_candidates, pending)
    return _kept_with_ranking(page.match, key, lambda: render_template(
        "admin/_candidates.html", page=page, req=req, shown=CANDIDATES_SHOWN,
        excluded_html=excluded_html(page.match)))


def detail_page(req: ReferenceRequest, *, all_candidates: bool = False) -> DetailPage:
    """Everything the request's page shows. ``request_for`` loaded the request with its asks and
    timeline; the engagement is one more query, what follows a call begun one more, the ranking
    a fixed number, and none but the pool version's while the kept one still holds
    (``workflows.matching.cached_rank``)."""
    view = view_request(req, current_user, current_engagement(req.id))
    ranked = view.sight.match_details and req.status in LOOKING
    return DetailPage(
        view=view,
        owner=req.requested_by_id == current_user.id,
        size=size_band(req.employees),
        match=cached_rank(req, named=EXCLUDED_SHOWN) if ranked else None,
        overdue=is_overdue(req, utcnow().date()),
        all_candidates=all_candidates,
        tags=request_tags([req.id])[req.id],
        follow_up=followup.call_follow_up(view.engagement, utcnow()),
    )
