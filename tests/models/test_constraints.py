"""The database itself refuses what the model forbids (DESIGN.md §4 "Invariants"), whatever
code writes to it: each test shows the valid neighbour accepted and the invalid row refused."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import (
    Account,
    Engagement,
    EngagementStatus,
    Feedback,
    FeedbackSide,
    Perk,
    PerkKind,
    Role,
    Tier,
    WeeklyWindow,
    db,
    quarter_of,
)

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="exclusion constraints exist on PostgreSQL only (btree_gist)"
)
NINE_AM = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# How each database names the unique index on an advocate's booked start times.
SAME_SLOT = ("uq_engagements_advocate_slot", "engagements.advocate_id, engagements.starts_at")
OVERLAP = "ex_engagements_no_overlap"


def accepted(*rows) -> None:
    db.session.add_all(rows)
    db.session.commit()


def refused(*rows, by: str | tuple[str, ...]) -> None:
    """Writing ``rows`` fails in the database, with an error naming the constraint ``by``."""
    names = (by,) if isinstance(by, str) else by
    db.session.add_all(rows)
    with pytest.raises(IntegrityError) as caught:
        db.session.flush()
    db.session.rollback()
    message = str(caught.value.orig)
    assert any(name in message for name in names), message


def account(email: str) -> Account:
    return Account(email=email, name="Dana Example", role=Role.ADVOCATE)


def call(advocate_id: int, starts_at: datetime | None, minutes: int | None = 45,
         status: EngagementStatus = EngagementStatus.BOOKED) -> Engagement:
    return Engagement(
        advocate_id=advocate_id,
        format_code="call",
        status=status,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes) if starts_at and minutes else None,
        quarter=quarter_of(starts_at or NINE_AM),
    )


@pytest.fixture()
def advocate_id(app_context, make_advocate) -> int:
    return make_advocate().id


def test_an_email_address_is_used_by_one_account_only(app_context):
    accepted(account("dana@example.com"))

    refused(account("dana@example.com"), by=("uq_accounts_email", "accounts.email"))


def test_an_email_address_is_stored_case_folded(app_context):
    refused(account("Dana@Example.com"), by="ck_accounts_email_casefolded")


def test_a_slot_of_an_advocate_is_booked_once(advocate_id):
    accepted(call(advocate_id, NINE_AM), call(advocate_id, NINE_AM, status=EngagementStatus.CANCELLED))

    refused(call(advocate_id, NINE_AM), by=(*SAME_SLOT, OVERLAP))


def test_two_advocates_may_be_booked_at_the_same_time(advocate_id, make_advocate):
    accepted(call(advocate_id, NINE_AM), call(make_advocate().id, NINE_AM))


@postgres_only
def test_calls_of_an_advocate_that_overlap_are_refused_whatever_their_start(advocate_id):
    accepted(
        call(advocate_id, NINE_AM, minutes=60),
        call(advocate_id, NINE_AM + timedelta(minutes=60)),  # back to back
        call(advocate_id, NINE_AM + timedelta(minutes=30), status=EngagementStatus.CANCELLED),
    )

    refused(call(advocate_id, NINE_AM + timedelta(minutes=30)), by=OVERLAP)
    refused(call(advocate_id, NINE_AM - timedelta(minutes=30), minutes=120), by=OVERLAP)


@postgres_only
def test_a_completed_written_reference_has_no_time_and_blocks_no_call(advocate_id):
    written = Engagement(advocate_id=advocate_id, format_code="written",
                         status=EngagementStatus.COMPLETED, quarter=quarter_of(NINE_AM))
    accepted(written)

    accepted(call(advocate_id, NINE_AM), call(advocate_id, NINE_AM + timedelta(hours=2)))


def test_a_call_with_a_start_has_an_end(advocate_id):
    refused(call(advocate_id, NINE_AM, minutes=None), by="ck_engagements_times_ordered")


def test_a_call_ends_after_it_starts(advocate_id):
    refused(call(advocate_id, NINE_AM, minutes=-30), by="ck_engagements_times_ordered")


def test_feedback_is_rated_from_1_to_5(advocate_id):
    engagement = call(advocate_id, NINE_AM, status=EngagementStatus.COMPLETED)
    accepted(engagement, Feedback(engagement=engagement, side=FeedbackSide.PROSPECT, rating=5))

    refused(
        Feedback(engagement_id=engagement.id, side=FeedbackSide.ADVOCATE, rating=6),
        by="ck_feedback_rating_range",
    )
    refused(
        Feedback(engagement_id=engagement.id, side=FeedbackSide.ADVOCATE, rating=0),
        by="ck_feedback_rating_range",
    )


def test_a_weekly_window_ends_after_it_starts(advocate_id):
    accepted(WeeklyWindow(advocate_id=advocate_id, weekday=0, starts=time(9), ends=time(12)))

    refused(
        WeeklyWindow(advocate_id=advocate_id, weekday=1, starts=time(12), ends=time(9)),
        by="ck_weekly_windows_ends_after_start",
    )


def perk(kind: PerkKind, points_cost: int | None) -> Perk:
    tier_id = db.session.scalar(select(Tier.id).where(Tier.name == "Active"))
    return Perk(name="Conference pass", min_tier_id=tier_id, kind=kind, points_cost=points_cost)


def test_a_perk_has_a_positive_cost_exactly_when_it_is_redeemable(app_context):
    accepted(perk(PerkKind.REDEEMABLE, 500), perk(PerkKind.BENEFIT, None))

    refused(perk(PerkKind.REDEEMABLE, 0), by="ck_perks_cost_matches_kind")
    refused(perk(PerkKind.BENEFIT, 500), by="ck_perks_cost_matches_kind")


def test_a_redeemable_perk_without_a_cost_is_refused(app_context):
    refused(perk(PerkKind.REDEEMABLE, None), by="ck_perks_cost_matches_kind")
