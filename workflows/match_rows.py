"""The match rows (``models.match_rows``): one denormalised row per advocate holding what
matching reads, recomputed from the full profiles in the same transaction as every write that
changes them, and the pool version each such transaction bumps (DESIGN.md §8).

The full profiles are loaded in a fixed number of queries whatever the pool's size (one per
kind of row, no query per advocate), as plain column tuples rather than ORM objects.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import delete, event, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from matching.engine import (
    AdvocateProfile,
    _rules_for,
)
from matching.slots import DateRange, Interval, SlotRules, Window, first_free_slot
from models import (
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateStatus,
    AdvocateTopic,
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
    with no_cyclic_gc():
        return load_profiles(db.session.connection(), now or utcnow())


def load_profiles(connection, now: datetime, ids=None, *, retired: bool = False) -> list[AdvocateProfile]:
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
            utc_offset_hours=utc_offset_hours(zone, now.date()),
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
@lru_cache(maxsize=1024)
def utc_offset_hours(zone: str, day: date) -> float | None:
    try:
        offset = datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).utcoffset()
    except (KeyError, ValueError):
        return None
    return offset.total_seconds() / 3600 if offset is not None else None


@contextmanager
def no_cyclic_gc():
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
IN_CHUNK = 500  # ids per IN list when refreshing some rows


def microseconds(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - EPOCH) // ONE_US


def moment(us: int | None) -> datetime | None:
    return None if us is None else EPOCH + timedelta(microseconds=us)


def framed(keys) -> str:
    return _FRAME + _FRAME.join(sorted(keys)) + _FRAME if keys else _FRAME


_NO_KEYS: frozenset[str] = frozenset()


@lru_cache(maxsize=4096)  # the same few sets of keys come back on row after row
def framed_keys(framed: str) -> frozenset[str]:
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
        "last_call_us": microseconds(last),
        "next_call_us": microseconds(min(later)) if later else None,
        "too_soon_until_us": microseconds(last + timedelta(days=gap)) if last is not None and gap else None,
        "min_days_between_calls": gap,
        "max_calls_per_day": profile.max_calls_per_day,
        "formats": framed(profile.formats),
        "industry": profile.industry,
        "sector": profile.sector,
        "size_band": profile.size_band,
        "region": profile.region,
        "timezone": profile.timezone,
        "job_level_rank": profile.job_level_rank,
        "use_cases": framed(profile.use_cases),
        "glad_topics": framed(profile.glad_topics),
        "avoided_topics": framed(profile.avoided_topics),
        "competitors": framed(profile.competitors),
        "refused_companies": framed(profile.refused_companies),
        "feedback_average": profile.feedback_average,
        "has_windows": bool(profile.windows),
        "slot_start_us": microseconds(slot.start) if slot else None,
        "slot_end_us": microseconds(slot.end) if slot else None,
        "computed_us": microseconds(now),
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
        chunks = [ids[i:i + IN_CHUNK] for i in range(0, len(ids), IN_CHUNK)]
    written = 0
    with no_cyclic_gc():
        for chunk in chunks:
            profiles = load_profiles(connection, now, chunk, retired=True)
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
        bump_pool_version(connection)
    return written


def refresh_stale(now: datetime | None = None) -> int:
    """Recompute the rows time has overtaken: counted for another quarter, a call begun since,
    or a stored slot now inside the notice period (or none found, a day ago or more). ``rank``
    is right without this, reading such rows' full profiles; refreshing keeps them few."""
    from workflows.transaction import transaction

    now = now or utcnow()
    rules = booking_rules()
    now_us = microseconds(now)
    row = MatchRow.__table__.c
    stale = db.session.scalars(select(row.advocate_id).where(
        (row.calls_quarter != quarter_of(now)) | (row.next_call_us <= now_us)
        | (row.has_windows & (row.slot_start_us < microseconds(now + rules.notice)))
        | (row.has_windows & row.slot_start_us.is_(None) & (row.computed_us < now_us - 86_400_000_000))
    )).all()
    db.session.rollback()
    if not stale:
        return 0
    with transaction():
        connection = db.session.connection()
        bump_pool_version(connection)
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
    return connection.execute(pool_version_query()).scalar() or 0


@cache
def pool_version_query():
    """The pool version's one row; usable as a scalar subquery in another query."""
    return select(PoolVersion.version).where(PoolVersion.id == 1)


def bump_pool_version(connection) -> None:
    table = PoolVersion.__table__
    bumped = connection.execute(update(table).where(table.c.id == 1).values(version=table.c.version + 1))
    if bumped.rowcount == 0:
        # Gone (a database emptied or restored): start again from the clock, so no number seen
        # before comes back and no kept ranking passes for current.
        connection.execute(insert(table).values(id=1, version=microseconds(utcnow())))


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
    return [keys[i:i + IN_CHUNK] for i in range(0, len(keys), IN_CHUNK)]


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
    bump_pool_version(connection)
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
