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
    exclusion,
    exclusion_rule,
    match,
    score_reasons,
)
from matching.slots import DateRange, Interval, SlotRules, Window, first_free_slot

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


def detail_for(adv: AdvocateProfile, req: RequestProfile | None = None) -> tuple[str, str] | None:
    found = exclusion(req or request(), adv, now=NOW)
    return (found.rule, found.detail) if found is not None else None


# --- eligibility: one test per rule ---------------------------------------------------------


def test_a_fitting_advocate_is_eligible():
    assert rule_for(advocate()) is None
    assert exclusion(request(), advocate(), now=NOW) is None


def test_not_active_says_the_profiles_status():
    assert detail_for(advocate(active=False, status="paused")) == ("not_active", "their profile is paused")
    assert detail_for(advocate(active=False, status="invited")) == (
        "not_active", "invited, but has not joined the program yet"
    )
    assert detail_for(advocate(active=False, status="candidate")) == (
        "not_active", "still a candidate: not invited to the program yet"
    )


def test_no_consent():
    assert detail_for(advocate(consented=False)) == ("no_consent", "no consent date on their profile yet")


def test_snoozed_until_today_or_later_says_until_when():
    assert detail_for(advocate(snoozed_until=NOW.date())) == ("snoozed", "snoozed until 1 Jun 2026")
    assert detail_for(advocate(snoozed_until=date(2026, 11, 30))) == ("snoozed", "snoozed until 30 Nov 2026")
    assert rule_for(advocate(snoozed_until=NOW.date() - timedelta(days=1))) is None


def test_quota_reached_says_the_calls_used():
    assert detail_for(advocate(calls_this_quarter=4, quarterly_limit=4)) == (
        "quota_reached", "4 of 4 calls this quarter"
    )
    assert detail_for(advocate(calls_this_quarter=1, quarterly_limit=1)) == (
        "quota_reached", "1 of 1 call this quarter"
    )
    assert detail_for(advocate(quarterly_limit=0)) == ("quota_reached", "0 of 0 calls this quarter")


def test_too_soon_after_the_last_call_says_when_and_the_gap():
    recent = advocate(last_call_at=datetime(2026, 5, 25, 15, tzinfo=UTC), min_days_between_calls=14)
    assert detail_for(recent) == (
        "too_soon",
        "last call on 25 May 2026; asks for at least 14 days between calls, so not before 8 Jun 2026",
    )
    assert rule_for(replace(recent, last_call_at=NOW - timedelta(days=15))) is None
    one_day = advocate(last_call_at=NOW - timedelta(hours=3), min_days_between_calls=1)
    assert detail_for(one_day)[1].startswith("last call on 1 Jun 2026; asks for at least 1 day between")


def test_format_not_accepted_names_the_format_as_the_request_spells_it():
    assert detail_for(advocate(formats=frozenset({"written"})), request(format_name="Phone call")) == (
        "format_not_accepted", "Phone call is not among the formats they accept"
    )
    assert detail_for(advocate(formats=frozenset({"written"}))) == (
        "format_not_accepted", "call is not among the formats they accept"
    )
    assert detail_for(advocate(formats=frozenset())) == (
        "format_not_accepted", "no formats on their profile yet"
    )


def test_own_company():
    colleague = advocate(company="Prospect Health GmbH", company_key="prospect health gmbh")
    assert detail_for(colleague) == ("own_company", "works at Prospect Health GmbH")


def test_refused_company_names_the_prospect_as_the_request_spells_it():
    refuses = advocate(refused_companies=frozenset({"prospect health gmbh"}))
    assert detail_for(refuses, request(prospect_company_name="Prospect Health GmbH")) == (
        "refused_company", "has asked not to speak with Prospect Health GmbH"
    )


def test_already_asked():
    assert detail_for(advocate(id=7), request(already_asked=frozenset({7}))) == (
        "already_asked", "asked before for this request; an advocate is asked once per request"
    )


def test_avoided_topic_names_the_topics_as_the_request_spells_them():
    spelled = request(topic_names=(("security", "Security"), ("roi", "ROI")))
    assert detail_for(advocate(avoided_topics=frozenset({"roi"})), spelled) == (
        "avoided_topic", "would rather not discuss ROI"
    )
    both = advocate(avoided_topics=frozenset({"roi", "security", "pricing"}), glad_topics=frozenset())
    assert detail_for(both, spelled) == ("avoided_topic", "would rather not discuss ROI and Security")
    three = request(topics=frozenset({"roi", "security", "migration"}),
                    topic_names=(("security", "Security"), ("roi", "ROI"), ("migration", "Migration")))
    assert detail_for(replace(both, avoided_topics=frozenset({"roi", "security", "migration"})), three) == (
        "avoided_topic", "would rather not discuss Migration, ROI and Security"
    )
    # Without the request's spelling, the key itself.
    assert detail_for(advocate(avoided_topics=frozenset({"roi"}))) == (
        "avoided_topic", "would rather not discuss roi"
    )


def test_no_free_slot_before_needed_by():
    assert detail_for(advocate(windows=())) == (
        "no_free_slot", "no weekly availability windows on their profile"
    )
    # Windows exist, but the needed-by date comes before the minimum notice allows a call.
    assert rule_for(advocate(), request(needed_by=NOW + timedelta(hours=20))) == "no_free_slot"
    # Blacked out for the whole time before needed-by.
    blackout = DateRange(NOW.date(), (NOW + timedelta(days=20)).date())
    assert rule_for(advocate(blackouts=(blackout,))) == "no_free_slot"


def test_no_free_slot_names_the_first_free_slot_after_the_needed_by_date():
    # Needed by the end of Friday 5 June (the workflow's midnight after it); blacked out until the
    # 9th, so the first free slot is Wednesday 10 June at 09:00 in Berlin, 07:00 UTC.
    needed_by = datetime(2026, 6, 6, tzinfo=UTC)
    blackout = DateRange(NOW.date(), date(2026, 6, 9))
    assert detail_for(advocate(blackouts=(blackout,)), request(needed_by=needed_by)) == (
        "no_free_slot", "first free slot is 10 Jun 2026 at 07:00 UTC, after the needed-by date 5 Jun 2026"
    )
    # Nothing within the 21 days' horizon either.
    blackout = DateRange(NOW.date(), date(2026, 7, 31))
    assert detail_for(advocate(blackouts=(blackout,)), request(needed_by=needed_by)) == (
        "no_free_slot",
        "no free slot before the needed-by date 5 Jun 2026, nor after it within the next 21 days",
    )
    assert detail_for(advocate(blackouts=(blackout,)), request(needed_by=None)) == (
        "no_free_slot", "no free slot in the next 21 days"
    )
    assert detail_for(advocate(blackouts=(blackout,)), request(needed_by=NOW + timedelta(days=40))) == (
        "no_free_slot", "no free slot in the next 21 days"
    )


def test_the_advocates_gap_between_calls_is_kept_around_a_booked_call():
    # A call booked on Wednesday 3 June: with 14 days between calls nothing is free before the
    # 17th, after the needed-by date of the 14th.
    booked = (Interval(datetime(2026, 6, 3, 7, tzinfo=UTC), datetime(2026, 6, 3, 7, 30, tzinfo=UTC)),)
    assert rule_for(advocate(busy=booked)) is None
    assert detail_for(advocate(busy=booked, min_days_between_calls=14)) == (
        "no_free_slot", "first free slot is 17 Jun 2026 at 07:00 UTC, after the needed-by date 15 Jun 2026"
    )


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
    assert [(e.advocate_id, e.rule, e.text, e.detail) for e in result.excluded] == [
        (2, "format_not_accepted", "Does not do this format", "no formats on their profile yet")
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
    assert all(e.detail for e in result.excluded)
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


@settings(max_examples=80, deadline=None)
@given(
    needed_in_hours=st.integers(0, 24 * 30),
    blackout_days=st.integers(0, 25),
    booked_in_days=st.lists(st.integers(-10, 25), max_size=3, unique=True),
    gap=st.sampled_from([0, 3, 7]),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Singapore"]),
)
def test_no_free_slot_means_no_slot_ends_by_the_needed_by_date(needed_in_hours, blackout_days, booked_in_days,
                                                               gap, zone):
    needed_by = NOW + timedelta(hours=needed_in_hours)
    busy = tuple(
        Interval(NOW + timedelta(days=d, hours=1), NOW + timedelta(days=d, hours=1, minutes=30))
        for d in sorted(booked_in_days)
    )
    blackouts = ()
    if blackout_days:
        blackouts = (DateRange(NOW.date(), (NOW + timedelta(days=blackout_days)).date()),)
    adv = advocate(timezone=zone, busy=busy, blackouts=blackouts, min_days_between_calls=gap)
    found = first_free_slot(adv.windows, zone=zone, now=NOW, blackouts=blackouts, busy=busy,
                            rules=SlotRules(min_days_between_calls=gap), until=needed_by)
    assert (rule_for(adv, request(needed_by=needed_by)) == "no_free_slot") == (found is None)


def test_the_ranking_without_text_scores_exactly_as_the_reasons_add_up():
    from matching.engine import scores

    pool = [
        advocate(1),
        advocate(2, industry="retail", sector="retail", size_band=4, region="asia pacific",
                 utc_offset_hours=8),
        advocate(3, calls_this_quarter=2, last_call_at=NOW - timedelta(days=20), feedback_average=3.5),
        advocate(4, use_cases=frozenset({"billing"}), glad_topics=frozenset(), competitors=frozenset()),
        advocate(5, calls_this_quarter=2, feedback_average=None, job_level_rank=1),
        advocate(6, industry="retail", sector="retail", size_band=4, region="asia pacific",
                 utc_offset_hours=8),
    ]
    expected = [(c.score, c.advocate_id) for c in match(request(), pool, now=NOW).candidates]
    assert scores(request(), pool, now=NOW) == expected
    assert len({score for score, _ in expected}) > 3
