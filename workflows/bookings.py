"""Booking a live reference call (DESIGN.md §2 steps 4–5, §5 "Slots", §7 items 9 and 10): the
introduction to the prospect, booking a slot, moving it, cancelling it.

Each change is one ``transaction`` under the advocate's row lock: the engagement is read again
under the lock, the slot is recomputed from the database (``workflows.slots``: minimum notice,
buffers, calls per day and days between calls are checked again at that moment), the quarter's
quota is checked for the quarter of the call, and the database has the last word (one call per
slot, and on PostgreSQL no two overlapping calls). The e-mails, with their ``.ics`` invitations,
are queued in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from mail import ics
from mail.outbox import enqueue
from models import (
    Account,
    Advocate,
    Engagement,
    EngagementStatus,
    RequestEvent,
    RequestStatus,
    db,
    quarter_of,
)
from models.types import utcnow, zone_or_utc
from workflows import errors, quota, requests
from workflows.engagements import cancel_engagement_step, move_engagement
from workflows.introductions import introduce_step
from workflows.links import Purpose, external_url
from workflows.prospect_links import check_bookable, link
from workflows.slots import booking_rules, open_slots
from workflows.timeline import record
from workflows.transaction import transaction

JOIN_URL_MAX_LENGTH = 500
JOIN_PHONE_MAX_LENGTH = 40
CANCEL_REASON_MAX_LENGTH = 500


class SlotTaken(errors.Conflict):
    """The time chosen is no longer free: taken a moment ago, too soon now, or never offered."""


class NotMovable(errors.Conflict):
    """The call cannot be moved or cancelled in its state (cancelled, or already begun)."""


# --- the rules -------------------------------------------------------------------------------


def check_join_details(url: str, phone: str) -> None:
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc or len(url) > JOIN_URL_MAX_LENGTH:
            raise errors.Invalid(
                "Give the video link as a full web address, like https://meet.example.com/abc "
                f"(at most {JOIN_URL_MAX_LENGTH} characters).",
                "join_url",
            )
    if phone:
        allowed = set("0123456789+-() ./ext")
        if len(phone) > JOIN_PHONE_MAX_LENGTH or not set(phone.lower()) <= allowed or \
                sum(ch.isdigit() for ch in phone) < 5:
            raise errors.Invalid(
                "Give the phone number with its country code, like +49 30 1234567.", "join_phone"
            )


def check_movable(engagement: Engagement, now: datetime, doing: str) -> None:
    """A call can be moved or cancelled while it is booked and has not begun."""
    if engagement.status is EngagementStatus.CANCELLED:
        raise NotMovable(f"This call was cancelled: it can no longer be {doing}. Nothing was changed.")
    if engagement.status is not EngagementStatus.BOOKED:
        raise NotMovable(f"This call is {engagement.status.value.replace('_', ' ')}: it can no longer "
                         f"be {doing}. Nothing was changed.")
    if engagement.starts_at <= now:
        raise NotMovable(f"This call began on {engagement.starts_at:%d %B %Y at %H:%M} UTC: a call "
                         f"that has begun can no longer be {doing}. Nothing was changed.")


def check_slot(advocate: Advocate, start: datetime, now: datetime, *,
               ignore_engagement: int | None = None) -> datetime:
    """``start`` is one of the advocate's free slots right now; → its end."""
    for slot in open_slots(advocate, now=now, rules=booking_rules(), ignore_engagement=ignore_engagement):
        if slot.start == start:
            return slot.end
    raise SlotTaken("That time was just taken, or is no longer open: pick another one below. "
                    "Nothing was booked.")


# --- the introduction ------------------------------------------------------------------------


def resend_introduction(request_id: int, *, by: Account, contact_email: str | None = None,
                        now: datetime | None = None) -> Engagement:
    """Send the introduction again (to a corrected contact address, if given). Staff and the
    request's seller may; only while the call waits to be booked."""
    now = now or utcnow()
    advocate_id = db.session.scalar(
        select(Engagement.advocate_id).where(Engagement.request_id == request_id,
                                             Engagement.status == EngagementStatus.AWAITING_BOOKING)
    )
    if advocate_id is None:
        raise errors.Conflict("This request has no call waiting to be booked: there is no introduction "
                              "to send. Nothing was changed.")
    with transaction(lock=advocate_id) as advocate:
        request = requests.lock_request(request_id, visible_to=by)
        engagement = _live_engagement(request.id)
        if engagement is None or engagement.status is not EngagementStatus.AWAITING_BOOKING:
            raise errors.Conflict("The call was booked or called off meanwhile. Nothing was sent.")
        if contact_email:
            engagement.prospect_email = contact_email
            request.contact_email = contact_email
        sent = db.session.scalar(
            select(func.count(RequestEvent.id))
            .where(RequestEvent.request_id == request.id, RequestEvent.kind == "introduced")
        )
        if not introduce_step(engagement, request, advocate, now, by=by, resend=sent):
            raise errors.Invalid("Give the prospect contact's e-mail address first.", "contact_email")
    return engagement


# --- booking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booked:
    engagement_id: int
    starts_at: datetime
    ends_at: datetime


def book(engagement_id: int, start: datetime, *, prospect_zone: str | None = None,
         now: datetime | None = None) -> Booked:
    """The prospect books ``start`` (UTC), one of the advocate's free slots: the engagement is
    booked in the quarter of the call, the request scheduled, both sides sent a confirmation
    with the invitation. ``SlotTaken`` when the time is no longer free (with nothing booked)."""
    now = now or utcnow()
    advocate_id = _advocate_of(engagement_id)
    try:
        with transaction(lock=advocate_id) as advocate:
            engagement = _locked_engagement(engagement_id)
            check_bookable(engagement)
            end = check_slot(advocate, start, now)
            call_quarter = quarter_of(start)
            if call_quarter != engagement.quarter:
                # It counted in the quarter of the acceptance: now it counts in the call's.
                quota.claim_place(advocate.id, call_quarter)
            move_engagement(engagement, EngagementStatus.BOOKED, now)
            engagement.starts_at, engagement.ends_at = start, end
            engagement.quarter = call_quarter
            engagement.prospect_timezone = zone_or_utc(prospect_zone).key if prospect_zone else None
            engagement.join_url = engagement.join_url or advocate.join_url
            engagement.join_phone = engagement.join_phone or advocate.join_phone
            engagement.ics_sequence = 0
            request = engagement.request
            if request is not None:
                requests.move_request(request, RequestStatus.SCHEDULED, now)
                record(request.id, "booked", None, now, engagement_id=engagement.id,
                       starts_at=start.isoformat())
            db.session.flush()  # one call per slot, and no overlap on PostgreSQL: the last word
            _send_invitations(engagement, advocate, "booked", now)
    except IntegrityError:
        raise SlotTaken("That time was just taken: pick another one below. Nothing was booked.") from None
    return Booked(engagement_id, start, end)


def reschedule(engagement_id: int, start: datetime, *, now: datetime | None = None,
               by: Account | None = None) -> Booked:
    """Move a booked call that has not begun to another free slot: the same invitation, updated
    (``SEQUENCE`` raised, the same UID), to both sides; a new reminder for the new time."""
    now = now or utcnow()
    advocate_id = _advocate_of(engagement_id)
    try:
        with transaction(lock=advocate_id) as advocate:
            engagement = _locked_engagement(engagement_id)
            check_movable(engagement, now, "moved")
            end = check_slot(advocate, start, now, ignore_engagement=engagement.id)
            call_quarter = quarter_of(start)
            if call_quarter != engagement.quarter:
                quota.claim_place(advocate.id, call_quarter)
            before = engagement.starts_at
            engagement.starts_at, engagement.ends_at = start, end
            engagement.quarter = call_quarter
            engagement.ics_sequence += 1
            engagement.reminded_at = None
            if engagement.request_id is not None:
                record(engagement.request_id, "rescheduled", by, now, engagement_id=engagement.id,
                       starts_at=start.isoformat(), was=before.isoformat())
            db.session.flush()
            _send_invitations(engagement, advocate, "rescheduled", now)
    except IntegrityError:
        raise SlotTaken("That time was just taken: pick another one below. Nothing was changed.") from None
    return Booked(engagement_id, start, end)


def cancel_booking(engagement_id: int, *, side: str, reason: str = "", by: Account | None = None,
                   now: datetime | None = None) -> Engagement:
    """Call off a booked call that has not begun (``side``: prospect, advocate or coordinator),
    or an accepted one not booked yet (advocate or coordinator): the place in the quarter is
    given back, both sides get the cancellation (with ``METHOD:CANCEL`` for a booked call), and
    the request goes back to the coordinator's queue — or to the next candidate, where the
    program says so (``ASK_NEXT_ON_CANCEL``)."""
    now = now or utcnow()
    reason = " ".join((reason or "").split())
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise errors.Invalid(f"Keep the reason to {CANCEL_REASON_MAX_LENGTH} characters or fewer.", "reason")
    advocate_id = _advocate_of(engagement_id)
    with transaction(lock=advocate_id) as advocate:
        engagement = _locked_engagement(engagement_id)
        was_booked = engagement.status is EngagementStatus.BOOKED
        if not (engagement.status is EngagementStatus.AWAITING_BOOKING and side != "prospect"):
            check_movable(engagement, now, "cancelled")
        cancel_engagement_step(engagement, reason=reason or _default_reason(side), now=now)
        request = None
        if engagement.request_id is not None:
            request = requests.lock_request(engagement.request_id)
            requests.reopen_step(request, engagement, now, by=by, reason=f"cancelled_by_{side}")
        if was_booked:
            engagement.ics_sequence += 1
            _send_invitations(engagement, advocate, "cancelled", now, reason=reason, side=side)
        request_id = request.id if request is not None else None
    if request_id is not None and current_app.config["ASK_NEXT_ON_CANCEL"]:
        requests.ask_next_candidate(request_id, now=now)
    return engagement


def _default_reason(side: str) -> str:
    return {
        "prospect": "Cancelled by the prospect.",
        "advocate": "Cancelled by the advocate.",
        "coordinator": "Cancelled by the program coordinator.",
    }.get(side, "Cancelled.")


def set_join_details(engagement_id: int, advocate_id: int, *, url: str, phone: str,
                     now: datetime | None = None) -> Engagement:
    """The advocate replaces the join details for one call; a booked call's invitation is sent
    again with them."""
    now = now or utcnow()
    url, phone = url.strip(), phone.strip()
    check_join_details(url, phone)
    with transaction(lock=advocate_id) as advocate:
        engagement = _locked_engagement(engagement_id)
        if engagement.advocate_id != advocate.id:
            raise errors.NotFound("There is no such call among yours.")
        if engagement.status not in (EngagementStatus.AWAITING_BOOKING, EngagementStatus.BOOKED):
            raise NotMovable("This call is over or cancelled: its join details no longer matter.")
        engagement.join_url, engagement.join_phone = url, phone
        if engagement.status is EngagementStatus.BOOKED and engagement.starts_at > now:
            engagement.ics_sequence += 1
            _send_invitations(engagement, advocate, "updated", now)
    return engagement


# --- helpers ---------------------------------------------------------------------------------


def _advocate_of(engagement_id: int) -> int:
    advocate_id = db.session.scalar(select(Engagement.advocate_id).where(Engagement.id == engagement_id))
    if advocate_id is None:
        raise errors.NotFound("There is no such call.")
    return advocate_id


def _locked_engagement(engagement_id: int) -> Engagement:
    """The engagement read again after the advocate's lock: what another booking committed
    while this one waited is seen."""
    engagement = db.session.scalars(
        select(Engagement).where(Engagement.id == engagement_id).execution_options(populate_existing=True)
    ).one_or_none()
    if engagement is None:
        raise errors.NotFound("There is no such call.")
    return engagement


def _live_engagement(request_id: int) -> Engagement | None:
    return db.session.scalars(
        select(Engagement)
        .where(Engagement.request_id == request_id, Engagement.status != EngagementStatus.CANCELLED)
        .execution_options(populate_existing=True)
    ).one_or_none()


def uid(engagement: Engagement) -> str:
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "vouch.local"
    return f"engagement-{engagement.id}@{host}"


def join_text(engagement: Engagement) -> str:
    parts = []
    if engagement.join_url:
        parts.append(f"Join: {engagement.join_url}")
    if engagement.join_phone:
        parts.append(f"Phone: {engagement.join_phone}")
    return "\n".join(parts) or "The advocate will send the join details."


def invitation_text(engagement: Engagement, advocate: Advocate, method: str, now: datetime) -> str:
    request = engagement.request
    company = request.prospect_company if request is not None else "the prospect"
    sender_name, sender_email = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return ics.invitation(
        uid=uid(engagement),
        sequence=engagement.ics_sequence,
        method=method,
        starts_at=engagement.starts_at,
        ends_at=engagement.ends_at,
        summary=f"Reference {engagement.format.name.lower()}: {advocate.account.name} and {company}",
        description=join_text(engagement),
        location=engagement.join_url or engagement.join_phone,
        organizer=ics.Person(sender_name or "Vouch", sender_email or "vouch@localhost"),
        attendees=[ics.Person(advocate.account.name, advocate.account.email),
                   ics.Person(engagement.prospect_name or "", engagement.prospect_email)],
        stamp=now,
    )


def _send_invitations(engagement: Engagement, advocate: Advocate, what: str, now: datetime, *,
                      reason: str = "", side: str = "") -> None:
    """The confirmation (or change, or cancellation) to each side, in their own zone, with the
    invitation attached."""
    method = "CANCEL" if what == "cancelled" else "REQUEST"
    calendar = ics.attachment(invitation_text(engagement, advocate, method, now), method)
    request = engagement.request
    common = {
        "what": what,
        "engagement": engagement,
        "format_name": engagement.format.name,
        "company": request.prospect_company if request is not None else "",
        "join": join_text(engagement),
        "reason": reason,
        "side": side,
        "minutes": int((engagement.ends_at - engagement.starts_at).total_seconds() // 60),
    }
    key = f"booking:{engagement.id}:{engagement.ics_sequence}:{what}"
    account = advocate.account
    if account.active:
        advocate_zone = zone_or_utc(account.timezone)
        enqueue(
            template="booking",
            to=[account.email],
            context={**common, "recipient_name": account.name, "other_name": engagement.prospect_name,
                     "starts": engagement.starts_at.astimezone(advocate_zone), "zone": advocate_zone.key,
                     "for_advocate": True, "manage_link": None,
                     "portal_link": external_url("portal.home") + "#calls"},
            idempotency_key=f"{key}:advocate",
            attachments=[calendar],
        )
    if engagement.prospect_email:
        prospect_zone = zone_or_utc(engagement.prospect_timezone)
        manage = link(engagement, Purpose.MANAGE_BOOKING) if what != "cancelled" else None
        enqueue(
            template="booking",
            to=[engagement.prospect_email],
            context={**common, "recipient_name": engagement.prospect_name, "other_name": account.name,
                     "starts": engagement.starts_at.astimezone(prospect_zone), "zone": prospect_zone.key,
                     "for_advocate": False,
                     "manage_link": manage},
            idempotency_key=f"{key}:prospect",
            attachments=[calendar],
        )
