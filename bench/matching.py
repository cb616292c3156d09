"""Matching one request against 1 000, 10 000 and 100 000 advocates (DESIGN.md §8).

Builds each pool in bulk in a scratch SQLite database and a scratch PostgreSQL schema (when
one answers), rebuilds the match rows, then times alternately, as medians: ``floor_ms``, the
bare driver (sqlite3 / psycopg, no SQLAlchemy) running the very queries the match issues and
fetching their rows (the request's own row and tags, and the shown candidates' rows too), and
``match_ms``, the full match, ``workflows.matching.rank`` from the database to the ranked answer
with the reasons of the candidates a request page shows. Targets: ≤ 50 ms up to 10 000
advocates, ≤ 500 ms at 100 000, and the match within 2× the floor (``ratio``).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from sqlalchemy.exc import OperationalError

# The project's root first, and not this folder: here ``http.py`` would stand in for the standard
# library's ``http``.
sys.path[:] = [str(Path(__file__).resolve().parent.parent),
               *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

SIZES = (1_000, 10_000, 100_000)
RUNS = {1_000: 7, 10_000: 5, 100_000: 3}
LEVELS = ["executive", "director", "manager", "practitioner"]
ZONES = ["America/New_York", "America/Chicago", "Europe/Berlin", "Europe/London", "Asia/Singapore"]


def build_pool(n: int, rng: random.Random) -> None:
    """n active advocates with companies, topics, formats, windows and some calls, inserted in bulk."""
    from sqlalchemy import insert, select

    from models import (
        Account,
        Advocate,
        AdvocateTopic,
        Company,
        Engagement,
        Industry,
        Region,
        Tier,
        Topic,
        UseCase,
        WeeklyWindow,
        db,
    )
    from models.advocates import advocate_formats, advocate_use_cases

    now = datetime.now(UTC)
    industries = db.session.execute(select(Industry.id)).scalars().all()
    regions = db.session.execute(select(Region.id)).scalars().all()
    tiers = db.session.execute(select(Tier.id)).scalars().all()
    topics = db.session.execute(select(Topic.id)).scalars().all()
    tags = [{"name": f"Use case {i}", "key": f"use case {i}"} for i in range(40)]
    db.session.execute(insert(UseCase), tags)
    use_cases = db.session.execute(select(UseCase.id)).scalars().all()
    companies = max(1, n // 4)
    db.session.execute(insert(Company), [
        {"name": f"Company {i}", "name_key": f"company {i}", "industry_id": rng.choice(industries),
         "region_id": rng.choice(regions), "employees": rng.randint(20, 40_000), "created_at": now}
        for i in range(companies)
    ])
    db.session.execute(insert(Account), [
        {"email": f"advocate{i}@bench.example", "name": f"Advocate {i}", "role": "advocate",
         "timezone": rng.choice(ZONES), "active": True, "session_version": 1, "created_at": now}
        for i in range(n)
    ])
    db.session.execute(insert(Advocate), [
        {"account_id": i + 1, "company_id": rng.randint(1, companies), "tier_id": rng.choice(tiers),
         "status": "active", "job_level_code": rng.choice(LEVELS),
         "job_title": "", "success_metrics": "", "talking_points": "", "languages": [],
         "refused_companies": [], "min_days_between_calls": rng.choice([0, 7]), "max_calls_per_day": 1,
         "consent_at": now, "consent_source": "bench", "created_at": now}
        for i in range(n)
    ])
    ids = range(1, n + 1)
    db.session.execute(insert(advocate_formats), [
        {"advocate_id": a, "format_code": code}
        for a in ids for code in rng.sample(["call", "video", "written"], 2)
    ])
    db.session.execute(insert(advocate_use_cases), [
        {"advocate_id": a, "use_case_id": u} for a in ids for u in rng.sample(use_cases, 3)
    ])
    db.session.execute(insert(AdvocateTopic), [
        {"advocate_id": a, "topic_id": t, "stance": stance}
        for a in ids for t, stance in zip(rng.sample(topics, 3), ["glad", "glad", "avoid"], strict=True)
    ])
    db.session.execute(insert(WeeklyWindow), [
        {"advocate_id": a, "weekday": d, "starts": clock(9), "ends": clock(12)}
        for a in ids for d in rng.sample(range(5), 2)
    ])
    from models import quarter_of

    calls = []
    for a in rng.sample(range(1, n + 1), n // 5):
        start = (now + timedelta(days=rng.randint(2, 20))).replace(minute=0, second=0, microsecond=0)
        calls.append({"advocate_id": a, "format_code": "call", "status": "booked", "starts_at": start,
                      "ends_at": start + timedelta(minutes=30), "quarter": quarter_of(start),
                      "prospect_name": "", "prospect_email": "", "cancel_reason": "", "created_at": now})
    db.session.execute(insert(Engagement), calls)
    db.session.commit()


def make_request():
    from sqlalchemy import select

    from models import Industry, ReferenceRequest, Region, Topic, UseCase, db

    request = ReferenceRequest(
        prospect_company="Prospect Co", format_code="call", employees=2500,
        industry=db.session.scalar(select(Industry).where(Industry.name == "Healthcare")),
        region=db.session.scalar(select(Region).where(Region.name == "Europe")),
        needed_by=(datetime.now(UTC) + timedelta(days=14)).date(),
        use_cases=db.session.scalars(select(UseCase).limit(3)).all(),
        topics=db.session.scalars(select(Topic).limit(2)).all(),
    )
    db.session.add(request)
    db.session.commit()
    return request


def alternated_medians(floor, work, runs: int) -> tuple[float, float]:
    """Median ms of each, run one after the other in turn, so noise hits both alike."""
    floors, works = [], []
    for _ in range(runs):
        for timings, job in ((floors, floor), (works, work)):
            started = time.perf_counter()
            job()
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(floors), statistics.median(works)


def plain_driver(url: str):
    """A connection of the bare driver (no SQLAlchemy) to the bench database."""
    if url.startswith("sqlite"):
        import sqlite3

        return sqlite3.connect(url.removeprefix("sqlite:///"))
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = parsed.query.get("options")
    return psycopg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                           password=parsed.password, dbname=parsed.database, options=options)


def bench(n: int, url: str, db_name: str) -> dict:
    from flask_migrate import upgrade

    from admin.requests import CANDIDATES_SHOWN
    from app import create_app
    from models import db
    from models.types import utcnow
    from workflows.match_rows import refresh_match_rows
    from workflows.matching import match_queries, rank, request_profile, request_queries
    from workflows.slots import booking_rules

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        build_pool(n, random.Random(n))
        refresh_match_rows(db.session.connection())
        db.session.commit()
        request = make_request()
        now = utcnow()
        result = rank(request, now=now)
        shown = [c.advocate_id for c in result.candidates[:CANDIDATES_SHOWN]]
        queries = match_queries(db.engine.dialect.name, request_profile(request), now, booking_rules())
        # The request's own row and its tags, as request_profile reads them, with the id written in.
        request_sql = [
            str(query.params(request_id=request.id).compile(
                dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
            for query in request_queries()]
        db.session.rollback()
        driver = plain_driver(url)
        marker = "%s" if db.engine.dialect.name == "postgresql" else "?"
        shown_rows = (f"SELECT * FROM match_rows WHERE advocate_id IN ({', '.join([marker] * len(shown))})"
                      if shown else "SELECT * FROM match_rows WHERE 0 = 1")

        def floor():
            cursor = driver.cursor()
            for sql in request_sql:
                cursor.execute(sql)
                cursor.fetchall()
            for sql in (queries.outcomes, queries.eligible, queries.named):
                cursor.execute(sql, queries.parameters)
                cursor.fetchall()
            cursor.execute(shown_rows, shown)  # the shown candidates' rows, for their reasons
            cursor.fetchall()
            cursor.close()
            driver.rollback()

        def full_match():
            rank(request, now=now).candidates[:CANDIDATES_SHOWN]
            db.session.rollback()

        floor_ms, match_ms = alternated_medians(floor, full_match, RUNS[n])
        driver.close()
        db.session.remove()
        db.engine.dispose()
    target = 50 if n <= 10_000 else 500
    ratio = match_ms / floor_ms
    return {
        "bench": "matching", "db": db_name, "n": n, "floor_ms": round(floor_ms, 1),
        "match_ms": round(match_ms, 1), "ratio": round(ratio, 2), "target_ms": target, "target_ratio": 2.0,
        "candidates": len(result.candidates), "excluded": result.excluded_total,
        "ok": match_ms <= target and ratio <= 2.0,
    }


def main() -> None:
    import logging

    from bench.reports import postgres_url, scratch_schema

    logging.disable(logging.WARNING)
    sizes = [int(arg) for arg in sys.argv[1:]] or list(SIZES)
    url = postgres_url() or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    for n in sizes:
        RUNS.setdefault(n, 3)
        with tempfile.TemporaryDirectory() as scratch:
            print(json.dumps(bench(n, f"sqlite:///{scratch}/bench.sqlite3", "sqlite")), flush=True)
        try:
            with scratch_schema(url, "bench_matching") as scoped:
                print(json.dumps(bench(n, scoped, "postgresql")), flush=True)
        except OperationalError as error:
            print(json.dumps({"bench": "matching", "db": "postgresql", "n": n, "skipped": str(error)[:200]}))


if __name__ == "__main__":
    main()
