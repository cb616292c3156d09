"""The prospect's pages, opened from a signed link without an account (DESIGN.md §2 steps 4–5,
§7.9): book a time in the advocate's availability, then move or cancel it.

Times are shown in the prospect's zone: the browser's, detected by a small script that adds
``?tz=`` (static/booking.js), or the one picked in the select; the page names it. Choosing a
time and confirming is a POST with its CSRF token; a time taken meanwhile re-renders the page
with the fresh slots and says so (409), never a 500. A link that cannot be used says why.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField

from access import public
from models.types import utcnow, zone_or_utc
from pages import time_zone_options
from portal import bp
from portal.token_pages import refused_page, token_page
from workflows import bookings, errors, quota
from workflows.availability import is_known_time_zone
from workflows.introductions import public_profile
from workflows.links import Purpose
from workflows.prospect_links import LinkRefused, check_bookable, read, token
from workflows.slots import booking_rules, by_day, open_slots


class SlotForm(FlaskForm):
    slot = HiddenField()  # the radio buttons are drawn by the template, one per slot
    tz = HiddenField()


class CancelCallForm(FlaskForm):
    reason = TextAreaField("Why? (optional, the advocate reads it)", render_kw={"rows": 2, "maxlength": 500})


def _zone(raw: str | None) -> str:
    """The zone the prospect asked for, if it is one we know; UTC otherwise."""
    return raw if raw and is_known_time_zone(raw) else "UTC"


def _no_place(engagement) -> str:
    """The quota refusal, in the prospect's words (the workflow's speaks to the advocate)."""
    return (f"{engagement.advocate.account.name} has no calls left in the quarter of that time: "
            "pick an earlier one. Nothing was changed.")


def _start(raw: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat(raw or "")
    except ValueError:
        raise errors.Invalid("Pick one of the times offered.", "slot") from None
    if moment.tzinfo is None:
        raise errors.Invalid("Pick one of the times offered.", "slot")
    return moment.astimezone(UTC)


# --- booking ---------------------------------------------------------------------------------


@bp.get("/book/<token_text>", endpoint="book")
@public
def book_page(token_text: str):
    try:
        engagement, _payload = read(token_text, Purpose.BOOK)
        check_bookable(engagement)
    except LinkRefused as refusal:
        return refused_page(refusal)
    return _book(engagement, token_text, _zone(request.args.get("tz")))


@bp.post("/book/<token_text>")
@public
def book_slot(token_text: str):
    form = SlotForm()
    try:
        engagement, _payload = read(token_text, Purpose.BOOK)
        check_bookable(engagement)
    except LinkRefused as refusal:
        return refused_page(refusal)
    zone = _zone(form.tz.data)
    if not form.validate_on_submit():
        abort(400)
    try:
        booked = bookings.book(engagement.id, _start(form.slot.data), prospect_zone=zone)
    except LinkRefused as refusal:
        return refused_page(refusal)
    except quota.QuotaExceeded:
        return _book(engagement, token_text, zone, status=409, message=_no_place(engagement))
    except errors.WorkflowError as refusal:
        return _book(engagement, token_text, zone, status=refusal.status, message=refusal.message)
    starts = booked.starts_at.astimezone(zone_or_utc(zone))
    flash(f"Booked: {starts:%A %d %B %Y at %H:%M} ({zone}). You will both get a calendar invitation "
          "by e-mail.", "success")
    return redirect(url_for("portal.manage_booking", token_text=token(engagement, Purpose.MANAGE_BOOKING)))


def _book(engagement, token_text: str, zone: str, *, status: int = 200, message: str | None = None):
    now = utcnow()
    tz = zone_or_utc(zone)
    days = by_day(open_slots(engagement.advocate, now=now, rules=booking_rules()), tz)
    if message:
        flash(message, "error")
    return token_page(
        "portal/book.html",
        status,
        engagement=engagement,
        advocate=public_profile(engagement.advocate),
        days=days,
        zone=zone,
        zone_options=time_zone_options(zone),
        form=SlotForm(formdata=None, data={"tz": zone}),
        action=url_for("portal.book", token_text=token_text),
        page_url=url_for("portal.book", token_text=token_text),
    )


# --- moving or cancelling --------------------------------------------------------------------


@bp.get("/booking/<token_text>", endpoint="manage_booking")
@public
def manage_page(token_text: str):
    try:
        engagement, _payload = read(token_text, Purpose.MANAGE_BOOKING)
    except LinkRefused as refusal:
        return refused_page(refusal)
    zone = _zone(request.args.get("tz") or engagement.prospect_timezone)
    return _manage(engagement, token_text, zone)


@bp.post("/booking/<token_text>/move")
@public
def move_booking(token_text: str):
    form = SlotForm()
    try:
        engagement, _payload = read(token_text, Purpose.MANAGE_BOOKING)
    except LinkRefused as refusal:
        return refused_page(refusal)
    zone = _zone(form.tz.data or engagement.prospect_timezone)
    if not form.validate_on_submit():
        abort(400)
    try:
        moved = bookings.reschedule(engagement.id, _start(form.slot.data))
    except quota.QuotaExceeded:
        return _manage(engagement, token_text, zone, status=409, message=_no_place(engagement))
    except errors.WorkflowError as refusal:
        return _manage(engagement, token_text, zone, status=refusal.status, message=refusal.message)
    starts = moved.starts_at.astimezone(zone_or_utc(zone))
    flash(f"Moved: the call is now on {starts:%A %d %B %Y at %H:%M} ({zone}). You will both get the "
          "updated invitation.", "success")
    return redirect(url_for("portal.manage_booking", token_text=token_text))


@bp.post("/booking/<token_text>/cancel")
@public
def cancel_booking(token_text: str):
    form = CancelCallForm()
    try:
        engagement, _payload = read(token_text, Purpose.MANAGE_BOOKING)
    except LinkRefused as refusal:
        return refused_page(refusal)
    zone = _zone(engagement.prospect_timezone)
    if not form.validate_on_submit():
        abort(400)
    try:
        bookings.cancel_booking(engagement.id, side="prospect", reason=form.reason.data or "")
    except errors.WorkflowError as refusal:
        return _manage(engagement, token_text, zone, status=refusal.status, message=refusal.message)
    flash("The call is cancelled. You will both get the cancellation for your calendars.", "success")
    return redirect(url_for("portal.manage_booking", token_text=token_text))


def _manage(engagement, token_text: str, zone: str, *, status: int = 200, message: str | None = None):
    now = utcnow()
    tz = zone_or_utc(zone)
    movable = True
    try:
        bookings.check_movable(engagement, now, "moved")
    except errors.WorkflowError:
        movable = False
    days = by_day(open_slots(engagement.advocate, now=now, rules=booking_rules(),
                             ignore_engagement=engagement.id), tz) if movable else []
    if message:
        flash(message, "error")
    return token_page(
        "portal/manage_booking.html",
        status,
        engagement=engagement,
        advocate=public_profile(engagement.advocate),
        starts=engagement.starts_at.astimezone(tz) if engagement.starts_at else None,
        movable=movable,
        days=days,
        zone=zone,
        zone_options=time_zone_options(zone),
        form=SlotForm(formdata=None, data={"tz": zone}),
        cancel_form=CancelCallForm(formdata=None),
        action=url_for("portal.move_booking", token_text=token_text),
        cancel_action=url_for("portal.cancel_booking", token_text=token_text),
        page_url=url_for("portal.manage_booking", token_text=token_text),
    )
