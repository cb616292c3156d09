"""Soak (DESIGN.md §7.10, §8): 20 clients for ``SOAK_SECONDS`` (default 60) against gunicorn with 2
workers on PostgreSQL, mixing reads and writes, end with 0 errors; afterwards plain SQL finds no
quota overrun, no two calls of one advocate overlapping, no slot booked twice, no day over an
advocate's calls per day, and the outbox holding exactly the mail the changes made.

The program lives in a PostgreSQL schema of its own (``bench.reports.scratch_schema``), dropped
afterwards, so nothing else in the suite's database is touched. It is built with the program's
own workflows: the advocates by the CSV import (a few hundred, on tight quarterly caps of 1 or 2
and one call a day, so that quota and booking races really happen; a few "popular" ones on the
Premier quota, each with five accepted asks whose prospects race for the same slots), the
requests as the intake form submits them.

The clients drive real HTTP with the real forms, each POST with the CSRF token of the page it
came from (sessions are made as a sign-in link makes them, ``tests.helpers.sign_in_directly``):

- coordinators open the queue, a request's page, and ask one of the best candidates it shows;
- advocates open the asks their e-mail links to (read from the outbox, where the e-mail waits)
  and accept or decline them; add and remove weekly windows and blackout dates; open their home;
- prospects open the booking link of their introduction e-mail and book one of the first times
  offered, again with the fresh times when theirs was just taken;
- readers open the portal home, the queue, the pool, a request's page and ``/healthz``.

Every answer is judged per action: a page is a 200; a change is a redirect (not to the sign-in
page), or a lost race the app answers with its status and a message saying why (ask: 409, or
422 when the candidate stopped being eligible; accept and decline: 409; booking: 409; a window
or blackout refused: 400; removing one already removed by a concurrent change: 404). Anything
else — a 5xx, another status, a refusal with no message, a broken connection — is an error.
One JSON line (counts, refusals, errors and p95 per action, and what the checks found) is
printed: ``pytest -s`` shows it.
"""

from __future__ import annotations

import collections
import http.client
import io
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", 60))  # shorter while developing; CI runs 60
CLIENTS = {"coordinator": 5, "advocate": 8, "prospect": 5, "reader": 2}  # 20 in all
WORKERS = 2
ADVOCATES = 300
POPULAR = 8  # on the Premier quota, each with five accepted asks at the start
POPULAR_ASKS = 5
REQUESTS = 400
SCHEMA = "vouch_soak"
SECRET = "soak-test-secret-key-" + "s" * 16
SEED = 20261202
BASE_URL = "http://soak.test"  # of the links in the e-mails, the server's and the builder's
TIMEOUT = 60  # a client's wait for one answer

# What a lost race or a refused change answers, per action (always with a message saying why).
REFUSALS = {
    "ask": (409, 422),
    "accept": (409,),
    "decline": (409,),
    "book": (409,),
    "add_window": (400,),
    "remove_window": (404,),
    "add_blackout": (400,),
    "remove_blackout": (404,),
    "snooze": (400,),
    "clear_snooze": (),
}
ERROR_FLASH = re.compile(r'class="flash flash-error" role="(?:status|alert)">\s*(.*?)\s*</p>', re.S)
# The error page's words, as a 404 says them (a window removed by a concurrent change is gone).
ERROR_PAGE = re.compile(r'<article class="narrow">\s*<h1>(.*?)</h1>\s*<p>(.*?)</p>', re.S)


def refusal_message(answer) -> str | None:
    """What a refused change says: its error flash, or the error page's title and message."""
    if found := ERROR_FLASH.search(answer.body):
        return " ".join(found.group(1).split())
    if answer.status == 404 and (found := ERROR_PAGE.search(answer.body)):
        return " ".join(f"{found.group(1)}: {found.group(2)}".split())
    return None


# --- the program -----------------------------------------------------------------------------


@dataclass
class Program:
    url: str
    cookies: dict[str, str]  # e-mail → session cookie ("vouch_session=…")
    coordinators: list[str]
    advocates: list[str]  # e-mails
    popular: list[str]
    request_ids: list[int]


def advocates_csv(rng: random.Random) -> tuple[str, list[str], list[str]]:
    """The advocates file: most on the Active tier with a personal cap of 1 or 2, two or three
    weekly windows of two hours; the popular ones on Premier with a window every weekday."""
    from workflows.imports import ADVOCATE_COLUMNS

    industries = ["Healthcare", "Financial Services", "Technology", "Retail", "Manufacturing"]
    regions = ["Europe", "North America", "Asia Pacific"]
    days = ["Mon", "Tue", "Wed", "Thu", "Fri"]
    rows, emails, popular = [",".join(ADVOCATE_COLUMNS)], [], []
    for number in range(ADVOCATES):
        email = f"advocate{number}@customer{number}.example"
        emails.append(email)
        if number < POPULAR:
            popular.append(email)
            tier, cap = "Premier", ""
            windows = "; ".join(f"{day} 09:00-12:00" for day in days)
        else:
            tier, cap = "Active", str(rng.choice((1, 2)))
            picked = sorted(rng.sample(range(5), rng.choice((2, 3))))
            start = rng.choice((8, 10, 13, 15))
            windows = "; ".join(f"{days[day]} {start:02d}:00-{start + 2:02d}:00" for day in picked)
        cells = {
            "email": email, "name": f"Advocate {number}", "company": f"Customer {number} Ltd",
            "industry": rng.choice(industries), "employees": str(rng.choice((120, 800, 2500))),
            "region": rng.choice(regions), "job_level": rng.choice(("Director", "Manager")),
            "tier": tier, "timezone": "UTC", "formats": "call; video", "use_cases": "",
            "topics": "Implementation; ROI", "avoid_topics": "", "competitors": "",
            "weekly_windows": windows, "quarterly_cap": cap,
        }
        rows.append(",".join(cells[column] for column in ADVOCATE_COLUMNS))
    return "\n".join(rows) + "\n", emails, popular


def build(app, url: str) -> Program:
    """Migrate the scratch schema and fill it with the program's own workflows."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from models import Account, Advocate, Role, db
    from tests.helpers import sign_in_directly
    from workflows import accounts, availability, request_submission
    from workflows import requests as flow
    from workflows.imports import import_advocates
    from workflows.request_input import parse_request

    rng = random.Random(SEED)
    with app.app_context():
        upgrade()
        coordinators = [accounts.create_account(f"coordinator{n}@vouch.example", Role.COORDINATOR,
                                                f"Coordinator {n}").email for n in range(3)]
        seller_id = accounts.create_account("seller@vouch.example", Role.SALES, "Sam Seller").id
        text, emails, popular = advocates_csv(rng)
        import_advocates(io.StringIO(text), source_name="soak-advocates.csv")
        ids = dict(db.session.execute(select(Account.email, Advocate.id).join(Advocate.account)).all())
        for email in emails[POPULAR:][::3]:  # a third keep two days between calls
            availability.set_limits(ids[email], rng.choice((1, 2)), 2, 1)
        seller = db.session.get(Account, seller_id)
        request_ids = []
        for number in range(REQUESTS):
            data = parse_request({
                "prospect_company": f"Prospect {number} GmbH",
                # Alike, so that one advocate tops many rankings at once and is asked for several.
                "industry": rng.choice(["Healthcare", "Financial Services"]), "employees": 900,
                "region": "Europe", "contact_name": f"Pat Prospect {number}",
                "contact_email": f"pat{number}@prospect{number}.example",
                "format": "call", "topics": ["Implementation"],
                "needed_by": (date.today() + timedelta(days=25)).isoformat(),
            })
            request_ids.append(request_submission.submit_request(data, by=seller).id)
            db.session.remove()
            seller = db.session.get(Account, seller_id)
        # The popular advocates have accepted asks, one after the other: their prospects'
        # introductions lie side by side in the outbox, so they open their booking pages together.
        coordinator_id = db.session.scalar(select(Account.id).where(Account.email == coordinators[0]))
        coordinator = db.session.get(Account, coordinator_id)
        taken = iter(request_ids[-POPULAR * POPULAR_ASKS:])
        for email in popular:
            for _ in range(POPULAR_ASKS):
                asked = flow.ask(next(taken), ids[email], by=coordinator)
                flow.accept_ask(asked.id, ids[email])
                db.session.remove()
                coordinator = db.session.get(Account, coordinator_id)
        request_ids = request_ids[:-POPULAR * POPULAR_ASKS]
        cookies = {}
        name = app.config["SESSION_COOKIE_NAME"]
        for account in db.session.scalars(select(Account).where(Account.role != Role.SALES)):
            client = app.test_client()
            sign_in_directly(client, account)
            cookies[account.email] = f"{name}={client.get_cookie(name).value}"
        db.session.remove()
    return Program(url, cookies, coordinators, emails, popular, request_ids)


@pytest.fixture(scope="module")
def program(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the soak runs on PostgreSQL only (set TEST_DATABASE_URL): it is about row locks, "
                    "the exclusion constraint and concurrent workers, which SQLite's one writer has not")
    from app import create_app
    from bench.reports import scratch_schema
    from models import db

    with scratch_schema(database_url, SCHEMA) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "BASE_URL": BASE_URL})
        try:
            yield app, build(app, url)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(url: str, error_log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RATELIMIT_", "TEST_"))}
    env.update(VOUCH_ENV="development", DATABASE_URL=url, SECRET_KEY=SECRET, LOG_SIGN_IN_LINKS="false",
               RATELIMIT_STORAGE_URI="memory://", BASE_URL=BASE_URL,
               MAIL_SERVER="127.0.0.1", MAIL_PORT="9")
    with error_log.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
             "--log-level", "warning", "app:create_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            if send(port, "GET", "/healthz", None)[0].status == 200:
                return process, port
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"gunicorn did not start: {error_log.read_text()[-2000:]}")
        time.sleep(0.2)


# --- a client: http.client, a cookie, the forms of a page ------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    location: str
    seconds: float
    cookie: str | None  # the session cookie the answer set, if it set one


def send(port: int, method: str, path: str, cookie: str | None, fields: dict | None = None,
         *, times: int = 1) -> list[Answer]:
    """Send the request ``times`` times at once, each on a connection of its own (a double
    click: all are sent before any answer is read); → the answers."""
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if fields is not None:
        body = urlencode(fields, doseq=True)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT) for _ in range(times)]
    answers = []
    try:
        began = []
        for connection in connections:
            began.append(time.perf_counter())
            connection.request(method, path, body=body, headers=headers)
        for connection, sent in zip(connections, began, strict=True):
            answer = connection.getresponse()
            text = answer.read().decode()
            set_cookie = answer.getheader("Set-Cookie")
            cookie = set_cookie.split(";", 1)[0] if set_cookie else None
            answers.append(Answer(answer.status, text, answer.getheader("Location") or "",
                                  time.perf_counter() - sent, cookie))
    finally:
        for connection in connections:
            connection.close()
    return answers


class Person:
    """One person's browser: the session they signed in with, and what the server sets since."""

    def __init__(self, port: int, cookie: str | None) -> None:
        self.port, self.cookie = port, cookie

    def open(self, method: str, path: str, fields: dict | None = None) -> Answer:
        return self.click(method, path, fields, times=1)[0]

    def click(self, method: str, path: str, fields: dict | None = None, *, times: int) -> list[Answer]:
        """Send a form ``times`` times at once (``send``)."""
        answers = send(self.port, method, path, self.cookie, fields, times=times)
        for answer in answers:
            if answer.cookie:
                self.cookie = answer.cookie
        return answers


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)  # hidden inputs
    choices: dict[str, list[str]] = field(default_factory=dict)  # radio buttons and selects


class FormReader(HTMLParser):
    """The POST forms of a page: their action, hidden fields, and the values of their radio
    buttons and selects."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and (attributes.get("method") or "").lower() == "post":
            self._form = Form(attributes.get("action") or "")
        elif self._form is None:
            return
        elif tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self._form.fields[attributes["name"]] = attributes.get("value") or ""
        elif tag == "input" and attributes.get("type") == "radio":
            self._form.choices.setdefault(attributes["name"], []).append(attributes.get("value") or "")
        elif tag == "select":
            self._select = attributes.get("name")
        elif tag == "option" and self._select and attributes.get("value"):
            self._form.choices.setdefault(self._select, []).append(attributes["value"])

    def handle_endtag(self, tag):
        if tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None
        elif tag == "select":
            self._select = None


def forms(html: str, action: str) -> list[Form]:
    """The page's POST forms whose action matches the regular expression ``action``."""
    reader = FormReader()
    reader.feed(html)
    return [form for form in reader.forms if re.fullmatch(action, form.action)]


# --- what was done, and how it was answered --------------------------------------------------


class Log:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, list[float]] = collections.defaultdict(list)
        self.outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.messages: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.errors: list[str] = []

    def page(self, action: str, answer: Answer) -> bool:
        """A page: a 200 and nothing else."""
        return self._record(action, answer, "ok" if answer.status == 200 else "error") == "ok"

    def change(self, action: str, answer: Answer) -> str:
        """A change: → "ok" (redirected on), "refused" (an expected refusal, with its message) or
        "error"."""
        if answer.status in (302, 303) and "/sign-in" not in answer.location:
            outcome = "ok"
        elif answer.status in REFUSALS[action] and refusal_message(answer):
            outcome = "refused"
        else:
            outcome = "error"
        return self._record(action, answer, outcome)

    def broken(self, action: str, error: Exception, trace: str = "") -> None:
        with self.lock:
            self.outcomes[action]["error"] += 1
            self.errors.append(f"{action}: {type(error).__name__}: {error} {trace}")

    def _record(self, action: str, answer: Answer, outcome: str) -> str:
        with self.lock:
            self.seconds[action].append(answer.seconds)
            self.outcomes[action][outcome] += 1
            if outcome == "refused":
                said = refusal_message(answer)
                self.messages[action][re.sub(r"\d+", "N", said)[:60]] += 1
            elif outcome == "error":
                self.errors.append(f"{action}: {answer.status} {answer.location} {answer.body[:300]!r}")
        return outcome

    def count(self, action: str, outcome: str = "ok") -> int:
        return self.outcomes[action][outcome]

    def refused_saying(self, action: str, words: str) -> int:
        return sum(n for said, n in self.messages[action].items() if words in said)

    def summary(self) -> dict:
        actions = {}
        for action in sorted(self.outcomes):
            ordered = sorted(self.seconds[action]) or [0.0]
            actions[action] = {
                **{outcome: self.outcomes[action][outcome] for outcome in ("ok", "refused", "error")},
                "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 1),
            }
        return actions


class Mailbox:
    """The e-mails the changes queued, read from the outbox as a mail client would fetch them:
    the asks (to advocates) and the introductions (to prospects), each taken by one client.

    Advocates read their mail a few seconds after it arrives (``ANSWER_AFTER``), so that an
    advocate may be asked for several requests before answering one: on a cap of 1 or 2 the
    acceptances then race for the quarter's last place. Prospects open their link at once."""

    ANSWER_AFTER = {"ask": min(5.0, SOAK_SECONDS / 12), "introduction": 0.0}

    def __init__(self, engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.last_id = 0
        self.last_poll = 0.0
        self.waiting = {name: collections.deque() for name in self.ANSWER_AFTER}

    def take(self, template: str) -> tuple[str, str] | None:
        """→ (recipient, path of the link in the e-mail), or None when nothing is due."""
        with self.lock:
            now = time.monotonic()
            if now - self.last_poll > 0.2:
                self._poll(now)
            waiting = self.waiting[template]
            if waiting and waiting[0][0] <= now:
                return waiting.popleft()[1:]
            return None

    def forget(self, template: str) -> None:
        """Drop what has arrived so far (mail already dealt with)."""
        with self.lock:
            self._poll(time.monotonic())
            self.waiting[template].clear()

    def _poll(self, now: float) -> None:
        from sqlalchemy import text

        self.last_poll = now
        with self.engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT id, template, \"to\", body_text FROM outbox_messages "
                "WHERE id > :last AND template IN ('ask', 'introduction') ORDER BY id"),
                {"last": self.last_id})
            for message_id, template, to, body in rows:
                self.last_id = message_id
                recipient = (json.loads(to) if isinstance(to, str) else to)[0]
                link = re.search(rf"{re.escape(BASE_URL)}(/(?:portal/asks|book)/\S+)", body)
                self.waiting[template].append((now + self.ANSWER_AFTER[template], recipient, link.group(1)))


# --- the clients -----------------------------------------------------------------------------


def clicks(rng: random.Random) -> int:
    """How many times a person sends a form: now and then twice at once (a double click)."""
    return 2 if rng.random() < 0.2 else 1


class Clients:
    def __init__(self, port: int, made: Program, mailbox: Mailbox, log: Log, stop_at: float) -> None:
        self.port, self.program, self.mailbox, self.log, self.stop_at = port, made, mailbox, log, stop_at
        self.lock = threading.Lock()
        self.snoozed: set[str] = set()  # e-mails of the advocates snoozed

    def run(self, role: str, number: int) -> None:
        rng = random.Random(f"{SEED}-{role}-{number}")
        people: dict[str, Person] = {}

        def person(email: str | None) -> Person:
            if email not in people:
                people[email] = Person(self.port, self.program.cookies.get(email) if email else None)
            return people[email]

        step = getattr(self, role)
        while time.perf_counter() < self.stop_at:
            try:
                step(rng, person)
            except (OSError, http.client.HTTPException) as error:
                self.log.broken(role, error)
            except Exception as error:  # the client's own fault: it fails the test with its trace
                self.log.broken(role, error, traceback.format_exc())

    # Each step is one visit: a page or two and, mostly, a change.

    def coordinator(self, rng, person) -> None:
        me = person(rng.choice(self.program.coordinators))
        queue = me.open("GET", f"/admin/requests?status={rng.choice(('new', 'new', 'asking'))}")
        if not self.log.page("queue", queue):
            return
        ids = re.findall(r'href="/admin/requests/(\d+)"', queue.body)[:30]
        if rng.random() < 0.15:
            self.log.page("pool", me.open("GET", "/admin/advocates"))
        if not ids:
            return
        page = me.open("GET", f"/admin/requests/{rng.choice(ids)}")
        if not self.log.page("request", page):
            return
        asks = forms(page.body, r"/admin/requests/\d+/asks")
        if asks:
            chosen = rng.choice(asks[:3])
            for answer in me.click("POST", chosen.action, chosen.fields, times=clicks(rng)):
                self.log.change("ask", answer)

    def advocate(self, rng, person) -> None:
        roll = rng.random()
        if mail := self.mailbox.take("ask"):
            self._answer(rng, person(mail[0]), mail[1])
        elif roll < 0.85:
            with self.lock:
                snoozed = sorted(self.snoozed)
            if snoozed and rng.random() < 0.2:
                pool = snoozed  # back from the break: ending the snooze
            else:
                pool = self.program.popular if rng.random() < 0.3 else self.program.advocates
            email = rng.choice(pool)
            self._availability(rng, person(email), email)
        else:
            self.log.page("home", person(rng.choice(self.program.advocates)).open("GET", "/portal"))

    def _answer(self, rng, me: Person, path: str) -> None:
        page = me.open("GET", path)
        if not self.log.page("ask_page", page):
            return
        if rng.random() < 0.8:
            accept = forms(page.body, r"/portal/asks/\d+/accept")
            if accept:
                for answer in me.click("POST", accept[0].action, accept[0].fields, times=clicks(rng)):
                    self.log.change("accept", answer)
        else:
            decline = forms(page.body, r"/portal/asks/\d+/decline")
            if decline:
                fields = {**decline[0].fields, "reason": rng.choice(decline[0].choices["reason"]),
                          "note": "Busy this month."}
                for answer in me.click("POST", decline[0].action, fields, times=clicks(rng)):
                    self.log.change("decline", answer)

    def _availability(self, rng, me: Person, email: str) -> None:
        page = me.open("GET", "/portal/availability")
        if not self.log.page("availability", page):
            return
        windows = forms(page.body, r"/portal/availability/windows/\d+/remove")
        blackouts = forms(page.body, r"/portal/availability/blackouts/\d+/remove")
        roll = rng.random()
        if roll < 0.3:
            [add] = forms(page.body, "/portal/availability/windows")
            start = rng.randrange(7, 18)
            fields = {**add.fields, "weekday": str(rng.randrange(7)), "starts": f"{start:02d}:00",
                      "ends": f"{start + rng.choice((1, 2)):02d}:00"}
            for answer in me.click("POST", add.action, fields, times=clicks(rng)):
                self.log.change("add_window", answer)
        elif roll < 0.5 and len(windows) > 1:
            remove = rng.choice(windows)
            self.log.change("remove_window", me.open("POST", remove.action, remove.fields))
        elif roll < 0.6:
            self._snooze(rng, me, email, page)
        elif roll < 0.8 or not blackouts:
            [add] = forms(page.body, "/portal/availability/blackouts")
            first = date.today() + timedelta(days=rng.randrange(2, 20))
            fields = {**add.fields, "starts_on": first.isoformat(),
                      "ends_on": (first + timedelta(days=rng.randrange(2))).isoformat(), "reason": "Travel"}
            self.log.change("add_blackout", me.open("POST", add.action, fields))
        else:
            remove = rng.choice(blackouts)
            self.log.change("remove_blackout", me.open("POST", remove.action, remove.fields))

    def _snooze(self, rng, me: Person, email: str, page: Answer) -> None:
        """Snooze for a day or two, or clear the snooze: no asks and no bookings meanwhile."""
        clear = forms(page.body, "/portal/availability/snooze/clear")
        if clear:
            if self.log.change("clear_snooze", me.open("POST", clear[0].action, clear[0].fields)) == "ok":
                with self.lock:
                    self.snoozed.discard(email)
            return
        [snooze] = forms(page.body, "/portal/availability/snooze")
        until = date.today() + timedelta(days=rng.randrange(1, 3))
        fields = {**snooze.fields, "until": until.isoformat()}
        if self.log.change("snooze", me.open("POST", snooze.action, fields)) == "ok":
            with self.lock:
                self.snoozed.add(email)

    def prospect(self, rng, person) -> None:
        mail = self.mailbox.take("introduction")
        if mail is None:
            self.reader(rng, person)
            return
        me = person(None)
        me.cookie = None  # a new visitor for each link: no session yet
        page = me.open("GET", mail[1] + "?tz=UTC")
        if not self.log.page("booking_page", page):
            return
        for _attempt in range(3):
            picker = forms(page.body, r"/book/[^/]+")
            if not picker or not picker[0].choices.get("slot"):
                return  # no free time left: the page says so
            fields = {**picker[0].fields, "slot": rng.choice(picker[0].choices["slot"][:3])}
            outcomes = []
            for answer in me.click("POST", picker[0].action, fields, times=clicks(rng)):
                outcomes.append(self.log.change("book", answer))
                if outcomes[-1] == "refused":
                    page = answer
            if "refused" not in outcomes or "ok" in outcomes:
                return

    def reader(self, rng, person) -> None:
        roll = rng.random()
        coordinator = person(rng.choice(self.program.coordinators))
        if roll < 0.3:
            self.log.page("home", person(rng.choice(self.program.advocates)).open("GET", "/portal"))
        elif roll < 0.5:
            self.log.page("queue", coordinator.open("GET", "/admin/requests"))
        elif roll < 0.65:
            self.log.page("pool", coordinator.open("GET", "/admin/advocates"))
        elif roll < 0.9:
            request_id = rng.choice(self.program.request_ids)
            self.log.page("request", coordinator.open("GET", f"/admin/requests/{request_id}"))
        else:
            self.log.page("healthz", person(None).open("GET", "/healthz"))


# --- afterwards, in the database -------------------------------------------------------------


def violations(app) -> dict:
    """What plain SQL finds against the invariants, each a list of offending rows (empty: held),
    and the totals of what the run left."""
    from sqlalchemy import bindparam, select, text

    from models import Advocate, Tier, db
    from models.engagements import CALENDAR_STATUSES, COUNTED_STATUSES, LIVE_STATUSES
    from workflows import quota, settings

    lists = {
        "counted": [status.value for status in COUNTED_STATUSES],
        "calendar": list(CALENDAR_STATUSES),
        "live": [status.value for status in LIVE_STATUSES],
    }

    def rows(sql: str, **values) -> list[tuple]:
        query = text(sql)
        named = [bindparam(name, lists[name], expanding=True) for name in lists if f":{name}" in sql]
        if named:
            query = query.bindparams(*named)
        return [tuple(row) for row in db.session.execute(query, values)]

    calls = "status IN :calendar AND starts_at IS NOT NULL"
    with app.app_context():
        # The limit is the app's own rule (min(tier quota, personal cap)), in SQL.
        limits = dict(db.session.execute(
            select(Advocate.id, quota.quota_limit()).outerjoin(Tier, Advocate.tier_id == Tier.id)).all())
        used = rows("SELECT advocate_id, quarter, count(*) FROM engagements WHERE status IN :counted "
                    "GROUP BY advocate_id, quarter")
        found = {
            "quota_overrun": [(a, q, n, limits[a]) for a, q, n in used if n > limits[a]],
            # Two calls of one advocate closer than the buffer, or overlapping.
            "overlapping_calls": rows(
                f"SELECT a.id, b.id FROM (SELECT * FROM engagements WHERE {calls}) a "
                f"JOIN (SELECT * FROM engagements WHERE {calls}) b ON a.advocate_id = b.advocate_id "
                "AND a.id < b.id AND a.starts_at < b.ends_at + make_interval(mins => :buffer) "
                "AND b.starts_at < a.ends_at + make_interval(mins => :buffer)",
                buffer=settings.value("BOOKING_BUFFER_MINUTES")),
            "slot_booked_twice": rows(
                f"SELECT advocate_id, starts_at, count(*) FROM engagements WHERE {calls} "
                "GROUP BY advocate_id, starts_at HAVING count(*) > 1"),
            "day_over_limit": rows(
                "SELECT e.advocate_id, (e.starts_at AT TIME ZONE ac.timezone)::date AS day, count(*), "
                "ad.max_calls_per_day FROM (SELECT * FROM engagements WHERE "
                f"{calls}) e JOIN advocates ad ON ad.id = e.advocate_id "
                "JOIN accounts ac ON ac.id = ad.account_id "
                "GROUP BY e.advocate_id, day, ad.max_calls_per_day HAVING count(*) > ad.max_calls_per_day"),
            "calls_too_close": rows(
                "SELECT a.id, b.id, ad.min_days_between_calls "
                f"FROM (SELECT * FROM engagements WHERE {calls}) a "
                f"JOIN (SELECT * FROM engagements WHERE {calls}) b ON a.advocate_id = b.advocate_id "
                "AND a.id < b.id JOIN advocates ad ON ad.id = a.advocate_id WHERE "
                "abs(extract(epoch FROM a.starts_at - b.starts_at)) < ad.min_days_between_calls * 86400"),
            "overlapping_windows": rows(
                "SELECT a.id, b.id FROM weekly_windows a JOIN weekly_windows b "
                "ON a.advocate_id = b.advocate_id AND a.weekday = b.weekday AND a.id < b.id "
                "AND a.starts < b.ends AND b.starts < a.ends"),
            "request_taken_twice": rows(
                "SELECT request_id, count(*) FROM engagements WHERE status IN :live "
                "GROUP BY request_id HAVING count(*) > 1")
            + rows("SELECT request_id, count(*) FROM asks WHERE status = 'accepted' "
                   "GROUP BY request_id HAVING count(*) > 1"),
            "accepted_without_engagement": rows(
                "SELECT s.id FROM asks s LEFT JOIN engagements e ON e.ask_id = s.id "
                "WHERE s.status = 'accepted' AND e.id IS NULL"),
            "pending_when_taken": rows(
                "SELECT s.id FROM asks s JOIN asks t ON t.request_id = s.request_id "
                "AND t.status = 'accepted' WHERE s.status = 'pending'"),
            "request_status_wrong": rows(
                "SELECT e.id, e.status, r.status FROM engagements e JOIN requests r ON r.id = e.request_id "
                "WHERE NOT ((e.status = 'awaiting_booking' AND r.status = 'matched') "
                "OR (e.status = 'booked' AND r.status = 'scheduled'))"),
            # The outbox: one ask e-mail per ask, one introduction per accepted call, one
            # confirmation to each side per booking, and nothing for what was refused.
            "ask_emails_wrong": rows(
                "SELECT s.id, m.id FROM asks s "
                "FULL JOIN (SELECT * FROM outbox_messages WHERE template = 'ask') m "
                "ON m.idempotency_key = 'ask:' || s.id WHERE s.id IS NULL OR m.id IS NULL"),
            "introductions_wrong": rows(
                "SELECT e.id, m.id FROM engagements e FULL JOIN "
                "(SELECT * FROM outbox_messages WHERE template = 'introduction') m "
                "ON m.idempotency_key = 'introduction:' || e.id || '\\:0' "
                "WHERE e.id IS NULL OR m.id IS NULL"),
            "confirmations_wrong": rows(
                "SELECT e.id, m.id FROM (SELECT e.id, side FROM engagements e, "
                "(VALUES ('advocate'), ('prospect')) AS sides (side) WHERE e.status = 'booked') e "
                "FULL JOIN (SELECT * FROM outbox_messages WHERE template = 'booking') m "
                "ON m.idempotency_key = 'booking:' || e.id || '\\:0\\:booked\\:' || e.side "
                "WHERE e.id IS NULL OR m.id IS NULL"),
        }
        [(asks, engagements, booked, outbox)] = rows(
            "SELECT (SELECT count(*) FROM asks), (SELECT count(*) FROM engagements), "
            "(SELECT count(*) FROM engagements WHERE status = 'booked'), "
            "(SELECT count(*) FROM outbox_messages)")
        totals = {"asks": asks, "engagements": engagements, "booked": booked, "outbox": outbox,
                  "advocate_quarters_full": sum(1 for a, _q, n in used if n >= limits[a])}
        db.session.remove()
    return {"violations": found, "totals": totals}


# --- the soak --------------------------------------------------------------------------------


def at_least(per_minute: int) -> int:
    """A count each kind of action must reach, for the run's length (so none passes vacuously)."""
    return max(1, int(per_minute * SOAK_SECONDS / 60))


def test_twenty_clients_mixing_reads_and_writes_for_a_minute(program, tmp_path):
    from sqlalchemy import create_engine

    app, made = program
    error_log = tmp_path / "gunicorn.log"
    process, port = start_server(made.url, error_log)
    engine = create_engine(made.url)
    log = Log()
    try:
        mailbox = Mailbox(engine)
        mailbox.forget("ask")  # the asks of the start were accepted there and then
        clients = Clients(port, made, mailbox, log, time.perf_counter() + SOAK_SECONDS)
        threads = [threading.Thread(target=clients.run, args=(role, number), daemon=True)
                   for role, count in CLIENTS.items() for number in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SOAK_SECONDS + 2 * TIMEOUT)
        assert not any(thread.is_alive() for thread in threads), "a client still waits for an answer"
    finally:
        process.terminate()
        process.wait(60)
        engine.dispose()
    found = violations(app)
    server_errors = [line for line in error_log.read_text().splitlines()
                     if "Traceback" in line or "WORKER TIMEOUT" in line or "ERROR" in line]
    errors = sum(log.count(action, "error") for action in log.outcomes)
    print("\n" + json.dumps({
        "test": "soak", "database": "postgresql", "seconds": SOAK_SECONDS, "clients": sum(CLIENTS.values()),
        "workers": WORKERS, "advocates": ADVOCATES, "requests": REQUESTS, "errors": errors,
        "actions": log.summary(), "refusals": {a: dict(m) for a, m in log.messages.items()},
        **found["totals"], "violations": {name: len(rows) for name, rows in found["violations"].items()},
    }))

    assert log.errors == [], log.errors[:10]
    assert server_errors == [], error_log.read_text()[-5000:]
    assert {name: rows for name, rows in found["violations"].items() if rows} == {}
    # Every kind of action happened often enough for the run to mean something, the races too.
    for action, per_minute in {"ask": 20, "accept": 10, "decline": 2, "book": 10, "add_window": 5,
                               "remove_window": 2, "add_blackout": 5, "remove_blackout": 2,
                               "snooze": 2, "clear_snooze": 1}.items():
        assert log.count(action) >= at_least(per_minute), (action, log.summary())
    for page in ("queue", "request", "pool", "home", "ask_page", "booking_page", "availability"):
        assert log.count(page) >= at_least(10), (page, log.summary())
    assert log.refused_saying("accept", "calls for") >= 1, log.messages  # a full quarter
    assert log.refused_saying("book", "just taken") >= 1, log.messages  # a slot lost to another


def test_the_checks_find_a_quota_overrun_calls_too_close_and_an_ask_without_its_email(program):
    """The checks above can fail: rows written past the workflows (what a bug would leave) are
    found, then removed. The database itself refuses overlapping calls and a slot booked twice
    (the exclusion constraint and the unique index), so those cannot be planted."""
    from sqlalchemy import delete, select

    from models import Advocate, Ask, AskStatus, Engagement, EngagementStatus, ReferenceRequest, db
    from models.types import utcnow
    from workflows import quota

    app, made = program
    with app.app_context():
        ids = dict(db.session.execute(select(Advocate.id, Advocate.account_id)).all())
        popular, quiet = sorted(ids)[0], sorted(ids)[-1]
        use = quota.quarter_use(db.session.get(Advocate, popular))
        starts = (utcnow() + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
        planted = [Engagement(advocate_id=popular, format_code="call", quarter=use.quarter,
                              status=EngagementStatus.AWAITING_BOOKING) for _ in range(use.left + 1)]
        planted += [Engagement(advocate_id=quiet, format_code="call", status=EngagementStatus.BOOKED,
                               starts_at=start, ends_at=start + timedelta(minutes=30),
                               quarter=quota.current_quarter(start))
                    for start in (starts, starts + timedelta(minutes=35))]  # 5 minutes apart
        request_id = db.session.scalar(select(ReferenceRequest.id).order_by(ReferenceRequest.id.desc()))
        ask = Ask(request_id=request_id, advocate_id=quiet, status=AskStatus.DECLINED, score=1,
                  explanation=[], expires_at=utcnow())
        db.session.add_all([*planted, ask])
        db.session.commit()
        engagement_ids, ask_id = [e.id for e in planted], ask.id
        db.session.remove()
    try:
        found = violations(app)["violations"]
    finally:
        with app.app_context():
            db.session.execute(delete(Engagement).where(Engagement.id.in_(engagement_ids)))
            db.session.execute(delete(Ask).where(Ask.id == ask_id))
            db.session.commit()
            db.session.remove()

    assert (popular, use.quarter) in {(a, q) for a, q, _n, _limit in found["quota_overrun"]}
    assert (engagement_ids[-2], engagement_ids[-1]) in found["overlapping_calls"]
    assert quiet in {row[0] for row in found["day_over_limit"]}
    assert (ask_id, None) in found["ask_emails_wrong"]
    assert {row[0] for row in found["introductions_wrong"]} >= set(engagement_ids)
