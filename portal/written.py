"""A written reference, answered by the advocate and read by the prospect.

``/portal/written/<engagement_id>`` lists the request's questions, each with a text area
labelled by the question. One form, two buttons: "Save draft" (any number of times) and
"Submit answers" (every question answered; read-only afterwards, unless the coordinator sends
them back with a note, which the page then shows above the answers).

``/read/<token>`` is the prospect's page, opened from the e-mailed link without an account once
the answers are approved: the questions and answers, with the advocate's name, title and
company. A link that cannot be used says why, with its 4xx status.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length

from access import public
from models import EngagementStatus, size_band
from pages import viewer_zone
from portal import bp, current_advocate_id
from portal.token_pages import refused_page, token_page
from workflows import written as flow
from workflows.prospect_links import LinkRefused

# --- forms -----------------------------------------------------------------------------------

TOO_LONG = f"Keep each answer to {flow.ANSWER_MAX_LENGTH} characters or fewer."


class _AnswersForm(FlaskForm):
    save_draft = SubmitField("Save draft")
    submit_answers = SubmitField("Submit answers")

    def answer_fields(self):
        return [self[f"answer_{position}"] for position in range(self.question_count)]

    def answers(self) -> list[str]:
        return [field.data or "" for field in self.answer_fields()]


def answers_form(questions: Sequence[str], **kwargs) -> _AnswersForm:
    """A form with one text area per question, labelled by the question itself."""

    class AnswersForm(_AnswersForm):
        question_count = len(questions)

    for position, question in enumerate(questions):
        setattr(
            AnswersForm,
            f"answer_{position}",
            TextAreaField(
                question,
                validators=[Length(max=flow.ANSWER_MAX_LENGTH, message=TOO_LONG)],
                render_kw={"rows": 6, "maxlength": flow.ANSWER_MAX_LENGTH},
            ),
        )
    return AnswersForm(**kwargs)


# --- views -----------------------------------------------------------------------------------


@bp.get("/portal/written/<int:engagement_id>")
def written(engagement_id: int):
    engagement = flow.advocate_written(engagement_id, current_advocate_id())
    questions = flow.questions_of(engagement)
    saved = {a.position: a.answer for a in engagement.answers}
    form = answers_form(
        questions, formdata=None, data={f"answer_{i}": saved.get(i, "") for i in range(len(questions))}
    )
    return _page(engagement, questions, form)


@bp.post("/portal/written/<int:engagement_id>")
def save_written(engagement_id: int):
    advocate_id = current_advocate_id()
    engagement = flow.advocate_written(engagement_id, advocate_id)
    questions = flow.questions_of(engagement)
    form = answers_form(questions)
    if not form.validate_on_submit():
        return _page(engagement, questions, form, 400)
    submitting = bool(form.submit_answers.data)
    try:
        if submitting:
            flow.submit_answers(engagement_id, advocate_id, form.answers())
        else:
            flow.save_draft(engagement_id, advocate_id, form.answers())
    except (flow.AlreadySubmitted, flow.NotAnswerable) as refusal:
        engagement = flow.advocate_written(engagement_id, advocate_id)
        return _page(engagement, questions, form, 409, refusal=str(refusal))
    except flow.WrittenError as refusal:
        fields = form.answer_fields()
        if refusal.position is not None and refusal.position < len(fields):
            fields[refusal.position].errors = [*fields[refusal.position].errors, str(refusal)]
        else:
            form.form_errors.append(str(refusal))
        return _page(engagement, questions, form, 400)
    if submitting:
        flash("Thank you! Your answers are submitted. Your coordinator reviews them before the "
              "prospect reads them.", "success")
    else:
        flash("Draft saved. Come back any time to finish and submit.", "success")
    return redirect(url_for("portal.written", engagement_id=engagement_id))


@bp.get("/read/<token_text>", endpoint="read_answers")
@public
def read_answers(token_text: str):
    try:
        found = flow.reading(token_text)
    except LinkRefused as refusal:
        return refused_page(refusal)
    return token_page("portal/read_answers.html", reading=found)


# --- helpers ---------------------------------------------------------------------------------


def _page(engagement, questions, form, status: int = 200, *, refusal: str | None = None):
    if refusal:
        flash(refusal, "error")
    elif status == 400:
        flash("Nothing was saved: see the message beside the answer.", "error")
    submitted = engagement.answers_submitted_at is not None
    editable = not submitted and engagement.status is EngagementStatus.AWAITING_BOOKING and bool(questions)
    return render_template(
        "portal/written.html",
        engagement=engagement,
        req=engagement.request,
        size=size_band(engagement.request.employees) if engagement.request else None,
        questions=questions,
        answers={a.position: a.answer for a in engagement.answers},
        form=form,
        submitted=submitted,
        editable=editable,
        returned_note=engagement.answers_returned_note if editable else "",
        zone=viewer_zone(),
    ), status
