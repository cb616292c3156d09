"""Ranking advocates for a request (DESIGN.md §5 "Eligibility" and "Score").

Every advocate handed in comes out either as a candidate, with a score of 0–100 and the
reasons that make it up (their points add up to the score), or as an exclusion naming the one
rule that ruled it out — the first that failed, in the fixed order of ``RULES``.
Ties break on the advocate id, so the same data always gives the same ranking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
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
    needed_by: datetime | None = None  # the call must start before this (UTC)
    already_asked: frozenset[int] = frozenset()
    # How the request spells its competitors (key → name), for the reasons people read.
    competitor_names: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AdvocateProfile:
    """One advocate as the engine sees it. Names are case-folded keys."""

    id: int
    name: str
    company: str  # display name
    company_key: str
    active: bool = True
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

    @property
    def text(self) -> str:
        return RULE_TEXT[self.rule]


@dataclass(frozen=True, slots=True)
class MatchResult:
    candidates: tuple[Candidate, ...]
    excluded: tuple[Exclusion, ...] = field(default=())


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
        rule = exclusion_rule(request, advocate, now=now, today=today, slot_rules=slot_rules)
        if rule is not None:
            excluded.append(Exclusion(advocate.id, advocate.name, rule))
            continue
        reasons = score_reasons(request, advocate, weights=weights, now=now)
        candidates.append(Candidate(
            advocate.id, advocate.name, advocate.company, sum(r.points for r in reasons), reasons
        ))
    candidates.sort(key=lambda c: (-c.score, c.advocate_id))
    excluded.sort(key=lambda e: e.advocate_id)
    return MatchResult(tuple(candidates), tuple(excluded))


def exclusion_rule(
    request: RequestProfile,
    advocate: AdvocateProfile,
    *,
    now: datetime,
    today: date | None = None,
    slot_rules: SlotRules = SlotRules(),
) -> str | None:
    """The code of the first rule (in ``RULES`` order) that excludes the advocate, or None."""
    if not advocate.active:
        return "not_active"
    if not advocate.consented:
        return "no_consent"
    if advocate.snoozed_until is not None and advocate.snoozed_until >= (today or now.date()):
        return "snoozed"
    if advocate.calls_this_quarter >= advocate.quarterly_limit:
        return "quota_reached"
    if advocate.last_call_at is not None and advocate.min_days_between_calls and (
        now - advocate.last_call_at < timedelta(days=advocate.min_days_between_calls)
    ):
        return "too_soon"
    if request.format not in advocate.formats:
        return "format_not_accepted"
    if request.prospect_company == advocate.company_key:
        return "own_company"
    if request.prospect_company in advocate.refused_companies:
        return "refused_company"
    if advocate.id in request.already_asked:
        return "already_asked"
    if request.topics and not request.topics.isdisjoint(advocate.avoided_topics):
        return "avoided_topic"
    if request.format in LIVE_FORMATS and first_free_slot(
        advocate.windows,
        zone=advocate.timezone,
        now=now,
        blackouts=advocate.blackouts,
        busy=advocate.busy,
        rules=_rules_for(advocate, slot_rules),
        until=request.needed_by,
    ) is None:
        return "no_free_slot"
    return None


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
    request: RequestProfile, advocate: AdvocateProfile, *, weights: Weights = Weights(), now: datetime
) -> tuple[Reason, ...]:
    """The parts of the score that gave points, each a reason; their points are the score."""
    reasons: list[Reason] = []
    append = reasons.append

    if request.industry and advocate.industry == request.industry:
        append(Reason("Same industry", weights.industry))
    elif request.sector and advocate.sector == request.sector:
        _add(append, "Same sector", 0.5, weights.industry)

    if request.size_band is not None and advocate.size_band is not None:
        gap = abs(request.size_band - advocate.size_band)
        if gap == 0:
            append(Reason("Same company size", weights.size))
        elif gap == 1:
            _add(append, "Similar company size", 0.5, weights.size)

    if request.use_cases:
        covered = request.use_cases & advocate.use_cases
        if covered:
            _add(append, _covered("use case", covered, request.use_cases),
                 len(covered) / len(request.use_cases), weights.use_cases)

    if request.topics:
        covered = request.topics & advocate.glad_topics
        if covered:
            _add(append, _covered("topic", covered, request.topics), len(covered) / len(request.topics),
                 weights.topics)

    if request.competitors:
        overlap = request.competitors & advocate.competitors
        if overlap:
            names = dict(request.competitor_names)
            spelled = sorted(names.get(key, key) for key in overlap)
            append(Reason("Evaluated or replaced " + ", ".join(spelled), weights.competitors))

    if request.region and advocate.region == request.region:
        append(Reason("Same region", weights.region))
    elif request.region and advocate.utc_offset_hours is not None:
        wanted = REGION_UTC_OFFSET.get(request.region)
        if wanted is not None and abs(wanted - advocate.utc_offset_hours) <= 3:
            _add(append, "Overlapping time zone", 0.5, weights.region)

    if request.size_band is not None and advocate.job_level_rank is not None:
        wanted_rank = WANTED_LEVEL_BY_BAND[min(request.size_band, SIZE_BAND_COUNT - 1)]
        fit = 1 - abs(advocate.job_level_rank - wanted_rank) / 3
        _add(append, "Job level fits the deal", fit, weights.job_level)

    _add(append, "Rested: " + _load_words(advocate, now), _load_share(advocate, now), weights.load)

    if advocate.feedback_average is not None:
        _add(append, f"Prospects rate their calls {advocate.feedback_average:.1f}/5",
             (advocate.feedback_average - 1) / 4, weights.feedback)
    return tuple(reasons)


def _add(append, label: str, share: float, weight: int) -> None:
    points = round(share * weight)
    if points > 0:
        append(Reason(label, points))


def _covered(kind: str, covered: frozenset[str], wanted: frozenset[str]) -> str:
    return f"Covers {len(covered)} of {len(wanted)} {kind}{'s' if len(wanted) != 1 else ''}"


def _load_share(advocate: AdvocateProfile, now: datetime) -> float:
    """Share of quota left (60 %) and days since the last call, up to 90 (40 %)."""
    limit = advocate.quarterly_limit
    left = (limit - advocate.calls_this_quarter) / limit if limit > 0 else 0.0
    if advocate.last_call_at is None:
        rested = 1.0
    else:
        rested = min(90.0, (now - advocate.last_call_at).total_seconds() / 86400) / 90
    return 0.6 * max(0.0, left) + 0.4 * rested


def _load_words(advocate: AdvocateProfile, now: datetime) -> str:
    left = max(0, advocate.quarterly_limit - advocate.calls_this_quarter)
    calls = f"{left} call{'s' if left != 1 else ''} left this quarter"
    if advocate.last_call_at is None:
        return calls + ", no call yet"
    days = max(0, (now - advocate.last_call_at).days)
    return f"{calls}, last call {days} day{'s' if days != 1 else ''} ago"
