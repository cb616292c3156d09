"""Reading the database into the matching engine's dataclasses, and ranking for a request.

The pool is loaded in a fixed number of queries whatever its size (one per kind of row,
no query per advocate), as plain column tuples rather than ORM objects: this is the
"read" the engine's speed is measured against (DESIGN.md §8).
"""

from __future__ import annotations

import gc
import threading
from collections import Counter, OrderedDict, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import delete, event, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from matching.engine import (
    LIVE_FORMATS,
    RULES,
    AdvocateProfile,
    Exclusion,
    KnownSlot,
    MatchResult,
    RankedCandidates,
    RequestProfile,
    ScoringFacts,
    Weights,
    _rules_for,
    best_first,
    exclusion,
    score,
    scoring_facts,
)
from matching.slots import DateRange, Interval, SlotRules, Window, first_free_slot
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
    JobLevel,
    MatchRow,
    PoolVersion,
    ReferenceRequest,
    Region,
    Setting,
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
    """Every advocate who is not retired, as the engine sees them, in 12 queries: the full
    recomputation the match rows are built from and checked against."""
    with _no_cyclic_gc():
        return _load_pool(db.session.connection(), now or utcnow())


def _load_pool(connection, now: datetime, ids=None, *, retired: bool = False) -> list[AdvocateProfile]:
    """``ids``: only these advocates (None: all); ``retired``: the retired ones too."""
    def execute(query, column=None):
        if ids is not None and column is not None:
            query = query.where(column.in_(ids))
        return connection.execute(query)

    query = (
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
    )
    if not retired:
        query = query.where(Advocate.status != AdvocateStatus.RETIRED)
    advocates = execute(query, Advocate.id).all()
    rows = _load_rows(execute, now)
    level_ranks = dict(connection.execute(select(JobLevel.code, JobLevel.rank)).all())
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


def _grouped(rows) -> dict[int, set]:
    grouped: dict[int, set] = defaultdict(set)
    for advocate_id, value in rows:
        grouped[advocate_id].add(value)
    return grouped


def _load_rows(_execute, now: datetime) -> _Rows:
    """Core execution (``_execute(query, advocate id column)``): column tuples without the ORM's
    row handling."""
    topics: dict[TopicStance, dict[int, set[str]]] = {stance: defaultdict(set) for stance in TopicStance}
    for advocate_id, key, stance in _execute(
        select(AdvocateTopic.advocate_id, Topic.key, AdvocateTopic.stance).join(Topic),
        AdvocateTopic.advocate_id,
    ):
        topics[stance][advocate_id].add(key)

    windows: dict[int, list[Window]] = defaultdict(list)
    for advocate_id, weekday, starts, ends in _execute(
        select(WeeklyWindow.advocate_id, WeeklyWindow.weekday, WeeklyWindow.starts, WeeklyWindow.ends),
        WeeklyWindow.advocate_id,
    ):
        windows[advocate_id].append(Window(weekday, starts, ends))

    blackouts: dict[int, list[DateRange]] = defaultdict(list)
    for advocate_id, first, last in _execute(
        select(Blackout.advocate_id, Blackout.starts_on, Blackout.ends_on).where(
            Blackout.ends_on >= now.date() - timedelta(days=1)
        ), Blackout.advocate_id
    ):
        blackouts[advocate_id].append(DateRange(first, last))

    # Past calls as far back as the longest gap between calls an advocate may ask for: a call
    # 5 days ago still keeps the next 2 days free for a 7-day gap.
    busy: dict[int, list[Interval]] = defaultdict(list)
    for advocate_id, starts_at, ends_at in _execute(
        select(Engagement.advocate_id, Engagement.starts_at, Engagement.ends_at).where(
            Engagement.status.in_(CALENDAR_STATUSES), Engagement.ends_at >= now - BUSY_LOOKBACK
        ), Engagement.advocate_id
    ):
        busy[advocate_id].append(Interval(starts_at, ends_at))

    calls_this_quarter = dict(
        _execute(
            select(Engagement.advocate_id, func.count())
            .where(Engagement.quarter == quarter_of(now), Engagement.status.in_(COUNTED_STATUSES))
            .group_by(Engagement.advocate_id), Engagement.advocate_id
        ).all()
    )
    last_call = {
        advocate_id: _aware(moment)
        for advocate_id, moment in _execute(
            select(Engagement.advocate_id, func.max(Engagement.starts_at))
            .where(Engagement.status.in_(CALENDAR_STATUSES), Engagement.starts_at <= now)
            .group_by(Engagement.advocate_id), Engagement.advocate_id
        )
    }
    feedback = {  # ratings are optional: an average of none is no average
        advocate_id: float(average)
        for advocate_id, average in _execute(
            select(Engagement.advocate_id, func.avg(Feedback.rating))
            .join(Feedback, Feedback.engagement_id == Engagement.id)
            .where(Feedback.side == FeedbackSide.PROSPECT)
            .group_by(Engagement.advocate_id), Engagement.advocate_id
        )
        if average is not None
    }
    return _Rows(
        use_cases=_grouped(_execute(
            select(advocate_use_cases.c.advocate_id, UseCase.key).join(
                UseCase, UseCase.id == advocate_use_cases.c.use_case_id
            ), advocate_use_cases.c.advocate_id
        )),
        glad=topics[TopicStance.GLAD],
        avoided=topics[TopicStance.AVOID],
        competitors=_grouped(_execute(select(AdvocateCompetitor.advocate_id, Competitor.key).join(Competitor),
                                      AdvocateCompetitor.advocate_id)),
        formats=_grouped(_execute(select(advocate_formats.c.advocate_id, advocate_formats.c.format_code),
                                  advocate_formats.c.advocate_id)),
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


# --- the match rows ----------------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
_FRAME = "\n"  # keys are whitespace-folded (models._columns.name_key), so never hold one
RECHECK = "recheck"  # the SQL cannot tell from the row alone at this moment: the engine decides
TOUCHED = "vouch_match_rows_touched"
BOOKING_SETTINGS = frozenset({"CALL_MINUTES", "BOOKING_BUFFER_MINUTES", "BOOKING_NOTICE_HOURS",
                              "BOOKING_HORIZON_DAYS"})
_IN_CHUNK = 500  # ids per IN list when refreshing some rows


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - EPOCH) // ONE_US


def _moment(us: int | None) -> datetime | None:
    return None if us is None else EPOCH + timedelta(microseconds=us)


def _framed(keys) -> str:
    return _FRAME + _FRAME.join(sorted(keys)) + _FRAME if keys else _FRAME


_NO_KEYS: frozenset[str] = frozenset()


def _keys(framed: str) -> frozenset[str]:
    return frozenset(framed[1:-1].split(_FRAME)) if len(framed) > 1 else _NO_KEYS


def match_row(profile: AdvocateProfile, now: datetime, slot_rules: SlotRules) -> dict:
    """The match row of one advocate, computed at ``now``: what ``rank`` reads instead of the
    profile, with the first free slot searched once."""
    slot = None
    if profile.windows:
        slot = first_free_slot(profile.windows, zone=profile.timezone, now=now,
                               blackouts=profile.blackouts, busy=profile.busy,
                               rules=_rules_for(profile, slot_rules))
    later = [b.start for b in profile.busy if b.start > now]
    gap = profile.min_days_between_calls
    last = profile.last_call_at
    return {
        "advocate_id": profile.id,
        "name": profile.name,
        "company": profile.company,
        "company_key": profile.company_key,
        "status": profile.status,
        "consented": profile.consented,
        "snoozed_until_day": profile.snoozed_until.toordinal() if profile.snoozed_until else None,
        "calls": profile.calls_this_quarter,
        "calls_quarter": quarter_of(now),
        "quarterly_limit": profile.quarterly_limit,
        "last_call_us": _us(last),
        "next_call_us": _us(min(later)) if later else None,
        "too_soon_until_us": _us(last + timedelta(days=gap)) if last is not None and gap else None,
        "min_days_between_calls": gap,
        "max_calls_per_day": profile.max_calls_per_day,
        "formats": _framed(profile.formats),
        "industry": profile.industry,
        "sector": profile.sector,
        "size_band": profile.size_band,
        "region": profile.region,
        "timezone": profile.timezone,
        "job_level_rank": profile.job_level_rank,
        "use_cases": _framed(profile.use_cases),
        "glad_topics": _framed(profile.glad_topics),
        "avoided_topics": _framed(profile.avoided_topics),
        "competitors": _framed(profile.competitors),
        "refused_companies": _framed(profile.refused_companies),
        "feedback_average": profile.feedback_average,
        "has_windows": bool(profile.windows),
        "slot_start_us": _us(slot.start) if slot else None,
        "slot_end_us": _us(slot.end) if slot else None,
        "computed_us": _us(now),
    }


def refresh_match_rows(connection, advocate_ids=None, *, now: datetime | None = None,
                       slot_rules: SlotRules | None = None, on_progress=None) -> int:
    """Recompute the match rows of these advocates (None: everyone) from their full profiles and
    store them; rows of advocates that no longer exist go. Returns how many rows were written."""
    now = now or utcnow()
    slot_rules = slot_rules or _stored_booking_rules(connection)
    table = MatchRow.__table__
    if advocate_ids is None:
        chunks = [None]
        connection.execute(delete(table))
    else:
        ids = sorted(set(advocate_ids))
        chunks = [ids[i:i + _IN_CHUNK] for i in range(0, len(ids), _IN_CHUNK)]
    written = 0
    with _no_cyclic_gc():
        for chunk in chunks:
            profiles = _load_pool(connection, now, chunk, retired=True)
            if chunk is not None:
                gone = set(chunk) - {p.id for p in profiles}
                if gone:
                    connection.execute(delete(table).where(table.c.advocate_id.in_(gone)))
            rows = [match_row(p, now, slot_rules) for p in profiles]
            for start in range(0, len(rows), 5000):
                batch = rows[start:start + 5000]
                if chunk is None:
                    connection.execute(insert(table), batch)
                else:
                    _upsert(connection, table, batch)
                written += len(batch)
                if on_progress is not None:
                    on_progress(len(batch))
    return written


def rebuild(on_progress=None) -> int:
    """Every match row recomputed from the full profiles, in one transaction (``flask matching
    rebuild``: after a restore, or to check nothing drifted). → how many rows."""
    from workflows.transaction import transaction

    total = db.session.scalar(select(func.count()).select_from(Advocate))
    if on_progress is not None:
        on_progress(0, total)
    with transaction():
        connection = db.session.connection()
        step = None if on_progress is None else (lambda done: on_progress(done, total))
        written = refresh_match_rows(connection, on_progress=step)
        _bump_pool_version(connection)
    return written


def refresh_stale(now: datetime | None = None) -> int:
    """Recompute the rows time has overtaken: counted for another quarter, a call begun since,
    or a stored slot now inside the notice period (or none found, a day ago or more). ``rank``
    is right without this, reading such rows' full profiles; refreshing keeps them few."""
    from workflows.transaction import transaction

    now = now or utcnow()
    rules = booking_rules()
    now_us = _us(now)
    row = MatchRow.__table__.c
    stale = db.session.scalars(select(row.advocate_id).where(
        (row.calls_quarter != quarter_of(now)) | (row.next_call_us <= now_us)
        | (row.has_windows & (row.slot_start_us < _us(now + rules.notice)))
        | (row.has_windows & row.slot_start_us.is_(None) & (row.computed_us < now_us - 86_400_000_000))
    )).all()
    db.session.rollback()
    if not stale:
        return 0
    with transaction():
        connection = db.session.connection()
        _bump_pool_version(connection)
        return refresh_match_rows(connection, stale, now=now, slot_rules=rules)


def _upsert(connection, table, rows) -> None:
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(table)
    columns = {c.name: statement.excluded[c.name] for c in table.columns if c.name != "advocate_id"}
    connection.execute(statement.on_conflict_do_update(index_elements=["advocate_id"], set_=columns), rows)


def _stored_booking_rules(connection) -> SlotRules:
    """``workflows.slots.booking_rules`` read through this connection (a migration's, or the
    session's own inside a commit, which sees a setting changed in the same transaction)."""
    stored = dict(connection.execute(
        select(Setting.key, Setting.value).where(Setting.key.in_(BOOKING_SETTINGS))).all())
    config = current_app.config if has_app_context() else {}

    def value(key: str, default: int) -> int:
        return int(stored[key]) if key in stored else int(config.get(key, default))

    defaults = SlotRules()
    return SlotRules(
        duration_minutes=value("CALL_MINUTES", defaults.duration_minutes),
        buffer_minutes=value("BOOKING_BUFFER_MINUTES", defaults.buffer_minutes),
        notice=timedelta(hours=value("BOOKING_NOTICE_HOURS", int(defaults.notice.total_seconds() // 3600))),
        horizon_days=value("BOOKING_HORIZON_DAYS", defaults.horizon_days),
    )


def pool_version(connection=None) -> int:
    """The number every change to the match rows bumps (0 before the first)."""
    connection = connection or db.session.connection()
    return connection.execute(select(PoolVersion.version).where(PoolVersion.id == 1)).scalar() or 0


def _bump_pool_version(connection) -> None:
    table = PoolVersion.__table__
    bumped = connection.execute(update(table).where(table.c.id == 1).values(version=table.c.version + 1))
    if bumped.rowcount == 0:
        # Gone (a database emptied or restored): start again from the clock, so no number seen
        # before comes back and no kept ranking passes for current.
        connection.execute(insert(table).values(id=1, version=_us(utcnow())))


# --- keeping the rows current: every transaction refreshes the rows its writes touched -----------

class _Touched:
    """What a transaction changed that match rows depend on, gathered at each flush."""

    __slots__ = ("everyone", "advocates", "accounts", "companies", "tiers", "engagements")

    def __init__(self) -> None:
        self.everyone = False
        self.advocates: set[int] = set()
        self.accounts: set[int] = set()
        self.companies: set[int] = set()
        self.tiers: set[int] = set()
        self.engagements: set[int] = set()

    def advocate_ids(self, connection) -> set[int]:
        ids = set(self.advocates)
        for column, keys in ((Advocate.account_id, self.accounts), (Advocate.company_id, self.companies),
                             (Advocate.tier_id, self.tiers)):
            for chunk in _chunks(keys):
                ids.update(connection.execute(select(Advocate.id).where(column.in_(chunk))).scalars())
        for chunk in _chunks(self.engagements):
            ids.update(connection.execute(
                select(Engagement.advocate_id).where(Engagement.id.in_(chunk))).scalars())
        return ids


def _chunks(keys):
    keys = sorted(keys)
    return [keys[i:i + _IN_CHUNK] for i in range(0, len(keys), _IN_CHUNK)]


# Classes whose rows carry the advocate's id.
_BY_ADVOCATE_ID = (AdvocateTopic, AdvocateCompetitor, WeeklyWindow, Blackout, Engagement)
# Catalogue entries: renaming one (its key, sector or rank) changes everyone who has it.
_CATALOGUES = (Industry, Region, Topic, UseCase, Competitor, JobLevel)
_CATALOGUE_TABLES = frozenset(t.__tablename__ for t in _CATALOGUES)
_TRACKED_TABLES = frozenset(t.__tablename__ for t in (
    Advocate, Account, Company, Tier, Feedback, Setting, *_BY_ADVOCATE_ID, *_CATALOGUES,
)) | {advocate_formats.name, advocate_use_cases.name}


def _touched(session) -> _Touched:
    found = session.info.get(TOUCHED)
    if found is None:
        found = session.info[TOUCHED] = _Touched()
    return found


def _changed(obj, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _note(touched: _Touched, obj, is_new: bool) -> None:
    if isinstance(obj, Advocate):
        touched.advocates.add(obj.id)
    elif isinstance(obj, _BY_ADVOCATE_ID):
        touched.advocates.add(obj.advocate_id)
        if isinstance(obj, Engagement):
            touched.advocates.update(v for v in inspect(obj).attrs.advocate_id.history.deleted if v)
    elif isinstance(obj, Account):
        if is_new or _changed(obj, "name", "timezone"):
            touched.accounts.add(obj.id)
    elif isinstance(obj, Company):
        touched.companies.add(obj.id)
    elif isinstance(obj, Tier):
        if is_new or _changed(obj, "quarterly_quota"):
            touched.tiers.add(obj.id)
    elif isinstance(obj, Feedback):
        touched.engagements.add(obj.engagement_id)
    elif isinstance(obj, Setting):
        if obj.key in BOOKING_SETTINGS:
            touched.everyone = True
    elif isinstance(obj, _CATALOGUES) and not is_new:
        touched.everyone = True


@event.listens_for(Session, "after_flush")
def _gather_touched(session, _flush_context) -> None:
    touched = None
    for group, is_new in ((session.new, True), (session.dirty, False), (session.deleted, False)):
        for obj in group:
            if isinstance(obj, _TRACKED_CLASSES):
                touched = touched or _touched(session)
                _note(touched, obj, is_new)


@event.listens_for(Session, "do_orm_execute")
def _bulk_writes(state) -> None:
    """An insert, update or delete statement (not a unit-of-work flush) on a table the rows read:
    which advocates it changes is not worth working out, so all rows are refreshed."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if state.is_insert and name in _CATALOGUE_TABLES:
        return  # a new topic or tag is nobody's yet: linking it to an advocate is what changes a row
    if table is not None and name in _TRACKED_TABLES:
        _touched(state.session).everyone = True


@event.listens_for(Session, "before_commit")
def _refresh_touched(session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # commit flushes after this hook: gather what that flush writes first
    touched = session.info.pop(TOUCHED, None)
    if touched is None:
        return
    connection = session.connection()
    # The version first: its row lock queues concurrent writers, so each recomputes its rows
    # from what the one before it committed (PostgreSQL reads committed data per statement).
    _bump_pool_version(connection)
    if touched.everyone:
        refresh_match_rows(connection)
    else:
        ids = touched.advocate_ids(connection)
        if ids:
            refresh_match_rows(connection, ids)


@event.listens_for(Session, "after_transaction_end")
def _forget_touched(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(TOUCHED, None)


_TRACKED_CLASSES = (Advocate, Account, Company, Tier, Feedback, Setting, *_BY_ADVOCATE_ID, *_CATALOGUES)


# --- ranking from the match rows ------------------------------------------------------------------

EXCLUDED_NAMED = 300  # excluded advocates named one by one, by advocate number
# What the SQL answers for each row, as the small integer its CASE gives: eligible, to be decided by
# the engine from the full profile (RECHECK), or the code of the first rule that fails.
OUTCOMES = ("", RECHECK, *(code for code, _ in RULES))
_OUTCOME = {outcome: number for number, outcome in enumerate(OUTCOMES)}
_ALL_COLUMNS = tuple(c.name for c in MatchRow.__table__.columns)
# Where the eligible query puts what is not a ``ScoringFacts`` field as such.
_ZONE = ScoringFacts._fields.index("utc_offset_hours")  # the time zone's name
_LAST_CALL = ScoringFacts._fields.index("last_call_at")  # microseconds since 1970
_STALE = len(ScoringFacts._fields)
_ADVOCATE_ID = _STALE + 1


class MatchQueries(NamedTuple):
    """The SQL one match issues, in the driver's own parameter style. The rules in ``RULES``
    order that a row can answer by itself are one CASE giving the first that fails."""

    outcomes: str  # the CASE's answer for everyone: how many each rule excludes
    # The eligible: their scoring facts (``ScoringFacts``, with the time zone and the last call as
    # stored), whether to recheck them, and the advocate id.
    eligible: str
    named: str  # every column of the first excluded, by id, and the outcome
    parameters: dict


def match_queries(dialect: str, request: RequestProfile, now: datetime, slot_rules: SlotRules,
                  named: int = EXCLUDED_NAMED) -> MatchQueries:
    def ph(name: str) -> str:
        return f"%({name})s" if dialect == "postgresql" else f":{name}"

    contains = "strpos" if dialect == "postgresql" else "instr"
    parameters = {
        "today": now.date().toordinal(), "now": _us(now), "quarter": quarter_of(now),
        "format": _framed([request.format]), "prospect": request.prospect_company,
        "prospect_framed": _framed([request.prospect_company]), "request_id": request.id,
        "named": named,
    }

    def has(column: str, name: str, key: str) -> str:
        parameters[name] = _framed([key])
        return f"{contains}({column}, {ph(name)}) > 0"

    def equal(column: str, name: str, value) -> str:
        if not value:
            return "0"
        parameters[name] = value
        return f"CASE WHEN {column} = {ph(name)} THEN 1 ELSE 0 END"

    def covered(column: str, prefix: str, keys) -> str:
        return " + ".join(f"CASE WHEN {has(column, f'{prefix}{n}', key)} THEN 1 ELSE 0 END"
                          for n, key in enumerate(sorted(keys))) or "0"

    # Computed after this moment, in another quarter, or a call has begun since: the count of calls,
    # the last call and the slot need the full profile.
    stale = f"computed_us > {ph('now')} OR calls_quarter <> {ph('quarter')} OR next_call_us <= {ph('now')}"
    whens = [
        ("status <> 'active'", "not_active"),
        ("NOT consented", "no_consent"),
        (f"snoozed_until_day >= {ph('today')}", "snoozed"),
        (stale, RECHECK),
        ("calls >= quarterly_limit", "quota_reached"),
        (f"too_soon_until_us > {ph('now')}", "too_soon"),
        (f"{contains}(formats, {ph('format')}) = 0", "format_not_accepted"),
        (f"company_key = {ph('prospect')}", "own_company"),
        (f"{contains}(refused_companies, {ph('prospect_framed')}) > 0", "refused_company"),
        (f"advocate_id IN (SELECT advocate_id FROM {Ask.__tablename__} "
         f"WHERE request_id = {ph('request_id')})", "already_asked"),
    ]
    if request.topics:
        avoided = [has("avoided_topics", f"topic{n}", key) for n, key in enumerate(sorted(request.topics))]
        whens.append((" OR ".join(avoided), "avoided_topic"))
    if request.format in LIVE_FORMATS:
        parameters["earliest"] = _us(now + slot_rules.notice)
        whens.append(("NOT has_windows", "no_free_slot"))
        if request.needed_by is not None:
            # Nothing free up to the horizon when the row was computed, which reaches past the
            # needed-by date: nothing can be free before it now either.
            parameters["needed_by"] = _us(request.needed_by)
            parameters["horizon"] = slot_rules.horizon_days * 86_400_000_000
            whens.append((f"slot_start_us IS NULL AND computed_us + {ph('horizon')} >= {ph('needed_by')}",
                          "no_free_slot"))
        slot_stale = f"slot_start_us IS NULL OR slot_start_us < {ph('earliest')}"
        whens.append((slot_stale, RECHECK))
        stale = f"{stale} OR {slot_stale}"
        if request.needed_by is not None:
            whens.append((f"slot_end_us > {ph('needed_by')}", "no_free_slot"))
    case = ("CASE " + " ".join(f"WHEN {condition} THEN {_OUTCOME[outcome]}" for condition, outcome in whens)
            + f" ELSE {_OUTCOME['']} END")
    facts = (
        equal("industry", "industry", request.industry),
        equal("sector", "sector", request.sector),
        "size_band",
        equal("region", "region", request.region),
        "timezone",
        "job_level_rank",
        covered("use_cases", "use_case", request.use_cases),
        covered("glad_topics", "topic", request.topics),
        f"CASE WHEN {covered('competitors', 'competitor', request.competitors)} > 0 THEN 1 ELSE 0 END"
        if request.competitors else "0",
        "calls", "quarterly_limit", "last_call_us", "feedback_average",
        # A row that passes the CASE was rechecked by it exactly when it is stale.
        f"CASE WHEN {stale} THEN 1 ELSE 0 END",
    )
    table = MatchRow.__tablename__
    return MatchQueries(
        outcomes=f"SELECT {case} FROM {table} WHERE status <> 'retired'",
        eligible=f"SELECT {', '.join(facts)}, advocate_id FROM {table} WHERE {case} <= {_OUTCOME[RECHECK]}",
        named=f"SELECT * FROM (SELECT {', '.join(_ALL_COLUMNS)}, {case} AS outcome FROM {table} "
              f"WHERE status <> 'retired') AS ranked WHERE outcome > {_OUTCOME[RECHECK]} "
              f"ORDER BY advocate_id LIMIT {ph('named')}",
        parameters=parameters,
    )


def rank(request: ReferenceRequest, now: datetime | None = None, *,
         named: int = EXCLUDED_NAMED) -> MatchResult:
    """Every eligible advocate for the request, best first, how many each rule left out, and the
    first ``named`` of those left out with the rule and its detail.

    The match rows answer most of it in three queries; the engine scores the eligible and decides
    the few rows the SQL cannot (``RECHECK``) from their full profiles. A candidate's reasons are
    written from its match row when it is first looked at.
    """
    return _rank(request_profile(request), now or utcnow(), named, booking_rules(), weights())


def _rank(profile: RequestProfile, now: datetime, named: int, slot_rules: SlotRules,
          the_weights: Weights) -> MatchResult:
    connection = db.session.connection()
    queries = match_queries(connection.dialect.name, profile, now, slot_rules, named)

    def fetch(sql: str) -> list:
        # The driver's own cursor on the session's connection, rows fetched at once as the driver
        # makes them: no type processing or result rows of SQLAlchemy's per row.
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, queries.parameters)
            return cursor.fetchall()
        finally:
            cursor.close()

    with _no_cyclic_gc():
        outcomes = Counter(outcome for (outcome,) in fetch(queries.outcomes))
        ranked: list[tuple[int, int]] = []
        recheck: list[int] = []
        today = now.date()
        scored: dict[tuple, int] = {}  # many advocates share the same facts: each is scored once
        append = ranked.append
        for row in fetch(queries.eligible):
            if row[_STALE]:
                recheck.append(row[_ADVOCATE_ID])
                continue
            stored = row[:_STALE]
            points = scored.get(stored)
            if points is None:
                facts = ScoringFacts._make(stored)._replace(
                    utc_offset_hours=_utc_offset_hours(stored[_ZONE], today),
                    last_call_at=_moment(stored[_LAST_CALL]))
                points = scored[stored] = score(profile, facts, weights=the_weights, now=now)
            append((points, row[_ADVOCATE_ID]))
        counts = {OUTCOMES[outcome]: count for outcome, count in outcomes.items()
                  if outcome > _OUTCOME[RECHECK]}
        rechecked: list[Exclusion] = []
        fresh: dict[int, AdvocateProfile] = {}
        for full in (_load_pool(connection, now, recheck) if recheck else ()):
            left_out = exclusion(profile, full, now=now, slot_rules=slot_rules)
            if left_out is None:
                fresh[full.id] = full
                ranked.append((score(profile, scoring_facts(profile, full), weights=the_weights, now=now),
                               full.id))
            else:
                rechecked.append(left_out)
                counts[left_out.rule] = counts.get(left_out.rule, 0) + 1
        named_rows = fetch(queries.named) if named else []
        excluded = _named_exclusions(connection, profile, named_rows, now, slot_rules) + rechecked
        excluded.sort(key=lambda e: e.advocate_id)
        best_first(ranked)

    def profiles(ids: list[int]) -> dict[int, AdvocateProfile]:
        found = {i: fresh[i] for i in ids if i in fresh}
        missing = [i for i in ids if i not in found]
        if missing:
            found.update((p.id, p) for p in _row_profiles(db.session.connection(), missing, today))
        return found

    return MatchResult(
        RankedCandidates(profile, ranked, profiles, weights=the_weights, now=now),
        tuple(excluded[:named]),
        {rule: counts[rule] for rule in sorted(counts)},
    )


# A ranking is kept per request, in each process, for as long as nothing it depends on changes:
# the request as matching reads it (its asks included), the pool version, the rules and weights.
# Time alone (a snooze ending, a slot passing into the notice period, a day more of rest) moves a
# ranking only slowly, and a kept one is at most this old.
RANKING_KEPT_FOR = timedelta(seconds=60)
RANKINGS_KEPT = 256


class _KeptRanking(NamedTuple):
    key: tuple
    at: datetime
    result: MatchResult


_kept: OrderedDict[int, _KeptRanking] = OrderedDict()
_kept_lock = threading.Lock()


def cached_rank(request: ReferenceRequest, *, named: int = EXCLUDED_NAMED) -> MatchResult:
    """``rank``, answered from the ranking kept for the request while it is still right: every
    write that changes a match row bumps the pool version read here, so a change shows at once."""
    now = utcnow()
    profile = request_profile(request)
    slot_rules, the_weights = booking_rules(), weights()
    key = (profile, named, slot_rules, the_weights, pool_version(), db.engine.url)
    with _kept_lock:
        kept = _kept.get(request.id)
    if kept is not None and kept.key == key and kept.at <= now < kept.at + RANKING_KEPT_FOR:
        return kept.result
    result = _rank(profile, now, named, slot_rules, the_weights)
    with _kept_lock:
        _kept[request.id] = _KeptRanking(key, now, result)
        _kept.move_to_end(request.id)
        while len(_kept) > RANKINGS_KEPT:
            _kept.popitem(last=False)
    return result


def _named_exclusions(connection, request: RequestProfile, rows, now: datetime,
                      slot_rules: SlotRules) -> list[Exclusion]:
    """The engine's rule and detail for each excluded row; rows without a stored slot whose
    detail needs the slot search get their full profile."""
    found: list[Exclusion] = []
    searched: list[int] = []
    today = now.date()
    for row in rows:
        values = dict(zip(_ALL_COLUMNS, row, strict=False))
        if OUTCOMES[row[-1]] == "no_free_slot" and values["has_windows"] and values["slot_start_us"] is None:
            searched.append(values["advocate_id"])
            continue
        left_out = exclusion(request, _row_profile(values, today), now=now, slot_rules=slot_rules)
        if left_out is not None:
            found.append(left_out)
    for full in (_load_pool(connection, now, searched) if searched else ()):
        left_out = exclusion(request, full, now=now, slot_rules=slot_rules)
        if left_out is not None:
            found.append(left_out)
    return found


def _row_profiles(connection, ids: list[int], today: date) -> list[AdvocateProfile]:
    """The advocates' profiles from their match rows, still valid at this moment."""
    found = []
    table = MatchRow.__table__
    for start in range(0, len(ids), _IN_CHUNK):
        query = select(*table.columns).where(table.c.advocate_id.in_(ids[start:start + _IN_CHUNK]))
        found.extend(_row_profile(row._asdict(), today) for row in connection.execute(query))
    return found


def _row_profile(row: dict, today: date) -> AdvocateProfile:
    """An advocate as the engine sees it, from a match row still valid at this moment."""
    slot = None
    if row["slot_start_us"] is not None:
        slot = Interval(_moment(row["slot_start_us"]), _moment(row["slot_end_us"]))
    snoozed = row["snoozed_until_day"]
    return AdvocateProfile(
        id=row["advocate_id"], name=row["name"], company=row["company"], company_key=row["company_key"],
        active=row["status"] == AdvocateStatus.ACTIVE, status=row["status"], consented=bool(row["consented"]),
        snoozed_until=date.fromordinal(snoozed) if snoozed is not None else None,
        calls_this_quarter=row["calls"], quarterly_limit=row["quarterly_limit"],
        last_call_at=_moment(row["last_call_us"]), min_days_between_calls=row["min_days_between_calls"],
        formats=_keys(row["formats"]), industry=row["industry"], sector=row["sector"],
        size_band=row["size_band"], region=row["region"], job_level_rank=row["job_level_rank"],
        utc_offset_hours=_utc_offset_hours(row["timezone"], today),
        use_cases=_keys(row["use_cases"]), glad_topics=_keys(row["glad_topics"]),
        avoided_topics=_keys(row["avoided_topics"]), competitors=_keys(row["competitors"]),
        refused_companies=_keys(row["refused_companies"]), feedback_average=row["feedback_average"],
        timezone=row["timezone"], max_calls_per_day=row["max_calls_per_day"],
        first_slot=KnownSlot(bool(row["has_windows"]), slot),
    )


def standing(request: ReferenceRequest, advocate_id: int, now: datetime | None = None):
    """One advocate as the engine ranks them for the request right now, from their full profile:
    their ``Candidate``, the ``Exclusion`` naming the rule, or None when they are retired or gone."""
    from matching.engine import candidate

    now = now or utcnow()
    profile = request_profile(request)
    found = _load_pool(db.session.connection(), now, [advocate_id])
    if not found:
        return None
    left_out = exclusion(profile, found[0], now=now, slot_rules=booking_rules())
    return left_out if left_out is not None else candidate(profile, found[0], weights=weights(), now=now)
