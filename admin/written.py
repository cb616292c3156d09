"""The written answers on a request's page: staff read the submitted answers and approve them
(the prospect is sent the link to read them) or send them back to the advocate with a note;
the seller sees that they were approved and sent, and reads them then.

Both actions are POSTs behind a confirm step on the request's page; each calls one workflow
function, flashes and redirects back to the section. A refusal re-renders the request's page
with the reason and its status (409 when the answers are no longer waiting for approval, 422
for a missing or too long note, shown beside the note).
"""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_login import current_user

from admin import bp
from admin import requests as request_pages
from admin.written_section import ApproveForm, ReturnForm
from pages import show_refusal
from workflows import errors
from workflows import written as flow


@bp.post("/requests/<int:request_id>/answers/approve")
def approve_answers(request_id: int):
    if not ApproveForm().validate_on_submit():
        abort(400)
    try:
        engagement = flow.approve_answers(request_id, by=current_user)
    except errors.NotFound:
        abort(404)
    except errors.WorkflowError as refusal:
        return request_pages._refused(request_id, refusal)
    sent_to = flow.written_view(engagement, current_user).sent_to
    if sent_to:
        flash(f"Answers approved, and the advocate thanked. The link to read them went to {sent_to}.",
              "success")
    else:
        flash("Answers approved, and the advocate thanked. The request names no prospect contact and "
              "its seller cannot be e-mailed, so nobody was sent the link to read them.", "info")
    return redirect(url_for("admin.request", request_id=request_id, _anchor="written"))


@bp.post("/requests/<int:request_id>/answers/return")
def return_answers(request_id: int):
    form = ReturnForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        flow.return_answers(request_id, form.note.data or "", by=current_user)
    except errors.NotFound:
        abort(404)
    except errors.Invalid as refusal:
        show_refusal(form, refusal)
        flash(f"Nothing was sent back. {refusal.message}", "error")
        return request_pages._page(request_id, refusal.status, return_form=form)
    except errors.WorkflowError as refusal:
        return request_pages._refused(request_id, refusal)
    flash("Sent back to the advocate with your note. You will hear when they submit again.", "success")
    return redirect(url_for("admin.request", request_id=request_id, _anchor="written"))
