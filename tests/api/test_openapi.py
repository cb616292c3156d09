"""``GET /api/v1/openapi.json`` describes the API truthfully:

- the document is valid OpenAPI 3.1, its schemas those of the models the API reads and answers
  with, its catalogue fields listing the catalogues as they are;
- it lists exactly the API's routes, each with the roles the route really allows (``x-roles``);
- real responses of every endpoint — successes and errors alike — have a status the document
  lists for the operation, and a body (and headers) that match its schema; every response the
  document lists is produced at least once.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlalchemy import select

from admin.api.requests import MATCH_LIMIT_DEFAULT, MATCH_LIMIT_MAX
from models import Advocate, Format, db
from workflows import tokens
from workflows.requests import accept_ask

METHODS = {"get", "post", "put", "patch", "delete"}
TOKEN_ROLES = {r.value for r in tokens.TOKEN_ROLES}
IN_TWO_WEEKS = (date.today() + timedelta(days=14)).isoformat()
REQUEST = {
    "opportunity_id": "006Qy00000XYZ",
    "opportunity_name": "Globex renewal",
    "amount": 99000.5,
    "prospect_company": "Globex Corp",
    "industry": "Technology",
    "employees": 4000,
    "region": "North America",
    "contact_name": "Hank Scorpio",
    "contact_email": "hank@globex.example",
    "use_cases": ["Onboarding"],
    "topics": ["Scalability"],
    "competitors": ["Initech"],
    "format": "written",
    "needed_by": IN_TWO_WEEKS,
    "questions": ["What changed for your team?"],
    "notes": "",
}


@pytest.fixture()
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")  # no token: the description is public
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?\w+>", "{id}", rule)


def api_routes(app):
    """(OpenAPI path, method, endpoint) of the API's routes and the health check."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") or rule.endpoint == "healthz":
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield openapi_path(rule.rule), method.lower(), rule.endpoint


class Checker:
    """Checks real responses against the document, and notes which documented ones were seen."""

    def __init__(self, document: dict) -> None:
        self.document = document
        self.seen: set[tuple[str, str, str]] = set()

    def schema(self, schema: dict) -> Draft202012Validator:
        # The document's components travel with the schema, so "#/components/…" resolves.
        return Draft202012Validator(
            {**schema, "components": self.document["components"]},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

    def response_spec(self, path: str, method: str, status: int) -> tuple[str, dict]:
        responses = self.document["paths"][path][method]["responses"]
        key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
        assert key in responses, f"{method.upper()} {path} answered {status}: the document does not list it"
        spec = responses[key]
        if "$ref" in spec:
            spec = self.document["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
        return key, spec

    def check(self, response, method: str, path: str) -> dict:
        key, spec = self.response_spec(path, method, response.status_code)
        assert response.mimetype == "application/json", f"{method} {path}: {response.mimetype}"
        body = response.get_json()
        errors = sorted(self.schema(spec["content"]["application/json"]["schema"]).iter_errors(body), key=str)
        assert not errors, f"{method.upper()} {path} {response.status_code}: {errors[0]}\n{body}"
        for header in spec.get("headers", {}):
            assert header in response.headers, f"{method.upper()} {path} {response.status_code}: no {header}"
        self.seen.add((path, method, key))
        return body

    def request_body(self, path: str, method: str, body: dict) -> None:
        """A body the test sends as valid matches the document's request schema."""
        schema = self.document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        errors = list(self.schema(schema).iter_errors(body))
        assert not errors, f"the document refuses a body the API accepts: {errors[0]}"

    def documented(self) -> set[tuple[str, str, str]]:
        return {
            (path, method, status)
            for path, item in self.document["paths"].items()
            for method, operation in item.items() if method in METHODS
            for status in operation["responses"]
        }


# --- the document ------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_document_lists_exactly_the_api_routes(app, document):
    documented = {
        (path, method) for path, item in document["paths"].items() for method in item if method in METHODS
    }
    assert documented == {(path, method) for path, method, _endpoint in api_routes(app)}


def test_each_operation_names_the_roles_its_route_allows(app, document):
    for path, method, endpoint in api_routes(app):
        operation = document["paths"][path][method]
        allowed = getattr(app.view_functions[endpoint], "allowed_roles", frozenset())
        if allowed is None or endpoint == "healthz":
            assert operation["security"] == [] and "x-roles" not in operation, (path, method)
            assert "401" not in operation["responses"]
            continue
        roles = {role.value for role in allowed}
        assert set(operation["x-roles"]) == roles, (path, method)
        assert "security" not in operation  # the document's default: the bearer token
        assert "401" in operation["responses"]
        # 403 is listed where some token holders are refused, and only there.
        assert ("403" in operation["responses"]) == (roles != TOKEN_ROLES), (path, method)


def test_the_request_body_is_the_contracts_model_with_the_catalogues_listed(app, document):
    from workflows.request_input import CATALOGUE_FIELDS, FIELDS, RequestBody, catalogue_values

    described = document["components"]["schemas"]["RequestBody"]
    generated = RequestBody.model_json_schema()
    assert set(described["properties"]) == set(FIELDS) and list(generated["properties"]) == list(FIELDS)
    assert set(described["required"]) == {"prospect_company", "industry", "format"}
    assert described["additionalProperties"] is False
    with app.app_context():
        for name, catalogue in CATALOGUE_FIELDS.items():
            field = described["properties"][name]
            listed = [branch for branch in field.get("anyOf", [field]) if branch != {"type": "null"}][0]
            listed = listed.get("items", listed)
            assert listed["enum"] == catalogue_values(catalogue), name
    formats = described["properties"]["format"]["enum"]
    assert formats == ["call", "video", "written", "site_visit"]
    for name in ("use_cases", "topics", "competitors", "questions"):
        [array, _null] = described["properties"][name]["anyOf"]
        assert (array["type"], array["maxItems"]) == ("array", 20)


def test_a_catalogue_entry_is_listed_as_soon_as_it_exists(app, client):
    from models import Industry

    with app.app_context():
        added = Industry(name="Space Tourism", sector="industrial")
        db.session.add(added)
        db.session.commit()
        added_id = added.id
    try:
        described = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["RequestBody"]
        assert "Space Tourism" in described["properties"]["industry"]["enum"]
    finally:  # the catalogues are reference data: every test starts with them as migrated
        with app.app_context():
            db.session.delete(db.session.get(Industry, added_id))
            db.session.commit()


def test_every_field_of_the_contract_comes_back_in_the_request(document):
    from workflows.request_input import FIELDS

    answer = document["components"]["schemas"]["Request"]
    assert set(FIELDS) <= set(answer["required"]) and answer["additionalProperties"] is False


def test_the_match_limit_is_described_as_the_api_applies_it(document):
    [limit] = document["paths"]["/api/v1/requests/{id}/matches"]["get"]["parameters"]
    assert (limit["schema"]["maximum"], limit["schema"]["default"]) == (MATCH_LIMIT_MAX, MATCH_LIMIT_DEFAULT)


# --- real responses ----------------------------------------------------------------------------


def written_ready(app, advocate_id: int) -> None:
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        advocate.formats = list(db.session.scalars(select(Format).where(Format.code == "written")))
        db.session.commit()


def test_every_documented_response_is_real_and_matches_its_schema(
    app, client, document, make_account, make_advocate, make_request, monkeypatch
):
    checker = Checker(document)
    check = checker.check
    headers = {}
    for role in ("sales", "coordinator"):
        account = make_account(role=role)
        with app.app_context():
            _token, secret = tokens.create_token(account.email)
        headers[role] = {"Authorization": f"Bearer {secret}"}

    def call(method: str, url: str, role: str | None = "coordinator", **kwargs):
        return client.open(url, method=method.upper(), headers=headers.get(role, {}), **kwargs)

    many, one = "/api/v1/requests", "/api/v1/requests/{id}"
    asks, matches, advocates = f"{one}/asks", f"{one}/matches", "/api/v1/advocates"

    # The public ones.
    check(call("get", "/api/v1/openapi.json", None), "get", "/api/v1/openapi.json")
    check(call("get", "/healthz", None), "get", "/healthz")
    with monkeypatch.context() as patch:
        def database_down(*_args, **_kwargs):
            raise ConnectionError("no database")

        patch.setattr(db.session, "execute", database_down)
        check(call("get", "/healthz", None), "get", "/healthz")

    # Submitting.
    checker.request_body(many, "post", REQUEST)
    created = check(call("post", many, "sales", json=REQUEST), "post", many)
    request_id = created["id"]
    url = f"/api/v1/requests/{request_id}"
    check(call("post", many, "sales", json={**REQUEST, "industry": "Alchemy"}), "post", many)
    check(call("post", many, "sales", data="{", content_type="application/json"), "post", many)
    check(call("post", many, "sales", data="format=call"), "post", many)
    check(call("post", many, None, json=REQUEST), "post", many)

    # Reading.
    check(call("get", url, "sales"), "get", one)
    check(call("get", "/api/v1/requests/9999", "sales"), "get", one)
    check(call("get", url, None), "get", one)

    # Matches.
    advocate, other, calls_only = make_advocate(name="Wanda Written"), make_advocate(), make_advocate()
    written_ready(app, advocate.id)
    written_ready(app, other.id)
    ranked = check(call("get", f"{url}/matches"), "get", matches)
    assert [c["advocate_id"] for c in ranked["candidates"]] == sorted([advocate.id, other.id])
    assert ranked["excluded"] == [{"advocate_id": calls_only.id, "name": calls_only.account.name,
                                   "rule": "format_not_accepted", "text": "Does not do this format",
                                   "detail": "no formats on their profile yet"}]
    check(call("get", f"{url}/matches?limit=0"), "get", matches)
    check(call("get", "/api/v1/requests/9999/matches"), "get", matches)
    check(call("get", f"{url}/matches", "sales"), "get", matches)
    check(call("get", f"{url}/matches", None), "get", matches)
    with monkeypatch.context() as patch:
        import admin.api.requests as views

        def broken(*_args, **_kwargs):
            raise RuntimeError("the engine broke")

        patch.setattr(views, "cached_rank", broken)
        check(call("get", f"{url}/matches"), "get", matches)

    # Asking.
    checker.request_body(asks, "post", {"advocate_id": advocate.id})
    made = check(call("post", f"{url}/asks", json={"advocate_id": advocate.id}), "post", asks)
    check(call("post", f"{url}/asks", json={"advocate_id": advocate.id}), "post", asks)  # 409: asked
    check(call("post", f"{url}/asks", json={"advocate_id": 2147483648}), "post", asks)  # 422: no such id
    check(call("post", f"{url}/asks", json=[advocate.id]), "post", asks)  # 400
    check(call("post", f"{url}/asks", data="advocate_id=1"), "post", asks)  # 415
    check(call("post", "/api/v1/requests/9999/asks", json={"advocate_id": other.id}), "post", asks)
    check(call("post", f"{url}/asks", "sales", json={"advocate_id": other.id}), "post", asks)
    check(call("post", f"{url}/asks", None, json={"advocate_id": other.id}), "post", asks)
    with app.app_context():
        accept_ask(made["id"], advocate.id)
    check(call("post", f"{url}/asks", json={"advocate_id": other.id}), "post", asks)  # 409: matched
    full = check(call("get", url, "sales"), "get", one)
    assert full["engagement"] and full["asks"] and len(full["timeline"]) >= 3

    # The outcome.
    checker.request_body(one, "patch", {"outcome": "won"})
    check(call("patch", url, "sales", json={"outcome": "won"}), "patch", one)
    check(call("patch", url, "sales", json={"outcome": "lost"}), "patch", one)  # 409
    check(call("patch", url, "sales", json={"outcome": "maybe"}), "patch", one)  # 422
    check(call("patch", url, "sales", data="[", content_type="application/json"), "patch", one)  # 400
    check(call("patch", url, "sales", data="outcome=won"), "patch", one)  # 415
    theirs = make_request()  # another seller's
    check(call("patch", f"/api/v1/requests/{theirs.id}", "sales", json={"outcome": "won"}), "patch", one)
    check(call("patch", url, None, json={"outcome": "won"}), "patch", one)

    # The pool.
    listed = check(call("get", f"{advocates}?available=true&format=WRITTEN"), "get", advocates)
    assert {a["id"] for a in listed["advocates"]} == {advocate.id, other.id}
    check(call("get", f"{advocates}?industry=Alchemy"), "get", advocates)
    check(call("get", advocates, "sales"), "get", advocates)
    check(call("get", advocates, None), "get", advocates)

    missing = {
        seen for seen in checker.documented() - checker.seen if seen[2] != "5XX"
    }
    assert missing == set(), "documented but never produced"
    assert ("/api/v1/requests/{id}/matches", "get", "5XX") in checker.seen


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/api/v1/nope"), ("delete", "/api/v1/requests/1"), ("put", "/api/v1/advocates")],
)
def test_errors_outside_the_documented_operations_have_the_documented_shape(client, document, method, url):
    response = client.open(url, method=method.upper())
    assert response.status_code in (404, 405)
    error_schema = Checker(document).schema({"$ref": "#/components/schemas/Error"})
    assert list(error_schema.iter_errors(response.get_json())) == []
