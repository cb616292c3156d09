"""Helpers many test files share: reading pages, posting forms with their CSRF token, a signed-in
client without the e-mail round trip, and the API client with a bearer token."""

from __future__ import annotations

import re
import time

import pyotp

from access import SECOND_FACTOR_GIVEN
from models import Account
from tests.conftest import csrf_token


def text(html: str) -> str:
    """The page's words, tags removed, spaces folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def flashed(html: str) -> list[str]:
    """The flash messages on a page, in order."""
    found = re.findall(r'class="flash[^"]*" role="status">(.*?)</p>', html, re.S)
    return [" ".join(message.split()) for message in found]


def section(html: str, element_id: str) -> str:
    found = re.search(rf'<(section|details|p|article|div)[^>]*id="{element_id}".*?</\1>', html, re.S)
    assert found, f"no #{element_id} on the page"
    return found.group(0)


def page(http, url: str, status: int = 200) -> str:
    response = http.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def post_form(http, url: str, data: dict | None = None, *, form_page: str | None = None,
              follow: bool = False):
    """POST ``data`` with a CSRF token read from ``form_page`` (default: the page posted to's
    home for the role: any signed-in page carries the token in its sign-out form)."""
    token = csrf_token(http.get(form_page or "/").get_data(as_text=True)) if form_page else _token(http)
    return http.post(url, data={"csrf_token": token, **(data or {})}, follow_redirects=follow)


def _token(http) -> str:
    response = http.get("/")
    while response.status_code in (301, 302, 303):
        response = http.get(response.headers["Location"])
    return csrf_token(response.get_data(as_text=True))


def sign_in_directly(http, account: Account, *, second_factor_given: bool = True) -> None:
    """A signed-in session as the e-mailed link makes one, without the e-mail: for tests about
    something else (one test per role goes through the whole e-mail flow).

    The session is fully signed in, as the real flow leaves it once a staff member has also
    given their second factor (``access.SECOND_FACTOR_GIVEN``): tests about anything but the
    second factor need no authenticator app. ``second_factor_given=False`` makes the session of
    someone who signed in without one (before the setting asked coordinators for it)."""
    now = int(time.time())
    with http.session_transaction() as session:
        session.clear()
        session["_user_id"] = account.get_id()
        session["_fresh"] = True
        session.permanent = True
        session["signed_in_at"] = now
        session["seen_at"] = now
        if second_factor_given:
            session[SECOND_FACTOR_GIVEN] = now


# The TOTP secret each address's enrolment page showed last (read off the page, as a person types
# it into their app), and the last time step whose code was given with each secret.
TOTP_SECRETS: dict[str, str] = {}
_USED_STEPS: dict[str, int] = {}


def enrolment_secret(html: str) -> str:
    found = re.search(r'id="totp-secret"[^>]*>([^<]+)<', html)
    assert found, "no key to type in on the page"
    return "".join(found.group(1).split())


def totp_code(secret: str) -> str:
    """A code from the app with ``secret``, as a person would type it: the current one, or the
    next (the server takes one step either side) when the current one was given already; else
    wait for a new step. Never a replay."""
    totp = pyotp.TOTP(secret)
    while True:
        now = int(time.time()) // totp.interval
        for step in (now, now + 1):
            if step > _USED_STEPS.get(secret, 0):
                _USED_STEPS[secret] = step
                return totp.generate_otp(step)
        time.sleep(0.5)


def give_second_factor(http, email: str):
    """Finish a half-signed-in session on ``http`` as a person would: on the enrolment page (the
    first time) type in the key shown, else enter a code from the app. → the last response (the
    recovery codes page after an enrolment, else the redirect to where the sign-in was going)."""
    from tests.conftest import csrf_token

    html = page(http, "/sign-in/second-factor")
    if 'id="totp-secret"' in html:
        TOTP_SECRETS[email] = enrolment_secret(html)
        url = "/sign-in/second-factor/set-up"
    else:
        url = "/sign-in/second-factor"
    return http.post(url, data={"csrf_token": csrf_token(html), "code": totp_code(TOTP_SECRETS[email])})


class Api:
    """A test client sending ``Authorization: Bearer <token>`` with every request."""

    def __init__(self, http, secret: str | None) -> None:
        self.http, self.secret = http, secret

    def open(self, method: str, url: str, *, headers=None, **kwargs):
        sent = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        return self.http.open(url, method=method, headers={**sent, **(headers or {})}, **kwargs)

    def get(self, url: str, **kwargs):
        return self.open("GET", url, **kwargs)

    def post(self, url: str, **kwargs):
        return self.open("POST", url, **kwargs)

    def patch(self, url: str, **kwargs):
        return self.open("PATCH", url, **kwargs)


def fit(app, advocate_id: int, *, formats=("call", "video", "written"), glad=(), use_cases=(),
        industry=None, hours=(7, 20)):
    """Make an advocate fit requests: formats accepted, topics glad to talk about, use cases,
    and a window every day (UTC) so a live call has a free slot before any needed-by date."""
    from datetime import time as clock

    from sqlalchemy import select

    from models import (
        Advocate,
        AdvocateTopic,
        Format,
        Industry,
        Topic,
        TopicStance,
        UseCase,
        WeeklyWindow,
        db,
    )

    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        if industry:
            advocate.company.industry = db.session.scalar(select(Industry).where(Industry.name == industry))
        advocate.formats = list(db.session.scalars(select(Format).where(Format.code.in_(formats))))
        for name in glad:
            topic = db.session.scalar(select(Topic).where(Topic.name == name))
            advocate.topics.append(AdvocateTopic(topic=topic, stance=TopicStance.GLAD))
        for name in use_cases:
            use_case = db.session.scalar(select(UseCase).where(UseCase.key == name.casefold()))
            advocate.use_cases.append(use_case or UseCase(name=name))
        for weekday in range(7):
            db.session.add(WeeklyWindow(advocate_id=advocate_id, weekday=weekday,
                                        starts=clock(hours[0]), ends=clock(hours[1])))
        db.session.commit()
        db.session.remove()
