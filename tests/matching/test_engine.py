"""The matching engine alone: plain dataclasses in and out, no app, no database."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.engine import (
    RULES,
    AdvocateProfile,
    RequestProfile,
    Weights,
    exclusion_rule,
    match,
    score_reasons,
)
from matching.slots import DateRange, Interval, Window

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)  # a Monday
WEEKDAYS_9_TO_12 = tuple(Window(day, time(9), time(12)) for day in range(5))


def request(**changes) -> RequestProfile:
    base = RequestProfile(
        id=1,
        prospect_company="prospect health gmbh",
        format="call",
        industry="healthcare",
        sector="health",
        size_band=2,
        region="europe",
        use_cases=frozenset({"patient intake", "billing"}),
        topics=frozenset({"security", "roi"}),
        competitors=frozenset({"acme"}),
        needed_by=NOW + timedelta(days=14),
    )
    return replace(base, **changes)


def advocate(id: int = 1, **changes) -> AdvocateProfile:
    base = AdvocateProfile(
        id=id,
        name=f"Advocate {id}",
        company="Northwind",
        company_key="northwind",
        calls_this_quarter=0,
        quarterly_limit=4,
        formats=frozenset({"call", "video", "written"}),
        industry="healthcare",
        sector="health",
        size_band=2,
        region="europe",
        utc_offset_hours=1,
        job_level_rank=3,
        use_cases=frozenset({"patient intake", "billing"}),
        glad_topics=frozenset({"security", "roi"}),
        competitors=frozenset({"acme"}),
        feedback_average=5.0,
        timezone="Europe/Berlin",
        windows=WEEKDAYS_9_TO_12,
    )
    return replace(base, **changes)


def rule_for(adv: AdvocateProfile, req: RequestProfile | None = None) -> str | None:
    return exclusion_rule(req or request(), adv, now=NOW)


# --- eligibility: one test per rule ---------------------------------------------------------


def test_a_fitting_advocate_is_eligible():
    assert rule_for(advocate()) is None


def test_not_active():
    assert rule_for(advocate(active=False)) == "not_active"


def test_no_consent():
    assert rule_for(advocate(consented=False)) == "no_consent"


def test_snoozed_until_today_or_later():
    assert rule_for(advocate(snoozed_until=NOW.date())) == "snoozed"
    assert rule_for(advocate(snoozed_until=NOW.date() - timedelta(days=1))) is None


def test_quota_reached():
    assert rule_for(advocate(calls_this_quarter=4, quarterly_limit=4)) == "quota_reached"
    assert rule_for(advocate(quarterly_limit=0)) == "quota_reached"


def test_too_soon_after_the_last_call():
    recent = advocate(last_call_at=NOW - timedelta(days=3), min_days_between_calls=7)
    assert rule_for(recent) == "too_soon"
    assert rule_for(replace(recent, last_call_at=NOW - timedelta(days=8))) is None


def test_format_not_accepted():
    assert rule_for(advocate(formats=frozenset({"written"}))) == "format_not_accepted"


def test_own_company():
    assert rule_for(advocate(company_key="prospect health gmbh")) == "own_company"


def test_refused_company():
    assert rule_for(advocate(refused_companies=frozenset({"prospect health gmbh"}))) == "refused_company"


def test_already_asked():
    assert rule_for(advocate(id=7), request(already_asked=frozenset({7}))) == "already_asked"


def test_avoided_topic():
    assert rule_for(advocate(avoided_topics=frozenset({"roi"}))) == "avoided_topic"


def test_no_free_slot_before_needed_by():
    assert rule_for(advocate(windows=())) == "no_free_slot"
    # Windows exist, but the needed-by date comes before the minimum notice allows a call.
    assert rule_for(advocate(), request(needed_by=NOW + timedelta(hours=20))) == "no_free_slot"
    # Blacked out for the whole time before needed-by.
    blackout = DateRange(NOW.date(), (NOW + timedelta(days=20)).date())
    assert rule_for(advocate(blackouts=(blackout,))) == "no_free_slot"


def test_written_references_need_no_slot():
    assert rule_for(advocate(windows=()), request(format="written")) is None


def test_a_booked_day_leaves_other_days():
    busy = (Interval(datetime(2026, 6, 2, 7, tzinfo=UTC), datetime(2026, 6, 2, 7, 30, tzinfo=UTC)),)
    assert rule_for(advocate(busy=busy)) is None


def test_the_first_failing_rule_in_order_is_named():
    everything_wrong = advocate(
        active=False, consented=False, quarterly_limit=0, formats=frozenset(), windows=()
    )
    assert rule_for(everything_wrong) == "not_active"
    assert rule_for(replace(everything_wrong, active=True)) == "no_consent"
    codes = [code for code, _text in RULES]
    assert len(codes) == len(set(codes))


# --- score: one test per part ---------------------------------------------------------------


def reasons_of(adv: AdvocateProfile, req: RequestProfile | None = None) -> dict[str, int]:
    return {r.label: r.points for r in score_reasons(req or request(), adv, now=NOW)}


def test_a_perfect_fit_scores_100_and_reasons_add_up():
    result = match(request(), [advocate()], now=NOW)
    (candidate,) = result.candidates
    assert candidate.score == Weights().total() == 100
    assert sum(r.points for r in candidate.reasons) == candidate.score


def test_industry_same_or_same_sector():
    assert reasons_of(advocate())["Same industry"] == 20
    assert reasons_of(advocate(industry="life sciences"))["Same sector"] == 10
    elsewhere = reasons_of(advocate(industry="retail", sector="services"))
    assert not any("industry" in k or "sector" in k for k in elsewhere)


def test_size_same_or_adjacent():
    assert reasons_of(advocate())["Same company size"] == 10
    assert reasons_of(advocate(size_band=3))["Similar company size"] == 5
    assert not any("size" in k for k in reasons_of(advocate(size_band=4)))


def test_use_cases_covered_share():
    assert reasons_of(advocate(use_cases=frozenset({"billing"})))["Covers 1 of 2 use cases"] == 10


def test_topics_covered_share():
    assert reasons_of(advocate(glad_topics=frozenset({"roi"})))["Covers 1 of 2 topics"] == 8


def test_competitor_overlap():
    assert reasons_of(advocate())["Evaluated or replaced acme"] == 10
    assert not any("Evaluated" in k for k in reasons_of(advocate(competitors=frozenset())))


def test_region_or_overlapping_time_zone():
    assert reasons_of(advocate())["Same region"] == 5
    near = advocate(region="middle east & africa", utc_offset_hours=2)
    assert reasons_of(near)["Overlapping time zone"] == 2  # round(2.5) is 2: banker's rounding
    far = advocate(region="asia pacific", utc_offset_hours=8)
    assert not any("region" in k or "zone" in k for k in reasons_of(far))


def test_job_level_fit():
    assert reasons_of(advocate(job_level_rank=3))["Job level fits the deal"] == 5
    assert "Job level fits the deal" not in reasons_of(advocate(job_level_rank=1), request(size_band=0))


def test_load_prefers_the_rested():
    fresh = sum(reasons_of(advocate()).values())
    busy = sum(reasons_of(advocate(calls_this_quarter=3, last_call_at=NOW - timedelta(days=2))).values())
    assert fresh > busy
    assert any(k.startswith("Rested: 1 call left this quarter, last call 2 days ago")
               for k in reasons_of(advocate(calls_this_quarter=3, last_call_at=NOW - timedelta(days=2))))


def test_past_feedback():
    assert reasons_of(advocate(feedback_average=5.0))["Prospects rate their calls 5.0/5"] == 5
    assert not any("rate" in k for k in reasons_of(advocate(feedback_average=None)))


def test_weights_come_from_the_caller():
    heavy = Weights(industry=50, size=0, use_cases=0, topics=0, competitors=0, region=0, job_level=0,
                    load=50, feedback=0)
    (candidate,) = match(request(), [advocate()], now=NOW, weights=heavy).candidates
    assert candidate.score == 100
    assert [r.label for r in candidate.reasons][0] == "Same industry"


# --- ranking ------------------------------------------------------------------------------


def test_ties_break_on_the_advocate_id():
    result = match(request(), [advocate(id=9), advocate(id=3), advocate(id=5)], now=NOW)
    assert [c.advocate_id for c in result.candidates] == [3, 5, 9]


def test_excluded_advocates_are_listed_with_their_rule():
    result = match(request(), [advocate(id=1), advocate(id=2, formats=frozenset())], now=NOW)
    assert [c.advocate_id for c in result.candidates] == [1]
    assert [(e.advocate_id, e.rule, e.text) for e in result.excluded] == [
        (2, "format_not_accepted", "Does not do this format")
    ]


tag = st.sampled_from(["billing", "patient intake", "analytics", "fleet", "hr"])
topic = st.sampled_from(["security", "roi", "migration", "adoption"])
advocates_strategy = st.lists(
    st.builds(
        lambda id, uses, glad, avoid, used, limit, formats, band, rank, fb: advocate(
            id=id, use_cases=frozenset(uses), glad_topics=frozenset(glad), avoided_topics=frozenset(avoid),
            calls_this_quarter=used, quarterly_limit=limit, formats=frozenset(formats), size_band=band,
            job_level_rank=rank, feedback_average=fb,
        ),
        st.integers(1, 10_000), st.sets(tag), st.sets(topic), st.sets(topic, max_size=1),
        st.integers(0, 6), st.integers(0, 6), st.sets(st.sampled_from(["call", "video", "written"])),
        st.integers(0, 4), st.integers(1, 4), st.one_of(st.none(), st.floats(1, 5)),
    ),
    max_size=25,
    unique_by=lambda a: a.id,
)


@settings(max_examples=80, deadline=None)
@given(advocates=advocates_strategy, fmt=st.sampled_from(["call", "written"]))
def test_every_advocate_is_either_a_candidate_or_excluded_never_both(advocates, fmt):
    result = match(request(format=fmt), advocates, now=NOW)
    candidate_ids = {c.advocate_id for c in result.candidates}
    excluded_ids = {e.advocate_id for e in result.excluded}
    assert candidate_ids.isdisjoint(excluded_ids)
    assert candidate_ids | excluded_ids == {a.id for a in advocates}
    for candidate in result.candidates:
        assert 0 <= candidate.score <= 100
        assert sum(r.points for r in candidate.reasons) == candidate.score


@settings(max_examples=60, deadline=None)
@given(advocates=advocates_strategy, seed=st.randoms())
def test_the_ranking_is_deterministic_whatever_the_input_order(advocates, seed):
    shuffled = list(advocates)
    seed.shuffle(shuffled)
    assert match(request(), advocates, now=NOW) == match(request(), shuffled, now=NOW)


@settings(max_examples=80, deadline=None)
@given(advocates=advocates_strategy, extra=tag)
def test_covering_one_more_use_case_never_lowers_a_score(advocates, extra):
    req = request(use_cases=frozenset({"billing", "patient intake", "analytics"}))
    for adv in advocates:
        before = sum(r.points for r in score_reasons(req, adv, now=NOW))
        more = replace(adv, use_cases=adv.use_cases | {extra})
        after = sum(r.points for r in score_reasons(req, more, now=NOW))
        assert after >= before


def test_snooze_is_by_date_not_time():
    assert rule_for(advocate(snoozed_until=date(2026, 6, 1))) == "snoozed"


def test_competitors_are_named_as_the_request_spells_them():
    req = request(competitors=frozenset({"acme"}), competitor_names=(("acme", "ACME Corp"),))
    assert reasons_of(advocate(), req)["Evaluated or replaced ACME Corp"] == 10
