"""The reference request as sales submit it (DESIGN.md §9 "JSON API"), defined once: for reading
a request and for describing it.

``RequestBody`` is the body of ``POST /api/v1/requests`` as a pydantic model, and strict: text
is text, numbers are numbers, lists are JSON arrays, unknown keys are refused. Its JSON Schema
(``model_json_schema``) is the body ``openapi.json`` shows, so the document admits what the
check admits. The catalogue fields (industry, region, topics, format) name their catalogue in
the schema (``x-catalogue``): the parser resolves them against the database, case-insensitively
and with spaces folded, and the document lists the catalogue's entries. ``RequestEditBody`` is
the same for what a seller may still change.

The admin area's forms send every value as a string: ``form_values`` turns them into the
model's shapes first (lists one item per line, numbers written like 1,250,000.50), and a form
reads its errors in the person's words ("Pick a format") where the API names the codes.

``parse_request(raw)`` checks every rule at once and either returns a typed ``RequestInput`` —
catalogue names resolved to their rows — or raises ``RequestInvalid``, whose ``errors`` map each
field to what is wrong with it. It changes nothing (``workflows.request_submission.submit_request`` saves
what it returns) and runs a fixed number of queries whatever the input.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import select

from models import Format, Industry, ReferenceRequest, Region, Topic, UseCase, db
from models._columns import name_key
from models.types import utcnow
from workflows.errors import Invalid
from workflows.text import FILLED_PATTERN, STORABLE_PATTERN, one_line, unstorable

# --- the limits: the columns' own, where a column has one ---------------------------------------

_COLUMNS = ReferenceRequest.__table__.c
TEXT_LIMITS: dict[str, int] = {
    name: _COLUMNS[name].type.length
    for name in ("opportunity_id", "opportunity_name", "prospect_company", "contact_name", "contact_email")
}
ITEM_MAX_LENGTH = UseCase.__table__.c.name.type.length  # a use case, topic or competitor; an industry…
FORMAT_CODE_MAX_LENGTH = Format.__table__.c.code.type.length
NOTES_MAX_LENGTH = 5000
QUESTION_MAX_LENGTH = 500
LIST_MAX_ITEMS = 20
AMOUNT_PLACES = _COLUMNS["amount"].type.scale
CENT = Decimal(1).scaleb(-AMOUNT_PLACES)
AMOUNT_MAX = Decimal(10) ** (_COLUMNS["amount"].type.precision - AMOUNT_PLACES) - CENT  # 999999999999.99
EMPLOYEES_MAX = 10_000_000

DATE_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# How people write numbers in the form: 250000, 250,000 or 250000.50.
WHOLE_NUMBER = re.compile(r"[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+")
DECIMAL_NUMBER = re.compile(r"(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.[0-9]+)?|\.[0-9]+")

# The field types. Constraints sit on the inner type, so that they are checked on the value as
# sent (what the JSON Schema describes) before it is trimmed.


def _trimmed(value: str) -> str:
    return value.strip()


def _text(max_length: int, *, filled: bool = False, multiline: bool = False) -> Any:
    """Text up to ``max_length`` characters; on one line (spaces folded) unless ``multiline``;
    ``filled``: not blank."""
    return Annotated[
        str,
        Field(max_length=max_length, pattern=FILLED_PATTERN if filled else STORABLE_PATTERN),
        AfterValidator(_trimmed if multiline else one_line),
    ]


def _catalogue(catalogue: str, max_length: int = ITEM_MAX_LENGTH) -> Any:
    """A name (or, for formats, a code) of one of ``CATALOGUES``: the document lists them."""
    marker = {"x-catalogue": catalogue}
    return Annotated[str, Field(max_length=max_length, pattern=STORABLE_PATTERN, json_schema_extra=marker)]


def _dedupe(items: list[str]) -> list[str]:
    """Repeats (compared case-insensitively, spaces folded) kept once, in the order given."""
    first: dict[str, str] = {}
    for item in items:
        first.setdefault(name_key(item), item)
    return list(first.values())


def _items(item: Any, *, dedupe: bool = True) -> Any:
    """A JSON array of at most ``LIST_MAX_ITEMS`` of ``item``."""
    return Annotated[
        list[item], Field(max_length=LIST_MAX_ITEMS), *([AfterValidator(_dedupe)] if dedupe else [])
    ]


def _list_item(max_length: int) -> Any:
    return Annotated[str, Field(max_length=max_length, pattern=FILLED_PATTERN), AfterValidator(one_line)]


def _json_number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError("number_type", "must be a number")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise PydanticCustomError("number_type", "must be a number")
    return number


def _whole_number(value: Any) -> Any:
    """1200.0 is the whole number 1200 (JSON Schema says so too); anything else is left to the
    strict integer type."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


def _iso_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not DATE_FORMAT.fullmatch(value):
        raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_calendar", "{value} is not a date on the calendar",
                                  {"value": value}) from None


def _not_past(value: date) -> date:
    """Today or later; "today" is the UTC date."""
    today = utcnow().date()
    if value < today:
        raise PydanticCustomError("date_past", "must not be in the past (today is {today}, UTC)",
                                  {"today": today.isoformat()})
    return value


def _email(value: str) -> str:
    if not value:
        return ""
    try:
        # Close to what JSON Schema's "email" format admits: a domain without a dot and a .test
        # one are taken too; the other special-use names (.invalid, .local, .localhost,
        # .onion, .arpa) are refused, as contact_email's description says.
        return validate_email(value, check_deliverability=False, globally_deliverable=False,
                              test_environment=True).normalized
    except EmailNotValidError as problem:
        raise PydanticCustomError("email", "'{address}' is not a valid e-mail address: {problem}",
                                  {"address": value, "problem": str(problem)}) from None


Amount = Annotated[
    Decimal,
    Field(ge=0, le=AMOUNT_MAX, decimal_places=AMOUNT_PLACES),
    BeforeValidator(_json_number),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": float(AMOUNT_MAX),
                    "multipleOf": float(CENT)}),
]
Employees = Annotated[int, Field(ge=1, le=EMPLOYEES_MAX), BeforeValidator(_whole_number)]
NeededBy = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_not_past)]
Email = Annotated[
    str,
    Field(max_length=TEXT_LIMITS["contact_email"], pattern=STORABLE_PATTERN),
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "maxLength": TEXT_LIMITS["contact_email"], "pattern": STORABLE_PATTERN,
                    "anyOf": [{"format": "email"}, {"const": ""}]}),
]
Notes = _text(NOTES_MAX_LENGTH, multiline=True)
Tags = _items(_list_item(ITEM_MAX_LENGTH))
TopicNames = _items(_catalogue("topics"))
Questions = _items(_list_item(QUESTION_MAX_LENGTH), dedupe=False)

STRICT = ConfigDict(strict=True, extra="forbid")


class RequestBody(BaseModel):
    """A reference request as sales submit it. Unknown keys are refused; `null` counts as not
    given. Catalogue names (industry, region, topics, format) are matched case-insensitively,
    spaces folded; an unknown one is named in `fields`."""

    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            # A written reference needs a question (checked once the format is resolved).
            "if": {"properties": {"format": {"const": "written"}}, "required": ["format"]},
            "then": {"properties": {"questions": {"type": "array", "minItems": 1}},
                     "required": ["questions"]},
        },
    )

    opportunity_id: _text(TEXT_LIMITS["opportunity_id"]) | None = Field(
        "", description="The CRM's opportunity id.")
    opportunity_name: _text(TEXT_LIMITS["opportunity_name"]) | None = ""
    amount: Amount | None = Field(None, description="The deal's amount: a number, at most 2 decimals.")
    prospect_company: _text(TEXT_LIMITS["prospect_company"], filled=True)
    industry: _catalogue("industries") = Field(description="An industry of the catalogue, e.g. Healthcare.")
    employees: Employees | None = Field(None, description="The prospect's head count.")
    region: _catalogue("regions") | None = Field(None, description="A region of the catalogue, e.g. Europe.")
    contact_name: _text(TEXT_LIMITS["contact_name"]) | None = ""
    contact_email: Email | None = Field("", description="An e-mail address, or empty. Special-use domains "
                                        "other than .test (.invalid, .local, .localhost, .onion, .arpa) "
                                        "are refused: no mail reaches them.")
    use_cases: Tags | None = Field(None, description="Free tags.")
    topics: TopicNames | None = Field(None, description="Topics of the catalogue, e.g. Security.")
    competitors: Tags | None = Field(None, description="Competitors in the deal: free tags.")
    format: _catalogue("formats", FORMAT_CODE_MAX_LENGTH) = Field(description="A format's code.")
    needed_by: NeededBy | None = Field(None, description="YYYY-MM-DD, today (UTC) or later.")
    questions: Questions | None = Field(None, description="For a written reference: at least one then.")
    notes: Notes | None = ""


class RequestEditBody(BaseModel):
    """What a seller may still change before an advocate accepts; every field is replaced."""

    model_config = STRICT

    needed_by: NeededBy | None = None
    notes: Notes | None = ""
    topics: TopicNames | None = None
    contact_name: _text(TEXT_LIMITS["contact_name"]) | None = ""
    contact_email: Email | None = ""


# The contract's fields, in its order (DESIGN.md §9).
FIELDS: tuple[str, ...] = tuple(RequestBody.model_fields)
EDIT_FIELDS: tuple[str, ...] = tuple(RequestEditBody.model_fields)
REQUIRED = frozenset(name for name, info in RequestBody.model_fields.items() if info.is_required())
# The fields that name a catalogue entry, and their catalogue (``x-catalogue`` in the schema).
CATALOGUE_FIELDS = {"industry": "industries", "region": "regions", "topics": "topics", "format": "formats"}
# Keys a submitted form carries besides the fields (Flask-WTF's token, the one-time submission
# key): never an error.
FORM_KEYS = frozenset({"csrf_token", "submission_key"})

# Catalogue → (the column a field names its entries by, the catalogue's order).
CATALOGUES: dict[str, tuple[Any, Any]] = {
    "industries": (Industry.name, Industry.id),
    "regions": (Region.name, Region.id),
    "topics": (Topic.name, Topic.id),
    "formats": (Format.code, Format.position),
}


def catalogue_values(catalogue: str) -> list[str]:
    """What a catalogue field takes, as the catalogue writes it (formats: their codes); the
    document lists these, and the messages name them."""
    value, order = CATALOGUES[catalogue]
    return list(db.session.scalars(select(value).order_by(order, value)))


# --- what comes out --------------------------------------------------------------------------


@dataclass(kw_only=True)
class RequestInput:
    """A request as submitted, checked and typed; catalogue entries are their rows."""

    opportunity_id: str = ""
    opportunity_name: str = ""
    amount: Decimal | None = None
    prospect_company: str
    industry: Industry
    employees: int | None = None
    region: Region | None = None
    contact_name: str = ""
    contact_email: str = ""
    use_cases: list[str] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    competitors: list[str] = field(default_factory=list)
    format: Format
    needed_by: date | None = None
    questions: list[str] = field(default_factory=list)
    notes: str = ""


@dataclass(frozen=True)
class RequestEdit:
    """What the seller may still change before an advocate accepts."""

    needed_by: date | None
    notes: str
    topics: list[Topic]
    contact_name: str
    contact_email: str


class RequestInvalid(Invalid):
    """The request breaks one or more rules. ``errors`` maps each field at fault to its messages
    (an unknown key maps to a message naming it); nothing was saved."""

    def __init__(self, errors: Mapping[str, Iterable[str]]) -> None:
        # The contract's order first, then any unknown keys.
        order = {name: position for position, name in enumerate(FIELDS)}
        ordered = {
            name: list(errors[name]) for name in sorted(errors, key=lambda n: (order.get(n, len(order)), n))
        }
        details = "; ".join(
            f"{name}: {message}" for name, messages in ordered.items() for message in messages
        )
        first = next(iter(ordered), None)
        super().__init__(f"The request was not saved. {details}", first, ordered)


# --- the parser ------------------------------------------------------------------------------

# What the form says instead of the API's words, for (field, problem): what to do, never a
# code (an unknown industry, region or topic is named, with the catalogue's names).
FORM_WORDS: dict[tuple[str, str], str] = {
    ("prospect_company", "required"): "Give the prospect's company name",
    ("industry", "required"): "Pick an industry",
    ("format", "required"): "Pick a format",
    ("format", "unknown"): "Pick a format from the list",
}


def parse_request(raw: Mapping[str, Any]) -> RequestInput:
    """Check a submitted request against every rule: a JSON object (strictly, as
    ``RequestBody`` says), or a form's values (anything with ``getlist``, like ``request.form``:
    read by ``form_values`` first). Raises ``RequestInvalid`` with every problem found, field by
    field."""
    is_form = hasattr(raw, "getlist")
    if not isinstance(raw, Mapping):
        raise RequestInvalid({"request": ["the request must be an object with the request's fields"]})
    values, errors = form_values(raw, FIELDS, unknown_keys=True) if is_form else (dict(raw), {})
    problems = _Problems(errors, FORM_WORDS if is_form else {})
    body = problems.validate(RequestBody, values)

    industry = problems.entry("industry", values, Industry)
    region = problems.entry("region", values, Region)
    topics = problems.topics(values)
    the_format = problems.format(values)
    questions = body.questions if body else values.get("questions")
    if the_format is not None and the_format.code == "written" and not questions and (
            "questions" not in problems.errors):
        problems.add("questions", "a written reference needs at least one question")

    if body is None or problems.errors:
        raise RequestInvalid(problems.errors)
    return RequestInput(
        opportunity_id=body.opportunity_id or "",
        opportunity_name=body.opportunity_name or "",
        amount=body.amount.quantize(CENT) if body.amount is not None else None,
        prospect_company=body.prospect_company,
        industry=industry,
        employees=body.employees,
        region=region,
        contact_name=body.contact_name or "",
        contact_email=body.contact_email or "",
        use_cases=body.use_cases or [],
        topics=topics,
        competitors=body.competitors or [],
        format=the_format,
        needed_by=body.needed_by,
        questions=body.questions or [],
        notes=body.notes or "",
    )


def parse_request_edit(raw: Mapping[str, Any]) -> RequestEdit:
    """Check the fields of an edit with the same rules as a new request (a form's values: other
    keys are left alone); ``RequestInvalid`` with every problem found."""
    is_form = hasattr(raw, "getlist")
    values, errors = form_values(raw, EDIT_FIELDS) if is_form else (dict(raw), {})
    problems = _Problems(errors, FORM_WORDS if is_form else {})
    body = problems.validate(RequestEditBody, values)
    topics = problems.topics(values)
    if body is None or problems.errors:
        raise RequestInvalid(problems.errors)
    return RequestEdit(needed_by=body.needed_by, notes=body.notes or "", topics=topics,
                       contact_name=body.contact_name or "", contact_email=body.contact_email or "")


class ContactEmailBody(BaseModel):
    """A prospect contact's address alone: corrected when the introduction is sent again."""

    model_config = STRICT

    contact_email: Email


def parse_contact_email(text: str) -> str:
    """A prospect contact's e-mail address, checked (and normalised) as a request's
    ``contact_email`` is; ``RequestInvalid`` naming ``contact_email`` otherwise. Empty stays empty."""
    problems = _Problems({}, FORM_WORDS)
    body = problems.validate(ContactEmailBody, {"contact_email": (text or "").strip()})
    if body is None or problems.errors:
        raise RequestInvalid(problems.errors)
    return body.contact_email


# --- the form's strings ------------------------------------------------------------------------

LIST_FIELDS = frozenset({"use_cases", "topics", "competitors", "questions"})


def form_values(form: Any, names: Iterable[str], *, unknown_keys: bool = False
                ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A form's strings in the shapes the models take: each value trimmed, an empty one not
    given; a list one item per line (or a repeated key, as checkboxes send), empty lines left
    out; the amount and the head count read as people write them (1,250,000.50). → (the values,
    the problems found reading the numbers). ``unknown_keys``: keys that are no field (nor the
    form's own) are passed on, for the model to refuse."""
    names = tuple(names)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if unknown_keys:
        values |= {key: form.get(key) for key in form if key not in names and key not in FORM_KEYS}
    for name in names:
        if name not in form:
            continue
        if name in LIST_FIELDS:
            entries = form.getlist(name)
            lines = entries[0].splitlines() if len(entries) == 1 else entries
            values[name] = [item for item in (one_line(line) for line in lines) if item]
            continue
        text = (form.get(name) or "").strip()
        if not text:
            values[name] = None
        elif name == "amount":
            if DECIMAL_NUMBER.fullmatch(text.removeprefix("-")):
                values[name] = Decimal(text.replace(",", ""))
            else:
                errors[name] = [f"'{text[:40]}' is not a number: write it like 250000 or 250000.50"]
        elif name == "employees":
            if WHOLE_NUMBER.fullmatch(text.removeprefix("-")):
                values[name] = int(text.replace(",", ""))
            else:
                errors[name] = [f"'{text[:40]}' is not a whole number"]
        else:
            values[name] = text
    return values, errors


# --- the problems, in words ----------------------------------------------------------------------


class _Problems:
    """Collects each field's problems, in the API's words or, with ``words``, in the form's."""

    def __init__(self, errors: dict[str, list[str]], words: Mapping[tuple[str, str], str]) -> None:
        self.errors: dict[str, list[str]] = {name: list(found) for name, found in errors.items()}
        self.words = words

    def add(self, name: str, message: str, kind: str = "") -> None:
        self.errors.setdefault(name, []).append(self.words.get((name, kind), message))

    def validate(self, model: type[BaseModel], values: dict[str, Any]) -> Any:
        """The model's instance, or None with each of its errors noted (none for fields whose
        value could not even be read)."""
        checked = {name: value for name, value in values.items() if name not in self.errors}
        try:
            return model.model_validate(checked)
        except ValidationError as invalid:
            for error in invalid.errors(include_url=False):
                self._note(str(error["loc"][0]) if error["loc"] else "request", error)
            return None

    def _note(self, name: str, error: Mapping[str, Any]) -> None:
        kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
        position = error["loc"][1] if len(error["loc"]) > 1 and isinstance(error["loc"][1], int) else None
        if name in REQUIRED and (kind == "missing" or value is None) and position is None:
            self.add(name, self._required(name), "required")
        elif kind == "extra_forbidden":
            self.add(name, f"unknown field '{name}': a request has {', '.join(FIELDS)}")
        elif kind == "string_pattern_mismatch":
            if unstorable(value):
                self.add(name, f"this field {unstorable(value)}")
            elif name in REQUIRED:
                self.add(name, self._required(name), "required")
            else:
                self.add(name, f"item {position + 1} is empty: leave it out")
        elif position is not None:
            self.add(name, _item_problem(kind, value, ctx, position))
        else:
            self.add(name, _problem(kind, value, ctx, error["msg"]))

    def _required(self, name: str) -> str:
        if name == "prospect_company":
            return "required: the prospect's company name"
        return f"required: use one of {', '.join(catalogue_values(CATALOGUE_FIELDS[name]))}"

    def _given(self, name: str, values: Mapping[str, Any]) -> Any:
        """A value the model found fine (or only missing), to look up in its catalogue."""
        return None if name in self.errors else values.get(name)

    def entry(self, name: str, values: Mapping[str, Any], model: type[Industry] | type[Region]) -> Any:
        """The industry or region a name stands for, matched case-insensitively."""
        given = self._given(name, values)
        if given is None:
            return None
        found = db.session.scalar(select(model).where(model.key == name_key(given)))
        if found is None:
            self._unknown(name, given, CATALOGUE_FIELDS[name])
        return found

    def topics(self, values: Mapping[str, Any]) -> list[Topic]:
        """The topics found, in the order given, each once; the unknown ones are named."""
        names = self._given("topics", values) or []
        if not names:
            return []
        by_key = {topic.key: topic for topic in db.session.scalars(select(Topic))}
        found: list[Topic] = []
        for given in names:
            topic = by_key.get(name_key(given))
            if topic is None:
                self._unknown("topics", given, CATALOGUE_FIELDS["topics"])
            elif topic not in found:
                found.append(topic)
        return found

    def format(self, values: Mapping[str, Any]) -> Format | None:
        """A format by its code, in any case."""
        given = self._given("format", values)
        if given is None:
            return None
        formats = list(db.session.scalars(select(Format).order_by(Format.position, Format.code)))
        wanted = name_key(given)
        found = next((entry for entry in formats if entry.code == wanted), None)
        if found is None:
            self._unknown("format", given, CATALOGUE_FIELDS["format"], [entry.code for entry in formats])
        return found

    def _unknown(self, name: str, given: str, catalogue: str, known: list[str] | None = None) -> None:
        what = {"industries": "industry", "regions": "region", "topics": "topic"}.get(catalogue, "format")
        listed = ", ".join(known if known is not None else catalogue_values(catalogue))
        shown = one_line(given)
        if shown:
            self.add(name, f"unknown {what} '{shown}': use one of {listed}", "unknown")
        elif name in REQUIRED:
            self.add(name, f"required: use one of {listed}", "required")
        else:
            self.add(name, f"empty: leave it out, or use one of {listed}", "unknown")


def _problem(kind: str, value: Any, ctx: Mapping[str, Any], message: str) -> str:
    """One field's problem in words; ``message`` is pydantic's, used for Vouch's own rules."""
    if kind == "string_type":
        return "must be text"
    if kind == "list_type":
        return "must be a list of texts"
    if kind == "int_type":
        return "must be a whole number"
    if kind == "string_too_long":
        return f"at most {ctx['max_length']:,} characters (this is {len(value):,})"
    if kind == "too_long":
        return f"at most {ctx['max_length']} items (this has {ctx['actual_length']})"
    if kind == "greater_than_equal":
        return "must be 0 or more" if ctx["ge"] == 0 else f"must be at least {ctx['ge']:,}"
    if kind == "less_than_equal":
        return f"at most {ctx['le']:,}"
    if kind == "decimal_max_places":
        return f"at most {ctx['decimal_places']} decimals"
    if kind == "model_type":
        return "the request must be an object with the request's fields"
    return message  # Vouch's own rules (PydanticCustomError) already speak in words


def _item_problem(kind: str, value: Any, ctx: Mapping[str, Any], position: int) -> str:
    if kind == "string_type":
        return f"item {position + 1} is not text: the list must hold texts only"
    if kind == "string_too_long":
        return f"'{value[:40]}…' is longer than {ctx['max_length']} characters"
    return f"item {position + 1}: {_problem(kind, value, ctx, 'is not valid')}"
