"""The advocate's home page: pending asks (never the prospect's identity), upcoming calls in the
advocate's zone, this quarter's calls used and left, tier and points, the profile-review nudge."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import Advocate, PointsEntry, RequestStatus, db
from models.types import utcnow
from tests.helpers import text
from workflows import quota

PROSPECT = {"prospect_company": "Zephyr Hospitals AG", "contact_name": "Quentin Quaile",
            "contact_email": "quentin@zephyr-hospitals.example"}


@pytest.fixture()
def advocate(make_advocate, sign_in):
    """An Active-tier advocate (4 calls a quarter) in New York, signed in on ``client``."""
    advocate = make_advocate(name="Dana Whitfield", timezone="America/New_York",
                             last_reviewed_at=utcnow() - timedelta(days=10))
    sign_in(advocate.account)
    return advocate


def page(client) -> str:
    response = client.get("/portal")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def update(app, advocate_id: int, **values) -> None:
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        for name, value in values.items():
            setattr(advocate, name, value)
        db.session.commit()


# --- asks --------------------------------------------------------------------------------------


def test_a_pending_ask_shows_what_the_prospect_needs_and_why_but_not_who_they_are(
    client, advocate, make_request, make_ask
):
    request = make_request(format="video", industry="Financial Services", region="North America",
                           employees=2500, topics=["Security", "Compliance"],
                           use_cases=["Fraud detection"], status=RequestStatus.ASKING, **PROSPECT)
    ask = make_ask(advocate, request=request,
                   explanation=[{"label": "Replaced Initech Cloud", "points": 10}])

    html = page(client)

    words = text(html)
    assert "Asked of you now (1)" in words
    assert "Video call with a prospect in Financial Services" in words
    assert "1001–5000 employees" in words
    assert "North America" in words
    assert "Security, Compliance" in words
    assert "Fraud detection" in words
    assert f"Needed by {request.needed_by:%d %B %Y}" in words
    assert "Replaced Initech Cloud +10" in words
    assert f'href="/portal/asks/{ask.id}"' in html
    for secret in PROSPECT.values():
        assert secret not in html
    assert "Zephyr" not in html and "Quaile" not in html


def test_only_the_advocates_own_pending_unexpired_asks_are_shown(
    client, advocate, make_advocate, make_ask
):
    mine = make_ask(advocate)
    make_ask(advocate, expires_at=utcnow() - timedelta(minutes=5))  # past its time
    for status in ("accepted", "declined", "expired", "withdrawn"):
        make_ask(advocate, status=status)
    theirs = make_ask(make_advocate())

    html = page(client)

    assert re.findall(r'id="ask-(\d+)"', html) == [str(mine.id)]
    assert f"/portal/asks/{theirs.id}" not in html


def test_asks_due_soonest_come_first_with_their_answer_by_time_in_the_advocates_zone(
    client, advocate, make_ask
):
    later = make_ask(advocate, expires_at=datetime(2099, 1, 10, 17, 0, tzinfo=UTC))
    sooner = make_ask(advocate, expires_at=datetime(2099, 1, 9, 17, 0, tzinfo=UTC))

    html = page(client)

    assert re.findall(r'id="ask-(\d+)"', html) == [str(sooner.id), str(later.id)]
    assert "Please answer by Fri 09 Jan 2099, 12:00" in html  # 17:00 UTC is noon in New York


# --- calls and engagements in progress ---------------------------------------------------------


def test_upcoming_calls_are_shown_in_the_advocates_own_zone(client, advocate, make_engagement):
    starts = (utcnow() + timedelta(days=5)).replace(minute=30, second=0, microsecond=0)
    make_engagement(advocate, status="booked", starts_at=starts, prospect_name="Luis Romero")
    make_engagement(advocate, status="booked", starts_at=utcnow() - timedelta(days=2))  # over
    make_engagement(advocate, status="cancelled", starts_at=utcnow() + timedelta(days=6))

    html = page(client)

    local = starts.astimezone(ZoneInfo("America/New_York"))
    assert f"{local:%a %d %b %Y, %H:%M}" in html
    assert "(America/New_York)" in html
    assert "Phone call with Luis Romero" in text(html)
    assert text(html).count("Phone call with") == 1


def test_an_upcoming_call_says_how_to_join_it(client, advocate, make_engagement):
    make_engagement(advocate, status="booked", join_url="https://meet.example/dana",
                    join_phone="+1 212 555 0100")
    make_engagement(advocate, status="booked", starts_at=utcnow() + timedelta(days=4), join_url="",
                    join_phone="")

    html = page(client)

    assert '<a href="https://meet.example/dana" rel="noopener noreferrer">Join the call</a>' in html
    assert "Phone: +1 212 555 0100" in text(html)
    assert text(html).count("Join the call") == 1 and text(html).count("Phone:") == 1


def test_accepted_engagements_waiting_for_a_booking_or_answers_are_listed(
    client, advocate, make_engagement, make_request
):
    make_engagement(advocate, status="awaiting_booking", prospect_name="Luis Romero")
    written = make_engagement(advocate, status="awaiting_booking", format="written",
                              request_id=make_request(format="written", questions=["Why?"]).id)

    html = page(client)

    assert "waiting for them to book a slot" in text(html)
    assert f'href="/portal/written/{written.id}"' in html
    assert "Answer the questions" in html


def test_empty_states_say_so_plainly(client, advocate):
    words = text(page(client))
    assert "Nothing is asked of you right now." in words
    assert "No calls booked." in words
    assert "Accepted, in progress" not in words


# --- quota, tier and points --------------------------------------------------------------------


def test_this_quarters_calls_used_and_left_follow_the_lower_of_quota_and_cap(
    app, client, advocate, make_engagement
):
    update(app, advocate.id, quarterly_cap=3)
    make_engagement(advocate, status="awaiting_booking")
    make_engagement(advocate, status="cancelled")  # gives its place back
    make_engagement(advocate, status="completed", starts_at=datetime(2020, 2, 1, tzinfo=UTC))  # old quarter

    words = text(page(client))

    label = quota.QuarterUse(quota.current_quarter(), 0, 0).label
    assert f"This quarter ({label})" in words
    assert "1 of 3 calls used · 2 left" in words
    assert "tier's quota (4) and your personal cap (3)" in words


def test_a_zero_limit_is_explained(app, client, advocate):
    update(app, advocate.id, quarterly_cap=0)
    assert "Your limit this quarter is 0 calls" in text(page(client))


def test_tier_points_and_progress_to_the_next_tier(app, client, advocate):
    with app.app_context():
        db.session.add_all([
            PointsEntry(advocate_id=advocate.id, delta=100, reason="call_completed"),
            PointsEntry(advocate_id=advocate.id, delta=60, reason="written_reference"),
            PointsEntry(advocate_id=advocate.id, delta=-50, reason="redemption"),
            PointsEntry(advocate_id=advocate.id, delta=100, reason="call_completed",
                        created_at=utcnow() - timedelta(days=400)),  # outside the 12 months
        ])
        db.session.commit()
        from workflows.points import tier_progress

        progress = tier_progress(db.session.get(Advocate, advocate.id))
        db.session.remove()

    html = page(client)

    words = text(html)
    assert "Active tier · 210 points to spend" in words
    assert (f"160 points earned in the last 12 months · {progress.points_to_next} more to reach "
            f"{progress.next_tier.name}.") in words
    assert f'<progress value="{progress.percent}" max="100"' in html


def test_the_top_tier_says_there_is_nothing_above(make_advocate, sign_in, client):
    premier = make_advocate(tier="Premier", last_reviewed_at=utcnow())
    sign_in(premier.account)
    assert "you are at the top tier" in text(page(client))


# --- the profile-review nudge ------------------------------------------------------------------


@pytest.mark.parametrize(
    "reviewed_days_ago, nudged",
    [(None, True), (91, True), (90, True), (89, False), (0, False)],
)
def test_a_profile_not_reviewed_for_90_days_gets_a_nudge(app, client, advocate, reviewed_days_ago, nudged):
    reviewed = None if reviewed_days_ago is None else utcnow() - timedelta(days=reviewed_days_ago)
    update(app, advocate.id, last_reviewed_at=reviewed)

    html = page(client)

    assert ('id="review-nudge"' in html) is nudged
    assert ('href="/portal/profile">Review your profile</a>' in html) is nudged


# --- the advocate's state --------------------------------------------------------------------


def test_a_snoozed_advocate_reads_until_when_and_can_end_it_early(app, client, advocate):
    until = (utcnow() + timedelta(days=9)).astimezone(ZoneInfo("America/New_York")).date()
    update(app, advocate.id, snoozed_until=until)

    html = page(client)
    words = text(html)
    assert f"You are snoozed until {until:%A %d %B %Y}" in words
    assert "We will e-mail you" not in words
    assert 'action="/portal/availability/snooze/clear"' in html

    from tests.helpers import post_form

    response = post_form(client, "/portal/availability/snooze/clear", follow=True)
    assert "Snooze cleared" in text(response.get_data(as_text=True))
    assert "You are snoozed" not in text(page(client))
    assert "We will e-mail you when a prospect would like to hear from you." in text(page(client))


def test_a_snooze_that_ended_yesterday_is_not_shown(app, client, advocate):
    update(app, advocate.id, snoozed_until=(utcnow() - timedelta(days=2)).date())
    assert 'id="state"' not in page(client)


def test_a_paused_advocate_is_told_nobody_asks_them(app, client, advocate):
    update(app, advocate.id, status="paused")
    words = text(page(client))
    assert "Your profile is paused: you are not asked for references" in words
    assert "We will e-mail you" not in words


def test_a_full_quarter_says_so_and_offers_the_limit(app, client, advocate, make_engagement):
    for _ in range(4):  # the Active tier's quota
        make_engagement(advocate, status="awaiting_booking")
    html = page(client)
    use = quota.QuarterUse(quota.current_quarter(), 4, 4)
    assert f"You have used all 4 of your calls for {use.label}" in text(html)
    assert 'href="/portal/availability#limits"' in html
    assert "We will e-mail you" not in text(html)


def test_an_advocate_who_can_be_asked_sees_no_state_note(client, advocate):
    assert 'id="state"' not in page(client)


def test_the_nudge_has_no_link_while_the_profile_page_does_not_exist(app, client, advocate, monkeypatch):
    update(app, advocate.id, last_reviewed_at=None)
    monkeypatch.delitem(app.view_functions, "portal.profile", raising=False)

    html = page(client)

    assert 'id="review-nudge"' in html
    assert "Review your profile</a>" not in html


# --- who sees what -----------------------------------------------------------------------------


def test_an_advocate_account_without_a_profile_gets_a_friendly_page(client, make_account, sign_in):
    account = make_account(role="advocate", name="Newly Invited")
    sign_in(account)

    words = text(page(client))

    assert "Hello, Newly Invited" in words
    assert "Your reference profile is not set up yet" in words


# --- bounded queries ---------------------------------------------------------------------------


def test_the_home_page_issues_the_same_number_of_queries_whatever_the_data(
    app, client, advocate, make_ask, make_engagement, make_request, count_queries
):
    soon = (utcnow() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)

    def fill(first: int, count: int) -> None:
        for n in range(first, first + count):
            request = make_request(topics=["Security", "ROI"], use_cases=[f"Use case {n}"])
            make_ask(advocate, request=request)
            make_engagement(advocate, status="booked", starts_at=soon + timedelta(hours=n))
            make_engagement(advocate, status="awaiting_booking", format="written",
                            request_id=make_request(format="written").id)
        with app.app_context():
            db.session.add(PointsEntry(advocate_id=advocate.id, delta=10, reason="call_completed"))
            db.session.commit()

    def measure() -> int:
        with count_queries() as queries:
            page(client)
        return len(queries)

    fill(0, 1)
    with_one = measure()
    fill(1, 14)
    html = page(client)
    assert len(re.findall(r'id="ask-\d+"', html)) == 15
    with_fifteen = measure()
    assert with_one == with_fifteen
    assert with_fifteen <= 8  # account, profile with its use, engagements, asks and their tags, ledger, tiers
