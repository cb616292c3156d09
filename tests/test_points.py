from datetime import timedelta

from sqlalchemy import select

from models import PointsEntry, PointsReason, Tier, db
from models.types import utcnow
from workflows import points


def tiers():
    return db.session.scalars(select(Tier)).all()


def tier(name):
    return db.session.scalar(select(Tier).where(Tier.name == name))


def test_progress_from_occasional_towards_active(app_context):
    result = points.progress(200, tier("Occasional"), tiers())
    assert result.next_tier.name == "Active"
    assert result.points_to_next == 200
    assert result.percent == 50


def test_progress_at_the_top_tier_is_complete(app_context):
    result = points.progress(50, tier("Premier"), tiers())
    assert result.next_tier is None and result.percent == 100


def test_suggested_tier_follows_thresholds(app_context):
    assert points.suggested_tier(0, tiers()).name == "Occasional"
    assert points.suggested_tier(400, tiers()).name == "Active"
    assert points.suggested_tier(1500, tiers()).name == "Premier"


def test_balance_counts_everything_but_tiers_only_the_last_year(app, make_advocate):
    advocate = make_advocate()
    with app.app_context():
        points.award(advocate.id, 100, PointsReason.CALL_COMPLETED, source_type="engagement", source_id=1)
        old = points.award(advocate.id, 150, PointsReason.CASE_STUDY)
        old.created_at = utcnow() - timedelta(days=400)
        points.award(advocate.id, -60, PointsReason.REDEMPTION, source_type="redemption", source_id=1)
        db.session.commit()
        assert points.balance(advocate.id) == 190
        assert points.earned_recently(advocate.id) == 100


def test_the_standing_sums_the_ledger_once_and_agrees_with_balance_and_tier_progress(
    app, make_advocate, count_queries
):
    advocate = make_advocate(tier="Occasional")
    with app.app_context():
        points.award(advocate.id, 250, PointsReason.CALL_COMPLETED, source_type="engagement", source_id=1)
        old = points.award(advocate.id, 150, PointsReason.CASE_STUDY)
        old.created_at = utcnow() - timedelta(days=400)
        points.award(advocate.id, -60, PointsReason.REDEMPTION, source_type="redemption", source_id=1)
        db.session.commit()
        profile = db.session.get(type(advocate), advocate.id)
        profile.tier  # noqa: B018  (loaded, as the home page loads it)
        with count_queries() as queries:
            standing = points.standing(profile)
        assert len(queries) == 2
        assert standing.balance == points.balance(advocate.id) == 340
        assert standing.progress == points.tier_progress(profile)
        assert standing.progress.points == 250 and standing.progress.next_tier.name == "Active"


def test_the_same_source_earns_once(app, make_advocate):
    advocate = make_advocate()
    with app.app_context():
        source = {"source_type": "engagement", "source_id": 7}
        first = points.award(advocate.id, 100, PointsReason.CALL_COMPLETED, **source)
        again = points.award(advocate.id, 100, PointsReason.CALL_COMPLETED, **source)
        db.session.commit()
        assert first is not None and again is None
        assert len(db.session.scalars(select(PointsEntry)).all()) == 1


def test_a_completed_call_earns_its_points_once_and_the_bonus_from_a_rating_of_4(app, make_advocate):
    advocate = make_advocate()
    with app.app_context():
        assert [points.is_good_feedback(r) for r in (None, 1, 3, 4, 5)] == [False, False, False, True, True]
        assert points.award_call(advocate.id, 1, 3) == 100
        assert points.award_call(advocate.id, 1, 3) == 0
        assert points.award_call(advocate.id, 2, 4) == 120
        assert points.award_good_feedback(advocate.id, 2, 5) == 0  # the bonus, once per call too
        assert points.award_good_feedback(advocate.id, 1, 5) == 20  # a good rating given later
        db.session.commit()
        assert points.balance(advocate.id) == 240
