"""Matching one request against 1 000, 10 000 and 100 000 advocates (DESIGN.md §8).

Builds each pool in a scratch SQLite database, then times, as the median of several runs:
``read_ms``, loading the candidate rows the engine needs (workflows.matching.load_pool), and
``match_ms``, the full match (the same read plus ranking). Targets: 10 000 in ≤ 50 ms of
ranking, linear growth, the full match within 2× the read (``ratio``).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def median_ms(work, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def bench(n: int) -> dict:
    from flask_migrate import upgrade

    from app import create_app
    from models import db
    from workflows.matching import load_pool, rank

    with tempfile.TemporaryDirectory() as scratch:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch}/bench.sqlite3"})
        with app.app_context():
            upgrade()
            build_pool(n, random.Random(n))
            request = make_request()
            result = rank(request)
            read_ms = median_ms(load_pool, RUNS[n])
            match_ms = median_ms(lambda: rank(request), RUNS[n])
            db.session.remove()
            db.engine.dispose()
    return {
        "bench": "matching", "n": n, "read_ms": round(read_ms, 1), "match_ms": round(match_ms, 1),
        "rank_ms": round(match_ms - read_ms, 1), "ratio": round(match_ms / read_ms, 2),
        "candidates": len(result.candidates), "excluded": len(result.excluded),
    }


def main() -> None:
    import logging

    logging.disable(logging.WARNING)
    sizes = [int(arg) for arg in sys.argv[1:]] or list(SIZES)
    for n in sizes:
        RUNS.setdefault(n, 3)
        print(json.dumps(bench(n)), flush=True)


if __name__ == "__main__":
    main()
