"""Joining the program from an invitation (``workflows.outreach``): the page the e-mailed link
opens explains the program (tiers, what is asked, perks); its two forms join (ticking the terms)
or decline. Joining signs the person in, as a sign-in link does (``portal.auth.start_session``),
and takes them to the first-time setup (``/portal/welcome``), which steps through the portal's
own availability and topics pages.

The link is the credential: no sign-in needed for the page and its POSTs; a refused link is a
page that says why, with its 4xx status (``portal.token_pages``).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import DataRequired

from access import public
from portal import bp, current_advocate_id
from portal.auth import start_session
from portal.token_pages import refused_page, token_page
from workflows import outreach
from workflows.prospect_links import LinkRefused

TERMS = (
    "I would like to join the customer reference program. Vouch may show my name, job title, "
    "company and what I write in my profile to the program's coordinators and, when I accept a "
    "request, to that prospect and its seller. I choose when and how often I take part, and I can "
    "pause or leave the program at any time."
)


class JoinForm(FlaskForm):
    accept_terms = BooleanField(TERMS, validators=[DataRequired("Tick the box to accept the terms, "
                                                                "or decline below.")])


class DeclineForm(FlaskForm):
    """The button: only its CSRF token travels."""


def _page(token_text: str, form: JoinForm, status: int = 200, stamp: bool = False):
    try:
        found = outreach.open_invitation(token_text, stamp=stamp)
    except LinkRefused as refusal:
        return refused_page(refusal)
    return token_page("portal/join.html", status, page=found, form=form, decline_form=DeclineForm(),
                      token_text=token_text)


@bp.get("/join/<token_text>", endpoint="join")
@public
def join_page(token_text: str):
    return _page(token_text, JoinForm(formdata=None), stamp=request.method == "GET")


@bp.post("/join/<token_text>/accept")
@public
def accept_invitation(token_text: str):
    form = JoinForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(token_text, form, status=422)
    try:
        account = outreach.accept(token_text)
    except LinkRefused as refusal:
        return refused_page(refusal)
    start_session(account)
    flash(f"Welcome to the reference program, {account.name}. Three short steps and you are set.",
          "success")
    return redirect(url_for("portal.welcome"))


@bp.post("/join/<token_text>/decline")
@public
def decline_invitation(token_text: str):
    if not DeclineForm().validate_on_submit():
        abort(400)
    try:
        outreach.decline(token_text)
    except LinkRefused as refusal:
        return refused_page(refusal)
    return token_page("portal/join_declined.html")


# Where each setup step is done: the portal's own pages (topics and formats share one).
SETUP_LINKS = {
    "availability": ("portal.availability", "Set your availability"),
    "topics": ("portal.topics", "Choose your topics"),
    "formats": ("portal.topics", "Choose your formats"),
}


@bp.get("/portal/welcome")
def welcome():
    """The first-time setup: the steps, each done or not, each linking to its portal page."""
    steps = outreach.setup_steps(current_advocate_id())
    return render_template("portal/welcome.html", steps=steps, name=current_user.name,
                           done=all(step.done for step in steps), links=SETUP_LINKS)
