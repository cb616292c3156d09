"""The advocate's calendar subscription: the feed itself, served without a session to any
calendar app that holds the private address (``/calendar/<token>.ics``), and rotating the
address from the availability page (a POST behind a confirm step).

A refused address answers in plain text with its status (404 not ours, 410 replaced), which
calendar apps show or log, never a page meant for a browser.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, url_for
from flask_wtf import FlaskForm

from access import public
from portal import bp, current_advocate_id
from workflows import calendar_feed as flow

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


class RotateForm(FlaskForm):
    """The rotation: only its CSRF token travels."""


@bp.get("/calendar/<token_text>.ics", endpoint="calendar_feed")
@public
def calendar_feed(token_text: str):
    try:
        text = flow.feed_text(token_text)
    except (flow.FeedRefused, flow.FeedRetired) as refusal:
        return Response(f"{refusal.message}\n", status=refusal.status, mimetype="text/plain",
                        headers=NO_STORE)
    return Response(text, mimetype="text/calendar", headers={
        **NO_STORE, "Content-Disposition": 'inline; filename="vouch-calls.ics"'})


@bp.post("/portal/availability/calendar/rotate")
def rotate_calendar():
    if not RotateForm().validate_on_submit():
        abort(400)
    flow.rotate(current_advocate_id())
    flash("Your calendar has a new address: the old one no longer works. Subscribe to the new one "
          "below in your calendar app, and remove the old subscription.", "success")
    return redirect(url_for("portal.availability", _anchor="calendar"))
