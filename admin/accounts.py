"""Staff and sales accounts (``/admin/accounts``), admins only: the list (by role, by state, by
name or address, a page at a time), a new account, and one account's page where its role is
changed and it is deactivated (behind a confirmation) or reactivated, and a staff member's second
factor is reset when they lost the device (behind a confirmation too).

Advocates' accounts are not managed here: they join from an invitation or the CSV import and
have the advocate pages. Each change is one workflow call (``workflows.accounts``), audited
there; a refusal shows beside its field (422) or, for a change the account's state does not
allow (an admin's own account, the last admin), as a message with 409.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import Form, SearchField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from access import allow
from admin import bp
from models import Account, Role
from models.types import ID_MAX
from pages import (
    ALREADY_SENT,
    OnceForm,
    first_error,
    int_arg,
    local_time,
    show_refusal,
    time_zone_suggestions,
)
from workflows import accounts as flow
from workflows import second_factor
from workflows.submissions import AlreadySubmitted

PAGES_MAX = ID_MAX // flow.PAGE_SIZE  # so that the OFFSET stays an integer the database takes
PICK = "Pick one from the list."
FILTERS = ("q", "role", "status")
ROLE_CHOICES = [SelectChoice(r.value, flow.ROLE_WORDS[r]) for r in flow.MANAGED_ROLES]
STATUS_WORDS = {"active": "Active", "deactivated": "Deactivated"}

# --- forms -----------------------------------------------------------------------------------


class AccountFilters(Form):
    """The list's GET form."""

    q = SearchField("Name or e-mail", validators=[Length(max=100, message="Keep it under 100 characters.")])
    role = SelectField("Role", choices=[SelectChoice("", "Any role"), *ROLE_CHOICES], default="",
                       invalid_choice_message=PICK)
    status = SelectField("State", choices=[SelectChoice("", "Active or not")]
                         + [SelectChoice(k, v) for k, v in STATUS_WORDS.items()],
                         default="", invalid_choice_message=PICK)


class NewAccountForm(OnceForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Give the person's name."),
                    Length(max=flow.NAME_MAX_LENGTH,
                           message=f"Keep the name to {flow.NAME_MAX_LENGTH} characters or fewer.")],
        render_kw={"maxlength": flow.NAME_MAX_LENGTH, "autocomplete": "off"},
    )
    email = StringField(
        "E-mail address",
        validators=[DataRequired("Give the address they sign in with."),
                    Length(max=254, message="An e-mail address has at most 254 characters.")],
        render_kw={"type": "email", "maxlength": 254, "autocomplete": "off", "spellcheck": "false"},
    )
    # The workflow checks the role and the zone (one rule for the page and ``flask users create``).
    # (its own id: the search form above has a "role" too)
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.SALES.value, validate_choice=False,
                       id="new-role")
    timezone = StringField(
        "Time zone",
        default="UTC",
        validators=[Length(max=64, message="A time zone name has at most 64 characters.")],
        render_kw={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"},
    )


class RoleForm(FlaskForm):
    role = SelectField("New role", choices=ROLE_CHOICES, validate_choice=False)


class ConfirmForm(FlaskForm):
    """Nothing but the CSRF token: the account is in the URL."""


# --- the list --------------------------------------------------------------------------------


@bp.get("/accounts")
@allow(Role.ADMIN)
def accounts():
    return _list_page(NewAccountForm(formdata=None))


@bp.post("/accounts")
@allow(Role.ADMIN)
def create_account():
    form = NewAccountForm()
    if not form.validate_on_submit():
        status = 400 if "csrf_token" in form.errors else 422
        flash(f"No account was made. {first_error(form)}", "error")
        return _list_page(form, status=status)
    try:
        account = flow.create_account(
            form.email.data, form.role.data, form.name.data, actor=current_user,
            timezone=form.timezone.data or "UTC", once=form.once("account"), roles=flow.MANAGED_ROLES,
        )
    except AlreadySubmitted as again:
        flash(ALREADY_SENT, "info")
        return redirect(url_for("admin.account", account_id=again.submission.resource_id))
    except flow.AccountError as refusal:
        show_refusal(form, refusal)
        flash(f"No account was made. {refusal.message}", "error")
        return _list_page(form, status=422)
    flash(f"{account.name} has {flow.with_article(account.role)} account now. They sign in on the "
          f"sign-in page with {account.email}: Vouch e-mails them a link.", "success")
    return redirect(url_for("admin.account", account_id=account.id))


def _list_page(form: NewAccountForm, *, status: int = 200):
    filters = AccountFilters(request.args)
    page = int_arg(request.args, "page", 1, high=PAGES_MAX)
    common = {"form": form, "filters": filters, "zones": time_zone_suggestions(), "local": local_time(),
              "role_words": flow.ROLE_WORDS,
              "args": {name: request.args[name] for name in FILTERS if request.args.get(name)}}
    if not filters.validate():
        return render_template("admin/accounts.html", rows=[], total=0, page=1, pages=1, invalid=True,
                               **common), 400
    rows, total = flow.managed_accounts(
        role=Role(filters.role.data) if filters.role.data else None,
        active={"active": True, "deactivated": False}.get(filters.status.data),
        text=filters.q.data or "",
        page=page,
    )
    return render_template("admin/accounts.html", rows=rows, total=total, page=page, invalid=False,
                           pages=max(1, -(-total // flow.PAGE_SIZE)), **common), status


# --- one account -----------------------------------------------------------------------------


@bp.get("/accounts/<int:account_id>")
@allow(Role.ADMIN)
def account(account_id: int):
    return _account_page(account_id)


@bp.post("/accounts/<int:account_id>/role")
@allow(Role.ADMIN)
def change_account_role(account_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Nothing was changed: the form had expired. Try again.", "error")
        return redirect(url_for("admin.account", account_id=account_id))
    try:
        changed = flow.change_role(account_id, form.role.data, by=current_user)
    except flow.AccountNotFound:
        abort(404)
    except (flow.AccountError, flow.AccountRefused) as refusal:
        show_refusal(form, refusal)
        flash(f"Nothing was changed. {_without_nothing(refusal.message)}", "error")
        return _account_page(account_id, role_form=form, status=refusal.status)
    flash(f"{changed.name} is {flow.with_article(changed.role)} now.", "success")
    return redirect(url_for("admin.account", account_id=account_id))


@bp.post("/accounts/<int:account_id>/deactivate")
@allow(Role.ADMIN)
def deactivate_account(account_id: int):
    return _state_change(account_id, flow.deactivate_account,
                         "{name}'s account is deactivated: they are signed out everywhere, their "
                         "sign-in links and API tokens no longer work.")


@bp.post("/accounts/<int:account_id>/reactivate")
@allow(Role.ADMIN)
def reactivate_account(account_id: int):
    return _state_change(account_id, flow.reactivate_account,
                         "{name}'s account is active again: they sign in with a new link.")


@bp.post("/accounts/<int:account_id>/second-factor/reset")
@allow(Role.ADMIN)
def reset_second_factor(account_id: int):
    return _state_change(account_id, flow.reset_second_factor,
                         "{name}'s second factor is reset: they are signed out everywhere, and set up "
                         "a new authenticator app at their next sign-in.")


def _state_change(account_id: int, change, done: str):
    if not ConfirmForm().validate_on_submit():
        flash("Nothing was changed: the form had expired. Try again.", "error")
        return redirect(url_for("admin.account", account_id=account_id))
    try:
        changed = change(account_id, by=current_user)
    except flow.AccountNotFound:
        abort(404)
    except flow.AccountRefused as refusal:
        flash(f"Nothing was changed. {_without_nothing(refusal.message)}", "error")
        return _account_page(account_id, status=refusal.status)
    flash(done.format(name=changed.name), "success")
    return redirect(url_for("admin.account", account_id=account_id))


def _account_page(account_id: int, *, role_form: RoleForm | None = None, status: int = 200):
    try:
        found: Account = flow.managed_account(account_id)
    except flow.AccountNotFound:
        abort(404)
    role_form = role_form or RoleForm(formdata=None, data={"role": found.role.value})
    return render_template(
        "admin/account.html", a=found, role_form=role_form, role_words=flow.ROLE_WORDS,
        own=found.id == current_user.id, local=local_time(),
        second_factor=second_factor.status(found) if found.is_staff else None,
    ), status


# --- helpers ---------------------------------------------------------------------------------


def _without_nothing(message: str) -> str:
    """The refusal without its closing "Nothing was changed.": the flash begins with it."""
    return message.removesuffix(" Nothing was changed.")
