"""The perks catalogue and the tiers (``/admin/perks``, ``/admin/tiers``).

Perks: the list (on offer, then retired, each with the units left where its stock is limited),
a page to add one (with its one-time submission key), a page to edit one, and retiring one
behind a confirmation step. Tiers: one page listing them, each with its edit form.

Admins change them; coordinators read both pages, without the forms, and any change they POST
is refused (403, audited) like every admin-only route. The rules live in the workflows
(``workflows.perks``, ``workflows.tiers``): the views read the form, call one of them, flash and
redirect; a refusal is shown beside its field, with its status (422, or 409 for a retired perk).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import RadioField, SelectChoice, SelectField, StringField, TextAreaField

from access import allow
from admin import bp
from models import PerkKind, Role, Tier, db
from pages import ALREADY_SENT, OnceForm, local_time, show_refusal
from workflows import perks as flow
from workflows import tiers as tier_flow
from workflows.submissions import AlreadySubmitted

NUMBER = {"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
EXPIRED = "Nothing was changed: the form had expired. Try again."

# --- forms -----------------------------------------------------------------------------------


class PerkForm(FlaskForm):
    """The perk's fields as text: ``workflows.perks.parse_perk`` checks them, and its messages
    appear beside each field."""

    name = StringField("Name", render_kw={"maxlength": flow.NAME_MAX_LENGTH, "autocomplete": "off"})
    description = TextAreaField("Description (optional, advocates read it)",
                                render_kw={"rows": 3, "maxlength": flow.DESCRIPTION_MAX_LENGTH})
    min_tier = SelectField("Lowest tier that gets it", choices=[], validate_choice=False)
    kind = RadioField(
        "What kind of perk",
        choices=[SelectChoice(kind.value, words) for kind, words in flow.KIND_WORDS.items()],
        default=PerkKind.REDEEMABLE.value,
        validate_choice=False,
    )
    points_cost = StringField("Points cost (redeemable perks only)", render_kw=NUMBER)
    stock = StringField("Stock (redeemable perks only; empty: unlimited)", render_kw=NUMBER)

    def fill_choices(self) -> PerkForm:
        tiers = db.session.execute(select(Tier.id, Tier.name).order_by(Tier.rank)).all()
        self.min_tier.choices = [SelectChoice(str(tier_id), name) for tier_id, name in tiers]
        return self

    def fill(self, perk) -> PerkForm:
        """The perk's values, for its edit form (not after a refused post: that keeps what was typed)."""
        self.name.data = perk.name
        self.description.data = perk.description
        self.min_tier.data = str(perk.min_tier_id)
        self.kind.data = perk.kind.value
        self.points_cost.data = "" if perk.points_cost is None else str(perk.points_cost)
        self.stock.data = "" if perk.stock is None else str(perk.stock)
        return self


class NewPerkForm(PerkForm, OnceForm):
    """Adding a perk: the same form sent twice adds one."""


class RetireForm(FlaskForm):
    """A button behind its confirmation step: only the CSRF token travels."""


class TierForm(FlaskForm):
    """One per tier, told apart by its prefix (``tier-<id>-name``) so every label is unique."""

    name = StringField("Name", render_kw={"maxlength": tier_flow.TIER_NAME_MAX_LENGTH, "autocomplete": "off"})
    quarterly_quota = StringField(f"Calls a quarter (0 to {tier_flow.QUOTA_MAX})", render_kw=NUMBER)
    points_threshold = StringField("Points threshold (over the last 12 months)", render_kw=NUMBER)
    benefits = TextAreaField("Benefits, one per line", render_kw={"rows": 4})
    description = TextAreaField("Description", render_kw={"rows": 2,
                                                          "maxlength": tier_flow.TIER_DESCRIPTION_MAX_LENGTH})

    def fill(self, tier: Tier) -> TierForm:
        self.name.data = tier.name
        self.quarterly_quota.data = str(tier.quarterly_quota)
        self.points_threshold.data = str(tier.points_threshold)
        self.benefits.data = "\n".join(tier.benefits or [])
        self.description.data = tier.description
        return self


def tier_form(tier: Tier, *, posted: bool = False) -> TierForm:
    prefix = f"tier-{tier.id}"
    return TierForm(prefix=prefix) if posted else TierForm(formdata=None, prefix=prefix).fill(tier)


def _typed(form: FlaskForm) -> dict[str, str]:
    """The form's fields as typed (without their prefix), for the workflow to read."""
    return {name: field.data or "" for name, field in form._fields.items()
            if name not in ("csrf_token", "submission_key")}


def _may_edit() -> bool:
    return current_user.role == Role.ADMIN


# --- perks -----------------------------------------------------------------------------------


@bp.get("/perks")
def perks():
    return render_template(
        "admin/perks.html",
        catalogue=flow.catalogue(),
        may_edit=_may_edit(),
        kind_words=flow.KIND_WORDS,
        local=local_time(),
    )


@bp.route("/perks/new", methods=["GET", "POST"])
@allow(Role.ADMIN)
def new_perk():
    form = NewPerkForm().fill_choices()
    if request.method == "GET":
        return _perk_form(form)
    if not form.validate_on_submit():
        flash(EXPIRED, "error")
        return _perk_form(form, status=400)
    try:
        data = flow.parse_perk(_typed(form))
        perk = flow.create_perk(data, by=current_user, once=form.once("perk-form"))
    except AlreadySubmitted as again:
        flash(ALREADY_SENT, "info")
        return redirect(url_for("admin.perks", _anchor=f"perk-{again.submission.resource_id}"))
    except flow.PerkInvalid as refusal:
        show_refusal(form, refusal)
        flash("Nothing was saved: see the messages beside the fields.", "error")
        return _perk_form(form, status=refusal.status)
    flash(f"“{perk.name}” is on offer to the {perk.min_tier.name} tier and above.", "success")
    return redirect(url_for("admin.perks", _anchor=f"perk-{perk.id}"))


@bp.route("/perks/<int:perk_id>/edit", methods=["GET", "POST"])
@allow(Role.ADMIN)
def edit_perk(perk_id: int):
    try:
        row = flow.perk_for_edit(perk_id)
    except flow.NotFound:
        abort(404)  # every perk is an admin's to see: no other's record to audit
    form = PerkForm(formdata=None if request.method == "GET" else request.form).fill_choices()
    if request.method == "GET":
        if not row.perk.active:
            flash(f"“{row.perk.name}” is retired: it can no longer be changed.", "info")
            return redirect(url_for("admin.perks", _anchor=f"perk-{perk_id}"))
        return _perk_form(form.fill(row.perk), row=row)
    if not form.validate_on_submit():
        flash(EXPIRED, "error")
        return _perk_form(form, row=row, status=400)
    try:
        changed = flow.edit_perk(perk_id, flow.parse_perk(_typed(form)), by=current_user)
    except flow.PerkRetired as refusal:
        flash(str(refusal), "error")
        return redirect(url_for("admin.perks", _anchor=f"perk-{perk_id}"))
    except flow.PerkInvalid as refusal:
        show_refusal(form, refusal)
        flash("Nothing was saved: see the messages beside the fields.", "error")
        return _perk_form(form, row=row, status=refusal.status)
    if changed.changes:
        flash(f"“{changed.perk.name}” is saved.", "success")
    else:
        flash(f"“{changed.perk.name}” was already like that: nothing changed.", "info")
    return redirect(url_for("admin.perks", _anchor=f"perk-{perk_id}"))


@bp.post("/perks/<int:perk_id>/retire")
@allow(Role.ADMIN)
def retire_perk(perk_id: int):
    if not RetireForm().validate_on_submit():
        flash(EXPIRED, "error")
        return redirect(url_for("admin.perks"))
    try:
        perk = flow.retire_perk(perk_id, by=current_user)
    except flow.NotFound:
        abort(404)
    except flow.PerkRetired as refusal:
        flash(str(refusal), "error")
        return redirect(url_for("admin.perks", _anchor=f"perk-{perk_id}"))
    flash(f"“{perk.name}” is retired: advocates no longer see it or redeem it. Its redemptions keep "
          "their place in the history, and those waiting can still be fulfilled or rejected.", "success")
    return redirect(url_for("admin.perks", _anchor=f"perk-{perk_id}"))


def _perk_form(form: PerkForm, *, row: flow.CatalogueRow | None = None, status: int = 200):
    return render_template("admin/perk_form.html", form=form, row=row), status


# --- tiers -----------------------------------------------------------------------------------


@bp.get("/tiers")
def tiers():
    return _tiers_page()


@bp.post("/tiers/<int:tier_id>")
@allow(Role.ADMIN)
def save_tier(tier_id: int):
    tier = db.session.get(Tier, tier_id)
    if tier is None:
        abort(404)
    form = tier_form(tier, posted=True)
    if not form.validate_on_submit():
        flash(EXPIRED, "error")
        return _tiers_page(400, refused=(tier_id, form))
    try:
        changed = tier_flow.edit_tier(tier_id, tier_flow.parse_tier(_typed(form)), by=current_user)
    except tier_flow.TierInvalid as refusal:
        show_refusal(form, refusal)
        flash(f"Nothing was saved. {refusal}", "error")
        return _tiers_page(refusal.status, refused=(tier_id, form))
    name = changed.tier.name
    if not changed.changes:
        flash(f"The {name} tier was already like that: nothing changed.", "info")
    else:
        message = f"The {name} tier is saved."
        if "quarterly_quota" in changed.changes:
            message += (f" Its advocates may take up to {changed.tier.quarterly_quota} calls a quarter from "
                        "now on.")
            if changed.caps_above_quota:
                many = changed.caps_above_quota
                message += (f" {many} of them ha{'s' if many == 1 else 've'} a personal cap above that: "
                            "it stays, and the quota is their limit.")
        flash(message, "success")
    return redirect(url_for("admin.tiers", _anchor=f"tier-{tier_id}"))


def _tiers_page(status: int = 200, refused: tuple[int, TierForm] | None = None):
    rows = tier_flow.tiers_page()
    forms = {}
    if _may_edit():
        forms = {tier.id: tier_form(tier) for tier in rows}
        if refused is not None:
            forms[refused[0]] = refused[1]
    return render_template(
        "admin/tiers.html", tiers=rows, forms=forms, may_edit=_may_edit(),
        open_form=refused[0] if refused else None,
    ), status
