"""The program settings (``/admin/settings``): points values, asking, tiers, booking and the
default quarterly cap, on one page grouped as ``workflows.settings.DEFINITIONS`` groups them.

Admins only, to read as to save: the settings are the program's rules, and the menu shows them
to admins alone. The form carries every setting; ``workflows.settings.update`` checks them all
(the one place a value's limits live) and saves them all or none. A refused value is shown
beside its field, the page answering 422.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField

from access import allow
from admin import bp
from models import Role
from pages import show_refusal
from workflows import errors
from workflows import settings as flow

# --- the form --------------------------------------------------------------------------------


def _field(definition: flow.Definition):
    """An input for the setting, named by its key. No validators: the workflow checks values."""
    label = f"{definition.label} ({definition.unit})" if definition.unit else definition.label
    if definition.kind is bool:
        return BooleanField(definition.label)
    if definition.choices:
        return SelectField(label, choices=[SelectChoice(str(c), f"{c} {definition.unit}".strip())
                                           for c in definition.choices], validate_choice=False)
    return StringField(label, render_kw={"inputmode": "numeric", "autocomplete": "off",
                                         "maxlength": 9, "spellcheck": "false"})


class SettingsForm(FlaskForm):
    pass


for _definition in flow.DEFINITIONS:
    setattr(SettingsForm, _definition.key, _field(_definition))


def settings_form(*, posted: bool = False) -> SettingsForm:
    if posted:
        return SettingsForm()
    current = {}
    for key, now in flow.values().items():
        definition = flow.BY_KEY[key]
        current[key] = now if definition.kind is bool else ("" if now is None else str(now))
    return SettingsForm(formdata=None, data=current)


def posted_changes(form: SettingsForm) -> dict[str, object]:
    """What the form says for every setting, as typed (the workflow cleans it)."""
    return {d.key: form[d.key].data for d in flow.DEFINITIONS}


def shown(definition: flow.Definition, value) -> str:
    """A setting's value in words: "48 hours", "yes", "the tier's quota"."""
    if definition.kind is bool:
        return "on" if value else "off"
    if value is None:
        return "empty (the tier's quota)" if definition.key == "DEFAULT_QUARTERLY_CAP" else "empty"
    return f"{value} {definition.unit}".strip()


# --- views -----------------------------------------------------------------------------------


@bp.get("/settings")
@allow(Role.ADMIN)
def settings():
    return _page(settings_form())


@bp.post("/settings")
@allow(Role.ADMIN)
def save_settings():
    form = settings_form(posted=True)
    if not form.validate_on_submit():
        flash("Nothing was saved: the form had expired. Reload the page and try again.", "error")
        return _page(form, status=400)
    try:
        changed = flow.update(posted_changes(form), by=current_user)
    except errors.Invalid as refusal:
        show_refusal(form, refusal)
        flash(f"Nothing was saved. {refusal.message}", "error")
        return _page(form, status=422)
    if changed:
        now = flow.values()
        flash("Saved. " + "; ".join(
            f"{flow.BY_KEY[key].label}: {shown(flow.BY_KEY[key], now[key])}" for key in changed
        ) + ".", "success")
    else:
        flash("Nothing to save: every setting already had that value.", "info")
    return redirect(url_for("admin.settings"))


def _page(form: SettingsForm, *, status: int = 200):
    return render_template(
        "admin/settings.html",
        form=form,
        groups=flow.groups(),
        defaults={d.key: shown(d, flow.default(d.key)) for d in flow.DEFINITIONS},
        changed={d.key for d in flow.DEFINITIONS if not flow.is_default(d.key)},
    ), status
