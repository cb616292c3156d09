"""An advocate's asks as they read them: the ones waiting for an answer, the answered ones a page
at a time, and one ask with its prospect's context; always only their own. The answers
themselves are ``workflows.requests``' changes."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Integer, bindparam, or_, select
from sqlalchemy.orm import joinedload

from models import Ask, AskStatus, Engagement, ReferenceRequest, db
from workflows.requests import AskNotFound


def _with_context(query):
    """The prospect context an ask page or list shows, in the ask's own query; the names of the
    request's tags come from ``workflows.request_tags``."""
    return query.options(
        joinedload(Ask.request).options(
            joinedload(ReferenceRequest.industry),
            joinedload(ReferenceRequest.region),
            joinedload(ReferenceRequest.format),
        )
    )


# The inbox's queries are built once, with bound parameters: a query with loader options costs
# more to build and to find in SQLAlchemy's cache than it costs to run.
@cache
def _pending_query():
    return _with_context(
        select(Ask)
        .where(Ask.advocate_id == bindparam("advocate_id"), Ask.status == AskStatus.PENDING,
               Ask.expires_at > bindparam("now"))
        .order_by(Ask.expires_at, Ask.id)
    )


@cache
def _answered_query():
    return (
        select(Ask)
        .where(Ask.advocate_id == bindparam("advocate_id"),
               or_(Ask.status != AskStatus.PENDING, Ask.expires_at <= bindparam("now")))
        .options(joinedload(Ask.request).options(joinedload(ReferenceRequest.industry),
                                                 joinedload(ReferenceRequest.format)))
        .order_by(Ask.created_at.desc(), Ask.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


@cache
def _ask_query():
    return _with_context(select(Ask).where(Ask.id == bindparam("ask_id"),
                                           Ask.advocate_id == bindparam("advocate_id")))


def pending_asks(advocate_id: int, now: datetime) -> list[Ask]:
    """The advocate's asks waiting for an answer (not past their time), soonest due first."""
    return list(db.session.scalars(_pending_query(), {"advocate_id": advocate_id, "now": now}).unique())


def answered_asks(advocate_id: int, now: datetime, page: int, per_page: int) -> tuple[list[Ask], bool]:
    """One page of the advocate's other asks: answered, withdrawn, expired or past their time,
    newest first, with the request's format and industry (and whether a next page exists)."""
    found = list(db.session.scalars(_answered_query(), {
        "advocate_id": advocate_id, "now": now, "limit": per_page + 1, "offset": (page - 1) * per_page}))
    return found[:per_page], len(found) > per_page


def advocate_ask(ask_id: int, advocate_id: int) -> tuple[Ask, Engagement | None]:
    """One of the advocate's own asks with its context, and the engagement if accepted."""
    ask = db.session.scalars(
        _ask_query(), {"ask_id": ask_id, "advocate_id": advocate_id}).unique().one_or_none()
    if ask is None:
        raise AskNotFound("There is no such ask among yours.")
    engagement = None
    if ask.status is AskStatus.ACCEPTED:
        engagement = db.session.scalar(select(Engagement).where(Engagement.ask_id == ask.id))
    return ask, engagement
