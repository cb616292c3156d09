"""Pages opened from program mail, without signing in: the quarterly nudge's "still right"
confirmation (``workflows.nudges``) and unsubscribing (``workflows.unsubscribe``).

Opening either link changes nothing: the page says what its button does, and only the POST
does it. The nudge's button carries its CSRF token like every form. The unsubscribe POST is the
one view exempt from CSRF, deliberately: RFC 8058's one-click unsubscribe is a POST that a mail
program sends by itself with the body ``List-Unsubscribe=One-Click`` and no token it could have
read from a page. The signed link is what authorises it, and all it can do is stop mail.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, request, url_for
from flask_wtf import FlaskForm

from access import public
from extensions import csrf
from mail.outbox import LIST_UNSUBSCRIBE_POST
from portal import bp
from portal.token_pages import refused_page, token_page
from workflows import nudges, unsubscribe
from workflows.prospect_links import LinkRefused


class ConfirmButton(FlaskForm):
    """The button: only its CSRF token travels, the advocate is the link's."""


# --- "is your availability still right?" -----------------------------------------------------


@bp.get("/review/<token_text>", endpoint="review")
@public
def review_page(token_text: str):
    try:
        found = nudges.read(token_text)
    except LinkRefused as refusal:
        return refused_page(refusal)
    return token_page("portal/review.html", found=found, form=ConfirmButton(),
                      action=url_for("portal.confirm_review", token_text=token_text))


@bp.post("/review/<token_text>")
@public
def confirm_review(token_text: str):
    if not ConfirmButton().validate_on_submit():
        abort(400)
    try:
        found = nudges.confirm(token_text)
    except LinkRefused as refusal:
        return refused_page(refusal)
    if found.reviewed_on is None:
        flash("Thank you: your availability is confirmed. We ask again in "
              f"{nudges.review_days()} days.", "success")
    return redirect(url_for("portal.review", token_text=token_text))


# --- unsubscribing ---------------------------------------------------------------------------


@bp.get("/unsubscribe/<token_text>", endpoint="unsubscribe")
@public
def unsubscribe_page(token_text: str):
    try:
        digest = unsubscribe.read(token_text)
    except LinkRefused as refusal:
        return refused_page(refusal)
    return token_page("portal/unsubscribe.html", done=unsubscribe.is_unsubscribed(digest),
                      action=url_for("portal.confirm_unsubscribe", token_text=token_text))


@bp.post("/unsubscribe/<token_text>")
@public
@csrf.exempt
def confirm_unsubscribe(token_text: str):
    one_click = request.form.get("List-Unsubscribe") == LIST_UNSUBSCRIBE_POST.split("=", 1)[1]
    try:
        unsubscribe.unsubscribe(token_text, one_click=one_click)
    except LinkRefused as refusal:
        if one_click:
            return _plain(refusal.message, refusal.status)
        return refused_page(refusal)
    if one_click:  # a mail program, which shows nobody the answer
        return _plain("Unsubscribed: no more program e-mails go to this address.", 200)
    return token_page("portal/unsubscribe.html", done=True, action=None)


def _plain(text: str, status: int):
    response = make_response(text + "\n", status)
    response.mimetype = "text/plain"
    response.headers["Cache-Control"] = "no-store"
    return response
