"""Small known data sets for the reports' tests (tests/admin/test_reports_pages.py and the browser
tests): each function builds one with the conftest factories and returns what the tests need;
the numbers each report must show are worked out by hand in the docstrings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from models import Advocate, Company, Industry, Region, Role, db
from workflows import quota

TODAY = datetime.now(UTC).date()
FROM = TODAY - timedelta(days=30)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def previous_quarter(quarter: str) -> str:
    year, number = int(quarter[:4]), int(quarter[-1])
    return f"{year - 1}Q4" if number == 1 else f"{year}Q{number - 1}"


def set_company(app, advocate: Advocate, *, industry: str | None = None, employees: int | None = 500,
                region: str | None = None, name: str | None = None, none: bool = False) -> None:
    """The advocate's company as the test needs it (``none``: no company at all)."""
    with app.app_context():
        row = db.session.get(Advocate, advocate.id)
        if none:
            row.company_id = None
        else:
            company = db.session.get(Company, row.company_id)
            company.industry_id = db.session.scalar(select(Industry.id).where(Industry.name == industry)) \
                if industry else None
            company.region_id = db.session.scalar(select(Region.id).where(Region.name == region)) \
                if region else None
            company.employees = employees
            if name:
                company.name = name
        db.session.commit()
        db.session.remove()


def engagements(make_engagement, advocate, *statuses: str, quarter: str | None = None) -> None:
    """Engagements of ``advocate`` in ``quarter`` (default: this one), an hour apart so that no
    two calls overlap."""
    quarter = quarter or quota.current_quarter()
    base = at(TODAY - timedelta(days=400))
    for n, status in enumerate(statuses):
        starts = base + timedelta(hours=2 * n) if status in ("booked", "completed", "no_show") else None
        make_engagement(advocate, status=status, starts_at=starts, quarter=quarter)


def id_of(app, model, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(model.id).where(model.name == name))
        db.session.remove()
    return found


@dataclass(frozen=True)
class Coverage:
    advocates: list[Advocate]


def coverage_data(app, make_advocate, make_engagement) -> Coverage:
    """Ten advocates; this quarter (tiers: Premier 6, Active 4, Occasional 2 calls):

    ====  ==========  =========  ===========  ======================================  =========
    who   industry    employees  tier (cap)   this quarter                            call left
    ====  ==========  =========  ===========  ======================================  =========
    A1    Healthcare  30         Active       nothing                                 yes
    A2    Healthcare  30         Occasional   booked + completed (2 of 2)             no
    A3    Healthcare  500        Premier (1)  awaiting booking (1 of 1)               no
    A4    Healthcare  500        Active       cancelled + no-show; booked last quarter yes
    A5    Retail      6000       Premier      5 counted (5 of 6)                      yes
    A6    Retail      6000       Active       paused                                  no
    A7    Retail      150        none         nothing, but no tier: a limit of 0       no
    A8    Retail      150        Active (0)   a personal cap of 0                     no
    A9    none        2000       Active       nothing                                 yes
    A10   Healthcare  unknown    Occasional   one booked (1 of 2)                     yes
    ====  ==========  =========  ===========  ======================================  =========

    So: Healthcare 1 (1–50), 1 (201–1000), 1 (size not recorded); Retail 1 (5000+); industry not
    recorded 1 (1001–5000): 5 in all. Gaps: 3 in Healthcare, 4 in Retail, 5 in each of the 12
    other industries: 67 of 70. Regions: A1 and A4 in Europe, the others in North America.
    """
    spec = [
        ("A1", "Healthcare", 30, "Active", None, "active", ()),
        ("A2", "Healthcare", 30, "Occasional", None, "active", ("booked", "completed")),
        ("A3", "Healthcare", 500, "Premier", 1, "active", ("awaiting_booking",)),
        ("A4", "Healthcare", 500, "Active", None, "active", ("cancelled", "no_show")),
        ("A5", "Retail", 6000, "Premier", None, "active",
         ("booked", "completed", "completed", "awaiting_booking", "booked")),
        ("A6", "Retail", 6000, "Active", None, "paused", ()),
        ("A7", "Retail", 150, None, None, "active", ()),
        ("A8", "Retail", 150, "Active", 0, "active", ()),
        ("A9", None, 2000, "Active", None, "active", ()),
        ("A10", "Healthcare", None, "Occasional", None, "active", ("booked",)),
    ]
    made = []
    for name, industry, employees, tier, cap, status, used in spec:
        advocate = make_advocate(tier=tier, status=status, name=name, quarterly_cap=cap,
                                 company=f"{name} Customer Ltd")
        set_company(app, advocate, industry=industry, employees=employees,
                    region="Europe" if name in ("A1", "A4") else "North America")
        engagements(make_engagement, advocate, *used)
        made.append(advocate)
    engagements(make_engagement, made[3], "booked", quarter=previous_quarter(quota.current_quarter()))
    return Coverage(made)


def asked(make_ask, advocate, request, status: str, days_ago: int, answered_after_hours: int | None = None):
    created = at(TODAY - timedelta(days=days_ago))
    responded = created + timedelta(hours=answered_after_hours) if answered_after_hours is not None else None
    return make_ask(advocate, request=request, status=status, created_at=created, responded_at=responded)


def utilisation_data(app, make_advocate, make_request, make_ask, make_engagement) -> dict[str, Advocate]:
    """Asks from 30 days ago to today, calls this quarter:

    =====  ===========  ===========  ====  ========  ========  =======  ========================
    who    tier, limit  calls used   asks  accepted  declined  expired  burnout risk
    =====  ===========  ===========  ====  ========  ========  =======  ========================
    Bea    Occasional 2  0           4     1         2         1        yes: 3 of 4 not yes
    Cal    Occasional 2  0           4     0         1         1        yes: 2 of 4 (the edge)
    Dan    Premier 6     1           3     2         1         0        no: 1 of 3
    Abe    Active 4      4           2     1         0         0        yes: at the limit
    Eve    Active 4      1           0     0         0         0        no
    Fay    Active 4      0           0     (one ask 60 days ago)        not listed
    =====  ===========  ===========  ====  ========  ========  =======  ========================

    Bea also has an ask 60 days ago, outside the range. Pending asks count in the asks (Cal's
    two, Abe's one). Most asked first, then most calls, then by name: Bea, Cal, Dan, Abe, Eve.
    """
    people = {
        "Abe": ("Active", ("booked", "completed", "awaiting_booking", "completed"),
                ("accepted", "pending")),
        "Bea": ("Occasional", (), ("accepted", "declined", "declined", "expired")),
        "Cal": ("Occasional", ("cancelled",), ("declined", "expired", "pending", "pending")),
        "Dan": ("Premier", ("completed",), ("accepted", "accepted", "declined")),
        "Eve": ("Active", ("completed",), ()),
        "Fay": ("Active", (), ()),
    }
    made = {}
    for name, (tier, used, asks) in people.items():
        advocate = make_advocate(tier=tier, name=name, company=f"{name} Works")
        set_company(app, advocate, industry="Healthcare" if name in ("Bea", "Dan") else "Retail",
                    region="Europe")
        engagements(make_engagement, advocate, *used)
        for n, status in enumerate(asks):
            asked(make_ask, advocate, make_request(), status, days_ago=2 + n)
        made[name] = advocate
    asked(make_ask, made["Bea"], make_request(), "declined", days_ago=60)
    asked(make_ask, made["Fay"], make_request(), "declined", days_ago=60)
    return made


@dataclass(frozen=True)
class Ledger:
    advocates: dict[str, Advocate]
    requests: dict[str, object]


def ledger_data(app, make_account, make_advocate, make_request, make_ask) -> Ledger:
    """Two people in sales (Sam, Tess) ask customers of three companies:

    ===  ==================  =========  =======  ========  ===========  ========================
    ask  customer            company    request  by        days ago     status (answered after)
    ===  ==================  =========  =======  ========  ===========  ========================
    1    Lee                 Acme Health  R1     Sam       10           accepted (24 h)
    2    Lee                 Acme Health  R2     Tess      5            declined (2 h)
    3    Max                 Acme Health  R3     Tess      3            pending
    4    Ned                 Borealis     R1     Sam       8            expired
    5    Oli (no company)    —            R4     Sam       2            pending
    6    Ned                 Borealis     R5     Tess      60           declined: outside range
    ===  ==================  =========  =======  ========  ===========  ========================

    Per company in the range: Acme Health 3 asks, 2 advocates, 2 people in sales, 1 accepted,
    1 declined, 1 waiting; Borealis 1 ask (expired); no company 1 (waiting). The ledger: Acme's
    three newest first (3, 2, 1), then Borealis (4), then no company (5). Acme Health is in
    Europe, Borealis in North America.
    """
    sam = make_account(role=Role.SALES, name="Sam Seller", email="sam@vouch.example")
    tess = make_account(role=Role.SALES, name="Tess Team", email="tess@vouch.example")
    requests = {
        "R1": make_request(requested_by=sam, prospect_company="Prospect One"),
        "R2": make_request(requested_by=tess, prospect_company="Prospect Two"),
        "R3": make_request(requested_by=tess, prospect_company="Prospect Three"),
        "R4": make_request(requested_by=sam, prospect_company="Prospect Four"),
        "R5": make_request(requested_by=tess, prospect_company="Prospect Five"),
    }
    people = {}
    for name, company, region in (("Lee", "Acme Health", "Europe"), ("Max", "Acme Health", "Europe"),
                                  ("Ned", "Borealis", "North America"), ("Oli", None, None)):
        if company == "Acme Health" and "Lee" in people:
            advocate = make_advocate(name=name, company=f"{name} temp")
            with app.app_context():
                row = db.session.get(Advocate, advocate.id)
                row.company_id = db.session.scalar(select(Company.id).where(Company.name == "Acme Health"))
                db.session.commit()
                db.session.remove()
        else:
            advocate = make_advocate(name=name, company=company or f"{name} temp")
            set_company(app, advocate, industry="Healthcare", region=region, none=company is None)
        people[name] = advocate
    asked(make_ask, people["Lee"], requests["R1"], "accepted", 10, 24)
    asked(make_ask, people["Lee"], requests["R2"], "declined", 5, 2)
    asked(make_ask, people["Max"], requests["R3"], "pending", 3)
    asked(make_ask, people["Ned"], requests["R1"], "expired", 8)
    asked(make_ask, people["Oli"], requests["R4"], "pending", 2)
    asked(make_ask, people["Ned"], requests["R5"], "declined", 60, 1)
    return Ledger(people, requests)

