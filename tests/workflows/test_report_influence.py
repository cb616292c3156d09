"""The influence report's numbers against the hand-computed scenario (tests/report_scenario.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests import report_scenario
from workflows.reports.influence import influence

START, END = report_scenario.MARCH_TO_APRIL


@pytest.fixture()
def scenario(app, make_advocate, make_request, make_ask):
    return report_scenario.build(app, make_advocate, make_request, make_ask)


def run(app, **filters):
    return report_scenario.run(app, influence, **filters)


def numbers(outcomes):
    rate = None if outcomes.win_rate is None else round(outcomes.win_rate, 3)
    return (outcomes.opportunities, outcomes.won, outcomes.lost, outcomes.open, rate, outcomes.pipeline,
            outcomes.won_amount)


def test_with_a_completed_reference_against_without(app, scenario):
    result = run(app, start=START, end=END)
    # With: R1 won, R5 lost, R8 won. Without: R2 open, R3 lost, R4 lost (no amount), R7 won.
    assert numbers(result.overall.with_reference) == (3, 2, 1, 0, 0.667, Decimal("170000.50"),
                                                      Decimal("140000.00"))
    assert numbers(result.overall.without) == (4, 1, 2, 1, 0.333, Decimal("80000.00"), Decimal("10000.00"))


def test_by_the_prospects_segment(app, scenario):
    result = run(app, start=START, end=END)
    industry = {row.segment: (numbers(row.with_reference), numbers(row.without))
                for row in result.by("industry")}
    assert list(industry) == ["Financial Services", "Healthcare"]
    assert industry["Financial Services"] == (
        (0, 0, 0, 0, None, Decimal("0.00"), Decimal("0.00")),
        (1, 1, 0, 0, 1.0, Decimal("10000.00"), Decimal("10000.00")),
    )
    assert industry["Healthcare"] == (
        (3, 2, 1, 0, 0.667, Decimal("170000.50"), Decimal("140000.00")),
        (3, 0, 2, 1, 0.0, Decimal("70000.00"), Decimal("0.00")),
    )
    size = [(row.segment, row.with_reference.opportunities, row.without.opportunities)
            for row in result.by("size")]
    assert size == [("51–200 employees", 0, 1), ("201–1000 employees", 3, 3)]
    region = {row.segment: (numbers(row.with_reference)[:5], numbers(row.without)[:5])
              for row in result.by("region")}
    assert region == {
        "Europe": ((3, 2, 1, 0, 0.667), (3, 1, 1, 1, 0.5)),
        "North America": ((0, 0, 0, 0, None), (1, 0, 1, 0, 0.0)),
    }


def test_a_tier_counts_its_references_and_leaves_out_other_tiers(app, scenario):
    result = run(app, start=START, end=END, tier="Premier")
    assert numbers(result.overall.with_reference) == (1, 1, 0, 0, 1.0, Decimal("100000.00"),
                                                      Decimal("100000.00"))
    assert numbers(result.overall.without) == (4, 1, 2, 1, 0.333, Decimal("80000.00"), Decimal("10000.00"))


def test_industry_and_region_are_the_prospects(app, scenario):
    result = run(app, start=START, end=END, industry="Financial Services")
    assert numbers(result.overall.with_reference)[0] == 0
    assert numbers(result.overall.without)[:2] == (1, 1)
    north_america = run(app, start=START, end=END, region="North America")
    assert numbers(north_america.overall.without)[:3] == (1, 0, 1)


def test_every_request_without_a_range(app, scenario):
    result = run(app)
    assert numbers(result.overall.with_reference) == (4, 3, 1, 0, 0.75, Decimal("269999.50"),
                                                      Decimal("239999.00"))


def test_nothing_in_range(app, scenario):
    result = run(app, start=report_scenario.date(2025, 1, 1), end=report_scenario.date(2025, 1, 31))
    assert result.overall.with_reference.opportunities == 0 and result.overall.without.win_rate is None
    assert result.segments == []
