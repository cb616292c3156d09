"""Personal API tokens: ``/admin/tokens``.

Sales, coordinators and admins see their own tokens, make one (its token is shown once, on the
page that answers the form, and never again; the form sent twice makes one) and revoke their
own. Admins also have every account's tokens (``/admin/tokens/all``: owner, name, prefix, made,
last used, revoked; by owner and state, a page at a time) and may revoke any. Revoking asks
first. Making a token for somebody else is the command line's job (``flask tokens create EMAIL``).
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import Form, SearchField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from access import STAFF, allow
from admin import bp
from models import Role
from models.types import ID_MAX
from pages import ALREADY_SENT, OnceForm, first_error, int_arg, local_time
from workflows import tokens as flow
from workflows.submissions import AlreadySubmitted

# --- forms -----------------------------------------------------------------------------------


class CreateTokenForm(OnceForm):
    name = StringField(
        "What is it for?",
        default="API token",
        validators=[
            DataRequired("Give the token a name, such as the CRM that will use it."),
            Length(max=flow.NAME_MAX_LENGTH,
                   message=f"Keep the name to {flow.NAME_MAX_LENGTH} characters or fewer."),
        ],
        render_kw={"maxlength": flow.NAME_MAX_LENGTH, "autocomplete": "off"},
    )


class RevokeForm(FlaskForm):
    """Nothing but the CSRF token: the token to revoke is in the URL."""


class TokenFilters(Form):
    """The GET form of every account's tokens."""

    owner = SearchField("Owner's name or e-mail",
                        validators=[Length(max=100, message="Keep it under 100 characters.")])
    state = SelectField("State", choices=[SelectChoice("", "Working or revoked"),
                                          SelectChoice("working", "Working"),
                                          SelectChoice("revoked", "Revoked")],
                        default="", invalid_choice_message="Pick one from the list.")


FILTERS = ("owner", "state", "page")
PAGES_MAX = ID_MAX // flow.PAGE_SIZE


# --- views -----------------------------------------------------------------------------------


@bp.get("/tokens")
@allow(STAFF, Role.SALES)
def tokens():
    return _page(CreateTokenForm())


@bp.post("/tokens")
@allow(STAFF, Role.SALES)
def create_token():
    form = CreateTokenForm()
    if not form.validate_on_submit():
        flash(f"No token was made. {first_error(form)}", "error")
        return _page(form, status=400)
    try:
        token, secret = flow.create_token(current_user.email, name=form.name.data, by=current_user,
                                          once=form.once("token"))
    except AlreadySubmitted as again:
        flash(f"{ALREADY_SENT} The token it made is in the list; its secret was shown only once.",
              "info")
        return redirect(url_for("admin.tokens", _anchor=f"token-{again.submission.resource_id}"))
    except flow.TokenError as refusal:
        flash(f"No token was made. {refusal}", "error")
        return _page(form, status=400)
    flash(f"Your token “{token.name}” is ready. Copy it now: it is shown only this once.", "success")
    # Rendered, not redirected: the token must not travel through the session cookie.
    return _page(CreateTokenForm(formdata=None), new=(token.id, secret))


@bp.post("/tokens/<int:token_id>/revoke")
@allow(STAFF, Role.SALES)
def revoke_token(token_id: int):
    if not RevokeForm().validate_on_submit():
        flash("Nothing was revoked: the form had expired. Try again.", "error")
        return redirect(url_for("admin.tokens"))
    try:
        token = flow.revoke_token(token_id, by=current_user)
    except flow.TokenNotFound:
        abort(404)
    except (flow.TokenError, flow.TokenAlreadyRevoked) as refusal:
        flash(f"Nothing was changed. {refusal}", "error")
        return redirect(url_for("admin.tokens"))
    owner = "" if token.account_id == current_user.id else f" of {token.account.name}"
    flash(f"The token “{token.name}”{owner} is revoked: it no longer works.", "success")
    return redirect(url_for("admin.tokens"))


@bp.get("/tokens/all")
@allow(Role.ADMIN)
def all_tokens():
    filters = TokenFilters(request.args)
    page = int_arg(request.args, "page", 1, high=PAGES_MAX)
    args = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    if not filters.validate():
        return render_template("admin/all_tokens.html", filters=filters, tokens=[], total=0, page=1,
                               pages=1, invalid=True, args=args, local=local_time()), 400
    found, total = flow.every_token(owner=filters.owner.data or "", state=filters.state.data or "",
                                    page=page)
    return render_template(
        "admin/all_tokens.html", filters=filters, tokens=found, total=total, page=page, invalid=False,
        pages=max(1, -(-total // flow.PAGE_SIZE)), args=args, local=local_time(),
        filtered=bool(filters.owner.data or filters.state.data),
    )


@bp.post("/tokens/all/<int:token_id>/revoke")
@allow(Role.ADMIN)
def revoke_any_token(token_id: int):
    """Revoke from every account's tokens, and back to the same page of them."""
    back = url_for("admin.all_tokens", **{name: request.args[name] for name in FILTERS
                                          if request.args.get(name)})
    if not RevokeForm().validate_on_submit():
        flash("Nothing was revoked: the form had expired. Try again.", "error")
        return redirect(back)
    try:
        token = flow.revoke_token(token_id, by=current_user)
    except flow.TokenNotFound:
        abort(404)
    except flow.TokenAlreadyRevoked as refusal:
        flash(f"Nothing was changed. {refusal}", "error")
        return redirect(back)
    flash(f"The token “{token.name}” of {token.account.name} ({token.account.email}) is revoked: it no "
          "longer works.", "success")
    return redirect(back)


# --- helpers ---------------------------------------------------------------------------------


def _page(form: CreateTokenForm, *, new: tuple[int, str] | None = None, status: int = 200):
    page = render_template(
        "admin/tokens.html",
        tokens=flow.visible_tokens(current_user),
        form=form,
        new_token_id=new[0] if new else None,
        new_secret=new[1] if new else None,
        admin=current_user.role == Role.ADMIN,
        api_docs_url=url_for("api.openapi") if "api.openapi" in current_app.view_functions else None,
        local=local_time(),
    )
    # The page that shows a new token holds a secret: no cache (nor the back button) may keep it.
    return page, status, {"Cache-Control": "no-store"} if new else {}


