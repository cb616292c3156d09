"""Ranking for a request from the match rows (``workflows.match_rows``): the cheap hard rules in
SQL, the engine (``matching.engine``) for scoring and for the rows the SQL cannot decide.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import inspect, select
from sqlalchemy.orm import joinedload, selectinload

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
    MatchRow,
    ReferenceRequest,
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
    pool_version,
    utc_offset_hours,
)
from workflows.slots import booking_rules


def weights() -> Weights:
    """Score weights from the config (``MATCH_WEIGHTS``), else the defaults."""
    configured = current_app.config.get("MATCH_WEIGHTS") or {}
    return Weights(**configured)


_REQUEST_PARTS = (ReferenceRequest.format, ReferenceRequest.industry, ReferenceRequest.region,
                  ReferenceRequest.use_cases, ReferenceRequest.topics, ReferenceRequest.competitors)


def request_profile(request: ReferenceRequest) -> RequestProfile:
    if inspect(request).unloaded & {part.key for part in _REQUEST_PARTS}:
        # Read what is missing at once rather than one lazy load after another.
        db.session.scalars(select(ReferenceRequest).where(ReferenceRequest.id == request.id).options(
            *(joinedload(part) for part in _REQUEST_PARTS[:3]),
            *(selectinload(part) for part in _REQUEST_PARTS[3:]),
        )).unique().one()
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

# --- ranking from the match rows ------------------------------------------------------------------

EXCLUDED_NAMED = 100  # excluded advocates named one by one, by advocate number: a page of them
FIRST_CANDIDATES = 10  # candidates whose reasons are written with the ranking; the rest when looked at
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
        named=f"SELECT * FROM (SELECT {', '.join(_ALL_COLUMNS)}, {case} AS outcome FROM {table} "
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
                facts = ScoringFacts._make(stored)._replace(
                    utc_offset_hours=utc_offset_hours(stored[_ZONE], today),
                    last_call_at=moment(stored[_LAST_CALL]))
                points = scored[stored] = scorer(facts)
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
    for full in (load_profiles(connection, now, searched) if searched else ()):
        left_out = exclusion(request, full, now=now, slot_rules=slot_rules)
        if left_out is not None:
            found.append(left_out)
    return found


def _row_profiles(connection, ids: list[int], today: date) -> list[AdvocateProfile]:
    """The advocates' profiles from their match rows, still valid at this moment."""
    found = []
    table = MatchRow.__table__
    for start in range(0, len(ids), IN_CHUNK):
        query = select(*table.columns).where(table.c.advocate_id.in_(ids[start:start + IN_CHUNK]))
        found.extend(_row_profile(row._asdict(), today) for row in connection.execute(query))
    return found


def _row_profile(row: dict, today: date) -> AdvocateProfile:
    """An advocate as the engine sees it, from a match row still valid at this moment."""
    slot = None
    if row["slot_start_us"] is not None:
        slot = Interval(moment(row["slot_start_us"]), moment(row["slot_end_us"]))
    snoozed = row["snoozed_until_day"]
    return AdvocateProfile(
        id=row["advocate_id"], name=row["name"], company=row["company"], company_key=row["company_key"],
        active=row["status"] == AdvocateStatus.ACTIVE, status=row["status"], consented=bool(row["consented"]),
        snoozed_until=date.fromordinal(snoozed) if snoozed is not None else None,
        calls_this_quarter=row["calls"], quarterly_limit=row["quarterly_limit"],
        last_call_at=moment(row["last_call_us"]), min_days_between_calls=row["min_days_between_calls"],
        formats=framed_keys(row["formats"]), industry=row["industry"], sector=row["sector"],
        size_band=row["size_band"], region=row["region"], job_level_rank=row["job_level_rank"],
        utc_offset_hours=utc_offset_hours(row["timezone"], today),
        use_cases=framed_keys(row["use_cases"]), glad_topics=framed_keys(row["glad_topics"]),
        avoided_topics=framed_keys(row["avoided_topics"]), competitors=framed_keys(row["competitors"]),
        refused_companies=framed_keys(row["refused_companies"]), feedback_average=row["feedback_average"],
        timezone=row["timezone"], max_calls_per_day=row["max_calls_per_day"],
        first_slot=KnownSlot(bool(row["has_windows"]), slot),
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
