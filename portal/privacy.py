"""The advocate's privacy page (DESIGN.md §7.13): the consent they gave, what Vouch
keeps about them, a download of all of it as JSON, and leaving the program.

Leaving is a POST with CSRF from a confirmation page where the advocate types LEAVE; without it
the answer is 400 and nothing changes. After leaving, the session ends on the server too.
"""

from __future__ import annotations

import json

from flask import current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from models.types import utcnow
from portal import bp, current_advocate_id
from portal.auth import end_session
from workflows import privacy as flow

# --- forms -----------------------------------------------------------------------------------


class LeaveForm(FlaskForm):
    confirmation = StringField(
        f"Type {flow.LEAVE_WORD} to confirm",
        validators=[
            InputRequired(flow.CONFIRM_MESSAGE),
            Length(max=20, message=f"Type only the word {flow.LEAVE_WORD}."),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )


# --- views -----------------------------------------------------------------------------------


@bp.get("/portal/privacy")
def privacy():
    return render_template("portal/privacy.html", summary=flow.summary(current_advocate_id()))


@bp.get("/portal/privacy/my-data.json")
def download_data():
    """All their data as a JSON file (a GET: it reads, and only ever their own rows)."""
    now = utcnow()
    data = flow.export_data(current_advocate_id(), now=now)
    response = current_app.response_class(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n", mimetype="application/json"
    )
    filename = flow.export_filename(data["account"]["timezone"], now)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/portal/privacy/leave")
def leave_confirm():
    current_advocate_id()
    return render_template("portal/leave_confirm.html", form=LeaveForm(formdata=None))


@bp.post("/portal/privacy/leave")
def leave():
    form = LeaveForm()
    if form.validate_on_submit():
        try:
            departure = flow.leave_program(current_advocate_id(), confirmation=form.confirmation.data)
        except flow.PrivacyError as refusal:
            form.confirmation.errors.append(str(refusal))
        else:
            end_session()
            flash(_farewell(departure), "success")
            return redirect(url_for("portal.sign_in"))
    flash("Nothing was changed: you are still in the program.", "error")
    return render_template("portal/leave_confirm.html", form=form), 400


# --- helpers ---------------------------------------------------------------------------------


def _farewell(departure: flow.Departure) -> str:
    done = []
    if departure.asks_declined:
        done.append(_plural(departure.asks_declined, "pending ask was", "pending asks were") + " declined")
    if departure.engagements_cancelled:
        done.append(_plural(departure.engagements_cancelled, "upcoming call was", "upcoming calls were")
                    + " cancelled")
    also = f" {' and '.join(done).capitalize()}." if done else ""
    return (
        "You have left the Vouch reference program and are signed out. Your personal data is erased;"
        f" a confirmation is on its way to your e-mail.{also} Thank you for your help."
    )


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
