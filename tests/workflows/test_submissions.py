"""One-time submission keys: the same form or API call sent twice creates one record."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from models import ReferenceRequest, db
from tests.conftest import csrf_token
from tests.helpers import flashed, page
from workflows import errors, submissions
from workflows.transaction import transaction

FORM = {"prospect_company": "Northwind Clinics", "industry": "Healthcare", "format": "written",
        "questions": "How did the rollout go?"}
BODY = {"prospect_company": "Globex Corp", "industry": "Technology", "format": "written",
        "questions": ["Why us?"]}


def requests_saved(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(ReferenceRequest))
        db.session.remove()
    return count


def test_claiming_a_key_twice_names_what_the_first_claim_created(app, make_account):
    account = make_account(role="sales")
    with app.app_context():
        with transaction():
            claimed = submissions.claim(account.id, "test", "key-1")
            submissions.done(claimed, 42)
        with pytest.raises(submissions.AlreadySubmitted) as again, transaction():
            submissions.claim(account.id, "test", "key-1")
        assert again.value.submission.resource_id == 42
        with transaction():  # another scope, or another account, is another key
            submissions.claim(account.id, "other", "key-1")
        db.session.remove()


@pytest.mark.parametrize("key", ["", " ", "with space", "x" * 201, "é", "a\x00b"])
def test_a_malformed_key_is_refused(key):
    with pytest.raises(errors.Invalid):
        submissions.check_key(key)


def test_the_request_form_sent_twice_creates_one_request(app, signed_in):
    http, _seller = signed_in("sales")
    form_html = page(http, "/admin/requests/new")
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', form_html).group(1)
    data = {**FORM, "csrf_token": csrf_token(form_html), "submission_key": key}

    first = http.post("/admin/requests/new", data=data)
    second = http.post("/admin/requests/new", data=data)

    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert requests_saved(app) == 1
    assert flashed(page(http, second.headers["Location"]))[-1] == (
        "This form was already sent: here is the request it created. Nothing new was saved."
    )
    # Opening the form again gives a new key: a second request on purpose is a second request.
    again = page(http, "/admin/requests/new")
    new_key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', again).group(1)
    assert new_key != key
    http.post("/admin/requests/new", data={**data, "submission_key": new_key})
    assert requests_saved(app) == 2


def test_the_api_answers_a_retry_with_the_same_key_with_the_first_answer(app, api_client):
    client, _seller = api_client("sales")
    headers = {"Idempotency-Key": "crm-opportunity-006-attempt"}

    first = client.post("/api/v1/requests", json=BODY, headers=headers)
    retry = client.post("/api/v1/requests", json=BODY, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert retry.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert retry.headers["Location"] == first.headers["Location"]
    assert requests_saved(app) == 1

    other = client.post("/api/v1/requests", json={**BODY, "prospect_company": "Initech"}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["fields"]
    assert requests_saved(app) == 1
    assert client.post("/api/v1/requests", json=BODY).status_code == 201  # no key: a new request
    assert requests_saved(app) == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 201])
def test_a_malformed_idempotency_key_is_a_400(app, api_client, key):
    client, _ = api_client("sales")
    response = client.post("/api/v1/requests", json=BODY, headers={"Idempotency-Key": key})
    assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["fields"]
    assert requests_saved(app) == 0


def test_two_retries_at_the_same_moment_create_one_request(app, api_client):
    client, seller = api_client("sales")
    secret = client.secret
    barrier = threading.Barrier(4, timeout=30)
    answers: list = []

    def send():
        http = app.test_client()
        barrier.wait()
        response = http.post("/api/v1/requests", json=BODY, headers={
            "Authorization": f"Bearer {secret}", "Idempotency-Key": "same-moment"})
        answers.append((response.status_code, response.get_json()["id"]))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 4
    assert {status for status, _ in answers} == {201}
    assert len({request_id for _, request_id in answers}) == 1
    assert requests_saved(app) == 1
