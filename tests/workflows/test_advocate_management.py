"""A coordinator runs an advocate's place in the program (``workflows.advocate_management`` and
``workflows.tiers.change_tier``): pause, resume and retire through the asking and booking
workflows' steps, tier changes with the personal cap lowered, points from the program settings,
internal notes the advocate never sees, one timeline, and bulk changes; e-mails read back from
the real SMTP server."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import (
    Advocate,
    AdvocateNote,
    AdvocateStatus,
    Ask,
    AskStatus,
    AuditEvent,
    Engagement,
    EngagementStatus,
    OutboxMessage,
    PointsEntry,
    ReferenceRequest,
    RequestStatus,
    Role,
    Tier,
    TierSuggestion,
    TierSuggestionStatus,
    db,
)
from models.types import utcnow
from tests.conftest import html_body, text_body
from tests.helpers import fit
from workflows import advocate_management as flow
from workflows import errors, privacy, requests, settings, submissions, tiers, unsubscribe
from workflows.submissions import Once


@pytest.fixture()
def cora(make_account):
    return make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")


def staff(app, account_id: int):
    from models import Account

    return db.session.get(Account, account_id)


def tier_id(name: str) -> int:
    return db.session.scalar(select(Tier.id).where(Tier.name == name))


def events(kind: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)))


# --- pause, resume, retire -------------------------------------------------------------------


def test_pausing_withdraws_pending_asks_keeps_arranged_calls_and_tells_the_advocate(
        app, cora, make_advocate, make_request, make_ask, make_engagement, smtp, deliver):
    dana = make_advocate(name="Dana Example", email="dana@example.com")
    request = make_request(status=RequestStatus.ASKING)
    ask = make_ask(dana, request=request)
    call = make_engagement(dana, status="booked")

    with app.app_context():
        change = flow.pause(dana.id, by=staff(app, cora.id), reason="Asked for a break until spring")
        advocate = db.session.get(Advocate, dana.id)
        assert (change.asks_withdrawn, change.calls_kept, change.told) == (1, 1, True)
        assert advocate.status is AdvocateStatus.PAUSED
        assert advocate.status_reason == "Asked for a break until spring"
        assert advocate.status_changed_at is not None
        assert db.session.get(Ask, ask.id).status is AskStatus.WITHDRAWN
        assert db.session.get(ReferenceRequest, request.id).status is RequestStatus.NEW  # needs someone else
        assert db.session.get(Engagement, call.id).status is EngagementStatus.BOOKED
        [event] = events("advocate.paused")
        assert (event.actor_id, event.subject) == (cora.id, f"advocate:{dana.id}")
        assert event.detail["asks_withdrawn"] == 1
        db.session.remove()

    deliver()
    [mail] = smtp.wait_for("dana@example.com")
    assert mail["Subject"] == "Your reference profile is paused"
    body = text_body(mail)
    assert "1 ask waiting for your answer was taken back" in body
    assert "The 1 call you already agreed to stays as arranged" in body
    assert "break until spring" not in body + html_body(mail)  # the reason is for staff


def test_a_paused_advocate_cannot_be_asked(app, cora, make_advocate, make_request):
    dana = make_advocate(name="Dana Example")
    fit(app, dana.id)
    request = make_request(industry=None)
    with app.app_context():
        flow.pause(dana.id, by=staff(app, cora.id))
        with pytest.raises(requests.NotEligible) as refused:
            requests.ask(request.id, dana.id, by=staff(app, cora.id))
        assert refused.value.rule == "not_active"
        db.session.remove()


def test_resuming_brings_a_paused_advocate_back_and_tells_them(app, cora, make_advocate, smtp, deliver):
    dana = make_advocate(name="Dana Example", email="dana@example.com", status="paused",
                         status_reason="On leave")
    with app.app_context():
        flow.resume(dana.id, by=staff(app, cora.id))
        advocate = db.session.get(Advocate, dana.id)
        assert (advocate.status, advocate.status_reason) == (AdvocateStatus.ACTIVE, "")
        assert len(events("advocate.resumed")) == 1
        with pytest.raises(flow.StatusConflict, match="already in the program"):
            flow.resume(dana.id, by=staff(app, cora.id))
        db.session.remove()
    deliver()
    [mail] = smtp.wait_for("dana@example.com")
    assert mail["Subject"] == "Your reference profile is active again"
    assert "/portal/availability" in text_body(mail)


def test_retiring_needs_a_reason_cancels_calls_not_held_and_thanks_the_advocate(
        app, cora, make_advocate, make_request, make_ask, make_engagement, smtp, deliver):
    dana = make_advocate(name="Dana Example", email="dana@example.com")
    ask = make_ask(dana)
    request = make_request(status=RequestStatus.SCHEDULED)
    booked = make_engagement(dana, status="booked", request_id=request.id,
                             prospect_email="pat@prospect.example")
    waiting = make_engagement(dana, status="awaiting_booking")
    held = make_engagement(dana, status="completed")
    with app.app_context():
        db.session.add(TierSuggestion(advocate_id=dana.id, from_tier_id=tier_id("Active"),
                                      to_tier_id=tier_id("Premier"), points=1200))
        db.session.commit()
        with pytest.raises(errors.Invalid, match="Write why they retire"):
            flow.retire(dana.id, by=staff(app, cora.id), reason="   ")
        assert db.session.get(Advocate, dana.id).status is AdvocateStatus.ACTIVE

        change = flow.retire(dana.id, by=staff(app, cora.id), reason="Left their company")
        assert (change.asks_withdrawn, change.calls_cancelled) == (1, 2)
        assert db.session.get(Advocate, dana.id).status is AdvocateStatus.RETIRED
        assert db.session.get(Ask, ask.id).status is AskStatus.WITHDRAWN
        assert db.session.get(Engagement, booked.id).status is EngagementStatus.CANCELLED
        assert db.session.get(Engagement, waiting.id).status is EngagementStatus.CANCELLED
        assert db.session.get(Engagement, held.id).status is EngagementStatus.COMPLETED
        assert db.session.get(ReferenceRequest, request.id).status is RequestStatus.NEW
        assert db.session.scalar(select(TierSuggestion.status)) is TierSuggestionStatus.SUPERSEDED
        for wanted in (AdvocateStatus.ACTIVE, AdvocateStatus.PAUSED, AdvocateStatus.RETIRED):
            assert flow.why_not(db.session.get(Advocate, dana.id), wanted) is not None
        with pytest.raises(flow.StatusConflict):
            flow.resume(dana.id, by=staff(app, cora.id))
        db.session.remove()

    deliver()
    mine = [m for m in smtp.wait_for("dana@example.com", count=2)]
    subjects = sorted(m["Subject"] for m in mine)
    assert "Thank you for being one of our references" in subjects
    thanks = next(m for m in mine if m["Subject"] == "Thank you for being one of our references")
    assert "1 ask waiting for your answer was taken back" in text_body(thanks)
    assert "2 calls not yet held were cancelled" in text_body(thanks)
    assert "Left their company" not in text_body(thanks)
    assert smtp.wait_for("pat@prospect.example")  # the booked call's cancellation


@pytest.mark.parametrize("status", ["candidate", "invited"])
def test_someone_not_in_the_program_yet_cannot_be_paused_or_retired(app, cora, make_advocate, status):
    lee = make_advocate(status=status)
    with app.app_context():
        for change in (lambda: flow.pause(lee.id, by=staff(app, cora.id)),
                       lambda: flow.retire(lee.id, by=staff(app, cora.id), reason="No")):
            with pytest.raises(flow.StatusConflict, match="not in the program yet"):
                change()
        assert db.session.get(Advocate, lee.id).status is AdvocateStatus(status)
        db.session.remove()


def test_an_unknown_advocate_is_not_found(app, cora):
    with app.app_context():
        with pytest.raises(errors.NotFound):
            flow.pause(999_999, by=staff(app, cora.id))
        db.session.remove()


# --- tier changes ----------------------------------------------------------------------------


def test_a_tier_change_lowers_a_cap_above_the_new_quota_and_names_the_benefits(
        app, cora, make_advocate, smtp, deliver):
    dana = make_advocate(name="Dana Example", email="dana@example.com", tier="Active", quarterly_cap=3)
    with app.app_context():
        change = tiers.change_tier(dana.id, tier_id("Occasional"), by=staff(app, cora.id),
                                   reason="Quiet year")
        assert (change.cap_before, change.cap_after, change.promoted) == (3, 2, False)
        advocate = db.session.get(Advocate, dana.id)
        assert (advocate.tier.name, advocate.quarterly_cap, advocate.quarterly_limit) == ("Occasional", 2, 2)
        [event] = events("advocate.tier_changed")
        assert event.detail.items() >= {"from_tier": "Active", "to_tier": "Occasional",
                                        "reason": "Quiet year", "cap_lowered_from": 3,
                                        "cap_lowered_to": 2}.items()
        benefits = db.session.scalar(select(Tier.benefits).where(Tier.name == "Occasional"))
        db.session.remove()
    deliver()
    [mail] = smtp.wait_for("dana@example.com")
    assert mail["Subject"] == "Your tier is now Occasional"
    body = text_body(mail)
    for benefit in benefits:
        assert f"- {benefit}" in body
        assert benefit in html_body(mail)
    assert "Your personal limit of 3 calls a quarter was above that, so it is now 2" in body


def test_a_cap_within_the_new_quota_stays_and_a_promotion_says_thank_you(app, cora, make_advocate, smtp,
                                                                          deliver):
    dana = make_advocate(email="dana@example.com", tier="Active", quarterly_cap=3)
    with app.app_context():
        change = tiers.change_tier(dana.id, tier_id("Premier"), by=staff(app, cora.id))
        assert not change.cap_lowered
        assert db.session.get(Advocate, dana.id).quarterly_cap == 3
        db.session.remove()
    deliver()
    [mail] = smtp.wait_for("dana@example.com")
    assert mail["Subject"] == "You are now in the Premier tier"
    assert "personal limit" not in text_body(mail)


def test_a_tier_change_is_refused_for_the_same_tier_an_unknown_one_or_a_retired_advocate(
        app, cora, make_advocate):
    dana = make_advocate(tier="Active")
    gone = make_advocate(tier="Active", status="retired")
    with app.app_context():
        by = staff(app, cora.id)
        with pytest.raises(errors.Conflict, match="already in the Active tier"):
            tiers.change_tier(dana.id, tier_id("Active"), by=by)
        with pytest.raises(errors.Invalid, match="Pick a tier"):
            tiers.change_tier(dana.id, 2_000_000_000, by=by)
        with pytest.raises(errors.Conflict, match="retired"):
            tiers.change_tier(gone.id, tier_id("Premier"), by=by)
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        db.session.remove()


# --- points and notes ------------------------------------------------------------------------


def test_points_come_from_the_settings_and_go_in_the_ledger_once_per_submission(app, cora, make_advocate):
    dana = make_advocate()
    with app.app_context():
        by = staff(app, cora.id)
        settings.update({"POINTS_REVIEW": "35"}, by=by)
        key = Once("advocate-points", "k1")
        done = flow.award_points(dana.id, "review", "G2 review, March", by=by, once=key)
        assert (done.points, done.balance) == (35, 35)
        with pytest.raises(submissions.AlreadySubmitted):
            flow.award_points(dana.id, "review", "G2 review, March", by=by, once=key)
        flow.award_points(dana.id, "case_study", "Case study published", by=by)
        rows = db.session.execute(select(PointsEntry.delta, PointsEntry.reason, PointsEntry.note,
                                         PointsEntry.created_by_id).order_by(PointsEntry.id)).all()
        assert rows == [(35, "review", "G2 review, March", cora.id),
                        (app.config["POINTS_CASE_STUDY_OR_EVENT"], "case_study", "Case study published",
                         cora.id)]
        assert len(events("advocate.points_awarded")) == 2
        for reason in ("redemption", "call_completed", "", "bogus"):
            with pytest.raises(errors.Invalid, match="Pick what the points are for"):
                flow.award_points(dana.id, reason, "x", by=by)
        with pytest.raises(errors.Invalid, match="Write what the points are for"):
            flow.award_points(dana.id, "event", "  ", by=by)
        db.session.remove()


def test_notes_stay_out_of_the_advocates_export_and_go_when_they_leave(app, cora, make_advocate):
    dana = make_advocate(name="Dana Example")
    with app.app_context():
        flow.add_note(dana.id, "Prefers calls on Tuesdays; do not mention the outage.",
                      by=staff(app, cora.id))
        assert db.session.scalar(select(func.count()).select_from(AdvocateNote)) == 1
        exported = json.dumps(privacy.export_data(dana.id))
        assert "outage" not in exported and "Tuesdays" not in exported
        privacy.leave_program(dana.id, confirmation="LEAVE")
        assert db.session.scalar(select(func.count()).select_from(AdvocateNote)) == 0
        db.session.remove()


# --- the timeline ----------------------------------------------------------------------------


def test_the_timeline_has_every_kind_newest_first(app, cora, make_advocate, make_ask, make_engagement):
    dana = make_advocate(tier="Active")
    make_ask(dana, status="declined", decline_reason="busy")
    make_engagement(dana, status="completed")
    with app.app_context():
        by = staff(app, cora.id)
        flow.award_points(dana.id, "event", "Keynote at HealthConf", by=by)
        tiers.change_tier(dana.id, tier_id("Premier"), by=by)
        flow.add_note(dana.id, "Great on stage.", by=by)
        moments = flow.timeline(dana.id)
        kinds = [m.kind for m in moments]
        assert set(kinds) == {"ask", "engagement", "points", "status", "note"}
        assert kinds[0] == "note"  # the latest
        assert [m.at for m in moments] == sorted((m.at for m in moments), reverse=True)
        assert flow.actor_names(moments) == {cora.id: "Cora Ordinator"}
        assert len(flow.timeline(dana.id, limit=2)) == 2
        db.session.remove()


# --- many at once ----------------------------------------------------------------------------


def test_a_bulk_tier_change_skips_whoever_it_does_not_fit_and_says_why(app, cora, make_advocate):
    dana = make_advocate(name="Dana Example", tier="Active")
    pia = make_advocate(name="Pia Premier", tier="Premier")
    rex = make_advocate(name="Rex Retired", tier="Active", status="retired")
    with app.app_context():
        plan = flow.plan_bulk([dana.id, pia.id, rex.id], "tier", tier_id("Premier"))
        assert [i.advocate.account.name for i in plan.applies] == ["Dana Example"]
        assert {i.advocate.account.name: i.skip for i in plan.skipped} == {
            "Pia Premier": "already in the Premier tier", "Rex Retired": "retired: their profile is closed"}
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0  # a plan writes nothing

        done = flow.apply_bulk([dana.id, pia.id, rex.id], "tier", by=staff(app, cora.id),
                               tier_id=tier_id("Premier"))
        assert done.changed == ["Dana Example"]
        assert [name for name, _why in done.skipped] == ["Pia Premier", "Rex Retired"]
        assert db.session.get(Advocate, dana.id).tier.name == "Premier"
        assert len(events("advocate.tier_changed")) == 1
        assert events("advocates.bulk_changed")[0].detail["changed"] == 1
        db.session.remove()


def test_a_bulk_pause_is_one_transaction(app, cora, make_advocate, make_ask, monkeypatch):
    dana = make_advocate(name="Dana Example")
    eve = make_advocate(name="Eve Example")
    make_ask(eve)
    real_step = flow.pause_step

    def failing_second(advocate, **kwargs):
        if advocate.id == eve.id:
            raise RuntimeError("the database went away")
        return real_step(advocate, **kwargs)

    monkeypatch.setattr(flow, "pause_step", failing_second)
    with app.app_context():
        with pytest.raises(RuntimeError):
            flow.apply_bulk([dana.id, eve.id], "pause", by=staff(app, cora.id))
        assert db.session.get(Advocate, dana.id).status is AdvocateStatus.ACTIVE  # nothing half-written
        monkeypatch.setattr(flow, "pause_step", real_step)
        done = flow.apply_bulk([dana.id, eve.id], "pause", by=staff(app, cora.id), reason="Summer")
        assert done.changed == ["Dana Example", "Eve Example"]
        assert {a.status for a in db.session.scalars(select(Advocate))} == {AdvocateStatus.PAUSED}
        db.session.remove()


def test_a_bulk_nudge_respects_unsubscribes_and_goes_once_a_day(app, cora, make_advocate, smtp, deliver):
    dana = make_advocate(name="Dana Example", email="dana@example.com")
    una = make_advocate(name="Una Subscribed", email="una@example.com")
    paul = make_advocate(name="Paul Paused", email="paul@example.com", status="paused")
    with app.app_context():
        unsubscribe.unsubscribe(unsubscribe.token("una@example.com"))
        ids = [dana.id, una.id, paul.id]
        done = flow.apply_bulk(ids, "nudge", by=staff(app, cora.id))
        assert done.changed == ["Dana Example"]
        assert dict(done.skipped) == {"Una Subscribed": "unsubscribed from program mail",
                                      "Paul Paused": "not in the program (only advocates in it are nudged)"}
        again = flow.apply_bulk(ids, "nudge", by=staff(app, cora.id))
        assert again.changed == [] and dict(again.skipped)["Dana Example"] == "nudged today already"
        db.session.remove()
    deliver()
    [mail] = smtp.wait_for("dana@example.com")
    assert mail["List-Unsubscribe"]  # program mail, with its unsubscribe link
    assert smtp.to("una@example.com") == [] and smtp.to("paul@example.com") == []


def test_bulk_input_is_checked_before_anything_is_read(app, cora, make_advocate):
    dana = make_advocate()
    with app.app_context():
        by = staff(app, cora.id)
        with pytest.raises(errors.Invalid, match="Pick what to do"):
            flow.apply_bulk([dana.id], "delete", by=by)
        with pytest.raises(errors.Invalid, match="at least one"):
            flow.apply_bulk([], "pause", by=by)
        with pytest.raises(errors.Invalid, match="at most 200"):
            flow.apply_bulk(range(1, 202), "pause", by=by)
        with pytest.raises(errors.Invalid, match="Pick a tier"):
            flow.apply_bulk([dana.id], "tier", by=by, tier_id=None)
        with pytest.raises(errors.NotFound):
            flow.apply_bulk([999_999], "pause", by=by)
        db.session.remove()


def test_the_last_ask_of_a_request_withdrawn_reopens_it_for_a_next_candidate(app, cora, make_advocate,
                                                                             make_request, make_ask):
    dana = make_advocate()
    request = make_request(status=RequestStatus.ASKING)
    make_ask(dana, request=request)
    with app.app_context():
        flow.pause(dana.id, by=staff(app, cora.id), reason="")
        assert db.session.get(ReferenceRequest, request.id).status is RequestStatus.NEW
        assert utcnow() - db.session.get(Advocate, dana.id).status_changed_at < timedelta(minutes=1)
        db.session.remove()
