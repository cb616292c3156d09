"""``pages.render_select``, the ``field`` macro's way of drawing a select, and
``pages.render_checkboxes`` give exactly the HTML of WTForms' own widgets, for every kind the forms
have, and leave the kinds they do not draw themselves to WTForms."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectChoice, SelectField, SelectMultipleField
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget, Select

from pages import render_checkboxes, render_select

ODD = '<b>"Tom & Jerry\'s"</b>'


def choices(*pairs, **render_kw) -> list[SelectChoice]:
    return [SelectChoice(value, label, render_kw=render_kw.get(str(value))) for value, label in pairs]


class Everything(Form):
    plain = SelectField("Plain", choices=choices(("", "Any"), ("a", "Alpha"), ("b", "Beta")))
    numbers = SelectField("Numbers", choices=choices((1, "One"), (2, "Two")), coerce=int)
    required = SelectField("Required", choices=choices(("x", "X"), ("y", "Y")), validators=[InputRequired()])
    optional = SelectField("Optional", choices=choices(("x", "X")), validators=[Optional()])
    odd = SelectField("Odd", choices=choices((ODD, ODD), ("plain", "")))
    attributes = SelectField("Attributes", choices=choices(("a", "A")),
                             render_kw={"class": "wide", "data_kind": "k"})
    option_attributes = SelectField("Option attributes", choices=choices(("a", "A"), ("b", "B"),
                                                                         b={"disabled": True}))
    truth = SelectField("Truth", choices=choices((True, "Yes"), (False, "No")), coerce=bool)
    grouped = SelectField("Grouped", choices=[SelectChoice("de", "Germany", optgroup="Europe"),
                                              SelectChoice("jp", "Japan", optgroup="Asia")])
    many = SelectMultipleField("Many", choices=choices(("a", "A"), ("b", "B")))
    own_widget = SelectField("Own", choices=choices(("a", "A")), widget=type("Mine", (Select,), {})())


@pytest.mark.parametrize("data", [{}, {"plain": "b", "numbers": "2", "required": "y", "odd": ODD,
                                       "option_attributes": "b", "grouped": "jp", "many": ["a", "b"]}])
@pytest.mark.parametrize("attrs", [{}, {"aria-invalid": "true", "aria-describedby": "f-error"},
                                   {"required": False, "class_": "narrow"}])
def test_every_select_is_drawn_as_wtforms_draws_it(data, attrs):
    form = Everything(MultiDict(data))
    form.validate()
    for field in form:
        assert render_select(field, **attrs) == field(**attrs), field.name


def test_the_selected_choice_is_marked_and_text_is_escaped():
    form = Everything(MultiDict({"plain": "b", "odd": ODD}))
    assert '<option selected value="b">Beta</option>' in render_select(form.plain)
    drawn = render_select(form.odd)
    assert ODD not in drawn and "&lt;b&gt;&#34;Tom &amp; Jerry&#39;s&#34;&lt;/b&gt;" in drawn
    assert '<option value="plain">plain</option>' in drawn  # no label: the value shows


def test_the_filter_forms_of_the_pages_draw_the_same(app, make_account, make_request):
    from flask_login import login_user

    from admin.pool import FILTER_CATALOGUES, pool_filters
    from admin.requests import queue_filters
    from models import Account, Role, db
    from workflows.catalogue_choices import catalogue_choices

    coordinator = make_account(role=Role.COORDINATOR)
    make_request(requested_by=make_account(role=Role.SALES, name='Sam "the seller" <Smith>'))

    with app.test_request_context("/admin/advocates?status=active&format=video"):
        form = pool_filters(catalogue_choices(*FILTER_CATALOGUES))
        form.validate()
        for field in form:
            if field.type == "SelectField":
                assert render_select(field) == field(), field.name
    with app.test_request_context("/admin/requests?status=open&age=7"):
        login_user(db.session.get(Account, coordinator.id))
        form = queue_filters()
        assert len(form.owner.choices) >= 2
        for field in form:
            if field.type == "SelectField":
                assert render_select(field) == field(), field.name


class Boxes(Form):
    plain = SelectMultipleField("Plain",
                                choices=choices(("a", "Alpha"), ("b", "Beta"), (ODD, ODD), ("e", "")),
                                widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    numbers = SelectMultipleField("Numbers", choices=choices((1, "One"), (2, "Two")), coerce=int,
                                  widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    required = SelectMultipleField("Required", choices=choices(("x", "X")), validators=[InputRequired()],
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    attributes = SelectMultipleField("Attributes", choices=choices(("x", "X")), render_kw={"class": "wide"},
                                     widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    label_first = SelectMultipleField("Label first", choices=choices(("x", "X")),
                                      widget=ListWidget(), option_widget=CheckboxInput())
    empty = SelectMultipleField("Empty", choices=[], widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput())
    select = SelectMultipleField("A select", choices=choices(("x", "X")))


@pytest.mark.parametrize("data", [{}, {"plain": ["b", ODD], "numbers": ["2"], "required": ["x"]}])
@pytest.mark.parametrize("attrs", [{}, {"aria-invalid": "true"}, {"class_": "boxes"}])
def test_every_list_of_checkboxes_is_drawn_as_wtforms_draws_it(data, attrs):
    form = Boxes(MultiDict(data))
    form.validate()
    for field in form:
        assert render_checkboxes(field, **attrs) == field(**attrs), field.name


def test_a_checked_box_is_marked_and_its_text_escaped():
    drawn = render_checkboxes(Boxes(MultiDict({"plain": ["b"]})).plain)
    assert ('<input checked id="plain-1" name="plain" type="checkbox" value="b"> '
            '<label for="plain-1">Beta</label>') in drawn
    assert ODD not in drawn and '<label for="plain-3">e</label>' in drawn  # no label: the value shows
