"""Ranking from the database: the pool is read in a fixed number of queries."""

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from models import Advocate, AdvocateTopic, Format, Topic, TopicStance, WeeklyWindow, db
from workflows.match_rows import load_pool
from workflows.matching import rank, request_profile

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def give_profile(app, advocate, formats=("call", "video"), avoid=()):
    with app.app_context():
        row = db.session.get(Advocate, advocate.id)
        row.formats = db.session.scalars(select(Format).where(Format.code.in_(formats))).all()
        for day in range(5):
            row.windows.append(WeeklyWindow(weekday=day, starts=time(9), ends=time(12)))
        for name in avoid:
            topic = db.session.scalar(select(Topic).where(Topic.name == name))
            row.topics.append(AdvocateTopic(topic=topic, stance=TopicStance.AVOID))
        db.session.commit()


def test_ranking_names_candidates_and_the_rule_that_excluded_the_others(
    app, make_advocate, make_request, make_ask, make_engagement
):
    fits = make_advocate(name="Fits Well", tier="Premier")
    no_video = make_advocate(name="Only Written")
    avoids = make_advocate(name="Avoids Security")
    asked = make_advocate(name="Asked Already")
    paused = make_advocate(name="On Pause", status="paused")
    full = make_advocate(name="Quota Full", tier="Occasional", quarterly_cap=1)
    give_profile(app, fits)
    give_profile(app, no_video, formats=("written",))
    give_profile(app, avoids, avoid=("Security",))
    give_profile(app, asked)
    give_profile(app, paused)
    give_profile(app, full)
    soon = (datetime.now(UTC) + timedelta(days=20)).date()
    request = make_request(format="video", topics=["Security"], needed_by=soon)
    make_ask(asked, request)
    make_engagement(full, status="awaiting_booking")

    with app.app_context():
        from models import ReferenceRequest

        result = rank(db.session.get(ReferenceRequest, request.id), now=datetime.now(UTC))
    assert [c.name for c in result.candidates] == ["Fits Well"]
    assert {e.name: e.rule for e in result.excluded} == {
        "Only Written": "format_not_accepted",
        "Avoids Security": "avoided_topic",
        "Asked Already": "already_asked",
        "On Pause": "not_active",
        "Quota Full": "quota_reached",
    }


def test_the_pool_is_read_in_the_same_number_of_queries_whatever_its_size(
    app, make_advocate, make_engagement, count_queries
):
    def measure():
        with app.app_context(), count_queries() as statements:
            pool = load_pool(NOW)
        return len(pool), len(statements)

    for _ in range(2):
        advocate = make_advocate()
        give_profile(app, advocate, avoid=("ROI",))
        make_engagement(advocate, status="completed", starts_at=NOW - timedelta(days=10))
    small = measure()
    for _ in range(18):
        advocate = make_advocate()
        give_profile(app, advocate, avoid=("ROI",))
        make_engagement(advocate, status="booked", starts_at=NOW + timedelta(days=3))
    large = measure()
    assert small[0] == 2 and large[0] == 20
    assert small[1] == large[1] <= 12


def test_the_pool_holds_past_calls_as_far_back_as_the_longest_gap(app, make_advocate, make_engagement):
    advocate = make_advocate()
    give_profile(app, advocate)
    for days_ago in (100, 60, 2):
        make_engagement(advocate, status="completed", starts_at=NOW - timedelta(days=days_ago))
    make_engagement(advocate, status="booked", starts_at=NOW + timedelta(days=30))
    with app.app_context():
        (profile,) = load_pool(NOW)
    assert sorted((b.start - NOW).days for b in profile.busy) == [-60, -2, 30]


def test_a_booked_call_keeps_the_advocates_gap_before_the_needed_by_date(
    app, make_advocate, make_request, make_engagement
):
    spaced = make_advocate(name="Needs Space", min_days_between_calls=14)
    relaxed = make_advocate(name="Any Day")
    for advocate in (spaced, relaxed):
        give_profile(app, advocate)
        make_engagement(advocate, status="booked", starts_at=datetime.now(UTC) + timedelta(days=3))
    request = make_request(format="call", needed_by=(datetime.now(UTC) + timedelta(days=12)).date())

    with app.app_context():
        from models import ReferenceRequest

        result = rank(db.session.get(ReferenceRequest, request.id), now=datetime.now(UTC))
    assert [c.name for c in result.candidates] == ["Any Day"]
    assert {e.name: e.rule for e in result.excluded} == {"Needs Space": "no_free_slot"}



def test_ranking_reads_the_request_as_this_transaction_has_changed_it(app, make_advocate, make_request):
    written_only = make_advocate(name="Only Written")
    give_profile(app, written_only, formats=("written",))
    request = make_request(format="video", topics=[])

    with app.app_context():
        from models import ReferenceRequest

        loaded = db.session.get(ReferenceRequest, request.id)
        assert [e.rule for e in rank(loaded).excluded] == ["format_not_accepted"]
        loaded.format_code = "written"  # not flushed yet
        loaded.topics = [db.session.scalar(select(Topic).where(Topic.name == "Security"))]
        assert request_profile(loaded).topics == {"security"}
        assert [c.name for c in rank(loaded).candidates] == ["Only Written"]
        db.session.rollback()  # the request object is expired now: its id is all that is read
        assert request_profile(loaded).topics == frozenset()
        assert [e.rule for e in rank(loaded).excluded] == ["format_not_accepted"]
