"""``GET /api/v1/advocates``: the pool for coordinators, filtered (DESIGN.md §9).

Filters, all optional and case-insensitive: ``industry`` (of the advocate's company), ``topic``
(one the advocate is glad to talk about), ``format`` (code or name of one they accept) and
``available=true`` (active, consented, not snoozed, at least one call left this quarter).
An unknown industry, topic or format is a 422 naming it. One query for the pool, whatever its
size (and one per catalogue filter given, to look its name up).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify, request
from sqlalchemy import case, exists, func, or_, select

from access import STAFF
from admin.api import ApiError, allow, bp
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

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


@bp.get("/advocates")
@allow(STAFF)
def advocates():
    filters = _filters(request.args)
    return jsonify(advocates=[_advocate_json(row) for row in _pool(**filters)])


# --- parsing the filters ----------------------------------------------------------------------


def _filters(args) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(args) - {"industry", "topic", "format", "available"})
    if unknown:
        message = "Unknown filter: use industry, topic, format or available."
        errors.update({name: [message] for name in unknown})
    found: dict[str, Any] = {"industry_id": None, "topic_id": None, "format_code": None}
    for name, lookup in (("industry", _industry), ("topic", _topic), ("format", _format)):
        value = (args.get(name) or "").strip()
        if not value:
            continue
        match, known = lookup(value)
        if match is None:
            errors[name] = [f"Unknown {name} “{value}”. Use one of: {', '.join(known)}."]
        found[f"{name}_{'code' if name == 'format' else 'id'}"] = match
    available = (args.get("available") or "").strip().lower()
    if available not in TRUE + FALSE:
        errors["available"] = ["Use available=true to list only advocates who can be asked now."]
    if errors:
        raise ApiError(422, "The filters are invalid: " + "; ".join(
            f"{name}: {messages[0]}" for name, messages in errors.items()), errors)
    found["available_only"] = available in TRUE
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


def _advocate_json(row) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "email": row.email,
        "company": row.company,
        "industry": row.industry,
        "tier": row.tier,
        "status": row.status.value,
        "calls_left_this_quarter": max(0, int(row.calls_left)),
    }
