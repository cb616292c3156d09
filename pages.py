"""Small helpers shared by the views of portal/ and admin/."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, time
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, g, get_template_attribute, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from wtforms import HiddenField, StringField
from wtforms.widgets import CheckboxInput, ListWidget, Select, html_params
from wtforms.widgets.core import clean_key

from access import HALF_SIGNED_IN
from extensions import limiter
from models import AdvocateStatus, Tier
from models.types import ID_MAX, zone_or_utc
from workflows.availability import known_time_zones
from workflows.errors import Invalid, WorkflowError
from workflows.submissions import Once, check_key
from workflows.text import whole_number  # noqa: F401  (the views' import of the rule)

ADVOCATE_STATUS_WORDS = {
    AdvocateStatus.CANDIDATE: "Candidate",
    AdvocateStatus.INVITED: "Invited",
    AdvocateStatus.ACTIVE: "In the program",
    AdvocateStatus.PAUSED: "Paused",
    AdvocateStatus.RETIRED: "Retired",
}
"""An advocate's status in words. Never the bare value: "active" would read like the tier named
Active when both are on one line."""


def viewer_zone() -> ZoneInfo:
    """The signed-in person's time zone (UTC when theirs is unknown)."""
    return zone_or_utc(getattr(current_user, "timezone", None))


def local_time() -> Callable[[datetime], datetime]:
    """``local(moment)`` for templates: an aware UTC moment in the viewer's own zone."""
    zone = viewer_zone()
    return lambda moment: moment.astimezone(zone)


@cache
def _time_zone_options() -> str:
    return "".join(f'<option value="{escape(zone)}">{escape(zone.replace("_", " "))}</option>'
                   for zone in known_time_zones())


def time_zone_options(selected: str) -> Markup:
    """The ``<option>``s of a time-zone select, ``selected`` picked. The 600 zones are rendered
    once per process: a page shows them on every view, the same each time."""
    chosen = f'<option value="{escape(selected)}">'
    return Markup(_time_zone_options().replace(chosen, chosen[:-1] + " selected>", 1))


@cache
def time_zone_suggestions() -> Markup:
    """The ``<option>``s of a ``<datalist>`` of every time zone, rendered once per process."""
    return Markup("".join(f'<option value="{escape(zone)}">' for zone in known_time_zones()))


CLOCK = "%H:%M"
"""The one way a time of day is shown, in lists, e-mails and inputs alike: 24-hour, like 17:30."""
DATE_AND_TIME = "%a %d %b %Y, " + CLOCK


def clock(value: time | datetime | None) -> str:
    """``17:30``: the time of day of a time or a moment, as given (convert a moment to the
    reader's zone first). The ``clock`` template filter."""
    return value.strftime(CLOCK) if value is not None else ""


def date_and_time(moment: datetime | None) -> str:
    """``Mon 04 May 2026, 17:30``: a moment as given (convert it to the reader's zone first).
    The ``date_time`` template filter."""
    return moment.strftime(DATE_AND_TIME) if moment is not None else ""


def advocate_status(status: AdvocateStatus | str) -> str:
    """The ``advocate_status`` template filter: ``active`` → "In the program"."""
    return ADVOCATE_STATUS_WORDS[AdvocateStatus(status)]


def tier_name(tier: Tier | str | None, none: str = "No tier") -> str:
    """The ``tier_name`` template filter: "Active tier", so the tier named Active never reads
    like the status; ``none`` when there is no tier. Takes the tier or its name."""
    if tier is None:
        return none
    return f"{tier if isinstance(tier, str) else tier.name} tier"


def render_select(field, **attrs) -> Markup:
    """``field(**attrs)`` for a plain select, the same HTML as WTForms', its options written
    directly: WTForms builds each ``<option>`` through ``html_params`` and ``Markup.format``
    (some 20 µs apiece), and the filter forms have dozens on every view. A select of another kind
    (a widget of its own, several values, option groups, options with attributes) is WTForms'.
    The ``field`` macro's way of drawing a select."""
    widget = field.widget
    if type(widget) is not Select or widget.multiple or field.has_groups():
        return field(**attrs)
    kwargs = {clean_key(key): value for key, value in (field.render_kw or {}).items()}
    kwargs.update((clean_key(key), value) for key, value in attrs.items())
    kwargs.setdefault("id", field.id)
    flags = field.flags
    for name in dir(flags):
        if name in widget.validation_attrs and name not in kwargs:
            kwargs[name] = getattr(flags, name)
    html = [f"<select {html_params(name=field.name, **kwargs)}>"]
    for choice in field._iter_choices_normalized():
        if choice.render_kw or isinstance(choice.value, bool):
            html.append(widget.render_option(choice))
            continue
        selected = "selected " if choice.selected else ""
        label = escape(choice.label or choice.value)
        html.append(f'<option {selected}value="{escape(choice.value)}">{label}</option>')
    html.append("</select>")
    return Markup("".join(html))


def render_checkboxes(field, **attrs) -> Markup:
    """``field(**attrs)`` for a list of checkboxes (a ``SelectMultipleField`` drawn by
    ``ListWidget(prefix_label=False)`` with ``CheckboxInput``), the same HTML as WTForms', each box
    written directly: WTForms makes a whole field per choice to draw it. Another kind of field,
    or boxes with attributes of their own (``render_kw``, validation flags), is WTForms'."""
    widget = field.widget
    if (type(widget) is not ListWidget or widget.html_tag != "ul" or widget.prefix_label
            or type(field.option_widget) is not CheckboxInput or field.render_kw
            or any(getattr(field.flags, name, False) for name in CheckboxInput.validation_attrs)):
        return field(**attrs)
    kwargs = {clean_key(key): value for key, value in attrs.items()}
    kwargs.setdefault("id", field.id)
    html = [f"<ul {html_params(**kwargs)}>"]
    name = escape(field.name)
    for number, choice in enumerate(field._iter_choices_normalized()):
        box = escape(f"{field.id}-{number}")
        checked = "checked " if choice.selected else ""
        label = escape(choice.label or choice.value)
        html.append(f'<li><input {checked}id="{box}" name="{name}" type="checkbox" '
                    f'value="{escape(choice.value)}"> <label for="{box}">{label}</label></li>')
    html.append("</ul>")
    return Markup("".join(html))


_ID_MARKER = 2_147_483_599  # a number no URL of the app holds otherwise


def id_path(endpoint: str, name: str, **values) -> Callable[[int], str]:
    """``url_for(endpoint, **{name: id}, **values)`` for the many ids of a list: the URL is built
    once and each id written into it (``url_for`` costs some 15 µs a call, and a list page has a
    hundred rows). The ``id_path`` template global: ``{% set to = id_path("admin.advocate",
    "advocate_id") %}`` then ``to(row.id)``."""
    head, marker, tail = url_for(endpoint, **{name: _ID_MARKER}, **values).partition(str(_ID_MARKER))
    if not marker:
        raise ValueError(f"{endpoint}'s URL does not hold its {name}")
    return lambda value: f"{head}{int(value)}{tail}"


DRAWN_KEPT = 8192  # fragments kept per process: rows and headers, some 1 kB each
_TOKEN_MARK = "\x00csrf-token\x00"  # never in drawn text: NUL is refused in every input


def drawn(template: str, macro: str, *values) -> Markup:
    """``macro`` of ``template`` called with ``values``, drawn once for them and kept
    (``DRAWN_KEPT``, least recently used out first): the rows of a list page and the page's
    header, which the same people read again and again and which change only when what they
    show does. The values must be all that the fragment shows (hashable: plain values, frozen
    dataclasses), and the macro may read nothing else that differs between viewers or requests
    but the viewer's CSRF token, which is written into each copy (``unmark_token``)."""
    return unmark_token(_drawn(id(current_app._get_current_object()), template, macro, values))


def drawn_for(key: tuple, template: str, macro: str, *values) -> Markup:
    """``drawn`` from values that cannot be the key themselves (a form), kept by ``key``: all
    that decides what the fragment shows, as plain hashable values."""
    return unmark_token(_drawn(id(current_app._get_current_object()), template, macro, _Keyed(key, values)))


class _Keyed:
    """Values a fragment is drawn from, hashed and compared by the key that decides them."""

    __slots__ = ("key", "values")

    def __init__(self, key: tuple, values: tuple) -> None:
        self.key, self.values = key, values

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Keyed) and self.key == other.key


@lru_cache(maxsize=DRAWN_KEPT)
def _drawn(_app: int, template: str, macro: str, values: tuple | _Keyed) -> str:
    arguments = values.values if isinstance(values, _Keyed) else values
    return mark_token(str(get_template_attribute(template, macro)(*arguments)))


def mark_token(html: str) -> str:
    """``html`` with the viewer's CSRF token, if this request drew one, marked for the next
    viewer's (``unmark_token``): for HTML kept to be shown to others."""
    token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    return html.replace(token, _TOKEN_MARK) if token else html


def unmark_token(html: str) -> Markup:
    """Kept HTML with this viewer's own CSRF token where ``mark_token`` marked one."""
    return Markup(html.replace(_TOKEN_MARK, generate_csrf()) if _TOKEN_MARK in html else html)


def int_arg(args: Mapping[str, str], name: str, default: int, *, low: int = 1, high: int = ID_MAX) -> int:
    """A whole-number query parameter from ``low`` to ``high``, ``default`` when it is absent.
    Anything else is refused naming it (``Invalid``: a 422 page, or the API's 422), so that no
    view hands the database a number it cannot take (an OFFSET past its integers)."""
    raw = args.get(name)
    if raw is None:
        return default
    value = whole_number(raw, low, high)
    if value is None:
        raise Invalid(f"The {name} is a whole number from {low} to {high}.", name)
    return value


def first_error(*forms: FlaskForm) -> str:
    """The first message of the first form with errors, for a flash."""
    for form in forms:
        for messages in form.errors.values():
            return messages[0]
    return ""


def show_refusal(form: FlaskForm, refusal: WorkflowError) -> None:
    """A workflow's refusal on the form: each message beside its field, those of no field
    (or of a field the form does not have) above the form."""
    for name, messages in (refusal.errors or {"": [refusal.message]}).items():
        target = form._fields.get(name) if name and name != "csrf_token" else None
        if target is None:
            form.form_errors.extend(messages)
        else:
            target.errors = [*(target.errors or ()), *messages]


REFUSAL_TITLES = {404: "Not found", 409: "That is no longer possible", 422: "That did not work"}


def register_refusals(bp) -> None:
    """One mapping of the workflows' refusals for a blueprint's pages: a record that is not
    there, or not the viewer's, is the same audited 404 as an unknown address; any other
    refusal is a page with its message and its status (409 or 422). Views that can show the
    refusal on their own form catch it first (``show_refusal``)."""
    from flask import current_app, render_template, request
    from werkzeug.exceptions import NotFound as HTTPNotFound

    from workflows.audit import record_access_denied
    from workflows.errors import NotFound

    @bp.errorhandler(WorkflowError)
    def _refused(refusal: WorkflowError):
        if isinstance(refusal, NotFound):
            if current_user.is_authenticated:
                record_access_denied(current_user, request.path)
            return current_app.handle_http_exception(HTTPNotFound())
        return render_template(
            "errors/error.html",
            code=refusal.status,
            title=REFUSAL_TITLES.get(refusal.status, "That did not work"),
            message=refusal.message,
        ), refusal.status


ALREADY_SENT = "This form was already sent: nothing new was saved."
"""The flash of a create form sent a second time (``submissions.AlreadySubmitted``)."""


class OnceForm(FlaskForm):
    """A create form: it carries a one-time submission key, fresh each time the page is shown,
    so that the same form sent twice creates one record (``workflows.submissions``)."""

    submission_key = HiddenField(default=lambda: secrets.token_urlsafe(18))

    def once(self, scope: str) -> Once | None:
        """The key as the workflow takes it; None for a post that carries none (a script's).
        The key posted, never the field's default: that is a fresh one, made for the page."""
        posted = self.submission_key.raw_data
        if not posted or not posted[0]:
            return None
        return Once(scope, check_key(posted[0]))


# --- the second factor's code, on the sign-in step and on the staff member's own page ---------


class CodeForm(FlaskForm):
    """A code from the authenticator app, or a recovery code."""

    code = StringField(
        "Code from your authenticator app",
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "characters", "spellcheck": "false",
                   "maxlength": 20, "autofocus": True},
    )


def code_attempt_key() -> str:
    """Whose code attempts a limit counts: the half-signed-in account, else the signed-in one."""
    pending = session.get(HALF_SIGNED_IN)
    if isinstance(pending, dict):
        return "second-factor:" + str(pending.get("account", "")).partition(":")[0]
    if current_user.is_authenticated:
        return f"second-factor:{current_user.id}"
    return "second-factor:nobody"


def code_limits(limit_setting: str):
    return lambda: current_app.config[limit_setting]


def limit_code_attempts(view):
    """Per account and per client address, read from config at each request."""
    view = limiter.limit(code_limits("SECOND_FACTOR_LIMIT_PER_ACCOUNT"), key_func=code_attempt_key,
                         methods=["POST"], scope="second-factor-account")(view)
    return limiter.limit(code_limits("SECOND_FACTOR_LIMIT_PER_CLIENT"), methods=["POST"],
                         scope="second-factor-client")(view)
