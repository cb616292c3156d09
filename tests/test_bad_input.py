"""Bad input never gets a 500 (DESIGN.md §7.13): a battery of hand-made bad inputs across the
JSON API and the pages, as sales, coordinator and advocate. Each gets a 4xx whose message names
what is wrong, and nothing is written.

The shared places under test: ``app.IdConverter`` (ids in URLs), ``workflows.text`` (NUL and
lone surrogates, refused in ``app.configure_input_checks`` for forms and query strings and in
``admin.api.json_body`` for JSON), ``json_body`` (malformed and deeply nested JSON),
``pages.int_arg`` (whole numbers in query strings), the request contract
(``workflows.request_input``) and the error handlers (405 with ``Allow``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from models import AuditEvent, ReferenceRequest, db
from tests.conftest import csrf_token
from workflows import tokens

HUGE = "99999999999999999999"  # past every database's integers
PAST_ID = str(2**31)  # the first id past a 32-bit integer column
IN_TWO_WEEKS = (date.today() + timedelta(days=14)).isoformat()
REQUEST = {
    "prospect_company": "Acme Health GmbH", "industry": "Healthcare", "format": "written",
    "questions": ["How did the rollout go?"], "needed_by": IN_TWO_WEEKS,
}
TEXT_FIELDS = ("opportunity_id", "opportunity_name", "prospect_company", "industry", "region", "contact_name",
               "contact_email", "format", "needed_by", "notes")
LIST_FIELDS = ("use_cases", "topics", "competitors", "questions")
SUBMIT = "/api/v1/requests"  # POST: the JSON API's intake
NEW = "/admin/requests/new"  # POST: the intake form


@dataclass(frozen=True)
class Bad:
    """One bad input: who sends it, what, and what the answer must name."""

    role: str  # sales, coordinator, advocate, anonymous
    method: str
    url: str  # {request}, {ask}, {advocate}, {engagement} are the fixtures' ids
    named: str  # in the answer's text (a page) or its JSON
    status: int | tuple[int, ...] = 422
    json: Any = None
    data: str | bytes | None = None  # a raw body
    content_type: str | None = None
    form: dict[str, Any] | None = None  # a form, sent with the page's CSRF token
    headers: dict[str, str] = field(default_factory=dict)
    allow: bool = False  # a 405 names the methods in its Allow header
    answer: str | None = None  # the answer's media type, when it matters: JSON for the API's paths

    def __str__(self) -> str:
        body = self.json if self.json is not None else self.form if self.form is not None else self.data
        shown = (repr(body) if isinstance(body, bytes) else json.dumps(body))[:60] if body is not None else ""
        return f"{self.role} {self.method} {self.url} {shown}"


def raw_json(**fields: str) -> str:
    """A JSON object written by hand, so that escapes like \\ud800 travel as they are."""
    base = {name: value for name, value in REQUEST.items() if name not in fields}
    written = json.dumps(base)[:-1]
    return written + "".join(f', "{name}": {value}' for name, value in fields.items()) + "}"


def nested(depth: int) -> str:
    return '{"prospect_company": ' + "[" * depth + "]" * depth + "}"


API_CASES = [
    # Lists are JSON arrays, numbers are numbers, text is text (the contract).
    *[Bad("sales", "POST", SUBMIT, name, json={**REQUEST, name: "Patient scheduling"})
      for name in LIST_FIELDS],
    *[Bad("sales", "POST", SUBMIT, name, json={**REQUEST, name: "250000"})
      for name in ("amount", "employees")],
    *[Bad("coordinator", "POST", SUBMIT, name, json={**REQUEST, name: 42})
      for name in TEXT_FIELDS],
    Bad("sales", "POST", SUBMIT, "industry", json={**REQUEST, "industry": ""}),
    Bad("sales", "POST", SUBMIT, "industry", json={**REQUEST, "industry": None}),
    Bad("sales", "POST", SUBMIT, "format", json={**REQUEST, "format": "Video call"}),
    Bad("sales", "POST", SUBMIT, "needed_by", json={**REQUEST, "needed_by": "2001-01-01"}),
    Bad("sales", "POST", SUBMIT, "needed_by", json={**REQUEST, "needed_by": "2027-02-30"}),
    Bad("sales", "POST", SUBMIT, "amount", json={**REQUEST, "amount": 10**400}),
    Bad("sales", "POST", SUBMIT, "amount", json={**REQUEST, "amount": 1e308}),
    Bad("sales", "POST", SUBMIT, "amount", json={**REQUEST, "amount": 0.001}),
    Bad("sales", "POST", SUBMIT, "employees", json={**REQUEST, "employees": 2**63}),
    Bad("sales", "POST", SUBMIT, "employees", json={**REQUEST, "employees": -(2**63)}),
    Bad("sales", "POST", SUBMIT, "prospect_company", json={**REQUEST, "prospect_company": "x" * 10**5}),
    Bad("sales", "POST", SUBMIT, "use_cases", json={**REQUEST, "use_cases": ["x"] * 1000}),
    Bad("sales", "POST", SUBMIT, "questions", json={**REQUEST, "questions": [["nested"]]}),
    Bad("sales", "POST", SUBMIT, "colour", json={**REQUEST, "colour": "blue"}),
    # NUL and lone surrogates, in every field, and in a key.
    *[Bad("sales", "POST", SUBMIT, name, data=raw_json(**{name: '"a\\u0000b"'}),
          content_type="application/json") for name in TEXT_FIELDS],
    *[Bad("coordinator", "POST", SUBMIT, name, data=raw_json(**{name: '"a\\ud800b"'}),
          content_type="application/json") for name in TEXT_FIELDS],
    *[Bad("sales", "POST", SUBMIT, name, data=raw_json(**{name: '["ok", "\\udfff"]'}),
          content_type="application/json") for name in LIST_FIELDS],
    Bad("sales", "POST", SUBMIT, "?", data='{"\\u0000": 1}', content_type="application/json"),
    Bad("sales", "POST", SUBMIT, "?", data='{"\\ud800": 1}', content_type="application/json"),
    # Broken, odd and deeply nested JSON.
    *[Bad("sales", "POST", SUBMIT, "JSON", status=400, data=body, content_type="application/json")
      for body in ('{"prospect_company": ', "{'a': 1}", '{"a": NaN}', '{"a": -Infinity}', "[1, 2]", '"text"',
                   "null", "", b"\xff\xfe\xfd", b'{"a": "\xc3\x28"}', nested(40), nested(200_000))],
    Bad("sales", "POST", SUBMIT, "JSON", status=415, data="prospect_company=Acme",
        content_type="application/x-www-form-urlencoded"),
    Bad("sales", "POST", SUBMIT, "JSON", status=415, data=json.dumps(REQUEST), content_type="text/plain"),
    Bad("sales", "POST", SUBMIT, "Idempotency-Key", status=400, json=REQUEST,
        headers={"Idempotency-Key": "x" * 500}),
    # Ids past the integer range, in bodies and in URLs.
    *[Bad("coordinator", "POST", "/api/v1/requests/{request}/asks", "advocate_id",
          json={"advocate_id": value}) for value in (2**31, 2**63, 10**30, -1, 0, 1.5, "1", None, True, [1])],
    *[Bad("coordinator", method, f"/api/v1/requests/{bad_id}{suffix}", "nothing here", status=404,
          json={"advocate_id": 1} if method == "POST" else {"outcome": "won"} if method == "PATCH" else None)
      for bad_id in (PAST_ID, HUGE, "-1", "1.5", "²", "٣", "0x10")
      for method, suffix in (("GET", ""), ("PATCH", ""), ("POST", "/asks"), ("GET", "/matches"))],
    # The outcome, the limit and the pool's filters.
    *[Bad("sales", "PATCH", "/api/v1/requests/{request}", "outcome", json={"outcome": value})
      for value in ("WON", "open", 1, ["won"], None, "w\u0000n")],
    *[Bad("coordinator", "GET", f"/api/v1/requests/{{request}}/matches?limit={value}", "limit")
      for value in ("0", "201", "-1", "", "1e3", "²", HUGE, "%00")],
    Bad("coordinator", "GET", "/api/v1/requests/{request}/matches?colour=blue", "colour"),
    *[Bad("coordinator", "GET", f"/api/v1/advocates?{query}", name)
      for query, name in (("available=maybe", "available"), ("available=TRUE", "available"),
                          ("available=1", "available"), ("available=", "available"),
                          ("industry=%00", "industry"), ("topic=%ED%A0%80x", "topic"),
                          ("industry=Alchemy", "Alchemy"), ("tier=Premier", "tier"), ("format=", "format"))],
    # Methods the paths do not take.
    Bad("anonymous", "TRACE", "/healthz", "GET", status=405, allow=True, answer="application/json"),
    Bad("anonymous", "PROPFIND", "/healthz", "GET", status=405, allow=True, answer="application/json"),
    Bad("sales", "TRACE", "/api/v1/requests", "POST", status=405, allow=True),
    Bad("coordinator", "DELETE", "/api/v1/requests/{request}", "GET", status=405, allow=True),
    Bad("coordinator", "PUT", "/api/v1/advocates", "GET", status=405, allow=True),
]

PAGE_CASES = [
    # Whole numbers in query strings, and NUL in any of them.
    *[Bad("coordinator", "GET", f"/admin/advocates?page={value}", "page")
      for value in (HUGE, "²", "0", "-1", "1.5", "")],
    Bad("coordinator", "GET", "/admin/advocates?q=%00", "q"),
    Bad("coordinator", "GET", "/admin/advocates?industry=" + HUGE, "Pick one from the list", status=400),
    Bad("coordinator", "GET", "/admin/requests?status=%00", "status"),
    Bad("coordinator", "GET", "/admin/requests?owner=" + HUGE, "Pick a person from the list", status=400),
    Bad("coordinator", "GET", "/admin/requests?age=%C2%B2", "Pick an age from the list", status=400),
    Bad("coordinator", "GET", "/admin/requests?needed_before=99999-99-99", "Give a date like", status=400),
    Bad("sales", "GET", "/admin/requests?needed_before=%00", "needed_before"),
    Bad("sales", "GET", "/admin/requests/new?x%00y=1", "x?y"),
    # Ids in URLs.
    *[Bad(role, "GET", url, "There is nothing here", status=404)
      for role, url in (("coordinator", f"/admin/requests/{HUGE}"),
                        ("coordinator", f"/admin/requests/{PAST_ID}"),
                        ("coordinator", f"/admin/advocates/{PAST_ID}"), ("coordinator", "/admin/advocates/²"),
                        ("sales", f"/admin/requests/{HUGE}"), ("advocate", f"/portal/asks/{HUGE}"),
                        ("advocate", f"/portal/written/{PAST_ID}"),
                        ("advocate", f"/portal/availability/windows/{HUGE}"),
                        ("advocate", f"/portal/calls/{HUGE}"), ("advocate", f"/portal/calls/{PAST_ID}"))],
    *[Bad(role, "POST", url, "There is nothing here", status=404, form={})
      for role, url in (("coordinator", f"/admin/requests/{PAST_ID}/cancel"),
                        ("sales", f"/admin/requests/{HUGE}/outcome"),
                        ("coordinator", f"/admin/requests/{{request}}/asks/{PAST_ID}/withdraw"),
                        ("advocate", f"/portal/asks/{PAST_ID}/accept"),
                        ("advocate", f"/portal/availability/blackouts/{HUGE}/remove"),
                        ("advocate", f"/portal/perks/{PAST_ID}/redeem"),
                        ("advocate", f"/portal/calls/{PAST_ID}/cancel"),
                        ("advocate", f"/portal/calls/{HUGE}/join"),
                        ("coordinator", f"/admin/requests/{PAST_ID}/call/cancel"),
                        ("coordinator", f"/admin/requests/{HUGE}/introduction/resend"))],
    # The ask form's advocate id.
    *[Bad("coordinator", "POST", "/admin/requests/{request}/asks", "Pick an advocate", status=400,
          form={"advocate_id": value}) for value in ("²", HUGE, "-1", "", "1.5")],
    Bad("coordinator", "POST", "/admin/requests/{request}/asks", "advocate", status=(400, 422),
        form={"advocate_id": PAST_ID}),
    # The intake form: NUL in any field, numbers it cannot store, what is required.
    *[Bad("sales", "POST", NEW, name, form={**REQUEST, name: "a\u0000b"})
      for name in TEXT_FIELDS + ("use_cases", "amount", "employees")],
    Bad("sales", "POST", NEW, "Pick an industry", form={**REQUEST, "industry": ""}),
    Bad("sales", "POST", NEW, "Pick a format", form={**REQUEST, "format": ""}),
    Bad("coordinator", "POST", NEW, "Give the prospect&#39;s company name",
        form={**REQUEST, "prospect_company": " "}),
    Bad("sales", "POST", NEW, "At most 999,999,999,999.99",
        form={**REQUEST, "amount": "9" * 400}),
    Bad("sales", "POST", NEW, "At most 10,000,000", form={**REQUEST, "employees": "9" * 40}),
    Bad("sales", "POST", NEW, "is not a number", form={**REQUEST, "amount": "1e400"}),
    Bad("sales", "POST", NEW, "Must not be in the past",
        form={**REQUEST, "needed_by": "0001-01-01"}),
    Bad("sales", "POST", NEW, "not a date on the calendar",
        form={**REQUEST, "needed_by": "9999-99-99"}),
    # The edit form.
    Bad("sales", "POST", "/admin/requests/{request}/edit", "Must not be in the past",
        form={"needed_by": "2001-01-01"}),
    Bad("sales", "POST", "/admin/requests/{request}/edit", "notes", form={"notes": "\u0000"}),
    # Signing in and the portal.
    Bad("anonymous", "GET", "/sign-in?next=%00", "next"),
    Bad("anonymous", "POST", "/sign-in", "email", form={"email": "pat\u0000@example.com"}),
    Bad("anonymous", "GET", "/sign-in/link/%00", "This sign-in link is not valid", status=400),
    Bad("advocate", "GET", "/portal/history?page=%00", "page"),
    Bad("advocate", "POST", "/portal/availability/limits", "quarterly_cap", form={"quarterly_cap": "\u0000"}),
    Bad("advocate", "POST", "/portal/profile", "x?", form={"x\u0000": "1"}),
    Bad("advocate", "POST", "/portal/profile/join", "join_url", form={"join_url": "https://a\u0000b.example"}),
    Bad("advocate", "POST", "/portal/profile/join", "Give the video link as a full web address",
        form={"join_url": "javascript:alert(1)"}),
    Bad("advocate", "POST", "/portal/profile/join", "Give the phone number with its country code",
        form={"join_phone": "☎" * 5}),
    # Methods the paths do not take.
    Bad("anonymous", "TRACE", "/", "GET", status=405, allow=True),
    Bad("coordinator", "DELETE", "/admin/", "GET", status=405, allow=True),
    Bad("advocate", "PUT", "/portal/profile", "POST", status=405, allow=True),
]

CASES = API_CASES + PAGE_CASES


@pytest.fixture()
def world(app, make_account, make_advocate, make_request, make_ask, make_engagement):
    """A seller with a request, a coordinator, an advocate asked for it: each role's id."""
    seller = make_account(role="sales", name="Sam Seller")
    coordinator = make_account(role="coordinator", name="Cora Ordinator")
    advocate = make_advocate(name="Ada Advocate")
    request = make_request(requested_by=seller, format="written", questions=["Why?"])
    ask = make_ask(advocate, request=request)
    return {"sales": seller, "coordinator": coordinator, "advocate": advocate.account,
            "ids": {"request": request.id, "ask": ask.id, "advocate": advocate.id}}


def fingerprint(app) -> dict[str, Any]:
    """What the database holds, table by table (the audit log aside: a refused id is audited),
    and every request's state."""
    with app.app_context():
        counts = {table.name: db.session.scalar(select(func.count()).select_from(table))
                  for table in db.metadata.sorted_tables if table.name != AuditEvent.__tablename__}
        requests = db.session.execute(
            select(ReferenceRequest.id, ReferenceRequest.status, ReferenceRequest.outcome,
                   ReferenceRequest.notes, ReferenceRequest.needed_by)).all()
        db.session.remove()
    return {"counts": counts, "requests": sorted(requests)}


def page_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize("bad", CASES, ids=str)
def test_bad_input_gets_a_4xx_naming_what_is_wrong_and_writes_nothing(app, world, sign_in, bad):
    http = app.test_client()
    headers = dict(bad.headers)
    if bad.url.startswith("/api/") and bad.role != "anonymous":
        with app.app_context():
            _token, secret = tokens.create_token(world[bad.role].email)
        headers["Authorization"] = f"Bearer {secret}"
    elif bad.role != "anonymous":
        sign_in(world[bad.role], http=http)
    url = bad.url.format(**world["ids"])
    kwargs: dict[str, Any] = {"headers": headers}
    if bad.json is not None:
        kwargs["json"] = bad.json
    elif bad.form is not None:
        page = http.get("/sign-in" if bad.role == "anonymous" else "/admin/" if bad.role != "advocate"
                        else "/portal")
        kwargs["data"] = {**bad.form, "csrf_token": csrf_token(page.get_data(as_text=True))}
    elif bad.data is not None:
        kwargs["data"] = bad.data
        kwargs["content_type"] = bad.content_type
    before = fingerprint(app)

    response = http.open(url, method=bad.method, **kwargs)

    statuses = bad.status if isinstance(bad.status, tuple) else (bad.status,)
    body = response.get_data(as_text=True)
    assert response.status_code in statuses, body[:2000]
    if bad.answer or bad.url.startswith("/api/"):
        assert response.mimetype == (bad.answer or "application/json")
    if response.mimetype == "application/json":
        answer = response.get_json()
        assert set(answer) == {"error", "fields"} and answer["error"]
        shown = json.dumps(answer, ensure_ascii=False)
    else:
        shown = body if "&#39;" in bad.named else page_text(body)
    if bad.allow:
        assert bad.named in response.headers["Allow"]
    else:
        assert bad.named in shown, shown[:2000]
    assert fingerprint(app) == before


def test_the_battery_is_large(app):
    assert len(CASES) >= 100
