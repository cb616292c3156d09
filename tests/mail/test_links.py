"""Every e-mail links to the page it is about (DESIGN.md §6, §7.4): each one the workflows
enqueue is made here through its workflow, and the links of its text and HTML bodies (the same
ones in both, all on BASE_URL) are checked against the page it is about. A template added to
templates/mail/ without a case here fails the last test."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from models import Account, Advocate, Engagement, OutboxMessage, RequestStatus, Role, Tier, db
from models.types import utcnow
from tests.admin.test_requests_pages import fit
from tests.portal.test_perks import add_perk, give_points
from workflows import (
    advocate_management,
    auth,
    bookings,
    jobs,
    nudges,
    outreach,
    perks,
    privacy,
    request_submission,
    tiers,
    written,
)
from workflows import requests as flow
from workflows.request_input import parse_request
from workflows.slots import booking_rules, open_slots

MAIL_TEMPLATES = Path(__file__).parents[2] / "templates" / "mail"
BASE = "http://vouch.test"
CHECKED = {
    "sign_in_link", "request_submitted", "ask", "ask_answered", "ask_expired", "introduction",
    "booking", "written_answers_submitted", "redemption_requested", "redemption_decided",
    "left_program", "reminder", "feedback_request", "thank_you", "outcome_request",
    "written_returned", "written_ready", "written_thank_you", "program_invitation",
    "program_invitation_reminder", "availability_nudge", "ask_reminder", "introduction_withdrawn",
    "tier_changed", "advocate_paused", "advocate_resumed", "advocate_retired",
}


def links(message: OutboxMessage) -> list[str]:
    """The links of a message, each as its path (and #fragment), after checking the text and
    the HTML carry the same ones, all on BASE_URL."""
    in_text = re.findall(r"https?://[^\s<>\"]+", message.body_text)
    in_html = re.findall(r'href="([^"]+)"', message.body_html or "")
    assert sorted(set(in_text)) == sorted(set(in_html)), (message.template, in_text, in_html)
    found = []
    for link in dict.fromkeys(in_text):
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == BASE, link
        found.append(parts.path + (f"#{parts.fragment}" if parts.fragment else ""))
    return found


def test_every_e_mail_links_to_the_page_it_is_about(
    app, make_account, make_advocate, make_request, make_ask, make_engagement
):
    coordinator = make_account(role=Role.COORDINATOR, email="cora@vouch.example")
    seller = make_account(role=Role.SALES, email="sam@vouch.example")
    # Dana's profile was never reviewed since she joined: she gets the quarterly nudge.
    dana = make_advocate(name="Dana Example")
    eli, gus = (make_advocate(name=name, last_reviewed_at=utcnow()) for name in ("Eli Other", "Gus Late"))
    fay = make_advocate(name="Fay Leaving")  # her leaving erases mail to her: she gets none else
    hal = make_advocate(name="Hal Managed", tier="Premier")  # moved, paused, resumed, then retired
    for advocate in (dana, eli, gus):
        fit(app, advocate.id)
    give_points(app, dana.id, 500)
    hoodie = add_perk(app, "Branded hoodie", "Occasional", 150)
    answered = make_request(requested_by=seller, prospect_company="Written Ltd", format="written",
                            questions=["How long did the roll-out take?"], status=RequestStatus.MATCHED)
    written_ask = make_ask(eli, request=answered, status="accepted", asked_by_id=coordinator.id)
    engagement = make_engagement(eli, status="awaiting_booking", format="written", request_id=answered.id,
                                 ask_id=written_ask.id)
    late_request = make_request(requested_by=seller, prospect_company="Late Ltd")
    called_off = make_request(requested_by=seller, prospect_company="Called Off Ltd",
                              status=RequestStatus.MATCHED)
    called_off_ask = make_ask(gus, request=called_off, status="accepted", asked_by_id=coordinator.id)
    introduced = make_engagement(gus, status="awaiting_booking", request_id=called_off.id,
                                 ask_id=called_off_ask.id, prospect_email="lee@calledoff.example")

    with app.app_context():
        auth.request_link(coordinator.email)
        submitted = request_submission.submit_request(
            parse_request({"prospect_company": "Zephyr Hospitals AG", "industry": "Healthcare",
                           "format": "call", "contact_name": "Pat Prospect",
                           "contact_email": "pat@prospect.example"}),
            by=db.session.get(Account, seller.id),
        ).id
        by = db.session.get(Account, coordinator.id)
        accepted = flow.ask(submitted, dana.id, by=by)
        engagement_id = flow.accept_ask(accepted.id, dana.id).id  # the prospect is introduced
        [slot, *_] = open_slots(db.session.get(Advocate, dana.id), now=utcnow(), rules=booking_rules())
        bookings.book(engagement_id, slot.start, prospect_zone="America/New_York")
        late = flow.ask(late_request.id, gus.id, by=by)
        nudges.send_due_ask_reminders(now=utcnow() + timedelta(hours=25))  # half-way: a reminder
        flow.expire_overdue_asks(now=utcnow() + timedelta(hours=49))
        written.submit_answers(engagement.id, eli.id, ["Six weeks."])
        written.return_answers(answered.id, "Name the team, please.", by=by)
        written.submit_answers(engagement.id, eli.id, ["Six weeks, with the ops team."])
        written.approve_answers(answered.id, by=by)
        redemption = perks.redeem(dana.id, hoodie).redemption_id
        perks.fulfil(redemption, by=by)
        privacy.leave_program(fay.id, confirmation="LEAVE")
        # Introduced, not booked, then called off: the prospect is told the link no longer works.
        db.session.get(Engagement, introduced.id).introduced_at = utcnow()
        db.session.commit()
        bookings.cancel_booking(introduced.id, side="coordinator", reason="They chose a vendor.", by=by)
        # Outreach: an invitation to a candidate, and its one reminder a week later.
        candidate = Advocate(account=Account(email="cand@customer.example", name="Cand Idate",
                                             role=Role.ADVOCATE))
        db.session.add(candidate)
        db.session.commit()
        outreach.invite([candidate.id], by=by, now=utcnow() - timedelta(days=8))
        # A coordinator manages an advocate's place in the program.
        tiers.change_tier(hal.id, db.session.scalar(select(Tier.id).where(Tier.name == "Active")), by=by)
        advocate_management.pause(hal.id, by=by)
        advocate_management.resume(hal.id, by=by)
        advocate_management.retire(hal.id, by=by, reason="Moved on")
        # The call's follow-up: the reminder, the feedback requests, then its completion.
        jobs.run_due(now=slot.start - timedelta(hours=23))
        jobs.run_due(now=slot.end + timedelta(hours=2))
        jobs.run_due(now=slot.end + timedelta(days=4))

        expected = {
            "sign_in_link": [r"/sign-in/link/[^/#]+"],
            "request_submitted": [rf"/admin/requests/{submitted}", r"/admin/#notifications"],
            "ask": [rf"/portal/asks/{accepted.id}", rf"/portal/asks/{late.id}"],
            "ask_answered": [rf"/admin/requests/{submitted}"],
            "ask_reminder": [rf"/portal/asks/{late.id}"],
            "ask_expired": [r"/portal/availability"],
            "introduction": [r"/book/[^/#]+"],
            # The prospect's, the advocate's (the call's page).
            "booking": [r"/booking/[^/#]+", rf"/portal/calls/{engagement_id}"],
            "written_answers_submitted": [rf"/admin/requests/{answered.id}#written"],
            "written_returned": [rf"/portal/written/{engagement.id}"],
            "written_ready": [r"/read/[^/#]+"],
            "written_thank_you": [r"/portal#tier"],
            "redemption_requested": [rf"/admin/redemptions#redemption-{redemption}"],
            "redemption_decided": [rf"/portal/perks#redemption-{redemption}"],
            "left_program": [],
            "introduction_withdrawn": [],  # the prospect has no page of theirs any more
            # The advocate's and the prospect's.
            "reminder": [rf"/portal/calls/{engagement_id}", r"/booking/[^/#]+"],
            "feedback_request": [r"/feedback/[^/#]+", r"/feedback/[^/#]+"],  # one for each side
            "thank_you": [r"/portal/history", r"/portal/perks"],
            # After the call and after the written answers' approval: won and lost, and the request.
            "outcome_request": [r"/outcome/[^/#]+", r"/outcome/[^/#]+", rf"/admin/requests/{submitted}",
                                r"/outcome/[^/#]+", r"/outcome/[^/#]+", rf"/admin/requests/{answered.id}"],
            "program_invitation": [r"/join/[^/#]+", r"/unsubscribe/[^/#]+"],
            "program_invitation_reminder": [r"/join/[^/#]+", r"/unsubscribe/[^/#]+"],
            # The one-click "still right", the availability page, and unsubscribing.
            "availability_nudge": [r"/review/[^/#]+", r"/portal/availability", r"/unsubscribe/[^/#]+"],
            "tier_changed": [r"/portal"],
            "advocate_paused": [r"/portal"],
            "advocate_resumed": [r"/portal/availability"],
            "advocate_retired": [r"/portal"],
        }
        messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        seen: dict[str, set[str]] = {}
        for message in messages:
            seen.setdefault(message.template, set()).update(links(message))
        db.session.remove()

    assert set(seen) == set(expected) == CHECKED
    for template, patterns in expected.items():
        assert len(seen[template]) == len(patterns), (template, seen[template])
        for path in seen[template]:
            assert any(re.fullmatch(pattern, path) for pattern in patterns), (template, path)
    # The dashboard only where the e-mail is about a setting kept there.
    dashboard = {(t, p) for t, paths in seen.items() for p in paths if urlsplit(p).path == "/admin/"}
    assert dashboard == {("request_submitted", "/admin/#notifications")}


def test_every_mail_template_has_its_case_above():
    """A new e-mail gets its link checked: add it to ``expected`` above. (Partials, named
    ``_…``, such as the HTML layout, are parts of the others.)"""
    names = {path.stem for path in MAIL_TEMPLATES.glob("*.txt") if not path.stem.startswith("_")}
    assert names == CHECKED
    assert names == {path.stem for path in MAIL_TEMPLATES.glob("*.html") if not path.stem.startswith("_")}
