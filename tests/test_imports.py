"""CSV imports (DESIGN.md §7.11 and §9): ``flask advocates import FILE.csv`` and
``flask customers import FILE.csv``, and the workflow behind them and the upload page.

A file imports whole or not at all; every bad row is named with its column and problem; the
same file twice changes nothing; a changed file updates what changed; the number of queries
does not grow with the number of rows."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time as clock
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from models import (
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateStatus,
    AdvocateTopic,
    AuditEvent,
    Company,
    Competitor,
    Role,
    SuppressedAddress,
    UseCase,
    WeeklyWindow,
    db,
)
from workflows import imports as flow
from workflows import suppression
from workflows.availability import overview
from workflows.imports import reading
from workflows.privacy import leave_program

DATA = Path(__file__).parent / "data"
ADVOCATES = DATA / "advocates_good.csv"
CUSTOMERS = DATA / "customers_good.csv"
TODAY = datetime.now(UTC).date()


# --- helpers -----------------------------------------------------------------------------------


def write_csv(path: Path, kind: str, rows: list[dict], columns=None, encoding="utf-8") -> Path:
    """A file of ``kind`` with the contract's columns (or ``columns``), cells not given left empty."""
    columns = list(columns or flow.COLUMNS[kind])
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def advocate_row(n: int, **cells) -> dict:
    """A valid advocates row; rows with the same ``n % 40`` share a company (and its facts)."""
    company = n % 40
    return {
        "email": f"person{n}@customer{company}.example",
        "name": f"Person {n}",
        "company": f"Customer {company} Ltd",
        "industry": ["Healthcare", "Retail", "Technology", "Energy"][company % 4],
        "employees": str(100 + company * 50),
        "region": ["Europe", "North America", "Asia Pacific"][company % 3],
        "job_level": ["Executive", "Director", "manager", "practitioner"][n % 4],
        "tier": ["Premier", "Active", "Occasional"][n % 3],
        "timezone": ["Europe/Berlin", "America/New_York", "Asia/Tokyo"][n % 3],
        "formats": "call; video" if n % 2 else "written",
        "use_cases": f"Use case {n % 20}; Fleet tracking",
        "topics": "Implementation; ROI",
        "avoid_topics": "Pricing and contract" if n % 5 == 0 else "",
        "competitors": f"Rival {n % 10}; Other {n % 7} (replaced)",
        "weekly_windows": "Mon 09:00-12:00; Wed 14:00-17:00",
        "quarterly_cap": "1" if n % 6 == 0 else "",
        **cells,
    }


def customer_row(n: int, **cells) -> dict:
    return {
        "company": f"Client {n} GmbH",
        "industry": "Manufacturing",
        "employees": str(50 + n),
        "region": "Europe",
        "crm_id": f"CRM-{n:05d}",
        "contact_name": f"Contact {n}",
        "contact_email": f"contact{n}@client{n}.example",
        "contact_title": "Head of Operations",
        "health_score": str(n % 101),
        "nps": str(n % 201 - 100),
        "renewal_date": "2027-01-31",
        "customer_since": "2020-05-01",
        **cells,
    }


def run(runner, kind: str, path: Path):
    return runner.invoke(args=[kind, "import", str(path)])


def rejected(kind: str, path: Path) -> flow.ImportRejected:
    importer = flow.import_advocates if kind == "advocates" else flow.import_customers
    with pytest.raises(flow.ImportRejected) as caught:
        importer(path)
    return caught.value


def where(problems) -> set[tuple[int | None, str | None]]:
    return {(p.row, p.column) for p in problems}


def counts() -> dict[str, int]:
    """Rows in every table an import writes to."""
    tables = {
        "accounts": Account, "advocates": Advocate, "companies": Company, "windows": WeeklyWindow,
        "topics": AdvocateTopic, "competitors": AdvocateCompetitor, "use_case_tags": UseCase,
        "competitor_tags": Competitor, "audit": AuditEvent,
    }
    result = {
        name: db.session.scalar(select(func.count()).select_from(model)) for name, model in tables.items()
    }
    db.session.rollback()
    return result


def advocate_by_email(email: str) -> Advocate:
    db.session.expire_all()
    return db.session.scalars(
        select(Advocate)
        .join(Advocate.account)
        .where(Account.email == email)
        .options(
            selectinload(Advocate.formats), selectinload(Advocate.use_cases),
            selectinload(Advocate.topics).selectinload(AdvocateTopic.topic),
            selectinload(Advocate.competitors).selectinload(AdvocateCompetitor.competitor),
            selectinload(Advocate.windows),
        )
    ).one()


def stances(advocate: Advocate) -> dict[str, str]:
    return {link.topic.name: link.stance.value for link in advocate.topics}


def windows(advocate: Advocate) -> list[tuple[int, str, str]]:
    return [(w.weekday, f"{w.starts:%H:%M}", f"{w.ends:%H:%M}") for w in advocate.windows]


def competitors(advocate: Advocate) -> dict[str, str]:
    return {link.competitor.name: link.relation.value for link in advocate.competitors}


# --- a good advocates file ---------------------------------------------------------------------


def test_the_cli_imports_a_good_advocates_file(runner, app_context):
    result = run(runner, "advocates", ADVOCATES)

    assert result.exit_code == 0, result.output
    assert ("Imported advocates_good.csv (4 rows): 4 advocates created, 0 updated, 0 unchanged; "
            "3 companies created, 0 updated.") in result.output

    dana = advocate_by_email("dana.whitfield@northwind.example")
    assert dana.account.name == "Dana Whitfield" and dana.account.role is Role.ADVOCATE
    assert dana.account.timezone == "America/Chicago"
    assert windows(dana) == [(0, "09:00", "12:00"), (2, "14:00", "17:00")]
    assert sorted(f.code for f in dana.formats) == ["call", "video"]
    assert sorted(u.name for u in dana.use_cases) == ["Fleet tracking", "Route optimisation"]
    assert stances(dana) == {"Implementation": "glad", "ROI": "glad", "Pricing and contract": "avoid"}
    assert competitors(dana) == {"Globex Routing": "replaced", "Initech Fleet": "evaluated"}
    assert dana.tier.name == "Premier" and dana.quarterly_cap == 4 and dana.quarterly_limit == 4
    assert dana.job_level_code == "director"
    assert dana.status is AdvocateStatus.ACTIVE
    assert dana.consent_at is not None and abs((datetime.now(UTC) - dana.consent_at).total_seconds()) < 60
    assert dana.consent_source == f"import of advocates_good.csv on {dana.consent_at:%Y-%m-%d}"
    company = dana.company
    assert (company.name, company.industry.name, company.employees, company.region.name) == (
        "Northwind Logistics", "Transportation", 2400, "North America")

    lena = advocate_by_email("lena.ott@helvetia-diagnostics.example")  # the e-mail case-folded
    assert lena.job_level_code == "executive"  # by code, any case
    assert lena.tier.name == "Active"  # by name, any case
    assert lena.quarterly_cap is None and lena.quarterly_limit == 4
    assert [f.code for f in lena.formats] == ["written"] and lena.windows == [] and lena.competitors == []
    assert lena.account.timezone == "Europe/Zurich"

    ravi = advocate_by_email("ravi.menon@keystone-data.example")
    assert windows(ravi) == [(1, "10:00", "11:30"), (2, "10:00", "11:30"), (3, "10:00", "11:30"),
                             (4, "15:00", "16:00")]  # Tue-Thu is three windows
    assert stances(ravi) == {"Integration": "glad", "Scalability": "glad", "Migration": "glad",
                             "Change management": "avoid", "Executive sponsorship": "avoid"}
    assert competitors(ravi) == {"Acme Analytics": "evaluated"}
    # "fleet tracking" is Dana's "Fleet tracking": one tag, first spelling kept.
    assert sorted(u.name for u in ravi.use_cases) == ["Data pipelines", "Fleet tracking"]
    tags = db.session.scalars(select(UseCase.name).order_by(UseCase.name)).all()
    assert tags == ["Data pipelines", "Fleet tracking", "Lab data integration", "Route optimisation"]

    sofia = advocate_by_email("sofia.reyes@northwind.example")
    assert sofia.account.name == '=Sofia "SR" Reyes'  # a formula-looking cell is imported as text
    assert sofia.company_id == dana.company_id  # "northwind logistics" is Northwind Logistics
    assert sofia.quarterly_cap == 0 and sofia.quarterly_limit == 0

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "import.advocates"))
    assert event.subject == "advocates_good.csv" and event.actor_id is None
    assert (event.detail["created"], event.detail["rows"]) == (4, 4)


def test_imported_windows_are_in_the_advocates_own_time_zone(runner, app_context):
    assert run(runner, "advocates", ADVOCATES).exit_code == 0
    dana = advocate_by_email("dana.whitfield@northwind.example")

    # Monday 2026-06-01, 00:00 UTC: Chicago keeps daylight time (UTC-5) all June.
    page = overview(dana.id, now=datetime(2026, 6, 1, tzinfo=UTC))
    slots = [slot for day in page.preview for slot in day.slots]
    mondays = [slot for slot in slots if slot.start.weekday() == 0]
    assert mondays, "no Monday slot in the preview"
    first = mondays[0]
    assert (first.start.hour, first.start.minute) == (9, 0)
    assert str(first.start.tzinfo) == "America/Chicago"
    assert first.utc == datetime(2026, 6, 8, 14, 0, tzinfo=UTC)


def test_a_file_with_a_byte_order_mark_imports(runner, app_context):
    result = run(runner, "advocates", DATA / "advocates_bom.csv")
    assert result.exit_code == 0, result.output
    assert "1 advocates created" in result.output
    assert advocate_by_email("dana.whitfield@northwind.example").account.name == "Dana Whitfield"


@pytest.mark.parametrize("kind", ["advocates", "customers"])
def test_progress_increments_add_up_to_100(app_context, kind):
    steps: list[int] = []
    importer = flow.import_advocates if kind == "advocates" else flow.import_customers
    importer(ADVOCATES if kind == "advocates" else CUSTOMERS, on_progress=steps.append)
    assert sum(steps) == 100
    assert all(step > 0 for step in steps) and len(steps) > 3  # validation and writing both report


def test_text_and_binary_file_objects_work_too(app_context):
    data = ADVOCATES.read_bytes()
    report = flow.import_advocates(io.BytesIO(data), source_name="from-a-form.csv")
    assert (report.created, report.source_name) == (4, "from-a-form.csv")
    report = flow.import_advocates(io.StringIO(data.decode()), source_name="again.csv")
    assert (report.created, report.unchanged) == (0, 4)
    assert advocate_by_email("dana.whitfield@northwind.example").consent_source.startswith(
        "import of from-a-form.csv on ")


def test_existing_tags_are_reused_whatever_their_case(app_context):
    db.session.add_all([UseCase(name="FLEET TRACKING"), Competitor(name="globex routing")])
    db.session.commit()
    flow.import_advocates(ADVOCATES)
    dana = advocate_by_email("dana.whitfield@northwind.example")
    assert sorted(u.name for u in dana.use_cases) == ["FLEET TRACKING", "Route optimisation"]
    assert competitors(dana)["globex routing"] == "replaced"
    assert db.session.scalar(select(func.count()).where(UseCase.key == "fleet tracking")) == 1


# --- the same file twice, and a changed file ---------------------------------------------------


def test_the_same_file_twice_changes_nothing_the_second_time(runner, app_context):
    assert run(runner, "advocates", ADVOCATES).exit_code == 0
    before = counts()
    dana = advocate_by_email("dana.whitfield@northwind.example")
    consent = dana.consent_at

    result = run(runner, "advocates", ADVOCATES)

    assert result.exit_code == 0, result.output
    assert ("Imported advocates_good.csv (4 rows): 0 advocates created, 0 updated, 4 unchanged "
            "(nothing changed).") in result.output
    after = counts()
    assert after == {**before, "audit": before["audit"] + 1}  # only the import's own audit event
    assert advocate_by_email("dana.whitfield@northwind.example").consent_at == consent


def test_a_changed_file_updates_what_changed(tmp_path, app_context):
    rows = [advocate_row(n) for n in range(1, 4)]
    flow.import_advocates(write_csv(tmp_path / "v1.csv", "advocates", rows))
    first = advocate_by_email(rows[0]["email"])
    first_id, consent = first.id, first.consent_at
    rows[0].update({
        "name": "Person One Renamed", "tier": "Premier", "quarterly_cap": "5",
        "timezone": "America/Chicago", "formats": "site_visit; call",
        # Monday's window ends later (same start), Wednesday's goes, Thursday's is new.
        "weekly_windows": "Mon 09:00-13:00; Thu 08:00-09:00",
        "topics": "ROI; Security", "avoid_topics": "Implementation",
        "competitors": "Rival 1 (replaced); Newcomer",
        "use_cases": "Fleet tracking; Brand new use case",
        "job_level": "", "employees": "9999", "industry": "",
    })

    report = flow.import_advocates(write_csv(tmp_path / "v2.csv", "advocates", rows))

    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert report.companies_updated == 1 and report.companies_created == 0
    advocate = advocate_by_email(rows[0]["email"])
    assert advocate.id == first_id
    assert advocate.account.name == "Person One Renamed" and advocate.account.timezone == "America/Chicago"
    assert advocate.tier.name == "Premier" and advocate.quarterly_cap == 5
    assert advocate.job_level_code is None  # an empty cell clears the advocate's own columns
    assert sorted(f.code for f in advocate.formats) == ["call", "site_visit"]
    assert windows(advocate) == [(0, "09:00", "13:00"), (3, "08:00", "09:00")]
    assert stances(advocate) == {"ROI": "glad", "Security": "glad", "Implementation": "avoid"}
    assert competitors(advocate) == {"Rival 1": "replaced", "Newcomer": "evaluated"}
    assert sorted(u.name for u in advocate.use_cases) == ["Brand new use case", "Fleet tracking"]
    assert advocate.consent_at == consent  # consent given earlier is kept
    # An empty company cell leaves the company's value; a given one replaces it.
    assert advocate.company.industry.name == "Retail" and advocate.company.employees == 9999

    again = flow.import_advocates(write_csv(tmp_path / "v2.csv", "advocates", rows))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_an_existing_candidate_becomes_active_a_paused_advocate_stays_paused(tmp_path, app_context,
                                                                               make_advocate):
    candidate = make_advocate(status="candidate", email="cand@example.com")
    paused = make_advocate(status="paused", email="paused@example.com")
    db.session.get(Advocate, candidate.id).consent_at = None  # a candidate has not consented yet
    db.session.commit()
    path = write_csv(tmp_path / "list.csv", "advocates", [
        advocate_row(1, email="Cand@Example.com"), advocate_row(2, email="paused@example.com")])

    report = flow.import_advocates(path)

    assert (report.created, report.updated) == (0, 2)
    now_active = advocate_by_email("cand@example.com")
    assert now_active.id == candidate.id and now_active.status is AdvocateStatus.ACTIVE
    assert now_active.consent_source.startswith("import of list.csv on ")
    still_paused = advocate_by_email("paused@example.com")
    assert still_paused.id == paused.id and still_paused.status is AdvocateStatus.PAUSED
    assert still_paused.consent_source == "test"


def test_an_advocate_account_without_a_profile_gets_one(tmp_path, app_context, make_account):
    account = make_account(role="advocate", email="bare@example.com")
    report = flow.import_advocates(write_csv(tmp_path / "a.csv", "advocates",
                                             [advocate_row(1, email="bare@example.com")]))
    assert report.created == 1
    advocate = advocate_by_email("bare@example.com")
    assert advocate.account_id == account.id and advocate.account.name == "Person 1"
    assert db.session.scalar(select(func.count()).select_from(Account)) == 1


# --- bad files: nothing imported, every problem named ------------------------------------------


def test_a_file_with_bad_rows_imports_nothing_and_names_every_problem(runner, app_context):
    before = counts()

    result = run(runner, "advocates", DATA / "advocates_bad.csv")

    assert result.exit_code == 1
    assert "Nothing was imported from advocates_bad.csv: 16 problems in 4 rows." in result.stderr
    for line in [
        "row 2, email: “not-an-address” is not an e-mail address.",
        "row 3, industry: “Agriculture” is not an industry",
        "row 3, tier: “Gold” is not a tier: use Premier, Active or Occasional.",
        "row 3, timezone: “Mars/Olympus” is not a time zone name",
        "row 3, formats: “fax” is not a format: use call, video, written or site_visit.",
        "row 3, topics: “Weather” is not a topic",
        "row 3, weekly_windows: “Mon 12:00-09:00”: The end must be after the start",
        "row 4, name: Give the advocate's name",
        "row 4, employees: “lots” is not a whole number",
        "row 4, job_level: “Intern” is not a job level",
        "row 4, weekly_windows: “Mon 11:00-13:00”: This overlaps",
        "row 4, avoid_topics: ROI is in topics too",
        "row 4, quarterly_cap: 9 is more than the Premier tier allows: give 0 to 6",
        "row 5, email: pat.two@acme.example is also on row 3",
        "row 5, industry: Row 2 gives Acme Corp another industry",
        "row 5, weekly_windows: “Someday” in “Someday 09:00-10:00” is not a weekday",
    ]:
        assert line in result.stderr, line
    assert counts() == before


def test_the_rejection_lists_every_problem_with_row_and_column(app_context):
    problems = rejected("advocates", DATA / "advocates_bad.csv").problems
    assert where(problems) == {
        (2, "email"),
        (3, "industry"), (3, "tier"), (3, "timezone"), (3, "formats"), (3, "topics"), (3, "weekly_windows"),
        (4, "name"), (4, "employees"), (4, "job_level"), (4, "weekly_windows"), (4, "avoid_topics"),
        (4, "quarterly_cap"),
        (5, "email"), (5, "industry"), (5, "weekly_windows"),
    }
    assert [p.row for p in problems] == sorted(p.row for p in problems)


def test_one_bad_row_among_many_good_ones_keeps_them_all_out(tmp_path, app_context):
    rows = [advocate_row(n) for n in range(1, 30)]
    rows[17]["weekly_windows"] = "Mon 9-12"
    error = rejected("advocates", write_csv(tmp_path / "a.csv", "advocates", rows))
    assert where(error.problems) == {(19, "weekly_windows")}
    assert error.problems[0].message == "“Mon 9-12”: Enter a time like 09:30."
    assert counts()["advocates"] == 0 and counts()["use_case_tags"] == 0


def test_the_email_of_a_staff_or_sales_account_is_refused(tmp_path, app_context, make_account):
    make_account(role="coordinator", email="cora@example.com")
    error = rejected("advocates", write_csv(tmp_path / "a.csv", "advocates",
                                            [advocate_row(1, email="CORA@example.com")]))
    assert where(error.problems) == {(2, "email")}
    assert "cora@example.com belongs to a coordinator account" in error.problems[0].message


@pytest.mark.parametrize(("cells", "column", "message"), [
    ({"tier": ""}, "tier", "Give the advocate's tier: Premier, Active or Occasional."),
    ({"company": ""}, "company", "Give the company's name"),
    ({"timezone": ""}, "timezone", "Give the time zone the weekly windows are in"),
    ({"weekly_windows": "Mon 09:00-09:15"}, "weekly_windows", "at least 30 minutes"),
    ({"weekly_windows": "Fri-Mon 09:00-10:00"}, "weekly_windows", "the days run backwards"),
    ({"weekly_windows": "Mon 09:00-24:00"}, "weekly_windows", "is not a time of the day"),
    ({"quarterly_cap": "-1"}, "quarterly_cap", "out of range"),
    ({"competitors": "Acme; Acme (replaced)"}, "competitors", "Acme is both evaluated and replaced"),
    ({"use_cases": "x" * 121}, "use_cases", "too long"),
    ({"region": "Atlantis"}, "region", "“Atlantis” is not a region"),
    ({"topics": "ROI; Weather; Vibes"}, "topics", "“Weather”, “Vibes” are not topics"),
    ({"name": "n" * 121}, "name", "keep it to 120"),
])
def test_each_rule_names_its_column(tmp_path, app_context, cells, column, message):
    error = rejected("advocates", write_csv(tmp_path / "a.csv", "advocates", [advocate_row(1, **cells)]))
    assert where(error.problems) == {(2, column)}
    assert message in error.problems[0].message


def test_windows_accept_full_day_names_and_dashes(tmp_path, app_context):
    path = write_csv(tmp_path / "a.csv", "advocates", [
        advocate_row(1, weekly_windows="monday 9:00 - 10:00;\nSATURDAY 10:00–11:00")])
    flow.import_advocates(path)
    assert windows(advocate_by_email("person1@customer1.example")) == [(0, "09:00", "10:00"),
                                                                        (5, "10:00", "11:00")]


def test_missing_and_unknown_columns_are_named(tmp_path, app_context):
    columns = [c for c in flow.ADVOCATE_COLUMNS if c not in ("quarterly_cap", "timezone")]
    columns += ["notes", "Owner"]
    error = rejected("advocates", write_csv(tmp_path / "a.csv", "advocates", [advocate_row(1)], columns))
    messages = " ".join(p.message for p in error.problems)
    assert "Unknown columns: notes, owner." in messages
    assert "Missing columns: timezone, quarterly_cap." in messages
    assert {p.row for p in error.problems} == {1}


def test_columns_in_any_order_and_any_case_are_fine(tmp_path, app_context):
    columns = [c.upper() for c in reversed(flow.ADVOCATE_COLUMNS)]
    rows = [{c.upper(): v for c, v in advocate_row(1).items()}]
    report = flow.import_advocates(write_csv(tmp_path / "a.csv", "advocates", rows, columns))
    assert report.created == 1


def test_a_repeated_column_is_refused(tmp_path, app_context):
    columns = [*flow.ADVOCATE_COLUMNS, "email"]
    error = rejected("advocates", write_csv(tmp_path / "a.csv", "advocates", [advocate_row(1)], columns))
    assert where(error.problems) == {(1, "email")}


def test_a_file_of_the_other_kind_is_recognised(app_context):
    error = rejected("customers", ADVOCATES)
    assert [p.message for p in error.problems] == [
        "This file has the columns of an advocates file, not of a customers file: import it as advocates."]


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n", b",,,\n"])
def test_an_empty_file_is_refused(tmp_path, runner, app_context, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    result = run(runner, "advocates", path)
    assert result.exit_code == 1
    assert "The file is empty: its first row must name the columns, email, name," in result.stderr


def test_a_header_without_rows_imports_nothing_and_says_so(tmp_path, app_context):
    report = flow.import_advocates(write_csv(tmp_path / "a.csv", "advocates", []))
    assert (report.rows, report.created, report.changed) == (0, 0, False)


def test_blank_lines_are_skipped_but_rows_keep_their_spreadsheet_numbers(tmp_path, app_context):
    path = write_csv(tmp_path / "a.csv", "advocates", [advocate_row(1), {}, advocate_row(2, tier="Gold")])
    assert where(rejected("advocates", path).problems) == {(4, "tier")}


def test_empty_nameless_columns_from_a_spreadsheet_are_ignored_unless_they_hold_data(tmp_path, app_context):
    columns = [*flow.ADVOCATE_COLUMNS, "", ""]
    path = write_csv(tmp_path / "a.csv", "advocates", [advocate_row(1), advocate_row(2)], columns)
    assert flow.import_advocates(path).created == 2

    path.write_text(path.read_text().splitlines()[0] + "\n" + ",".join(advocate_row(3).values()) + ",,oops\n")
    [problem] = rejected("advocates", path).problems
    assert problem == (2, None, "This row has a value in column 18, which has no name in the header row.")


def test_the_file_name_is_kept_without_its_folders(app_context):
    report = flow.import_advocates(io.BytesIO(ADVOCATES.read_bytes()),
                                   source_name="C:\\Users\\pat\\Desktop\\refs.csv")
    assert report.source_name == "refs.csv"
    assert flow.import_advocates(io.BytesIO(ADVOCATES.read_bytes())).source_name == "the uploaded file"


def test_a_semicolon_separated_file_gets_a_helpful_message(tmp_path, app_context):
    path = tmp_path / "excel.csv"
    path.write_text(";".join(flow.ADVOCATE_COLUMNS) + "\n")
    [problem] = rejected("advocates", path).problems
    assert "separated by semicolons" in problem.message


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(tmp_path, app_context):
    path = write_csv(tmp_path / "latin1.csv", "advocates",
                     [advocate_row(1), advocate_row(2, name="Zoë Müller")], encoding="latin-1")
    [problem] = rejected("advocates", path).problems
    assert problem.row == 3 and "not UTF-8" in problem.message and "CSV UTF-8" in problem.message


def test_a_row_with_more_cells_than_columns_is_refused(tmp_path, app_context):
    path = write_csv(tmp_path / "a.csv", "advocates", [advocate_row(1)])
    path.write_text(path.read_text().rstrip("\n") + ",surplus\n")
    [problem] = rejected("advocates", path).problems
    assert problem.row == 2 and "17 cells but the header names 16 columns" in problem.message


def test_too_many_rows_are_refused_with_a_clear_message(tmp_path, app_context, monkeypatch):
    monkeypatch.setattr(reading, "MAX_ROWS", 3)
    path = write_csv(tmp_path / "a.csv", "advocates", [advocate_row(n) for n in range(1, 5)])
    [problem] = rejected("advocates", path).problems
    assert problem.row == 5 and "more than 3 rows: split it" in problem.message
    assert counts()["advocates"] == 0


def test_a_file_too_large_is_refused_before_reading(tmp_path, app_context, monkeypatch):
    monkeypatch.setattr(reading, "MAX_FILE_BYTES", 100)
    [problem] = rejected("advocates", ADVOCATES).problems
    assert problem.row is None and "larger than" in problem.message
    with pytest.raises(flow.ImportRejected):
        flow.import_advocates(io.BytesIO(ADVOCATES.read_bytes()))


# --- text no database can store ------------------------------------------------------------------
# PostgreSQL refuses NUL in text; both databases are tested with the same files, so the rule is
# the import's, not the database's.

NUL_MESSAGE = "contains a NUL character (U+0000), which cannot be stored: remove it."


def test_a_nul_character_in_a_cell_is_named_and_nothing_is_imported(tmp_path, runner, app_context):
    path = write_csv(tmp_path / "nul.csv", "advocates", [
        advocate_row(1), advocate_row(2, company="Customer\x002 Ltd"), advocate_row(3, name="Per\x00son 3")])
    before = counts()

    result = run(runner, "advocates", path)

    assert result.exit_code == 1
    assert "Nothing was imported from nul.csv: 2 problems in 2 rows." in result.stderr
    assert f"row 3, company: {NUL_MESSAGE}" in result.stderr
    assert f"row 4, name: {NUL_MESSAGE}" in result.stderr
    assert counts() == before


def test_a_nul_character_in_a_customers_file_is_refused_too(tmp_path, app_context):
    path = write_csv(tmp_path / "nul.csv", "customers", [
        customer_row(1), customer_row(2, contact_title="Head\x00of Ops")])
    [problem] = rejected("customers", path).problems
    assert problem == (3, "contact_title", NUL_MESSAGE)
    assert counts()["companies"] == 0


def test_a_nul_character_in_the_header_is_refused(tmp_path, app_context):
    columns = ["e\x00mail", *flow.ADVOCATE_COLUMNS[1:]]
    [problem] = rejected("advocates", write_csv(tmp_path / "nul.csv", "advocates", [], columns)).problems
    assert problem == (1, None, f"The header row {NUL_MESSAGE}")


def test_a_lone_surrogate_from_a_text_file_object_is_refused(app_context):
    data = ADVOCATES.read_text().replace("Dana Whitfield", "Dana \ud800Whitfield")
    with pytest.raises(flow.ImportRejected) as caught:
        flow.import_advocates(io.StringIO(data), source_name="text.csv")
    [problem] = caught.value.problems
    assert (problem.row, problem.column) == (2, "name") and "lone UTF-16 surrogate" in problem.message


# --- people who left the program stay gone -------------------------------------------------------


def leave(make_advocate, email: str) -> None:
    """An advocate with this address leaves the program: the address goes on the suppression list."""
    leave_program(make_advocate(email=email).id, confirmation="LEAVE")


def test_an_advocates_import_refuses_someone_who_left_naming_the_row(tmp_path, app_context, make_advocate,
                                                                      count_queries):
    leave(make_advocate, "person2@customer2.example")
    path = write_csv(tmp_path / "old.csv", "advocates", [
        advocate_row(n, email=f"Person{n}@Customer{n}.example") for n in range(1, 41)])
    before = counts()

    with count_queries() as statements:
        error = rejected("advocates", path)

    assert where(error.problems) == {(3, "email")}
    assert error.problems[0].message == suppression.LEFT_MESSAGE.format(email="person2@customer2.example")
    assert counts() == before
    # One look at the suppression list for the whole file.
    assert sum("suppressed_addresses" in statement for statement in statements) == 1


def test_a_customers_import_does_not_make_someone_who_left_a_candidate(tmp_path, app_context,
                                                                        make_advocate):
    leave(make_advocate, "contact2@client2.example")
    path = write_csv(tmp_path / "crm.csv", "customers", [customer_row(n) for n in range(1, 4)])
    before = counts()

    error = rejected("customers", path)

    assert where(error.problems) == {(3, "contact_email")}
    assert "contact2@client2.example left the reference program" in error.problems[0].message
    assert counts() == before

    # Without the contact, the company itself imports.
    path = write_csv(tmp_path / "crm.csv", "customers", [
        customer_row(n, **({"contact_email": ""} if n == 2 else {})) for n in range(1, 4)])
    assert flow.import_customers(path).candidates_created == 2


def test_the_suppression_list_keeps_no_address_in_clear(app_context, make_advocate):
    leave(make_advocate, "dana.whitfield@northwind.example")

    table = SuppressedAddress.__table__
    rows = db.session.execute(select(table)).mappings().all()

    assert set(table.columns.keys()) == {"digest", "created_at"}
    [row] = rows
    stored = " ".join(str(value) for value in row.values()).lower()
    for part in ("dana.whitfield@northwind.example", "dana", "whitfield", "northwind"):
        assert part not in stored
    assert re.fullmatch(r"[0-9a-f]{64}", row["digest"])
    # A keyed hash: the address's plain SHA-256 is not what is kept, so the list cannot be
    # checked against a list of guessed addresses without the key.
    assert row["digest"] != hashlib.sha256(b"dana.whitfield@northwind.example").hexdigest()
    assert suppression.suppressed({"dana.whitfield@northwind.example", "other@example.com"}) == {
        "dana.whitfield@northwind.example"}


# --- customers -----------------------------------------------------------------------------------


def test_the_cli_imports_a_good_customers_file(runner, app_context):
    result = run(runner, "customers", CUSTOMERS)

    assert result.exit_code == 0, result.output
    assert ("Imported customers_good.csv (4 rows): 4 companies created, 0 updated, 0 unchanged; "
            "2 contacts added as candidate advocates.") in result.output
    assert "1 contact has no e-mail address and was not added (row 5)." in result.output

    northwind = db.session.scalar(select(Company).where(Company.name_key == "northwind logistics"))
    assert (northwind.industry.name, northwind.employees, northwind.region.name, northwind.crm_id) == (
        "Transportation", 2400, "North America", "ACC-004007")
    assert (northwind.health_score, northwind.nps) == (91, 62)
    assert (northwind.renewal_date, northwind.customer_since) == (date(2026, 11, 30), date(2021, 3, 15))
    banco = db.session.scalar(select(Company).where(Company.name == "Banco Sereno"))
    assert banco.employees == 18000 and banco.nps == -5 and banco.renewal_date is None
    granite = db.session.scalar(select(Company).where(Company.name == "Granite Works"))
    assert granite.region is None and granite.health_score is None

    mateo = advocate_by_email("mateo.ruiz@banco-sereno.example")
    assert mateo.status is AdvocateStatus.CANDIDATE and mateo.consent_at is None
    assert mateo.account.role is Role.ADVOCATE and mateo.account.name == "Mateo Ruiz"
    assert mateo.job_title == "Head of Payments" and mateo.company_id == banco.id
    assert mateo.tier is None and mateo.windows == []
    # Olga has no address: no account for her.
    assert db.session.scalar(select(func.count()).select_from(Account)) == 2

    again = run(runner, "customers", CUSTOMERS)
    assert again.exit_code == 0, again.output
    assert "0 companies created, 0 updated, 4 unchanged (nothing changed)." in again.output
    assert "2 contacts were already advocates and were left as they are." in again.output
    assert db.session.scalar(select(func.count()).select_from(Advocate)) == 2


def test_customers_after_advocates_fill_in_the_companies_and_leave_the_advocates(runner, app_context):
    assert run(runner, "advocates", ADVOCATES).exit_code == 0
    dana_before = advocate_by_email("dana.whitfield@northwind.example")
    status, title = dana_before.status, dana_before.job_title

    result = run(runner, "customers", CUSTOMERS)

    assert result.exit_code == 0, result.output
    assert ("2 companies created, 2 updated, 0 unchanged; 1 contact added as a candidate advocate"
            in result.output)
    assert "1 contact was already an advocate and was left as they are." in result.output
    dana = advocate_by_email("dana.whitfield@northwind.example")
    assert (dana.status, dana.job_title) == (status, title)
    assert dana.company.crm_id == "ACC-004007" and dana.company.health_score == 91


def test_empty_customer_cells_leave_what_is_known(tmp_path, app_context):
    flow.import_customers(write_csv(tmp_path / "c.csv", "customers", [customer_row(1)]))
    report = flow.import_customers(write_csv(tmp_path / "c.csv", "customers", [
        customer_row(1, industry="", employees="", health_score="", nps="77", renewal_date="")]))
    assert (report.updated, report.unchanged) == (1, 0)
    company = db.session.scalar(select(Company))
    db.session.refresh(company)
    assert (company.industry.name, company.employees, company.nps) == ("Manufacturing", 51, 77)
    assert company.renewal_date == date(2027, 1, 31)


def test_a_bad_customers_file_imports_nothing(runner, app_context):
    before = counts()
    result = run(runner, "customers", DATA / "customers_bad.csv")
    assert result.exit_code == 1
    assert "Nothing was imported from customers_bad.csv: 11 problems in 3 rows." in result.stderr
    for line in [
        "row 2, industry: “Transport” is not an industry",
        "row 2, region: “Mars” is not a region",
        "row 2, employees: 0 is out of range",
        "row 2, health_score: 101 is out of range",
        "row 2, nps: -101 is out of range",
        "row 2, renewal_date: “31/12/2026” is not a date: give the renewal date like 2026-05-31.",
        "row 2, customer_since: “2021-02-30” is not a date",
        "row 2, contact_email: “dana@” is not an e-mail address.",
        "row 3, company: Give the company's name",
        "row 4, company: northwind logistics is also on row 2: one row per company.",
        "row 4, crm_id: The CRM id ACC-1 is also on row 2",
    ]:
        assert line in result.stderr, line
    assert counts() == before


def test_a_crm_id_of_another_company_and_a_sales_contact_are_refused(tmp_path, app_context, make_account):
    flow.import_customers(write_csv(tmp_path / "c.csv", "customers", [customer_row(1)]))
    make_account(role="sales", email="sam@vendor.example")
    error = rejected("customers", write_csv(tmp_path / "d.csv", "customers", [
        customer_row(2, crm_id="CRM-00001"), customer_row(3, contact_email="Sam@Vendor.example")]))
    assert where(error.problems) == {(2, "crm_id"), (3, "contact_email")}
    assert "belongs to a sales account" in error.problems[1].message


# --- size: a constant number of queries, seconds for 5 000 rows ---------------------------------


def _queries(count_queries, importer, path) -> int:
    with count_queries() as statements:
        importer(path)
    return len(statements)


def test_the_query_count_does_not_grow_with_rows(tmp_path, app, count_queries):
    def rows(numbers, tag: str, **cells):  # new tags in each file: both imports create some
        return [advocate_row(n, use_cases=f"{tag} use {n % 20}",
                             competitors=f"{tag} rival {n % 9} (replaced)", **cells) for n in numbers]

    def measure(small_rows, large_rows) -> tuple[int, int]:
        small = write_csv(tmp_path / "small.csv", "advocates", small_rows)
        large = write_csv(tmp_path / "large.csv", "advocates", large_rows)
        counts = []
        for path in (small, large):  # each in an app context of its own, as a command runs
            with app.app_context():
                counts.append(_queries(count_queries, flow.import_advocates, path))
        return tuple(counts)

    created = measure(rows(range(10), "Small"), rows(range(10, 210), "Large"))
    unchanged = measure(rows(range(10), "Small"), rows(range(10, 210), "Large"))
    changed = {"weekly_windows": "Tue 10:00-11:00", "topics": "Security", "quarterly_cap": "0",
               "formats": "video", "name": "Renamed"}
    updated = measure(rows(range(10), "Small 2", **changed), rows(range(10, 210), "Large 2", **changed))

    assert created[0] == created[1] and unchanged[0] == unchanged[1] and updated[0] == updated[1], (
        created, unchanged, updated)
    # The import's own statements, plus the fixed set-based refresh of the touched match rows.
    assert max(created + unchanged + updated) <= 60


def test_the_customers_query_count_does_not_grow_with_rows(tmp_path, app, count_queries):
    small = write_csv(tmp_path / "small.csv", "customers", [customer_row(n) for n in range(10)])
    large = write_csv(tmp_path / "large.csv", "customers", [customer_row(n) for n in range(10, 210)])
    with app.app_context():
        assert _queries(count_queries, flow.import_customers, small) == _queries(
            count_queries, flow.import_customers, large)


def test_5000_advocates_import_in_seconds(tmp_path, app, count_queries, runner):
    path = write_csv(tmp_path / "big.csv", "advocates", [advocate_row(n) for n in range(5000)])
    started = clock.perf_counter()
    with app.app_context(), count_queries() as statements:
        result = runner.invoke(args=["advocates", "import", str(path)])
    seconds = clock.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "(5,000 rows): 5000 advocates created" in result.output
    assert seconds < 30, seconds
    # Inserts go in batches of 1 000 rows: a handful more statements than for 200 rows, not 5 000.
    assert len(statements) <= 60, len(statements)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WeeklyWindow)) == 10_000


# --- the data files --------------------------------------------------------------------------


def test_the_example_files_have_the_contracts_headers():
    """The files under tests/data are read by the page tests too: their headers are the contract's."""
    assert ADVOCATES.read_text().splitlines()[0] == ",".join(flow.ADVOCATE_COLUMNS)
    assert CUSTOMERS.read_text().splitlines()[0] == ",".join(flow.CUSTOMER_COLUMNS)
