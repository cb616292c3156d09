"""The advocacy score of a candidate: a plain function of the company's signals and the date,
tested without an app."""

from __future__ import annotations

from datetime import date, timedelta

from workflows.candidates import (
    RENEWAL_RECENT_DAYS,
    TENURE_FULL_DAYS,
    WEIGHTS,
    Signals,
    Weights,
    rank,
    score,
)

TODAY = date(2026, 6, 1)


def parts(signals: Signals, weights: Weights = WEIGHTS) -> dict[str, tuple[int, int]]:
    """signal → (points, weight)."""
    return {p.signal: (p.points, p.weight) for p in score(signals, TODAY, weights).parts}


def test_the_weights_add_up_to_100():
    assert WEIGHTS.total == 100
    assert (WEIGHTS.nps, WEIGHTS.health, WEIGHTS.renewal, WEIGHTS.tenure) == (35, 30, 20, 15)


def test_the_strongest_signals_earn_every_weight_and_the_parts_add_up():
    best = Signals(nps=100, health_score=100, renewal_date=TODAY, customer_since=TODAY - timedelta(days=4000))
    result = score(best, TODAY)
    assert result.score == 100
    assert parts(best) == {"nps": (35, 35), "health": (30, 30), "renewal": (20, 20), "tenure": (15, 15)}
    assert sum(p.points for p in result.parts) == result.score


def test_no_signal_scores_zero_and_says_what_is_missing():
    result = score(Signals(), TODAY)
    assert result.score == 0
    assert [p.value for p in result.parts] == [
        "not in the CRM", "not in the CRM", "no renewal date in the CRM", "no start date in the CRM",
    ]
    assert [p.weight for p in result.parts] == [35, 30, 20, 15]


def test_each_signal_counts_in_proportion():
    signals = Signals(nps=40, health_score=70, renewal_date=TODAY - timedelta(days=RENEWAL_RECENT_DAYS // 2),
                      customer_since=TODAY - timedelta(days=TENURE_FULL_DAYS // 3))
    # 35 × 0.4 = 14; 30 × 0.7 = 21; 20 × 183/365 ≈ 10.03 → 10; 15 × 365/1095 = 5
    assert parts(signals) == {"nps": (14, 35), "health": (21, 30), "renewal": (10, 20), "tenure": (5, 15)}
    assert score(signals, TODAY).score == 50


def test_a_negative_nps_earns_nothing_and_shows_its_sign():
    result = score(Signals(nps=-30), TODAY)
    nps = result.parts[0]
    assert (nps.value, nps.points) == ("-30", 0)
    assert score(Signals(nps=30), TODAY).parts[0].value == "+30"


def test_a_renewal_still_to_come_or_over_a_year_ago_earns_nothing():
    upcoming = score(Signals(renewal_date=TODAY + timedelta(days=10)), TODAY).parts[2]
    assert upcoming.points == 0
    assert upcoming.value == "not renewed yet: renewal due 11 Jun 2026"
    old = score(Signals(renewal_date=TODAY - timedelta(days=RENEWAL_RECENT_DAYS)), TODAY).parts[2]
    assert old.points == 0
    recent = score(Signals(renewal_date=TODAY - timedelta(days=40)), TODAY).parts[2]
    assert (recent.value, recent.points) == ("renewed 1 month ago", 18)


def test_time_as_a_customer_counts_up_to_three_years():
    two_years = score(Signals(customer_since=TODAY - timedelta(days=2 * 365 + 95)), TODAY).parts[3]
    assert two_years.value == "a customer for 2 years 3 months"
    assert two_years.points == 11  # 15 × 825/1095 = 11.3
    assert score(Signals(customer_since=TODAY + timedelta(days=3)), TODAY).parts[3].points == 0


def test_other_weights_change_the_score_and_what_is_shown():
    weights = Weights(nps=10, health=10, renewal=40, tenure=40)
    signals = Signals(nps=100, health_score=0, renewal_date=TODAY, customer_since=TODAY)
    assert parts(signals, weights) == {"nps": (10, 10), "health": (0, 10), "renewal": (40, 40),
                                       "tenure": (0, 40)}


def test_ranking_is_best_first_and_ties_break_on_the_id():
    happy = Signals(nps=80, health_score=90, renewal_date=TODAY - timedelta(days=30),
                    customer_since=TODAY - timedelta(days=1500))
    promoter = Signals(nps=90, health_score=40)
    healthy = Signals(health_score=95, customer_since=TODAY - timedelta(days=800))
    unknown = Signals()
    twin = Signals(nps=90, health_score=40)
    ranked = rank([(4, unknown), (9, promoter), (3, healthy), (7, happy), (2, twin)], TODAY)
    assert [candidate_id for candidate_id, _ in ranked] == [7, 2, 9, 3, 4]
    # 28+27+18+15; 32+12 twice; 29+11; nothing.
    assert [points for _, points in ranked] == [88, 44, 44, 40, 0]
    assert [score(s, TODAY).score for s in (happy, twin, promoter, healthy, unknown)] == [88, 44, 44, 40, 0]
