"""What a coordinator does to an advocate from their page: change the tier, pause, resume or
retire them (each behind a confirmation step), award points, add an internal note; and, from the
pool, the same for many at once (change the tier, pause, send the availability nudge) after a
confirmation page that says who is left out and why.

Each action is a POST with its CSRF token that calls one workflow function, flashes and
redirects back. Refused input is shown on the page again, the step left open, with its message
(400 for a form that does not validate, the refusal's own status otherwise).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from admin import bp
from pages import ALREADY_SENT, OnceForm, first_error, show_refusal, whole_number
from workflows import advocate_management as flow
from workflows import errors, tiers
from workflows.catalogue_choices import Choice, catalogue_choices
from workflows.submissions import AlreadySubmitted

PICK = "Pick one from the list."
REASON = flow.REASON_MAX_LENGTH
REASON_LENGTH = Length(max=REASON, message=f"Keep it to {REASON} characters or fewer.")


# --- forms -----------------------------------------------------------------------------------


def tier_choices(empty: str = "Pick a tier", tiers: list[Choice] | None = None) -> list[SelectChoice]:
    """The tiers as options, from ``tiers`` (``catalogue_choices``' "tier") or read now."""
    tiers = catalogue_choices("tier")["tier"] if tiers is None else tiers
    return [SelectChoice("", empty)] + [SelectChoice(t.value, f"{t.name} ({t.detail} calls a quarter)")
                                        for t in tiers]


class TierForm(FlaskForm):
    tier = SelectField("New tier", choices=[], validators=[DataRequired(PICK)], invalid_choice_message=PICK)
    reason = TextAreaField("Why? (optional, for the program team)",
                           validators=[REASON_LENGTH],
                           render_kw={"rows": 2, "maxlength": REASON})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="tier", **kwargs)
        self.tier.choices = tier_choices()


class PauseForm(FlaskForm):
    reason = TextAreaField("Why? (optional, for the program team: the advocate does not read it)",
                           validators=[REASON_LENGTH],
                           render_kw={"rows": 2, "maxlength": REASON})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="pause", **kwargs)


class ResumeForm(FlaskForm):
    """A button: only its CSRF token travels."""


class RetireForm(FlaskForm):
    reason = TextAreaField("Why do they retire? (for the program team: the advocate does not read it)",
                           validators=[DataRequired("Say why they retire."),
                                       REASON_LENGTH],
                           render_kw={"rows": 2, "maxlength": REASON, "required": True})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="retire", **kwargs)


class AwardForm(OnceForm):
    reason = SelectField("For", choices=[], validators=[DataRequired(PICK)], invalid_choice_message=PICK)
    note = TextAreaField("What was it? (the advocate reads it in their points history)",
                         validators=[DataRequired("Say what the points are for."),
                                     Length(max=flow.POINTS_NOTE_MAX_LENGTH,
                                            message=f"Keep it to {flow.POINTS_NOTE_MAX_LENGTH} characters "
                                                    "or fewer.")],
                         render_kw={"rows": 2, "maxlength": flow.POINTS_NOTE_MAX_LENGTH, "required": True})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="points", **kwargs)
        self.reason.choices = [SelectChoice("", "Pick one")] + [
            SelectChoice(reason.value, f"{words}: {flow.award_amount(reason)} points")
            for reason, (words, _setting) in flow.AWARDS.items()
        ]


class NoteForm(OnceForm):
    body = TextAreaField("Note (staff only: the advocate never sees it)",
                         validators=[DataRequired("Write the note."),
                                     Length(max=flow.NOTE_MAX_LENGTH,
                                            message=f"Keep it to {flow.NOTE_MAX_LENGTH} characters "
                                                    "or fewer.")],
                         render_kw={"rows": 3, "maxlength": flow.NOTE_MAX_LENGTH, "required": True})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, prefix="note", **kwargs)


def blank_forms() -> dict[str, FlaskForm]:
    return {"tier": TierForm(formdata=None), "pause": PauseForm(formdata=None),
            "resume": ResumeForm(formdata=None), "retire": RetireForm(formdata=None),
            "points": AwardForm(formdata=None), "note": NoteForm(formdata=None)}


# --- one advocate ----------------------------------------------------------------------------


def _again(advocate_id: int, name: str, form: FlaskForm, status: int,
           refusal: errors.WorkflowError | None = None):
    """The advocate's page again, the step ``name`` open with its errors."""
    from admin.pool import advocate_page

    if refusal is not None:
        show_refusal(form, refusal)
        flash(_nothing_changed(str(refusal)), "error")
    else:
        flash(f"Nothing was changed. {first_error(form)}", "error")
    return advocate_page(advocate_id, status, forms={name: form}, open_step=name)


def _back(advocate_id: int, anchor: str = ""):
    return redirect(url_for("admin.advocate", advocate_id=advocate_id) + anchor)


@bp.post("/advocates/<int:advocate_id>/tier")
def change_advocate_tier(advocate_id: int):
    form = TierForm()
    if not form.validate_on_submit():
        return _again(advocate_id, "tier", form, 400)
    try:
        change = tiers.change_tier(advocate_id, whole_number(form.tier.data), by=current_user,
                                   reason=form.reason.data or "")
    except errors.NotFound:
        abort(404)
    except errors.WorkflowError as refusal:
        return _again(advocate_id, "tier", form, refusal.status, refusal)
    name = change.after.name
    cap = (f" Their personal cap was lowered from {change.cap_before} to {change.cap_after} calls a quarter, "
           "the new tier's quota." if change.cap_lowered else "")
    flash(f"Moved to the {name} tier.{cap} If they are in the program, they get an e-mail naming the "
          "tier's benefits.", "success")
    return _back(advocate_id)


@bp.post("/advocates/<int:advocate_id>/pause")
def pause_advocate(advocate_id: int):
    form = PauseForm()
    if not form.validate_on_submit():
        return _again(advocate_id, "pause", form, 400)
    try:
        change = flow.pause(advocate_id, by=current_user, reason=form.reason.data or "")
    except errors.NotFound:
        abort(404)
    except errors.WorkflowError as refusal:
        return _again(advocate_id, "pause", form, refusal.status, refusal)
    flash(f"{change.name} is paused: nobody can ask them until you resume them. "
          f"{_asks(change.asks_withdrawn)} withdrawn; {_calls(change.calls_kept)} already arranged "
          f"{'stays' if change.calls_kept == 1 else 'stay'}.{_told(change.told)}", "success")
    return _back(advocate_id)


@bp.post("/advocates/<int:advocate_id>/resume")
def resume_advocate(advocate_id: int):
    form = ResumeForm()
    if not form.validate_on_submit():
        return _again(advocate_id, "resume", form, 400)
    try:
        change = flow.resume(advocate_id, by=current_user)
    except errors.NotFound:
        abort(404)
    except errors.WorkflowError as refusal:
        return _again(advocate_id, "resume", form, refusal.status, refusal)
    flash(f"{change.name} is back in the program and can be asked again.{_told(change.told)}", "success")
    return _back(advocate_id)


@bp.post("/advocates/<int:advocate_id>/retire")
def retire_advocate(advocate_id: int):
    form = RetireForm()
    if not form.validate_on_submit():
        return _again(advocate_id, "retire", form, 400)
    try:
        change = flow.retire(advocate_id, by=current_user, reason=form.reason.data or "")
    except errors.NotFound:
        abort(404)
    except errors.WorkflowError as refusal:
        return _again(advocate_id, "retire", form, refusal.status, refusal)
    undone = [f"{_asks(change.asks_withdrawn)} withdrawn"] if change.asks_withdrawn else []
    if change.calls_cancelled:
        undone.append(f"{_calls(change.calls_cancelled)} not yet held cancelled")
    back = f" {' and '.join(undone)}; their requests are back in the queue." if undone else ""
    flash(f"{change.name} is retired.{back}{_told(change.told, 'thanking them')}", "success")
    return _back(advocate_id)


@bp.post("/advocates/<int:advocate_id>/points")
def award_advocate_points(advocate_id: int):
    form = AwardForm()
    if not form.validate_on_submit():
        return _again(advocate_id, "points", form, 400)
    try:
        done = flow.award_points(advocate_id, form.reason.data, form.note.data or "", by=current_user,
                                 once=form.once("advocate-points"))
    except AlreadySubmitted:
        flash(f"{ALREADY_SENT} No points were awarded twice.", "info")
        return _back(advocate_id, "#timeline")
    except errors.NotFound:
        abort(404)
    except errors.WorkflowError as refusal:
        return _again(advocate_id, "points", form, refusal.status, refusal)
    flash(f"{done.points} points awarded to {done.name} ({flow.AWARDS[done.reason][0].lower()}); their "
          f"balance is {done.balance}.", "success")
    return _back(advocate_id, "#timeline")


@bp.post("/advocates/<int:advocate_id>/notes")
def add_advocate_note(advocate_id: int):
    form = NoteForm()
    if not form.validate_on_submit():
        return _again(advocate_id, "note", form, 400)
    try:
        flow.add_note(advocate_id, form.body.data or "", by=current_user, once=form.once("advocate-note"))
    except AlreadySubmitted:
        flash(ALREADY_SENT, "info")
        return _back(advocate_id, "#timeline")
    except errors.NotFound:
        abort(404)
    except errors.WorkflowError as refusal:
        return _again(advocate_id, "note", form, refusal.status, refusal)
    flash("The note is saved. Only staff can read it.", "success")
    return _back(advocate_id, "#timeline")


def _asks(n: int) -> str:
    return f"{n} pending ask{'' if n == 1 else 's'}" if n else "No pending ask"


def _calls(n: int) -> str:
    return f"{n} call{'' if n == 1 else 's'}" if n else "no call"


def _told(told: bool, how: str = "saying so") -> str:
    return f" They get an e-mail {how}." if told else ""


# --- many advocates at once ------------------------------------------------------------------


class BulkForm(FlaskForm):
    action = SelectField("Action",
                         choices=[SelectChoice("", "Pick an action")]
                         + [SelectChoice(code, words) for code, words in flow.BULK_ACTIONS.items()],
                         validators=[DataRequired(PICK)], invalid_choice_message=PICK)
    tier = SelectField("New tier (to change the tier)", choices=[], default="", invalid_choice_message=PICK)
    reason = TextAreaField("Why? (optional, for the program team)",
                           validators=[REASON_LENGTH],
                           render_kw={"rows": 2, "maxlength": REASON})

    def __init__(self, *args, tiers: list[Choice] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tier.choices = tier_choices("Keep it (not changing tiers)", tiers)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if valid and self.action.data == "tier" and not self.tier.data:
            self.tier.errors = [*self.tier.errors, "Pick the new tier."]
            return False
        return valid


def chosen_ids() -> list[int]:
    """The advocates ticked, as ids; ``Invalid`` for anything that is not one."""
    raw = request.form.getlist("advocate")
    ids = [whole_number(value) for value in raw]
    if any(i is None for i in ids):
        raise errors.Invalid("An advocate chosen is not a valid id. Nothing was changed.", "advocate")
    return [i for i in ids if i is not None]


@bp.post("/advocates/bulk")
def pool_bulk():
    """The first post shows what would happen (the confirmation page); the second, carrying
    ``confirmed=yes``, does it."""
    form = BulkForm()
    if not form.validate_on_submit():
        return _bulk_refused(form, first_error(form), 400)
    try:
        ids = chosen_ids()
        tier_id = whole_number(form.tier.data) if form.action.data == "tier" else None
        if request.form.get("confirmed") != "yes":
            plan = flow.plan_bulk(ids, form.action.data, tier_id)
            return render_template("admin/pool_bulk.html", form=form, plan=plan, message=None,
                                   words=flow.BULK_ACTIONS[form.action.data])
        done = flow.apply_bulk(ids, form.action.data, by=current_user, tier_id=tier_id,
                               reason=form.reason.data or "")
    except errors.WorkflowError as refusal:
        return _bulk_refused(form, str(refusal), refusal.status)
    flash(bulk_summary(done), "success" if done.changed else "info")
    return redirect(url_for("admin.pool"))


def _bulk_refused(form: BulkForm, message: str, status: int):
    return render_template("admin/pool_bulk.html", form=form, plan=None, message=_nothing_changed(message),
                           words=None), status


def _nothing_changed(message: str) -> str:
    return message if "Nothing was changed" in message else f"Nothing was changed. {message}"


BULK_DONE = {"tier": "moved to the new tier", "pause": "paused",
             "nudge": "nudged to look at their availability"}


def bulk_summary(done: flow.BulkResult) -> str:
    n = len(done.changed)
    said = f"{n} advocate{'' if n == 1 else 's'} {BULK_DONE[done.action]}."
    if done.skipped:
        why = "; ".join(f"{name}: {reason}" for name, reason in done.skipped)
        said += f" {len(done.skipped)} skipped ({why})."
    return said
