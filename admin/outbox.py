"""The outbox (``/admin/outbox``, admins only): every message with its status, template,
recipients, attempts, last error and times; filtered by status, template and recipient, 50 a
page. A dead message can be sent again, and a dead or queued one discarded, each behind a
confirmation step; both are audited (``workflows.outbox``). Bodies are shown with their links
hidden, and a sensitive one (a sign-in link) not at all.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from access import allow
from admin import bp
from mail.outbox import catalogue
from models import Role
from pages import int_arg, local_time
from workflows import outbox as flow

FILTERS = ("status", "template", "q")


class ActionForm(FlaskForm):
    """A button: only its CSRF token travels, the message is in the URL."""


def _filters() -> flow.Filters:
    return flow.parse_filters(request.args.get("status"), request.args.get("template"), request.args.get("q"))


def _args(page: int | None = None) -> dict[str, str]:
    """The list's query string, to come back to the same page after an action."""
    args = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    if page and page > 1:
        args["page"] = str(page)
    return args


@bp.get("/outbox")
@allow(Role.ADMIN)
def outbox():
    filters = _filters()
    page = int_arg(request.args, "page", 1, high=flow.PAGES_MAX)
    found = flow.listing(filters, page)
    templates = catalogue()
    if filters.template and filters.template not in templates:
        templates = sorted([*templates, filters.template])
    return render_template("admin/outbox.html", listing=found, filters=filters, templates=templates,
                           statuses=flow.STATUS_WORDS, args=_args(), here=_args(page), local=local_time())


@bp.post("/outbox/<int:message_id>/requeue")
@allow(Role.ADMIN)
def requeue_outbox(message_id: int):
    if ActionForm().validate_on_submit():
        try:
            message = flow.requeue(message_id, by=current_user)
        except flow.NotFound:
            abort(404)  # admins see every message: no other's record to audit
        except flow.CannotRequeue as refusal:
            flash(f"Nothing was changed. {refusal}", "error")
        else:
            flash(f"Message {message.id} ({message.template}) is queued again: the worker sends it "
                  "on its next round.", "success")
    else:
        flash("Nothing was changed: the form had expired. Try again.", "error")
    return redirect(url_for("admin.outbox", **_args(int_arg(request.args, "page", 1, high=flow.PAGES_MAX))))


@bp.post("/outbox/<int:message_id>/discard")
@allow(Role.ADMIN)
def discard_outbox(message_id: int):
    if ActionForm().validate_on_submit():
        try:
            message = flow.discard(message_id, by=current_user)
        except flow.NotFound:
            abort(404)
        except flow.CannotDiscard as refusal:
            flash(f"Nothing was changed. {refusal}", "error")
        else:
            flash(f"Message {message.id} ({message.template}) is discarded: it will not be sent.", "success")
    else:
        flash("Nothing was changed: the form had expired. Try again.", "error")
    return redirect(url_for("admin.outbox", **_args(int_arg(request.args, "page", 1, high=flow.PAGES_MAX))))
