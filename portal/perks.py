"""The advocate's perks: their tier's benefits, the catalogue (higher tiers' perks
shown locked with the tier they need), redeeming points for a perk, and their redemptions.

One page (``/portal/perks``). Each perk they can afford has a small form, folded away until
opened, that POSTs to ``/portal/perks/<id>/redeem``: one workflow call, a flash, a redirect.
A refused redemption (locked, inactive, out of stock, not enough points) changes nothing and
says why; the same form sent twice (its one-time submission key) redeems once. A perk of limited
stock shows how many are left.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from wtforms import TextAreaField
from wtforms.validators import Length

from pages import ALREADY_SENT, OnceForm, first_error, local_time
from portal import bp, current_advocate_id
from workflows import perks as flow
from workflows.submissions import AlreadySubmitted

# --- forms -----------------------------------------------------------------------------------


class RedeemForm(OnceForm):
    """One per perk, told apart by its prefix (``perk-<id>-note``) so every label is unique."""

    note = TextAreaField(
        "A note for your coordinator (optional)",
        validators=[
            Length(
                max=flow.NOTE_MAX_LENGTH,
                message=f"Keep the note to {flow.NOTE_MAX_LENGTH} characters or fewer.",
            )
        ],
        render_kw={"rows": 2, "maxlength": flow.NOTE_MAX_LENGTH},
    )


def redeem_form(perk_id: int, formdata=None) -> RedeemForm:
    if formdata is None:
        return RedeemForm(formdata=None, prefix=f"perk-{perk_id}")
    return RedeemForm(prefix=f"perk-{perk_id}")


# --- views -----------------------------------------------------------------------------------


@bp.get("/portal/perks")
def perks():
    return _page()


@bp.post("/portal/perks/<int:perk_id>/redeem")
def redeem(perk_id: int):
    form = redeem_form(perk_id, formdata=True)
    if not form.validate_on_submit():
        flash(f"Nothing was redeemed. {first_error(form)}", "error")
        return _page(400, refused=(perk_id, form))
    try:
        done = flow.redeem(current_advocate_id(), perk_id, form.note.data or "",
                           once=form.once("redemption"))
    except AlreadySubmitted:
        flash(ALREADY_SENT, "info")
        return redirect(url_for("portal.perks") + "#redemptions")
    except flow.NotFound:
        abort(404)
    except flow.RedemptionError as refusal:
        flash(f"Nothing was redeemed. {refusal}", "error")
        return redirect(url_for("portal.perks"))
    flash(
        f"You redeemed “{done.perk_name}” for {done.points_spent} points; you have {done.balance} "
        "points left. Your program coordinator will be in touch about it.",
        "success",
    )
    return redirect(url_for("portal.perks") + "#redemptions")


# --- helpers ---------------------------------------------------------------------------------


def _page(status: int = 200, refused: tuple[int, RedeemForm] | None = None):
    page = flow.overview(current_advocate_id())
    forms = {o.perk.id: redeem_form(o.perk.id) for o in page.offers if o.refusal is None}
    if refused is not None:
        forms[refused[0]] = refused[1]
    return render_template(
        "portal/perks.html",
        page=page,
        forms=forms,
        open_form=refused[0] if refused else None,
        local=local_time(),
    ), status


