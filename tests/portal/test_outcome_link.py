"""The seller's one-click outcome link: opening it changes nothing, its button records the
outcome as the seller, and a tampered, foreign or spent link is refused with a page."""

from __future__ import annotations

from models import Account, ReferenceRequest, RequestOutcome, RequestStatus, db
from tests.conftest import csrf_token
from tests.helpers import text
from workflows import outcome_links
from workflows.links import Purpose, sign


def links(app, request_id: int) -> dict[str, str]:
    with app.test_request_context():
        request = db.session.get(ReferenceRequest, request_id)
        made = {o.value: "/" + outcome_links.link(request, o).split("/", 3)[3]
                for o in (RequestOutcome.WON, RequestOutcome.LOST)}
        db.session.remove()
    return made


def outcome_of(app, request_id: int) -> RequestOutcome:
    with app.app_context():
        found = db.session.get(ReferenceRequest, request_id).outcome
        db.session.remove()
    return found


def test_opening_the_link_changes_nothing_and_its_button_records_the_outcome(app, client, make_request):
    request = make_request(status=RequestStatus.COMPLETED, opportunity_name="Initech expansion")
    lost = links(app, request.id)["lost"]

    page = client.get(lost)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "same-origin"
    assert "Initech expansion" in html and "Record that the deal was lost" in text(html)
    assert client.head(lost).status_code == 200
    assert outcome_of(app, request.id) is RequestOutcome.OPEN

    assert client.post(lost, data={}).status_code == 400  # no CSRF token, nothing recorded
    assert client.post(lost, data={"csrf_token": csrf_token(html)}).status_code == 302
    assert outcome_of(app, request.id) is RequestOutcome.LOST
    with app.app_context():
        event = db.session.get(ReferenceRequest, request.id).events[-1]
        assert (event.kind, event.actor_id) == ("outcome", request.requested_by_id)
        db.session.remove()
    assert "The outcome is recorded: the deal was lost" in text(client.get(lost).get_data(as_text=True))


def test_the_other_choice_is_refused_once_an_outcome_is_recorded(app, client, make_request):
    request = make_request(status=RequestStatus.COMPLETED)
    made = links(app, request.id)
    token = csrf_token(client.get(made["won"]).get_data(as_text=True))
    assert client.post(made["won"], data={"csrf_token": token}).status_code == 302
    for method in ("get", "post"):
        refused = getattr(client, method)(made["lost"], data={"csrf_token": token})
        assert refused.status_code == 409
        assert "already recorded" in refused.get_data(as_text=True)
    assert outcome_of(app, request.id) is RequestOutcome.WON


def test_a_tampered_foreign_or_orphaned_link_is_refused_with_a_page(app, client, make_request):
    request = make_request(status=RequestStatus.COMPLETED)
    won = links(app, request.id)["won"]
    assert client.get(won[:-3] + "abc").status_code == 400
    with app.test_request_context():
        foreign = sign(Purpose.FEEDBACK, {"r": request.id, "o": "won", "a": request.requested_by_id})
        odd = sign(Purpose.OUTCOME, {"r": request.id, "o": "open", "a": request.requested_by_id})
        someone_else = sign(Purpose.OUTCOME, {"r": request.id, "o": "won", "a": 999})
    assert client.get(f"/outcome/{foreign}").status_code == 400
    assert client.get(f"/outcome/{odd}").status_code == 400
    assert client.get(f"/outcome/{someone_else}").status_code == 410
    with app.app_context():
        db.session.get(Account, request.requested_by_id).active = False
        db.session.commit()
    gone = client.get(won)
    assert gone.status_code == 410 and "no longer yours" in gone.get_data(as_text=True)
    assert outcome_of(app, request.id) is RequestOutcome.OPEN


def test_the_outcome_page_issues_a_fixed_number_of_queries(app, client, make_request, count_queries):
    request = make_request(status=RequestStatus.COMPLETED)
    won = links(app, request.id)["won"]
    with count_queries() as queries:
        assert client.get(won).status_code == 200
    assert len(queries) <= 2, queries
