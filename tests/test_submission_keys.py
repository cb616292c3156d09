"""Every create form carries a one-time submission key (``pages.OnceForm``), claimed inside its
workflow's transaction: the same form sent twice creates one record and lands where the first
send did, saying nothing new was saved; two page loads (two keys) create two. Two sends of the
same key at the same moment also create exactly one (run on PostgreSQL too)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from models import ApiToken, Blackout, Redemption, ReferenceRequest, Role, Submission, WeeklyWindow, db
from pages import ALREADY_SENT
from tests.conftest import csrf_token
from tests.portal.test_perks import add_perk, give_points
from workflows import points

SESSION_COOKIE = "vouch_session"
NEXT_MONTH = date.today() + timedelta(days=30)


@dataclass
class Case:
    """One create form: where it is, what it sends, what it creates and where it lands."""

    role: str
    page: str
    action: str
    model: type
    first: dict  # the form's fields
    second: dict  # another record's fields (for a second page load)
    key_field: str = "submission_key"
    landing: str = ""  # the path the first send leads to ("" when it is the created record's page)
    flash: str = ALREADY_SENT


def cases(perk_id: int | None = None) -> dict[str, Case]:
    return {
        "request": Case(
            "sales", "/admin/requests/new", "/admin/requests/new", ReferenceRequest,
            {"prospect_company": "Zephyr Hospitals AG", "industry": "Healthcare", "format": "call"},
            {"prospect_company": "Orbit Clinics", "industry": "Healthcare", "format": "call"},
            flash="This form was already sent: here is the request it created. Nothing new was saved.",
        ),
        "window": Case(
            "advocate", "/portal/availability", "/portal/availability/windows", WeeklyWindow,
            {"weekday": "0", "starts": "09:00", "ends": "10:00"},
            {"weekday": "0", "starts": "10:00", "ends": "11:00"},
            landing="/portal/availability",
        ),
        "blackout": Case(
            "advocate", "/portal/availability", "/portal/availability/blackouts", Blackout,
            {"starts_on": NEXT_MONTH.isoformat(), "ends_on": NEXT_MONTH.isoformat(), "reason": "Holiday"},
            {"starts_on": NEXT_MONTH.isoformat(), "ends_on": NEXT_MONTH.isoformat(), "reason": "Holiday"},
            landing="/portal/availability",
        ),
        "redemption": Case(
            "advocate", "/portal/perks", f"/portal/perks/{perk_id}/redeem", Redemption,
            {f"perk-{perk_id}-note": "Size M"}, {f"perk-{perk_id}-note": "Size L"},
            key_field=f"perk-{perk_id}-submission_key", landing="/portal/perks",
        ),
        "token": Case(
            "sales", "/admin/tokens", "/admin/tokens", ApiToken,
            {"name": "Our CRM"}, {"name": "Our CRM"}, landing="/admin/tokens",
        ),
    }


FORMS = ["request", "window", "blackout", "redemption", "token"]


# --- helpers ---------------------------------------------------------------------------------


def hidden(html: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*type="hidden"[^>]*value="([^"]+)"', html)
    assert found, f"no hidden {name} on the page"
    return found.group(1)


def load(http, case: Case) -> dict:
    """Open the form's page: its CSRF token and its fresh submission key."""
    response = http.get(case.page)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    html = response.get_data(as_text=True)
    return {"csrf_token": csrf_token(html), case.key_field: hidden(html, case.key_field)}


def count(app, model) -> int:
    with app.app_context():
        found = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
    return found


def landed(case: Case, response) -> str:
    """The path a send leads to: the redirect's, or the page's own for a page rendered in answer."""
    if response.status_code == 302:
        return urlsplit(response.headers["Location"]).path
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return case.action


@pytest.fixture()
def setup(app, make_account, make_advocate, sign_in, client):
    """``setup(form)`` → (the form's case, a client signed in with an account that may use it)."""

    def run(form: str):
        advocate = make_advocate(tier="Active")
        give_points(app, advocate.id, 1000)
        perk_id = add_perk(app, "Branded hoodie", "Occasional", 150)
        case = cases(perk_id)[form]
        account = advocate.account if case.role == "advocate" else make_account(role=Role(case.role))
        sign_in(account, http=client)
        return case, client, advocate

    return run


# --- one record per key ----------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_the_same_form_sent_twice_creates_one_record(app, setup, form):
    case, http, advocate = setup(form)
    sent = {**load(http, case), **case.first}

    first = http.post(case.action, data=sent)
    again = http.post(case.action, data=sent)

    assert count(app, case.model) == 1
    assert first.status_code in (200, 302), first.get_data(as_text=True)[:2000]
    assert again.status_code == 302
    assert landed(case, again) == (case.landing or landed(case, first))
    followed = http.get(again.headers["Location"]).get_data(as_text=True)
    assert case.flash in followed
    with app.app_context():
        [submission] = db.session.scalars(select(Submission)).all()
        assert submission.key == sent[case.key_field]
        assert submission.resource_id == db.session.scalar(select(case.model.id))
        db.session.remove()
    if form == "redemption":  # and the points were spent once
        with app.app_context():
            assert points.balance(advocate.id) == 850
            db.session.remove()


@pytest.mark.parametrize("form", FORMS)
def test_two_page_loads_create_two_records(app, setup, form):
    case, http, _advocate = setup(form)
    first_load = load(http, case)
    assert http.post(case.action, data={**first_load, **case.first}).status_code in (200, 302)
    second_load = load(http, case)
    assert second_load[case.key_field] != first_load[case.key_field]
    assert http.post(case.action, data={**second_load, **case.second}).status_code in (200, 302)

    assert count(app, case.model) == 2


def test_a_refused_send_keeps_its_key_for_the_corrected_one(app, setup):
    """A refusal rolls its claim back: the page shown again carries the same key, and sending
    it corrected adds the window."""
    case, http, _advocate = setup("window")
    sent = {**load(http, case), "weekday": "0", "starts": "10:00", "ends": "09:00"}

    refused = http.post(case.action, data=sent)

    assert refused.status_code == 400
    assert hidden(refused.get_data(as_text=True), case.key_field) == sent[case.key_field]
    assert count(app, Submission) == 0
    corrected = http.post(case.action, data={**sent, "starts": "09:00", "ends": "10:00"})
    assert corrected.status_code == 302
    assert count(app, WeeklyWindow) == 1


def test_a_post_without_a_key_still_creates(app, setup):
    """A script's post without the hidden field is not refused: it has no key to repeat."""
    case, http, _advocate = setup("blackout")
    sent = {"csrf_token": load(http, case)["csrf_token"], **case.first}
    assert http.post(case.action, data=sent).status_code == 302
    assert http.post(case.action, data=sent).status_code == 302
    assert count(app, Blackout) == 2
    assert count(app, Submission) == 0


def test_the_two_create_forms_of_one_page_carry_keys_of_their_own(app, setup):
    case, http, _advocate = setup("window")
    html = http.get(case.page).get_data(as_text=True)
    keys = re.findall(r'name="submission_key" type="hidden" value="([^"]+)"', html)
    assert len(keys) == len(set(keys)) == 2
    assert 'id="submission_key"' not in html  # two forms, one page: no id used twice


# --- at the same moment ----------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_two_sends_of_one_key_at_the_same_moment_create_one_record(app, setup, form):
    """Two tabs of one session send the same form at once (threads started together by a
    barrier): one creates, the other finds the claim and creates nothing."""
    case, http, _advocate = setup(form)
    sent = {**load(http, case), **case.first}
    session = http.get_cookie(SESSION_COOKIE)
    tabs = [app.test_client() for _ in range(2)]
    for tab in tabs:
        tab.set_cookie(SESSION_COOKIE, session.value)
    barrier = threading.Barrier(len(tabs))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def send(tab) -> None:
        try:
            barrier.wait(10)
            statuses.append(tab.post(case.action, data=sent).status_code)
        except BaseException as error:  # reported by the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=send, args=(tab,), daemon=True) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert all(status in (200, 302) for status in statuses), statuses
    assert count(app, case.model) == 1
    assert count(app, Submission) == 1
