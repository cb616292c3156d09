"""The advocate's privacy page: consent, the JSON export of all their data, leaving the program
(DESIGN.md §7.13: personal data erased, activity counts kept anonymously)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from models import (
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateTopic,
    Ask,
    AskStatus,
    AuditEvent,
    Blackout,
    Competitor,
    CompetitorRelation,
    Engagement,
    EngagementStatus,
    Feedback,
    FeedbackSide,
    Format,
    LoginToken,
    OutboxMessage,
    Perk,
    PerkKind,
    PointsEntry,
    Product,
    Redemption,
    RedemptionStatus,
    ReferenceRequest,
    RequestEvent,
    RequestStatus,
    Role,
    Tier,
    Topic,
    TopicStance,
    UseCase,
    WeeklyWindow,
    WrittenAnswer,
    db,
    quarter_of,
)
from models.engagements import COUNTED_STATUSES
from models.types import utcnow
from tests.conftest import csrf_token, text_body
from workflows import privacy as flow
from workflows import requests as requests_flow
from workflows.request_view import view_request

PAGE = "/portal/privacy"
EXPORT = "/portal/privacy/my-data.json"
LEAVE = "/portal/privacy/leave"
SESSION_COOKIE = "vouch_session"

# What only the advocate's own profile holds: none of it may survive leaving.
PROFILE = {
    "job_title": "VP of Operations at Northwind",
    "success_metrics": "Cut onboarding time by 40 percent",
    "talking_points": "How we replaced our legacy stack in six weeks",
    "languages": ["English", "Icelandic"],
    "refused_companies": ["Globex Rivalcorp"],
    "snoozed_until": date(2031, 1, 31),
    "quarterly_cap": 2,
    "job_level_code": "executive",
}
SECRETS = (
    "Dana Whitfield", "dana@northwind.example", PROFILE["job_title"], PROFILE["success_metrics"],
    PROFILE["talking_points"], "Icelandic", "Globex Rivalcorp", "Pat Prospect", "pat@prospect.example",
    "Dana was wonderful", "My own honest answer", "Ship it to 12 Harbour Lane", "Too busy, sorry Dana",
)


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture()
def dana(make_advocate, sign_in):
    """An Active-tier advocate in Berlin with a full profile, signed in on ``client``."""
    advocate = make_advocate(
        name="Dana Whitfield", email="dana@northwind.example", timezone="Europe/Berlin", **PROFILE
    )
    sign_in(advocate.account, by_email=True)  # the export shows the sign-in and its audit
    return advocate


def tag(model, name: str):
    row = db.session.scalar(select(model).where(model.key == name.casefold()))
    if row is None:
        row = model(name=name)
        db.session.add(row)
    return row


def fill_profile(app, advocate_id: int, suffix: str = "") -> None:
    """Products, use cases, topics, formats, competitors, windows and a blackout."""
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        advocate.products = [tag(Product, f"Customer 360{suffix}")]
        advocate.use_cases = [tag(UseCase, f"Fleet tracking{suffix}")]
        advocate.formats = [db.session.get(Format, "call"), db.session.get(Format, "written")]
        topics = {t.name: t for t in db.session.scalars(select(Topic))}
        advocate.topics = [
            AdvocateTopic(topic=topics["ROI"], stance=TopicStance.GLAD),
            AdvocateTopic(topic=topics["Pricing and contract"], stance=TopicStance.AVOID),
        ]
        advocate.competitors = [
            AdvocateCompetitor(
                competitor=tag(Competitor, f"Acme{suffix}"), relation=CompetitorRelation.REPLACED
            )
        ]
        advocate.windows = [WeeklyWindow(weekday=1, starts=time(9), ends=time(12))]
        advocate.blackouts = [
            Blackout(starts_on=date(2031, 8, 1), ends_on=date(2031, 8, 15), reason="Summer")
        ]
        db.session.commit()
        db.session.remove()


def add_activity(app, make_request, make_ask, make_engagement, advocate, n: int = 1, offset: int = 0) -> None:
    """``n`` of each: a completed call with feedback both ways, points and a redemption, and an
    ask still pending; ``offset`` keeps the calls of several calls from overlapping."""
    base = utcnow().replace(microsecond=0) - timedelta(days=10)
    for i in range(n):
        done = make_request(prospect_company=f"Ironbridge {advocate.id}-{i}")
        ask = make_ask(advocate, request=done, status="accepted")
        engagement = make_engagement(
            advocate, status="completed", starts_at=base - timedelta(hours=offset + i), request_id=done.id,
            ask_id=ask.id, format="call",
        )
        pending = make_request(prospect_company=f"Secret Prospect {advocate.id}-{i}", industry="Energy")
        make_ask(advocate, request=pending)
        with app.app_context():
            db.session.add_all([
                Feedback(engagement_id=engagement.id, side=FeedbackSide.ADVOCATE, rating=5,
                         comment="Good questions from them"),
                Feedback(engagement_id=engagement.id, side=FeedbackSide.PROSPECT, rating=4,
                         comment="Dana was wonderful", helped_decision=True),
                PointsEntry(advocate_id=advocate.id, delta=100, reason="call_completed",
                            source_type="engagement", source_id=engagement.id),
            ])
            perk = Perk(name=f"Gift box {advocate.id}-{i}", kind=PerkKind.REDEEMABLE, points_cost=50,
                        min_tier_id=db.session.scalar(select(Tier.id).where(Tier.name == "Occasional")))
            redemption = Redemption(perk=perk, advocate_id=advocate.id, points_spent=50,
                                    status=RedemptionStatus.FULFILLED, note="Ship it to 12 Harbour Lane")
            db.session.add(redemption)
            db.session.flush()
            db.session.add(PointsEntry(advocate_id=advocate.id, delta=-50, reason="redemption",
                                       source_type="redemption", source_id=redemption.id))
            db.session.commit()
            db.session.remove()


def export(client) -> dict:
    response = client.get(EXPORT)
    assert response.status_code == 200
    return json.loads(response.get_data(as_text=True))


def leave(client, confirmation: str | None = "LEAVE", follow: bool = False):
    token = csrf_token(client.get(LEAVE).get_data(as_text=True))
    data = {"csrf_token": token}
    if confirmation is not None:
        data["confirmation"] = confirmation
    return client.post(LEAVE, data=data, follow_redirects=follow)


def snapshot(app, advocate_id: int) -> dict:
    """Everything leaving changes, to show that a refused leave changed nothing."""
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        account = advocate.account
        state = {
            "account": (account.email, account.name, account.active, account.session_version),
            "advocate": (advocate.status, advocate.job_title, advocate.talking_points, advocate.languages),
            "topics": len(advocate.topics),
            "windows": len(advocate.windows),
            "asks": sorted((a.id, a.status) for a in db.session.scalars(select(Ask))),
            "engagements": sorted(
                (e.id, e.status, e.prospect_email) for e in db.session.scalars(select(Engagement))
            ),
            "outbox": db.session.scalar(select(func.count()).select_from(OutboxMessage)),
        }
        db.session.remove()
    return state


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash[^"]*" role="status">([^<]*)</p>', html)


# --- the page --------------------------------------------------------------------------------


def test_the_page_shows_the_consent_given_and_when_in_their_zone(client, dana):
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # make_advocate records consent on 2026-01-01 00:00 UTC: 01:00 in Berlin.
    assert "<strong>01 January 2026</strong>" in html
    assert "at 01:00 (Europe/Berlin)" in html
    assert 'datetime="2026-01-01T00:00:00+00:00"' in html
    assert "How: test." in html
    assert "What Vouch keeps about you" in html
    assert "dana@northwind.example" in html
    assert f'href="{EXPORT}"' in html and "Download my data (JSON)" in html
    assert f'href="{LEAVE}"' in html and "Leave the program" in html


def test_the_page_says_so_when_no_consent_is_recorded(app, client, dana):
    with app.app_context():
        db.session.get(Advocate, dana.id).consent_at = None
        db.session.commit()
        db.session.remove()
    html = client.get(PAGE).get_data(as_text=True)
    assert "We have no record of your consent yet." in html


def test_the_page_counts_what_is_kept(app, client, dana, make_request, make_ask, make_engagement):
    fill_profile(app, dana.id)
    add_activity(app, make_request, make_ask, make_engagement, dana, n=2)
    html = " ".join(client.get(PAGE).get_data(as_text=True).split())
    assert "1 weekly window, 1 blackout date range," in html
    assert "4 asks you received" in html
    assert "2 calls or written references" in html
    assert "2 you gave, 2 shared with you." in html
    assert "4 lines in your points ledger, 2 perk redemptions." in html


def test_an_advocate_account_without_a_profile_finds_nothing_here(app, client, make_account, sign_in):
    account = make_account(role="advocate")
    sign_in(account)
    for url in (PAGE, EXPORT, LEAVE):
        assert client.get(url).status_code == 404


# --- the export ------------------------------------------------------------------------------


def test_the_export_is_a_json_download_that_is_not_cached(client, dana):
    response = client.get(EXPORT)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    found = re.fullmatch(r"attachment; filename=vouch-my-data-(\d{4}-\d{2}-\d{2})\.json", disposition)
    assert found, disposition
    today_in_berlin = datetime.now(ZoneInfo("Europe/Berlin")).date()
    assert found.group(1) == today_in_berlin.isoformat()
    assert json.loads(response.get_data(as_text=True))["format"] == flow.EXPORT_FORMAT


def test_the_export_holds_their_data_and_nothing_of_another_advocate(
    app, client, dana, make_advocate, make_request, make_ask, make_engagement
):
    other = make_advocate(
        name="Olaf Otherson", email="olaf@other.example", company="Other Corp", job_title="Head of IT",
        talking_points="Olaf's private talking points", languages=["Norwegian"],
    )
    fill_profile(app, dana.id)
    fill_profile(app, other.id, suffix=" (Olaf)")
    add_activity(app, make_request, make_ask, make_engagement, dana, n=1)
    add_activity(app, make_request, make_ask, make_engagement, other, n=2, offset=100)
    with app.app_context():
        hidden = db.session.scalars(
            select(Feedback).join(Engagement).where(
                Engagement.advocate_id == dana.id, Feedback.side == FeedbackSide.PROSPECT
            )
        ).one()
        hidden.shared_with_advocate = False
        hidden.comment = "Not for Dana's eyes"
        db.session.commit()
        db.session.remove()

    data = export(client)
    dump = json.dumps(data, ensure_ascii=False)

    assert data["account"] == {
        "email": "dana@northwind.example", "name": "Dana Whitfield", "role": "advocate",
        "timezone": "Europe/Berlin", "active": True, "created_at": data["account"]["created_at"],
        "last_sign_in_at": data["account"]["last_sign_in_at"],
    }
    assert datetime.fromisoformat(data["account"]["created_at"]).tzinfo is not None
    assert datetime.fromisoformat(data["account"]["last_sign_in_at"]).tzinfo is not None
    profile = data["profile"]
    assert profile["company"]["name"] == dana.company.name
    assert profile["company"]["size"] == "201–1000"
    assert profile["job_title"] == PROFILE["job_title"]
    assert profile["job_level"] == "Executive"
    assert profile["tier"] == "Active" and profile["status"] == "active"
    assert profile["products"] == ["Customer 360"] and profile["use_cases"] == ["Fleet tracking"]
    assert profile["topics"] == [
        {"topic": "Pricing and contract", "stance": "avoid"}, {"topic": "ROI", "stance": "glad"},
    ]
    assert profile["formats"] == ["Phone call", "Written reference"]
    assert profile["competitors"] == [{"competitor": "Acme", "relation": "replaced"}]
    assert profile["success_metrics"] == PROFILE["success_metrics"]
    assert profile["talking_points"] == PROFILE["talking_points"]
    assert profile["languages"] == ["English", "Icelandic"]
    assert profile["refused_companies"] == ["Globex Rivalcorp"]
    assert profile["consent"] == {"given_at": "2026-01-01T00:00:00+00:00", "source": "test"}

    availability = data["availability"]
    assert availability["weekly_windows"] == [{"weekday": "Tuesday", "starts": "09:00", "ends": "12:00"}]
    assert availability["blackouts"] == [
        {"starts_on": "2031-08-01", "ends_on": "2031-08-15", "reason": "Summer"}
    ]
    assert availability["snoozed_until"] == "2031-01-31"
    assert availability["quarterly_cap"] == 2

    accepted, pending = sorted(data["asks"], key=lambda a: a["status"])
    assert accepted["status"] == "accepted" and pending["status"] == "pending"
    assert accepted["request"]["prospect_company"] == f"Ironbridge {dana.id}-0"
    # Before accepting, an advocate is shown the prospect's industry and size, not who it is.
    assert pending["request"]["prospect_company"] is None
    assert pending["request"]["industry"] == "Energy" and pending["request"]["size"] == "201–1000"
    assert pending["request"]["format"] == "Phone call"
    assert date.fromisoformat(pending["request"]["needed_by"])
    assert f"Secret Prospect {dana.id}-0" not in dump

    [engagement] = data["engagements"]
    assert engagement["status"] == "completed" and engagement["format"] == "Phone call"
    assert engagement["prospect_company"] == f"Ironbridge {dana.id}-0"
    assert datetime.fromisoformat(engagement["starts_at"]).tzinfo is not None
    assert [f["comment"] for f in engagement["feedback_given"]] == ["Good questions from them"]
    assert engagement["feedback_received"] == []  # the prospect's comment was not shared with them
    assert "Not for Dana's eyes" not in dump
    # Prospect contacts are other people's personal data.
    assert "Pat Prospect" not in dump and "pat@prospect.example" not in dump

    assert data["points"]["balance"] == 50
    assert sorted(e["delta"] for e in data["points"]["ledger"]) == [-50, 100]
    assert [(r["perk"], r["status"], r["note"]) for r in data["redemptions"]] == [
        (f"Gift box {dana.id}-0", "fulfilled", "Ship it to 12 Harbour Lane")
    ]
    assert {e["event"] for e in data["security_log"]} >= {"sign_in.link_requested", "sign_in.succeeded"}

    for theirs in ("Olaf", "olaf@other.example", "Other Corp", "Head of IT", "Norwegian",
                   f"Ironbridge {other.id}", f"Gift box {other.id}"):
        assert theirs not in dump, theirs


def test_the_export_reads_a_bounded_number_of_queries(
    app, client, dana, make_request, make_ask, make_engagement, count_queries
):
    def measure() -> int:
        with count_queries() as queries:
            response = client.get(EXPORT)
        assert response.status_code == 200
        return len(queries)

    fill_profile(app, dana.id)
    add_activity(app, make_request, make_ask, make_engagement, dana, n=1)
    with_one = measure()
    add_activity(app, make_request, make_ask, make_engagement, dana, n=12, offset=50)
    with_many = measure()
    assert len(export(client)["engagements"]) == 13
    assert with_one == with_many
    assert with_many <= 25


def test_the_page_reads_a_bounded_number_of_queries(
    app, client, dana, make_request, make_ask, make_engagement, count_queries
):
    def measure() -> int:
        with count_queries() as queries:
            response = client.get(PAGE)
        assert response.status_code == 200
        return len(queries)

    add_activity(app, make_request, make_ask, make_engagement, dana, n=1)
    with_one = measure()
    add_activity(app, make_request, make_ask, make_engagement, dana, n=12, offset=50)
    assert measure() == with_one <= 6


# --- leaving ---------------------------------------------------------------------------------


@pytest.mark.parametrize("confirmation", [None, "", "   ", "yes", "LEAVE NOW"])
def test_leaving_needs_the_word_typed_or_nothing_changes(app, client, dana, confirmation):
    before = snapshot(app, dana.id)
    response = leave(client, confirmation)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Nothing was changed: you are still in the program." in html
    assert 'aria-invalid="true"' in html and "Type LEAVE" in html
    assert snapshot(app, dana.id) == before
    assert client.get(PAGE).status_code == 200  # still signed in


def test_leaving_without_the_csrf_token_is_refused(app, client, dana):
    before = snapshot(app, dana.id)
    response = client.post(LEAVE, data={"confirmation": "LEAVE"})
    assert response.status_code == 400
    assert snapshot(app, dana.id) == before


def test_the_confirmation_rule_alone():
    for typed in ("LEAVE", "leave", "  Leave "):
        flow.check_confirmation(typed)
    for typed in (None, "", "leave!", "LEAVES", "quit"):
        with pytest.raises(flow.PrivacyError, match="Type LEAVE"):
            flow.check_confirmation(typed)


def test_the_leave_button_leads_to_a_confirmation_page_with_a_labelled_field(client, dana):
    html = client.get(LEAVE).get_data(as_text=True)
    assert "Leave the program?" in html
    assert '<label for="confirmation">Type LEAVE to confirm</label>' in html
    assert f'action="{LEAVE}"' in html and 'method="post"' in html
    assert 'name="csrf_token"' in html


def test_leaving_erases_personal_data_and_keeps_activity_anonymous(
    app, client, dana, make_advocate, make_request, make_ask, make_engagement, smtp, deliver
):
    fill_profile(app, dana.id)
    add_activity(app, make_request, make_ask, make_engagement, dana, n=1)
    colleague = make_advocate(name="Dana Whitfield", email="other.dana@example.com")  # same name
    now = utcnow()

    # A request still being asked of two advocates: Dana's ask is declined, the other stays.
    shared = make_request(prospect_company="Shared Prospect", status=RequestStatus.ASKING)
    dana_ask = make_ask(dana, request=shared)
    make_ask(colleague, request=shared)
    # A call booked next week: cancelled, its place given back, the request free to match again.
    booked_request = make_request(prospect_company="Booked Prospect", status=RequestStatus.SCHEDULED)
    booked_ask = make_ask(dana, request=booked_request, status="accepted")
    booked = make_engagement(dana, status="booked", starts_at=now + timedelta(days=7),
                             request_id=booked_request.id, ask_id=booked_ask.id)
    # An accepted written reference not yet answered: cancelled too.
    written_request = make_request(format="written", status=RequestStatus.MATCHED)
    written_ask = make_ask(dana, request=written_request, status="accepted")
    written = make_engagement(dana, status="awaiting_booking", format="written",
                              request_id=written_request.id, ask_id=written_ask.id)
    # A past call not yet marked completed stays as it is, for the coordinator.
    held = make_engagement(dana, status="booked", starts_at=now - timedelta(days=1))
    with app.app_context():
        db.session.add_all([
            WrittenAnswer(engagement_id=written.id, position=0, question="Why us?",
                          answer="My own honest answer"),
            # What the asks workflow writes on a timeline: ids, never names or notes.
            RequestEvent(request_id=shared.id, kind="asked", detail={"advocate_id": dana.id}),
            RequestEvent(request_id=shared.id, kind="asked", detail={"advocate_id": colleague.id}),
        ])
        perk = db.session.scalars(select(Perk)).first()
        db.session.add(Redemption(perk=perk, advocate_id=dana.id, points_spent=50,
                                  status=RedemptionStatus.REQUESTED, note="Ship it to 12 Harbour Lane"))
        db.session.get(Ask, dana_ask.id).decline_note = "Too busy, sorry Dana"
        db.session.commit()
        counts_before = {
            "engagements": db.session.scalar(select(func.count()).select_from(Engagement)),
            "ledger": db.session.scalar(select(func.count()).select_from(PointsEntry)),
            "feedback": sorted(db.session.scalars(select(Feedback.rating))),
            "asks": db.session.scalar(select(func.count()).select_from(Ask)),
        }
        version_before = db.session.get(Account, dana.account.id).session_version
        db.session.remove()
    smtp.clear()

    response = leave(client, " leave ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in"
    page = client.get("/sign-in")
    [message] = flashes(page.get_data(as_text=True))
    assert message.startswith("You have left the Vouch reference program and are signed out.")
    assert "2 pending asks were declined and 2 upcoming calls were cancelled." in message

    with app.app_context():
        account = db.session.get(Account, dana.account.id)
        assert account.email == f"erased-{account.id}@invalid" == flow.erased_email(account.id)
        assert account.name == "Former advocate"
        assert account.active is False and account.session_version == version_before + 1
        assert account.timezone == "UTC"
        advocate = db.session.get(Advocate, dana.id)
        assert advocate.status.value == "retired"
        assert (advocate.job_title, advocate.success_metrics, advocate.talking_points) == ("", "", "")
        assert advocate.languages == [] and advocate.refused_companies == []
        assert advocate.snoozed_until is None and advocate.quarterly_cap is None
        assert advocate.job_level_code is None
        assert advocate.company_id == dana.company.id and advocate.tier_id is not None  # for reports
        assert advocate.consent_at is not None  # what was agreed, and when, stays on record
        for rows in (advocate.topics, advocate.competitors, advocate.windows, advocate.blackouts,
                     advocate.products, advocate.use_cases, advocate.formats):
            assert rows == []
        assert db.session.scalars(select(LoginToken).where(LoginToken.account_id == account.id)).all() == []

        asks = {a.id: a for a in db.session.scalars(select(Ask).where(Ask.advocate_id == dana.id))}
        assert asks[dana_ask.id].status is AskStatus.DECLINED
        assert asks[dana_ask.id].decline_reason == flow.LEFT_PROGRAM == "left_program"
        assert asks[dana_ask.id].responded_at is not None
        # Accepted asks stay as they were answered (their engagements are cancelled); none is
        # pending any more.
        assert asks[booked_ask.id].status is asks[written_ask.id].status is AskStatus.ACCEPTED
        assert not [a for a in asks.values() if a.status is AskStatus.PENDING]
        assert db.session.get(ReferenceRequest, shared.id).status is RequestStatus.ASKING  # colleague asked

        cancelled = db.session.get(Engagement, booked.id)
        assert cancelled.status is EngagementStatus.CANCELLED and cancelled.cancelled_at is not None
        assert cancelled.request_id == booked_request.id  # kept in the request's history
        assert db.session.get(Engagement, written.id).status is EngagementStatus.CANCELLED
        assert db.session.get(Engagement, held.id).status is EngagementStatus.BOOKED
        for request_id in (booked_request.id, written_request.id):
            request = db.session.get(ReferenceRequest, request_id)
            assert request.status is RequestStatus.NEW
            kinds = [e.kind for e in request.events]
            assert kinds[-2:] == ["engagement_cancelled", "reopened"]
        left = db.session.scalars(
            select(RequestEvent).where(RequestEvent.kind == "engagement_cancelled")
        ).all()
        assert {e.detail["engagement_id"] for e in left} == {booked.id, written.id}
        assert {e.detail["reason"] for e in left} == {"left_program"}
        declined = db.session.scalars(
            select(RequestEvent).where(RequestEvent.request_id == shared.id, RequestEvent.kind == "declined")
        ).one()
        assert declined.detail == {"advocate_id": dana.id, "ask_id": dana_ask.id, "reason": "left_program"}
        # The timeline names people when it is shown: Dana as a former advocate, her namesake as is.
        coordinator = Account(email="c@example.com", name="C", role=Role.COORDINATOR, timezone="UTC")
        shown = view_request(requests_flow.request_for(coordinator, shared.id), coordinator, None)
        asked_lines = [line.text for line in shown.timeline if line.kind == "asked"]
        assert asked_lines == ["Asked Former advocate", "Asked Dana Whitfield"]

        assert db.session.scalars(select(Redemption.status).where(
            Redemption.advocate_id == dana.id).order_by(Redemption.id)).all() == [
            RedemptionStatus.FULFILLED, RedemptionStatus.REJECTED]

        assert {
            "engagements": db.session.scalar(select(func.count()).select_from(Engagement)),
            "ledger": db.session.scalar(select(func.count()).select_from(PointsEntry)),
            "feedback": sorted(db.session.scalars(select(Feedback.rating))),
            "asks": db.session.scalar(select(func.count()).select_from(Ask)),
        } == counts_before
        for engagement in db.session.scalars(select(Engagement).where(Engagement.advocate_id == dana.id)):
            assert (engagement.prospect_name, engagement.prospect_email) == ("", "")

        event = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "advocate.left")).one()
        assert event.actor_id == account.id and event.subject is None and event.client_ip is None
        assert event.detail == {"advocate_id": dana.id, "account_id": account.id,
                                "asks_declined": 2, "engagements_cancelled": 2}

        def colleagues(table, row) -> bool:  # the colleague who shares Dana's name keeps it
            if table == "accounts":
                return row["id"] == colleague.account.id
            return table == "request_events" and detail_of(row).get("advocate_id") == colleague.id

        assert rows_mentioning(SECRETS, skip=colleagues) == []
        db.session.remove()

    # The confirmation went to the address as it was, and says nothing personal; the prospect
    # of the booked call got its cancellation, and the advocate no copy of it.
    assert deliver().sent == 2
    [cancellation] = smtp.wait_for(booked.prospect_email)
    assert cancellation["Subject"].strip().startswith("Cancelled: your reference")
    [mail] = smtp.wait_for("dana@northwind.example")
    assert mail["Subject"] == "You have left the Vouch reference program"
    body = text_body(mail)
    assert "you have left the customer reference program" in body and "erased" in body
    assert "Dana" not in body


PERSONAL_TABLES = (
    "accounts", "advocates", "engagements", "feedback", "written_answers", "asks", "request_events",
    "audit_events", "login_tokens", "blackouts", "weekly_windows", "redemptions",
)


def rows_mentioning(secrets, skip) -> list[str]:
    """Every row of the tables that held personal data, read as text, that still holds one of
    ``secrets`` (except the rows ``skip(table, row)`` names: somebody else's)."""
    found = []
    for table in PERSONAL_TABLES:
        for row in db.session.execute(text(f"SELECT * FROM {table}")).mappings():
            if skip(table, row):
                continue
            values = " | ".join(str(v) for v in row.values()).casefold()
            found += [f"{table}: {secret!r} in {values[:300]}" for secret in secrets
                      if secret.casefold() in values]
    return found


def detail_of(row) -> dict:
    detail = row["detail"]
    return json.loads(detail) if isinstance(detail, str) else detail


def test_after_leaving_the_old_session_cookie_no_longer_works(app, client, dana):
    cookie = client.get_cookie(SESSION_COOKIE).value
    assert leave(client).status_code == 302

    assert client.get(PAGE).headers["Location"].startswith("/sign-in")
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, cookie)
    response = replay.get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_after_leaving_the_old_address_gets_no_sign_in_link(app, client, dana, smtp, deliver):
    assert leave(client).status_code == 302
    deliver()  # the confirmation
    smtp.clear()

    other = app.test_client()
    page = other.get("/sign-in")
    response = other.post("/sign-in", data={
        "email": "dana@northwind.example", "csrf_token": csrf_token(page.get_data(as_text=True)),
    })
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in/sent"
    assert deliver().sent == 0
    assert smtp.to("dana@northwind.example") == []
    with app.app_context():
        assert db.session.scalar(select(Account).where(Account.email == "dana@northwind.example")) is None
        db.session.remove()


def test_leaving_twice_in_a_row_is_harmless(app, dana):
    """A retried request (double click) after the first succeeded finds the account erased."""
    with app.app_context():
        flow.leave_program(dana.id, confirmation="LEAVE")
        first = db.session.get(Account, dana.account.id).email
        db.session.remove()
        departure = flow.leave_program(dana.id, confirmation="LEAVE")
        assert departure == flow.Departure(asks_declined=0, engagements_cancelled=0)
        assert db.session.get(Account, dana.account.id).email == first
        db.session.remove()


def test_a_failure_midway_leaves_nothing_behind(app, dana, make_request, make_ask, monkeypatch):
    make_ask(dana, request=make_request())
    before = snapshot(app, dana.id)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    with app.app_context():
        monkeypatch.setattr(flow, "add_event", broken)
        with pytest.raises(RuntimeError):
            flow.leave_program(dana.id, confirmation="LEAVE")
        db.session.remove()
    assert snapshot(app, dana.id) == before


def test_a_cancelled_call_gives_its_place_in_the_quarter_back(app, client, dana, make_engagement):
    starts = utcnow() + timedelta(days=5)
    make_engagement(dana, status="booked", starts_at=starts)
    assert leave(client).status_code == 302
    with app.app_context():
        counted = db.session.scalar(select(func.count()).select_from(Engagement).where(
            Engagement.advocate_id == dana.id, Engagement.quarter == quarter_of(starts),
            Engagement.status.in_(COUNTED_STATUSES)))
        assert counted == 0
        db.session.remove()


def test_after_leaving_the_outbox_keeps_their_address_only_on_the_confirmation(
    app, client, dana, smtp, deliver
):
    """The sign-in mail of the fixture was sent to Dana; after leaving only the confirmation names
    her address, and once sent its body is gone too."""
    from models import OutboxMessage, OutboxStatus

    assert leave(client).status_code == 302
    deliver()
    assert smtp.wait_for("dana@northwind.example", count=2)  # the sign-in link, then the confirmation
    with app.app_context():
        messages = db.session.scalars(select(OutboxMessage)).all()
        naming_her = [m for m in messages if "dana@northwind.example" in (m.to + m.cc)]
        assert [m.template for m in naming_her] == ["left_program"]
        assert naming_her[0].status == OutboxStatus.SENT
        assert "Dana" not in naming_her[0].body_text
        sign_in_mail = next(m for m in messages if m.template == "sign_in_link")
        assert sign_in_mail.to == ["erased@invalid"] and sign_in_mail.subject == "[erased]"


def test_the_export_says_whether_they_unsubscribed_from_program_mail(app, client, dana):
    from workflows import unsubscribe

    assert export(client)["mail"] == {"program_mail": "subscribed"}
    with app.app_context():
        unsubscribe.unsubscribe(unsubscribe.token("dana@northwind.example"))
        db.session.remove()
    assert export(client)["mail"] == {"program_mail": "unsubscribed"}
