"""An advocate answers asks from a phone: declines one with a reason, accepts another and sees the
prospect's contact, then answers a written reference, saving a draft before submitting."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from models import RequestStatus
from tests.browser.conftest import PHONE, fits_the_screen, sign_in_link

pytestmark = pytest.mark.browser


@pytest.fixture()
def browser_context_args(browser_context_args):
    """A phone-sized screen, touch and all."""
    return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True}




def sign_in(page, account, smtp, deliver) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail address").fill(account.email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    assert deliver().sent == 1
    page.goto(sign_in_link(smtp.wait_for(account.email)[-1]))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name=f"Hello, {account.name}")).to_be_visible()


def test_an_advocate_declines_one_ask_and_accepts_another_on_a_phone(
    page, live_url, make_advocate, make_request, make_ask, smtp, deliver
):
    advocate = make_advocate(name="Dana Example", email="dana@example.com", timezone="Europe/Berlin")
    busy = make_ask(advocate, request=make_request(industry="Retail", status=RequestStatus.ASKING,
                                                   prospect_company="Shopfront Ltd"))
    wanted = make_ask(advocate, request=make_request(
        industry="Healthcare", status=RequestStatus.ASKING, topics=["Security"],
        prospect_company="Zephyr Hospitals AG", contact_name="Quentin Quaile",
        contact_email="quentin@zephyr-hospitals.example",
    ))

    sign_in(page, advocate.account, smtp, deliver)
    asks = page.locator("#asks")
    expect(asks.get_by_role("heading", name="Asked of you now (2)")).to_be_visible()
    expect(asks).not_to_contain_text("Zephyr")
    assert fits_the_screen(page)

    page.locator(f"#ask-{busy.id}").get_by_role("button", name="Accept or decline").click()
    expect(page.get_by_role("heading", name="Phone call for a prospect in Retail")).to_be_visible()
    decline = page.get_by_role("form", name="Decline")
    decline.get_by_label("Why not this time?").select_option(label="Too busy right now")
    decline.get_by_label("A note for your program coordinator (optional)").fill("Quarter-end close.")
    decline.get_by_role("button", name="Decline").click()
    expect(page.get_by_role("status").filter(has_text="You declined this ask.")).to_be_visible()
    expect(page.get_by_role("heading", name="Asked of you now (1)")).to_be_visible()

    page.locator(f"#ask-{wanted.id}").get_by_role("button", name="Accept or decline").click()
    expect(page.locator("main")).not_to_contain_text("Quentin")
    assert fits_the_screen(page)
    page.get_by_role("form", name="Accept").get_by_role("button", name="Accept").click()

    expect(page.get_by_role("status").filter(has_text="Thank you for accepting!")).to_be_visible()
    expect(page.get_by_role("heading", name="Phone call for Zephyr Hospitals AG")).to_be_visible()
    contact = page.locator("#contact")
    expect(contact).to_contain_text("Quentin Quaile")
    expect(contact.get_by_role("link", name="quentin@zephyr-hospitals.example")).to_be_visible()
    expect(contact).to_contain_text("What happens next")
    assert fits_the_screen(page)

    page.get_by_role("link", name="Back to your home page").click()
    expect(page.locator("#asks")).to_contain_text("Nothing is asked of you right now.")
    expect(page.locator("#in-progress")).to_contain_text("waiting for them to book a slot")
    expect(page.locator("#quota")).to_contain_text("1 of 4 calls used")


def test_an_advocate_answers_a_written_reference_saving_a_draft_first(
    page, live_url, make_advocate, make_request, make_ask, smtp, deliver
):
    advocate = make_advocate(name="Sam Writer", email="sam@example.com")
    questions = ["How long did the roll-out take?", "What would you tell a peer?"]
    ask = make_ask(advocate, request=make_request(format="written", questions=questions,
                                                  status=RequestStatus.ASKING))

    sign_in(page, advocate.account, smtp, deliver)
    page.locator(f"#ask-{ask.id}").get_by_role("button", name="Accept or decline").click()
    expect(page.locator("#context")).to_contain_text("2 to answer in writing")
    page.get_by_role("button", name="Accept").click()

    expect(page.get_by_role("heading", name=re.compile("^Written reference"))).to_be_visible()
    page.get_by_label(questions[0]).fill("Six weeks.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status").filter(has_text="Draft saved.")).to_be_visible()
    expect(page.get_by_label(questions[0])).to_have_value("Six weeks.")

    page.get_by_role("button", name="Submit answers").click()
    expect(page.get_by_role("status").filter(has_text="Nothing was saved")).to_be_visible()
    expect(page.get_by_text("Question 2 has no answer yet")).to_be_visible()

    page.get_by_label(questions[1]).fill("Start with one team, then grow.")
    page.get_by_role("button", name="Submit answers").click()
    expect(page.get_by_role("status").filter(has_text="Your answers are submitted.")).to_be_visible()
    expect(page.get_by_role("textbox")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Start with one team, then grow.")
    assert fits_the_screen(page)
