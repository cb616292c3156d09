"""The advocate's profile: job, products and use cases, competitors, success
metrics and talking points, languages, companies they will not speak with.

One page (``/portal/profile``) with one form that saves everything (and counts as a review),
and a button that marks the profile as reviewed. A refused save re-renders the page with each
message beside its field (status 400) and changes nothing.
"""

from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.widgets import TextInput

from models import CompetitorRelation
from models.types import utcnow
from pages import first_error, show_refusal
from portal import bp, current_advocate_id
from portal.forms import JoinForm
from workflows import errors as refusals
from workflows import profiles as flow

# --- forms -----------------------------------------------------------------------------------


class ListField(TextAreaField):
    """A list typed as text, one item per line or separated as ``separators`` says."""

    def __init__(self, label=None, validators=None, separators: re.Pattern[str] = flow.LINES,
                 joiner: str = "\n", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.separators = separators
        self.joiner = joiner

    def process_data(self, value):
        self.data = list(value or [])

    def process_formdata(self, valuelist):
        self.data = flow.split_list(valuelist[0] if valuelist else "", self.separators)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return self.joiner.join(self.data or [])


class LanguagesField(ListField):
    """The same, on one line: ``English, German``."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, separators=flow.LANGUAGE_SEPARATORS, **kwargs)


LONG_TEXT = {"rows": 4, "maxlength": flow.TEXT_MAX_LENGTH}
TAGS_HINT = f"One per line. Up to {flow.TAGS_MAX}."


class ProfileForm(FlaskForm):
    job_title = StringField("Job title", render_kw={"maxlength": flow.JOB_TITLE_MAX_LENGTH,
                                                    "autocomplete": "organization-title"})
    job_level = SelectField("Job level", choices=[], validate_choice=False)
    products = ListField("Products you use", render_kw={"rows": 3})
    use_cases = ListField("What you use them for (use cases)", render_kw={"rows": 3})
    competitors_evaluated = ListField("Competitors you evaluated", render_kw={"rows": 2})
    competitors_replaced = ListField("Competitors you replaced", render_kw={"rows": 2})
    success_metrics = TextAreaField("Success metrics", render_kw=LONG_TEXT)
    talking_points = TextAreaField("Talking points", render_kw=LONG_TEXT)
    languages = LanguagesField("Languages you can take a call in", joiner=", ")
    refused_companies = ListField(
        "Companies you will not speak with", render_kw={"rows": 3}
    )

    def offer_job_levels(self, job_levels) -> None:
        self.job_level.choices = [SelectChoice("", "Not set")] + [
            SelectChoice(level.code, level.name) for level in job_levels
        ]

    def changes(self) -> flow.ProfileChanges:
        return flow.ProfileChanges(
            job_title=(self.job_title.data or "").strip(),
            job_level=self.job_level.data or None,
            products=self.products.data,
            use_cases=self.use_cases.data,
            competitors_evaluated=self.competitors_evaluated.data,
            competitors_replaced=self.competitors_replaced.data,
            success_metrics=_text(self.success_metrics.data),
            talking_points=_text(self.talking_points.data),
            languages=self.languages.data,
            refused_companies=self.refused_companies.data,
        )

    def refused(self, refusal: flow.ProfileError) -> None:
        """Each message beside its field (or above the form when it belongs to none)."""
        for name, message in (refusal.errors or {"": str(refusal)}).items():
            target = self._fields.get(name)
            (target.errors if target is not None else self.form_errors).append(message)


def _text(value: str | None) -> str:
    """Browsers send line breaks as CRLF but count them as one character: so do we."""
    return (value or "").replace("\r\n", "\n").strip()


class ButtonForm(FlaskForm):
    """A button that changes something: only its CSRF token travels."""


# --- views -----------------------------------------------------------------------------------


@bp.get("/portal/profile")
def profile():
    return _page()


@bp.post("/portal/profile")
def save_profile():
    form = ProfileForm()
    advocate_id = current_advocate_id()
    if form.validate_on_submit():
        try:
            changed = flow.save_profile(advocate_id, form.changes(), now=utcnow(), actor=current_user)
        except flow.ProfileError as refusal:
            form.refused(refusal)
        else:
            if changed:
                flash("Profile saved, and marked as reviewed today. Thank you for keeping it current.",
                      "success")
            else:
                flash("Nothing had changed: your profile is marked as reviewed today.", "success")
            return redirect(url_for("portal.profile"))
    return _page(400, form=form)


@bp.post("/portal/profile/join")
def save_join_defaults():
    """The default join details of the advocate's calls."""
    form = JoinForm()
    advocate_id = current_advocate_id()
    if not form.validate_on_submit():
        abort(400)
    url, phone = form.values()
    try:
        changed = flow.save_join_defaults(advocate_id, url=url, phone=phone, actor=current_user)
    except refusals.Invalid as refusal:
        show_refusal(form, refusal)
        return _page(refusal.status, join_form=form)
    if not changed:
        flash("Nothing had changed in your join details.", "info")
    elif url or phone:
        flash("Join details saved: calls booked from now on use them. A call already booked keeps "
              "the details its invitation gave; change them on the call's page.", "success")
    else:
        flash("Join details removed: prospects read that you will send them yourself.", "success")
    return redirect(url_for("portal.profile", _anchor="join"))


@bp.post("/portal/profile/reviewed")
def mark_profile_reviewed():
    if not ButtonForm().validate_on_submit():
        abort(400)
    flow.mark_reviewed(current_advocate_id(), now=utcnow(), actor=current_user)
    flash("Thank you: your profile is marked as reviewed today.", "success")
    return redirect(url_for("portal.profile"))


# --- helpers ---------------------------------------------------------------------------------


def _page(status: int = 200, form: ProfileForm | None = None, join_form: JoinForm | None = None):
    page = flow.profile_page(
        current_advocate_id(), now=utcnow(), review_days=current_app.config["PROFILE_REVIEW_DAYS"]
    )
    advocate = page.advocate
    if form is None:
        form = ProfileForm(
            formdata=None,
            data={
                "job_title": advocate.job_title,
                "job_level": advocate.job_level_code or "",
                "products": sorted((p.name for p in advocate.products), key=str.casefold),
                "use_cases": sorted((u.name for u in advocate.use_cases), key=str.casefold),
                "competitors_evaluated": page.competitors(CompetitorRelation.EVALUATED),
                "competitors_replaced": page.competitors(CompetitorRelation.REPLACED),
                "success_metrics": advocate.success_metrics,
                "talking_points": advocate.talking_points,
                "languages": advocate.languages or [],
                "refused_companies": advocate.refused_companies or [],
            },
        )
    form.offer_job_levels(page.job_levels)
    if join_form is None:
        join_form = JoinForm(formdata=None, data={"join_url": advocate.join_url,
                                                  "join_phone": advocate.join_phone})
    if status != 200:
        flash(f"Nothing was saved. {first_error(form, join_form)}", "error")
    return render_template(
        "portal/profile.html",
        page=page,
        form=form,
        join_form=join_form,
        tags_hint=TAGS_HINT,
        flow=flow,
    ), status
