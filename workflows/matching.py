"""Ranking for a request from the match rows (``workflows.match_rows``): the cheap hard rules in
SQL, the engine (``matching.engine``) for scoring and for the rows the SQL cannot decide.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import NamedTuple

from flask import current_app
from sqlalchemy import String, bindparam, cast, inspect, literal, select, union_all

from matching.engine import (
    LIVE_FORMATS,
    RULES,
    AdvocateProfile,
    Exclusion,
    KnownSlot,
    MatchResult,
    RankedCandidates,
    RequestProfile,
    Scorer,
    ScoringFacts,
    Weights,
    best_first,
    exclusion,
    scoring_facts,
)
from matching.slots import Interval, SlotRules
from models import (
    AdvocateStatus,
    Ask,
    Format,
    Industry,
    MatchRow,
    ReferenceRequest,
    Region,
    db,
    quarter_of,
)
from models._columns import name_key as name_key_of
from models.catalogues import size_band_index
from models.types import utcnow
from workflows.match_rows import (
    IN_CHUNK,
    RECHECK,
    framed,
    framed_keys,
    load_profiles,
    microseconds,
    moment,
    no_cyclic_gc,
    pool_version_query,
    utc_offset_hours,
)
from workflows.request_tags import TAG_LINKS
from workflows.slots import booking_rules


def weights() -> Weights:
    """Score weights from the config (``MATCH_WEIGHTS``), else the defaults."""
    configured = current_app.config.get("MATCH_WEIGHTS") or {}
    return Weights(**configured)


_ASKED = "asked"  # the advocates asked already, their ids as text beside the tags


@cache
def request_queries():
    """The request's own columns (and the pool version, which a kept ranking is checked against);
    its tags and who has been asked already: built once."""
    requests, formats = ReferenceRequest.__table__, Format.__table__
    industries, regions = Industry.__table__, Region.__table__
    request_id = bindparam("request_id")
    version = pool_version_query().scalar_subquery()
    the_request = (
        select(requests.c.prospect_company, requests.c.format_code, requests.c.employees,
               requests.c.needed_by, formats.c.name, industries.c.key, industries.c.sector, regions.c.key,
               version)
        .select_from(requests.outerjoin(formats, formats.c.code == requests.c.format_code)
                     .outerjoin(industries, industries.c.id == requests.c.industry_id)
                     .outerjoin(regions, regions.c.id == requests.c.region_id))
        .where(requests.c.id == request_id))
    asks = Ask.__table__
    tags_and_asked = union_all(
        *(select(literal(kind).label("kind"), tag.__table__.c.key, tag.__table__.c.name)
          .join_from(link, tag.__table__, tag.__table__.c.id == link.c[f"{kind}_id"])
          .where(link.c.request_id == request_id)
          for kind, link, tag in TAG_LINKS),
        select(literal(_ASKED), cast(asks.c.advocate_id, String), literal(""))
        .where(asks.c.request_id == request_id))
    return the_request, tags_and_asked


def request_profile(request: ReferenceRequest) -> RequestProfile:
    """The request as matching reads it, from the database: what this transaction has changed of
    it is flushed first. Read in a few small queries of its columns, without building the
    request's objects again (one the caller holds may have been expired)."""
    return _profile_and_version(request)[0]


def _profile_and_version(request: ReferenceRequest) -> tuple[RequestProfile, int]:
    """``request_profile``, and the pool version read in the same query."""
    session = db.session
    if session.new or session.dirty or session.deleted:
        session.flush()
    request_id = inspect(request).identity[0]
    connection, parameters = session.connection(), {"request_id": request_id}
    the_request, tags_and_asked = request_queries()
    prospect, format_code, employees, needed_by_day, format_name, industry, sector, region, version = (
        connection.execute(the_request, parameters).one())
    named: dict[str, list[tuple[str, str]]] = {kind: [] for kind, _, _ in TAG_LINKS}
    already_asked = []
    for kind, key, name in connection.execute(tags_and_asked, parameters):
        if kind == _ASKED:
            already_asked.append(int(key))
        else:
            named[kind].append((key, name))
    needed_by = None
    if needed_by_day is not None:
        # The call has to happen by the end of the needed-by day (UTC).
        needed_by = datetime.combine(needed_by_day + timedelta(days=1), datetime.min.time(), UTC)
    profile = RequestProfile(
        id=request_id,
        prospect_company=name_key_of(prospect),
        prospect_company_name=prospect,
        format=format_code,
        format_name=format_name or format_code,
        industry=industry,
        sector=sector,
        size_band=size_band_index(employees),
        region=region,
        use_cases=frozenset(key for key, _ in named["use_case"]),
        topics=frozenset(key for key, _ in named["topic"]),
        topic_names=tuple(sorted(named["topic"])),
        competitors=frozenset(key for key, _ in named["competitor"]),
        competitor_names=tuple(sorted(named["competitor"])),
        needed_by=needed_by,
        already_asked=frozenset(already_asked),
    )
    return profile, version or 0

# --- ranking from the match rows ------------------------------------------------------------------

EXCLUDED_NAMED = 100  # excluded advocates named one by one, by advocate number: a page of them
FIRST_CANDIDATES = 10  # candidates whose reasons are written with the ranking; the rest when looked at
# What the SQL answers for each row, as the small integer its CASE gives: eligible, to be decided by
# the engine from the full profile (RECHECK), or the code of the first rule that fails.
OUTCOMES = ("", RECHECK, *(code for code, _ in RULES))
_OUTCOME = {outcome: number for number, outcome in enumerate(OUTCOMES)}
# What of a match row makes the advocate's profile, in the order ``_row_profile`` reads it.
_PROFILE_COLUMNS = (
    "advocate_id", "name", "company", "company_key", "status", "consented", "snoozed_until_day", "calls",
    "quarterly_limit", "last_call_us", "min_days_between_calls", "max_calls_per_day", "formats", "industry",
    "sector", "size_band", "region", "timezone", "job_level_rank", "use_cases", "glad_topics",
    "avoided_topics", "competitors", "refused_companies", "feedback_average", "has_windows", "slot_start_us",
    "slot_end_us",
)
_HAS_WINDOWS, _SLOT_START = _PROFILE_COLUMNS.index("has_windows"), _PROFILE_COLUMNS.index("slot_start_us")
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
    named: str  # the first excluded, by id: their ``_PROFILE_COLUMNS`` and the outcome
    parameters: dict


def match_queries(dialect: str, request: RequestProfile, now: datetime, slot_rules: SlotRules,
                  named: int = EXCLUDED_NAMED) -> MatchQueries:
    def ph(name: str) -> str:
        return f"%({name})s" if dialect == "postgresql" else f":{name}"

    contains = "strpos" if dialect == "postgresql" else "instr"
    parameters = {
        "today": now.date().toordinal(), "now": microseconds(now), "quarter": quarter_of(now),
        "format": framed([request.format]), "prospect": request.prospect_company,
        "prospect_framed": framed([request.prospect_company]), "request_id": request.id,
        "named": named,
    }

    def has(column: str, name: str, key: str) -> str:
        parameters[name] = framed([key])
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
        parameters["earliest"] = microseconds(now + slot_rules.notice)
        whens.append(("NOT has_windows", "no_free_slot"))
        if request.needed_by is not None:
            # Nothing free up to the horizon when the row was computed, which reaches past the
            # needed-by date: nothing can be free before it now either.
            parameters["needed_by"] = microseconds(request.needed_by)
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
        named=f"SELECT * FROM (SELECT {', '.join(_PROFILE_COLUMNS)}, {case} AS outcome FROM {table} "
              f"WHERE status <> 'retired') AS ranked WHERE outcome > {_OUTCOME[RECHECK]} "
              f"ORDER BY advocate_id LIMIT {ph('named')}",
        parameters=parameters,
    )


def rank(request: ReferenceRequest, now: datetime | None = None, *,
         named: int = EXCLUDED_NAMED) -> MatchResult:
    """Every eligible advocate for the request, best first, how many each rule left out, and the
    first ``named`` of those left out with the rule and its detail.

    The match rows answer most of it in three queries; the engine scores each distinct set of the
    eligible's facts and decides the few rows the SQL cannot (``RECHECK``) from their full
    profiles. A candidate's reasons are written from its match row when it is first looked at
    (the first ``FIRST_CANDIDATES`` at once, in a fourth query).
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

    with no_cyclic_gc():
        outcomes = Counter(outcome for (outcome,) in fetch(queries.outcomes))
        ranked: list[tuple[int, int]] = []
        recheck: list[int] = []
        today = now.date()
        scorer = Scorer(profile, weights=the_weights, now=now)
        scored: dict[tuple, int] = {}  # many advocates share the same facts: each is scored once
        append = ranked.append
        for row in fetch(queries.eligible):
            if row[_STALE]:
                recheck.append(row[_ADVOCATE_ID])
                continue
            stored = row[:_STALE]
            points = scored.get(stored)
            if points is None:
                points = scored[stored] = scorer((
                    *stored[:_ZONE], utc_offset_hours(stored[_ZONE], today),
                    *stored[_ZONE + 1:_LAST_CALL], moment(stored[_LAST_CALL]), *stored[_LAST_CALL + 1:]))
            append((points, row[_ADVOCATE_ID]))
        counts = {OUTCOMES[outcome]: count for outcome, count in outcomes.items()
                  if outcome > _OUTCOME[RECHECK]}
        rechecked: list[Exclusion] = []
        fresh: dict[int, AdvocateProfile] = {}
        for full in (load_profiles(connection, now, recheck) if recheck else ()):
            left_out = exclusion(profile, full, now=now, slot_rules=slot_rules)
            if left_out is None:
                fresh[full.id] = full
                ranked.append((scorer(scoring_facts(profile, full)), full.id))
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

    candidates = RankedCandidates(profile, ranked, profiles, weights=the_weights, now=now)
    candidates[:FIRST_CANDIDATES]  # the ones every page shows, written while the transaction is open
    return MatchResult(
        candidates,
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
    profile, version = _profile_and_version(request)
    slot_rules, the_weights = booking_rules(), weights()
    key = (profile, named, slot_rules, the_weights, version, db.engine.url)
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
    no_free_slot = _OUTCOME["no_free_slot"]
    for row in rows:
        if row[-1] == no_free_slot and row[_HAS_WINDOWS] and row[_SLOT_START] is None:
            searched.append(row[0])
            continue
        left_out = exclusion(request, _row_profile(row, today), now=now, slot_rules=slot_rules)
        if left_out is not None:
            found.append(left_out)
    for full in (load_profiles(connection, now, searched) if searched else ()):
        left_out = exclusion(request, full, now=now, slot_rules=slot_rules)
        if left_out is not None:
            found.append(left_out)
    return found


@cache
def _profile_rows():
    table = MatchRow.__table__
    return (select(*(table.c[name] for name in _PROFILE_COLUMNS))
            .where(table.c.advocate_id.in_(bindparam("ids", expanding=True))))


def _row_profiles(connection, ids: list[int], today: date) -> list[AdvocateProfile]:
    """The advocates' profiles from their match rows, still valid at this moment."""
    found = []
    for start in range(0, len(ids), IN_CHUNK):
        rows = connection.execute(_profile_rows(), {"ids": ids[start:start + IN_CHUNK]})
        found.extend(_row_profile(row, today) for row in rows)
    return found


def _row_profile(row, today: date) -> AdvocateProfile:
    """An advocate as the engine sees it, from a match row still valid at this moment (its
    ``_PROFILE_COLUMNS`` in that order)."""
    (advocate_id, name, company, company_key, status, consented, snoozed, calls, quarterly_limit,
     last_call_us, min_days_between_calls, max_calls_per_day, formats, industry, sector, size_band,
     region, timezone, job_level_rank, use_cases, glad_topics, avoided_topics, competitors,
     refused_companies, feedback_average, has_windows, slot_start_us, slot_end_us) = (
        row[:len(_PROFILE_COLUMNS)])
    slot = None
    if slot_start_us is not None:
        slot = Interval(moment(slot_start_us), moment(slot_end_us))
    return AdvocateProfile(
        id=advocate_id, name=name, company=company, company_key=company_key,
        active=status == AdvocateStatus.ACTIVE, status=status, consented=bool(consented),
        snoozed_until=date.fromordinal(snoozed) if snoozed is not None else None,
        calls_this_quarter=calls, quarterly_limit=quarterly_limit,
        last_call_at=moment(last_call_us), min_days_between_calls=min_days_between_calls,
        formats=framed_keys(formats), industry=industry, sector=sector,
        size_band=size_band, region=region, job_level_rank=job_level_rank,
        utc_offset_hours=utc_offset_hours(timezone, today),
        use_cases=framed_keys(use_cases), glad_topics=framed_keys(glad_topics),
        avoided_topics=framed_keys(avoided_topics), competitors=framed_keys(competitors),
        refused_companies=framed_keys(refused_companies), feedback_average=feedback_average,
        timezone=timezone, max_calls_per_day=max_calls_per_day,
        first_slot=KnownSlot(bool(has_windows), slot),
    )


def standing(request: ReferenceRequest, advocate_id: int, now: datetime | None = None):
    """One advocate as the engine ranks them for the request right now, from their full profile:
    their ``Candidate``, the ``Exclusion`` naming the rule, or None when they are retired or gone."""
    from matching.engine import candidate

    now = now or utcnow()
    profile = request_profile(request)
    found = load_profiles(db.session.connection(), now, [advocate_id])
    if not found:
        return None
    left_out = exclusion(profile, found[0], now=now, slot_rules=booking_rules())
    return left_out if left_out is not None else candidate(profile, found[0], weights=weights(), now=now)
