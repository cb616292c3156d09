"""The advocate's history page: past engagements with the feedback shared with them (and never
the prospect's contact details), and the points ledger with its running balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import Engagement, Feedback, FeedbackSide, PointsEntry, PointsReason, db
from models.types import utcnow
from portal import history as page_module

PAGE = "/portal/history"


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture()
def advocate(make_advocate, sign_in):
    """An advocate in New York, signed in on ``client``."""
    advocate = make_advocate(timezone="America/New_York")
    sign_in(advocate.account)
    return advocate


def add_feedback(app, engagement_id: int, side: str, rating: int, comment: str, shared: bool = True) -> None:
    with app.app_context():
        db.session.add(Feedback(
            engagement_id=engagement_id, side=FeedbackSide(side), rating=rating, comment=comment,
            shared_with_advocate=shared,
        ))
        db.session.commit()
        db.session.remove()


def add_points(app, advocate_id: int, *entries: tuple[int, str, str, datetime]) -> list[int]:
    """``(delta, reason, note, at)`` rows of the ledger."""
    with app.app_context():
        rows = [
            PointsEntry(advocate_id=advocate_id, delta=delta, reason=reason, note=note, created_at=at)
            for delta, reason, note, at in entries
        ]
        db.session.add_all(rows)
        db.session.commit()
        ids = [row.id for row in rows]
        db.session.remove()
    return ids


def section(html: str, name: str) -> str:
    return html.split(f'id="{name}"', 1)[1].split("</section>", 1)[0]


# --- access ----------------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client):
    assert client.get(PAGE).headers["Location"].startswith("/sign-in")


def test_staff_may_not_open_it(client, make_account, sign_in):
    sign_in(make_account(role="coordinator"))
    assert client.get(PAGE).status_code == 403


def test_an_advocate_account_without_a_profile_gets_404(client, make_account, sign_in):
    sign_in(make_account(role="advocate"))
    assert client.get(PAGE).status_code == 404


# --- past engagements ------------------------------------------------------------------------


def test_an_empty_history_says_so(client, advocate):
    html = client.get(PAGE).get_data(as_text=True)
    assert "No past engagements yet." in html
    assert "No points yet. A completed call earns 100" in html
    assert '<strong id="balance">0 points</strong>' in html


def test_past_engagements_with_date_industry_format_and_shared_feedback(
    client, app, advocate, make_request, make_engagement
):
    call_at = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 11:00 in New York (EDT since 8 March)
    request = make_request(
        industry="Financial Services", prospect_company="Prospect Bank AG",
        contact_name="Robin Contact", contact_email="robin@prospect-bank.example",
    )
    call = make_engagement(
        advocate, status="completed", starts_at=call_at, format="video", request_id=request.id,
        prospect_name="Robin Contact", prospect_email="robin@prospect-bank.example",
    )
    add_feedback(app, call.id, "prospect", 5, "Candid about the hard parts.")
    add_feedback(app, call.id, "advocate", 4, "Good questions from their CFO.")

    html = client.get(PAGE).get_data(as_text=True)
    row = html.split(f'id="engagement-{call.id}"', 1)[1].split("</li>", 1)[0]
    assert f'<time datetime="{call_at.isoformat()}">10 Mar 2026 11:00</time>' in row
    assert "Video call" in row
    assert "Prospect Bank AG · Financial Services" in row
    assert "Completed" in row
    assert "The prospect said" in row and "5/5" in row and "Candid about the hard parts." in row
    assert "You said" in row and "4/5" in row and "Good questions from their CFO." in row
    # The prospect's contact details stay out.
    assert "robin@prospect-bank.example" not in html
    assert "Robin Contact" not in html
    assert "America/New_York" in html


def test_only_past_completed_no_show_and_cancelled_engagements_are_listed(
    client, app, advocate, make_request, make_engagement
):
    now = utcnow()
    listed = {
        "completed": make_engagement(advocate, status="completed", starts_at=now - timedelta(days=9)),
        "no-show": make_engagement(advocate, status="no_show", starts_at=now - timedelta(days=5)),
        "cancelled": make_engagement(
            advocate, status="cancelled", starts_at=now - timedelta(days=2),
            cancelled_at=now - timedelta(days=4),
        ),
        # Cancelled before it was ever booked: no call time, listed at its cancellation.
        "never booked": make_engagement(advocate, status="cancelled", cancelled_at=now - timedelta(days=1)),
        # A written reference has no call time: listed when it was completed.
        "written": make_engagement(
            advocate, status="completed", format="written", starts_at=None,
            completed_at=now - timedelta(days=3), request_id=make_request(format="written").id,
        ),
    }
    left_out = [
        make_engagement(advocate, status="booked", starts_at=now + timedelta(days=2)),
        make_engagement(advocate, status="awaiting_booking"),
        make_engagement(advocate, status="cancelled", starts_at=now + timedelta(days=6),
                        cancelled_at=now - timedelta(hours=1)),
    ]

    html = section(client.get(PAGE).get_data(as_text=True), "engagements")
    shown = sorted(listed, key=lambda name: html.index(f'id="engagement-{listed[name].id}"'))
    # Newest first: never booked (−1 d), cancelled (−2 d), written (−3 d), no-show (−5 d), completed (−9 d).
    assert shown == [
        "never booked", "cancelled", "written", "no-show", "completed",
    ]
    for engagement in left_out:
        assert f'id="engagement-{engagement.id}"' not in html
    assert "No-show" in html and "Cancelled" in html and "Written reference" in html
    assert "Healthcare" in html  # the written request's industry
    assert "Prospect not recorded" in html  # engagements made without a request


def test_feedback_not_shared_with_the_advocate_stays_hidden(client, app, advocate, make_engagement):
    call = make_engagement(advocate, status="completed")
    add_feedback(app, call.id, "prospect", 2, "Internal: they rambled.", shared=False)
    html = client.get(PAGE).get_data(as_text=True)
    assert "Internal: they rambled." not in html
    assert "2/5" not in html
    assert "No feedback shared yet." in html


def test_another_advocates_engagements_and_points_stay_theirs(
    client, app, advocate, make_advocate, make_engagement
):
    other = make_advocate()
    theirs = make_engagement(other, status="completed")
    add_feedback(app, theirs.id, "prospect", 5, "Their glowing review")
    add_points(app, other.id, (100, "call_completed", "Their call", utcnow()))
    html = client.get(PAGE).get_data(as_text=True)
    assert f'id="engagement-{theirs.id}"' not in html
    assert "Their glowing review" not in html and "Their call" not in html
    assert "No past engagements yet." in html and '<strong id="balance">0 points</strong>' in html


# --- the ledger ------------------------------------------------------------------------------


def test_the_ledger_in_words_with_a_running_balance(client, app, advocate):
    day = datetime(2026, 2, 1, 12, tzinfo=UTC)
    ids = add_points(
        app, advocate.id,
        (100, PointsReason.CALL_COMPLETED.value, "", day),
        (20, PointsReason.PROSPECT_FEEDBACK.value, "", day + timedelta(days=1)),
        (150, PointsReason.CASE_STUDY.value, "Published customer case study", day + timedelta(days=2)),
        (-150, PointsReason.REDEMPTION.value, "Branded hoodie", day + timedelta(days=3)),
        (150, PointsReason.REFUND.value, "Branded hoodie", day + timedelta(days=4)),
        (-250, PointsReason.REDEMPTION.value, "Charity donation", day + timedelta(days=5)),
        (5, "goodwill_gesture", "", day + timedelta(days=6)),
    )
    html = section(client.get(PAGE).get_data(as_text=True), "points")
    assert '<strong id="balance">25 points</strong>' in html

    def row(entry_id: int) -> str:
        return html.split(f'id="ledger-{entry_id}"', 1)[1].split("</tr>", 1)[0]

    expected = [
        ("01 Feb 2026", "Reference call completed", "+100", "100"),
        ("02 Feb 2026", "Good prospect feedback", "+20", "120"),
        ("03 Feb 2026", "Case study: Published customer case study", "+150", "270"),
        ("04 Feb 2026", "Perk redeemed: Branded hoodie", "-150", "120"),
        ("05 Feb 2026", "Redemption refunded: Branded hoodie", "+150", "270"),
        ("06 Feb 2026", "Perk redeemed: Charity donation", "-250", "20"),
        ("07 Feb 2026", "Goodwill gesture", "+5", "25"),
    ]
    # Newest first; the newest line's balance is the balance now.
    positions = [html.index(f'id="ledger-{entry_id}"') for entry_id in ids]
    assert positions == sorted(positions, reverse=True)
    for entry_id, (date, reason, delta, balance) in zip(ids, expected, strict=True):
        cells = row(entry_id)
        assert date in cells and f'<td data-label="Reason">{reason}\n' in cells, cells
        assert f">{delta}</td>" in cells, cells
        assert f'<td class="num" data-label="Balance">{balance}</td>' in cells, cells


def test_dates_are_shown_in_the_advocates_zone(client, app, advocate):
    # 02:00 UTC on 1 March is still 28 February in New York.
    add_points(app, advocate.id, (10, "event", "Webinar", datetime(2026, 3, 1, 2, tzinfo=UTC)))
    assert "28 Feb 2026" in section(client.get(PAGE).get_data(as_text=True), "points")


def test_long_histories_show_the_latest_entries_and_the_whole_balance(
    client, app, advocate, make_engagement, monkeypatch
):
    monkeypatch.setattr(page_module, "SHOWN", 5)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = add_points(app, advocate.id, *[
        (10, "event", f"Event {n}", start + timedelta(days=n)) for n in range(8)
    ])
    calls = [
        make_engagement(advocate, status="completed", starts_at=start + timedelta(days=n)) for n in range(7)
    ]
    html = client.get(PAGE).get_data(as_text=True)
    ledger, engagements = section(html, "points"), section(html, "engagements")
    assert '<strong id="balance">80 points</strong>' in ledger
    assert [f'id="ledger-{i}"' in ledger for i in ids] == [False] * 3 + [True] * 5
    oldest_shown = ledger.split(f'id="ledger-{ids[3]}"', 1)[1].split("</tr>", 1)[0]
    # The balance after it counts the rows not shown.
    assert '<td class="num" data-label="Balance">40</td>' in oldest_shown
    assert "Your latest 5 entries" in ledger
    assert [f'id="engagement-{c.id}"' in engagements for c in calls] == [False] * 2 + [True] * 5
    assert "Your latest 5 engagements." in engagements


# --- queries ---------------------------------------------------------------------------------


def test_the_page_issues_the_same_queries_whatever_the_data_size(
    client, app, advocate, make_request, make_engagement, count_queries
):
    start = utcnow() - timedelta(days=200)

    def fill(first: int, count: int) -> None:
        """Completed calls number ``first`` on, each with a request, both sides' feedback and points."""
        for n in range(first, first + count):
            request = make_request(industry=["Healthcare", "Retail", "Insurance"][n % 3])
            call = make_engagement(
                advocate, status="completed", starts_at=start + timedelta(days=n), request_id=request.id
            )
            add_feedback(app, call.id, "prospect", 5, f"Prospect comment {n}")
            add_feedback(app, call.id, "advocate", 4, f"My comment {n}")
            add_points(app, advocate.id, (100, "call_completed", "", start + timedelta(days=n, hours=1)))

    def measure() -> int:
        with count_queries() as queries:
            response = client.get(PAGE)
        assert response.status_code == 200
        return len(queries)

    fill(0, 2)
    with_two = measure()
    fill(2, 28)
    with_thirty = measure()
    assert with_two == with_thirty
    assert with_thirty <= 6
    html = client.get(PAGE).get_data(as_text=True)
    assert html.count('id="engagement-') == html.count('id="ledger-') == 30
    assert "Prospect comment 29" in html and "My comment 0" in html
    with app.app_context():
        assert len(db.session.scalars(select(Engagement)).all()) == 30
        db.session.remove()
