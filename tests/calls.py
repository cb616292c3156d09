"""Booked calls for the tests of what follows them (reminders, feedback, completion): booked
through the real workflows (ask, accept, book), or several at once straight in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from models import Account, Advocate, Engagement, RequestStatus, db
from models.types import utcnow
from tests.helpers import fit
from workflows import bookings
from workflows import requests as flow
from workflows.slots import booking_rules, open_slots

# A Monday; every test that travels starts here, so slots and quarters are the same each run.
MONDAY = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
ADVOCATE = "dana@northwind.example"
PROSPECT = "pat@prospect.example"
SELLER = "sam@vouch.example"
COORDINATOR = "cora@vouch.example"


@dataclass(frozen=True)
class Call:
    engagement_id: int
    request_id: int
    advocate_id: int
    ask_id: int
    starts_at: datetime
    ends_at: datetime


def book_call(app, make_account, make_advocate, make_request, *, tier: str = "Occasional",
              prospect_zone: str = "America/Los_Angeles") -> Call:
    """Dana (Europe/Berlin) accepted a call for Globex, and Pat booked the first free time.
    Her profile was reviewed just now: the follow-up's mail holds no quarterly nudge."""
    seller = make_account(role="sales", email=SELLER, name="Sam Seller")
    coordinator = make_account(role="coordinator", email=COORDINATOR, name="Cora Coordinator")
    dana = make_advocate(name="Dana Whitfield", email=ADVOCATE, timezone="Europe/Berlin", tier=tier,
                         job_title="VP Operations", join_url="https://meet.example/dana",
                         last_reviewed_at=utcnow())
    fit(app, dana.id, formats=("call",))
    request = make_request(format="call", requested_by=seller, contact_name="Pat Prospect",
                           contact_email=PROSPECT, prospect_company="Globex Corp",
                           opportunity_name="Globex rollout")
    with app.app_context():
        ask = flow.ask(request.id, dana.id, by=db.session.get(Account, coordinator.id))
        engagement = flow.accept_ask(ask.id, dana.id)
        engagement_id, ask_id = engagement.id, ask.id
        slot = open_slots(db.session.get(Advocate, dana.id), now=utcnow(), rules=booking_rules())[0]
        booked = bookings.book(engagement_id, slot.start, prospect_zone=prospect_zone)
        db.session.remove()
    return Call(engagement_id, request.id, dana.id, ask_id, booked.starts_at, booked.ends_at)


def booked_calls(app, make_account, make_advocate, make_request, make_ask, make_engagement, count: int,
                 *, starts_at: datetime) -> list[Call]:
    """``count`` calls at ``starts_at``, each with its own advocate (reviewed just now: no
    quarterly nudge), request and seller."""
    calls = []
    for number in range(count):
        seller = make_account(role="sales", email=f"seller{number}@vouch.example")
        advocate = make_advocate(email=f"advocate{number}@example.com", tier="Occasional",
                                 last_reviewed_at=utcnow())
        request = make_request(format="call", requested_by=seller, status=RequestStatus.SCHEDULED,
                               contact_email=f"prospect{number}@example.com")
        ask = make_ask(advocate, request=request, status="accepted")
        engagement = make_engagement(advocate, status="booked", starts_at=starts_at, request_id=request.id,
                                     ask_id=ask.id, prospect_email=f"prospect{number}@example.com")
        calls.append(Call(engagement.id, request.id, advocate.id, ask.id, starts_at,
                          starts_at + timedelta(minutes=30)))
    return calls


def engagement_of(app, engagement_id: int) -> Engagement:
    with app.app_context():
        row = db.session.get(Engagement, engagement_id)
        row.request  # noqa: B018  (load before detaching)
        db.session.expunge_all()
    return row
