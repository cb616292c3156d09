"""The app served over real HTTP in a thread, and Debian's Chromium driven by Playwright.

The live server serves the session's ``app``; for the length of a test its BASE_URL is the live
server's address, so the links the app e-mails lead to it and the browser opens them as sent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.helpers import TOTP_SECRETS, totp_code

PHONE = {"width": 390, "height": 844}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch settings, pointed at the system's Chromium (never
    ``playwright install``)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def closed_before_sent(app):
    """The app with each response read in full and closed before the server sends it.

    Work deferred to the close of a response (the sign-in link, ``portal.auth.after_the_answer``)
    is then done when the browser sees the next page. Werkzeug's server closes a response only
    after draining the client's socket, which can block while the browser keeps the connection
    open: the link was then not there yet, or for seconds, when the test read the e-mail."""

    def serve(environ, start_response):
        response = app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            if hasattr(response, "close"):
                response.close()

    return serve


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, served by werkzeug in a daemon thread."""
    server = make_server("127.0.0.1", 0, closed_before_sent(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
    server.server_close()


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Where pytest-playwright's ``page`` resolves relative URLs. Defining it here also keeps
    pytest-playwright's own fallback ``base_url`` (a session fixture written as an instance
    method, deprecated by pytest 9: an error under filterwarnings=error) from being used."""
    return live_server


@pytest.fixture()
def live_url(app, live_server, monkeypatch) -> str:
    """The live server's address, which is also BASE_URL while the test runs."""
    monkeypatch.setitem(app.config, "BASE_URL", live_server)
    return live_server


def sign_in_link(email) -> str:
    """The sign-in link in an e-mail read from the SMTP fixture."""
    text = email.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"https?://\S+/sign-in/link/\S+", text)
    assert found, f"no sign-in link in:\n{text}"
    return found.group(0)


def sign_in(page, account, smtp, deliver) -> None:
    """Through the e-mailed link, as a person would (other mail may be in the outbox too), and
    for an account that needs a second factor, through it too (``give_second_factor``)."""
    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(account.email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    deliver()
    messages = [m for m in smtp.wait_for(account.email) if "/sign-in/link/" in str(m.get_body())]
    page.goto(sign_in_link(messages[-1]))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    if urlsplit(page.url).path == "/sign-in/second-factor":
        give_second_factor(page, account)
    expect(page.get_by_role("heading", name=f"Hello, {account.name}")).to_be_visible()


def give_second_factor(page, account) -> None:
    """On the second step, as a person with an authenticator app: the first time, type the key
    the page shows into the app (pyotp here), enter its code and keep the recovery codes;
    later, enter the app's code."""
    key = page.get_by_label("Key to type in")
    if key.count():
        TOTP_SECRETS[account.email] = "".join(key.inner_text().split())
        page.get_by_label("Code the app shows").fill(totp_code(TOTP_SECRETS[account.email]))
        page.get_by_role("button", name="Confirm and sign in").click()
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        page.get_by_role("button", name="I have kept them: continue").click()
    else:
        page.get_by_label("Code from your authenticator app").fill(totp_code(TOTP_SECRETS[account.email]))
        page.get_by_role("button", name="Sign in", exact=True).click()


def fits_the_screen(page) -> bool:
    """The page does not scroll sideways."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
