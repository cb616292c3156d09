"""Tiers that are earned (``workflows.tiers``): the nightly job of ``flask jobs run`` suggests a
promotion or a demotion from each active advocate's points over the last 12 months, once a day
and once per advocate; a coordinator approves or dismisses it, or the setting makes it
automatic; the change e-mails the advocate the new tier's benefits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from models import (
    Account,
    Advocate,
    AuditEvent,
    PointsEntry,
    Role,
    Tier,
    TierSuggestion,
    TierSuggestionStatus,
    db,
)
from models.types import utcnow
from tests.conftest import text_body
from workflows import jobs, settings, tiers

YEAR = timedelta(days=365)


@pytest.fixture()
def cora(make_account):
    return make_account(role=Role.COORDINATOR, name="Cora Ordinator")


def earn(app, advocate_id: int, delta: int, *, at: datetime | None = None) -> None:
    with app.app_context():
        db.session.add(PointsEntry(advocate_id=advocate_id, delta=delta, reason="case_study",
                                   created_at=at or utcnow()))
        db.session.commit()
        db.session.remove()


def suggestions(app) -> list[tuple[int, str | None, str, int, str]]:
    """(advocate, from, to, points, status) of every suggestion, oldest first."""
    with app.app_context():
        rows = [(s.advocate_id, s.from_tier.name if s.from_tier else None, s.to_tier.name, s.points,
                 s.status.value)
                for s in db.session.scalars(select(TierSuggestion).order_by(TierSuggestion.id))]
        db.session.remove()
    return rows


def run(app, now: datetime | None = None) -> int:
    with app.app_context():
        made = jobs.run_due(now=now)["tier_suggestions"]
        db.session.remove()
    return made


def next_day(app) -> None:
    """Forget that the job ran today, as tomorrow will."""
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.kind == "tiers.suggested"))
        db.session.commit()
        db.session.remove()


def tier_of(app, advocate_id: int) -> str | None:
    with app.app_context():
        tier = db.session.get(Advocate, advocate_id).tier
        name = tier.name if tier else None
        db.session.remove()
    return name


def tier_mail(smtp, address: str) -> list:
    """The tier e-mails to ``address`` (the other jobs of the run may nudge the advocate too)."""
    return [m for m in smtp.wait_for(address) if "tier" in m["Subject"]]


def test_the_job_runs_twice_and_makes_one_suggestion(app, runner, make_advocate):
    dana = make_advocate(name="Dana Example", tier="Active")
    earn(app, dana.id, 1200)

    first = runner.invoke(args=["jobs", "run"])
    again = runner.invoke(args=["jobs", "run"])

    assert first.exit_code == 0 and "suggested 1 tier change" in first.output
    assert "suggested 0 tier changes" in again.output
    assert suggestions(app) == [(dana.id, "Active", "Premier", 1200, "pending")]
    next_day(app)  # the day's mark gone: the pending suggestion still stands alone
    assert run(app) == 0
    assert len(suggestions(app)) == 1
    assert tier_of(app, dana.id) == "Active"  # nothing changes before a coordinator approves


def test_only_points_of_the_last_12_months_count_and_only_active_advocates(app, make_advocate):
    dana = make_advocate(tier="Occasional")
    earn(app, dana.id, 900, at=utcnow() - YEAR - timedelta(days=1))
    earn(app, dana.id, 300)
    earn(app, dana.id, -250)  # a redemption spends, it does not un-earn
    paul = make_advocate(tier="Occasional", status="paused")
    earn(app, paul.id, 2000)

    assert run(app) == 0
    next_day(app)
    earn(app, dana.id, 100)
    assert run(app) == 1
    assert suggestions(app) == [(dana.id, "Occasional", "Active", 400, "pending")]


def test_a_different_suggestion_supersedes_the_pending_one(app, make_advocate):
    dana = make_advocate(tier="Occasional")
    earn(app, dana.id, 450)
    assert run(app) == 1
    next_day(app)
    earn(app, dana.id, 600)
    assert run(app) == 1
    assert [row[2:] for row in suggestions(app)] == [("Active", 450, "superseded"),
                                                     ("Premier", 1050, "pending")]


def test_a_demotion_waits_a_whole_year_in_the_program_and_the_tier(app, cora, make_advocate):
    newcomer = make_advocate(tier="Premier")  # joined this year (the factory's consent)
    veteran = make_advocate(tier="Premier")
    moved = make_advocate(tier="Active")
    with app.app_context():
        for joined_long_ago in (veteran.id, moved.id):
            db.session.get(Advocate, joined_long_ago).consent_at = datetime(2024, 1, 1, tzinfo=UTC)
        db.session.commit()
        premier = db.session.scalar(select(Tier.id).where(Tier.name == "Premier"))
        tiers.change_tier(moved.id, premier, by=db.session.get(Account, cora.id))
        db.session.remove()

    assert run(app) == 1
    assert suggestions(app) == [(veteran.id, "Premier", "Occasional", 0, "pending")]
    assert {tier_of(app, newcomer.id), tier_of(app, moved.id)} == {"Premier"}


def test_a_dismissed_suggestion_comes_back_only_with_more_points(app, cora, make_advocate):
    dana = make_advocate(tier="Active")
    earn(app, dana.id, 1000)
    run(app)
    with app.app_context():
        suggestion_id = db.session.scalar(select(TierSuggestion.id))
        tiers.dismiss(suggestion_id, by=db.session.get(Account, cora.id))
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.kind == "advocate.tier_suggestion_dismissed")) == 1
        db.session.remove()
    next_day(app)
    assert run(app) == 0
    next_day(app)
    earn(app, dana.id, 100)
    assert run(app) == 1
    assert [row[3:] for row in suggestions(app)] == [(1000, "dismissed"), (1100, "pending")]


def test_approving_changes_the_tier_and_e_mails_the_benefits(app, cora, make_advocate, smtp, deliver):
    dana = make_advocate(name="Dana Example", email="dana@example.com", tier="Active", quarterly_cap=4)
    earn(app, dana.id, 1000)
    run(app)
    with app.app_context():
        suggestion_id = db.session.scalar(select(TierSuggestion.id))
        by = db.session.get(Account, cora.id)
        change = tiers.approve(suggestion_id, by=by)
        assert change.after.name == "Premier" and change.promoted
        suggestion = db.session.get(TierSuggestion, suggestion_id)
        assert (suggestion.status, suggestion.decided_by_id) == (TierSuggestionStatus.APPROVED, cora.id)
        with pytest.raises(tiers.SuggestionDecided, match="approved already"):
            tiers.approve(suggestion_id, by=by)
        with pytest.raises(tiers.TierNotFound):
            tiers.approve(999_999, by=by)
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "advocate.tier_changed")).one()
        assert event.detail["suggestion_id"] == suggestion_id and event.actor_id == cora.id
        benefits = db.session.scalar(select(Tier.benefits).where(Tier.name == "Premier"))
        db.session.remove()
    assert tier_of(app, dana.id) == "Premier"
    deliver()
    [mail] = tier_mail(smtp, "dana@example.com")
    assert mail["Subject"] == "You are now in the Premier tier"
    assert all(benefit in text_body(mail) for benefit in benefits)


def test_a_suggestion_whose_advocate_changed_tier_meanwhile_is_skipped(app, cora, make_advocate):
    dana = make_advocate(name="Dana Example", tier="Active")
    eve = make_advocate(name="Eve Example", tier="Active")
    earn(app, dana.id, 1000)
    earn(app, eve.id, 1000)
    run(app)
    with app.app_context():
        by = db.session.get(Account, cora.id)
        ids = list(db.session.scalars(select(TierSuggestion.id).order_by(TierSuggestion.id)))
        occasional = db.session.scalar(select(Tier.id).where(Tier.name == "Occasional"))
        tiers.change_tier(eve.id, occasional, by=by)  # supersedes Eve's suggestion
        done = tiers.decide(ids, approve=True, by=by)
        assert done.approved == ["Dana Example"]
        assert done.skipped == [("Eve Example", "This suggestion for Eve Example was superseded already.")]
        db.session.remove()
    assert (tier_of(app, dana.id), tier_of(app, eve.id)) == ("Premier", "Occasional")


def test_the_setting_makes_tier_changes_automatic(app, cora, make_advocate, smtp, deliver):
    dana = make_advocate(email="dana@example.com", tier="Occasional")
    earn(app, dana.id, 450)
    with app.app_context():
        settings.update({"TIER_CHANGES_AUTOMATIC": True}, by=db.session.get(Account, cora.id))
        db.session.remove()
    assert run(app) == 1
    assert suggestions(app) == [(dana.id, "Occasional", "Active", 450, "approved")]
    assert tier_of(app, dana.id) == "Active"
    deliver()
    assert [m["Subject"] for m in tier_mail(smtp, "dana@example.com")] == ["You are now in the Active tier"]


def test_the_job_reads_the_pool_in_a_fixed_number_of_queries(app, make_advocate, count_queries):
    def measure() -> int:
        next_day(app)
        with count_queries() as queries, app.app_context():
            assert tiers.suggest_tiers() == 0
            db.session.remove()
        return len(queries)

    for _ in range(3):
        earn(app, make_advocate(tier="Occasional").id, 10)
    few = measure()
    for _ in range(20):
        earn(app, make_advocate(tier="Occasional").id, 10)
    assert measure() == few


def test_a_suggestion_pending_when_the_setting_is_turned_on_applies_at_the_next_run(app, cora, make_advocate):
    dana = make_advocate(tier="Occasional")
    earn(app, dana.id, 450)
    assert run(app) == 1
    with app.app_context():
        settings.update({"TIER_CHANGES_AUTOMATIC": True}, by=db.session.get(Account, cora.id))
        db.session.remove()
    next_day(app)
    assert run(app) == 1
    assert suggestions(app) == [(dana.id, "Occasional", "Active", 450, "approved")]
    assert tier_of(app, dana.id) == "Active"
