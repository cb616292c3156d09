"""Pages opened from a signed link in an e-mail, whose URL holds the credential: never cached,
never sent on as a referrer (DESIGN.md §7.6), and a refused link answered with a page that says
why, with its status."""

from __future__ import annotations

from flask import make_response, render_template

from workflows.prospect_links import LinkRefused


def token_page(template: str, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def refused_page(refusal: LinkRefused):
    return token_page("portal/prospect_link_refused.html", refusal.status, message=refusal.message)
