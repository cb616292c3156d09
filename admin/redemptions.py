"""The redemption queue (``/admin/redemptions``): the perks advocates redeemed with their points,
waiting for a coordinator, oldest first; each is fulfilled with one button, or rejected (the
points go back, the advocate reads the note) behind a confirmation step. Below, the latest
decided ones.

Each action is a POST with its CSRF token that calls one workflow function, flashes and
redirects back to the queue. A redemption decided meanwhile (in another tab, by a colleague)
is refused with 409 and its message on the queue; a note over its length with 422, beside the
field, the confirmation step left open.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from admin import bp
from models import Redemption
from pages import first_error, local_time, show_refusal
from workflows import perks as flow

# --- forms -----------------------------------------------------------------------------------


class FulfilForm(FlaskForm):
    """A button: only its CSRF token travels, the redemption is in the URL."""


class RejectForm(FlaskForm):
    """One per redemption, told apart by its prefix (``redemption-<id>-note``) so every label is
    unique on the page."""

    note = TextAreaField(
        "Why not? (optional, the advocate reads it)",
        validators=[
            Length(
                max=flow.NOTE_MAX_LENGTH,
                message=f"Keep the note to {flow.NOTE_MAX_LENGTH} characters or fewer.",
            )
        ],
        render_kw={"rows": 2, "maxlength": flow.NOTE_MAX_LENGTH},
    )


def reject_form(redemption_id: int, *, posted: bool = False) -> RejectForm:
    prefix = f"redemption-{redemption_id}"
    return RejectForm(prefix=prefix) if posted else RejectForm(formdata=None, prefix=prefix)


# --- views -----------------------------------------------------------------------------------


@bp.get("/redemptions")
def redemptions():
    return _page()


@bp.post("/redemptions/<int:redemption_id>/fulfil")
def fulfil_redemption(redemption_id: int):
    if not FulfilForm().validate_on_submit():
        flash("Nothing was changed: the form had expired. Try again.", "error")
        return redirect(url_for("admin.redemptions"))
    try:
        done = flow.fulfil(redemption_id, by=current_user)
    except flow.NotFound:
        abort(404)  # staff see every redemption: no other's record to audit
    except flow.AlreadyDecided as refusal:
        flash(str(refusal), "error")
        return _page(refusal.status)
    flash(f"{_what(done)} is marked fulfilled. {done.advocate.account.name} gets an e-mail saying so.",
          "success")
    return redirect(url_for("admin.redemptions"))


@bp.post("/redemptions/<int:redemption_id>/reject")
def reject_redemption(redemption_id: int):
    form = reject_form(redemption_id, posted=True)
    if not form.validate_on_submit():
        flash(f"Nothing was changed. {first_error(form)}", "error")
        return _page(422, refused=(redemption_id, form))
    try:
        done = flow.reject(redemption_id, by=current_user, note=form.note.data or "")
    except flow.NotFound:
        abort(404)
    except flow.AlreadyDecided as refusal:
        flash(str(refusal), "error")
        return _page(refusal.status)
    except flow.RedemptionError as refusal:
        show_refusal(form, refusal)
        flash(f"Nothing was changed. {refusal}", "error")
        return _page(refusal.status, refused=(redemption_id, form))
    back = f"the {done.points_spent} points are back in their balance" if done.points_spent else "no points"
    told = "with your note" if done.decision_note else "saying so"
    flash(f"{_what(done)} is rejected: {back}. {done.advocate.account.name} gets an e-mail {told}.",
          "success")
    return redirect(url_for("admin.redemptions"))


# --- helpers ---------------------------------------------------------------------------------


def _what(redemption: Redemption) -> str:
    return f"{redemption.advocate.account.name}’s “{redemption.perk.name}”"


def _page(status: int = 200, refused: tuple[int, RejectForm] | None = None):
    queue = flow.queue()
    forms = {r.id: reject_form(r.id) for r in queue.requested}
    if refused is not None and refused[0] in forms:
        forms[refused[0]] = refused[1]
    return render_template(
        "admin/redemptions.html",
        queue=queue,
        forms=forms,
        open_form=refused[0] if refused else None,
        local=local_time(),
    ), status
