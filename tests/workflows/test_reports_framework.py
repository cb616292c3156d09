"""The reports' shared pieces (workflows.reports): the filters read from a query string, with a
message for each bad one; the CSV writer that neutralises formulas; the registry."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from workflows import reports
from workflows.reports import Column, FilterChoices, Table, parse_filters, safe_cell

TODAY = date(2026, 5, 20)
CHOICES = FilterChoices(industries=[(1, "Healthcare"), (2, "Retail")], regions=[(3, "Europe")],
                        tiers=[(4, "Premier")])


def test_no_parameters_give_the_last_90_days_and_any_segment():
    parsed = parse_filters({}, CHOICES, today=TODAY)
    assert parsed.errors == {}
    assert parsed.filters == reports.ReportFilters(date(2026, 2, 20), TODAY)
    assert parsed.page == 1
    assert parsed.filters.start == datetime(2026, 2, 20, tzinfo=UTC)
    assert parsed.filters.end == datetime(2026, 5, 21, tzinfo=UTC)  # the end date is included


def test_good_parameters_are_read_and_given_back_as_arguments():
    args = {"from": "2026-01-01", "to": "2026-03-31", "industry": "2", "region": "3", "tier": "4",
            "page": "3"}
    parsed = parse_filters(args, CHOICES, today=TODAY)
    assert parsed.errors == {}
    assert parsed.filters == reports.ReportFilters(date(2026, 1, 1), date(2026, 3, 31), 2, 3, 4)
    assert parsed.page == 3
    assert parsed.filters.args() == {k: v for k, v in args.items() if k != "page"}


def test_empty_parameters_mean_any():
    parsed = parse_filters({"from": "", "to": " ", "industry": "", "region": "", "tier": ""}, CHOICES, TODAY)
    assert parsed.errors == {}
    assert parsed.filters == reports.ReportFilters.default(TODAY)


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        ({"from": "2026-02-30"}, "from", "start date is a date like"),
        ({"from": "yesterday"}, "from", "start date is a date like"),
        ({"to": "20260101"}, "to", "end date is a date like"),
        ({"to": "１２３４-01-01"}, "to", "end date is a date like"),
        ({"from": "0001-01-01"}, "from", "in the years 2000 to 2999"),
        ({"to": "9999-12-31"}, "to", "in the years 2000 to 2999"),
        ({"from": "2026-04-02", "to": "2026-04-01"}, "to", "on or after the start date"),
        ({"industry": "99999999999999999999"}, "industry", "Pick an industry"),
        ({"industry": str(2**31)}, "industry", "Pick an industry"),
        ({"region": "-1"}, "region", "Pick a region"),
        ({"region": "9"}, "region", "Pick a region"),  # a number, but no region of the list
        ({"tier": "²"}, "tier", "Pick a tier"),
        ({"tier": "x\x00"}, "tier", "cannot be read"),
        ({"from": "2026-01-01\x00"}, "from", "cannot be read"),
        ({"from": "\ud800"}, "from", "cannot be read"),
        ({"page": "0"}, "page", "whole number from 1"),
        ({"page": "99999999999"}, "page", "whole number from 1"),
    ],
)
def test_bad_parameters_are_named_with_a_message(args, field, words):
    parsed = parse_filters(args, CHOICES, today=TODAY)
    assert field in parsed.errors
    assert words in parsed.errors[field]
    # The filters stay usable: the defaults where a value was bad.
    assert parsed.filters.date_from <= parsed.filters.date_to


def test_a_start_date_alone_after_the_default_end_moves_the_end_with_it():
    parsed = parse_filters({"from": "2026-06-01"}, CHOICES, today=TODAY)
    assert parsed.errors == {}
    assert (parsed.filters.date_from, parsed.filters.date_to) == (date(2026, 6, 1), date(2026, 6, 1))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"),
        ("Acme = good", "Acme = good"),
        ("", ""),
        (None, ""),
        (-1, "-1"),  # a number we computed stays a number
        (-2.5, "-2.5"),
        (Decimal("-1200.50"), "-1200.50"),
        (True, "yes"),
        (date(2026, 3, 1), "2026-03-01"),
        (datetime(2026, 3, 1, 9, 5, tzinfo=UTC), "2026-03-01 09:05 UTC"),
    ],
)
def test_safe_cell_neutralises_formulas(value, written):
    assert safe_cell(value) == written


def test_the_csv_of_a_table_has_no_cell_a_spreadsheet_would_run():
    table = Table("Asks", [Column("who", "Who"), Column("n", "Count", numeric=True)],
                  rows=[("=SUM(A1)", 3), ("+1", -1), ("-1", 0), ("@x", 2), ("Plain, with comma", 1)])
    read = list(csv.reader(io.StringIO(table.csv())))
    assert read == [["Who", "Count"], ["'=SUM(A1)", "3"], ["'+1", "-1"], ["'-1", "0"], ["'@x", "2"],
                    ["Plain, with comma", "1"]]
    for row in read[1:]:
        assert not row[0].startswith(("=", "+", "-", "@"))
    assert "".join(table.csv_lines()) == table.csv()


def test_the_registry_lists_the_reports_in_order():
    slugs = [spec.slug for spec in reports.listed()]
    assert "coverage" in slugs
    assert all(spec.title and spec.description for spec in reports.listed())
    with pytest.raises(ValueError):
        reports.register("odd", "Odd", "Uses a filter nobody has.", filters=("colour",))
