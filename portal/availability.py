"""The advocate's availability: weekly windows, time zone, blackouts, snooze, limits.

One page (``/portal/availability``) with small forms; each form POSTs to its own URL, which
calls one workflow function, flashes and redirects back. A refused change re-renders the page
with the message beside the field (status 400) and changes nothing. The forms that add a window
or a blackout carry a one-time submission key: sent twice, they add one.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import TimeInput

from models.types import utcnow
from pages import ALREADY_SENT, OnceForm, clock, first_error, show_refusal, time_zone_suggestions
from portal import bp, current_advocate_id
from workflows import availability as flow
from workflows import calendar_feed, errors
from workflows.submissions import AlreadySubmitted

# --- forms -----------------------------------------------------------------------------------


class TimeOfDayField(StringField):
    """A time of day read by the workflow's own rule (refuses 24:00, 9.30, …). The field macro
    of templates/_forms.html shows its ``TimeInput`` as 24-hour HH:MM text, not type="time"."""

    widget = TimeInput()

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            try:
                self.data = flow.parse_time_of_day(valuelist[0][:20])
            except flow.AvailabilityError as error:
                raise ValueError(str(error)) from None

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0][:20]
        return clock(self.data)


NOT_A_DATE = "Enter a date like 2026-05-31."
NOT_A_NUMBER = "Enter a whole number, like 2."


class WindowForm(FlaskForm):
    weekday = SelectField(
        "Weekday",
        choices=[SelectChoice(str(number), name) for number, name in enumerate(flow.WEEKDAYS)],
        coerce=int,
        validators=[InputRequired("Pick a weekday.")],
        invalid_value_message="Pick a weekday from Monday to Sunday.",
        invalid_choice_message="Pick a weekday from Monday to Sunday.",
    )
    starts = TimeOfDayField("Start time", validators=[InputRequired("Enter a start time, like 09:00.")])
    ends = TimeOfDayField("End time", validators=[InputRequired("Enter an end time, like 12:00.")])


class NewWindowForm(OnceForm, WindowForm):
    """Adding a window: the window's fields and a one-time submission key."""


class TimeZoneForm(FlaskForm):
    timezone = StringField(
        "Time zone",
        validators=[
            InputRequired("Pick your time zone."),
            Length(max=64, message="A time zone name has at most 64 characters."),
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"},
    )


class BlackoutForm(OnceForm):
    starts_on = DateField(
        "First day", validators=[InputRequired("Enter the first day.")], invalid_value_message=NOT_A_DATE
    )
    ends_on = DateField(
        "Last day", validators=[InputRequired("Enter the last day.")], invalid_value_message=NOT_A_DATE
    )
    reason = StringField(
        "Reason (optional, only you and your coordinator see it)",
        validators=[
            Length(
                max=flow.REASON_MAX_LENGTH,
                message=f"Keep the reason to {flow.REASON_MAX_LENGTH} characters or fewer.",
            )
        ],
    )


class SnoozeForm(FlaskForm):
    until = DateField(
        "Snooze until",
        validators=[InputRequired("Enter the last day of your snooze.")],
        invalid_value_message=NOT_A_DATE,
    )


class LimitsForm(FlaskForm):
    quarterly_cap = IntegerField(
        "Calls per quarter, at most", validators=[Optional()], render_kw={"min": 0},
        invalid_value_message=NOT_A_NUMBER,
    )
    min_days_between_calls = IntegerField(
        "Days between calls, at least",
        validators=[InputRequired("Enter a number of days (0 for no minimum).")],
        invalid_value_message=NOT_A_NUMBER,
        render_kw={"min": flow.MIN_DAYS_BETWEEN_CALLS[0], "max": flow.MIN_DAYS_BETWEEN_CALLS[1]},
    )
    max_calls_per_day = IntegerField(
        "Calls per day, at most",
        validators=[InputRequired("Enter how many calls a day you accept.")],
        invalid_value_message=NOT_A_NUMBER,
        render_kw={"min": flow.MAX_CALLS_PER_DAY[0], "max": flow.MAX_CALLS_PER_DAY[1]},
    )


class ButtonForm(FlaskForm):
    """A button that changes something: only its CSRF token travels (remove, clear snooze)."""


# --- views -----------------------------------------------------------------------------------


@bp.get("/portal/availability")
def availability():
    return _page()


@bp.post("/portal/availability/windows")
def add_window():
    form = NewWindowForm()
    try:
        if _submitted(form, flow.add_window, form.weekday.data, form.starts.data, form.ends.data,
                      once="window"):
            return _done(f"Window added: {_window_text(form)}.")
    except AlreadySubmitted:
        return _done(ALREADY_SENT, "info")
    return _page(400, window_form=form)


@bp.get("/portal/availability/windows/<int:window_id>")
def edit_window(window_id: int):
    return _page(editing=window_id)


@bp.post("/portal/availability/windows/<int:window_id>")
def change_window(window_id: int):
    form = WindowForm(prefix="edit")
    if _submitted(
        form, flow.change_window, window_id, form.weekday.data, form.starts.data, form.ends.data
    ):
        return _done(f"Window changed to {_window_text(form)}.")
    return _page(400, editing=window_id, edit_form=form)


@bp.post("/portal/availability/windows/<int:window_id>/remove")
def remove_window(window_id: int):
    if _submitted(ButtonForm(), flow.remove_window, window_id):
        return _done("Window removed.")
    abort(400)


@bp.post("/portal/availability/time-zone")
def set_time_zone():
    form = TimeZoneForm()
    if _submitted(form, flow.set_time_zone, form.timezone.data):
        return _done(f"Time zone set to {current_user.timezone}. Your windows keep their local times.")
    return _page(400, time_zone_form=form)


@bp.post("/portal/availability/blackouts")
def add_blackout():
    form = BlackoutForm()
    try:
        if _submitted(
            form, flow.add_blackout, form.starts_on.data, form.ends_on.data, form.reason.data or "",
            now=utcnow(), once="blackout",
        ):
            return _done(f"No calls from {form.starts_on.data:%d %B} to {form.ends_on.data:%d %B %Y}.")
    except AlreadySubmitted:
        return _done(ALREADY_SENT, "info")
    return _page(400, blackout_form=form)


@bp.post("/portal/availability/blackouts/<int:blackout_id>/remove")
def remove_blackout(blackout_id: int):
    if _submitted(ButtonForm(), flow.remove_blackout, blackout_id):
        return _done("Blackout removed.")
    abort(400)


@bp.post("/portal/availability/snooze")
def snooze():
    form = SnoozeForm()
    if _submitted(form, flow.snooze, form.until.data, now=utcnow()):
        return _done(f"Snoozed until {form.until.data:%A %d %B %Y}: no asks and no bookings till then.")
    return _page(400, snooze_form=form)


@bp.post("/portal/availability/snooze/clear")
def clear_snooze():
    if _submitted(ButtonForm(), flow.clear_snooze):
        return _done("Snooze cleared: you can be asked again.")
    abort(400)


@bp.post("/portal/availability/limits")
def set_limits():
    form = LimitsForm()
    if _submitted(
        form, flow.set_limits,
        form.quarterly_cap.data, form.min_days_between_calls.data, form.max_calls_per_day.data,
    ):
        use = flow.quarter_use(current_advocate_id())
        if use.full:
            # A cap below the calls already had is allowed: it means no more this quarter.
            return _done(f"Limits saved. You have had {use.used} {'call' if use.used == 1 else 'calls'} in "
                         f"{use.label}, as many as your limit of {use.limit} allows: no new asks until "
                         "next quarter.")
        return _done(f"Limits saved: {use.left} of {use.limit} calls left in {use.label}.")
    return _page(400, limits_form=form)


# --- helpers ---------------------------------------------------------------------------------


def _submitted(form: FlaskForm, change, *args, once: str | None = None, **kwargs) -> bool:
    """Validate the form and make the change; a refusal lands on the form's field, or the form.
    ``once``: the scope of a create form's submission key; ``AlreadySubmitted`` is the view's
    to answer."""
    if not form.validate_on_submit():
        return False
    try:
        if once is not None:
            kwargs["once"] = form.once(once)
        change(current_advocate_id(), *args, **kwargs)
    except errors.Invalid as refusal:
        show_refusal(form, refusal)
        return False
    return True


def _done(message: str, category: str = "success"):
    flash(message, category)
    return redirect(url_for("portal.availability"))


def _window_text(form: WindowForm) -> str:
    return f"{flow.WEEKDAYS[form.weekday.data]} {clock(form.starts.data)}–{clock(form.ends.data)}"


def _page(status: int = 200, *, editing: int | None = None, **forms):
    """The page, with fresh forms except the one that was just refused."""
    overview = flow.overview(current_advocate_id(), now=utcnow())
    advocate = overview.advocate
    context = {
        "window_form": NewWindowForm(formdata=None),
        "time_zone_form": TimeZoneForm(formdata=None, data={"timezone": overview.zone}),
        "blackout_form": BlackoutForm(formdata=None),
        "snooze_form": SnoozeForm(formdata=None, data={"until": advocate.snoozed_until}),
        "limits_form": LimitsForm(formdata=None, obj=advocate),
        "button_form": ButtonForm(formdata=None),
        "editing": None,
        "calendar_url": calendar_feed.address(advocate),
    }
    if editing is not None:
        window = overview.window(editing)  # flow.NotFound → 404 when not theirs
        context["editing"] = window.id
        context["edit_form"] = WindowForm(formdata=None, prefix="edit", obj=window)
    context.update(forms)
    if status != 200:
        flash(f"Nothing was changed. {first_error(*forms.values())}", "error")
    return render_template(
        "portal/availability.html",
        overview=overview,
        time_zones=time_zone_suggestions(),
        weekdays=flow.WEEKDAYS,
        **context,
    ), status
