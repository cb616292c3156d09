"""The staff home page (filled by M3: request queue, pool)."""

from flask import render_template
from flask_login import current_user
from sqlalchemy import func, select

from access import STAFF, allow
from admin import bp
from models import Advocate, AdvocateStatus, ReferenceRequest, RequestStatus, Role, db


@bp.route("/")
@allow(STAFF, Role.SALES)
def home():
    requests = select(ReferenceRequest.status, func.count()).group_by(ReferenceRequest.status)
    if current_user.role == Role.SALES:
        requests = requests.where(ReferenceRequest.requested_by_id == current_user.id)
    request_counts = dict(db.session.execute(requests).all())
    active_advocates = db.session.scalar(
        select(func.count()).select_from(Advocate).where(Advocate.status == AdvocateStatus.ACTIVE)
    )
    return render_template(
        "admin/home.html",
        request_counts={status: request_counts.get(status, 0) for status in RequestStatus},
        active_advocates=active_advocates,
    )
