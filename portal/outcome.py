"""The seller's one-click deal outcome, opened from the e-mail sent once the reference took
place: the page names the request and the choice; only its button (a POST with its CSRF token)
records it. No sign-in needed: the signed link is bound to the request, the outcome and the
seller (``workflows.outcome_links``)."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_wtf import FlaskForm

from access import public
from portal import bp
from portal.token_pages import refused_page, token_page
from workflows import errors, outcome_links
from workflows.prospect_links import LinkRefused


class OutcomeButton(FlaskForm):
    """The button: only its CSRF token travels; the outcome is the link's."""


@bp.get("/outcome/<token_text>", endpoint="outcome")
@public
def outcome_page(token_text: str):
    try:
        found = outcome_links.read(token_text)
    except LinkRefused as refusal:
        return refused_page(refusal)
    recorded = found.request.outcome is found.outcome
    if not recorded:
        try:
            outcome_links.check_open(found)
        except LinkRefused as refusal:
            return refused_page(refusal)
    return token_page("portal/outcome.html", found=found, recorded=recorded, form=OutcomeButton(),
                      action=url_for("portal.record_outcome", token_text=token_text))


@bp.post("/outcome/<token_text>")
@public
def record_outcome(token_text: str):
    if not OutcomeButton().validate_on_submit():
        abort(400)
    try:
        found = outcome_links.use(token_text)
    except LinkRefused as refusal:
        return refused_page(refusal)
    except errors.WorkflowError as refusal:  # another outcome recorded a moment ago
        return refused_page(LinkRefused(refusal.message, status=refusal.status))
    flash(f"Recorded: the deal was {found.outcome.value}. Thank you for letting us know.", "success")
    return redirect(url_for("portal.outcome", token_text=token_text))
