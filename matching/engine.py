"""Ranking advocates for a request (DESIGN.md §5 "Eligibility" and "Score").

Every advocate handed in comes out either as a candidate, with a score of 0–100 and the
reasons that make it up (their points add up to the score), or as an exclusion naming the one
rule that ruled it out — the first that failed, in the fixed order of ``RULES`` — with a
detail giving its specifics (which topic, snoozed until when, 4 of 4 calls used, the first
free slot after the needed-by date). Details are written for exclusions only.
Ties break on the advocate id, so the same data always gives the same ranking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import NamedTuple

from matching.slots import DateRange, Interval, SlotRules, Window, first_free_slot

LIVE_FORMATS = frozenset({"call", "video", "site_visit"})

# (code, what the coordinator reads), in the order they are checked: the cheap ones first,
# the slot search last.
RULES: tuple[tuple[str, str], ...] = (
    ("not_active", "Not an active advocate"),
    ("no_consent", "No recorded consent to be a reference"),
    ("snoozed", "Snoozed"),
    ("quota_reached", "No calls left this quarter"),
    ("too_soon", "Too soon after their last call"),
    ("format_not_accepted", "Does not do this format"),
    ("own_company", "Works at the prospect's company"),
    ("refused_company", "Will not speak with this company"),
    ("already_asked", "Already asked for this request"),
    ("avoided_topic", "Would rather not talk about a topic the prospect needs"),
    ("no_free_slot", "No free slot before the needed-by date"),
)
RULE_TEXT = dict(RULES)
# The ``not_active`` detail for each profile status.
STATUS_WORDS = {
    "candidate": "still a candidate: not invited to the program yet",
    "invited": "invited, but has not joined the program yet",
    "paused": "their profile is paused",
    "retired": "retired from the program",
}

# Size bands in order (models.catalogues.SIZE_BANDS); adjacent bands score half.
SIZE_BAND_COUNT = 5
# Job level ranks: 1 executive, 2 director, 3 manager, 4 practitioner. The level a prospect of
# each size band most wants to hear from.
WANTED_LEVEL_BY_BAND = (4, 3, 3, 2, 1)
# Typical UTC offset (hours) of each region, for the time-zone overlap of advocates elsewhere.
REGION_UTC_OFFSET = {
    "north america": -6,
    "latin america": -4,
    "europe": 1,
    "middle east & africa": 3,
    "asia pacific": 8,
}


@dataclass(frozen=True, slots=True)
class Weights:
    """Points each part of the score can give at most; they add up to 100."""

    industry: int = 20
    size: int = 10
    use_cases: int = 20
    topics: int = 15
    competitors: int = 10
    region: int = 5
    job_level: int = 5
    load: int = 10
    feedback: int = 5

    def total(self) -> int:
        return (self.industry + self.size + self.use_cases + self.topics + self.competitors
                + self.region + self.job_level + self.load + self.feedback)


@dataclass(frozen=True, slots=True)
class RequestProfile:
    """What the request asks for. Names (industry, tags, companies) are case-folded keys."""

    id: int
    prospect_company: str
    format: str
    industry: str | None = None
    sector: str | None = None
    size_band: int | None = None  # index into the size bands, 0 = smallest
    region: str | None = None
    use_cases: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    competitors: frozenset[str] = frozenset()
    needed_by: datetime | None = None  # the call must end by this moment
    already_asked: frozenset[int] = frozenset()
    # How the request spells its competitors and topics (key → name), its format and the
    # prospect's company, for the reasons and exclusions people read.
    competitor_names: tuple[tuple[str, str], ...] = ()
    topic_names: tuple[tuple[str, str], ...] = ()
    format_name: str = ""
    prospect_company_name: str = ""


@dataclass(slots=True)
class AdvocateProfile:
    """One advocate as the engine sees it. Names are case-folded keys.

    Not frozen, though nothing changes one once it is made: profiles are built by the thousand
    per match, and a frozen dataclass's ``__init__`` takes four times as long."""

    id: int
    name: str
    company: str  # display name
    company_key: str
    active: bool = True
    status: str = "active"  # candidate, invited, active, paused or retired
    consented: bool = True
    snoozed_until: date | None = None
    calls_this_quarter: int = 0
    quarterly_limit: int = 0
    last_call_at: datetime | None = None
    min_days_between_calls: int = 0
    formats: frozenset[str] = frozenset()
    industry: str | None = None
    sector: str | None = None
    size_band: int | None = None
    region: str | None = None
    utc_offset_hours: float | None = None
    job_level_rank: int | None = None
    use_cases: frozenset[str] = frozenset()
    glad_topics: frozenset[str] = frozenset()
    avoided_topics: frozenset[str] = frozenset()
    competitors: frozenset[str] = frozenset()
    refused_companies: frozenset[str] = frozenset()
    feedback_average: float | None = None  # prospects' ratings, 1–5
    # Availability, for live formats.
    timezone: str = "UTC"
    windows: tuple[Window, ...] = ()
    blackouts: tuple[DateRange, ...] = ()
    busy: tuple[Interval, ...] = ()
    max_calls_per_day: int = 1
    # The slot search's answer when the caller already knows it for ``now`` (a stored next
    # free slot still ahead of the notice period): then windows, blackouts and busy are unused.
    first_slot: KnownSlot | None = None


class KnownSlot(NamedTuple):
    has_windows: bool
    slot: Interval | None


class ScoringFacts(NamedTuple):
    """What scoring reads of one eligible advocate, with the request already compared in: which
    of its use cases, topics and competitors the advocate shares, whether the industry, sector
    and region are the same. ``scoring_facts`` works them out from a full profile; the database
    can too, without handing the sets over, and many advocates share the same facts."""

    same_industry: bool
    same_sector: bool
    size_band: int | None
    same_region: bool
    utc_offset_hours: float | None
    job_level_rank: int | None
    use_cases_covered: int  # how many of the request's use cases the advocate has
    topics_covered: int  # how many of the request's topics the advocate is glad to discuss
    competitors_shared: bool  # has evaluated or replaced a competitor the request names
    calls_this_quarter: int
    quarterly_limit: int
    last_call_at: datetime | None
    feedback_average: float | None


def scoring_facts(request: RequestProfile, advocate: AdvocateProfile) -> ScoringFacts:
    return ScoringFacts(
        bool(request.industry) and advocate.industry == request.industry,
        bool(request.sector) and advocate.sector == request.sector,
        advocate.size_band,
        bool(request.region) and advocate.region == request.region,
        advocate.utc_offset_hours,
        advocate.job_level_rank,
        len(request.use_cases & advocate.use_cases),
        len(request.topics & advocate.glad_topics),
        not request.competitors.isdisjoint(advocate.competitors),
        advocate.calls_this_quarter,
        advocate.quarterly_limit,
        advocate.last_call_at,
        advocate.feedback_average,
    )


# Results are named tuples: immutable like the dataclasses above, and cheap to make by the
# ten thousand (a frozen dataclass pays for object.__setattr__ on every field).
class Reason(NamedTuple):
    label: str
    points: int


class Candidate(NamedTuple):
    advocate_id: int
    name: str
    company: str
    score: int
    reasons: tuple[Reason, ...]


class Exclusion(NamedTuple):
    advocate_id: int
    name: str
    rule: str
    detail: str = ""  # the rule's specifics for this advocate, like "4 of 4 calls this quarter"

    @property
    def text(self) -> str:
        return RULE_TEXT[self.rule]


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Candidates best first; the excluded by advocate id — all of them, or the first page of
    them when the pool is large — and how many each rule excluded, for everyone."""

    candidates: Sequence[Candidate]
    excluded: Sequence[Exclusion] = field(default=())
    excluded_by_rule: Mapping[str, int] = field(default_factory=dict)

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded_by_rule.values())


class RankedCandidates(Sequence[Candidate]):
    """Every eligible advocate, best first, from (score, id) pairs. A candidate's reasons are
    written when it is first looked at, so only for the ones shown, from the full profiles
    ``profiles`` hands over for a batch of advocate ids."""

    BATCH = 100  # profiles asked for at once when iterating

    def __init__(self, request: RequestProfile, ranked: list[tuple[int, int]],
                 profiles: Callable[[list[int]], Mapping[int, AdvocateProfile]], *, weights: Weights,
                 now: datetime) -> None:
        self._request, self._ranked, self._profiles = request, ranked, profiles
        self._weights, self._now = weights, now
        self._made: dict[int, Candidate] = {}

    def __len__(self) -> int:
        return len(self._ranked)

    @property
    def ranking(self) -> list[tuple[int, int]]:
        """The (score, advocate id) pairs, best first, as ranked."""
        return self._ranked

    def __getitem__(self, index):
        if isinstance(index, slice):
            positions = range(*index.indices(len(self._ranked)))
            self._make([p for p in positions if p not in self._made])
            return [self._made[p] for p in positions]
        if index < 0:
            index += len(self._ranked)
        if not 0 <= index < len(self._ranked):
            raise IndexError(index)
        if index not in self._made:
            self._make([index])
        return self._made[index]

    def __iter__(self):
        for start in range(0, len(self._ranked), self.BATCH):
            yield from self[start:start + self.BATCH]

    def _make(self, positions: list[int]) -> None:
        if not positions:
            return
        ids = [self._ranked[p][1] for p in positions]
        profiles = self._profiles(ids)
        for position, advocate_id in zip(positions, ids, strict=True):
            self._made[position] = candidate(self._request, profiles[advocate_id], weights=self._weights,
                                             now=self._now)


def match(
    request: RequestProfile,
    advocates: Iterable[AdvocateProfile],
    *,
    now: datetime,
    weights: Weights = Weights(),
    slot_rules: SlotRules = SlotRules(),
) -> MatchResult:
    """Rank every advocate for the request: candidates best first, and who was left out why."""
    candidates: list[Candidate] = []
    excluded: list[Exclusion] = []
    today = now.date()
    for advocate in advocates:
        excluded_by = _excluded_by(request, advocate, now, today, slot_rules)
        if excluded_by is not None:
            excluded.append(Exclusion(advocate.id, advocate.name, *excluded_by))
            continue
        candidates.append(candidate(request, advocate, weights=weights, now=now))
    candidates.sort(key=lambda c: (-c.score, c.advocate_id))
    excluded.sort(key=lambda e: e.advocate_id)
    return MatchResult(tuple(candidates), tuple(excluded), dict(Counter(e.rule for e in excluded)))


def candidate(
    request: RequestProfile, advocate: AdvocateProfile, *, weights: Weights = Weights(), now: datetime,
) -> Candidate:
    """An eligible advocate with its score and the reasons that make it up."""
    reasons = score_reasons(request, advocate, weights=weights, now=now)
    return Candidate(advocate.id, advocate.name, advocate.company, sum(r.points for r in reasons), reasons)


def scores(
    request: RequestProfile, advocates: Iterable[AdvocateProfile], *, weights: Weights = Weights(),
    now: datetime,
) -> list[tuple[int, int]]:
    """(score, advocate id) of each eligible advocate, best first, ties on the id: the ranking
    without writing any reason's text (``candidate`` writes it for the ones shown)."""
    scorer = Scorer(request, weights=weights, now=now)
    return best_first([(scorer(scoring_facts(request, advocate)), advocate.id) for advocate in advocates])


class Scorer:
    """Scores for one request, many advocates, as ``candidate``'s reasons add them up (the parts
    of ``fact_parts``, without their text). The parts come in three groups (the company and
    the person, the request's needs, the load) whose facts take few values that many advocates
    share, so each group's points are worked out once per combination of its facts."""

    def __init__(self, request: RequestProfile, *, weights: Weights = Weights(), now: datetime) -> None:
        self._request, self._weights, self._now = request, weights, now
        self._fixed: dict[tuple, int] = {}
        self._need: dict[tuple, int] = {}
        self._load: dict[tuple, int] = {}

    def __call__(self, facts: ScoringFacts | tuple) -> int:
        (same_industry, same_sector, size_band, same_region, utc_offset, level,
         use_cases, topics, competitors, calls, limit, last_call, feedback) = facts
        request, weights = self._request, self._weights
        key = (same_industry, same_sector, size_band, same_region, utc_offset, level)
        fixed = self._fixed.get(key)
        if fixed is None:
            parts: dict[str, int] = {}
            _company_parts(parts, request, weights, same_industry, same_sector, size_band)
            _person_parts(parts, request, weights, same_region, utc_offset, level)
            fixed = self._fixed[key] = sum(parts.values())
        key = (use_cases, topics, competitors)
        need = self._need.get(key)
        if need is None:
            parts = {}
            _need_parts(parts, request, weights, use_cases, topics, competitors)
            need = self._need[key] = sum(parts.values())
        key = (calls, limit, last_call, feedback)
        load = self._load.get(key)
        if load is None:
            parts = {}
            _load_parts(parts, weights, self._now, calls, limit, last_call, feedback)
            load = self._load[key] = sum(parts.values())
        return fixed + need + load


def best_first(ranked: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(score, advocate id) pairs sorted best first, ties on the id, in place."""
    ranked.sort(key=itemgetter(1))
    ranked.sort(key=itemgetter(0), reverse=True)  # stable: equal scores stay in id order
    return ranked


def exclusion_rule(
    request: RequestProfile,
    advocate: AdvocateProfile,
    *,
    now: datetime,
    today: date | None = None,
    slot_rules: SlotRules = SlotRules(),
) -> str | None:
    """The code of the first rule (in ``RULES`` order) that excludes the advocate, or None."""
    left_out = exclusion(request, advocate, now=now, today=today, slot_rules=slot_rules)
    return left_out.rule if left_out is not None else None


def exclusion(
    request: RequestProfile,
    advocate: AdvocateProfile,
    *,
    now: datetime,
    today: date | None = None,
    slot_rules: SlotRules = SlotRules(),
) -> Exclusion | None:
    """The first rule (in ``RULES`` order) that excludes the advocate, with its detail, or None."""
    found = _excluded_by(request, advocate, now, today or now.date(), slot_rules)
    return Exclusion(advocate.id, advocate.name, *found) if found is not None else None


def _excluded_by(
    request: RequestProfile, advocate: AdvocateProfile, now: datetime, today: date, slot_rules: SlotRules
) -> tuple[str, str] | None:
    """(rule, detail) of the first rule that excludes the advocate, or None."""
    if not advocate.active:
        return "not_active", STATUS_WORDS.get(advocate.status, f"their profile is {advocate.status}")
    if not advocate.consented:
        return "no_consent", "no consent date on their profile yet"
    if advocate.snoozed_until is not None and advocate.snoozed_until >= today:
        return "snoozed", f"snoozed until {_day(advocate.snoozed_until)}"
    if advocate.calls_this_quarter >= advocate.quarterly_limit:
        used, limit = advocate.calls_this_quarter, advocate.quarterly_limit
        return "quota_reached", f"{used} of {limit} {_calls(limit)} this quarter"
    gap = advocate.min_days_between_calls
    if advocate.last_call_at is not None and gap and now - advocate.last_call_at < timedelta(days=gap):
        last = advocate.last_call_at
        return "too_soon", (
            f"last call on {_day(last)}; asks for at least {gap} {_days(gap)} between calls, "
            f"so not before {_day(last + timedelta(days=gap))}"
        )
    if request.format not in advocate.formats:
        if not advocate.formats:
            return "format_not_accepted", "no formats on their profile yet"
        spelled = request.format_name or request.format
        return "format_not_accepted", f"{spelled} is not among the formats they accept"
    if request.prospect_company == advocate.company_key:
        return "own_company", f"works at {advocate.company or request.prospect_company_name}"
    if request.prospect_company in advocate.refused_companies:
        spelled = request.prospect_company_name or request.prospect_company
        return "refused_company", f"has asked not to speak with {spelled}"
    if advocate.id in request.already_asked:
        return "already_asked", "asked before for this request; an advocate is asked once per request"
    if request.topics and not request.topics.isdisjoint(advocate.avoided_topics):
        names = dict(request.topic_names)
        avoided = sorted((names.get(key, key) for key in request.topics & advocate.avoided_topics),
                         key=str.casefold)
        return "avoided_topic", f"would rather not discuss {_listed(avoided)}"
    if request.format in LIVE_FORMATS:
        known = advocate.first_slot
        if not (known.has_windows if known is not None else advocate.windows):
            return "no_free_slot", "no weekly availability windows on their profile"
        rules = _rules_for(advocate, slot_rules)
        # Searched to the horizon rather than to the needed-by date: the answer is the same, as
        # slots come earliest first, and the first slot after the date is the detail.
        slot = known.slot if known is not None else first_free_slot(
            advocate.windows,
            zone=advocate.timezone,
            now=now,
            blackouts=advocate.blackouts,
            busy=advocate.busy,
            rules=rules,
        )
        if slot is None or (request.needed_by is not None and slot.end > request.needed_by):
            return "no_free_slot", _no_slot_words(slot, request.needed_by, now, rules.horizon_days)
    return None


def _no_slot_words(
    slot: Interval | None, needed_by: datetime | None, now: datetime, horizon_days: int
) -> str:
    if slot is None:
        if needed_by is None or needed_by >= now + timedelta(days=horizon_days):
            return f"no free slot in the next {horizon_days} days"
        return (f"no free slot before the needed-by date {_day(_last_day(needed_by))}, "
                f"nor after it within the next {horizon_days} days")
    start = slot.start.astimezone(UTC)
    return (f"first free slot is {_day(start)} at {start:%H:%M} UTC, "
            f"after the needed-by date {_day(_last_day(needed_by))}")


def _last_day(needed_by: datetime) -> date:
    """The needed-by date: the UTC day of the last moment a call may end on (the moment itself
    is midnight after that day when the request gives a date)."""
    return (needed_by.astimezone(UTC) - timedelta(microseconds=1)).date()


def _day(day: date | datetime) -> str:
    """``12 Nov 2026``; a moment by its UTC date."""
    if isinstance(day, datetime):
        day = day.astimezone(UTC).date()
    return f"{day.day} {day:%b %Y}"


def _calls(count: int) -> str:
    return "call" if count == 1 else "calls"


def _days(count: int) -> str:
    return "day" if count == 1 else "days"


def _listed(names: list[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _rules_for(advocate: AdvocateProfile, rules: SlotRules) -> SlotRules:
    """The booking rules with the advocate's own daily limit and gap between calls."""
    per_day, gap = advocate.max_calls_per_day, advocate.min_days_between_calls
    if per_day == rules.max_per_day and gap == rules.min_days_between_calls:
        return rules
    return _with_limits(rules, per_day, gap)


@lru_cache(maxsize=256)
def _with_limits(rules: SlotRules, max_per_day: int, min_days_between_calls: int) -> SlotRules:
    return replace(rules, max_per_day=max_per_day, min_days_between_calls=min_days_between_calls)


def score_reasons(
    request: RequestProfile, advocate: AdvocateProfile, *, weights: Weights = Weights(), now: datetime,
) -> tuple[Reason, ...]:
    """The parts of the score that gave points, each a reason; their points are the score."""
    facts = scoring_facts(request, advocate)
    return tuple(Reason(_label(part, request, advocate, facts, now), points)
                 for part, points in fact_parts(request, facts, weights, now).items())


def score_parts(
    request: RequestProfile, advocate: AdvocateProfile, weights: Weights, now: datetime
) -> dict[str, int]:
    """Points of each part of the score that gave any, by part, in the order the reasons are
    read; no text (``_label`` writes it)."""
    return fact_parts(request, scoring_facts(request, advocate), weights, now)


def fact_parts(request: RequestProfile, facts: ScoringFacts, weights: Weights,
               now: datetime) -> dict[str, int]:
    parts: dict[str, int] = {}
    _company_parts(parts, request, weights, facts.same_industry, facts.same_sector, facts.size_band)
    _need_parts(parts, request, weights, facts.use_cases_covered, facts.topics_covered,
                facts.competitors_shared)
    _person_parts(parts, request, weights, facts.same_region, facts.utc_offset_hours, facts.job_level_rank)
    _load_parts(parts, weights, now, facts.calls_this_quarter, facts.quarterly_limit, facts.last_call_at,
                facts.feedback_average)
    return parts


def _company_parts(parts: dict[str, int], request: RequestProfile, weights: Weights, same_industry: bool,
                   same_sector: bool, size_band: int | None) -> None:
    if same_industry:
        parts["industry"] = weights.industry
    elif same_sector:
        _add(parts, "sector", 0.5, weights.industry)

    if request.size_band is not None and size_band is not None:
        gap = abs(request.size_band - size_band)
        if gap == 0:
            parts["size"] = weights.size
        elif gap == 1:
            _add(parts, "similar_size", 0.5, weights.size)


def _need_parts(parts: dict[str, int], request: RequestProfile, weights: Weights, use_cases_covered: int,
                topics_covered: int, competitors_shared: bool) -> None:
    if use_cases_covered:
        _add(parts, "use_cases", use_cases_covered / len(request.use_cases), weights.use_cases)
    if topics_covered:
        _add(parts, "topics", topics_covered / len(request.topics), weights.topics)
    if competitors_shared:
        parts["competitors"] = weights.competitors


def _person_parts(parts: dict[str, int], request: RequestProfile, weights: Weights, same_region: bool,
                  utc_offset_hours: float | None, job_level_rank: int | None) -> None:
    if same_region:
        parts["region"] = weights.region
    elif request.region and utc_offset_hours is not None:
        wanted = REGION_UTC_OFFSET.get(request.region)
        if wanted is not None and abs(wanted - utc_offset_hours) <= 3:
            _add(parts, "time_zone", 0.5, weights.region)

    if request.size_band is not None and job_level_rank is not None:
        wanted_rank = WANTED_LEVEL_BY_BAND[min(request.size_band, SIZE_BAND_COUNT - 1)]
        fit = 1 - abs(job_level_rank - wanted_rank) / 3
        _add(parts, "job_level", fit, weights.job_level)


def _load_parts(parts: dict[str, int], weights: Weights, now: datetime, calls: int, limit: int,
                last_call_at: datetime | None, feedback_average: float | None) -> None:
    _add(parts, "load", _load_share(calls, limit, last_call_at, now), weights.load)

    if feedback_average is not None:
        _add(parts, "feedback", (feedback_average - 1) / 4, weights.feedback)


_FIXED_LABELS = {
    "industry": "Same industry",
    "sector": "Same sector",
    "size": "Same company size",
    "similar_size": "Similar company size",
    "region": "Same region",
    "time_zone": "Overlapping time zone",
    "job_level": "Job level fits the deal",
}


def _label(part: str, request: RequestProfile, advocate: AdvocateProfile, facts: ScoringFacts,
           now: datetime) -> str:
    """What the coordinator reads for a part of the score."""
    fixed = _FIXED_LABELS.get(part)
    if fixed is not None:
        return fixed
    if part == "use_cases":
        return _covered("use case", facts.use_cases_covered, len(request.use_cases))
    if part == "topics":
        return _covered("topic", facts.topics_covered, len(request.topics))
    if part == "competitors":
        names = dict(request.competitor_names)
        return "Evaluated or replaced " + ", ".join(
            sorted(names.get(key, key) for key in request.competitors & advocate.competitors))
    if part == "load":
        return "Rested: " + _load_words(advocate, now)
    return f"Prospects rate their calls {advocate.feedback_average:.1f}/5"


def _add(parts: dict[str, int], part: str, share: float, weight: int) -> None:
    points = round(share * weight)
    if points > 0:
        parts[part] = points


def _covered(kind: str, covered: int, wanted: int) -> str:
    return f"Covers {covered} of {wanted} {kind}{'s' if wanted != 1 else ''}"


def _load_share(calls: int, limit: int, last_call_at: datetime | None, now: datetime) -> float:
    """Share of quota left (60 %) and days since the last call, up to 90 (40 %)."""
    left = (limit - calls) / limit if limit > 0 else 0.0
    rested = 1.0 if last_call_at is None else min(90.0, (now - last_call_at).total_seconds() / 86400) / 90
    return 0.6 * max(0.0, left) + 0.4 * rested


def _load_words(advocate: AdvocateProfile, now: datetime) -> str:
    left = max(0, advocate.quarterly_limit - advocate.calls_this_quarter)
    calls = f"{left} call{'s' if left != 1 else ''} left this quarter"
    if advocate.last_call_at is None:
        return calls + ", no call yet"
    days = max(0, (now - advocate.last_call_at).days)
    return f"{calls}, last call {days} day{'s' if days != 1 else ''} ago"
