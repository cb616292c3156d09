"""Who may open what (DESIGN.md §7.7): deny by default, each route declares its roles.

The walks at the end go through every rule of ``app.url_map``, so a view added later is
checked without anybody remembering to write a test for it.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.routing.converters import AnyConverter, FloatConverter, IntegerConverter, UUIDConverter

from models import AuditEvent, db
from tests.conftest import csrf_token

ROLES = ["advocate", "sales", "coordinator", "admin"]
HOME = {"advocate": "/portal", "sales": "/admin/", "coordinator": "/admin/", "admin": "/admin/"}

#            role           /portal  /admin/
STATUS = {
    "advocate": (200, 403),
    "sales": (403, 200),
    "coordinator": (403, 200),
    "admin": (403, 200),
}

# Views outside every guarded blueprint that anybody may open. A view inside a blueprint is
# public only when it says so with ``@public``.
UNGUARDED_PUBLIC = {"healthz"}
SKIPPED = {"static"}
# The JSON API: bearer tokens instead of the session, 401/403 in JSON instead of pages.
API_PREFIX = "/api/"


@pytest.fixture()
def signed_in_as(app, make_account, sign_in):
    """``signed_in_as(role)`` → (a test client signed in with a new account of that role, the account)."""

    def run(role: str):
        account = make_account(role=role)
        http = app.test_client()
        sign_in(account, http=http)
        return http, account

    return run


def access_denied_rows(app) -> list[tuple[int | None, str]]:
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "access.denied")
                                    .order_by(AuditEvent.id))
        rows = [(e.actor_id, e.detail.get("path")) for e in events]
        db.session.remove()
    return rows


def sign_in_redirect_next(response) -> str | None:
    """The ``next`` of a redirect to the sign-in page; AssertionError for any other answer."""
    assert response.status_code == 302, response.status
    location = urlsplit(response.headers["Location"])
    assert location.path == "/sign-in", response.headers["Location"]
    return parse_qs(location.query).get("next", [None])[0]


# --- the two homes -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/portal", "/admin/", "/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    assert sign_in_redirect_next(client.get(path)) == path


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_only_its_own_home(app, signed_in_as, role):
    http, account = signed_in_as(role)
    portal_status, admin_status = STATUS[role]

    assert http.get("/portal").status_code == portal_status
    assert http.get("/admin/").status_code == admin_status

    denied_path = "/admin/" if role == "advocate" else "/portal"
    assert access_denied_rows(app) == [(account.id, denied_path)]


def test_a_refused_page_says_so_kindly(signed_in_as):
    http, _account = signed_in_as("advocate")
    response = http.get("/admin/")
    assert response.status_code == 403
    assert "Your account may not open this page." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ROLES)
def test_the_root_sends_each_role_home(signed_in_as, role):
    http, _account = signed_in_as(role)
    response = http.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == HOME[role]


# --- walking every route -------------------------------------------------------------------------


def sample_value(converter) -> str:
    if isinstance(converter, IntegerConverter):
        return "1"
    if isinstance(converter, FloatConverter):
        return "1.0"
    if isinstance(converter, UUIDConverter):
        return str(uuid.UUID(int=1))
    if isinstance(converter, AnyConverter):
        return converter.items[0]
    return "x"


def every_route(app):
    """(endpoint, method, url) for every rule and method of the app, static files aside."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED:
            continue
        values = {name: sample_value(converter) for name, converter in rule._converters.items()}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, adapter.build(rule.endpoint, values, method=method)


def declared_public(app, endpoint: str) -> bool:
    view = app.view_functions[endpoint]
    return endpoint in UNGUARDED_PUBLIC or getattr(view, "allowed_roles", ...) is None


def call(http, method: str, url: str):
    """A request as a browser would send it: state-changing methods carry the CSRF token."""
    if method == "GET":
        return http.get(url)
    token = csrf_token(http.get("/", follow_redirects=True).get_data(as_text=True))
    return http.open(url, method=method, data={"csrf_token": token})


def test_the_walk_covers_the_known_pages(app):
    endpoints = {endpoint for endpoint, _method, _url in every_route(app)}
    assert {"portal.index", "portal.home", "admin.home", "portal.sign_in", "healthz"} <= endpoints
    assert {"api.create_request", "api.get_request", "api.advocates", "api.openapi"} <= endpoints
    public = {endpoint for endpoint in endpoints if declared_public(app, endpoint)}
    assert public >= {"healthz", "portal.sign_in", "portal.link_sent", "portal.open_link",
                      "portal.use_link", "portal.sign_out", "api.openapi", "portal.read_answers",
                      "portal.calendar_feed",
                      # opened from signed links, without an account: feedback, the deal's outcome
                      "portal.feedback", "portal.give_feedback", "portal.outcome", "portal.record_outcome",
                      # a program invitation: its page, joining and declining
                      "portal.join", "portal.accept_invitation", "portal.decline_invitation",
                      # opened from program mail: the nudge's "still right", unsubscribing
                      "portal.review", "portal.confirm_review", "portal.unsubscribe",
                      "portal.confirm_unsubscribe"}
    assert not public & {"portal.index", "portal.home", "admin.home", "api.get_request", "api.advocates",
                         "admin.mark_no_show", "admin.complete_call", "admin.approve_answers",
                         "admin.return_answers", "portal.rotate_calendar", "admin.cancel_call",
                         "admin.resend_introduction", "portal.welcome", "admin.candidates",
                         "admin.invite_candidates", "admin.invite_address", *ADVOCATE_ONLY, *ADMIN_ONLY}


# Staff-only pages and actions: sales and advocates are refused (403, audited) before any work.
STAFF_ONLY = {
    "admin.redemptions": ("GET", "/admin/redemptions"),
    "admin.fulfil_redemption": ("POST", "/admin/redemptions/1/fulfil"),
    "admin.reject_redemption": ("POST", "/admin/redemptions/1/reject"),
    "admin.set_notifications": ("POST", "/admin/notifications"),
    # Outreach: the candidates screen and the invitations it sends.
    "admin.candidates": ("GET", "/admin/candidates"),
    "admin.invite_candidates": ("POST", "/admin/candidates/invite"),
    "admin.invite_address": ("POST", "/admin/candidates/invite-address"),
    # The coordinator's hand on a live call: sales read the call, they do not act on it.
    "admin.cancel_call": ("POST", "/admin/requests/1/call/cancel"),
    "admin.resend_introduction": ("POST", "/admin/requests/1/introduction/resend"),
}

# The advocate's own calls and join details: staff and sales are refused (403, audited).
ADVOCATE_ONLY = {
    "portal.call": ("GET", "/portal/calls/1"),
    "portal.set_call_join": ("POST", "/portal/calls/1/join"),
    "portal.cancel_call": ("POST", "/portal/calls/1/cancel"),
    "portal.save_join_defaults": ("POST", "/portal/profile/join"),
}


# Admin-only pages and actions: the mail module's. Coordinators are refused too.
ADMIN_ONLY = {
    "admin.outbox": ("GET", "/admin/outbox"),
    "admin.requeue_outbox": ("POST", "/admin/outbox/1/requeue"),
    "admin.discard_outbox": ("POST", "/admin/outbox/1/discard"),
    "admin.mail_preview": ("GET", "/admin/mail/preview"),
}


def test_the_admin_only_routes_are_declared_for_admins(app):
    adapter = app.url_map.bind("localhost")
    for endpoint, (method, url) in ADMIN_ONLY.items():
        assert adapter.match(url, method=method)[0] == endpoint
        assert app.view_functions[endpoint].allowed_roles == {"admin"}, endpoint


@pytest.mark.parametrize("role", ["advocate", "sales", "coordinator"])
def test_the_admin_only_routes_refuse_everyone_else(app, signed_in_as, role):
    http, account = signed_in_as(role)
    for method, url in ADMIN_ONLY.values():
        assert call(http, method, url).status_code == 403, (method, url)
    assert access_denied_rows(app) == [(account.id, url) for _method, url in ADMIN_ONLY.values()]


def test_the_staff_only_routes_are_declared_for_staff(app):
    from access import STAFF

    adapter = app.url_map.bind("localhost")
    for endpoint, (method, url) in STAFF_ONLY.items():
        assert adapter.match(url, method=method)[0] == endpoint
        assert getattr(app.view_functions[endpoint], "allowed_roles", STAFF) == STAFF, endpoint


@pytest.mark.parametrize("role", ["advocate", "sales"])
def test_the_staff_only_routes_refuse_sales_and_advocates(app, signed_in_as, role):
    http, account = signed_in_as(role)
    for method, url in STAFF_ONLY.values():
        assert call(http, method, url).status_code == 403, (method, url)
    assert access_denied_rows(app) == [(account.id, url) for _method, url in STAFF_ONLY.values()]


def test_the_advocates_call_routes_are_declared_for_advocates(app):
    from models import Role

    adapter = app.url_map.bind("localhost")
    for endpoint, (method, url) in ADVOCATE_ONLY.items():
        assert adapter.match(url, method=method)[0] == endpoint
        # The portal's default (advocates), or said so explicitly: never public, never wider.
        roles = getattr(app.view_functions[endpoint], "allowed_roles", {Role.ADVOCATE})
        assert roles == {Role.ADVOCATE}, endpoint


@pytest.mark.parametrize("role", ["sales", "coordinator", "admin"])
def test_the_advocates_call_routes_refuse_everybody_else(app, signed_in_as, role):
    http, account = signed_in_as(role)
    for method, url in ADVOCATE_ONLY.values():
        assert call(http, method, url).status_code == 403, (method, url)
    assert access_denied_rows(app) == [(account.id, url) for _method, url in ADVOCATE_ONLY.values()]


def is_api(url: str) -> bool:
    return url.startswith(API_PREFIX)


def test_every_route_is_public_by_declaration_or_sends_anonymous_visitors_to_sign_in(app):
    """Deny by default: a view that forgets to declare its roles must not be open. The JSON API
    sends nobody to a page: it answers 401 in JSON, with its challenge."""
    open_by_accident = []
    for endpoint, method, url in every_route(app):
        response = call(app.test_client(), method, url)
        assert response.status_code < 500, f"{method} {url}: {response.status}"
        if declared_public(app, endpoint):
            continue
        if is_api(url):
            if (response.status_code, response.mimetype) != (401, "application/json") or (
                not response.headers.get("WWW-Authenticate", "").startswith("Bearer")
            ):
                open_by_accident.append(f"{method} {url} ({endpoint}): {response.status}")
            continue
        location = urlsplit(response.headers.get("Location", ""))
        if response.status_code != 302 or location.path != "/sign-in":
            open_by_accident.append(f"{method} {url} ({endpoint}): {response.status}")
            continue
        # After sign-in the browser GETs ``next``: only a page that was GET is worth going back to.
        assert sign_in_redirect_next(response) == (url if method == "GET" else None)
    assert open_by_accident == []


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_each_role_without_error_and_audits_refusals(app, signed_in_as, role):
    http, account = signed_in_as(role)
    refused = []
    for endpoint, method, url in every_route(app):
        if endpoint == "portal.sign_out":
            continue  # it would end the walk; tested in tests/portal/test_sign_in.py
        response = call(http, method, url)
        assert response.status_code < 500, f"{method} {url}: {response.status}"
        if not declared_public(app, endpoint):
            location = urlsplit(response.headers.get("Location", ""))
            assert location.path != "/sign-in", f"{role} was not recognised on {method} {url}"
        if response.status_code == 403:
            refused.append((account.id, urlsplit(url).path))
    assert access_denied_rows(app) == refused
    assert refused, f"{role} may open everything: the walk saw no refusal"


@pytest.mark.parametrize("role", ["sales", "coordinator", "admin"])
def test_every_api_route_answers_each_token_holder_in_json_and_audits_refusals(app, make_account, role):
    """The API walked with a bearer token: never an error page, never a 5xx, and a role refused
    (403) is audited like a refused page. (Advocates cannot hold a token: tests/test_tokens.py.)"""
    from workflows.tokens import create_token

    account = make_account(role=role)
    with app.app_context():
        _token, secret = create_token(account.email)
        db.session.remove()
    http = app.test_client()
    refused = []
    for _endpoint, method, url in every_route(app):
        if not is_api(url):
            continue
        response = http.open(url, method=method, json={}, headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code < 500, f"{method} {url}: {response.status}"
        assert response.mimetype == "application/json", f"{method} {url}: {response.mimetype}"
        assert response.status_code != 401, f"{role}'s token was not recognised on {method} {url}"
        if response.status_code == 403:
            refused.append((account.id, urlsplit(url).path))
    assert access_denied_rows(app) == refused
    assert bool(refused) == (role == "sales"), refused  # staff may use every endpoint
