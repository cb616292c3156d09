"""Reading the database into the matching engine's dataclasses, and ranking for a request.

The pool is loaded in a fixed number of queries whatever its size (one per kind of row,
no query per advocate), as plain column tuples rather than ORM objects: this is the
"read" the engine's speed is measured against (DESIGN.md §8).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from matching.engine import AdvocateProfile, MatchResult, RequestProfile, Weights, match
from matching.slots import DateRange, Interval, Window
from models import (
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateStatus,
    AdvocateTopic,
    Ask,
    Blackout,
    Company,
    Competitor,
    Engagement,
    Feedback,
    FeedbackSide,
    Industry,
    ReferenceRequest,
    Region,
    Tier,
    Topic,
    TopicStance,
    UseCase,
    WeeklyWindow,
    db,
    quarter_of,
)
from models._columns import name_key as name_key_of
from models.advocates import advocate_formats, advocate_use_cases, quarterly_limit
from models.catalogues import size_band_index
from models.engagements import CALENDAR_STATUSES, COUNTED_STATUSES
from models.types import utcnow
from workflows.availability import MIN_DAYS_BETWEEN_CALLS
from workflows.slots import booking_rules

# A day more than the longest gap between calls an advocate may set.
BUSY_LOOKBACK = timedelta(days=MIN_DAYS_BETWEEN_CALLS[1] + 1)


def weights() -> Weights:
    """Score weights from the config (``MATCH_WEIGHTS``), else the defaults."""
    configured = current_app.config.get("MATCH_WEIGHTS") or {}
    return Weights(**configured)


def request_profile(request: ReferenceRequest) -> RequestProfile:
    already_asked = db.session.scalars(select(Ask.advocate_id).where(Ask.request_id == request.id)).all()
    needed_by = None
    if request.needed_by is not None:
        # The call has to happen by the end of the needed-by day (UTC).
        needed_by = datetime.combine(request.needed_by + timedelta(days=1), datetime.min.time(), UTC)
    return RequestProfile(
        id=request.id,
        prospect_company=name_key_of(request.prospect_company),
        prospect_company_name=request.prospect_company,
        format=request.format_code,
        format_name=request.format.name if request.format else request.format_code,
        industry=request.industry.key if request.industry else None,
        sector=request.industry.sector if request.industry else None,
        size_band=size_band_index(request.employees),
        region=request.region.key if request.region else None,
        use_cases=frozenset(u.key for u in request.use_cases),
        topics=frozenset(t.key for t in request.topics),
        topic_names=tuple((t.key, t.name) for t in request.topics),
        competitors=frozenset(c.key for c in request.competitors),
        competitor_names=tuple((c.key, c.name) for c in request.competitors),
        needed_by=needed_by,
        already_asked=frozenset(already_asked),
    )


@dataclass
class _Rows:
    """Everything about the pool, grouped by advocate id."""

    use_cases: dict[int, set[str]]
    glad: dict[int, set[str]]
    avoided: dict[int, set[str]]
    competitors: dict[int, set[str]]
    formats: dict[int, set[str]]
    windows: dict[int, list[Window]]
    blackouts: dict[int, list[DateRange]]
    busy: dict[int, list[Interval]]
    calls_this_quarter: dict[int, int]
    last_call: dict[int, datetime]
    feedback: dict[int, float]


def load_pool(now: datetime | None = None) -> list[AdvocateProfile]:
    """Every advocate who is not retired, as the engine sees them, in 12 queries."""
    with _no_cyclic_gc():
        return _load_pool(now or utcnow())


def _load_pool(now: datetime) -> list[AdvocateProfile]:
    advocates = _execute(
        select(
            Advocate.id,
            Account.name,
            Account.timezone,
            Company.name,
            Company.name_key,
            Company.employees,
            Industry.key,
            Industry.sector,
            Region.key,
            Advocate.status,
            Advocate.consent_at,
            Advocate.snoozed_until,
            Advocate.quarterly_cap,
            Tier.quarterly_quota,
            Advocate.min_days_between_calls,
            Advocate.max_calls_per_day,
            Advocate.job_level_code,
            Advocate.refused_companies,
        )
        .join(Account, Account.id == Advocate.account_id)
        .outerjoin(Company, Company.id == Advocate.company_id)
        .outerjoin(Industry, Industry.id == Company.industry_id)
        .outerjoin(Region, Region.id == Company.region_id)
        .outerjoin(Tier, Tier.id == Advocate.tier_id)
        .where(Advocate.status != AdvocateStatus.RETIRED)
    ).all()
    rows = _load_rows(now)
    level_ranks = _job_level_ranks()
    pool = []
    for (advocate_id, name, zone, company, company_key, employees, industry, sector, region, status,
         consent_at, snoozed_until, cap, quota, min_days, per_day, level, refused) in advocates:
        pool.append(AdvocateProfile(
            id=advocate_id,
            name=name,
            company=company or "",
            company_key=company_key or "",
            active=status == AdvocateStatus.ACTIVE,
            status=str(status),
            consented=consent_at is not None,
            snoozed_until=snoozed_until,
            calls_this_quarter=rows.calls_this_quarter.get(advocate_id, 0),
            quarterly_limit=quarterly_limit(quota, cap),
            last_call_at=rows.last_call.get(advocate_id),
            min_days_between_calls=min_days,
            formats=frozenset(rows.formats.get(advocate_id, ())),
            industry=industry,
            sector=sector,
            size_band=size_band_index(employees),
            region=region,
            utc_offset_hours=_utc_offset_hours(zone, now.date()),
            job_level_rank=level_ranks.get(level),
            use_cases=frozenset(rows.use_cases.get(advocate_id, ())),
            glad_topics=frozenset(rows.glad.get(advocate_id, ())),
            avoided_topics=frozenset(rows.avoided.get(advocate_id, ())),
            competitors=frozenset(rows.competitors.get(advocate_id, ())),
            refused_companies=frozenset(name_key_of(c) for c in refused or ()),
            feedback_average=rows.feedback.get(advocate_id),
            timezone=zone,
            windows=tuple(rows.windows.get(advocate_id, ())),
            blackouts=tuple(rows.blackouts.get(advocate_id, ())),
            busy=tuple(rows.busy.get(advocate_id, ())),
            max_calls_per_day=per_day,
        ))
    return pool


def _execute(query):
    """Core execution on the session's connection: column tuples without the ORM's row handling."""
    return db.session.connection().execute(query)


def _grouped(query) -> dict[int, set]:
    grouped: dict[int, set] = defaultdict(set)
    for advocate_id, value in _execute(query):
        grouped[advocate_id].add(value)
    return grouped


def _load_rows(now: datetime) -> _Rows:
    topics: dict[TopicStance, dict[int, set[str]]] = {stance: defaultdict(set) for stance in TopicStance}
    for advocate_id, key, stance in _execute(
        select(AdvocateTopic.advocate_id, Topic.key, AdvocateTopic.stance).join(Topic)
    ):
        topics[stance][advocate_id].add(key)

    windows: dict[int, list[Window]] = defaultdict(list)
    for advocate_id, weekday, starts, ends in _execute(
        select(WeeklyWindow.advocate_id, WeeklyWindow.weekday, WeeklyWindow.starts, WeeklyWindow.ends)
    ):
        windows[advocate_id].append(Window(weekday, starts, ends))

    blackouts: dict[int, list[DateRange]] = defaultdict(list)
    for advocate_id, first, last in _execute(
        select(Blackout.advocate_id, Blackout.starts_on, Blackout.ends_on).where(
            Blackout.ends_on >= now.date() - timedelta(days=1)
        )
    ):
        blackouts[advocate_id].append(DateRange(first, last))

    # Past calls as far back as the longest gap between calls an advocate may ask for: a call
    # 5 days ago still keeps the next 2 days free for a 7-day gap.
    busy: dict[int, list[Interval]] = defaultdict(list)
    for advocate_id, starts_at, ends_at in _execute(
        select(Engagement.advocate_id, Engagement.starts_at, Engagement.ends_at).where(
            Engagement.status.in_(CALENDAR_STATUSES), Engagement.ends_at >= now - BUSY_LOOKBACK
        )
    ):
        busy[advocate_id].append(Interval(starts_at, ends_at))

    calls_this_quarter = dict(
        _execute(
            select(Engagement.advocate_id, func.count())
            .where(Engagement.quarter == quarter_of(now), Engagement.status.in_(COUNTED_STATUSES))
            .group_by(Engagement.advocate_id)
        ).all()
    )
    last_call = {
        advocate_id: _aware(moment)
        for advocate_id, moment in _execute(
            select(Engagement.advocate_id, func.max(Engagement.starts_at))
            .where(Engagement.status.in_(CALENDAR_STATUSES), Engagement.starts_at <= now)
            .group_by(Engagement.advocate_id)
        )
    }
    feedback = {
        advocate_id: float(average)
        for advocate_id, average in _execute(
            select(Engagement.advocate_id, func.avg(Feedback.rating))
            .join(Feedback, Feedback.engagement_id == Engagement.id)
            .where(Feedback.side == FeedbackSide.PROSPECT)
            .group_by(Engagement.advocate_id)
        )
    }
    return _Rows(
        use_cases=_grouped(
            select(advocate_use_cases.c.advocate_id, UseCase.key).join(
                UseCase, UseCase.id == advocate_use_cases.c.use_case_id
            )
        ),
        glad=topics[TopicStance.GLAD],
        avoided=topics[TopicStance.AVOID],
        competitors=_grouped(select(AdvocateCompetitor.advocate_id, Competitor.key).join(Competitor)),
        formats=_grouped(select(advocate_formats.c.advocate_id, advocate_formats.c.format_code)),
        windows=windows,
        blackouts=blackouts,
        busy=busy,
        calls_this_quarter=calls_this_quarter,
        last_call=last_call,
        feedback=feedback,
    )


def _aware(moment: datetime | None) -> datetime | None:
    """Aggregates skip the column type, so SQLite hands back naive UTC (or even text)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _job_level_ranks() -> dict[str, int]:
    from models import JobLevel

    return dict(_execute(select(JobLevel.code, JobLevel.rank)).all())


@lru_cache(maxsize=1024)
def _utc_offset_hours(zone: str, day: date) -> float | None:
    try:
        offset = datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).utcoffset()
    except (KeyError, ValueError):
        return None
    return offset.total_seconds() / 3600 if offset is not None else None


@contextmanager
def _no_cyclic_gc():
    """Loading and ranking a large pool makes hundreds of thousands of small objects and no
    reference cycles; the cyclic collector would rescan them all again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def rank(request: ReferenceRequest, now: datetime | None = None) -> MatchResult:
    """Every eligible advocate for the request, best first, and why the others were left out."""
    now = now or utcnow()
    profile = request_profile(request)
    with _no_cyclic_gc():
        return match(profile, load_pool(now), now=now, weights=weights(), slot_rules=booking_rules())
