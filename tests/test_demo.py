"""``flask demo load``: one account per role to sign in with, a believable program that keeps
the rules of DESIGN.md §5, and a second run that changes nothing."""

from __future__ import annotations

import ast
from collections import Counter
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from demo import DEMO_SETTING, data, load_demo
from models import (
    Account,
    Advocate,
    AdvocateStatus,
    Ask,
    AskStatus,
    Company,
    Engagement,
    EngagementStatus,
    Industry,
    Perk,
    PerkKind,
    PointsEntry,
    Redemption,
    ReferenceRequest,
    Region,
    RequestEvent,
    RequestOutcome,
    RequestStatus,
    Role,
    Setting,
    TopicStance,
    db,
    quarter_of,
)
from models.engagements import COUNTED_STATUSES
from models.types import utcnow
from tests.conftest import clean_database
from workflows.request_view import REASON_TEXT, view_request
from workflows.requests import request_for

# What the workflows keep in a timeline line: ids, codes, times and the score.
TIMELINE_DETAIL = {"advocate_id", "ask_id", "engagement_id", "format", "outcome", "starts_at", "ends_at",
                   "score", "reason"}

SIGN_IN_WITH = {
    "advocate": "advocate@northwind.example",
    "sales": "sales@vouch.example",
    "coordinator": "coordinator@vouch.example",
    "admin": "admin@vouch.example",
}


def load(runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture()
def demo(runner) -> str:
    """The demo, loaded through the CLI; the value is what the command printed."""
    return load(runner)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def demo_advocates() -> list[Advocate]:
    return list(db.session.scalars(select(Advocate).order_by(Advocate.id)))


# -- what the command prints --------------------------------------------------------------------


def test_output_names_one_account_per_role(demo, app_context):
    for role, email in SIGN_IN_WITH.items():
        lines = [line for line in demo.splitlines() if email in line]
        assert len(lines) == 1, demo
        assert lines[0].split()[0] == role
        account = db.session.scalar(select(Account).where(Account.email == email))
        assert account is not None and account.role == Role(role) and account.active
        assert account.name in lines[0]
    assert "server log" in demo
    assert "60 customer companies" in demo
    assert "40 active" in demo


def test_summary_describes_counts_and_accounts(app_context):
    summary = load_demo()
    text = summary.describe()
    assert [a.role for a in summary.accounts] == ["advocate", "sales", "coordinator", "admin"]
    assert summary.counts["requests"] == 12
    assert "12 reference requests" in text
    assert "sign-in link appears in the server log" in text


# -- what it loads ------------------------------------------------------------------------------


def test_counts(demo, app_context):
    assert count(Company) >= 60
    statuses = Counter(db.session.scalars(select(Advocate.status)))
    assert statuses[AdvocateStatus.ACTIVE] == 40
    assert set(statuses) > {AdvocateStatus.ACTIVE}  # a few candidates, invited or paused too
    roles = Counter(db.session.scalars(select(Account.role)))
    assert roles[Role.SALES] == 3
    assert roles[Role.COORDINATOR] == 2
    assert roles[Role.ADMIN] == 1
    assert roles[Role.ADVOCATE] == count(Advocate)
    requests = Counter(db.session.scalars(select(ReferenceRequest.status)))
    assert sum(requests.values()) == 12
    assert set(requests) == set(RequestStatus)
    outcomes = Counter(db.session.scalars(select(ReferenceRequest.outcome)))
    assert outcomes[RequestOutcome.WON] and outcomes[RequestOutcome.LOST]


def test_companies_are_spread_over_industries_regions_and_sizes(demo, app_context):
    companies = list(db.session.scalars(select(Company)))
    assert len({c.industry_id for c in companies}) == count(Industry)
    assert len({c.region_id for c in companies}) == count(Region) == 5
    assert len({c.size_band for c in companies}) == 5
    assert all(20 <= c.employees <= 40000 for c in companies)
    assert all(c.crm_id and c.health_score is not None and c.nps is not None for c in companies)
    assert all(c.renewal_date and c.customer_since for c in companies)


def test_tier_spread_and_caps_within_tier_quota(demo, app_context):
    advocates = demo_advocates()
    active = [a for a in advocates if a.status == AdvocateStatus.ACTIVE]
    assert Counter(a.tier.name for a in active) == {"Premier": 8, "Active": 16, "Occasional": 16}
    capped = [a for a in advocates if a.quarterly_cap is not None]
    assert capped
    for advocate in advocates:
        if advocate.tier is not None:
            assert advocate.quarterly_cap is None or advocate.quarterly_cap <= advocate.tier.quarterly_quota


def test_active_advocates_have_a_complete_profile(demo, app_context):
    for advocate in demo_advocates():
        if advocate.status != AdvocateStatus.ACTIVE:
            continue
        assert advocate.windows, advocate.account.name
        assert advocate.formats, advocate.account.name
        assert advocate.consent_at is not None and advocate.consent_at < utcnow()
        assert advocate.company is not None and advocate.job_title and advocate.job_level_code
        assert advocate.products and advocate.use_cases and advocate.languages
        assert any(t.stance == TopicStance.GLAD for t in advocate.topics)
        assert advocate.success_metrics and advocate.talking_points
        ZoneInfo(advocate.account.timezone)
    zones = {a.account.timezone for a in demo_advocates()}
    assert len(zones) >= 9
    assert any(a.snoozed_until for a in demo_advocates())
    assert any(a.blackouts for a in demo_advocates())


def test_calls_fall_in_the_advocates_windows(demo, app_context):
    now = utcnow()
    calls = db.session.scalars(select(Engagement).where(Engagement.starts_at.is_not(None))).all()
    assert calls
    for call in calls:
        assert call.ends_at - call.starts_at in (timedelta(minutes=30), timedelta(minutes=45))
        zone = ZoneInfo(call.advocate.account.timezone)
        start, end = call.starts_at.astimezone(zone), call.ends_at.astimezone(zone)
        assert any(
            w.weekday == start.weekday() and w.starts <= start.time() and end.time() <= w.ends
            for w in call.advocate.windows
        ), (call.advocate.account.name, start)
        assert not any(b.starts_on <= start.date() <= b.ends_on for b in call.advocate.blackouts)
        assert call.quarter == quarter_of(call.starts_at)
        if call.status == EngagementStatus.BOOKED:
            assert call.starts_at > now + timedelta(hours=24)
        if call.status == EngagementStatus.COMPLETED:
            assert call.ends_at < now


def test_quota_is_never_exceeded(demo, app_context):
    engagements = db.session.scalars(
        select(Engagement).where(Engagement.status.in_(COUNTED_STATUSES))
    ).all()
    per_quarter = Counter((e.advocate_id, e.quarter) for e in engagements)
    for (advocate_id, _quarter), used in per_quarter.items():
        assert used <= db.session.get(Advocate, advocate_id).quarterly_limit


def test_requests_follow_their_state(demo, app_context):
    now = utcnow()
    for request in db.session.scalars(select(ReferenceRequest)):
        kinds = [e.kind for e in request.events]
        asks = {a.status for a in request.asks}
        engagement = db.session.scalar(select(Engagement).where(Engagement.request_id == request.id))
        assert kinds[0] == "submitted"
        assert [e.at for e in request.events] == sorted(e.at for e in request.events)
        assert request.requested_by.role == Role.SALES
        assert request.use_cases and request.topics and request.needed_by
        match request.status:
            case RequestStatus.NEW:
                assert kinds == ["submitted"] and not asks and engagement is None
            case RequestStatus.ASKING:
                assert AskStatus.PENDING in asks and "asked" in kinds and engagement is None
            case RequestStatus.MATCHED:
                assert engagement.status == EngagementStatus.AWAITING_BOOKING
                assert engagement.quarter == quarter_of(engagement.ask.responded_at)
                assert "accepted" in kinds and request.matched_at
            case RequestStatus.SCHEDULED:
                assert engagement.status == EngagementStatus.BOOKED and engagement.starts_at > now
                assert kinds[-1] == "booked" and request.scheduled_at
                assert engagement.starts_at.date() <= request.needed_by
            case RequestStatus.COMPLETED:
                assert engagement.status == EngagementStatus.COMPLETED and request.completed_at
                assert "completed" in kinds
                assert {f.side.value for f in engagement.feedback} == {"prospect", "advocate"}
            case RequestStatus.CANCELLED:
                assert engagement.status == EngagementStatus.CANCELLED and request.cancelled_at
                assert kinds[-1] == "cancelled"
        if request.outcome != RequestOutcome.OPEN:
            assert kinds[-1] == "outcome" and request.outcome_at <= now
    written = db.session.scalars(
        select(ReferenceRequest).where(ReferenceRequest.format_code == "written")
    ).all()
    assert any(r.questions for r in written)


def test_asks_carry_their_explanation(demo, app_context):
    now = utcnow()
    for ask in db.session.scalars(select(Ask)):
        assert ask.expires_at - ask.created_at == timedelta(hours=48)
        assert ask.explanation and sum(r["points"] for r in ask.explanation) == ask.score
        assert all(set(r) == {"label", "points"} for r in ask.explanation)
        if ask.status == AskStatus.PENDING:
            assert ask.expires_at > now and ask.responded_at is None
        else:
            assert ask.responded_at is not None
        assert ask.advocate.status == AdvocateStatus.ACTIVE


def test_points_perks_and_redemptions(demo, app_context):
    completed_calls = db.session.scalars(
        select(Engagement).where(
            Engagement.status == EngagementStatus.COMPLETED, Engagement.starts_at.is_not(None)
        )
    ).all()
    for call in completed_calls:
        entries = db.session.scalars(
            select(PointsEntry).where(
                PointsEntry.source_type == "engagement", PointsEntry.source_id == call.id
            )
        ).all()
        deltas = sorted(e.delta for e in entries)
        prospect = next(f for f in call.feedback if f.side.value == "prospect")
        assert deltas == ([20, 100] if prospect.rating >= 4 else [100])
    kinds = Counter(p.kind for p in db.session.scalars(select(Perk)))
    assert kinds[PerkKind.REDEEMABLE] >= 3 and kinds[PerkKind.BENEFIT] >= 3
    for perk in db.session.scalars(select(Perk)):
        assert (perk.points_cost is None) == (perk.kind == PerkKind.BENEFIT)
    redemptions = db.session.scalars(select(Redemption)).all()
    assert 1 <= len(redemptions) <= 3
    for redemption in redemptions:
        balance = db.session.scalar(
            select(func.sum(PointsEntry.delta)).where(PointsEntry.advocate_id == redemption.advocate_id)
        )
        assert balance >= 0


def test_points_follow_the_configuration(app, monkeypatch, app_context):
    values = {"POINTS_CALL_COMPLETED": 111, "POINTS_WRITTEN_REFERENCE": 66, "POINTS_GOOD_FEEDBACK": 22,
              "POINTS_CASE_STUDY_OR_EVENT": 155}
    for key, value in values.items():
        monkeypatch.setitem(app.config, key, value)
    load_demo()
    deltas: dict[str, set[int]] = {}
    for reason, delta in db.session.execute(select(PointsEntry.reason, PointsEntry.delta)):
        deltas.setdefault(str(reason), set()).add(delta)
    assert deltas["call_completed"] == {111}
    assert deltas["written_reference"] == {66}
    assert deltas["prospect_feedback"] == {22}
    assert deltas["case_study"] == deltas["event"] == {155}


def test_the_timeline_keeps_ids_and_codes_never_names_or_notes(demo, app_context):
    names = set(db.session.scalars(select(Account.name))) | set(db.session.scalars(select(Company.name)))
    notes = {data.DECLINE_NOTE, data.CANCEL_REASON}
    events = db.session.scalars(select(RequestEvent)).all()
    assert events
    for event in events:
        assert set(event.detail) <= TIMELINE_DETAIL, (event.kind, event.detail)
        stored = " ".join(str(value) for value in event.detail.values())
        assert not any(name in stored for name in names | notes), (event.kind, event.detail)
        if "reason" in event.detail:
            assert event.detail["reason"] in REASON_TEXT
        ask = db.session.get(Ask, event.detail["ask_id"]) if "ask_id" in event.detail else None
        if ask is not None:
            assert ask.advocate_id == event.detail["advocate_id"] and ask.request_id == event.request_id

    # Names are looked up when a line is shown.
    asked = next(e for e in events if e.kind == "asked")
    coordinator = db.session.scalar(select(Account).where(Account.role == Role.COORDINATOR))
    view = view_request(request_for(coordinator, asked.request_id), coordinator, None)
    advocate = db.session.get(Advocate, asked.detail["advocate_id"])
    assert f"Asked {advocate.account.name} (match score {asked.detail['score']})" in [
        line.text for line in view.timeline]


# -- idempotent and deterministic ---------------------------------------------------------------


def test_second_run_changes_nothing(runner, app_context):
    first = load(runner)
    before = row_counts()
    second = load(runner)
    db.session.expire_all()
    assert row_counts() == before
    assert "already loaded" in second
    assert "Loaded the demo program" in first
    headline = first.index("Loaded the demo program")
    assert first[headline:].splitlines()[1:] == second[second.index("The demo program"):].splitlines()[1:]
    assert db.session.get(Setting, DEMO_SETTING) is not None


def test_progress_adds_up_to_100_on_every_run(app_context):
    for _run in range(2):
        steps: list[int] = []
        load_demo(on_progress=steps.append)
        assert sum(steps) == 100 and all(step > 0 for step in steps)


def test_same_data_every_time(app_context):
    def snapshot():
        return [
            (a.account.email, a.account.timezone, a.tier and a.tier.name, a.quarterly_cap,
             sorted(t.topic.name for t in a.topics), [(w.weekday, w.starts) for w in a.windows],
             a.company.health_score, a.success_metrics)
            for a in demo_advocates()
        ]

    load_demo()
    first = snapshot()
    db.session.remove()
    clean_database()
    load_demo()
    assert snapshot() == first


def test_refuses_to_load_over_clashing_names(runner, make_account, app_context):
    make_account(role="admin", email="admin@vouch.example")
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 1
    assert "Error:" in result.output and "admin@vouch.example" in result.output
    assert "Traceback" not in result.output
    db.session.expire_all()
    assert count(Company) == 0 and count(Advocate) == 0
    assert db.session.get(Setting, DEMO_SETTING) is None


# -- usable: the demo accounts sign in ----------------------------------------------------------


@pytest.mark.parametrize("role", list(SIGN_IN_WITH))
def test_demo_account_signs_in(role, demo, app, sign_in):
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == SIGN_IN_WITH[role]))
        db.session.expunge(account)
    http = app.test_client()
    response = sign_in(account, http=http, by_email=True)
    if role == "admin":  # the demo admin sets up an authenticator app at the first sign-in
        assert "Your recovery codes" in response.get_data(as_text=True)
        home = "/admin/"
    else:
        home = response.headers["Location"]
    assert home == ("/portal" if role == "advocate" else "/admin/")
    page = http.get(home).get_data(as_text=True)
    assert f"Hello, {account.name}" in page
    if role == "advocate":
        assert "Northwind Logistics" in page and "Premier tier" in page


# -- where it sits: demo → workflows → models ---------------------------------------------------

ROOT = Path(__file__).parent.parent


def imported(path: Path) -> set[str]:
    """The top-level names of the modules ``path`` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_command_line_imports_the_demo():
    sources = [*ROOT.glob("*.py"), *(path for package in ("workflows", "models", "mail", "matching",
                                                           "portal", "admin")
                                     for path in (ROOT / package).rglob("*.py"))]
    importers = {path.relative_to(ROOT).as_posix() for path in sources if "demo" in imported(path)}
    assert importers == {"admin/cli.py"}


def test_the_demo_imports_no_view():
    for path in (ROOT / "demo").rglob("*.py"):
        assert not imported(path) & {"admin", "portal", "app", "pages", "access"}, path
