"""The quota rule (DESIGN.md §5): what counts in a quarter, the limit, and the place claimed under
the advocate's row lock, also when 20 acceptances race for the last place."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import Advocate, Ask, AskStatus, Engagement, EngagementStatus, db
from models.types import utcnow
from workflows import quota
from workflows.requests import accept_ask

TIMEOUT = 60


def fresh(advocate_id: int) -> Advocate:
    return db.session.get(Advocate, advocate_id)


def this_quarter(hours: int) -> datetime:
    """A moment ``hours`` into the current quarter (never in the next one, whatever today is)."""
    now = utcnow()
    start = datetime(now.year, 3 * ((now.month - 1) // 3) + 1, 1, tzinfo=UTC)
    return start + timedelta(hours=hours)


# --- usage: what counts ------------------------------------------------------------------------


def test_awaiting_booked_and_completed_engagements_count_cancelled_and_no_shows_do_not(
    app_context, make_advocate, make_engagement
):
    advocate = make_advocate(tier="Active")
    for hours, status in enumerate(("awaiting_booking", "booked", "completed", "cancelled", "no_show")):
        make_engagement(advocate, status=status, starts_at=None if hours == 0 else this_quarter(hours))

    assert quota.usage(advocate.id, quota.current_quarter()) == 3


def test_a_cancelled_engagement_gives_its_place_back(app_context, make_advocate, make_engagement):
    advocate = make_advocate(tier="Occasional")  # quota 2
    first = make_engagement(advocate, status="booked", starts_at=this_quarter(1))
    make_engagement(advocate, status="awaiting_booking")
    assert quota.quarter_use(fresh(advocate.id)).left == 0

    db.session.get(Engagement, first.id).status = EngagementStatus.CANCELLED
    db.session.commit()

    use = quota.quarter_use(fresh(advocate.id))
    assert (use.used, use.limit, use.left) == (1, 2, 1)


def test_engagements_of_other_quarters_do_not_count(app_context, make_advocate, make_engagement):
    advocate = make_advocate(tier="Active")
    make_engagement(advocate, status="completed", starts_at=datetime(2025, 2, 10, 15, tzinfo=UTC))
    make_engagement(advocate, status="completed", starts_at=datetime(2025, 4, 1, 0, 0, tzinfo=UTC))

    assert quota.usage(advocate.id, "2025Q1") == 1
    assert quota.usage(advocate.id, "2025Q2") == 1
    assert quota.usage(advocate.id, quota.current_quarter()) == 0


def test_only_the_advocates_own_engagements_count(app_context, make_advocate, make_engagement):
    advocate, other = make_advocate(), make_advocate()
    make_engagement(other, status="booked", starts_at=this_quarter(1))

    assert quota.usage(advocate.id, quota.current_quarter()) == 0


def test_the_quarter_is_the_calendar_quarter_in_utc():
    assert quota.current_quarter(datetime(2026, 3, 31, 23, 59, tzinfo=UTC)) == "2026Q1"
    assert quota.current_quarter(datetime(2026, 4, 1, 0, 0, tzinfo=UTC)) == "2026Q2"
    assert quota.QuarterUse("2026Q4", 1, 3).label == "Q4 2026"


# --- limit: min(tier quota, personal cap) ------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "cap", "limit"),
    [
        ("Premier", None, 6),
        ("Active", None, 4),
        ("Occasional", None, 2),
        ("Active", 2, 2),  # a personal cap below the quota wins
        ("Active", 0, 0),
        ("Occasional", 5, 2),  # a cap above the quota does not raise it
        (None, None, 0),  # no tier, no calls
    ],
)
def test_the_limit_is_the_lower_of_tier_quota_and_personal_cap(app_context, make_advocate, tier, cap, limit):
    advocate = make_advocate(tier=tier, quarterly_cap=cap)
    assert fresh(advocate.id).quarterly_limit == limit


def test_left_never_goes_below_zero():
    use = quota.QuarterUse("2026Q2", used=3, limit=2)
    assert (use.left, use.full) == (0, True)


# --- claim_place: the check under the lock -----------------------------------------------------


def test_claim_place_returns_the_locked_advocate_when_a_place_is_left(
    app_context, make_advocate, make_engagement
):
    advocate = make_advocate(tier="Occasional")
    make_engagement(advocate, status="booked", starts_at=this_quarter(1))

    locked = quota.claim_place(advocate.id, quota.current_quarter())
    assert locked.id == advocate.id
    db.session.rollback()


def test_claim_place_refuses_a_full_quarter_with_a_clear_message(app_context, make_advocate, make_engagement):
    advocate = make_advocate(tier="Occasional")
    make_engagement(advocate, status="booked", starts_at=this_quarter(1))
    make_engagement(advocate, status="awaiting_booking")
    quarter = quota.current_quarter()

    with pytest.raises(quota.QuotaExceeded) as refused:
        quota.claim_place(advocate.id, quarter)
    db.session.rollback()

    label = quota.QuarterUse(quarter, 2, 2).label
    assert str(refused.value) == (
        f"You have already used all 2 of your calls for {label} (2 counted). Nothing was changed."
    )
    assert refused.value.use == quota.QuarterUse(quarter, 2, 2)


def test_a_full_quarter_under_a_personal_cap_says_the_cap_can_be_raised(
    app_context, make_advocate, make_engagement
):
    advocate = make_advocate(tier="Active", quarterly_cap=1)
    make_engagement(advocate, status="booked", starts_at=this_quarter(1))

    with pytest.raises(quota.QuotaExceeded, match="raise your personal limit on your availability page"):
        quota.claim_place(advocate.id, quota.current_quarter())
    db.session.rollback()


def test_a_limit_of_zero_says_so(app_context, make_advocate):
    advocate = make_advocate(tier="Active", quarterly_cap=0)

    with pytest.raises(quota.QuotaExceeded, match="your limit for the quarter is 0"):
        quota.claim_place(advocate.id, quota.current_quarter())
    db.session.rollback()


def test_claim_place_for_an_unknown_advocate(app_context):
    with pytest.raises(quota.AdvocateNotFound):
        quota.claim_place(999_999, "2026Q1")
    db.session.rollback()


# --- 20 acceptances racing for the last place --------------------------------------------------


def test_twenty_concurrent_acceptances_for_the_last_place_let_exactly_one_through(
    app, make_advocate, make_ask, make_engagement
):
    advocate = make_advocate(tier="Occasional")  # quota 2 ...
    make_engagement(advocate, status="booked", starts_at=this_quarter(1))  # ... one used: one place left
    asks = [make_ask(advocate) for _ in range(20)]  # 20 different requests
    barrier = threading.Barrier(len(asks), timeout=TIMEOUT)
    results: dict[int, object] = {}

    def accept(ask_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                results[ask_id] = accept_ask(ask_id, advocate.id).id
            except BaseException as error:  # handed to the test's thread below
                results[ask_id] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept, args=(a.id,), daemon=True) for a in asks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "an acceptance still runs: a lock was never released"

    accepted = [ask_id for ask_id, result in results.items() if isinstance(result, int)]
    refused = [result for result in results.values() if isinstance(result, quota.QuotaExceeded)]
    others = [result for result in results.values() if not isinstance(result, int | quota.QuotaExceeded)]
    assert others == []
    assert (len(accepted), len(refused)) == (1, 19)

    with app.app_context():
        engagements = db.session.scalars(
            select(Engagement).where(Engagement.advocate_id == advocate.id)
        ).all()
        assert len(engagements) == 2  # the one there before, and exactly one new
        [new] = [e for e in engagements if e.ask_id is not None]
        assert new.ask_id == accepted[0]
        statuses = db.session.execute(
            select(Ask.status, func.count()).where(Ask.advocate_id == advocate.id).group_by(Ask.status)
        ).all()
        assert dict(statuses) == {AskStatus.ACCEPTED: 1, AskStatus.PENDING: 19}
        assert quota.quarter_use(fresh(advocate.id)).used == 2
        db.session.remove()
