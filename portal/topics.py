"""The advocate's topics and formats.

One page (``/portal/topics``) with one form: every topic of the catalogue, grouped by category,
with a three-way choice (glad to talk about / neutral / rather not), and the formats as
checkboxes. Saving replaces all stances and formats at once; a stale or tampered form (a topic
id or format code the catalogue does not hold) gets a 400 with a clear message and saves nothing.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from portal import bp, current_advocate_id
from workflows import profiles as flow

# --- forms -----------------------------------------------------------------------------------

TOPIC_PREFIX = "topic_"
STANCE_CHOICES = [
    SelectChoice("glad", "Glad to talk about"),
    SelectChoice(flow.NEUTRAL, "Neutral"),
    SelectChoice("avoid", "Rather not"),
]


class TopicsForm(FlaskForm):
    """The formats; ``topics_form`` adds one radio group per topic of the catalogue."""

    formats = SelectMultipleField(
        "Formats you accept",
        choices=[],
        validate_choice=False,  # the workflow refuses codes it does not know, with its own message
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )

    def posted_stances(self) -> dict[str, str]:
        """Every ``topic_<id>`` the browser sent, as sent (the workflow checks ids and values)."""
        return {
            key.removeprefix(TOPIC_PREFIX): value
            for key, value in request.form.items()
            if key.startswith(TOPIC_PREFIX)
        }


def topics_form(page: flow.TopicsPage, **kwargs) -> TopicsForm:
    class Form(TopicsForm):
        pass

    for topic in page.topics:
        setattr(
            Form,
            f"{TOPIC_PREFIX}{topic.id}",
            RadioField(topic.name, choices=STANCE_CHOICES, default=page.stances[topic.id],
                       validate_choice=False),
        )
    form = Form(**kwargs)
    form.formats.choices = [SelectChoice(f.code, f.name) for f in page.formats]
    return form


# --- views -----------------------------------------------------------------------------------


@bp.get("/portal/topics")
def topics():
    page = flow.topics_page(current_advocate_id())
    return _render(page, topics_form(page, formdata=None, formats=sorted(page.accepted)))


@bp.post("/portal/topics")
def save_topics():
    advocate_id = current_advocate_id()
    form = TopicsForm()
    if form.validate_on_submit():
        try:
            saved = flow.save_topics(
                advocate_id, form.posted_stances(), form.formats.data or [], actor=current_user
            )
        except flow.ProfileError as refusal:
            message = str(refusal)
        else:
            flash(_saved_message(saved), "success")
            return redirect(url_for("portal.topics"))
    else:
        message = next((errors[0] for errors in form.errors.values() if errors), "")
    page = flow.topics_page(advocate_id)
    form = topics_form(page)  # the choices as posted
    form.form_errors.append(message)
    flash(f"Nothing was saved. {message}", "error")
    return _render(page, form, 400)


# --- helpers ---------------------------------------------------------------------------------


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _saved_message(saved: flow.TopicsSaved) -> str:
    formats = (
        "formats: " + ", ".join(saved.formats)
        if saved.formats
        else "no formats switched on, so nobody will ask you for now"
    )
    return (
        f"Topics and formats saved: glad to talk about {_count(saved.glad, 'topic', 'topics')}, "
        f"rather not {saved.avoid}; {formats}."
    )


def _render(page: flow.TopicsPage, form: TopicsForm, status: int = 200):
    return render_template("portal/topics.html", page=page, form=form, prefix=TOPIC_PREFIX), status
