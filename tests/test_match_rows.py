"""The match rows and the SQL prefilter against the plain engine over full profiles.

Random pools and requests: ``rank`` (match rows, SQL rules, engine for the rest) gives exactly
what ``matching.engine.match`` gives over ``load_pool``, candidates, scores, reasons, every
exclusion with its detail and the counts by rule, also hours and days after the rows were
computed. Random sequences of writes through the workflows leave every match row equal to a
full recomputation.
"""

from collections import Counter
from contextlib import suppress
from datetime import datetime, time, timedelta

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from matching.engine import match
from models import (
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateStatus,
    AdvocateTopic,
    Ask,
    Blackout,
    Company,
    Competitor,
    Engagement,
    Format,
    Industry,
    MatchRow,
    ReferenceRequest,
    Region,
    Role,
    Tier,
    Topic,
    TopicStance,
    UseCase,
    WeeklyWindow,
    db,
    quarter_of,
)
from models.advocates import CompetitorRelation
from models.types import utcnow
from tests.conftest import clean_database
from workflows import availability, errors
from workflows.match_rows import load_pool, load_profiles, match_row, moment, pool_version
from workflows.matching import booking_rules, rank, request_profile, weights

PROSPECT = "Prospect Health GmbH"
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Singapore")
TOPICS = ("Security", "ROI", "Migration")
USE_CASES = ("Billing", "Onboarding", "Reporting")
COMPETITORS = ("Acme CRM", "Globex")
INDUSTRIES = ("Healthcare", "Life Sciences", "Retail")  # two share a sector: "same sector" happens too
REGIONS = ("Europe", "North America")
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate],  # shrinking a database example takes minutes
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

calls = st.lists(st.tuples(st.integers(-20, 20), st.integers(0, 23),
                           st.sampled_from(["booked", "completed", "cancelled", "awaiting_booking"])),
                 max_size=3, unique_by=lambda c: c[0])
advocates = st.lists(st.fixed_dictionaries({
    "status": st.sampled_from(["active", "active", "active", "paused", "invited", "retired"]),
    "consent": st.booleans() | st.just(True),
    "snoozed": st.none() | st.integers(-2, 4),
    "tier": st.sampled_from(["Active", "Occasional", None]),
    "cap": st.none() | st.integers(0, 3),
    "formats": st.sets(st.sampled_from(["call", "video", "written"])),
    "at_prospect": st.integers(0, 9).map(lambda n: n == 0),
    "refuses": st.integers(0, 9).map(lambda n: n == 0),
    "avoids": st.sets(st.sampled_from(TOPICS), max_size=1),
    "glad": st.sets(st.sampled_from(TOPICS), max_size=2),
    "windows": st.lists(st.tuples(st.integers(0, 6), st.integers(6, 20), st.integers(1, 3)), max_size=3,
                        unique_by=lambda w: (w[0], w[1])),
    "blackout": st.none() | st.tuples(st.integers(-2, 10), st.integers(0, 6)),
    "calls": calls,
    "min_days": st.sampled_from([0, 2, 7]),
    "per_day": st.sampled_from([1, 2]),
    "asked": st.integers(0, 5).map(lambda n: n == 0),
    "zone": st.sampled_from(ZONES),
    "use_cases": st.sets(st.sampled_from(USE_CASES)),
    "competitors": st.sets(st.sampled_from(COMPETITORS)),
    "industry": st.none() | st.sampled_from(INDUSTRIES),
    "region": st.none() | st.sampled_from(REGIONS),
    "employees": st.sampled_from([None, 40, 300, 2500, 20_000]),
}), min_size=1, max_size=7)
requests = st.fixed_dictionaries({
    "format": st.sampled_from(["call", "video", "written"]),
    "needed_by": st.none() | st.integers(1, 30),
    "topics": st.sets(st.sampled_from(TOPICS), max_size=2),
    "use_cases": st.sets(st.sampled_from(USE_CASES)),
    "competitors": st.sets(st.sampled_from(COMPETITORS)),
    "industry": st.none() | st.sampled_from(INDUSTRIES),
    "region": st.none() | st.sampled_from(REGIONS),
    "employees": st.sampled_from([None, 300, 2500]),
})


def build(pool: list[dict], wanted: dict, now: datetime) -> int:
    """The pool and the request in one transaction (the match rows follow at commit)."""
    clean_database()
    formats = {f.code: f for f in db.session.scalars(select(Format))}
    topics = {t.name: t for t in db.session.scalars(select(Topic))}
    tiers = {t.name: t for t in db.session.scalars(select(Tier))}
    industries = {i.name: i for i in db.session.scalars(select(Industry))}
    regions = {r.name: r for r in db.session.scalars(select(Region))}
    use_cases = {name: UseCase(name=name) for name in USE_CASES}
    competitors = {name: Competitor(name=name) for name in COMPETITORS}
    request = ReferenceRequest(
        prospect_company=PROSPECT, format_code=wanted["format"], employees=wanted.get("employees", 2500),
        needed_by=(now + timedelta(days=wanted["needed_by"])).date() if wanted["needed_by"] else None,
        topics=[topics[name] for name in sorted(wanted["topics"])],
        use_cases=[use_cases[name] for name in sorted(wanted.get("use_cases", ()))],
        competitors=[competitors[name] for name in sorted(wanted.get("competitors", ()))],
        industry=industries[wanted.get("industry")] if wanted.get("industry") else None,
        region=regions[wanted.get("region")] if wanted.get("region") else None,
    )
    db.session.add(request)
    made = []
    prospect_company = None
    for number, spec in enumerate(pool):
        account = Account(email=f"a{number}@example.com", name=f"Advocate {number}", role=Role.ADVOCATE,
                          timezone=spec["zone"])
        if spec["at_prospect"]:
            prospect_company = company = prospect_company or Company(name=PROSPECT, employees=300)
        else:
            company = Company(
                name=f"Customer {number}", employees=spec.get("employees", 300),
                industry=industries[spec.get("industry")] if spec.get("industry") else None,
                region=regions[spec.get("region")] if spec.get("region") else None,
            )
        advocate = Advocate(
            account=account, company=company, tier=tiers.get(spec["tier"]) if spec["tier"] else None,
            status=AdvocateStatus(spec["status"]), quarterly_cap=spec["cap"],
            consent_at=now - timedelta(days=30) if spec["consent"] else None, consent_source="test",
            snoozed_until=None if spec["snoozed"] is None else (now + timedelta(days=spec["snoozed"])).date(),
            refused_companies=[PROSPECT.upper()] if spec["refuses"] else [],
            min_days_between_calls=spec["min_days"], max_calls_per_day=spec["per_day"],
            formats=[formats[code] for code in sorted(spec["formats"])],
            use_cases=[use_cases[name] for name in sorted(spec.get("use_cases", ()))],
        )
        for name in sorted(spec.get("competitors", ())):
            advocate.competitors.append(AdvocateCompetitor(competitor=competitors[name],
                                                           relation=CompetitorRelation.EVALUATED))
        for name in spec["avoids"]:
            advocate.topics.append(AdvocateTopic(topic=topics[name], stance=TopicStance.AVOID))
        for name in spec["glad"] - spec["avoids"]:
            advocate.topics.append(AdvocateTopic(topic=topics[name], stance=TopicStance.GLAD))
        for weekday, hour, hours in spec["windows"]:
            advocate.windows.append(WeeklyWindow(weekday=weekday, starts=time(hour), ends=time(hour + hours)))
        if spec["blackout"]:
            first = (now + timedelta(days=spec["blackout"][0])).date()
            last = first + timedelta(days=spec["blackout"][1])
            advocate.blackouts.append(Blackout(starts_on=first, ends_on=last))
        db.session.add(advocate)
        made.append((advocate, spec))
    db.session.flush()
    for advocate, spec in made:
        for day, hour, status in spec["calls"]:
            start = (now + timedelta(days=day)).replace(hour=hour, minute=0, second=0, microsecond=0)
            timed = status != "awaiting_booking"
            db.session.add(Engagement(
                advocate_id=advocate.id, format_code="call", status=status,
                starts_at=start if timed else None, ends_at=start + timedelta(minutes=30) if timed else None,
                quarter=quarter_of(start if timed else now), prospect_name="Pat",
                prospect_email="pat@example.com"))
        if spec["asked"]:
            db.session.add(Ask(request_id=request.id, advocate_id=advocate.id, score=50,
                               expires_at=now + timedelta(days=2)))
    db.session.commit()
    return request.id


def reference(request: ReferenceRequest, now: datetime):
    return match(request_profile(request), load_pool(now), now=now, weights=weights(),
                 slot_rules=booking_rules())


@SETTINGS
@given(pool=advocates, wanted=requests, later=st.sampled_from([0, 0, 5, 30, 170]))
def test_the_match_rows_and_the_sql_rules_rank_as_the_engine_does_over_full_profiles(
    app, pool, wanted, later
):
    with app.app_context():
        request_id = build(pool, wanted, utcnow())
        now = utcnow() + timedelta(hours=later)
        request = db.session.get(ReferenceRequest, request_id)
        expected = reference(request, now)
        got = rank(request, now=now, named=1000)
        assert got.candidates.ranking == [(c.score, c.advocate_id) for c in expected.candidates]
        assert [(c.advocate_id, c.score, c.reasons) for c in got.candidates] == [
            (c.advocate_id, c.score, c.reasons) for c in expected.candidates]
        assert [(e.advocate_id, e.rule, e.detail) for e in got.excluded] == [
            (e.advocate_id, e.rule, e.detail) for e in expected.excluded]
        assert got.excluded_by_rule == dict(Counter(e.rule for e in expected.excluded))
        db.session.rollback()


# Advocates every rule lets through for a written reference, differing in all that scoring reads.
eligible_advocates = st.lists(st.fixed_dictionaries({
    "status": st.just("active"), "consent": st.just(True), "snoozed": st.none(),
    "tier": st.just("Active"), "cap": st.none() | st.integers(3, 6), "formats": st.just({"written"}),
    "at_prospect": st.just(False), "refuses": st.just(False), "avoids": st.just(set()),
    "glad": st.sets(st.sampled_from(TOPICS)), "windows": st.just([]), "blackout": st.none(),
    "calls": st.lists(st.tuples(st.integers(-80, -1), st.integers(0, 23), st.just("completed")),
                      max_size=2, unique_by=lambda c: c[0]),
    "min_days": st.just(0), "per_day": st.just(1), "asked": st.just(False),
    "zone": st.sampled_from(ZONES),
    "use_cases": st.sets(st.sampled_from(USE_CASES)),
    "competitors": st.sets(st.sampled_from(COMPETITORS)),
    "industry": st.none() | st.sampled_from(INDUSTRIES),
    "region": st.none() | st.sampled_from(REGIONS),
    "employees": st.sampled_from([None, 40, 300, 2500, 20_000]),
}), min_size=2, max_size=8)


@SETTINGS
@given(pool=eligible_advocates, wanted=requests.map(lambda r: {**r, "format": "written"}))
def test_the_scoring_facts_the_sql_works_out_score_as_the_engine_does(app, pool, wanted):
    with app.app_context():
        request_id = build(pool, wanted, utcnow())
        now = utcnow()
        request = db.session.get(ReferenceRequest, request_id)
        expected = reference(request, now)
        got = rank(request, now=now)
        assert len(expected.candidates) == len(pool)
        assert got.candidates.ranking == [(c.score, c.advocate_id) for c in expected.candidates]
        assert list(got.candidates) == list(expected.candidates)
        db.session.rollback()


def test_only_a_page_of_the_excluded_is_named_but_every_one_is_counted(app):
    pool = [dict(status="paused", consent=True, snoozed=None, tier="Active", cap=None, formats={"call"},
                 at_prospect=False, refuses=False, avoids=set(), glad=set(), windows=[], blackout=None,
                 calls=[], min_days=0, per_day=1, asked=False, zone="UTC")] * 5
    with app.app_context():
        request_id = build(pool, {"format": "call", "needed_by": None, "topics": set()}, utcnow())
        got = rank(db.session.get(ReferenceRequest, request_id), named=2)
        assert len(got.excluded) == 2 and got.excluded_total == 5
        assert got.excluded_by_rule == {"not_active": 5}
        assert [e.advocate_id for e in got.excluded] == sorted(e.advocate_id for e in got.excluded)[:2]


def stored_rows_match_a_full_recomputation() -> None:
    """Each stored row is what its advocate's full profile gives at the moment it was computed."""
    rows = {r.advocate_id: r for r in db.session.scalars(select(MatchRow))}
    advocate_ids = set(db.session.scalars(select(Advocate.id)))
    assert set(rows) == advocate_ids
    columns = [c.name for c in MatchRow.__table__.columns]
    for advocate_id, row in rows.items():
        computed = moment(row.computed_us)
        profile = load_profiles(db.session.connection(), computed, [advocate_id], retired=True)[0]
        assert {c: getattr(row, c) for c in columns} == match_row(profile, computed, booking_rules())


writes = st.lists(st.tuples(
    st.sampled_from(["add_window", "remove_window", "blackout", "snooze", "clear_snooze", "limits", "zone",
                     "book", "cancel_call", "tier_quota", "rename", "status"]),
    st.integers(0, 3), st.integers(0, 6), st.integers(1, 20),
), min_size=1, max_size=8)


@SETTINGS
@given(pool=advocates, steps=writes)
def test_the_match_rows_stay_equal_to_a_full_recomputation_after_any_writes(app, restore_tiers, pool, steps):
    with app.app_context():
        now = utcnow()
        build(pool, {"format": "call", "needed_by": None, "topics": set()}, now)
        ids = list(db.session.scalars(select(Advocate.id).order_by(Advocate.id)))
        version = pool_version()
        for action, which, small, number in steps:
            advocate_id = ids[which % len(ids)]
            db.session.rollback()
            with suppress(errors.Invalid):  # the workflow refused the write (an overlapping window, …)
                apply_write(action, advocate_id, small, number, now)
            db.session.rollback()
            assert pool_version() >= version  # a write that changed nothing need not bump it
            version = pool_version()
        stored_rows_match_a_full_recomputation()
        db.session.rollback()


def apply_write(action: str, advocate_id: int, small: int, number: int, now: datetime) -> None:
    advocate = db.session.get(Advocate, advocate_id)
    if action == "add_window":
        starts = 6 + number % 12
        availability.add_window(advocate_id, small, time(starts), time(starts + 1))
    elif action == "remove_window" and advocate.windows:
        availability.remove_window(advocate_id, advocate.windows[0].id)
    elif action == "blackout":
        first = (now + timedelta(days=small)).date()
        availability.add_blackout(advocate_id, first, first + timedelta(days=number % 4), now=now)
    elif action == "snooze":
        availability.snooze(advocate_id, (now + timedelta(days=1 + small)).date(), now=now)
    elif action == "clear_snooze":
        availability.clear_snooze(advocate_id)
    elif action == "limits":
        cap = None if small == 0 else small % 3
        availability.set_limits(advocate_id, cap, (0, 2, 7)[small % 3], 1 + small % 2)
    elif action == "zone":
        availability.set_time_zone(advocate_id, ZONES[small % len(ZONES)])
    elif action == "book":
        start = (now + timedelta(days=2 + number)).replace(hour=small + 8, minute=0, second=0, microsecond=0)
        if not db.session.scalar(select(Engagement.id).where(Engagement.advocate_id == advocate_id,
                                                             Engagement.starts_at == start)):
            db.session.add(Engagement(advocate_id=advocate_id, format_code="call", status="booked",
                                      starts_at=start, ends_at=start + timedelta(minutes=30),
                                      quarter=quarter_of(start), prospect_name="Pat",
                                      prospect_email="pat@example.com"))
        db.session.commit()
    elif action == "cancel_call":
        found = db.session.scalar(select(Engagement).where(Engagement.advocate_id == advocate_id,
                                                           Engagement.status == "booked").limit(1))
        if found is not None:
            found.status = "cancelled"
        db.session.commit()
    elif action == "tier_quota":
        if advocate.tier is not None:
            advocate.tier.quarterly_quota = number % 5
        db.session.commit()
    elif action == "rename":
        advocate.account.name = f"Renamed {number}"
        advocate.company.name = f"Company {number}"
        db.session.commit()
    else:
        advocate.status = AdvocateStatus(("active", "paused", "retired")[small % 3])
        db.session.commit()


def test_the_rebuild_command_recomputes_every_row_and_the_refresh_only_the_stale_ones(app):
    pool = [dict(status="active", consent=True, snoozed=None, tier="Active", cap=None, formats={"call"},
                 at_prospect=False, refuses=False, avoids=set(), glad=set(), windows=[(0, 9, 2), (3, 9, 2)],
                 blackout=None, calls=[], min_days=0, per_day=1, asked=False, zone="Europe/Berlin")] * 3
    with app.app_context():
        build(pool, {"format": "call", "needed_by": None, "topics": set()}, utcnow())
        db.session.execute(MatchRow.__table__.update().values(name="drifted"))  # as if edited behind our back
        db.session.commit()
        assert set(db.session.scalars(select(MatchRow.name))) == {"drifted"}
        version = pool_version()
    result = app.test_cli_runner().invoke(args=["matching", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "rebuilt 3 match rows" in result.output
    with app.app_context():
        assert pool_version() > version
        stored_rows_match_a_full_recomputation()
        db.session.rollback()
    result = app.test_cli_runner().invoke(args=["matching", "refresh"])
    assert "refreshed 0 match rows" in result.output  # nothing stale yet
    with app.app_context():
        from workflows import jobs

        # A week on, each stored slot lies in the past: the periodic jobs recompute every row for
        # that moment (``flask jobs run``, and the mail worker's timer).
        assert jobs.run_due(utcnow() + timedelta(days=7))["match_rows_refreshed"] == 3
        later = db.session.scalars(select(MatchRow.slot_start_us)).all()
        assert all(start is not None and moment(start) > utcnow() + timedelta(days=8) for start in later)
        db.session.rollback()
