"""An advocate says, from a phone, which topics they would rather not discuss and which formats
they take."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from models import db
from tests.browser.conftest import PHONE, fits_the_screen, sign_in_link
from workflows import profiles as flow

pytestmark = pytest.mark.browser


@pytest.fixture()
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True}




def test_an_advocate_marks_a_topic_rather_not_and_turns_a_format_off(
    page, app, live_url, make_advocate, smtp, deliver
):
    advocate = make_advocate(name="Dana Example", email="dana@example.com")
    with app.app_context():
        flow.save_topics(advocate.id, {}, ["call", "video", "written"])
        db.session.remove()

    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(advocate.account.email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    assert deliver().sent == 1
    page.goto(sign_in_link(smtp.wait_for(advocate.account.email)[-1]))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Hello, Dana Example")).to_be_visible()

    page.goto("/portal/topics")
    expect(page.get_by_role("heading", name="Topics and formats")).to_be_visible()
    security = page.get_by_role("group", name="Security", exact=True)
    expect(security.get_by_label("Neutral")).to_be_checked()
    formats = page.get_by_role("group", name="Formats you accept", exact=True)
    expect(formats.get_by_label("Video call")).to_be_checked()
    assert fits_the_screen(page)

    security.get_by_label("Rather not").check()
    page.get_by_role("group", name="ROI", exact=True).get_by_label("Glad to talk about").check()
    formats.get_by_label("Video call").uncheck()
    page.get_by_role("button", name="Save topics and formats").click()

    saved = page.get_by_role("status").filter(has_text="Topics and formats saved")
    expect(saved).to_contain_text("glad to talk about 1 topic, rather not 1")
    expect(saved).to_contain_text("formats: Phone call, Written reference.")

    page.reload()
    expect(page.get_by_role("status")).to_have_count(0)
    security = page.get_by_role("group", name="Security", exact=True)
    expect(security.get_by_label("Rather not")).to_be_checked()
    expect(security.get_by_label("Neutral")).not_to_be_checked()
    roi = page.get_by_role("group", name="ROI", exact=True)
    expect(roi.get_by_label("Glad to talk about")).to_be_checked()
    expect(page.get_by_role("group", name="Compliance", exact=True).get_by_label("Neutral")).to_be_checked()
    formats = page.get_by_role("group", name="Formats you accept", exact=True)
    expect(formats.get_by_label("Video call")).not_to_be_checked()
    expect(formats.get_by_label("Phone call")).to_be_checked()
    expect(formats.get_by_label("Written reference")).to_be_checked()
    expect(formats.get_by_label("Site visit")).not_to_be_checked()
    assert fits_the_screen(page)
