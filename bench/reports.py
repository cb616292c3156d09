"""Every report page over 10 000 advocates and 50 000 engagements, against a plain SQL floor
(DESIGN.md §8: report pages in ≤ 300 ms, with flat query counts).

Builds, in bulk (Core inserts of lists of rows), a program of ``BENCH_ADVOCATES`` advocates
(default 10 000) in 2 500 companies and ``BENCH_ENGAGEMENTS`` engagements (default 50 000) over
the last two years and the next three weeks: each engagement with its request and accepted ask,
some requests with declined or expired asks before it, requests nobody took, both sides'
feedback on most completed calls, recorded outcomes and amounts; the advocates' tiers, quotas
and their use this quarter as the program's rules allow. Into a scratch SQLite file, and also
into PostgreSQL when ``BENCH_DATABASE_URL`` (or ``TEST_DATABASE_URL``) is set: there, in a
schema of its own (``vouch_bench``, dropped afterwards), so a test database's tables are left
alone.

Then, for every report in ``workflows.reports.REPORTS``, each round times in turn (the order
swapped every round, after a warm-up round):

- ``ms``: GET /admin/reports/<slug> through the app's test client as a signed-in coordinator,
  with the reports' default date range (the last 90 days; ``BENCH_DAYS`` for another) — the
  whole page: filters parsed, the report's queries, the template;
- ``floor_ms``: the least any implementation must do for the report's core numbers: its
  aggregate SQL, written by hand, run with the plain driver (sqlite3 / psycopg) on a connection
  of its own, rows fetched, no ORM, no Flask.

Medians are quoted, with ``queries``, the statements the page ran (the same for any size: the
tests check it against small data), and ``cpu_ms`` and ``floor_cpu_ms``, the CPU time this
process spent on the page and on the floor (SQLite runs inside it, PostgreSQL does not): on a
busy machine the wall-clock times include waiting for a CPU, those do not. Prints one JSON line
per report and database. Target: ``ms`` ≤ 300.
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The project's root first, and not this folder: here ``http.py`` would stand in for the standard
# library's ``http``.
sys.path[:] = [str(Path(__file__).resolve().parent.parent),
               *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

ADVOCATES = int(os.environ.get("BENCH_ADVOCATES", 10_000))
ENGAGEMENTS = int(os.environ.get("BENCH_ENGAGEMENTS", 50_000))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 7))
# The date range of the pages: the reports' default (what a coordinator opening one sees), or more.
DAYS = int(os.environ.get("BENCH_DAYS", 0)) or None
TARGET_MS = 300
SCHEMA = "vouch_bench"
LEVELS = ["executive", "director", "manager", "practitioner"]


# --- the program -------------------------------------------------------------------------------


def build(rng: random.Random, now: datetime) -> int:
    """The program, inserted in bulk; → the coordinator's account id."""
    from sqlalchemy import select

    from models import (
        Account,
        Advocate,
        Ask,
        Company,
        Engagement,
        Feedback,
        Industry,
        ReferenceRequest,
        Region,
        Tier,
        db,
        quarter_of,
    )

    def insert(model, rows: list[dict]) -> None:
        keys = {key for row in rows for key in row}  # every row the same columns, for executemany
        rows = [{**dict.fromkeys(keys), **row} for row in rows]
        for start in range(0, len(rows), 20_000):
            db.session.execute(model.__table__.insert(), rows[start:start + 20_000])

    industries = db.session.scalars(select(Industry.id)).all()
    regions = db.session.scalars(select(Region.id)).all()
    tiers = {tier.id: tier.quarterly_quota for tier in db.session.scalars(select(Tier))}
    tier_ids = sorted(tiers)  # Premier, Active, Occasional by id
    companies = max(1, ADVOCATES // 4)
    insert(Company, [
        {"id": i + 1, "name": f"Customer {i}", "name_key": f"customer {i}",
         "industry_id": rng.choice(industries), "region_id": rng.choice(regions),
         "employees": int(rng.lognormvariate(6, 1.6)) + 1, "created_at": now}
        for i in range(companies)
    ])
    sellers = 40
    accounts = [
        {"id": i + 1, "email": f"advocate{i}@bench.example", "name": f"Advocate {i}", "role": "advocate",
         "created_at": now}
        for i in range(ADVOCATES)
    ]
    accounts += [
        {"id": ADVOCATES + s + 1, "email": f"seller{s}@bench.example", "name": f"Seller {s}", "role": "sales",
         "created_at": now}
        for s in range(sellers)
    ]
    coordinator_id = ADVOCATES + sellers + 1
    accounts.append({"id": coordinator_id, "email": "cora@bench.example", "name": "Cora Coordinator",
                     "role": "coordinator", "created_at": now})
    insert(Account, accounts)
    advocate_tier = [rng.choices(tier_ids, weights=[15, 35, 50])[0] for _ in range(ADVOCATES)]
    insert(Advocate, [
        {"id": a + 1, "account_id": a + 1, "company_id": rng.randint(1, companies),
         "tier_id": advocate_tier[a],
         "status": rng.choices(["active", "paused", "retired"], weights=[90, 6, 4])[0],
         "job_level_code": rng.choice(LEVELS), "languages": [], "refused_companies": [],
         "min_days_between_calls": 0, "max_calls_per_day": 1, "consent_at": now - timedelta(days=800),
         "consent_source": "bench", "created_at": now - timedelta(days=800)}
        for a in range(ADVOCATES)
    ])

    requests, asks, engagements, feedback = [], [], [], []
    used_days: dict[int, set[int]] = {}
    quarter_use: dict[tuple[int, str], int] = {}

    def hours(low: float, high: float) -> timedelta:
        return timedelta(hours=rng.uniform(low, high))

    def request_row(created: datetime, **values) -> dict:
        amount = None if rng.random() < 0.1 else rng.randrange(5_000, 500_000)
        row = {"id": len(requests) + 1, "requested_by_id": ADVOCATES + rng.randrange(sellers) + 1,
               "opportunity_id": f"OPP-{len(requests) + 1}", "opportunity_name": "", "amount": amount,
               "prospect_company": f"Prospect {len(requests) + 1}", "industry_id": rng.choice(industries),
               "employees": int(rng.lognormvariate(6, 1.6)) + 1, "region_id": rng.choice(regions),
               "contact_name": "Pat Prospect", "contact_email": "pat@prospect.example", "format_code": "call",
               "questions": [], "notes": "", "created_at": created, "updated_at": created}
        row.update(values)
        requests.append(row)
        return row

    def ask_row(request_id: int, advocate: int, created: datetime, status: str, answered=None) -> dict:
        row = {"id": len(asks) + 1, "request_id": request_id, "advocate_id": advocate,
               "score": rng.randint(40, 95),
               "explanation": [], "status": status, "decline_note": "", "created_at": created,
               "expires_at": created + timedelta(hours=48), "responded_at": answered,
               "decline_reason": "busy" if status == "declined" else None}
        asks.append(row)
        return row

    def others(advocate: int, count: int) -> list[int]:
        found: set[int] = set()
        while len(found) < count:
            other = rng.randint(1, ADVOCATES)
            if other != advocate:
                found.add(other)
        return list(found)

    # A tenth of the advocates give written references only, one each: on PostgreSQL a completed
    # written reference (no call time) takes an unbounded range in the no-overlap constraint, so
    # it cannot sit beside the same advocate's calls (see the lead's notes).
    callers = ADVOCATES - ADVOCATES // 10
    writers = iter(range(callers + 1, ADVOCATES + 1))

    def hot_advocate() -> int:
        return int(callers * rng.random() ** 1.6) + 1  # some are asked far more than others

    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    while len(engagements) < ENGAGEMENTS:
        written = rng.random() < 0.03
        advocate = next(writers, None) if written else hot_advocate()
        if advocate is None:
            continue
        awaiting = rng.random() < 0.04
        if awaiting:
            accepted_at = now - hours(1, 240)
            starts = None
            quarter = quarter_of(accepted_at)
        else:
            day = rng.randint(-720, 20)
            if day in used_days.setdefault(advocate, set()):
                continue
            starts = today + timedelta(days=day, hours=rng.choice(range(8, 17)))
            quarter = quarter_of(starts)
        if quarter_use.get((advocate, quarter), 0) >= tiers[advocate_tier[advocate - 1]]:
            continue  # the quota is full that quarter: the program would not have asked
        if starts is not None:
            used_days[advocate].add(day)
            booked_at = min(starts - hours(24, 14 * 24), now - hours(1, 48))
            accepted_at = booked_at - hours(2, 72)
            if starts > now:
                status = rng.choices(["booked", "cancelled"], weights=[90, 10])[0]
            else:
                status = rng.choices(["completed", "cancelled", "no_show"], weights=[84, 11, 5])[0]
        else:
            booked_at = None
            status = "awaiting_booking"
        if written:
            # A written reference has no call: answered, then approved (complete), in the past.
            held = status != "awaiting_booking" and accepted_at < now - timedelta(days=3)
            starts, status = None, "completed" if held else "awaiting_booking"
        quarter_use[(advocate, quarter)] = quarter_use.get((advocate, quarter), 0) + (status != "cancelled")
        declined = rng.choices([0, 1, 2], weights=[65, 25, 10])[0]
        asked_at = accepted_at - hours(1, 40)
        created = asked_at - hours(0.5, 30) - timedelta(hours=50 * declined)
        completed_at = None
        if status == "completed":
            completed_at = (starts + timedelta(hours=1)) if starts else accepted_at + hours(24, 96)
        won = rng.random()
        outcome = "open" if created > now - timedelta(days=30) or won > 0.8 else (
            "won" if won < (0.5 if status == "completed" else 0.3) else "lost")
        request = request_row(
            created, format_code="written" if written else "call",
            status={"completed": "completed", "booked": "scheduled", "awaiting_booking": "matched",
                    "cancelled": "cancelled", "no_show": "scheduled"}[status],
            outcome=outcome, first_asked_at=created + timedelta(hours=1) if declined else asked_at,
            matched_at=accepted_at,
            scheduled_at=booked_at, completed_at=completed_at,
        )
        for number, other in enumerate(others(advocate, declined)):
            at = created + timedelta(hours=1 + 50 * number)
            kind = rng.choice(["declined", "expired"])
            ask_row(request["id"], other, at, kind, at + hours(1, 40) if kind == "declined" else None)
        accepted = ask_row(request["id"], advocate, asked_at, "accepted", accepted_at)
        engagement_id = len(engagements) + 1
        engagements.append({
            "id": engagement_id, "request_id": request["id"], "ask_id": accepted["id"],
            "advocate_id": advocate,
            "format_code": "written" if written else "call", "status": status, "starts_at": starts,
            "ends_at": starts + timedelta(minutes=30) if starts else None, "quarter": quarter,
            "prospect_name": "Pat Prospect", "prospect_email": "pat@prospect.example",
            "created_at": accepted_at,
            "booked_at": booked_at if starts else None, "completed_at": completed_at,
            "cancelled_at": starts - hours(1, 20) if status == "cancelled" and starts else None,
            "answers_submitted_at": (accepted_at + hours(12, 48) if written and status == "completed"
                                     else None),
            "answers_approved_at": completed_at if written else None, "cancel_reason": "",
        })
        if status == "completed":
            held = starts or completed_at
            for side, share in (("prospect", 0.8), ("advocate", 0.7)):
                if rng.random() < share:
                    feedback.append({
                        "engagement_id": engagement_id, "side": side, "call_happened": True,
                        "rating": rng.choices([1, 2, 3, 4, 5], weights=[3, 5, 15, 40, 37])[0], "comment": "",
                        "helped_decision": (rng.choice([True, True, False, None]) if side == "prospect"
                                            else None),
                        "shared_with_advocate": True, "created_at": held + hours(1, 72),
                    })
    # Requests nobody took: asked and declined or expired, or never asked, or called off.
    for _ in range(ENGAGEMENTS // 6):
        created = now - timedelta(days=rng.uniform(0, 720))
        tried = rng.choices([0, 1, 2, 3], weights=[30, 35, 25, 10])[0]
        request = request_row(created, status=rng.choice(["new", "cancelled"]),
                              outcome=rng.choices(["open", "won", "lost"], weights=[40, 20, 40])[0],
                              first_asked_at=created + timedelta(hours=2) if tried else None)
        for number, other in enumerate(others(0, tried)):
            at = created + timedelta(hours=2 + 50 * number)
            kind = "pending" if at > now - timedelta(hours=48) else rng.choice(["declined", "expired"])
            ask_row(request["id"], other, at, kind, at + hours(1, 40) if kind == "declined" else None)
    insert(ReferenceRequest, requests)
    insert(Ask, asks)
    insert(Engagement, engagements)
    insert(Feedback, feedback)
    db.session.commit()
    return coordinator_id


# --- the floors: each report's core numbers in plain SQL ------------------------------------------


def floors(dialect: str) -> dict[str, list[str]]:
    """slug → the statements (with :start, :end, :quarter) that give the report's core numbers."""
    pg = dialect == "postgresql"
    seconds = ("ROUND(EXTRACT(EPOCH FROM ({b} - {a})))" if pg
               else "ROUND((julianday({b}) - julianday({a})) * 86400.0)")
    month = "to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM')" if pg else "strftime('%Y-%m', r.created_at)"
    limit = ("CASE WHEN t.quarterly_quota IS NULL THEN 0 WHEN v.quarterly_cap IS NOT NULL AND "
             "v.quarterly_cap < t.quarterly_quota THEN v.quarterly_cap ELSE t.quarterly_quota END")
    use = ("SELECT advocate_id, count(*) AS used FROM engagements WHERE quarter = :quarter AND status IN "
           "('awaiting_booking', 'booked', 'completed') GROUP BY advocate_id")
    band = ("CASE WHEN {e} IS NULL OR {e} < 1 THEN NULL WHEN {e} <= 50 THEN 0 WHEN {e} <= 200 THEN 1 "
            "WHEN {e} <= 1000 THEN 2 WHEN {e} <= 5000 THEN 3 ELSE 4 END")
    durations = " UNION ALL ".join([
        f"SELECT 'to_ask' AS step, {month} AS month, "
        f"{seconds.format(a='r.created_at', b='r.first_asked_at')} AS seconds FROM requests r "
        "WHERE r.created_at >= :start AND r.created_at < :end AND r.first_asked_at IS NOT NULL",
        f"SELECT 'to_accept', {month}, {seconds.format(a='a.created_at', b='a.responded_at')} "
        "FROM requests r "
        "JOIN asks a ON a.request_id = r.id WHERE r.created_at >= :start AND r.created_at < :end "
        "AND a.status = 'accepted' AND a.responded_at IS NOT NULL",
        f"SELECT 'to_book', {month}, {seconds.format(a='e.created_at', b='e.booked_at')} FROM requests r "
        "JOIN engagements e ON e.request_id = r.id WHERE r.created_at >= :start AND r.created_at < :end "
        "AND e.booked_at IS NOT NULL",
        f"SELECT 'to_call', {month}, {seconds.format(a='e.booked_at', b='e.starts_at')} FROM requests r "
        "JOIN engagements e ON e.request_id = r.id WHERE r.created_at >= :start AND r.created_at < :end "
        "AND e.status = 'completed' AND e.starts_at IS NOT NULL AND e.booked_at IS NOT NULL",
        f"SELECT 'to_fulfil', {month}, {seconds.format(a='r.created_at', b='e.starts_at')} FROM requests r "
        "JOIN engagements e ON e.request_id = r.id WHERE r.created_at >= :start AND r.created_at < :end "
        "AND e.status = 'completed' AND e.starts_at IS NOT NULL",
    ])
    if pg:
        medians = ("SELECT step, month, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) "
                   f"FROM ({durations}) d GROUP BY GROUPING SETS ((step, month), (step))")
    else:  # SQLite has no median: the durations, each group's middle picked by the driver's caller
        medians = durations
    rated = ("FROM feedback f JOIN engagements e ON e.id = f.engagement_id "
             "JOIN advocates v ON v.id = e.advocate_id "
             "LEFT JOIN companies c ON c.id = v.company_id WHERE f.rating IS NOT NULL "
             "AND f.created_at >= :start AND f.created_at < :end")
    sides = ("count(CASE WHEN f.side = 'prospect' THEN f.rating END), sum(CASE WHEN f.side = 'prospect' THEN "
             "f.rating END), count(CASE WHEN f.side = 'advocate' THEN f.rating END), "
             "sum(CASE WHEN f.side = 'advocate' THEN f.rating END)")
    completed = "EXISTS (SELECT 1 FROM engagements e WHERE e.request_id = r.id AND e.status = 'completed')"
    return {
        "coverage": [
            f"SELECT c.industry_id, {band.format(e='c.employees')} AS band, count(v.id) FROM advocates v "
            f"LEFT JOIN companies c ON c.id = v.company_id LEFT JOIN tiers t ON t.id = v.tier_id "
            f"LEFT JOIN ({use}) u ON u.advocate_id = v.id WHERE v.status = 'active' "
            f"AND {limit} - coalesce(u.used, 0) > 0 GROUP BY c.industry_id, band",
        ],
        "utilisation": [
            f"SELECT v.id, coalesce(u.used, 0), {limit}, coalesce(k.asks, 0), coalesce(k.declined, 0), "
            "coalesce(k.expired, 0) FROM advocates v LEFT JOIN tiers t ON t.id = v.tier_id "
            f"LEFT JOIN ({use}) u ON u.advocate_id = v.id LEFT JOIN (SELECT advocate_id, count(*) AS asks, "
            "sum(CASE WHEN status = 'declined' THEN 1 ELSE 0 END) AS declined, "
            "sum(CASE WHEN status = 'expired' THEN 1 ELSE 0 END) AS expired FROM asks "
            "WHERE created_at >= :start AND created_at < :end GROUP BY advocate_id) k "
            "ON k.advocate_id = v.id "
            "WHERE u.used IS NOT NULL OR k.asks IS NOT NULL ORDER BY coalesce(k.asks, 0) DESC, v.id LIMIT 50",
        ],
        "asks-ledger": [
            "SELECT v.company_id, count(*), count(DISTINCT a.advocate_id) FROM asks a JOIN advocates v "
            "ON v.id = a.advocate_id WHERE a.created_at >= :start AND a.created_at < :end "
            "GROUP BY v.company_id ORDER BY count(*) DESC LIMIT 100",
            "SELECT a.id, a.created_at, a.status, a.request_id, v.company_id FROM asks a JOIN advocates v "
            "ON v.id = a.advocate_id WHERE a.created_at >= :start AND a.created_at < :end "
            "ORDER BY a.created_at DESC LIMIT 50",
        ],
        "funnel": [
            f"SELECT {month}, count(*), "
            "sum(CASE WHEN EXISTS (SELECT 1 FROM asks a WHERE a.request_id = r.id) THEN 1 ELSE 0 END), "
            "sum(CASE WHEN EXISTS (SELECT 1 FROM asks a WHERE a.request_id = r.id AND a.status = 'accepted') "
            "THEN 1 ELSE 0 END), "
            "sum(CASE WHEN EXISTS (SELECT 1 FROM engagements e WHERE e.request_id = r.id AND "
            "(e.booked_at IS NOT NULL OR e.answers_submitted_at IS NOT NULL)) THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN {completed} THEN 1 ELSE 0 END) "
            f"FROM requests r WHERE r.created_at >= :start AND r.created_at < :end GROUP BY {month}",
            medians,
        ],
        "satisfaction": [
            f"SELECT c.industry_id, {sides} {rated} GROUP BY c.industry_id",
            f"SELECT v.id, {sides} {rated} GROUP BY v.id ORDER BY count(f.rating) DESC, v.id LIMIT 50",
        ],
        "influence": [
            f"SELECT r.industry_id, CASE WHEN {completed} THEN 1 ELSE 0 END AS with_reference, count(*), "
            "sum(CASE WHEN r.outcome = 'won' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN r.outcome = 'lost' THEN 1 ELSE 0 END), "
            "sum(coalesce(r.amount, 0)) FROM requests r WHERE r.created_at >= :start AND r.created_at < :end "
            "GROUP BY r.industry_id, with_reference",
        ],
    }


def plain_medians(rows: list[tuple]) -> list[tuple]:
    """(step, month, median seconds) of each group and (step, None, …) of each step, from
    unsorted (step, month, seconds) rows: the least any median over SQLite takes."""
    groups: dict[tuple, list[float]] = {}
    for step, month, seconds in rows:
        groups.setdefault((step, month), []).append(seconds)
        groups.setdefault((step, None), []).append(seconds)
    found = []
    for (step, month), values in groups.items():
        values.sort()
        half = len(values) // 2
        middle = values[half] if len(values) % 2 else (values[half - 1] + values[half]) / 2
        found.append((step, month, middle))
    return found


class Floor:
    """The plain driver on a connection of its own: sqlite3, or psycopg."""

    def __init__(self, url: str, schema: str | None) -> None:
        self.pg = url.startswith("postgresql")
        if self.pg:
            import psycopg

            plain = url.replace("postgresql+psycopg://", "postgresql://").split("?", 1)[0]
            self.connection = psycopg.connect(plain, autocommit=True)
            if schema:
                self.connection.execute(f"SET search_path TO {schema}")
        else:
            import sqlite3

            self.connection = sqlite3.connect(url.removeprefix("sqlite:///"))

    def run(self, statements: list[str], values: dict) -> int:
        rows = 0
        for statement in statements:
            if self.pg:
                statement = statement.replace(":start", "%(start)s").replace(":end", "%(end)s").replace(
                    ":quarter", "%(quarter)s")
                found = self.connection.execute(statement, values).fetchall()
            else:
                plain = {key: (value.replace(tzinfo=None).isoformat(sep=" ") if isinstance(value, datetime)
                               else value) for key, value in values.items()}
                found = self.connection.execute(statement, plain).fetchall()
            if not self.pg and statement.startswith("SELECT 'to_ask'"):
                found = plain_medians(found)
            rows += len(found)
        return rows

    def close(self) -> None:
        self.connection.close()


# --- timing ----------------------------------------------------------------------------------------


@contextmanager
def counting(engine):
    from sqlalchemy import event

    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "PRAGMA")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def bench(url: str, database: str, schema: str | None = None) -> list[dict]:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from models import Account, db
    from tests.helpers import sign_in_directly
    from workflows import quota
    from workflows.reports import REPORTS, ReportFilters

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    now = datetime.now(UTC)
    results = []
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        coordinator_id = build(random.Random(20260401), now)
        if database == "postgresql":
            # Statistics, as autovacuum would have gathered them on a live database: without them
            # the planner takes the freshly loaded tables for empty ones.
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        build_s = time.perf_counter() - started
        coordinator = db.session.get(Account, coordinator_id)
        db.session.remove()
        engine = db.engine
    client = app.test_client()
    sign_in_directly(client, coordinator)
    today = now.date()
    filters = ReportFilters(today - timedelta(days=DAYS - 1), today) if DAYS else ReportFilters.default(today)
    days = (filters.date_to - filters.date_from).days + 1
    query = "&".join(f"{key}={value}" for key, value in filters.args().items())
    values = {"start": filters.start, "end": filters.end, "quarter": quota.current_quarter(now)}
    floor = Floor(url, schema)
    statements = floors("postgresql" if database == "postgresql" else "sqlite")
    try:
        for slug in REPORTS:
            page_cpu: list[float] = []
            floor_cpu: list[float] = []

            def page(slug=slug, page_cpu=page_cpu) -> float:
                began, cpu = time.perf_counter(), time.process_time()
                response = client.get(f"/admin/reports/{slug}?{query}")
                elapsed = time.perf_counter() - began
                page_cpu.append(time.process_time() - cpu)
                if response.status_code != 200:
                    raise SystemExit(f"{slug}: {response.status_code} "
                                     f"{response.get_data(as_text=True)[:500]}")
                return elapsed

            def plain(slug=slug, floor_cpu=floor_cpu) -> float:
                began, cpu = time.perf_counter(), time.process_time()
                floor.run(statements[slug], values)
                floor_cpu.append(time.process_time() - cpu)
                return time.perf_counter() - began

            page_s, floor_s = [], []
            for number in range(ROUNDS + 1):
                order = (page, plain) if number % 2 else (plain, page)
                timings = {work: work() for work in order}
                if number:  # the first round warms up
                    page_s.append(timings[page])
                    floor_s.append(timings[plain])
                else:
                    page_cpu.clear()
                    floor_cpu.clear()
            cpu_ms = statistics.median(page_cpu) * 1000
            with counting(engine) as queries:
                page()
            ms = statistics.median(page_s) * 1000
            results.append({
                "bench": "reports", "report": slug, "ms": round(ms, 1),
                "floor_ms": round(statistics.median(floor_s) * 1000, 1), "queries": len(queries),
                "cpu_ms": round(cpu_ms, 1), "floor_cpu_ms": round(statistics.median(floor_cpu) * 1000, 1),
                "database": database, "days": days, "advocates": ADVOCATES, "engagements": ENGAGEMENTS,
                "build_s": round(build_s, 1), "target_ms": TARGET_MS, "ok": ms <= TARGET_MS,
            })
            print(json.dumps(results[-1]), flush=True)
    finally:
        floor.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return results


@contextmanager
def scratch_schema(url: str, schema: str):
    """A PostgreSQL schema of its own for a bench, dropped afterwards: yields the URL whose
    connections search it alone."""
    from sqlalchemy import create_engine, text

    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def postgres_url() -> str | None:
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")


def main() -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as scratch:
        bench(f"sqlite:///{scratch}/bench.sqlite3", "sqlite")
    url = postgres_url()
    if url:
        with scratch_schema(url, SCHEMA) as scoped:
            bench(scoped, "postgresql", SCHEMA)

if __name__ == "__main__":
    main()
