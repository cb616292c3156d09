"""The prospect's booking page and the booking itself, against the bare slot computation
(DESIGN.md §8).

One advocate in Europe/Berlin with 5 weekly windows, 2 blackouts and 10 booked calls, in a
scratch SQLite database. Each round times, in turn:

- ``slots_ms``: ``matching.slots.free_slots`` on the same windows, blackouts and calls, read
  once beforehand (the pure function the page calls; DESIGN.md §8 asks ≤ 5 ms of it);
- ``page_ms``: GET /book/<token> through the app's test client (the link read and checked, the
  slots read from the database and computed, grouped by day in the prospect's zone, rendered);
- ``book_ms``: POST /book/<token> for one free time (the advocate's row lock, the slot and the
  quota checked again, the booking, both invitations queued). Between rounds, untimed, the
  call is cancelled through the workflow, which frees the time, and a fresh ask is accepted for
  the next round's link.

Each round also times ``bare_ms``, GET /healthz (one trivial query) through the same client:
the least any request costs. The four alternate within each round, after warm-up rounds.
Medians are quoted, the page and the booking as multiples of ``slots_ms`` (``page_ratio``,
``book_ratio``), the page also of ``bare_ms`` (``page_over_bare``). Prints one JSON line.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

# The project's root first, and not this folder: here ``http.py`` would stand in for the standard
# library's ``http``.
sys.path[:] = [str(Path(__file__).resolve().parent.parent),
               *(p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent)]

ROUNDS = 25
WARM_UP = 3
ZONE = "Europe/Berlin"
PROSPECT_ZONE = "America/Los_Angeles"
SLOTS_TARGET_MS = 5


def build(now: datetime):
    """The advocate, a coordinator and a seller; → (advocate id, coordinator id, seller id)."""
    from sqlalchemy import select

    from models import (
        Account,
        Advocate,
        AdvocateStatus,
        Blackout,
        Company,
        Engagement,
        EngagementStatus,
        Format,
        Role,
        Tier,
        WeeklyWindow,
        db,
        quarter_of,
    )

    tz = ZoneInfo(ZONE)
    # A tier of its own, so ten calls and the rounds' bookings stay well inside the quota.
    tier = Tier(rank=99, name="Bench", quarterly_quota=1000)
    coordinator = Account(email="cora@bench.example", name="Cora Coordinator", role=Role.COORDINATOR)
    seller = Account(email="sam@bench.example", name="Sam Seller", role=Role.SALES)
    account = Account(email="dana@bench.example", name="Dana Whitfield", role=Role.ADVOCATE, timezone=ZONE)
    advocate = Advocate(
        account=account, company=Company(name="Northwind Traders", employees=800), tier=tier,
        status=AdvocateStatus.ACTIVE, consent_at=now, consent_source="bench", job_title="VP Operations",
        talking_points="Rollout in six weeks.", join_url="https://meet.example/dana", max_calls_per_day=2,
        formats=list(db.session.scalars(select(Format).where(Format.code == "call"))),
    )
    db.session.add_all([tier, coordinator, seller, advocate])
    db.session.flush()
    for weekday in range(5):
        db.session.add(WeeklyWindow(advocate_id=advocate.id, weekday=weekday, starts=clock(9),
                                    ends=clock(17)))
    today = now.astimezone(tz).date()
    blackouts = [(today + timedelta(days=4), today + timedelta(days=5)),
                 (today + timedelta(days=11), today + timedelta(days=11))]
    for first, last in blackouts:
        db.session.add(Blackout(advocate_id=advocate.id, starts_on=first, ends_on=last, reason="Away"))
    # Ten calls at 10:00 and 14:30 Berlin on the weekdays of the horizon outside the blackouts.
    day, booked = today + timedelta(days=2), 0
    while booked < 10:
        if day.weekday() < 5 and not any(first <= day <= last for first, last in blackouts):
            for hour, minute in ((10, 0), (14, 30))[: 10 - booked]:
                start = datetime.combine(day, clock(hour, minute), tzinfo=tz).astimezone(UTC)
                db.session.add(Engagement(
                    advocate_id=advocate.id, format_code="call", status=EngagementStatus.BOOKED,
                    starts_at=start, ends_at=start + timedelta(minutes=30), quarter=quarter_of(start),
                    prospect_name=f"Prospect {booked}", prospect_email=f"prospect{booked}@bench.example",
                ))
                booked += 1
        day += timedelta(days=1)
    db.session.commit()
    return advocate.id, coordinator.id, seller.id


def accepted_link(app, advocate_id: int, coordinator_id: int, seller_id: int, number: int) -> tuple[int, str]:
    """A request asked of the advocate and accepted through the workflows, as the introduction
    leaves it; → (engagement id, the booking page's path)."""
    from sqlalchemy import select

    from models import Account, Industry, ReferenceRequest, Region, db
    from workflows import requests as flow
    from workflows.links import Purpose
    from workflows.prospect_links import token

    request = ReferenceRequest(
        requested_by_id=seller_id, prospect_company=f"Globex {number}", employees=800,
        industry=db.session.scalar(select(Industry).where(Industry.name == "Healthcare")),
        region=db.session.scalar(select(Region).where(Region.name == "Europe")),
        contact_name="Pat Prospect", contact_email=f"pat{number}@prospect.example", format_code="call",
        needed_by=(datetime.now(UTC) + timedelta(days=21)).date(),
    )
    db.session.add(request)
    db.session.commit()
    ask = flow.ask(request.id, advocate_id, by=db.session.get(Account, coordinator_id))
    engagement = flow.accept_ask(ask.id, advocate_id)
    with app.test_request_context():
        path = f"/book/{token(engagement, Purpose.BOOK)}"
    engagement_id = engagement.id
    db.session.remove()
    return engagement_id, path


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html).group(1)


def bench() -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app import create_app
    from matching.slots import DateRange, Window, free_slots
    from models import Advocate, Blackout, WeeklyWindow, db
    from workflows.bookings import cancel_booking
    from workflows.slots import booking_rules, busy, rules_for

    with tempfile.TemporaryDirectory() as scratch:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch}/bench.sqlite3"})
        with app.app_context():
            upgrade()
            now = datetime.now(UTC)
            advocate_id, coordinator_id, seller_id = build(now)
            page_path = accepted_link(app, advocate_id, coordinator_id, seller_id, 0)[1]

            # The inputs the page's slot computation gets, read once.
            advocate = db.session.get(Advocate, advocate_id)
            rules = rules_for(advocate, booking_rules())
            windows = [Window(w.weekday, w.starts, w.ends) for w in db.session.scalars(
                select(WeeklyWindow).where(WeeklyWindow.advocate_id == advocate_id))]
            blackouts = [DateRange(b.starts_on, b.ends_on) for b in db.session.scalars(
                select(Blackout).where(Blackout.advocate_id == advocate_id))]
            calls = busy(advocate, now, rules)
            assert len(windows) == 5 and len(blackouts) == 2 and len(calls) == 10, (windows, blackouts, calls)
            slots = free_slots(windows, zone=ZONE, now=now, blackouts=blackouts, busy=calls, rules=rules)
            # The same free time is booked in every round: the cancellation between rounds frees it.
            slot = next(s for s in slots if s.start >= now + timedelta(days=3)).start
            db.session.remove()

        # The requests run outside any app context, as a server runs them: each its own.
        client = app.test_client()
        page_url = f"{page_path}?tz={PROSPECT_ZONE}"
        first = client.get(page_url)
        assert first.status_code == 200 and slot.isoformat() in first.get_data(as_text=True)
        form = {"csrf_token": csrf_token(first.get_data(as_text=True)), "slot": slot.isoformat(),
                "tz": PROSPECT_ZONE}

        timings: dict[str, list[float]] = {"slots": [], "bare": [], "page": [], "book": []}
        for number in range(1, WARM_UP + ROUNDS + 1):
            with app.app_context():
                engagement_id, book_path = accepted_link(app, advocate_id, coordinator_id, seller_id, number)

            started = time.perf_counter()
            free_slots(windows, zone=ZONE, now=now, blackouts=blackouts, busy=calls, rules=rules)
            slots_ms = (time.perf_counter() - started) * 1000

            started = time.perf_counter()
            bare = client.get("/healthz")
            bare_ms = (time.perf_counter() - started) * 1000
            assert bare.status_code == 200, bare.status_code

            started = time.perf_counter()
            page = client.get(page_url)
            page_ms = (time.perf_counter() - started) * 1000
            assert page.status_code == 200, page.status_code

            started = time.perf_counter()
            booked = client.post(book_path, data=form)
            book_ms = (time.perf_counter() - started) * 1000
            assert booked.status_code == 302, booked.get_data(as_text=True)[:2000]

            with app.app_context():
                cancel_booking(engagement_id, side="prospect", reason="bench")
                db.session.remove()
            if number > WARM_UP:
                timings["slots"].append(slots_ms)
                timings["bare"].append(bare_ms)
                timings["page"].append(page_ms)
                timings["book"].append(book_ms)
        with app.app_context():
            db.engine.dispose()

    medians = {name: statistics.median(values) for name, values in timings.items()}
    return {
        "bench": "booking",
        "page_ms": round(medians["page"], 2),
        "book_ms": round(medians["book"], 2),
        "slots_ms": round(medians["slots"], 3),
        "page_ratio": round(medians["page"] / medians["slots"], 1),
        "book_ratio": round(medians["book"] / medians["slots"], 1),
        "bare_ms": round(medians["bare"], 2),
        "page_over_bare": round(medians["page"] / medians["bare"], 1),
        "runs": ROUNDS,
        "slots": len(slots),
        "windows": len(windows),
        "blackouts": len(blackouts),
        "calls": len(calls),
        "slots_target_ms": SLOTS_TARGET_MS,
        "ok": medians["slots"] <= SLOTS_TARGET_MS,
    }


def main() -> None:
    logging.disable(logging.WARNING)
    print(json.dumps(bench()), flush=True)


if __name__ == "__main__":
    main()
