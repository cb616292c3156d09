"""The written-answers section of a request's page: its forms and what it shows the viewer.

The request page (``admin.requests``) renders the section and the written views
(``admin.written``) post its forms; both import it from here, so neither imports the other's
module for it.
"""

from __future__ import annotations

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from workflows import written as flow


class ApproveForm(FlaskForm):
    """The approval: only its CSRF token travels."""


class ReturnForm(FlaskForm):
    note = TextAreaField(
        "What should the advocate change? (they read this note)",
        render_kw={"rows": 4, "maxlength": flow.RETURN_NOTE_MAX_LENGTH},
    )


def section_context(engagement, return_form: ReturnForm | None = None) -> dict:
    """What the request page's written section needs, for the signed-in viewer."""
    return {
        "written": flow.written_view(engagement, current_user),
        "return_form": return_form or ReturnForm(formdata=None),
    }
