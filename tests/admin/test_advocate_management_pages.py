"""The coordinator's controls on the advocate page (tier, pause, resume, retire behind
confirmation steps; points; notes; the timeline), the pool's bulk actions with their
confirmation page, and the tier changes queue: flashes, bad input answered 4xx with nothing
written, staff only, query counts that do not grow."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import (
    Advocate,
    AdvocateNote,
    AdvocateStatus,
    AuditEvent,
    PointsEntry,
    Tier,
    TierSuggestion,
    TierSuggestionStatus,
    db,
)
from tests.conftest import csrf_token, text_body
from tests.helpers import flashed, page, section, text
from tests.test_confirm_steps import opened, step


@pytest.fixture()
def coordinator(signed_in):
    http, account = signed_in("coordinator", name="Cora Ordinator")
    return http


def tier_id(app, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Tier.id).where(Tier.name == name))
        db.session.remove()
    return found


def advocate_row(app, advocate_id: int) -> Advocate:
    with app.app_context():
        found = db.session.get(Advocate, advocate_id)
        found.tier  # noqa: B018  (loaded before detaching)
        db.session.expunge_all()
        db.session.remove()
    return found


def count(app, model, *where) -> int:
    with app.app_context():
        found = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
    return found


def post(http, url: str, data: dict, *, form_page: str, follow: bool = True):
    token = csrf_token(page(http, form_page))
    return http.post(url, data={"csrf_token": token, **data}, follow_redirects=follow)


# --- the advocate page -----------------------------------------------------------------------


def test_each_change_of_place_sits_behind_a_closed_confirmation_step(coordinator, make_advocate, make_ask):
    dana = make_advocate(name="Dana Example")
    make_ask(dana)
    html = page(coordinator, f"/admin/advocates/{dana.id}")
    base = f"/admin/advocates/{dana.id}"

    tier = step(html, f"{base}/tier")
    assert not opened(tier)
    assert re.search(r'<label for="tier-tier">New tier</label>\s*<select[^>]+name="tier-tier"', tier)
    pause = step(html, f"{base}/pause")
    assert "1 ask waiting for their answer is withdrawn" in pause
    assert '<button type="submit" class="danger">Yes, pause Dana Example</button>' in pause
    retire = step(html, f"{base}/retire")
    assert "This cannot be undone." in retire and not opened(retire)
    assert f'action="{base}/resume"' not in html  # an active advocate has nothing to resume
    for label in ("For", "What was it? (the advocate reads it in their points history)",
                  "Note (staff only: the advocate never sees it)"):
        assert f">{label}</label>" in html


def test_pausing_from_the_page_flashes_audits_and_e_mails(app, coordinator, make_advocate, smtp, deliver):
    dana = make_advocate(name="Dana Example", email="dana@example.com")
    url = f"/admin/advocates/{dana.id}"

    response = post(coordinator, f"{url}/pause", {"pause-reason": "Parental leave"}, form_page=url)

    assert response.status_code == 200
    assert flashed(response.get_data(as_text=True))[0].startswith(
        "Dana Example is paused: nobody can ask them until you resume them. No pending ask withdrawn")
    html = response.get_data(as_text=True)
    assert "Parental leave" in section(html, "actions")
    assert f'action="{url}/resume"' in html and f'action="{url}/pause"' not in html
    assert advocate_row(app, dana.id).status is AdvocateStatus.PAUSED
    assert count(app, AuditEvent, AuditEvent.kind == "advocate.paused") == 1
    deliver()
    assert smtp.wait_for("dana@example.com")[0]["Subject"] == "Your reference profile is paused"

    response = post(coordinator, f"{url}/resume", {}, form_page=url)
    assert "Dana Example is back in the program" in flashed(response.get_data(as_text=True))[0]
    assert "Back in the program" in section(response.get_data(as_text=True), "timeline")


def test_retiring_without_a_reason_leaves_the_step_open_with_the_error(app, coordinator, make_advocate):
    dana = make_advocate(name="Dana Example")
    url = f"/admin/advocates/{dana.id}"
    response = post(coordinator, f"{url}/retire", {"retire-reason": ""}, form_page=url, follow=False)
    assert response.status_code == 400
    retire = step(response.get_data(as_text=True), f"{url}/retire")
    assert opened(retire) and "Say why they retire." in retire
    assert advocate_row(app, dana.id).status is AdvocateStatus.ACTIVE

    response = post(coordinator, f"{url}/retire", {"retire-reason": "Moved to a competitor"}, form_page=url)
    assert flashed(response.get_data(as_text=True)) == [
        "Dana Example is retired. They get an e-mail thanking them."]
    assert advocate_row(app, dana.id).status is AdvocateStatus.RETIRED
    assert f'action="{url}/tier"' not in response.get_data(as_text=True)  # nothing more to change


def test_a_tier_change_from_the_page_names_the_lowered_cap(app, coordinator, make_advocate, smtp, deliver):
    dana = make_advocate(email="dana@example.com", tier="Premier", quarterly_cap=5)
    url = f"/admin/advocates/{dana.id}"
    response = post(coordinator, f"{url}/tier", {"tier-tier": str(tier_id(app, "Active"))}, form_page=url)
    message = flashed(response.get_data(as_text=True))[0]
    assert "Moved to the Active tier. Their personal cap was lowered from 5 to 4" in message
    assert "Premier → Active" in section(response.get_data(as_text=True), "timeline")
    deliver()
    assert "so it is now 4" in text_body(smtp.wait_for("dana@example.com")[0])


@pytest.mark.parametrize("tier", ["", "999999", "99999999999999999999", "abc", "-1"])
def test_an_unknown_tier_is_refused_400_and_nothing_changes(app, coordinator, make_advocate, tier):
    dana = make_advocate(tier="Active")
    url = f"/admin/advocates/{dana.id}"
    response = post(coordinator, f"{url}/tier", {"tier-tier": tier}, form_page=url, follow=False)
    assert response.status_code == 400
    assert opened(step(response.get_data(as_text=True), f"{url}/tier"))
    assert advocate_row(app, dana.id).tier.name == "Active"
    assert count(app, AuditEvent, AuditEvent.kind == "advocate.tier_changed") == 0


def test_a_nul_byte_in_a_reason_or_a_note_is_refused_422(app, coordinator, make_advocate):
    dana = make_advocate()
    url = f"/admin/advocates/{dana.id}"
    for action, field in (("pause", "pause-reason"), ("retire", "retire-reason"), ("notes", "note-body"),
                          ("points", "points-note")):
        response = post(coordinator, f"{url}/{action}", {field: "bad\x00text", "points-reason": "review"},
                        form_page=url, follow=False)
        assert response.status_code == 422, action
    assert advocate_row(app, dana.id).status is AdvocateStatus.ACTIVE
    assert count(app, AdvocateNote) == 0 and count(app, PointsEntry) == 0


def test_ids_beyond_the_integer_range_and_unknown_advocates_are_404(coordinator, make_advocate):
    dana = make_advocate()
    token = csrf_token(page(coordinator, f"/admin/advocates/{dana.id}"))
    for advocate_id in ("99999999999", "2147483648", "999999"):
        for action in ("pause", "resume", "retire", "tier", "points", "notes"):
            response = coordinator.post(f"/admin/advocates/{advocate_id}/{action}",
                                        data={"csrf_token": token, "retire-reason": "x",
                                              "tier-tier": "1", "points-reason": "review", "points-note": "x",
                                              "note-body": "x"})
            assert response.status_code == 404, (advocate_id, action)


def test_resuming_an_active_advocate_is_a_conflict(coordinator, make_advocate):
    dana = make_advocate(name="Dana Example")
    url = f"/admin/advocates/{dana.id}"
    response = post(coordinator, f"{url}/resume", {}, form_page=url, follow=False)
    assert response.status_code == 409
    assert "Dana Example is already in the program. Nothing was changed." in flashed(
        response.get_data(as_text=True))


def test_points_sent_twice_are_awarded_once(app, coordinator, make_advocate):
    dana = make_advocate(name="Dana Example")
    url = f"/admin/advocates/{dana.id}"
    html = page(coordinator, url)
    data = {"csrf_token": csrf_token(html), "points-reason": "case_study", "points-note": "Published in May",
            "points-submission_key": re.search(r'name="points-submission_key" type="hidden" value="([^"]+)"',
                                               html).group(1)}
    first = coordinator.post(f"{url}/points", data=data, follow_redirects=True)
    second = coordinator.post(f"{url}/points", data=data, follow_redirects=True)

    points = app.config["POINTS_CASE_STUDY_OR_EVENT"]
    assert flashed(first.get_data(as_text=True)) == [
        f"{points} points awarded to Dana Example (a published case study); their balance is {points}."]
    assert "No points were awarded twice." in flashed(second.get_data(as_text=True))[0]
    assert count(app, PointsEntry) == 1
    assert "Published in May" in section(second.get_data(as_text=True), "timeline")


def test_a_note_shows_on_the_timeline_and_never_to_the_advocate(app, coordinator, signed_in, make_advocate):
    dana = make_advocate(name="Dana Example")
    url = f"/admin/advocates/{dana.id}"
    response = post(coordinator, f"{url}/notes", {"note-body": "Sensitive: renewal at risk."}, form_page=url)
    assert flashed(response.get_data(as_text=True)) == ["The note is saved. Only staff can read it."]
    assert "Sensitive: renewal at risk." in section(response.get_data(as_text=True), "timeline")

    advocate_http, _account = signed_in(account=dana.account)
    for portal_page in ("/portal", "/portal/history", "/portal/privacy", "/portal/privacy/my-data.json"):
        assert "renewal at risk" not in page(advocate_http, portal_page), portal_page


@pytest.mark.parametrize("role", ["sales", "advocate"])
def test_only_staff_manage_advocates(app, signed_in, make_advocate, role):
    dana = make_advocate()
    http, _account = signed_in(role)
    token = csrf_token(http.get("/", follow_redirects=True).get_data(as_text=True))
    for action in ("pause", "resume", "retire", "tier", "points", "notes"):
        response = http.post(f"/admin/advocates/{dana.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 403
    assert http.post("/admin/advocates/bulk", data={"csrf_token": token}).status_code == 403
    assert http.get("/admin/tier-changes").status_code == 403
    assert http.post("/admin/tier-changes/1/approve", data={"csrf_token": token}).status_code == 403
    assert advocate_row(app, dana.id).status is AdvocateStatus.ACTIVE


# --- the pool's bulk actions -----------------------------------------------------------------


def test_the_pool_bulk_change_confirms_then_says_how_many_and_who_was_skipped(app, coordinator,
                                                                              make_advocate):
    dana = make_advocate(name="Dana Example", tier="Active")
    pia = make_advocate(name="Pia Premier", tier="Premier")
    pool = page(coordinator, "/admin/advocates")
    assert f'<label for="choose-{dana.id}" class="visually-hidden">Choose Dana Example</label>' in pool
    data = {"csrf_token": csrf_token(pool), "advocate": [str(dana.id), str(pia.id)], "action": "tier",
            "tier": str(tier_id(app, "Premier"))}

    review = coordinator.post("/admin/advocates/bulk", data=data)
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    assert "1 advocate to change" in text(section(html, "applies"))
    assert "Pia Premier already in the Premier tier" in text(section(html, "skipped"))
    assert ">Yes, move 1 advocate to the Premier tier</button>" in html
    assert advocate_row(app, dana.id).tier.name == "Active"  # nothing yet

    done = coordinator.post("/admin/advocates/bulk", data={**data, "confirmed": "yes"}, follow_redirects=True)
    assert flashed(done.get_data(as_text=True)) == [
        "1 advocate moved to the new tier. 1 skipped (Pia Premier: already in the Premier tier)."]
    assert advocate_row(app, dana.id).tier.name == "Premier"


@pytest.mark.parametrize("data", [
    {"action": "tier", "tier": "999999", "advocate": "1"},
    {"action": "tier", "tier": "", "advocate": "1"},
    {"action": "explode", "advocate": "1"},
    {"action": "pause", "advocate": "99999999999"},
    {"action": "pause", "advocate": "abc"},
    {"action": "pause"},
])
def test_bad_bulk_input_is_refused_4xx(app, coordinator, make_advocate, data):
    make_advocate()
    token = csrf_token(page(coordinator, "/admin/advocates"))
    response = coordinator.post("/admin/advocates/bulk",
                                data={"csrf_token": token, "confirmed": "yes", **data})
    assert 400 <= response.status_code < 500
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert count(app, AuditEvent) == 0


def test_the_pool_bulk_pause(app, coordinator, make_advocate):
    ids = [make_advocate().id for _ in range(3)]
    token = csrf_token(page(coordinator, "/admin/advocates"))
    response = coordinator.post("/admin/advocates/bulk", follow_redirects=True, data={
        "csrf_token": token, "confirmed": "yes", "action": "pause", "advocate": [str(i) for i in ids]})
    assert flashed(response.get_data(as_text=True)) == ["3 advocates paused."]
    assert count(app, Advocate, Advocate.status == AdvocateStatus.PAUSED) == 3


# --- the tier changes queue ------------------------------------------------------------------


def suggest(app, advocate, to: str, points: int = 1000) -> int:
    with app.app_context():
        suggestion = TierSuggestion(advocate_id=advocate.id, from_tier_id=advocate.tier_id,
                                    to_tier_id=db.session.scalar(select(Tier.id).where(Tier.name == to)),
                                    points=points)
        db.session.add(suggestion)
        db.session.commit()
        found = suggestion.id
        db.session.remove()
    return found


def test_the_queue_lists_pending_suggestions_and_approves_or_dismisses_them(app, coordinator, make_advocate):
    dana = make_advocate(name="Dana Example", tier="Active")
    eve = make_advocate(name="Eve Example", tier="Premier")
    up = suggest(app, dana, "Premier", 1200)
    down = suggest(app, eve, "Active", 420)

    html = page(coordinator, "/admin/tier-changes")
    assert '<a href="/admin/tier-changes"' in html  # the menu entry now shows
    assert text(section(html, "pending")).count("promotion") == 1
    assert re.search(rf'id="suggestion-{up}".*?1200.*?Active tier → Premier tier', html, re.S)

    token = csrf_token(html)
    approved = coordinator.post(f"/admin/tier-changes/{up}/approve", data={"csrf_token": token},
                                follow_redirects=True)
    assert flashed(approved.get_data(as_text=True))[0].startswith("1 suggestion approved")
    dismissed = coordinator.post("/admin/tier-changes/bulk", follow_redirects=True,
                                 data={"csrf_token": token, "decision": "dismiss", "suggestion": str(down)})
    assert flashed(dismissed.get_data(as_text=True)) == [
        "1 suggestion dismissed: the tier stays (Eve Example)."]
    assert "No tier change is waiting" in dismissed.get_data(as_text=True)
    assert advocate_row(app, dana.id).tier.name == "Premier"
    assert advocate_row(app, eve.id).tier.name == "Premier"

    again = coordinator.post(f"/admin/tier-changes/{up}/approve", data={"csrf_token": token})
    assert again.status_code == 409
    assert coordinator.post("/admin/tier-changes/999999/approve",
                            data={"csrf_token": token}).status_code == 404
    assert coordinator.post("/admin/tier-changes/99999999999/approve",
                            data={"csrf_token": token}).status_code == 404
    for bad in ({"decision": "approve", "suggestion": "abc"}, {"decision": "maybe", "suggestion": str(up)},
                {"decision": "approve"}):
        response = coordinator.post("/admin/tier-changes/bulk", data={"csrf_token": token, **bad})
        assert response.status_code == 400


def test_the_queue_reads_a_fixed_number_of_queries(app, coordinator, make_advocate, count_queries):
    def measure() -> int:
        with count_queries() as queries:
            page(coordinator, "/admin/tier-changes")
        return len(queries)

    for _ in range(2):
        suggest(app, make_advocate(tier="Active"), "Premier")
    few = measure()
    for _ in range(15):
        suggest(app, make_advocate(tier="Occasional"), "Active")
    assert measure() == few
    assert few <= 8
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TierSuggestion)
                                 .where(TierSuggestion.status == TierSuggestionStatus.PENDING)) == 17
        db.session.remove()


def test_the_advocate_page_reads_a_fixed_number_of_queries_whatever_the_timeline(
        app, coordinator, make_advocate, make_ask, make_engagement, count_queries):
    from workflows import advocate_management as flow

    dana = make_advocate()

    def grow(n: int) -> None:
        with app.app_context():
            by = db.session.get(Advocate, dana.id).account  # any account will do as the author
            for _ in range(n):
                flow.add_note(dana.id, "A note.", by=by)
                flow.award_points(dana.id, "event", "A talk.", by=by)
            db.session.remove()
        for _ in range(n):
            make_ask(dana)
            make_engagement(dana, status="awaiting_booking")

    def measure() -> int:
        with count_queries() as queries:
            page(coordinator, f"/admin/advocates/{dana.id}")
        return len(queries)

    grow(1)
    few = measure()
    grow(25)
    assert measure() == few
    assert len(re.findall(r'<li class="moment ', page(coordinator, f"/admin/advocates/{dana.id}"))) == 40
