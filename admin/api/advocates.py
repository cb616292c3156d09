"""``GET /api/v1/advocates``: the pool for coordinators, filtered (DESIGN.md §9).

Filters (``schemas.AdvocateFilters``), all optional and case-insensitive: ``industry`` (of the
advocate's company), ``topic`` (one the advocate is glad to talk about), ``format`` (code or
name of one they accept) and ``available`` — ``true`` (active, consented, not snoozed, at least
one call left this quarter) or ``false``. An unknown industry, topic or format, an unknown
filter, or an ``available`` that is neither ``true`` nor ``false``, is a 422 naming it. One query
for the pool, whatever its size (and one per catalogue filter given, to look its name up).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify, request
from pydantic import ValidationError
from sqlalchemy import case, exists, func, or_, select

from access import STAFF
from admin.api import ApiError, allow, bp
from admin.api.schemas import Advocate as AdvocateAnswer
from admin.api.schemas import AdvocateFilters, AdvocateList
from models import (
    Account,
    Advocate,
    AdvocateStatus,
    AdvocateTopic,
    Company,
    Engagement,
    Format,
    Industry,
    Tier,
    Topic,
    TopicStance,
    db,
)
from models._columns import name_key
from models.advocates import advocate_formats
from models.engagements import COUNTED_STATUSES
from workflows.quota import current_quarter

UNKNOWN_FILTER = "Unknown filter: use industry, topic, format or available."
AVAILABLE = "Use available=true to list only advocates who can be asked now, or available=false."


@bp.get("/advocates")
@allow(STAFF)
def advocates():
    filters = _filters(request.args)
    return jsonify(AdvocateList(advocates=[_advocate_json(row) for row in _pool(**filters)])
                   .model_dump(mode="json"))


# --- parsing the filters ----------------------------------------------------------------------


def _filters(args) -> dict[str, Any]:
    """The query string read by ``AdvocateFilters``, its catalogue names looked up; 422 naming
    every filter at fault."""
    values = {name: value if name == "available" else value.strip() for name, value in args.items()}
    errors: dict[str, list[str]] = {}
    try:
        available = AdvocateFilters.model_validate(values).available
    except ValidationError as invalid:
        available = False
        for problem in invalid.errors(include_url=False):
            name = str(problem["loc"][0])
            errors[name] = [UNKNOWN_FILTER if problem["type"] == "extra_forbidden" else AVAILABLE]
    found: dict[str, Any] = {"industry_id": None, "topic_id": None, "format_code": None}
    for name, lookup in (("industry", _industry), ("topic", _topic), ("format", _format)):
        value = values.get(name)
        if value is None or name in errors:
            continue
        match, known = lookup(value)
        if match is None:
            wrong = f"Unknown {name} “{value}”" if value else f"Empty {name}: leave the filter out"
            errors[name] = [f"{wrong}. Use one of: {', '.join(known)}."]
        found[f"{name}_{'code' if name == 'format' else 'id'}"] = match
    if errors:
        errors = dict(sorted(errors.items()))
        raise ApiError(422, "The filters are invalid: " + "; ".join(
            f"{name}: {messages[0]}" for name, messages in errors.items()), errors)
    found["available_only"] = available
    return found


def _industry(value: str) -> tuple[int | None, list[str]]:
    key = name_key(value)
    rows = db.session.execute(select(Industry.id, Industry.key, Industry.name).order_by(Industry.name)).all()
    return next((i for i, k, _n in rows if k == key), None), [n for _i, _k, n in rows]


def _topic(value: str) -> tuple[int | None, list[str]]:
    key = name_key(value)
    rows = db.session.execute(select(Topic.id, Topic.key, Topic.name).order_by(Topic.name)).all()
    return next((i for i, k, _n in rows if k == key), None), [n for _i, _k, n in rows]


def _format(value: str) -> tuple[str | None, list[str]]:
    key = name_key(value)
    rows = db.session.execute(select(Format.code, Format.name).order_by(Format.position)).all()
    match = next((code for code, name in rows if key in (code.casefold(), name_key(name))), None)
    return match, [code for code, _name in rows]


# --- the query --------------------------------------------------------------------------------


def _pool(*, industry_id: int | None, topic_id: int | None, format_code: str | None,
          available_only: bool, today: date | None = None):
    """One row per advocate (name order): the columns of the JSON and the calls left."""
    today = today or date.today()
    used = (
        select(Engagement.advocate_id, func.count().label("used"))
        .where(Engagement.quarter == current_quarter(), Engagement.status.in_(COUNTED_STATUSES))
        .group_by(Engagement.advocate_id)
        .subquery()
    )
    quota = func.coalesce(Tier.quarterly_quota, 0)
    limit = case(
        (Advocate.quarterly_cap.is_(None), quota),
        (Advocate.quarterly_cap < quota, Advocate.quarterly_cap),
        else_=quota,
    )
    calls_left = limit - func.coalesce(used.c.used, 0)
    query = (
        select(
            Advocate.id,
            Account.name,
            Account.email,
            Company.name.label("company"),
            Industry.name.label("industry"),
            Tier.name.label("tier"),
            Advocate.status,
            calls_left.label("calls_left"),
        )
        .join(Account, Account.id == Advocate.account_id)
        .outerjoin(Company, Company.id == Advocate.company_id)
        .outerjoin(Industry, Industry.id == Company.industry_id)
        .outerjoin(Tier, Tier.id == Advocate.tier_id)
        .outerjoin(used, used.c.advocate_id == Advocate.id)
        .order_by(Account.name, Advocate.id)
    )
    if industry_id is not None:
        query = query.where(Company.industry_id == industry_id)
    if topic_id is not None:
        query = query.where(exists().where(
            AdvocateTopic.advocate_id == Advocate.id,
            AdvocateTopic.topic_id == topic_id,
            AdvocateTopic.stance == TopicStance.GLAD,
        ))
    if format_code is not None:
        query = query.where(exists().where(
            advocate_formats.c.advocate_id == Advocate.id, advocate_formats.c.format_code == format_code
        ))
    if available_only:
        query = query.where(
            Advocate.status == AdvocateStatus.ACTIVE,
            Advocate.consent_at.is_not(None),
            or_(Advocate.snoozed_until.is_(None), Advocate.snoozed_until < today),
            calls_left > 0,
        )
    return db.session.execute(query).all()


def _advocate_json(row) -> AdvocateAnswer:
    return AdvocateAnswer(
        id=row.id,
        name=row.name,
        email=row.email,
        company=row.company,
        industry=row.industry,
        tier=row.tier,
        status=row.status,
        calls_left_this_quarter=max(0, int(row.calls_left)),
    )
