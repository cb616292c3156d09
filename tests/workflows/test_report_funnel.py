"""The funnel report's numbers against the hand-computed scenario (tests/report_scenario.py)."""

from __future__ import annotations

from datetime import date

import pytest

from tests import report_scenario
from workflows.reports.funnel import funnel


@pytest.fixture()
def scenario(app, make_advocate, make_request, make_ask):
    return report_scenario.build(app, make_advocate, make_request, make_ask)


def run(app, **filters):
    return report_scenario.run(app, funnel, **filters)


def test_counts_and_median_hours_of_each_step(app, scenario):
    start, end = report_scenario.MARCH_TO_APRIL
    result = run(app, start=start, end=end)
    assert result.counts == {"requests": 7, "asked": 6, "accepted": 4, "booked": 4, "completed": 3}
    assert result.hours == {"to_ask": 3.5, "to_accept": 3.0, "to_book": 24.0, "to_call": 48.0,
                            "to_fulfil": 78.0}
    assert [(m.month, m.requests, m.completed, m.hours) for m in result.months] == [
        ("2026-03", 3, 1, {"to_ask": 2.0, "to_accept": 7.0, "to_book": 18.0, "to_call": 48.0,
                           "to_fulfil": 78.0}),
        ("2026-04", 4, 2, {"to_ask": 6.0, "to_accept": 1.5, "to_book": 24.0, "to_call": 60.0,
                           "to_fulfil": 90.0}),
    ]


def test_without_a_date_range_every_request_counts(app, scenario):
    result = run(app)
    assert result.counts == {"requests": 8, "asked": 7, "accepted": 5, "booked": 5, "completed": 4}
    assert [m.month for m in result.months] == ["2026-02", "2026-03", "2026-04"]
    assert result.months[0].hours == {"to_ask": 1.0, "to_accept": 2.0, "to_book": 24.0, "to_call": 24.0,
                                      "to_fulfil": 51.0}


def test_the_prospects_industry_and_region_narrow_it(app, scenario):
    start, end = report_scenario.MARCH_TO_APRIL
    healthcare = run(app, start=start, end=end, industry="Healthcare")
    assert healthcare.counts == {"requests": 6, "asked": 5, "accepted": 4, "booked": 4, "completed": 3}
    assert healthcare.hours["to_ask"] == 4.0
    europe = run(app, start=start, end=end, region="Europe")
    assert europe.counts == {"requests": 6, "asked": 6, "accepted": 4, "booked": 4, "completed": 3}


def test_a_tier_keeps_the_requests_that_asked_an_advocate_of_it(app, scenario):
    start, end = report_scenario.MARCH_TO_APRIL
    premier = run(app, start=start, end=end, tier="Premier")
    assert premier.counts == {"requests": 1, "asked": 1, "accepted": 1, "booked": 1, "completed": 1}
    assert premier.hours == {"to_ask": 2.0, "to_accept": 4.0, "to_book": 24.0, "to_call": 48.0,
                             "to_fulfil": 78.0}


def test_an_empty_range_has_no_requests_and_no_times(app, scenario):
    result = run(app, start=date(2025, 1, 1), end=date(2025, 1, 31))
    assert result.counts == dict.fromkeys(("requests", "asked", "accepted", "booked", "completed"), 0)
    assert result.hours == dict.fromkeys(("to_ask", "to_accept", "to_book", "to_call", "to_fulfil"))
    assert result.months == []
