"""A staff member's own second factor (``/admin/second-factor``): whether their account needs
one, since when their authenticator app is set up, how many recovery codes are left, and ten new
recovery codes in place of the old ones for a current code from the app (shown once, in the
answer). Losing the device is an admin's reset, on the account's page (``admin.accounts``)."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, url_for
from flask_login import current_user

from admin import bp
from pages import CodeForm, limit_code_attempts, local_time
from workflows import second_factor as flow


class NewCodesForm(CodeForm):
    """A current code from the app, not a recovery code."""


@bp.get("/second-factor")
def second_factor():
    return _page(NewCodesForm(formdata=None))


@bp.post("/second-factor/recovery-codes")
@limit_code_attempts
def new_recovery_codes():
    form = NewCodesForm()
    if not form.validate_on_submit():
        flash("Nothing was changed: the form had expired. Try again.", "error")
        return redirect(url_for("admin.second_factor"))
    try:
        codes = flow.regenerate_recovery_codes(current_user.id, form.code.data)
    except flow.NotEnrolled as refusal:
        flash(f"Nothing was changed. {refusal.message}", "error")
        return redirect(url_for("admin.second_factor"))
    except (flow.CodeRefused, flow.SecondFactorLocked) as refusal:
        form.code.errors = [refusal.message]
        flash("No new recovery codes were made: the code was not accepted.", "error")
        return _page(form, status=refusal.status)
    flash("You have ten new recovery codes; the old ones no longer work.", "success")
    return _page(NewCodesForm(formdata=None), codes=codes)


def _page(form: NewCodesForm, *, codes: list[str] | None = None, status: int = 200):
    response = make_response(render_template(
        "admin/second_factor.html", status=flow.status(current_user), form=form, codes=codes,
        local=local_time()), status)
    response.headers["Cache-Control"] = "no-store"
    return response
