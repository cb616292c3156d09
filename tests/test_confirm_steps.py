"""Destructive or final actions sit behind a confirmation step (the ``confirm`` macro of
templates/_forms.html): a closed <details> whose summary names the action, holding the question,
the fields and the real submit button, posting to the same endpoint with the same fields."""

from __future__ import annotations

import re
from datetime import time

from models import Role, WeeklyWindow, db
from tests.conftest import csrf_token


def page(http, url: str, status: int = 200) -> str:
    response = http.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def step(html: str, action: str) -> str:
    """The <details> holding the form that posts to ``action``."""
    for found in re.finditer(r"<details class=\"confirm[^\"]*\".*?</details>", html, re.S):
        if f'action="{action}"' in found.group(0):
            return found.group(0)
    raise AssertionError(f"no confirmation step posts to {action}")


def opened(details: str) -> bool:
    return re.match(r"<details[^>]*\sopen[\s>]", details) is not None


def test_cancelling_a_request_and_recording_its_outcome_each_ask_first(client, make_account, sign_in,
                                                                        make_request):
    coordinator = make_account(role=Role.COORDINATOR)
    request = make_request(prospect_company="Zephyr Hospitals AG")
    sign_in(coordinator)
    html = page(client, f"/admin/requests/{request.id}")

    cancel = step(html, f"/admin/requests/{request.id}/cancel")
    assert not opened(cancel)
    assert "<summary>Cancel this request…</summary>" in cancel
    assert 'aria-label="Cancel the request"' in cancel
    assert re.search(r'<label for="reason">[^<]+</label>\s*<textarea[^>]+name="reason"', cancel)
    assert '<button type="submit" class="danger">Yes, cancel the request</button>' in cancel

    outcome = step(html, f"/admin/requests/{request.id}/outcome")
    assert not opened(outcome)
    assert "<summary>Record the deal outcome…</summary>" in outcome
    assert re.search(r'<label for="outcome">Deal outcome</label>\s*<select[^>]+name="outcome"', outcome)
    assert '<button type="submit">Yes, record the outcome</button>' in outcome


def test_a_refused_outcome_shows_its_step_open_with_the_error(client, make_account, sign_in, make_request):
    coordinator = make_account(role=Role.COORDINATOR)
    request = make_request()
    sign_in(coordinator)
    token = csrf_token(page(client, f"/admin/requests/{request.id}"))

    response = client.post(f"/admin/requests/{request.id}/outcome", data={"csrf_token": token, "outcome": ""})

    assert response.status_code == 400
    outcome = step(response.get_data(as_text=True), f"/admin/requests/{request.id}/outcome")
    assert opened(outcome)
    assert "Pick won or lost." in outcome
    assert not opened(step(response.get_data(as_text=True), f"/admin/requests/{request.id}/cancel"))


def test_removing_a_window_asks_first_and_names_the_window(app, client, make_advocate, sign_in):
    advocate = make_advocate()
    with app.app_context():
        window = WeeklyWindow(advocate_id=advocate.id, weekday=0, starts=time(9), ends=time(11))
        db.session.add(window)
        db.session.commit()
        window_id = window.id
    sign_in(advocate.account)

    remove = step(page(client, "/portal/availability"), f"/portal/availability/windows/{window_id}/remove")

    assert not opened(remove)
    assert '<summary aria-label="Remove the Monday 09:00–11:00 window…">Remove…</summary>' in remove
    assert "Remove the Monday 09:00–11:00 window? Prospects can no longer book calls in it." in remove
    assert '<button type="submit" class="danger">Yes, remove it</button>' in remove
