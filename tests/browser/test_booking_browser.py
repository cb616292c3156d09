"""A prospect in Los Angeles books the call on a phone from the introduction e-mail, moves it,
cancels it; the time is offered again and booked by another prospect, and the advocate, in
Berlin, sees that call with its join details on their home page. Every e-mail is read from the
SMTP fixture and every calendar file parsed back."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from models import Account, db
from tests.browser.conftest import PHONE, sign_in
from tests.conftest import text_body
from tests.helpers import fit
from tests.portal.test_booking import event_of
from workflows import requests as flow

pytestmark = pytest.mark.browser

LOS_ANGELES = "America/Los_Angeles"
ADVOCATE = "dana@northwind.example"
PROSPECT = "pat@prospect.example"
SECOND_PROSPECT = "quinn@initech.example"
JOIN_URL = "https://meet.example/dana-whitfield"
JOIN_PHONE = "+49 30 1234567"


@pytest.fixture()
def browser_context_args(browser_context_args):
    """A phone in Los Angeles: the page must find that zone by itself."""
    return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True,
            "timezone_id": LOS_ANGELES}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]


def link_in(message, kind: str) -> str:
    found = re.search(rf"https?://\S+/{kind}/\S+", text_body(message))
    assert found, text_body(message)
    return found.group(0)


def introduce(app, advocate, coordinator, make_request, smtp, deliver, *, contact: str, company: str) -> str:
    """The coordinator asks the advocate, who accepts: → the booking link the prospect got."""
    request = make_request(format="call", contact_name=f"{company} contact", contact_email=contact,
                           prospect_company=company)
    with app.app_context():
        ask = flow.ask(request.id, advocate.id, by=db.session.get(Account, coordinator.id))
        flow.accept_ask(ask.id, advocate.id)
        db.session.remove()
    deliver()
    [introduction] = smtp.wait_for(contact)
    return link_in(introduction, "book")


def confirmations(smtp, deliver, count: int) -> dict[str, tuple[str, object]]:
    """The newest e-mail to each side, with its calendar method and event."""
    deliver()
    return {address: event_of(smtp.wait_for(address, count)[-1]) for address in (PROSPECT, ADVOCATE)}


def shown(moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo(LOS_ANGELES))
    return f"{local:%A %d %B %Y at %H:%M}"


def test_a_prospect_books_moves_and_cancels_on_a_phone_and_the_advocate_sees_the_call(
    app, page, new_context, live_url, make_account, make_advocate, make_request, smtp, deliver
):
    coordinator = make_account(role="coordinator", email="cora@vouch.example")
    dana = make_advocate(name="Dana Whitfield", email=ADVOCATE, timezone="Europe/Berlin",
                         job_title="VP Operations", join_url=JOIN_URL, join_phone=JOIN_PHONE)
    fit(app, dana.id, formats=("call",), hours=(9, 12))
    booking_link = introduce(app, dana, coordinator, make_request, smtp, deliver, contact=PROSPECT,
                             company="Globex Corp")
    assert booking_link.startswith(live_url)

    # The page finds the phone's zone, names it, and shows the times in it.
    page.goto(booking_link)
    expect(page).to_have_url(re.compile(r"[?&]tz=America%2FLos_Angeles"))
    expect(page.get_by_role("heading", name="Book your phone call with Dana Whitfield")).to_be_visible()
    expect(page.get_by_label("Times are shown in")).to_have_value(LOS_ANGELES)
    expect(page.locator(".zone-picker")).to_contain_text("America/Los Angeles")
    slots = page.get_by_role("radio")
    first = slots.first
    first_start = datetime.fromisoformat(first.get_attribute("value"))
    in_the_browser = page.evaluate(
        "v => new Date(v).toLocaleTimeString('en-GB', {hour: '2-digit', minute: '2-digit'})",
        first.get_attribute("value"),
    )
    local = first_start.astimezone(ZoneInfo(LOS_ANGELES))
    assert in_the_browser == f"{local:%H:%M}"
    expect(page.locator(f'label[for="{first.get_attribute("id")}"]')).to_have_text(
        re.compile(rf"^\s*{local:%H:%M}–"))
    expect(page.locator("fieldset legend").first).to_have_text(f"{local:%A} {local.day} {local:%B %Y}")
    assert no_sideways_scroll(page)

    # By keyboard: Tab into the times, an arrow to the next one, Space to choose it, Enter to book.
    page.get_by_role("button", name="Show these times").focus()
    page.keyboard.press("Tab")
    expect(first).to_be_focused()
    page.keyboard.press("ArrowRight")
    second = slots.nth(1)
    expect(second).to_be_focused()
    page.keyboard.press("Space")
    expect(second).to_be_checked()
    booked_at = datetime.fromisoformat(second.get_attribute("value"))
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Book this time")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text(f"Booked: {shown(booked_at)} ({LOS_ANGELES})")
    assert no_sideways_scroll(page)

    # Both sides get the invitation: the same event, at the time chosen.
    booked = confirmations(smtp, deliver, 1)
    uids = set()
    for method, event in booked.values():
        assert method == "REQUEST" and int(event["sequence"]) == 0
        assert event.decoded("dtstart") == booked_at
        assert JOIN_URL in str(event["location"]) and JOIN_PHONE in str(event["description"])
        uids.add(str(event["uid"]))
    assert len(uids) == 1
    to_prospect = smtp.to(PROSPECT)[-1]
    assert f"({LOS_ANGELES})" in to_prospect["Subject"]
    manage_link = link_in(to_prospect, "booking")

    # The managing link from the confirmation: move the call to the last time offered.
    page.goto(manage_link)
    expect(page.locator("#call-state")).to_contain_text(f"({LOS_ANGELES})")
    times = page.locator("#move").get_by_role("radio")
    later = times.last
    moved_at = datetime.fromisoformat(later.get_attribute("value"))
    assert moved_at > booked_at
    page.locator(f'label[for="{later.get_attribute("id")}"]').click()
    page.get_by_role("button", name="Move the call to this time").click()
    expect(page.get_by_role("status")).to_contain_text(f"Moved: the call is now on {shown(moved_at)}")
    assert no_sideways_scroll(page)

    moved = confirmations(smtp, deliver, 2)
    for method, event in moved.values():
        assert method == "REQUEST" and int(event["sequence"]) == 1
        assert str(event["uid"]) in uids
        assert event.decoded("dtstart") == moved_at

    # While it is booked, another prospect's page does not offer that time, nor its day.
    second_link = introduce(app, dana, coordinator, make_request, smtp, deliver, contact=SECOND_PROSPECT,
                            company="Initech")
    other = new_context()
    other_page = other.new_page()
    other_page.goto(second_link)
    expect(other_page.get_by_label("Times are shown in")).to_have_value(LOS_ANGELES)
    expect(other_page.get_by_role("radio").first).to_be_visible()
    expect(other_page.locator(f'input[value="{moved_at.isoformat()}"]')).to_have_count(0)

    # Pat cancels, with a reason.
    page.get_by_text("Cancel the call…").click()
    page.get_by_label("Why? (optional, the advocate reads it)").fill("Our budget is frozen.")
    page.get_by_role("button", name="Yes, cancel the call").click()
    expect(page.get_by_role("status")).to_contain_text("The call is cancelled.")
    expect(page.locator("#call-state")).to_have_text("This call is cancelled.")
    expect(page.get_by_role("radio")).to_have_count(0)

    cancelled = confirmations(smtp, deliver, 3)
    for method, event in cancelled.values():
        assert method == "CANCEL" and str(event["status"]) == "CANCELLED"
        assert str(event["uid"]) in uids and int(event["sequence"]) == 2
        assert event.decoded("dtstart") == moved_at
    assert "Our budget is frozen." in text_body(smtp.to(ADVOCATE)[-1])

    # The time is free again: the other prospect's page offers it, and they book it.
    other_page.reload()
    freed = other_page.locator(f'input[value="{moved_at.isoformat()}"]')
    expect(freed).to_have_count(1)
    other_page.locator(f'label[for="{freed.get_attribute("id")}"]').click()
    expect(freed).to_be_checked()
    other_page.get_by_role("button", name="Book this time").click()
    expect(other_page.get_by_role("status")).to_contain_text(f"Booked: {shown(moved_at)}")
    deliver()
    [method, event] = event_of(smtp.wait_for(SECOND_PROSPECT, 2)[-1])
    assert method == "REQUEST" and event.decoded("dtstart") == moved_at
    other.close()

    # Dana signs in and sees that call on her home page, in Berlin time, with how to join it.
    advocate_page = new_context().new_page()  # her times come from her profile, not the browser
    sign_in(advocate_page, dana.account, smtp, deliver)
    calls = advocate_page.locator("#calls")
    berlin = moved_at.astimezone(ZoneInfo("Europe/Berlin"))
    expect(calls).to_contain_text(f"{berlin:%a %d %b %Y, %H:%M}")
    expect(calls).to_contain_text("(Europe/Berlin)")
    expect(calls).to_contain_text("Phone call with Initech contact, Initech")
    expect(calls).not_to_contain_text("Globex")
    expect(calls.get_by_role("link", name=re.compile("Join"))).to_have_attribute("href", JOIN_URL)
    expect(calls).to_contain_text(JOIN_PHONE)
    assert no_sideways_scroll(advocate_page)
