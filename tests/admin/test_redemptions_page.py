"""The coordinators' redemption queue: requested redemptions oldest first, fulfilled with one
button or rejected with a note behind a confirmation step (the refund reaches the advocate's
balance, the advocate hears by e-mail and reads the note on their perks page), the decided ones
below; refusals with their message and status; staff only; queries that do not grow."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models import AuditEvent, OutboxMessage, Redemption, RedemptionStatus, Role, db
from models.types import utcnow
from tests.conftest import csrf_token, text_body
from tests.helpers import flashed, page, section, text
from tests.portal.test_perks import add_perk, give_points
from tests.test_confirm_steps import opened, step
from tests.test_tables import assert_cells_labelled
from workflows import perks as flow
from workflows import points

QUEUE = "/admin/redemptions"


# --- helpers ---------------------------------------------------------------------------------


def post(http, url: str, data: dict | None = None, follow: bool = False):
    token = csrf_token(page(http, QUEUE))
    return http.post(url, data={"csrf_token": token, **(data or {})}, follow_redirects=follow)


def redeem(app, advocate_id: int, perk_id: int, note: str = "", *, days_ago: int = 0) -> int:
    """A redemption made through the workflow (points given first), ``days_ago`` days old."""
    with app.app_context():
        done = flow.redeem(advocate_id, perk_id, note)
        if days_ago:
            db.session.execute(update(Redemption).where(Redemption.id == done.redemption_id)
                               .values(requested_at=utcnow() - timedelta(days=days_ago)))
            db.session.commit()
        db.session.remove()
    return done.redemption_id


def redemption(app, redemption_id: int) -> Redemption:
    with app.app_context():
        found = db.session.get(Redemption, redemption_id)
        db.session.expunge(found)
    return found


def balance(app, advocate_id: int) -> int:
    with app.app_context():
        result = points.balance(advocate_id)
        db.session.remove()
    return result


@pytest.fixture()
def coordinator(make_account, sign_in):
    """A coordinator, signed in on ``client``."""
    account = make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")
    sign_in(account)
    return account


@pytest.fixture()
def dana(app, make_advocate):
    """An Active-tier advocate with 1000 points."""
    advocate = make_advocate(tier="Active", name="Dana Example", email="dana@customer.example",
                             company="Acme Health")
    give_points(app, advocate.id, 1000)
    return advocate


@pytest.fixture()
def hoodie(app) -> int:
    return add_perk(app, "Branded hoodie", "Occasional", 150)


@pytest.fixture()
def credits(app) -> int:
    return add_perk(app, "Training credits", "Active", 600)


# --- the page --------------------------------------------------------------------------------


def test_the_queue_lists_requested_redemptions_oldest_first_and_the_decided_below(
    app, client, coordinator, dana, make_advocate, hoodie, credits
):
    eli = make_advocate(tier="Active", name="Eli Other", company="Bolt Retail")
    give_points(app, eli.id, 1000)
    newer = redeem(app, dana.id, hoodie, "Size M, please.", days_ago=1)
    older = redeem(app, eli.id, credits, "For the admin course.", days_ago=3)
    decided = redeem(app, dana.id, hoodie, days_ago=5)
    with app.app_context():
        flow.reject(decided, by=coordinator, note="Out of stock, sorry.")
        db.session.remove()

    html = page(client, QUEUE)

    waiting = section(html, "requested")
    assert "Waiting for you (2)" in text(waiting)
    rows = [int(n) for n in re.findall(r'<tr id="redemption-(\d+)"', waiting)]
    assert rows == [older, newer]
    row = text(waiting.split(f'id="redemption-{newer}"', 1)[1].split("</tr>", 1)[0])
    assert "Dana Example Acme Health" in row and "Branded hoodie" in row and "150" in row
    assert "Size M, please." in row
    assert f'href="/admin/advocates/{dana.id}"' in waiting
    assert f'action="/admin/redemptions/{newer}/fulfil"' in waiting
    assert "For the admin course." in waiting

    past = section(html, "decided")
    assert f'id="redemption-{decided}"' in past and f'id="redemption-{older}"' not in past
    assert "rejected" in text(past) and "by Cora Ordinator" in text(past)
    assert "To them: Out of stock, sorry." in text(past)
    assert "points given back" in text(past)
    # The page is in the staff menu.
    assert '<a href="/admin/redemptions" aria-current="page">Redemptions</a>' in html


def test_an_empty_queue_says_so(client, coordinator):
    html = text(page(client, QUEUE))
    assert "Nothing is waiting: every redeemed perk has been fulfilled or rejected." in html
    assert "No redemption has been decided yet." in html


def test_every_cell_is_labelled_for_phones(app, client, coordinator, dana, hoodie):
    redeem(app, dana.id, hoodie, "Size M")
    decided = redeem(app, dana.id, hoodie)
    with app.app_context():
        flow.fulfil(decided, by=coordinator)
        db.session.remove()
    assert assert_cells_labelled(page(client, QUEUE)) == 2


def test_rejecting_sits_behind_a_confirmation_step_with_its_note(app, client, coordinator, dana, hoodie):
    waiting = redeem(app, dana.id, hoodie)
    html = page(client, QUEUE)

    reject = step(html, f"/admin/redemptions/{waiting}/reject")
    assert not opened(reject)
    assert '<summary aria-label="Reject Dana Example’s Branded hoodie…">Reject…</summary>' in reject
    assert "The 150 points go back to Dana Example" in reject
    assert f'<label for="redemption-{waiting}-note">' in reject
    assert '<button type="submit" class="danger">Yes, reject it</button>' in reject


# --- deciding through the page ---------------------------------------------------------------


def test_fulfilling_through_the_page(app, client, coordinator, dana, hoodie, smtp, deliver):
    waiting = redeem(app, dana.id, hoodie, "Size M, please.")
    deliver()  # the coordinators' e-mail about the redemption
    smtp.clear()

    response = post(client, f"{QUEUE}/{waiting}/fulfil")

    assert response.status_code == 302
    assert response.headers["Location"] == QUEUE
    html = page(client, QUEUE)
    assert flashed(html) == [
        "Dana Example’s “Branded hoodie” is marked fulfilled. Dana Example gets an e-mail saying so."
    ]
    assert f'id="redemption-{waiting}"' in section(html, "decided")
    assert "Nothing is waiting" in text(section(html, "requested"))
    done = redemption(app, waiting)
    assert (done.status, done.decided_by_id) == (RedemptionStatus.FULFILLED, coordinator.id)
    assert balance(app, dana.id) == 850  # the points stay spent
    with app.app_context():
        kinds = db.session.scalars(select(AuditEvent.kind).where(AuditEvent.actor_id == coordinator.id))
        assert "perk.redemption_fulfilled" in set(kinds)
        db.session.remove()

    assert deliver().sent == 1
    [message] = smtp.wait_for(dana.account.email)
    assert message["Subject"] == "Your Branded hoodie is on its way"
    assert f"http://vouch.test/portal/perks#redemption-{waiting}" in text_body(message)


def test_rejecting_with_a_note_refunds_and_tells_the_advocate(
    app, client, coordinator, dana, hoodie, smtp, deliver, sign_in
):
    waiting = redeem(app, dana.id, hoodie, "Size M, please.")
    assert balance(app, dana.id) == 850
    deliver()
    smtp.clear()

    response = post(client, f"{QUEUE}/{waiting}/reject",
                    {f"redemption-{waiting}-note": "  Out of stock until March, sorry.  "}, follow=True)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert flashed(html) == [
        "Dana Example’s “Branded hoodie” is rejected: the 150 points are back in their balance. "
        "Dana Example gets an e-mail with your note."
    ]
    done = redemption(app, waiting)
    assert done.status == RedemptionStatus.REJECTED
    assert (done.note, done.decision_note) == ("Size M, please.", "Out of stock until March, sorry.")

    # The e-mail, through real SMTP.
    assert deliver().sent == 1
    [message] = smtp.wait_for(dana.account.email)
    assert message["Subject"] == "About your Branded hoodie request"
    body = text_body(message)
    assert "150 points are back in your balance" in body
    assert "Out of stock until March, sorry." in body

    # The advocate's own page: the refund in the balance, the state and the note.
    advocate = app.test_client()
    sign_in(dana.account, http=advocate)
    perks = page(advocate, "/portal/perks")
    assert '<strong id="balance">1000 points</strong>' in perks
    row = perks.split(f'id="redemption-{waiting}"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="status status-rejected">rejected</span>' in row
    assert "points given back" in row
    assert "From your coordinator:" in row and "Out of stock until March, sorry." in row


def test_a_redemption_decided_already_is_refused_with_its_message(
    app, client, coordinator, dana, hoodie, make_account
):
    waiting = redeem(app, dana.id, hoodie)
    colleague = make_account(role=Role.COORDINATOR)
    with app.app_context():
        flow.fulfil(waiting, by=colleague)  # in another tab, by a colleague
        db.session.remove()
    before = balance(app, dana.id)

    for action, data in (("fulfil", {}), ("reject", {f"redemption-{waiting}-note": "No"})):
        response = post(client, f"{QUEUE}/{waiting}/{action}", data)
        assert response.status_code == 409, action
        assert flashed(response.get_data(as_text=True)) == [
            "This redemption is already fulfilled. Nothing was changed."
        ]
    assert balance(app, dana.id) == before
    assert redemption(app, waiting).decided_by_id == colleague.id


def test_a_note_over_its_length_is_refused_beside_the_field(app, client, coordinator, dana, hoodie):
    waiting = redeem(app, dana.id, hoodie)
    response = post(client, f"{QUEUE}/{waiting}/reject",
                    {f"redemption-{waiting}-note": "x" * (flow.NOTE_MAX_LENGTH + 1)})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert flashed(html) == ["Nothing was changed. Keep the note to 500 characters or fewer."]
    reject = step(html, f"/admin/redemptions/{waiting}/reject")
    assert opened(reject)
    assert f'id="redemption-{waiting}-note-error"' in reject
    assert redemption(app, waiting).status == RedemptionStatus.REQUESTED


def test_only_a_post_with_its_csrf_token_decides(app, client, coordinator, dana, hoodie):
    waiting = redeem(app, dana.id, hoodie)
    for action in ("fulfil", "reject"):
        assert client.get(f"{QUEUE}/{waiting}/{action}").status_code == 405
        assert client.post(f"{QUEUE}/{waiting}/{action}", data={}).status_code == 400
    assert redemption(app, waiting).status == RedemptionStatus.REQUESTED


def test_an_unknown_redemption_is_404(client, coordinator):
    assert post(client, f"{QUEUE}/999999/fulfil").status_code == 404
    assert post(client, f"{QUEUE}/999999/reject").status_code == 404


@pytest.mark.parametrize("role", ["sales", "advocate"])
def test_sales_and_advocates_may_not_see_or_decide(app, client, make_account, make_advocate, sign_in,
                                                   hoodie, role):
    dana = make_advocate(tier="Active")
    give_points(app, dana.id, 500)
    waiting = redeem(app, dana.id, hoodie)
    sign_in(dana.account if role == "advocate" else make_account(role=role))

    assert client.get(QUEUE).status_code == 403
    home = "/portal" if role == "advocate" else "/admin/"
    token = csrf_token(page(client, home))
    for action in ("fulfil", "reject"):
        response = client.post(f"{QUEUE}/{waiting}/{action}", data={"csrf_token": token})
        assert response.status_code == 403
    assert redemption(app, waiting).status == RedemptionStatus.REQUESTED
    if role == "sales":
        assert "/admin/redemptions" not in page(client, "/admin/")  # not in their menu


# --- queries ---------------------------------------------------------------------------------


def test_the_queue_issues_the_same_queries_whatever_the_number_of_redemptions(
    app, client, coordinator, make_advocate, count_queries
):
    def fill(count: int) -> None:
        """``count`` advocates, each with a perk of their own redeemed twice, one decided."""
        for _ in range(count):
            advocate = make_advocate(tier="Active")
            give_points(app, advocate.id, 20)
            perk = add_perk(app, f"Perk of {advocate.id}", "Occasional", 10)
            redeem(app, advocate.id, perk, "A note")
            decided = redeem(app, advocate.id, perk)
            with app.app_context():
                flow.reject(decided, by=coordinator, note="No")
                db.session.remove()

    def measure() -> int:
        with count_queries() as queries:
            response = client.get(QUEUE)
        assert response.status_code == 200
        return len(queries)

    fill(2)
    with_two = measure()
    fill(28)
    with_thirty = measure()
    assert with_two == with_thirty
    # The signed-in account, the requested ones, the decided ones (and a count when the queue
    # holds more than it shows).
    assert with_thirty <= 4
    html = page(client, QUEUE)
    assert section(html, "requested").count('<tr id="redemption-') == 30
    assert section(html, "decided").count('<tr id="redemption-') == 30


def test_the_queue_and_the_decided_list_are_bounded(app, client, coordinator, dana, monkeypatch):
    monkeypatch.setattr(flow, "QUEUE_SHOWN", 3)
    monkeypatch.setattr(flow, "DECIDED_SHOWN", 2)
    cheap = add_perk(app, "Sticker", "Occasional", 1)
    made = [redeem(app, dana.id, cheap, days_ago=10 - n) for n in range(8)]
    with app.app_context():
        for redemption_id in made[:3]:
            flow.fulfil(redemption_id, by=coordinator)
        db.session.remove()

    html = page(client, QUEUE)
    waiting = section(html, "requested")
    assert "Waiting for you (5)" in text(waiting)
    assert "the first 3 of 5 are shown" in text(waiting)
    assert [f'id="redemption-{n}"' in waiting for n in made[3:]] == [True, True, True, False, False]
    decided = section(html, "decided")
    assert decided.count('<tr id="redemption-') == 2


def test_the_coordinators_e_mail_links_to_the_redemption_in_the_queue(
    app, make_account, dana, hoodie, smtp, deliver
):
    coordinator = make_account(role=Role.COORDINATOR, email="cora@vouch.example")
    waiting = redeem(app, dana.id, hoodie, "Size M")
    assert deliver().sent == 1
    [message] = smtp.wait_for(coordinator.email)
    assert f"http://vouch.test/admin/redemptions#redemption-{waiting}" in text_body(message)
    with app.app_context():
        html = db.session.scalar(select(OutboxMessage.body_html)
                                 .where(OutboxMessage.template == "redemption_requested"))
        db.session.remove()
    assert f'href="http://vouch.test/admin/redemptions#redemption-{waiting}"' in html
