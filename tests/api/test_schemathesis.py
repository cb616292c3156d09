"""Schemathesis against the live ``/api/v1/openapi.json`` (DESIGN.md §7.13): every operation,
with data the document allows and data it does not, as a seller and as a coordinator, on a
database holding a few advocates and requests so that ids resolve.

The checks: no answer is a server error; every answer has a status, a content type, headers and
a body the document lists; what the document allows is accepted (a 404 or 409 is an answer about
the data, not its shape); what it does not allow is refused. Bounded and derandomized: the same
examples every run.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from admin.api.openapi import PATHS
from models import Advocate, Format, db
from models.types import utcnow
from workflows import tokens

EXAMPLES = 60  # per operation and mode; each is sent as a seller and as a coordinator
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, positive_data_acceptance, negative_data_rejection]
ROLES = ("sales", "coordinator")

# (method, path, mode): an operation that reads no input has no invalid input to send.
OPERATIONS = [
    (method.upper(), path, mode)
    for path, item in PATHS.items() for method, operation in item.items() if method != "parameters"
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or "parameters" in item or "parameters" in operation
    or "requestBody" in operation
]

# JSON Schema cannot say "today or later": the document says it in words (needed_by's
# description), and the generator is told here, so that the dates it calls valid are.
_today = utcnow().date()
schemathesis.openapi.format(
    "date", st.dates(min_value=_today, max_value=_today + timedelta(days=3 * 365)).map(str)
)

CONFIG = {
    "generation": {"with-security-parameters": False},
    "operations": [
        {
            # Which advocates exist and who is eligible now is the database's to say: asking
            # one that is not (a well-formed advocate_id) is the contract's 422 (DESIGN.md §9).
            "include-operation-id": "createAsk",
            "checks": {"positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"],
            }},
        },
    ],
}


@pytest.fixture()
def world(app, make_account, make_advocate, make_request):
    """A seller's and a coordinator's token headers; three advocates who do written references;
    three written requests, the first of them the seller's."""
    headers, accounts = {}, {}
    for role in ROLES:
        accounts[role] = make_account(role=role)
        with app.app_context():
            _token, secret = tokens.create_token(accounts[role].email)
        headers[role] = {"Authorization": f"Bearer {secret}"}
    advocates = [make_advocate() for _ in range(3)]
    with app.app_context():
        written = db.session.scalar(select(Format).where(Format.code == "written"))
        for advocate in advocates:
            db.session.get(Advocate, advocate.id).formats = [written]
        db.session.commit()
    requests = [make_request(format="written", questions=["How did the rollout go?"],
                             requested_by=accounts["sales"] if n == 0 else None) for n in range(3)]
    config = SchemathesisConfig.from_dict(CONFIG)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    return schema, headers, [r.id for r in requests], [a.id for a in advocates]


def cases(operation, mode, request_ids, advocate_ids):
    """The operation's generated cases; valid ones also aimed at the requests and advocates
    that exist, so that the answers are not all 404s and 422s."""
    generated = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE or "{id}" not in operation.path:
        return generated
    body = {"advocate_id": st.sampled_from(advocate_ids)} if operation.path.endswith("/asks") else None
    aimed = st.sampled_from(request_ids).flatmap(lambda request_id: (
        st.fixed_dictionaries(body).flatmap(lambda chosen: operation.as_strategy(
            generation_mode=mode, path_parameters={"id": request_id}, body=chosen))
        if body else operation.as_strategy(generation_mode=mode, path_parameters={"id": request_id})
    ))
    return st.one_of(aimed, generated)


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS, ids=str)
def test_the_api_answers_as_its_document_says(world, method, path, mode):
    schema, headers, request_ids, advocate_ids = world
    operation = schema[path][method]

    sent = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases(operation, mode, request_ids, advocate_ids))
    def check(case):
        for role in ROLES:
            sent.append(case.call_and_validate(headers=headers[role], checks=CHECKS).status_code)

    check()
    assert sent
    print(f"schemathesis {method} {path} {mode}: {len(sent)} requests")  # shown with -s
