"""What the JSON API answers, and the small bodies and queries it reads besides a request, as
pydantic models. The views build their answers with these models and read their input with
them, and ``openapi.json`` shows their JSON Schema: an answer cannot stray from its description.
The request's own body is ``workflows.request_input.RequestBody``.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from matching.engine import RULES
from models import AdvocateStatus, AskStatus, EngagementStatus, RequestOutcome, RequestStatus
from models.types import ID_MAX
from workflows.request_input import RequestBody, catalogue_values
from workflows.request_view import REASON_TEXT

MATCH_LIMIT_DEFAULT = 20
MATCH_LIMIT_MAX = 200


class Answer(BaseModel):
    """An object of the API's answers: exactly these keys (``additionalProperties: false``)."""

    model_config = ConfigDict(extra="forbid")


class Error(Answer):
    """Every error of the API. `fields` maps each invalid input to what is wrong with it (empty
    when the error is not about one field)."""

    error: str = Field(min_length=1)
    fields: dict[str, list[str]]


class Person(Answer):
    id: int
    name: str
    email: str


class Reason(Answer):
    """One part of a score: what matched, and the points it gave."""

    label: str
    points: int


class TimelineEvent(Answer):
    at: datetime
    kind: str = Field(description="submitted, edited, asked, accepted, declined, expired, withdrawn, "
                                  "needs_candidate, engagement_cancelled, reopened, outcome, cancelled, …")
    actor: str | None = Field(description="Who did it (an advocate's name for what they did); \"Vouch\" "
                                          "when Vouch did it by itself.")
    text: str = Field(description="What happened, in words.")
    detail: dict[str, Any] = Field(description="Ids and codes. Sales do not get the match score or why "
                                               "an advocate declined.")


class Ask(Answer):
    id: int
    request_id: int
    advocate_id: int
    name: str = Field(description="The advocate's name.")
    status: AskStatus
    score: int | None = Field(description="The match score when the advocate was asked: null for sales.")
    reasons: list[Reason] = Field(description="The score's parts when the advocate was asked (empty for "
                                              "sales).")
    asked_at: datetime
    expires_at: datetime
    responded_at: datetime | None
    decline_reason: Literal[tuple(REASON_TEXT)] | None = Field(
        description="Why the advocate declined: null for sales.")
    decline_reason_text: str | None = Field(description="The same in words: null for sales.")
    decline_note: str | None = Field(description="The advocate's note to the coordinator: null for sales.")


class Engagement(Answer):
    id: int
    advocate_id: int | None
    format: str
    status: EngagementStatus
    starts_at: datetime | None
    ends_at: datetime | None
    quarter: str = Field(pattern="^[0-9]{4}Q[1-4]$")
    created_at: datetime
    booked_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None


class Request(Answer):
    """A reference request with its state, timeline, asks and engagement. The contract's fields
    (as ``RequestBody`` takes them) come back checked and tidied: catalogue names as the
    catalogue writes them, tags and topics in alphabetical order."""

    id: int
    status: RequestStatus
    outcome: RequestOutcome
    opportunity_id: str
    opportunity_name: str
    amount: float | None
    prospect_company: str
    industry: str | None = Field(description="Null when the request was saved without one (the form "
                                             "and the API require it).")
    employees: int | None
    region: str | None
    contact_name: str
    contact_email: str
    use_cases: list[str]
    topics: list[str]
    competitors: list[str]
    format: str
    needed_by: date | None
    questions: list[str]
    notes: str
    requested_by: Person | None
    created_at: datetime
    updated_at: datetime
    first_asked_at: datetime | None
    matched_at: datetime | None
    scheduled_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    outcome_at: datetime | None
    timeline: list[TimelineEvent] = Field(description="Oldest first.")
    asks: list[Ask] = Field(description="Oldest first.")
    engagement: Engagement | None


class Candidate(Answer):
    advocate_id: int
    name: str
    company: str
    score: int = Field(ge=0, le=100)
    reasons: list[Reason] = Field(description="Their points add up to the score.")


class Exclusion(Answer):
    advocate_id: int
    name: str
    rule: Literal[tuple(code for code, _text in RULES)] = Field(
        description="The first rule that left the advocate out.")
    text: str = Field(description="The rule, as the coordinator reads it.")
    detail: str = Field(description="The rule's specifics for this advocate, as the coordinator reads them: "
                                    "the topics they would rather not discuss (spelled as in the request), "
                                    "snoozed until which date, calls used of the quarter's limit (“4 of 4 "
                                    "calls this quarter”), the last call and the days asked between calls, "
                                    "the first free slot after the needed-by date or that there is none.")


class Matches(Answer):
    candidates: list[Candidate] = Field(description="Best first (ties broken by advocate id); at most "
                                                    "`limit`.")
    excluded: list[Exclusion] = Field(description="By advocate id; at most `limit`.")
    candidates_total: int = Field(ge=0)
    excluded_total: int = Field(ge=0)


class Advocate(Answer):
    id: int
    name: str
    email: str
    company: str | None
    industry: str | None
    tier: str | None
    status: AdvocateStatus
    calls_left_this_quarter: int = Field(ge=0, description="min(tier quota, personal cap) minus the calls "
                                                           "counted in this calendar quarter (UTC).")


class AdvocateList(Answer):
    advocates: list[Advocate] = Field(description="By name, then id.")


class Health(BaseModel):
    status: Literal["ok", "error"]
    error: str | None = None


# --- what the API reads besides a request ---------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class AskBody(Body):
    advocate_id: int = Field(ge=1, le=ID_MAX, description="The advocate to ask.")


class OutcomeBody(Body):
    outcome: Literal["won", "lost"]


def _wire_boolean(value: Any) -> Any:
    """A query string's ``true`` or ``false``; anything else is no boolean."""
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


def _catalogue_filter(catalogue: str) -> Any:
    return Annotated[str, Field(json_schema_extra={"x-catalogue": catalogue})]


class AdvocateFilters(Body):
    """The filters of ``GET /api/v1/advocates``, all optional; catalogue names are matched
    case-insensitively."""

    industry: _catalogue_filter("industries") | None = Field(
        None, description="The industry of the advocate's company.")
    topic: _catalogue_filter("topics") | None = Field(
        None, description="A topic the advocate is glad to talk about.")
    format: _catalogue_filter("formats") | None = Field(
        None, description="A format the advocate accepts (its code; its name works too).")
    available: Annotated[bool, BeforeValidator(_wire_boolean), WithJsonSchema({"type": "boolean"})] = Field(
        False, description="true: only advocates who can be asked now — active, consented, not snoozed, at "
                           "least one call left this quarter.")


MatchLimit = Annotated[int, Field(ge=1, le=MATCH_LIMIT_MAX)]

# Every model the document shows, in its order: (model, "validation" for what the API reads,
# "serialization" for what it answers).
MODELS: tuple[tuple[type[BaseModel], Literal["validation", "serialization"]], ...] = (
    (Error, "serialization"),
    (RequestBody, "validation"),
    (OutcomeBody, "validation"),
    (AskBody, "validation"),
    (Request, "serialization"),
    (Matches, "serialization"),
    (AdvocateList, "serialization"),
    (Health, "serialization"),
)


def with_catalogues(schema: Any) -> Any:
    """``schema`` with each ``x-catalogue`` field's ``enum`` listing what its catalogue holds now."""
    values: dict[str, list[str]] = {}
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            catalogue = node.get("x-catalogue")
            if catalogue is not None:
                if catalogue not in values:
                    values[catalogue] = catalogue_values(catalogue)
                node["enum"] = values[catalogue]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return schema

