"""The JSON API for CRMs (DESIGN.md §9), under ``/api/v1``.

- Authentication: ``Authorization: Bearer TOKEN`` with a personal token (``workflows.tokens``),
  and nothing else: no session cookie, no token in the query string. So the API needs no CSRF
  token (a browser never sends the header by itself) and is exempt from the CSRF check.
- Access: deny by default. Each view declares its roles with ``access.allow`` (or ``public``);
  a view without a declaration is refused to every token. A refusal (403) is audited.
- Errors: always JSON, ``{"error": "…", "fields": {"name": ["…"]}}`` with a 4xx code — 400
  malformed JSON, 401 no valid token, 403 wrong role, 404, 405, 409 illegal state change,
  415 not JSON, 422 invalid fields — also for URLs under ``/api/`` that match no route.
  Never an HTML page. A workflow's refusal (``workflows.errors``) answers with its own status,
  message and fields, in one handler.

``init_app(app)`` registers the blueprint; ``app.py`` calls it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from access import allow, public
from models import Account, Role, db
from models.types import ID_MAX
from workflows import tokens
from workflows.audit import add_event, record_access_denied
from workflows.errors import WorkflowError
from workflows.text import json_depth_exceeded, unstorable_json
from workflows.transaction import transaction

__all__ = ["HEALTH_PATH", "ID_MAX", "PREFIX", "ApiError", "allow", "bp", "current_account", "init_app",
           "json_body", "public", "read_body"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Every path under this prefix answers in JSON, even one that matches no route.
PREFIX = "/api/"
# The health check (served by app.py) is in the API's document: its errors are JSON too.
HEALTH_PATH = "/healthz"
AUTH_CHALLENGE = 'Bearer realm="Vouch API"'

ERROR_TEXT = {
    400: "The request is malformed.",
    401: "Send a valid API token as 'Authorization: Bearer TOKEN'.",
    403: "Your account may not use this endpoint.",
    404: "There is nothing here.",
    405: "This method is not allowed here.",
    409: "This change is not possible in the current state.",
    413: "The body is too large.",
    415: "Send the body as JSON, with 'Content-Type: application/json'.",
    422: "Some fields are invalid.",
    429: "Too many requests; wait a little, then try again.",
    500: "Something went wrong on our side. Nothing was changed; try again in a moment.",
}


class ApiError(Exception):
    """Raised by a view (or a helper) to answer with a JSON error."""

    def __init__(self, status: int, message: str | None = None, fields: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message or ERROR_TEXT.get(status, "Error"))
        self.status = status
        self.message = message or ERROR_TEXT.get(status, "Error")
        self.fields = fields or {}
        self.headers = headers or {}


def error_response(status: int, message: str, fields: dict[str, list[str]] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    response = jsonify(error=message, fields=fields or {})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def current_account() -> Account:
    """The account the bearer token acts for (set by the guard before every non-public view)."""
    return g.api_account


# --- authentication and access ----------------------------------------------------------------


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header; a token anywhere else is ignored."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


@bp.before_request
def _guard():
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return None  # the 404 follows
    allowed = getattr(view, "allowed_roles", frozenset())  # deny by default
    if allowed is None:
        return None  # declared public
    secret = bearer_token()
    account = tokens.authenticate(secret)
    if account is None:
        if secret is not None:
            # A wrong, revoked or disabled token: audited (never the token itself).
            db.session.rollback()
            with transaction():
                add_event("api.token_refused", path=request.path[:300])
        return error_response(
            401,
            ERROR_TEXT[401] if secret is None else "This API token is not valid: it is unknown, "
            "revoked, or its account can no longer use the API.",
            headers={"WWW-Authenticate": AUTH_CHALLENGE if secret is None
                     else f'{AUTH_CHALLENGE}, error="invalid_token"'},
        )
    g.api_account = account
    if account.role not in allowed:
        record_access_denied(account, request.path)
        roles = ", ".join(sorted(r.value for r in allowed)) or "nobody"
        return error_response(403, f"A {account.role.value} account may not use this endpoint "
                                   f"(it is for: {roles}).")
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# --- errors -----------------------------------------------------------------------------------


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    return error_response(error.status, error.message, error.fields, error.headers)


@bp.errorhandler(WorkflowError)
def _refused(refusal: WorkflowError):
    return error_response(refusal.status, refusal.message, refusal.errors)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return _json_http_error(error)


@bp.errorhandler(Exception)
def _unexpected_error(error: Exception):
    current_app.logger.exception("unhandled error in the API")
    db.session.rollback()
    return error_response(500, ERROR_TEXT[500])


def _json_http_error(error: HTTPException) -> Response:
    code = error.code or 500
    headers = {name: value for name, value in error.get_headers() if name.lower() == "allow"}
    return error_response(code, ERROR_TEXT.get(code, error.description or "Error"), headers=headers)


def _routing_errors():
    """A URL under /api/ (or the health check's) that matches no route (404) or not with this
    method (405): JSON too. Routing fails before any blueprint is chosen, so the blueprint's
    handlers never see it."""
    failure = request.routing_exception
    ours = request.path.startswith(PREFIX) or request.path == HEALTH_PATH
    if failure is not None and ours and isinstance(failure, HTTPException) and failure.code in (404, 405):
        return _json_http_error(failure)
    return None


# --- reading the body -------------------------------------------------------------------------


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def json_body() -> dict[str, Any]:
    """The request's JSON object: 415 when it is not sent as JSON, 400 when it does not parse,
    nests deeper than a request ever does, or is not an object; 422 naming the fields that hold
    text no database can store (NUL, lone surrogates)."""
    if not request.is_json:
        raise ApiError(415)
    try:
        data = json.loads(request.get_data(cache=True), parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError(400, f"The body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise ApiError(400, "The body is not valid JSON: it nests too deeply.") from None
    if json_depth_exceeded(data):
        raise ApiError(400, "The body is not valid JSON for this API: it nests too deeply.")
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object, like {\"name\": \"value\"}.")
    found = unstorable_json(data)
    if found:
        names = ", ".join(found)
        raise ApiError(422, f"Some fields hold characters that cannot be stored ({names}).", found)
    return data


Model = TypeVar("Model", bound=BaseModel)


def read_body(model: type[Model], data: Mapping[str, Any], messages: Mapping[str, str], *,
              unknown: str) -> Model:
    """``data`` checked by ``model`` (a small body: each field has one message, whatever is wrong
    with it; ``unknown`` for keys the model does not know); else 422 naming the fields."""
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        errors: dict[str, list[str]] = {}
        for problem in invalid.errors(include_url=False):
            name = str(problem["loc"][0]) if problem["loc"] else "body"
            errors.setdefault(name, [unknown if problem["type"] == "extra_forbidden" else messages[name]])
        summary = "; ".join(f"{name}: {found[0]}" for name, found in sorted(errors.items()))
        raise ApiError(422, f"Some fields are invalid: {summary}", dict(sorted(errors.items()))) from None


# --- registration -----------------------------------------------------------------------------


def init_app(app) -> None:
    from extensions import csrf

    csrf.exempt(bp)  # bearer tokens only: see the module's docstring
    app.register_blueprint(bp)
    app.before_request(_routing_errors)


# The roles the endpoints are for, named once.
SELLERS_AND_STAFF = frozenset({Role.SALES, Role.COORDINATOR, Role.ADMIN})

from admin.api import advocates, openapi, requests  # noqa: E402,F401  (registers the views on bp)
