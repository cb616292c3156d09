"""The satisfaction report's numbers against the hand-computed scenario (tests/report_scenario.py)."""

from __future__ import annotations

import pytest

from tests import report_scenario
from workflows.reports.satisfaction import satisfaction

START, END = report_scenario.MARCH_TO_APRIL


@pytest.fixture()
def scenario(app, make_advocate, make_request, make_ask):
    return report_scenario.build(app, make_advocate, make_request, make_ask)


def run(app, **filters):
    return report_scenario.run(app, satisfaction, **filters)


def numbers(ratings):
    return (ratings.prospect_average, ratings.prospect_answers, ratings.advocate_average,
            ratings.advocate_answers, ratings.helped_yes, ratings.helped_answers)


def test_both_sides_averages_with_their_answer_counts(app, scenario):
    result = run(app, start=START, end=END)
    assert numbers(result.overall) == (3.67, 3, 3.5, 2, 1, 2)
    assert result.overall.helped_share == 0.5
    assert [(row.name, row.company, row.tier, numbers(row.ratings)) for row in result.advocates] == [
        ("Ada Lovelace", "Northwind", "Premier", (5.0, 1, 4.0, 1, 1, 1)),
        ("Ben Okafor", "Globex", "Active", (2.0, 1, 3.0, 1, 0, 1)),
        ("Cy Young", "Initech", "Active", (4.0, 1, None, 0, 0, 0)),
    ]
    assert result.advocates_total == 3


def test_by_segment_of_the_advocates_company(app, scenario):
    result = run(app, start=START, end=END)
    assert [(row.segment, numbers(row.ratings)) for row in result.by("industry")] == [
        ("Healthcare", (3.0, 2, 3.0, 1, 0, 1)),
        ("Technology", (5.0, 1, 4.0, 1, 1, 1)),
    ]
    assert [(row.segment, numbers(row.ratings)) for row in result.by("size")] == [
        ("51–200 employees", (5.0, 1, 4.0, 1, 1, 1)),
        ("201–1000 employees", (4.0, 1, None, 0, 0, 0)),
        ("1001–5000 employees", (2.0, 1, 3.0, 1, 0, 1)),
    ]
    assert [(row.segment, numbers(row.ratings)) for row in result.by("region")] == [
        ("Europe", (4.5, 2, 4.0, 1, 1, 1)),
        ("North America", (2.0, 1, 3.0, 1, 0, 1)),
    ]


def test_without_a_range_every_answer_counts(app, scenario):
    result = run(app)
    ada = result.advocates[0]
    assert (ada.name, numbers(ada.ratings)) == ("Ada Lovelace", (4.5, 2, 4.5, 2, 2, 2))
    assert numbers(result.overall) == (3.75, 4, 4.0, 3, 2, 3)


def test_filters_apply_to_the_advocate(app, scenario):
    healthcare = run(app, start=START, end=END, industry="Healthcare")
    assert [row.name for row in healthcare.advocates] == ["Ben Okafor", "Cy Young"]
    assert numbers(healthcare.overall) == (3.0, 2, 3.0, 1, 0, 1)
    europe = run(app, start=START, end=END, region="Europe")
    assert [row.name for row in europe.advocates] == ["Ada Lovelace", "Cy Young"]
    premier = run(app, start=START, end=END, tier="Premier")
    assert [row.name for row in premier.advocates] == ["Ada Lovelace"]
    assert numbers(premier.overall) == (5.0, 1, 4.0, 1, 1, 1)


def test_advocates_come_a_page_at_a_time(app, scenario):
    first = run(app, start=START, end=END, page=1, per_page=2)
    assert [row.name for row in first.advocates] == ["Ada Lovelace", "Ben Okafor"]
    assert (first.advocates_total, first.pages) == (3, 1)  # pages count ADVOCATES_PER_PAGE
    second = run(app, start=START, end=END, page=2, per_page=2)
    assert [row.name for row in second.advocates] == ["Cy Young"]
    past = run(app, start=START, end=END, page=3, per_page=2)
    assert (past.advocates, past.advocates_total) == ([], 3)


def test_no_answers_no_averages(app, scenario):
    result = run(app, start=report_scenario.date(2025, 1, 1), end=report_scenario.date(2025, 1, 31))
    assert numbers(result.overall) == (None, 0, None, 0, 0, 0)
    assert result.segments == [] and result.advocates == []
