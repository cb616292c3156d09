"""The reports (``/admin/reports``): each report's numbers against a data set worked out by hand
(tests/reports_data.py), the filters (bad ones are a 400 with the form saying why, never a
500), the CSV exports (formulas neutralised), who may open them, and query counts that do not
grow with the data."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import Advocate, AdvocateStatus, Industry, Region, Role, Tier, db
from models.catalogues import SIZE_BANDS
from tests.helpers import page, text
from tests.reports_data import (
    FROM,
    TODAY,
    asked,
    coverage_data,
    engagements,
    id_of,
    ledger_data,
    set_company,
    utilisation_data,
)
from workflows import quota
from workflows.quota import quarter_use_subquery, quota_limit
from workflows.reports import (
    REPORTS,
    ReportFilters,
    asks_ledger,
    coverage,
    utilisation,
)

RANGE = {"from": FROM.isoformat(), "to": TODAY.isoformat()}
SLUGS = ("coverage", "utilisation", "asks-ledger")
HUGE = "99999999999999999999"


@pytest.fixture()
def coordinator(signed_in):
    http, _account = signed_in(Role.COORDINATOR)
    return http


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of a table on the page, each cell's words (marks and flags included)."""
    found = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert found, f"no table #{table_id}"
    return [[text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)]


# --- coverage --------------------------------------------------------------------------------


def test_coverage_counts_active_advocates_with_a_call_left_by_industry_and_size(
    app, coordinator, make_advocate, make_engagement
):
    coverage_data(app, make_advocate, make_engagement)
    html = page(coordinator, "/admin/reports/coverage")
    rows = {row[0]: row[1:] for row in table_rows(html, "table-coverage")}
    # Columns: 1–50, 51–200, 201–1000, 1001–5000, 5000+, size unknown, total.
    assert rows["Healthcare"] == ["1", "0 gap", "1", "0 gap", "0 gap", "1", "3"]
    assert rows["Retail"] == ["0 gap", "0 gap", "0 gap", "0 gap", "1", "0", "1"]
    assert rows["Not recorded"] == ["0", "0", "0", "1", "0", "0", "1"]  # no industry: no gaps
    assert rows["Technology"] == ["0 gap"] * 5 + ["0", "0"]
    assert rows["All industries"] == ["1", "0", "1", "1", "1", "1", "5"]
    assert len(rows) == 14 + 2  # every industry of the catalogue, not recorded, all
    # The chart: an image named by its title, the text alternative beside it.
    assert 'role="img"' in html and 'aria-labelledby="chart-coverage-title"' in html
    assert "5 advocates with a call left in" in text(html)
    assert "67 of 70 industry and size combinations have none" in text(html)
    assert html.count('class="cell gap"') == 67
    assert "Gaps: Education (all sizes); Energy (all sizes);" in text(html)
    assert "Healthcare (51–200, 1001–5000, 5000+); Insurance (all sizes)" in text(html)
    assert "Retail (1–50, 51–200, 201–1000, 1001–5000); Technology (all sizes)" in text(html)
    assert len(coverage.GRID_LABELS) == len(SIZE_BANDS)


def test_coverage_filters_by_industry_region_and_tier(app, coordinator, make_advocate, make_engagement):
    coverage_data(app, make_advocate, make_engagement)
    healthcare = id_of(app, Industry, "Healthcare")
    rows = table_rows(page(coordinator, f"/admin/reports/coverage?industry={healthcare}"), "table-coverage")
    assert [r[0] for r in rows] == ["Healthcare", "All industries"]
    assert rows[0][1:] == ["1", "0 gap", "1", "0 gap", "0 gap", "1", "3"]

    europe = id_of(app, Region, "Europe")
    rows = {r[0]: r[1:] for r in table_rows(page(coordinator, f"/admin/reports/coverage?region={europe}"),
                                            "table-coverage")}
    assert rows["Healthcare"] == ["1", "0 gap", "1", "0 gap", "0 gap", "2"]  # no unknown size in Europe
    assert rows["All industries"][-1] == "2"

    premier = id_of(app, Tier, "Premier")
    rows = {r[0]: r[1:] for r in table_rows(page(coordinator, f"/admin/reports/coverage?tier={premier}"),
                                            "table-coverage")}
    assert rows["Retail"] == ["0 gap", "0 gap", "0 gap", "0 gap", "1", "1"]  # A5; A3 is full
    assert rows["All industries"][-1] == "1"


def test_the_coverage_rule_in_sql_is_the_quota_rule(app, make_advocate, make_engagement):
    """``quota_limit``, ``quarter_use_subquery`` and ``used_in_quarter`` give, advocate by advocate, what
    ``workflows.quota.quarter_use`` gives; coverage counts exactly the active ones with a call left."""
    made = coverage_data(app, make_advocate, make_engagement).advocates
    quarter = quota.current_quarter()
    with app.app_context():
        used = quarter_use_subquery(quarter)
        in_sql = {
            advocate_id: (int(n), int(limit))
            for advocate_id, n, limit in db.session.execute(
                select(Advocate.id, func.coalesce(used.c.used, 0), quota_limit())
                .outerjoin(Tier, Tier.id == Advocate.tier_id)
                .outerjoin(used, used.c.advocate_id == Advocate.id)
            )
        }
        in_python = {}
        expected_available = 0
        for advocate in db.session.scalars(select(Advocate)):
            use = quota.quarter_use(advocate, quarter)
            in_python[advocate.id] = (use.used, use.limit)
            expected_available += advocate.status == AdvocateStatus.ACTIVE and use.left > 0
        assert in_sql == in_python
        assert len(in_sql) == len(made)
        correlated = dict(db.session.execute(select(Advocate.id, quota.used_in_quarter(quarter))).all())
        assert correlated == {advocate_id: n for advocate_id, (n, _limit) in in_python.items()}
        counts = coverage.available_counts(ReportFilters.default(), quarter)
        assert sum(counts.values()) == expected_available == 5
        db.session.remove()


# --- utilisation -----------------------------------------------------------------------------


UTILISATION = [
    # advocate · company, calls of limit, asks, declined %, expired %, burnout risk
    ["Bea · Bea Works burnout risk", "0 of 2", "4", "50", "25", "asked 4×, 75% declined or expired"],
    ["Cal · Cal Works burnout risk", "0 of 2", "4", "25", "25", "asked 4×, 50% declined or expired"],
    ["Dan · Dan Works", "1 of 6", "3", "33.3", "0", "no"],
    ["Abe · Abe Works burnout risk", "4 of 4", "2", "0", "0", "at the limit"],
    ["Eve · Eve Works", "1 of 4", "0", "0", "0", "no"],
]


def test_utilisation_lists_the_most_asked_with_their_calls_rates_and_risk(
    app, coordinator, make_advocate, make_request, make_ask, make_engagement
):
    utilisation_data(app, make_advocate, make_request, make_ask, make_engagement)
    html = page(coordinator, "/admin/reports/utilisation?" + "&".join(f"{k}={v}" for k, v in RANGE.items()))
    assert table_rows(html, "table-utilisation") == UTILISATION
    words = text(html)
    assert "3 of 5 advocates at burnout risk" in words
    assert "Burnout risk: at or over the limit this quarter, or asked 3 times or more" in words
    # The chart: one bar per advocate, the flagged ones in the warning colour, the limit marked.
    chart = re.search(r'<svg[^>]*aria-labelledby="chart-utilisation-title".*?</svg>', html, re.S).group(0)
    assert chart.count('<g class="bar') == 5
    assert chart.count('<g class="bar flagged">') == 3
    assert chart.count('class="limit"') == 5
    assert "4 of 4 calls · asked 2×" in chart

    # CSV: every listed advocate, rates as numbers.
    rows = read_csv(coordinator.get("/admin/reports/utilisation/csv?" + "&".join(
        f"{k}={v}" for k, v in RANGE.items())))
    assert rows[0][:6] == ["Advocate", "Company", "Tier", "Calls this quarter", "Limit", "Asks in range"]
    assert [r[0] for r in rows[1:]] == ["Bea", "Cal", "Dan", "Abe", "Eve"]
    assert rows[1][1:] == ["Bea Works", "Occasional", "0", "2", "4", "1", "2", "1", "50.0", "25.0",
                           "asked 4×, 75% declined or expired"]
    assert rows[4][1:] == ["Abe Works", "Active", "4", "4", "2", "1", "0", "0", "0.0", "0.0", "at the limit"]


def test_utilisation_filters_narrow_the_list(app, coordinator, make_advocate, make_request, make_ask,
                                             make_engagement):
    utilisation_data(app, make_advocate, make_request, make_ask, make_engagement)
    healthcare = id_of(app, Industry, "Healthcare")
    html = page(coordinator, f"/admin/reports/utilisation?industry={healthcare}")
    assert [r[0] for r in table_rows(html, "table-utilisation")] == ["Bea · Bea Works burnout risk",
                                                                     "Dan · Dan Works"]
    occasional = id_of(app, Tier, "Occasional")
    html = page(coordinator, f"/admin/reports/utilisation?tier={occasional}")
    assert [r[0].split(" · ")[0] for r in table_rows(html, "table-utilisation")] == ["Bea", "Cal"]
    # A range that holds only the old asks: Bea's and Fay's declines; Abe, Dan, Eve by their calls.
    old = (TODAY - timedelta(days=60)).isoformat()
    html = page(coordinator, f"/admin/reports/utilisation?from={old}&to={old}")
    rows = table_rows(html, "table-utilisation")
    assert [(r[0].split(" · ")[0], r[2], r[3]) for r in rows] == [
        ("Bea", "1", "100"), ("Fay", "1", "100"), ("Abe", "0", "0"), ("Dan", "0", "0"), ("Eve", "0", "0"),
    ]


def test_the_burnout_rule_in_sql_is_the_rule_on_the_page(app, make_advocate, make_request, make_ask,
                                                         make_engagement):
    utilisation_data(app, make_advocate, make_request, make_ask, make_engagement)
    filters = ReportFilters(FROM, TODAY)
    with app.app_context():
        rows = utilisation.rows(filters, quota.current_quarter())
        assert utilisation.totals(filters, quota.current_quarter()) == (5, sum(bool(r.risk) for r in rows))
        db.session.remove()


def test_utilisation_pages_the_list_and_charts_the_top(app, coordinator, make_advocate, make_request,
                                                       make_ask, make_engagement, monkeypatch):
    utilisation_data(app, make_advocate, make_request, make_ask, make_engagement)
    monkeypatch.setattr(utilisation, "PAGE_SIZE", 2)
    query = "&".join(f"{k}={v}" for k, v in RANGE.items())
    first = page(coordinator, f"/admin/reports/utilisation?{query}")
    assert [r[0].split(" · ")[0] for r in table_rows(first, "table-utilisation")] == ["Bea", "Cal"]
    assert "Page 1 of 3" in text(first) and 'rel="next"' in first
    third = page(coordinator, f"/admin/reports/utilisation?{query}&page=3")
    assert [r[0] for r in table_rows(third, "table-utilisation")] == ["Eve · Eve Works"]
    assert "5–5 of 5" in text(third)
    assert third.count('<g class="bar') == 5  # the chart is of the top, whatever the page
    beyond = page(coordinator, f"/admin/reports/utilisation?{query}&page=9")
    assert table_rows(beyond, "table-utilisation") == []


# --- the asks ledger -------------------------------------------------------------------------


def test_the_asks_ledger_lists_every_ask_by_company_with_counts(app, coordinator, make_account, make_advocate,
                                                                make_request, make_ask):
    data = ledger_data(app, make_account, make_advocate, make_request, make_ask)
    query = "&".join(f"{k}={v}" for k, v in RANGE.items())
    html = page(coordinator, f"/admin/reports/asks-ledger?{query}")
    assert table_rows(html, "table-asks-ledger") == [
        ["Acme Health", "3", "2", "2", "1", "1", "0", "1"],
        ["Borealis", "1", "1", "1", "0", "0", "1", "0"],
        ["No company recorded", "1", "1", "1", "0", "0", "0", "1"],
    ]
    lines = table_rows(html, "table-asks-ledger-1")
    r = {k: f"#{v.id}" for k, v in data.requests.items()}
    assert [line[1:8] for line in lines] == [
        ["Acme Health", "3", "Max", r["R3"], "Prospect Three", "Tess Team", "waiting for an answer"],
        ["Acme Health", "3", "Lee", r["R2"], "Prospect Two", "Tess Team", "declined"],
        ["Acme Health", "3", "Lee", r["R1"], "Prospect One", "Sam Seller", "accepted"],
        ["Borealis", "1", "Ned", r["R1"], "Prospect One", "Sam Seller", "expired unanswered"],
        ["No company recorded", "1", "Oli", r["R4"], "Prospect Four", "Sam Seller", "waiting for an answer"],
    ]
    assert [line[8] != "—" for line in lines] == [False, True, True, False, False]  # answered when
    words = text(html)
    assert "5 asks of 3 customer companies" in words
    assert "Acme Health, 3 asks by 2 people in sales" in words

    rows = read_csv(coordinator.get(f"/admin/reports/asks-ledger/csv?{query}"))
    assert rows[0] == ["Asked", "Customer company", "Company's asks in range", "Advocate", "Request",
                       "Prospect", "Requested by", "Status", "Answered"]
    assert [row[3] for row in rows[1:]] == ["Max", "Lee", "Lee", "Ned", "Oli"]
    asked_at = (TODAY - timedelta(days=5)).isoformat()
    assert rows[2][0] == f"{asked_at} 10:00 UTC" and rows[2][8] == f"{asked_at} 12:00 UTC"


def test_the_asks_ledger_filters_by_region_and_range_and_pages(app, coordinator, make_account, make_advocate,
                                                               make_request, make_ask, monkeypatch):
    ledger_data(app, make_account, make_advocate, make_request, make_ask)
    europe = id_of(app, Region, "Europe")
    html = page(coordinator, f"/admin/reports/asks-ledger?region={europe}")
    assert [r[0] for r in table_rows(html, "table-asks-ledger")] == ["Acme Health"]
    assert len(table_rows(html, "table-asks-ledger-1")) == 3
    old = (TODAY - timedelta(days=60)).isoformat()
    html = page(coordinator, f"/admin/reports/asks-ledger?from={old}&to={old}")
    assert [r[0] for r in table_rows(html, "table-asks-ledger")] == ["Borealis"]

    monkeypatch.setattr(asks_ledger, "PAGE_SIZE", 2)
    query = "&".join(f"{k}={v}" for k, v in RANGE.items())
    second = page(coordinator, f"/admin/reports/asks-ledger?{query}&page=2")
    assert [line[3] for line in table_rows(second, "table-asks-ledger-1")] == ["Lee", "Ned"]
    assert "asks 3–4 of 5" in text(second)
    # The CSV has the whole ledger, not a page.
    assert len(read_csv(coordinator.get(f"/admin/reports/asks-ledger/csv?{query}&page=2"))) == 1 + 5


def test_csv_exports_neutralise_formulas_in_names(app, coordinator, make_account, make_advocate, make_request,
                                                  make_ask, make_engagement):
    seller = make_account(role=Role.SALES, name="@SUM(1+1)*cmd|' /C calc'!A0")
    advocate = make_advocate(name="=HYPERLINK(\"http://evil.example\",\"x\")", company="+Evil Corp")
    set_company(app, advocate, industry="Retail", employees=40)
    asked(make_ask, advocate, make_request(requested_by=seller, prospect_company="-2+3"), "declined", 1, 1)
    engagements(make_engagement, advocate, "booked")
    query = "&".join(f"{k}={v}" for k, v in RANGE.items())
    for slug in SLUGS:
        rows = read_csv(coordinator.get(f"/admin/reports/{slug}/csv?{query}"))
        for row in rows:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (slug, cell)
    ledger = read_csv(coordinator.get(f"/admin/reports/asks-ledger/csv?{query}"))
    assert ledger[1][1] == "'+Evil Corp"
    assert ledger[1][3] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert ledger[1][5] == "'-2+3"
    assert ledger[1][6] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    use = read_csv(coordinator.get(f"/admin/reports/utilisation/csv?{query}"))
    assert use[1][:2] == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'+Evil Corp"]
    # The page shows the names as text, escaped.
    html = page(coordinator, f"/admin/reports/asks-ledger?{query}")
    assert "=HYPERLINK(&#34;http://evil.example&#34;,&#34;x&#34;)" in html


# --- filters, access, the index ----------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=2026-02-30", "from", "The start date is a date like 2026-03-31"),
        ("to=tomorrow", "to", "The end date is a date like 2026-03-31"),
        ("from=2026-05-02&to=2026-05-01", "to", "The end date is on or after the start date."),
        (f"industry={HUGE}", "industry", "Pick an industry from the list."),
        (f"region={2**31}", "region", "Pick a region from the list."),
        ("tier=abc", "tier", "Pick a tier from the list."),
        ("tier=999", "tier", "Pick a tier from the list."),
        ("page=0", "page", "The page is a whole number from 1"),
        (f"page={HUGE}", "page", "The page is a whole number from 1"),
    ],
)
def test_bad_filters_are_a_400_with_the_form_saying_why(coordinator, slug, query, field, message):
    for url in (f"/admin/reports/{slug}?{query}", f"/admin/reports/{slug}/csv?{query}"):
        response = coordinator.get(url)
        assert response.status_code == 400, url
        html = response.get_data(as_text=True)
        assert message in text(html)
        assert "Fix the filters above to see the report." in html
        assert 'aria-label="Filter the report"' in html
        if f'name="{field}"' in html:  # a field of this report's form: the message is beside it
            assert f'aria-describedby="filter-{field}-error"' in html


@pytest.mark.parametrize("slug", SLUGS)
def test_text_that_cannot_be_stored_is_refused_before_the_report(coordinator, slug):
    for query in ("from=2026-01-01%00", "industry=%ED%A0%80"):
        response = coordinator.get(f"/admin/reports/{slug}?{query}")
        assert response.status_code in (400, 422)


def test_the_forms_label_every_filter(coordinator):
    for slug in SLUGS:
        html = page(coordinator, f"/admin/reports/{slug}")
        inputs = re.findall(r'<(?:input|select)[^>]*id="(filter-[a-z]+)"', html)
        assert inputs, slug
        for input_id in inputs:
            assert f'<label for="{input_id}">' in html, (slug, input_id)
    assert 'name="from"' not in page(coordinator, "/admin/reports/coverage")  # no dates: quota is now
    assert 'name="from"' in page(coordinator, "/admin/reports/asks-ledger")


def test_a_good_filter_is_kept_in_the_form_and_the_csv_link(app, coordinator):
    retail = id_of(app, Industry, "Retail")
    html = page(coordinator, f"/admin/reports/asks-ledger?from=2026-01-01&to=2026-02-01&industry={retail}")
    assert 'value="2026-01-01"' in html and 'value="2026-02-01"' in html
    assert f'<option value="{retail}" selected>' in html
    assert f"/admin/reports/asks-ledger/csv?from=2026-01-01&amp;to=2026-02-01&amp;industry={retail}" in html
    response = coordinator.get(f"/admin/reports/asks-ledger/csv?from=2026-01-01&to=2026-02-01"
                               f"&industry={retail}")
    assert 'filename="asks-ledger-2026-01-01-to-2026-02-01.csv"' in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_index_lists_every_report(coordinator):
    html = page(coordinator, "/admin/reports")
    for spec in REPORTS.values():
        assert f'href="/admin/reports/{spec.slug}"' in html
        assert spec.title in html
    assert 'aria-current="page">Reports</a>' in html
    assert coordinator.get("/admin/reports/nothing-like-it").status_code == 404
    assert coordinator.get("/admin/reports/nothing-like-it/csv").status_code == 404


@pytest.mark.parametrize("role", [Role.SALES, Role.ADVOCATE])
def test_only_staff_open_the_reports(signed_in, role):
    http, _ = signed_in(role)
    for url in ("/admin/reports", *(f"/admin/reports/{s}" for s in SLUGS),
                *(f"/admin/reports/{s}/csv" for s in SLUGS)):
        assert http.get(url).status_code == 403, url


def test_admins_open_the_reports_and_strangers_are_sent_to_sign_in(signed_in, client):
    http, _ = signed_in(Role.ADMIN)
    for slug in SLUGS:
        assert http.get(f"/admin/reports/{slug}").status_code == 200
    response = client.get("/admin/reports/coverage")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_the_charts_need_no_script_and_respect_the_policy(app, coordinator, make_advocate, make_engagement):
    coverage_data(app, make_advocate, make_engagement)
    for slug in SLUGS:
        response = coordinator.get(f"/admin/reports/{slug}")
        html = response.get_data(as_text=True)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        body = html.split("<main", 1)[1]
        assert "<script" not in body and " on" + "load=" not in body and "javascript:" not in body
        assert re.search(r' on[a-z]+="', body) is None  # no inline handlers
        for svg in re.findall(r"<svg.*?</svg>", body, re.S):
            assert 'role="img"' in svg and "<title id=" in svg and "aria-describedby=" in svg
            assert "<style" not in svg and "href=" not in svg


# --- query counts ----------------------------------------------------------------------------


def test_every_report_reads_the_same_number_of_queries_for_3_and_30_advocates(
    app, coordinator, make_account, make_advocate, make_request, make_ask, make_engagement, count_queries
):
    seller = make_account(role=Role.SALES)
    industries = ["Healthcare", "Retail", "Technology"]

    def add(count: int) -> None:
        for n in range(count):
            advocate = make_advocate(tier=["Premier", "Active", "Occasional"][n % 3])
            set_company(app, advocate, industry=industries[n % 3], employees=[30, 400, 9000][n % 3],
                        region="Europe")
            engagements(make_engagement, advocate, "booked", "awaiting_booking")
            for status in ("accepted", "declined"):
                asked(make_ask, advocate, make_request(requested_by=seller), status, 3, 1)

    query = "&".join(f"{k}={v}" for k, v in RANGE.items())
    urls = [f"/admin/reports/{slug}?{query}" for slug in SLUGS] + \
        [f"/admin/reports/{slug}/csv?{query}" for slug in SLUGS] + \
        [f"/admin/reports/utilisation?{query}&page=2", f"/admin/reports/asks-ledger?{query}&page=2"]

    def measure() -> list[int]:
        counts = []
        for url in urls:
            with count_queries() as queries:
                response = coordinator.get(url)
                response.get_data()
            assert response.status_code == 200, url
            counts.append(len(queries))
        return counts

    add(3)
    few = measure()
    add(27)
    listed = table_rows(page(coordinator, f"/admin/reports/utilisation?{query}"), "table-utilisation")
    assert len(listed) == 30
    many = measure()
    assert few == many
    assert max(many) <= 10
