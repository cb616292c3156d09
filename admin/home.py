"""The dashboard of the admin area: requests by status, the overdue ones, and (for staff) the asks
about to expire and the size of the pool. Sales see their own requests only. Coordinators also
keep their e-mail setting here: a message for every new request, or none.

Read in a fixed number of queries, whatever the number of requests and asks.
"""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms import BooleanField

from access import STAFF, allow
from admin import bp
from models import (
    Advocate,
    AdvocateStatus,
    Ask,
    AskStatus,
    ReferenceRequest,
    RequestStatus,
    Role,
    db,
)
from models.types import utcnow
from pages import date_and_time, viewer_zone
from workflows import accounts

SHOWN = 10  # rows in each dashboard list; the queue has the rest
EXPIRY_HORIZON = timedelta(hours=24)  # "about to expire": pending asks due within this
OPEN_STATUSES = (RequestStatus.NEW, RequestStatus.ASKING, RequestStatus.MATCHED, RequestStatus.SCHEDULED)


class NotificationsForm(FlaskForm):
    new_requests = BooleanField("E-mail me about every new request", render_kw={"role": "switch"})


@bp.route("/")
@allow(STAFF, Role.SALES)
def home():
    now = utcnow()
    sales = current_user.role == Role.SALES
    own = (ReferenceRequest.requested_by_id == current_user.id,) if sales else ()

    counts = dict(db.session.execute(
        select(ReferenceRequest.status, func.count()).where(*own).group_by(ReferenceRequest.status)
    ).all())
    overdue = db.session.scalars(
        select(ReferenceRequest)
        .where(*own, ReferenceRequest.status.in_(OPEN_STATUSES), ReferenceRequest.needed_by < now.date())
        .options(joinedload(ReferenceRequest.requested_by), joinedload(ReferenceRequest.format))
        .order_by(ReferenceRequest.needed_by, ReferenceRequest.id)
        .limit(SHOWN)
    ).all()
    expiring, active_advocates = [], 0
    if not sales:
        expiring = db.session.scalars(
            select(Ask)
            .where(Ask.status == AskStatus.PENDING, Ask.expires_at <= now + EXPIRY_HORIZON)
            .options(joinedload(Ask.advocate).joinedload(Advocate.account), joinedload(Ask.request))
            .order_by(Ask.expires_at, Ask.id)
            .limit(SHOWN)
        ).all()
        active_advocates = db.session.scalar(
            select(func.count()).select_from(Advocate).where(Advocate.status == AdvocateStatus.ACTIVE)
        )
    zone = viewer_zone()
    return render_template(
        "admin/home.html",
        request_counts={status: counts.get(status, 0) for status in RequestStatus},
        waiting=counts.get(RequestStatus.NEW, 0),
        overdue=overdue,
        expiring=expiring,
        active_advocates=active_advocates,
        now=now,
        today=now.date(),
        when=lambda moment: date_and_time(moment.astimezone(zone)),
        zone=zone,
        shown=SHOWN,
        notifications_form=NotificationsForm(
            formdata=None, data={"new_requests": current_user.notify_new_requests}
        ) if current_user.role == Role.COORDINATOR else None,
    )


@bp.post("/notifications")
def set_notifications():
    form = NotificationsForm()
    if not form.validate_on_submit():
        flash("Nothing was changed: the form had expired. Try again.", "error")
        return redirect(url_for("admin.home"))
    try:
        on = accounts.set_new_request_notifications(current_user.id, form.new_requests.data, by=current_user)
    except accounts.AccountError as refusal:
        flash(f"Nothing was changed. {refusal}", "error")
        return redirect(url_for("admin.home"))
    flash("You get an e-mail about every new request." if on else
          "You no longer get an e-mail about new requests; they still show here and in the queue.",
          "success")
    return redirect(url_for("admin.home", _anchor="notifications"))
