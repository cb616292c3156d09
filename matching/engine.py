"""Ranking advocates for a request (DESIGN.md §5 "Eligibility" and "Score").

Every advocate handed in comes out either as a candidate, with a score of 0–100 and the
reasons that make it up (their points add up to the score), or as an exclusion naming the one
rule that ruled it out — the first that failed, in the fixed order of ``RULES`` — with a
detail giving its specifics (which topic, snoozed until when, 4 of 4 calls used, the first
free slot after the needed-by date). Details are written for exclusions only.
Ties break on the advocate id, so the same data always gives the same ranking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
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


@dataclass(frozen=True, slots=True)
class AdvocateProfile:
    """One advocate as the engine sees it. Names are case-folded keys."""

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
        excluded_by = _excluded_by(request, advocate, now, today, slot_rules)
        if excluded_by is not None:
            excluded.append(Exclusion(advocate.id, advocate.name, *excluded_by))
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
        if not advocate.windows:
            return "no_free_slot", "no weekly availability windows on their profile"
        rules = _rules_for(advocate, slot_rules)
        # Searched to the horizon rather than to the needed-by date: the answer is the same, as
        # slots come earliest first, and the first slot after the date is the detail.
        slot = first_free_slot(
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
