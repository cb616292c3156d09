"""The API's description: an OpenAPI 3.1 document, served at ``GET /api/v1/openapi.json``.

Written by hand as a Python dict, and kept truthful by ``tests/api/test_openapi.py``: the
document is validated, its paths and roles (``x-roles``) are compared with the routes, and real
responses of every endpoint — successes and errors — are validated against its schemas.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from admin.api import bp, public
from admin.api.requests import MATCH_LIMIT_DEFAULT, MATCH_LIMIT_MAX
from workflows.tokens import TOKEN_ROLES as TOKEN_ROLE_NAMES

TOKEN_ROLES = {role.value for role in TOKEN_ROLE_NAMES}

API_VERSION = "1.0.0"


# --- building blocks ----------------------------------------------------------------------------


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema_type: str, **extra: Any) -> dict[str, Any]:
    return {"type": [schema_type, "null"], **extra}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def error(description: str) -> dict[str, Any]:
    return {"description": description, "content": json_content(ref("Error"))}


def strings(description: str, max_length: int) -> dict[str, Any]:
    return {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": max_length},
            "description": description}


UNAUTHORIZED = {"$ref": "#/components/responses/Unauthorized"}
FORBIDDEN = {"$ref": "#/components/responses/Forbidden"}
SERVER_ERROR = {"$ref": "#/components/responses/ServerError"}
REQUEST_ID = {
    "name": "id", "in": "path", "required": True, "description": "The request's id.",
    "schema": {"type": "integer", "minimum": 1},
}


def operation(summary: str, description: str, roles: list[str] | None, responses: dict[str, Any],
              **extra: Any) -> dict[str, Any]:
    """An operation, with the answers every operation for token holders can give: 401, 5XX, and
    403 where some token holders' roles are refused (advocates never hold a token)."""
    if roles is None:
        return {"summary": summary, "description": description, "security": [],
                "responses": responses, **extra}
    common = {"401": UNAUTHORIZED, "5XX": SERVER_ERROR}
    if set(roles) != TOKEN_ROLES:
        common["403"] = FORBIDDEN
    return {
        "summary": summary,
        "description": f"{description}\n\nFor: {', '.join(roles)}.",
        "x-roles": roles,
        "responses": {**responses, **common},
        **extra,
    }


# --- the schemas ------------------------------------------------------------------------------

DATE_TIME = nullable("string", format="date-time")

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error of the API. `fields` maps each invalid input to what is wrong "
                       "with it (empty when the error is not about one field).",
        "required": ["error", "fields"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "minLength": 1},
            "fields": {"type": "object",
                       "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        },
    },
    "RequestInput": {
        "type": "object",
        "description": "A reference request as sales submit it. Catalogue names (industry, region, "
                       "topics, format) are matched case-insensitively; an unknown one is named in "
                       "`fields`. Unknown keys are refused. `null` or an empty string counts as not "
                       "given.",
        "required": ["prospect_company", "format"],
        "additionalProperties": False,
        "properties": {
            "opportunity_id": {"type": ["string", "integer", "null"], "maxLength": 64,
                               "description": "The CRM's opportunity id."},
            "opportunity_name": nullable("string", maxLength=200),
            "amount": {"type": ["number", "string", "null"], "minimum": 0, "maximum": 999999999999.99,
                       "description": "The deal's amount, at most 2 decimals; also as text, "
                                      "e.g. \"1,250,000.50\"."},
            "prospect_company": {"type": "string", "minLength": 1, "maxLength": 200},
            "industry": nullable("string", description="An industry of the catalogue, e.g. Healthcare."),
            "employees": {"type": ["integer", "string", "null"], "minimum": 1, "maximum": 10_000_000,
                          "description": "The prospect's head count."},
            "region": nullable("string", description="A region of the catalogue, e.g. Europe."),
            "contact_name": nullable("string", maxLength=120),
            "contact_email": nullable("string", format="email", maxLength=254),
            "use_cases": strings("Free tags (a string separated by ';' is accepted too).", 120),
            "topics": strings("Topics of the catalogue, e.g. Security.", 120),
            "competitors": strings("Competitors in the deal: free tags.", 120),
            "format": {"type": "string",
                       "description": "call, video, written or site_visit (the format's name works too)."},
            "needed_by": nullable("string", format="date", description="YYYY-MM-DD, today or later."),
            "questions": strings("For a written reference (at least one then).", 500),
            "notes": nullable("string", maxLength=5000),
        },
    },
    "OutcomeInput": {
        "type": "object",
        "required": ["outcome"],
        "additionalProperties": False,
        "properties": {"outcome": {"enum": ["won", "lost"]}},
    },
    "AskInput": {
        "type": "object",
        "required": ["advocate_id"],
        "additionalProperties": False,
        "properties": {"advocate_id": {"type": "integer", "minimum": 1}},
    },
    "Person": {
        "type": "object",
        "required": ["id", "name", "email"],
        "additionalProperties": False,
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"}},
    },
    "Reason": {
        "type": "object",
        "description": "One part of a score: what matched, and the points it gave.",
        "required": ["label", "points"],
        "additionalProperties": False,
        "properties": {"label": {"type": "string"}, "points": {"type": "integer"}},
    },
    "TimelineEvent": {
        "type": "object",
        "required": ["at", "kind", "actor", "text", "detail"],
        "additionalProperties": False,
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "kind": {"type": "string", "description": "submitted, edited, asked, accepted, declined, "
                                                       "expired, withdrawn, needs_candidate, "
                                                       "engagement_cancelled, reopened, outcome, "
                                                       "cancelled, …"},
            "actor": nullable("string", description="Who did it (an advocate's name for what they "
                                                    "did); \"Vouch\" when Vouch did it by itself."),
            "text": {"type": "string", "description": "What happened, in words."},
            "detail": {"type": "object", "description": "Ids and codes. Sales do not get the match "
                                                        "score or why an advocate declined."},
        },
    },
    "Ask": {
        "type": "object",
        "required": ["id", "request_id", "advocate_id", "name", "status", "score", "reasons", "asked_at",
                     "expires_at", "responded_at", "decline_reason", "decline_reason_text", "decline_note"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "request_id": {"type": "integer"},
            "advocate_id": {"type": "integer"},
            "name": {"type": "string", "description": "The advocate's name."},
            "status": {"enum": ["pending", "accepted", "declined", "expired", "withdrawn"]},
            "score": nullable("integer", description="The match score when the advocate was asked: "
                                                     "null for sales."),
            "reasons": {"type": "array", "items": ref("Reason"),
                        "description": "The score's parts when the advocate was asked (empty for sales)."},
            "asked_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
            "responded_at": DATE_TIME,
            "decline_reason": {"enum": ["busy", "topic", "company", "other", "left_program", None],
                               "description": "Why the advocate declined: null for sales."},
            "decline_reason_text": nullable("string", description="The same in words: null for sales."),
            "decline_note": nullable("string", description="The advocate's note to the coordinator: "
                                                           "null for sales."),
        },
    },
    "Engagement": {
        "type": "object",
        "required": ["id", "advocate_id", "format", "status", "starts_at", "ends_at", "quarter",
                     "created_at", "booked_at", "completed_at", "cancelled_at"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "advocate_id": nullable("integer"),
            "format": {"type": "string"},
            "status": {"enum": ["awaiting_booking", "booked", "completed", "no_show", "cancelled"]},
            "starts_at": DATE_TIME,
            "ends_at": DATE_TIME,
            "quarter": {"type": "string", "pattern": "^[0-9]{4}Q[1-4]$"},
            "created_at": {"type": "string", "format": "date-time"},
            "booked_at": DATE_TIME,
            "completed_at": DATE_TIME,
            "cancelled_at": DATE_TIME,
        },
    },
    "Request": {
        "type": "object",
        "description": "A reference request with its state, timeline, asks and engagement.",
        "required": [
            "id", "status", "outcome", "opportunity_id", "opportunity_name", "amount", "prospect_company",
            "industry", "employees", "region", "contact_name", "contact_email", "use_cases", "topics",
            "competitors", "format", "needed_by", "questions", "notes", "requested_by", "created_at",
            "updated_at", "first_asked_at", "matched_at", "scheduled_at", "completed_at", "cancelled_at",
            "outcome_at", "timeline", "asks", "engagement",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "status": {"enum": ["new", "asking", "matched", "scheduled", "completed", "cancelled"]},
            "outcome": {"enum": ["open", "won", "lost"]},
            "opportunity_id": {"type": "string"},
            "opportunity_name": {"type": "string"},
            "amount": nullable("number"),
            "prospect_company": {"type": "string"},
            "industry": nullable("string"),
            "employees": nullable("integer"),
            "region": nullable("string"),
            "contact_name": {"type": "string"},
            "contact_email": {"type": "string"},
            "use_cases": {"type": "array", "items": {"type": "string"}},
            "topics": {"type": "array", "items": {"type": "string"}},
            "competitors": {"type": "array", "items": {"type": "string"}},
            "format": {"type": "string"},
            "needed_by": nullable("string", format="date"),
            "questions": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": "string"},
            "requested_by": {"oneOf": [ref("Person"), {"type": "null"}]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "first_asked_at": DATE_TIME,
            "matched_at": DATE_TIME,
            "scheduled_at": DATE_TIME,
            "completed_at": DATE_TIME,
            "cancelled_at": DATE_TIME,
            "outcome_at": DATE_TIME,
            "timeline": {"type": "array", "items": ref("TimelineEvent"), "description": "Oldest first."},
            "asks": {"type": "array", "items": ref("Ask"), "description": "Oldest first."},
            "engagement": {"oneOf": [ref("Engagement"), {"type": "null"}]},
        },
    },
    "Candidate": {
        "type": "object",
        "required": ["advocate_id", "name", "company", "score", "reasons"],
        "additionalProperties": False,
        "properties": {
            "advocate_id": {"type": "integer"},
            "name": {"type": "string"},
            "company": {"type": "string"},
            "score": {"type": "integer", "minimum": 0, "maximum": 100},
            "reasons": {"type": "array", "items": ref("Reason"),
                        "description": "Their points add up to the score."},
        },
    },
    "Exclusion": {
        "type": "object",
        "required": ["advocate_id", "name", "rule", "text", "detail"],
        "additionalProperties": False,
        "properties": {
            "advocate_id": {"type": "integer"},
            "name": {"type": "string"},
            "rule": {"enum": ["not_active", "no_consent", "snoozed", "quota_reached", "too_soon",
                              "format_not_accepted", "own_company", "refused_company", "already_asked",
                              "avoided_topic", "no_free_slot"],
                     "description": "The first rule that left the advocate out."},
            "text": {"type": "string", "description": "The rule, as the coordinator reads it."},
            "detail": {"type": "string",
                       "description": "The rule's specifics for this advocate, as the coordinator reads "
                                      "them: the topics they would rather not discuss (spelled as in the "
                                      "request), snoozed until which date, calls used of the quarter's "
                                      "limit (“4 of 4 calls this quarter”), the last call and the days "
                                      "asked between calls, the first free slot after the needed-by date "
                                      "or that there is none."},
        },
    },
    "Matches": {
        "type": "object",
        "required": ["candidates", "excluded", "candidates_total", "excluded_total"],
        "additionalProperties": False,
        "properties": {
            "candidates": {"type": "array", "items": ref("Candidate"),
                           "description": "Best first (ties broken by advocate id); at most `limit`."},
            "excluded": {"type": "array", "items": ref("Exclusion"),
                         "description": "By advocate id; at most `limit`."},
            "candidates_total": {"type": "integer", "minimum": 0},
            "excluded_total": {"type": "integer", "minimum": 0},
        },
    },
    "Advocate": {
        "type": "object",
        "required": ["id", "name", "email", "company", "industry", "tier", "status",
                     "calls_left_this_quarter"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "email": {"type": "string"},
            "company": nullable("string"),
            "industry": nullable("string"),
            "tier": nullable("string"),
            "status": {"enum": ["candidate", "invited", "active", "paused", "retired"]},
            "calls_left_this_quarter": {"type": "integer", "minimum": 0,
                                        "description": "min(tier quota, personal cap) minus the calls "
                                                       "counted in this calendar quarter (UTC)."},
        },
    },
    "AdvocateList": {
        "type": "object",
        "required": ["advocates"],
        "additionalProperties": False,
        "properties": {"advocates": {"type": "array", "items": ref("Advocate"),
                                     "description": "By name, then id."}},
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["ok", "error"]}, "error": {"type": "string"}},
    },
}


# --- the paths --------------------------------------------------------------------------------

REQUEST_RESPONSE = {"content": json_content(ref("Request"))}

PATHS: dict[str, Any] = {
    "/api/v1/requests": {
        "post": operation(
            "Submit a reference request",
            "Sales ask for a reference. The request starts as `new`; the coordinator matches and asks.",
            ["sales", "coordinator", "admin"],
            {
                "201": {"description": "Submitted: the request as `GET /api/v1/requests/{id}` shows it.",
                        "headers": {"Location": {"schema": {"type": "string"},
                                                 "description": "The request's URL."}},
                        **REQUEST_RESPONSE},
                "400": error("The body is not valid JSON, or not a JSON object."),
                "415": error("The body is not sent as `application/json`."),
                "422": error("Invalid fields, each named in `fields` (an unknown industry, region, "
                             "topic or format is named there)."),
            },
            operationId="createRequest",
            requestBody={"required": True, "content": json_content(ref("RequestInput"))},
        ),
    },
    "/api/v1/requests/{id}": {
        "parameters": [REQUEST_ID],
        "get": operation(
            "Read a request",
            "The request, its status, its timeline, its asks and its engagement. Sales read only "
            "their own requests: another seller's answers 404, like one that does not exist.",
            ["sales", "coordinator", "admin"],
            {
                "200": {"description": "The request.", **REQUEST_RESPONSE},
                "404": error("No such request among those you may see."),
            },
            operationId="getRequest",
        ),
        "patch": operation(
            "Record the deal's outcome",
            "Won or lost. Recording the same outcome again changes nothing; a different one once "
            "recorded is refused (409). Sales only for their own requests.",
            ["sales", "coordinator", "admin"],
            {
                "200": {"description": "The request, outcome recorded.", **REQUEST_RESPONSE},
                "400": error("The body is not valid JSON, or not a JSON object."),
                "404": error("No such request among those you may see."),
                "409": error("Another outcome was already recorded."),
                "415": error("The body is not sent as `application/json`."),
                "422": error("`outcome` is missing or not won/lost, or other fields were sent."),
            },
            operationId="recordOutcome",
            requestBody={"required": True, "content": json_content(ref("OutcomeInput"))},
        ),
    },
    "/api/v1/requests/{id}/matches": {
        "parameters": [REQUEST_ID],
        "get": operation(
            "Rank the advocates for a request",
            "Every eligible advocate, best first, with the reasons that make up the score, and the "
            "advocates left out with the one rule that excluded each and its detail (which topic, "
            "snoozed until when, calls used, the first free slot after the needed-by date). "
            "Not for sales: who is in the "
            "pool, how they rank and why others are left out is the coordinator's to share.",
            ["coordinator", "admin"],
            {
                "200": {"description": "The ranking.", "content": json_content(ref("Matches"))},
                "404": error("No such request."),
                "422": error(f"`limit` is not a whole number from 1 to {MATCH_LIMIT_MAX}."),
            },
            operationId="getMatches",
            parameters=[{
                "name": "limit", "in": "query", "required": False,
                "description": "At most this many candidates, and this many exclusions.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MATCH_LIMIT_MAX,
                           "default": MATCH_LIMIT_DEFAULT},
            }],
        ),
    },
    "/api/v1/requests/{id}/asks": {
        "parameters": [REQUEST_ID],
        "post": operation(
            "Ask an advocate",
            "Ask an eligible advocate to give the reference: they get an e-mail and answer in the "
            "portal within 48 hours. The ask keeps the score and reasons of this moment.",
            ["coordinator", "admin"],
            {
                "201": {"description": "Asked.", "content": json_content(ref("Ask")),
                        "headers": {"Location": {"schema": {"type": "string"},
                                                 "description": "The request's URL."}}},
                "400": error("The body is not valid JSON, or not a JSON object."),
                "404": error("No such request."),
                "409": error("The request no longer needs an advocate (matched, scheduled, completed "
                             "or cancelled)."),
                "415": error("The body is not sent as `application/json`."),
                "422": error("No such advocate, already asked, or not eligible now (the rule is "
                             "named); or `advocate_id` is missing or not a whole number."),
            },
            operationId="createAsk",
            requestBody={"required": True, "content": json_content(ref("AskInput"))},
        ),
    },
    "/api/v1/advocates": {
        "get": operation(
            "List the advocates",
            "The pool, filtered. Filters are optional and case-insensitive; an unknown industry, "
            "topic or format, or an unknown filter, is a 422 naming it.",
            ["coordinator", "admin"],
            {
                "200": {"description": "The advocates.", "content": json_content(ref("AdvocateList"))},
                "422": error("An unknown industry, topic, format or filter, or `available` is not "
                             "true/false."),
            },
            operationId="listAdvocates",
            parameters=[
                {"name": "industry", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "The industry of the advocate's company."},
                {"name": "topic", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "A topic the advocate is glad to talk about."},
                {"name": "format", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "A format the advocate accepts (code or name)."},
                {"name": "available", "in": "query", "required": False,
                 "schema": {"enum": ["true", "false"], "default": "false"},
                 "description": "true: only advocates who can be asked now — active, consented, not "
                                "snoozed, at least one call left this quarter."},
            ],
        ),
    },
    "/api/v1/openapi.json": {
        "get": operation(
            "This document", "The OpenAPI description of the API. No token needed.", None,
            {"200": {"description": "This document.", "content": json_content({"type": "object"})}},
            operationId="getOpenApi",
        ),
    },
    "/healthz": {
        "get": operation(
            "Health check", "Whether the application and its database answer. No token needed.", None,
            {
                "200": {"description": "All is well.", "content": json_content(ref("Health"))},
                "503": {"description": "The database does not answer.",
                        "content": json_content(ref("Health"))},
            },
            operationId="getHealth",
        ),
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Vouch API",
        "version": API_VERSION,
        "description": (
            "The JSON API of Vouch, the customer reference portal, for CRMs and scripts.\n\n"
            "**Authentication**: every endpoint except this document and `/healthz` needs a personal "
            "API token, sent as `Authorization: Bearer TOKEN` (a token in the query string is "
            "ignored). Sales, coordinators and admins make theirs on the *API tokens* page; an "
            "admin with `flask tokens create EMAIL`. A token acts for its owner, with their role; "
            "it stops working when revoked or when the account is deactivated.\n\n"
            "**Errors** are always JSON: `{\"error\": \"…\", \"fields\": {\"name\": [\"…\"]}}`, with "
            "400 (malformed JSON), 401 (no valid token), 403 (your role may not use the endpoint), "
            "404, 405 (method not allowed on the path, with an `Allow` header), 409 (illegal state "
            "change), 415 (body not JSON), 422 (invalid fields)."
        ),
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerToken": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearerToken": {"type": "http", "scheme": "bearer",
                            "description": "A personal API token (not a JWT)."},
        },
        "responses": {
            "Unauthorized": {
                "description": "No token, or one that is unknown, revoked or of a deactivated account.",
                "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                "content": json_content(ref("Error")),
            },
            "Forbidden": error("Your account's role may not use this endpoint."),
            "ServerError": error("Something went wrong on our side; nothing was changed."),
        },
    },
}


@bp.get("/openapi.json")
@public
def openapi():
    return jsonify(DOCUMENT)
