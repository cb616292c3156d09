"""Fixtures shared by every test: the app on a real database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), a real SMTP server, and factories that return callables."""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from extensions import limiter
from mail.sender import drain
from models import Account, Role, db

# Tables filled by the migration with the reference data every program starts with.
REFERENCE_TABLES = {"alembic_version", "industries", "regions", "topics", "formats", "job_levels", "tiers"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Inbox:
    """What the test SMTP server received, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.envelopes.append(envelope)
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in m["To"].lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} message(s) to {address}, got {len(self.to(address))}")


def text_body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_body(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def first_link(message: EmailMessage, pattern: str = r"https?://\S+") -> str:
    found = re.search(pattern, text_body(message))
    assert found, f"no link in:\n{text_body(message)}"
    return found.group(0)


@pytest.fixture(scope="session")
def smtp_server():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture()
def smtp(smtp_server) -> Inbox:
    """A real SMTP server (aiosmtpd); the inbox is empty at the start of each test."""
    inbox, _port = smtp_server
    inbox.clear()
    return inbox


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'vouch-test.sqlite3'}"


def reset_schema(url: str) -> None:
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine

        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()


class ClosingClient(FlaskClient):
    """The test client, closing each response as a WSGI server does once it is sent: work done
    after the answer (``portal.auth.after_the_answer``) runs before the call returns."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url, smtp_server):
    """The app on a database migrated from empty, once per test session."""
    _inbox, port = smtp_server
    reset_schema(database_url)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
        }
    )
    app.test_client_class = ClosingClient
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def clean_database() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in REFERENCE_TABLES]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        # TRUNCATE passes the session's hooks by: give the emptied pool a version of its own, as
        # the deletes on SQLite do through them, so no kept ranking of the test before passes.
        from workflows.match_rows import bump_pool_version

        bump_pool_version(db.session.connection())
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(autouse=True)
def _fresh_state(request):
    """Each test starts from the migrated database with its reference data only."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        clean_database()
        db.session.remove()
    limiter.reset()


@pytest.fixture()
def app_context(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


@pytest.fixture()
def make_account(app):
    """``make_account(role="advocate", email=None, name=None)`` → the account's id and e-mail."""
    counter = iter(range(1, 10_000))

    def make(role: Role | str = Role.ADVOCATE, email: str | None = None, name: str | None = None,
             **values) -> Account:
        n = next(counter)
        with app.app_context():
            account = Account(
                email=(email or f"person{n}@example.com").lower(),
                name=name or f"Person {n}",
                role=Role(role),
                **values,
            )
            db.session.add(account)
            db.session.commit()
            db.session.refresh(account)
            db.session.expunge(account)
        return account

    return make


@pytest.fixture()
def deliver(app):
    """Send what the outbox holds to the test SMTP server, as ``flask mail drain`` does."""

    def run():
        with app.app_context():
            result = drain()
            db.session.remove()
        return result

    return run


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture()
def sign_in(client, smtp, deliver):
    """Sign an account in on ``client`` (or ``http``). For tests about something else the session
    is made directly, as the e-mailed link makes it; ``next_path`` (or ``by_email=True``) goes
    through the real flow instead: ask, read the e-mail, open, press the button, and for an
    account that needs a second factor give it as a person would (set the app up from the page
    the first time; ``second_factor=False`` stops half signed in). The sign-in tests themselves
    (tests/portal/test_sign_in.py) take the real flow for every role."""
    from tests.helpers import sign_in_directly

    def run(account: Account, http=None, next_path: str | None = None, by_email: bool = False,
            second_factor: bool = True):
        http = http or client
        if not next_path and not by_email:
            sign_in_directly(http, account)
            return None
        page = http.get("/sign-in")
        data = {"email": account.email, "csrf_token": csrf_token(page.get_data(as_text=True))}
        if next_path:
            data["next"] = next_path
        assert http.post("/sign-in", data=data).status_code == 302
        deliver()
        link = first_link(smtp.wait_for(account.email)[-1])
        path = link.split("://", 1)[1].split("/", 1)[1]
        confirm = http.get("/" + path)
        assert confirm.status_code == 200, confirm.get_data(as_text=True)
        response = http.post("/" + path, data={"csrf_token": csrf_token(confirm.get_data(as_text=True))})
        assert response.status_code == 302
        if second_factor and response.headers["Location"] == "/sign-in/second-factor":
            from tests.helpers import give_second_factor

            response = give_second_factor(http, account.email)
        return response

    return run


@pytest.fixture()
def signed_in(app, make_account):
    """``signed_in(role="coordinator", **account_values)`` → (a test client signed in as a new
    account of that role, the account), without the e-mail round trip."""
    from tests.helpers import sign_in_directly

    def make(role: Role | str = Role.COORDINATOR, account: Account | None = None, **values):
        account = account or make_account(role=role, **values)
        http = app.test_client()
        sign_in_directly(http, account)
        return http, account

    return make


@pytest.fixture()
def api_client(app, make_account):
    """``api_client(role="sales")`` or ``api_client(account=…)`` → (an API client with a new
    bearer token, the account)."""
    from tests.helpers import Api
    from workflows import tokens

    def make(role: Role | str = Role.SALES, account: Account | None = None, **values):
        account = account or make_account(role=role, **values)
        with app.app_context():
            _token, secret = tokens.create_token(account.email)
            db.session.remove()
        return Api(app.test_client(), secret), account

    return make


@pytest.fixture()
def make_advocate(app, make_account):
    """``make_advocate(tier="Premier", status="active", timezone="Europe/Berlin", **profile)``
    → the Advocate (detached), with its account, a company and consent recorded."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from models import Advocate, AdvocateStatus, Company, Tier

    counter = iter(range(1, 10_000))

    def make(tier: str | None = "Active", status: str = "active", timezone: str = "UTC",
             email: str | None = None, name: str | None = None, company: str | None = None,
             **profile) -> Advocate:
        n = next(counter)
        account = make_account(role=Role.ADVOCATE, email=email, name=name, timezone=timezone)
        with app.app_context():
            company_row = Company(name=company or f"Customer {n} Inc", employees=500)
            db.session.add(company_row)
            advocate = Advocate(
                account_id=account.id,
                company=company_row,
                tier=db.session.scalar(select(Tier).where(Tier.name == tier)) if tier else None,
                status=AdvocateStatus(status),
                consent_at=datetime(2026, 1, 1, tzinfo=UTC),
                consent_source="test",
                **profile,
            )
            db.session.add(advocate)
            db.session.commit()
            advocate = db.session.scalars(
                select(Advocate).where(Advocate.id == advocate.id)
            ).one()
            advocate.account, advocate.tier, advocate.company  # noqa: B018  (load before detaching)
            db.session.expunge_all()
        return advocate

    return make


@pytest.fixture()
def count_queries(app):
    """``with count_queries() as queries: ...`` then ``len(queries)``: the SQL statements run."""
    from contextlib import contextmanager

    from sqlalchemy import event

    from models.locking import UNWRITTEN_CHECK

    @contextmanager
    def counting():
        statements: list[str] = []

        def record(_conn, _cursor, statement, *_args):
            # Transaction control, and how a request's transaction ends, are not the page's reads.
            if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "PRAGMA")) \
                    and statement != UNWRITTEN_CHECK:
                statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting


@pytest.fixture()
def make_request(app, make_account):
    """``make_request(format="call", requested_by=None, **fields)`` → a ReferenceRequest (detached).

    ``topics``/``use_cases``/``competitors`` may be given as lists of names."""
    from datetime import date, timedelta

    from sqlalchemy import select

    from models import Competitor, Industry, ReferenceRequest, Region, Topic, UseCase

    def make(format: str = "call", requested_by: Account | None = None, industry: str | None = "Healthcare",
             region: str | None = "Europe", topics=(), use_cases=(), competitors=(), **fields):
        seller = requested_by or make_account(role=Role.SALES)
        with app.app_context():
            def tags(model, names):
                rows = []
                for name in names:
                    row = db.session.scalar(select(model).where(model.key == name.casefold()))
                    if row is None:
                        row = model(name=name)
                        db.session.add(row)
                    rows.append(row)
                return rows

            request = ReferenceRequest(
                requested_by_id=seller.id,
                prospect_company=fields.pop("prospect_company", "Prospect Health GmbH"),
                industry=db.session.scalar(select(Industry).where(Industry.name == industry)),
                region=db.session.scalar(select(Region).where(Region.name == region)),
                employees=fields.pop("employees", 800),
                contact_name=fields.pop("contact_name", "Pat Prospect"),
                contact_email=fields.pop("contact_email", "pat@prospect.example"),
                format_code=format,
                needed_by=fields.pop("needed_by", date.today() + timedelta(days=14)),
                topics=[db.session.scalar(select(Topic).where(Topic.name == t)) for t in topics],
                use_cases=tags(UseCase, use_cases),
                competitors=tags(Competitor, competitors),
                **fields,
            )
            db.session.add(request)
            db.session.commit()
            db.session.refresh(request)
            db.session.expunge(request)
        return request

    return make


@pytest.fixture()
def make_ask(app, make_request):
    """``make_ask(advocate, request=None, status="pending", **fields)`` → an Ask (detached)."""
    from datetime import timedelta

    from models import Ask, AskStatus
    from models.types import utcnow

    def make(advocate, request=None, status: str = "pending", **fields):
        request = request or make_request()
        with app.app_context():
            ask = Ask(
                request_id=request.id,
                advocate_id=advocate.id,
                status=AskStatus(status),
                score=fields.pop("score", 70),
                explanation=fields.pop("explanation", [{"label": "Same industry", "points": 70}]),
                expires_at=fields.pop("expires_at", utcnow() + timedelta(hours=48)),
                **fields,
            )
            db.session.add(ask)
            db.session.commit()
            db.session.refresh(ask)
            db.session.expunge(ask)
        return ask

    return make


@pytest.fixture()
def make_engagement(app):
    """``make_engagement(advocate, status="booked", starts_at=None, minutes=30, **fields)`` →
    an Engagement (detached) counted in the quarter of its call (or of now while unbooked)."""
    from datetime import timedelta

    from models import Engagement, EngagementStatus, quarter_of
    from models.types import utcnow

    def make(advocate, status: str = "booked", starts_at=None, minutes: int = 30, format: str = "call",
             **fields):
        status = EngagementStatus(status)
        if starts_at is None and status in (EngagementStatus.BOOKED, EngagementStatus.COMPLETED):
            starts_at = utcnow() + timedelta(days=3 if status == EngagementStatus.BOOKED else -3)
        with app.app_context():
            engagement = Engagement(
                advocate_id=advocate.id,
                format_code=format,
                status=status,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=minutes) if starts_at else None,
                quarter=fields.pop("quarter", quarter_of(starts_at or utcnow())),
                prospect_name=fields.pop("prospect_name", "Pat Prospect"),
                prospect_email=fields.pop("prospect_email", "pat@prospect.example"),
                **fields,
            )
            db.session.add(engagement)
            db.session.commit()
            db.session.refresh(engagement)
            db.session.expunge(engagement)
        return engagement

    return make


@pytest.fixture()
def restore_tiers(app):
    """The tiers (reference data, not cleaned between tests) put back as they were after a test
    that changes them: names, quotas, thresholds, benefits and descriptions."""
    from sqlalchemy import select

    from models import Tier

    fields = ("name", "quarterly_quota", "points_threshold", "description", "benefits")
    with app.app_context():
        kept = {tier.id: {name: getattr(tier, name) for name in fields}
                for tier in db.session.scalars(select(Tier))}
        db.session.remove()
    yield kept
    with app.app_context():
        db.session.rollback()
        tiers = list(db.session.scalars(select(Tier).where(Tier.id.in_(kept))))
        for tier in tiers:  # names are unique: out of the way first, in case two were swapped
            tier.name = f"(restoring {tier.id})"
        db.session.flush()
        for tier in tiers:
            for name, value in kept[tier.id].items():
                setattr(tier, name, list(value) if name == "benefits" else value)
        db.session.commit()
        db.session.remove()
