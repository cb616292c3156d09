"""The funnel, satisfaction and influence report pages: their numbers on the page and in the CSV
(formulas neutralised), a 400 for filters that cannot be read, and a number of queries that does
not grow with the data."""

from __future__ import annotations

import csv
import io

import pytest

from tests import report_scenario
from tests.helpers import page, text

SLUGS = ("funnel", "satisfaction", "influence")
RANGE = "from=2026-03-01&to=2026-04-30"


@pytest.fixture()
def scenario(app, make_advocate, make_request, make_ask):
    return report_scenario.build(app, make_advocate, make_request, make_ask)


@pytest.fixture()
def coordinator(signed_in):
    http, _account = signed_in("coordinator")
    return http


def csv_rows(http, slug: str, query: str = RANGE) -> list[list[str]]:
    response = http.get(f"/admin/reports/{slug}/csv?{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))


def test_the_funnel_page_and_its_csv(scenario, coordinator):
    words = text(page(coordinator, f"/admin/reports/funnel?{RANGE}"))
    assert "Time to fulfil (request → completed), median: 78 h." in words
    assert "Asked 6 · 85.7% · median 3.5 h" in words
    assert "2026-04 4 2 6 1.5 24 60 90" in words
    assert "Booked: the call was booked (for a written reference: the answers were submitted)" in words
    assert csv_rows(coordinator, "funnel") == [
        ["Step", "Requests", "Share of requests (%)", "Time measured", "Median hours"],
        ["Requests", "7", "100.0", "", ""],
        ["Asked", "6", "85.7", "Request → first ask", "3.5"],
        ["Accepted", "4", "57.1", "Ask → accepted", "3.0"],
        ["Booked", "4", "57.1", "Accepted → booked", "24.0"],
        ["Completed", "3", "42.9", "Booked → call", "48.0"],
    ]


def test_the_satisfaction_page_and_its_csv(scenario, coordinator):
    words = text(page(coordinator, f"/admin/reports/satisfaction?{RANGE}"))
    assert "Prospects&#39; average rating 3.7 of 5 from 3 answers" in words
    assert "Cy Young Initech Active 4 1 — 0 — 0" in words
    rows = csv_rows(coordinator, "satisfaction")
    assert rows[1] == ["All", "All advocates", "3.67", "3", "3.5", "2", "50.0", "2"]
    assert ["Region", "Europe", "4.5", "2", "4.0", "1", "100.0", "1"] in rows


def test_the_influence_page_and_its_csv(scenario, coordinator):
    words = text(page(coordinator, f"/admin/reports/influence?{RANGE}"))
    assert "With a completed reference: 66.7% won (2 of 3 decided), pipeline 170,000.50." in words
    assert "Win rate = won ÷ (won + lost)" in words
    rows = csv_rows(coordinator, "influence")
    assert rows[1:3] == [
        ["All", "All opportunities", "With a completed reference", "3", "2", "1", "0", "66.7", "170000.50",
         "140000.00"],
        ["All", "All opportunities", "Without", "4", "1", "2", "1", "33.3", "80000.00", "10000.00"],
    ]


def test_every_table_below_the_chart_has_a_csv_of_its_own(scenario, coordinator):
    funnel = page(coordinator, f"/admin/reports/funnel?{RANGE}")
    assert "Download “" in funnel and "table=1" in funnel
    months = csv_rows(coordinator, "funnel", f"{RANGE}&table=1")
    assert months[0][:3] == ["Month", "Requests", "Completed"]
    assert ["2026-04", "4", "2", "6.0", "1.5", "24.0"] in [row[:6] for row in months]

    assert "table=1" in page(coordinator, f"/admin/reports/satisfaction?{RANGE}")
    advocates = csv_rows(coordinator, "satisfaction", f"{RANGE}&table=1")
    assert advocates[0][:3] == ["Advocate", "Company", "Tier"]
    assert ["Cy Young", "Initech", "Active"] in [row[:3] for row in advocates]


@pytest.mark.parametrize(("query", "status"), [
    ("table=5", 404),  # no such table
    ("table=99999999999999999999", 422),
    ("table=-1", 422),
])
def test_a_table_that_is_not_there_has_no_csv(scenario, coordinator, query, status):
    assert coordinator.get(f"/admin/reports/funnel/csv?{RANGE}&{query}").status_code == status


def test_names_that_look_like_formulas_are_neutralised_in_the_csv(app, scenario, coordinator):
    from models import Industry, Region, db

    # The catalogues are not cleaned between tests: their names are put back below.
    with app.app_context():
        healthcare = db.session.query(Industry).filter_by(name="Healthcare").one()
        europe = db.session.query(Region).filter_by(name="Europe").one()
        renamed = {(Industry, healthcare.id): "Healthcare", (Region, europe.id): "Europe"}
        healthcare.name, europe.name = "=HYPERLINK(\"https://evil.example\")", "@Europe"
        db.session.commit()
    try:
        satisfaction = csv_rows(coordinator, "satisfaction")
        assert ["Industry", "'=HYPERLINK(\"https://evil.example\")", "3.0", "2", "3.0", "1", "0.0", "1"] \
            in satisfaction
        assert ["Region", "'@Europe", "4.5", "2", "4.0", "1", "100.0", "1"] in satisfaction
        influence = csv_rows(coordinator, "influence")
        assert [row[1] for row in influence if row[0] == "Region"][:1] == ["'@Europe"]
        for rows in (satisfaction, influence, csv_rows(coordinator, "funnel")):
            assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    finally:
        with app.app_context():
            for (model, row_id), name in renamed.items():
                db.session.get(model, row_id).name = name
            db.session.commit()


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("query", [
    "from=2026-13-01", "to=yesterday", "from=2026-05-01&to=2026-04-01", "industry=99999999999",
    "region=1.5", "tier=abc", "page=0",
])
def test_filters_that_cannot_be_read_are_a_400(scenario, coordinator, slug, query):
    for url in (f"/admin/reports/{slug}?{query}", f"/admin/reports/{slug}/csv?{query}"):
        response = coordinator.get(url)
        assert response.status_code == 400, url
        assert "Fix the filters above to see the report." in response.get_data(as_text=True)


@pytest.mark.parametrize("slug", SLUGS)
def test_sales_and_advocates_cannot_read_them(signed_in, slug):
    for role in ("sales", "advocate"):
        http, _account = signed_in(role)
        assert http.get(f"/admin/reports/{slug}").status_code in (302, 403, 404)


@pytest.mark.parametrize("slug", SLUGS)
def test_the_number_of_queries_does_not_grow_with_the_data(app, coordinator, count_queries, slug):
    counts = []
    for n in (3, 30):
        report_scenario.many(app, n - 3 * len(counts), first=report_scenario.at(3, 2 + len(counts), 9),
                             tag=str(len(counts)))
        coordinator.get(f"/admin/reports/{slug}?{RANGE}")  # warm: the session, the catalogues' cache
        with count_queries() as queries:
            response = coordinator.get(f"/admin/reports/{slug}?{RANGE}")
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
