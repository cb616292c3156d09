"""The candidates screen (DESIGN.md §1: "spot and invite candidates"): customers' contacts who
are not advocates yet, ranked by advocacy signals with each signal's weight and part
(``workflows.candidates``), what became of their invitation (the undeliverable ones read from
the outbox), the funnel, and the forms that send the program invitation
(``workflows.outreach``): to the candidates ticked, or to one address.

Staff only (the blueprint's default). The list is a GET (a filter has its own address); the
invitations are POSTs that call one workflow function, flash and come back.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Form, SelectChoice, SelectField, StringField
from wtforms.validators import Length

from admin import bp
from admin.requests import select_choices
from models.types import utcnow
from pages import int_arg, show_refusal, whole_number
from workflows import candidates as ranking
from workflows import errors, outreach

PICK = "Pick one from the list."
FILTERS = ("industry", "state")


class CandidateFilters(Form):
    industry = SelectField("Industry", choices=[], default="", invalid_choice_message=PICK)
    state = SelectField(
        "Invitation",
        choices=[SelectChoice("", "Any")] + [
            SelectChoice(state.value, words) for state, words in outreach.STATE_WORDS.items()
            if state is not outreach.InvitationState.JOINED
        ],
        default="",
        invalid_choice_message=PICK,
    )


class InviteForm(FlaskForm):
    """The ticked candidates travel as ``advocate_id`` checkboxes beside the rows."""

    again = BooleanField("Also invite again those who declined, or whose invitation bounced")


class AddressForm(FlaskForm):
    email = EmailField("E-mail address",
                       validators=[Length(max=254, message="Keep it under 254 characters.")])
    name = StringField("Name", validators=[Length(max=120, message="Keep it under 120 characters.")])
    company = StringField("Company (as it is in Vouch; optional)",
                          validators=[Length(max=200, message="Keep it under 200 characters.")])


def _filters() -> CandidateFilters:
    form = CandidateFilters(request.args)
    form.industry.choices = select_choices("Any industry", ranking.industries())
    return form


def _page(address_form: AddressForm | None = None, status: int = 200):
    form = _filters()
    page_number = int_arg(request.args, "page", 1, high=ranking.PAGES_MAX)
    context = dict(form=form, invite_form=InviteForm(formdata=None),
                   address_form=address_form or AddressForm(formdata=None),
                   funnel=outreach.funnel(), weights=ranking.WEIGHTS, names=ranking.SIGNAL_NAMES,
                   words=outreach.STATE_WORDS,
                   args={n: request.args[n] for n in FILTERS if request.args.get(n)},
                   filtered=any(request.args.get(n) for n in FILTERS))
    if not form.validate():
        return render_template("admin/candidates.html", page=None, invalid=True, **context), 400
    page = ranking.candidates_page(
        industry_id=int(form.industry.data) if form.industry.data else None,
        state=outreach.InvitationState(form.state.data) if form.state.data else None,
        page=page_number, now=utcnow(),
    )
    return render_template("admin/candidates.html", page=page, invalid=False, **context), status


@bp.get("/candidates")
def candidates():
    return _page()


def _report(sent: outreach.Sent) -> None:
    if sent.invited:
        count = len(sent.invited)
        flash(f"Invitation sent to {count} {'person' if count == 1 else 'people'}: "
              f"{', '.join(sent.invited[:10])}{' and more' if count > 10 else ''}.", "success")
    for name, why in sent.skipped[:20]:
        flash(f"Not invited: {name} — {why}.", "info")
    if len(sent.skipped) > 20:
        flash(f"… and {len(sent.skipped) - 20} more not invited.", "info")


@bp.post("/candidates/invite")
def invite_candidates():
    form = InviteForm()
    if not form.validate_on_submit():
        raise errors.Invalid("This form has expired: reload the page and try again.")
    raw = request.form.getlist("advocate_id")
    ids = [whole_number(value) for value in raw]
    if any(i is None for i in ids):
        raise errors.Invalid("The selection names a candidate that does not exist: reload the page "
                             "and tick the candidates again.", "advocate_id")
    if not ids:
        flash("Tick at least one candidate to invite.", "error")
        return redirect(url_for("admin.candidates"))
    _report(outreach.invite(ids, by=current_user, again=form.again.data))
    return redirect(url_for("admin.candidates"))


@bp.post("/candidates/invite-address")
def invite_address():
    form = AddressForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        sent = outreach.invite_address(form.email.data or "", name=form.name.data or "",
                                       company=form.company.data or "", by=current_user)
    except errors.WorkflowError as refusal:
        show_refusal(form, refusal)
        return _page(form, refusal.status)
    _report(sent)
    return redirect(url_for("admin.candidates"))
