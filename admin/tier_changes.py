"""The tier changes queue (``/admin/tier-changes``): promotions and demotions the nightly job
suggested from each advocate's points over the last 12 months, waiting for a coordinator, the
most points first. Each is approved (the tier changes and the advocate gets the e-mail naming the
new tier's benefits) or dismissed (the tier stays) with one button, or many at once, ticked, behind
a confirmation step. Where the setting ``TIER_CHANGES_AUTOMATIC`` is on, the job applies them
itself and the queue stays empty.

The single buttons and the bulk step belong to one form (the single ones post elsewhere through
``formaction``), so that no form sits inside another.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from admin import bp
from pages import local_time, whole_number
from workflows import errors, settings, tiers


class DecideForm(FlaskForm):
    """Buttons: only the CSRF token travels, and the suggestions ticked."""


@bp.get("/tier-changes")
def tier_changes():
    return _page()


@bp.post("/tier-changes/<int:suggestion_id>/approve")
def approve_tier_change(suggestion_id: int):
    return _decide([suggestion_id], approve=True)


@bp.post("/tier-changes/<int:suggestion_id>/dismiss")
def dismiss_tier_change(suggestion_id: int):
    return _decide([suggestion_id], approve=False)


@bp.post("/tier-changes/bulk")
def decide_tier_changes():
    decision = request.form.get("decision")
    if decision not in ("approve", "dismiss"):
        return _refused("Pick approve or dismiss. Nothing was changed.", 400)
    ids = [whole_number(raw) for raw in request.form.getlist("suggestion")]
    if any(i is None for i in ids):
        return _refused("A suggestion ticked is not a valid id. Nothing was changed.", 400)
    if not ids:
        return _refused("Tick at least one suggestion. Nothing was changed.", 400)
    return _decide([i for i in ids if i is not None], approve=decision == "approve")


def _decide(ids: list[int], *, approve: bool):
    if not DecideForm().validate_on_submit():
        return _refused("Nothing was changed: the form had expired. Try again.", 400)
    try:
        done = tiers.decide(ids, approve=approve, by=current_user)
    except errors.NotFound:
        return _refused("There is no such tier suggestion. Nothing was changed.", 404)
    except errors.WorkflowError as refusal:
        return _refused(str(refusal), refusal.status)
    names = done.approved or done.dismissed
    if names:
        what = ("approved: the tier is changed and the advocate told by e-mail" if approve
                else "dismissed: the tier stays")
        count = f"{len(names)} suggestion{'' if len(names) == 1 else 's'}"
        flash(f"{count} {what} ({', '.join(names)}).", "success")
    if done.skipped:
        flash(f"{len(done.skipped)} skipped: " + " ".join(why for _name, why in done.skipped), "info")
    if len(ids) == 1 and done.skipped and not names:
        return _page(409)
    return redirect(url_for("admin.tier_changes"))


def _refused(message: str, status: int):
    flash(message, "error")
    return _page(status)


def _page(status: int = 200):
    return render_template(
        "admin/tier_changes.html",
        queue=tiers.queue(),
        automatic=bool(settings.value("TIER_CHANGES_AUTOMATIC")),
        form=DecideForm(formdata=None),
        local=local_time(),
    ), status
