"""One small program, every number of it known by hand, for the funnel, satisfaction and influence
reports (their tests, their pages' tests and the browser tests share it).

Three advocates:
  Ada  Premier  Northwind  Technology  120 employees (51–200)     Europe
  Ben  Active   Globex     Healthcare  3000 employees (1001–5000) North America
  Cy   Active   Initech    Healthcare  800 employees (201–1000)   Europe

Requests (all 2026; prospect Healthcare, Europe, 800 employees unless said):
  R1 03-02 09:00  100 000.00  Ada asked +2h, accepted +4h; booked +24h; call +48h, completed; won
  R2 03-10 08:00   50 000.00  Ben asked +4h, declined; Cy asked 03-11 08:00, accepted +10h;
                              booked +12h, call not yet held; open
  R3 04-01 10:00   20 000.00  Ben asked +10h, expired; lost
  R4 04-05 10:00   no amount  North America, never asked; lost
  R5 04-10 00:00   30 000.50  written: Ben asked +6h, accepted +2h; answers +24h, approved +24h;
                              lost
  R7 03-15 00:00   10 000.00  Financial Services, 60 employees: Cy asked +1.5h, pending; won
  R8 04-20 00:00   40 000.00  Cy asked +3h, accepted +1h; booked +24h; call +96h, completed; won
  R6 02-20 09:00   99 999.00  Ada asked +1h, accepted +2h; booked +24h; call +24h, completed; won

Feedback (rating, helped the decision):
  R1's call: prospect 5 yes (03-05), Ada 4
  R5's answers: prospect 2 no (04-12), Ben 3
  R8's call: prospect 4 unsure (04-25), Cy said the call did not happen (no rating)
  R6's call: prospect 4 yes (02-23), Ada 5
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from models import (
    Advocate,
    Company,
    Engagement,
    EngagementStatus,
    Feedback,
    FeedbackSide,
    Industry,
    ReferenceRequest,
    Region,
    db,
    quarter_of,
)
from workflows.reports import ReportFilters

MARCH_TO_APRIL = (date(2026, 3, 1), date(2026, 4, 30))
EVERYTHING = (date(2000, 1, 1), date(2999, 12, 31))


def at(month: int, day: int, hour: float = 0) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC) + timedelta(hours=hour)


def run(app, report, **filters):
    """``report(filters)`` in an app context; ``industry``, ``region`` and ``tier`` by name."""
    from models import Tier

    with app.app_context():
        for key, model in {"industry": Industry, "region": Region, "tier": Tier}.items():
            if key in filters:
                name = filters.pop(key)
                filters[f"{key}_id"] = db.session.scalar(select(model.id).where(model.name == name))
        extra = {key: filters.pop(key) for key in ("page", "per_page") if key in filters}
        start, end = filters.pop("start", EVERYTHING[0]), filters.pop("end", EVERYTHING[1])
        result = report(ReportFilters(start, end, **filters), **extra)
        db.session.remove()
    return result


@dataclass
class Scenario:
    advocates: dict[str, Advocate]
    requests: dict[str, int]


def build(app, make_advocate, make_request, make_ask) -> Scenario:
    advocates = {
        "Ada": _advocate(app, make_advocate, "Ada Lovelace", "Premier", "Northwind", "Technology", 120,
                         "Europe"),
        "Ben": _advocate(app, make_advocate, "Ben Okafor", "Active", "Globex", "Healthcare", 3000,
                         "North America"),
        "Cy": _advocate(app, make_advocate, "Cy Young", "Active", "Initech", "Healthcare", 800, "Europe"),
    }
    ada, ben, cy = advocates["Ada"], advocates["Ben"], advocates["Cy"]

    def request(name, created, amount, outcome, **fields):
        return make_request(prospect_company=f"Prospect {name}", created_at=created,
                            amount=None if amount is None else Decimal(amount), outcome=outcome, **fields)

    def ask(advocate, req, created, status, answered=None):
        with app.app_context():  # the request stamps its first ask, as workflows.requests.ask does
            row = db.session.get(ReferenceRequest, req.id)
            row.first_asked_at = row.first_asked_at or created
            db.session.commit()
            db.session.remove()
        return make_ask(advocate, req, status=status, created_at=created, responded_at=answered,
                        expires_at=created + timedelta(hours=48))

    r1 = request("R1", at(3, 2, 9), "100000.00", "won")
    a1 = ask(ada, r1, at(3, 2, 11), "accepted", at(3, 2, 15))
    e1 = _engagement(app, ada, r1, a1, "completed", created=at(3, 2, 15), booked=at(3, 3, 15),
                     starts=at(3, 5, 15))

    r2 = request("R2", at(3, 10, 8), "50000.00", "open")
    ask(ben, r2, at(3, 10, 12), "declined", at(3, 10, 20))
    a2 = ask(cy, r2, at(3, 11, 8), "accepted", at(3, 11, 18))
    _engagement(app, cy, r2, a2, "booked", created=at(3, 11, 18), booked=at(3, 12, 6), starts=at(3, 13, 6))

    r3 = request("R3", at(4, 1, 10), "20000.00", "lost")
    ask(ben, r3, at(4, 1, 20), "expired")

    r4 = request("R4", at(4, 5, 10), None, "lost", region="North America")

    r5 = request("R5", at(4, 10), "30000.50", "lost", format="written")
    a5 = ask(ben, r5, at(4, 10, 6), "accepted", at(4, 10, 8))
    e5 = _engagement(app, ben, r5, a5, "completed", created=at(4, 10, 8), answered=at(4, 11, 8),
                     completed=at(4, 12, 8), format="written")

    r7 = request("R7", at(3, 15), "10000.00", "won", industry="Financial Services", employees=60)
    ask(cy, r7, at(3, 15, 1.5), "pending")

    r8 = request("R8", at(4, 20), "40000.00", "won")
    a8 = ask(cy, r8, at(4, 20, 3), "accepted", at(4, 20, 4))
    e8 = _engagement(app, cy, r8, a8, "completed", created=at(4, 20, 4), booked=at(4, 21, 4),
                     starts=at(4, 25, 4))

    r6 = request("R6", at(2, 20, 9), "99999.00", "won")
    a6 = ask(ada, r6, at(2, 20, 10), "accepted", at(2, 20, 12))
    e6 = _engagement(app, ada, r6, a6, "completed", created=at(2, 20, 12), booked=at(2, 21, 12),
                     starts=at(2, 22, 12))

    with app.app_context():
        db.session.add_all([
            _feedback(e1, "prospect", 5, True, at(3, 5, 16)),
            _feedback(e1, "advocate", 4, None, at(3, 5, 17)),
            _feedback(e5, "prospect", 2, False, at(4, 12, 9)),
            _feedback(e5, "advocate", 3, None, at(4, 12, 10)),
            _feedback(e8, "prospect", 4, None, at(4, 25, 6)),
            Feedback(engagement_id=e8.id, side=FeedbackSide.ADVOCATE, call_happened=False, rating=None,
                     helped_decision=None, created_at=at(4, 25, 7)),
            _feedback(e6, "prospect", 4, True, at(2, 23)),
            _feedback(e6, "advocate", 5, None, at(2, 23, 1)),
        ])
        db.session.commit()
        db.session.remove()
    ids = {name: r.id for name, r in
           {"R1": r1, "R2": r2, "R3": r3, "R4": r4, "R5": r5, "R6": r6, "R7": r7, "R8": r8}.items()}
    return Scenario(advocates=advocates, requests=ids)


def _advocate(app, make_advocate, name, tier, company, industry, employees, region) -> Advocate:
    advocate = make_advocate(tier=tier, name=name, company=company)
    with app.app_context():
        row = db.session.get(Company, advocate.company_id)
        row.industry_id = db.session.scalar(select(Industry.id).where(Industry.name == industry))
        row.region_id = db.session.scalar(select(Region.id).where(Region.name == region))
        row.employees = employees
        db.session.commit()
        db.session.remove()
    return advocate


def _engagement(app, advocate, request, ask, status, *, created, booked=None, starts=None, answered=None,
                completed=None, format="call") -> Engagement:
    status = EngagementStatus(status)
    if completed is None and status is EngagementStatus.COMPLETED:
        completed = starts + timedelta(hours=1)
    with app.app_context():
        engagement = Engagement(
            request_id=request.id, ask_id=ask.id, advocate_id=advocate.id, format_code=format, status=status,
            starts_at=starts, ends_at=starts + timedelta(minutes=30) if starts else None,
            quarter=quarter_of(starts or created), prospect_name="Pat Prospect",
            prospect_email="pat@prospect.example", created_at=created, booked_at=booked,
            answers_submitted_at=answered, answers_approved_at=completed if answered else None,
            completed_at=completed,
        )
        db.session.add(engagement)
        db.session.commit()
        db.session.refresh(engagement)
        db.session.expunge(engagement)
    return engagement


def _feedback(engagement, side, rating, helped, created) -> Feedback:
    return Feedback(engagement_id=engagement.id, side=FeedbackSide(side), call_happened=True, rating=rating,
                    helped_decision=helped, comment="", created_at=created)


def many(app, n: int, *, first: datetime | None = None, tag: str = "") -> None:
    """``n`` completed references, each its own advocate (companies across industries, regions and
    sizes), request, accepted ask, call and both sides' feedback; for counting queries as the
    data grows."""
    from models import Account, Ask, AskStatus, Role, Tier

    first = first or at(3, 2, 9)
    with app.app_context():
        industries = db.session.scalars(select(Industry.id).order_by(Industry.id)).all()
        regions = db.session.scalars(select(Region.id).order_by(Region.id)).all()
        tiers = db.session.scalars(select(Tier.id).order_by(Tier.id)).all()
        for i in range(n):
            created = first + timedelta(days=i % 50, hours=i % 7)
            account = Account(email=f"many{tag}{i}@example.com", name=f"Many {tag}{i}", role=Role.ADVOCATE)
            company = Company(name=f"Many Co {tag}{i}", employees=10 + 400 * i,
                              region_id=regions[i % len(regions)],
                              industry_id=industries[i % len(industries)])
            advocate = Advocate(account=account, company=company, tier_id=tiers[i % len(tiers)],
                                status="active", consent_at=created, consent_source="test")
            request = ReferenceRequest(prospect_company=f"Prospect {i}", format_code="call",
                                       industry_id=industries[(i + 1) % len(industries)],
                                       region_id=regions[(i + 1) % len(regions)], employees=30 + 300 * i,
                                       amount=Decimal(1000 + i), outcome=("won", "lost", "open")[i % 3],
                                       created_at=created, first_asked_at=created)
            ask = Ask(request=request, advocate=advocate, status=AskStatus.ACCEPTED, created_at=created,
                      responded_at=created + timedelta(hours=2), expires_at=created + timedelta(hours=48))
            starts = created + timedelta(days=3)
            engagement = Engagement(
                request=request, ask=ask, advocate=advocate, format_code="call",
                status=EngagementStatus.COMPLETED, starts_at=starts, ends_at=starts + timedelta(minutes=30),
                quarter=quarter_of(starts), created_at=created + timedelta(hours=2),
                booked_at=created + timedelta(hours=20), completed_at=starts + timedelta(hours=1),
            )
            db.session.add_all([advocate, request, ask, engagement])
            db.session.flush()
            db.session.add_all([
                _feedback(engagement, "prospect", 1 + i % 5, i % 2 == 0, starts + timedelta(hours=2)),
                _feedback(engagement, "advocate", 1 + (i + 2) % 5, None, starts + timedelta(hours=3)),
            ])
        db.session.commit()
        db.session.remove()
