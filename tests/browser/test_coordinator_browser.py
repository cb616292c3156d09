"""A coordinator handles a new request in one browser while the advocate answers in another: the
coordinator opens the request from the queue, reads why each candidate fits, asks the top one;
the advocate, on a phone, opens the ask from their home page and accepts; the coordinator reloads
and reads "accepted" on the timeline."""

from __future__ import annotations

import re
from datetime import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import (
    Advocate,
    AdvocateTopic,
    Format,
    Industry,
    Role,
    Topic,
    TopicStance,
    UseCase,
    WeeklyWindow,
    db,
)
from tests.browser.conftest import PHONE, fits_the_screen, sign_in

pytestmark = pytest.mark.browser


def offer(app, advocate_id: int, *, industry: str | None = None, glad=(), use_cases=()) -> None:
    """Phone calls, a window every day from 07:00 to 20:00 in the advocate's zone, and the
    industry, topics and use cases given."""
    with app.app_context():
        advocate = db.session.get(Advocate, advocate_id)
        advocate.formats = list(db.session.scalars(select(Format).where(Format.code.in_(["call", "video"]))))
        if industry:
            advocate.company.industry = db.session.scalar(select(Industry).where(Industry.name == industry))
        for name in glad:
            topic = db.session.scalar(select(Topic).where(Topic.name == name))
            advocate.topics.append(AdvocateTopic(topic=topic, stance=TopicStance.GLAD))
        advocate.use_cases = [UseCase(name=name) for name in use_cases]
        for weekday in range(7):
            db.session.add(WeeklyWindow(advocate_id=advocate_id, weekday=weekday,
                                        starts=time(7), ends=time(20)))
        db.session.commit()


def test_a_coordinator_asks_the_top_advocate_and_sees_them_accept(
    app, page, new_context, live_url, make_account, make_advocate, make_request, smtp, deliver
):
    coordinator = make_account(role=Role.COORDINATOR, name="Cora Ordinator", email="cora@vouch.example")
    dana = make_advocate(name="Dana Example", email="dana@example.com", company="Acme Health",
                         timezone="Europe/Berlin")
    offer(app, dana.id, industry="Healthcare", glad=["Security"], use_cases=["Claims automation"])
    eli = make_advocate(name="Eli Other", email="eli@example.com", company="Bolt Retail")
    offer(app, eli.id, industry="Retail")
    make_advocate(name="Fay Paused", status="paused")
    request = make_request(format="call", industry="Healthcare", topics=["Security"],
                           use_cases=["Claims automation"], prospect_company="Zephyr Hospitals AG")

    # The coordinator finds the new request in the queue and opens it.
    sign_in(page, coordinator, smtp, deliver)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Requests").click()
    expect(page.get_by_role("heading", name="Requests")).to_be_visible()
    page.get_by_role("link", name="Zephyr Hospitals AG").click()
    expect(page).to_have_url(f"{live_url}/admin/requests/{request.id}")
    expect(page.get_by_role("heading", name="Phone call for Zephyr Hospitals AG")).to_be_visible()

    # The candidates, best first, each with the reasons that make up its score.
    candidates = page.locator("#candidates li.candidate")
    expect(candidates).to_have_count(2)
    top = candidates.first
    expect(top).to_contain_text("Dana Example")
    expect(top.locator("ul.reasons")).to_contain_text("Same industry +20")
    expect(top.locator("ul.reasons")).to_contain_text("Covers 1 of 1 topic")
    expect(top.locator("ul.reasons")).to_contain_text("Covers 1 of 1 use case")
    expect(candidates.nth(1)).to_contain_text("Eli Other")
    # Who was left out, and why, is there but folded away.
    left_out = page.locator("#excluded")
    expect(left_out.get_by_text("Not an active advocate")).to_be_hidden()
    left_out.locator("summary").click()
    expect(left_out).to_contain_text("Fay Paused")
    expect(left_out.get_by_text("Not an active advocate")).to_be_visible()

    top.get_by_role("button", name="Ask").click()
    expect(page.get_by_role("status").filter(has_text="Asked Dana Example.")).to_be_visible()
    expect(page.locator("#asks")).to_contain_text("Waiting for an answer")
    expect(page.locator("#timeline")).to_contain_text(re.compile(r"Asked Dana Example \(match score \d+\)"))

    # The advocate, on a phone in a browser of their own, answers from their home page.
    phone = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    advocate_page = phone.new_page()
    sign_in(advocate_page, dana.account, smtp, deliver)
    asks = advocate_page.locator("#asks")
    expect(asks.get_by_role("heading", name="Asked of you now (1)")).to_be_visible()
    asks.get_by_role("button", name="Accept or decline").click()
    expect(advocate_page.get_by_role("heading", name="Phone call for a prospect in Healthcare")
           ).to_be_visible()
    advocate_page.get_by_role("form", name="Accept").get_by_role("button", name="Accept").click()
    expect(advocate_page.get_by_role("status").filter(has_text="Thank you for accepting!")).to_be_visible()
    assert fits_the_screen(advocate_page)

    # The coordinator reloads: accepted, on the timeline and in the asks.
    page.reload()
    expect(page.locator("#timeline")).to_contain_text("Dana Example Accepted the ask")
    expect(page.locator("#asks")).to_contain_text("Accepted")
    expect(page.locator("hgroup")).to_contain_text("Matched")
    expect(page.locator("#candidates li.candidate")).to_have_count(0)
