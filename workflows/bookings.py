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
from sqlalchemy.orm import joinedload

from mail import ics
from mail.outbox import enqueue
from models import (
    Account,
    Advocate,
    Engagement,
    EngagementStatus,
    ReferenceRequest,
    RequestEvent,
    RequestStatus,
    db,
    quarter_of,
)
from models.types import utcnow, zone_or_utc
from workflows import errors, quota, requests
from workflows.audit import add_event
from workflows.engagements import cancel_engagement_step, current_engagement, move_engagement
from workflows.introductions import introduce_step
from workflows.links import Purpose, external_url
from workflows.prospect_links import check_bookable, link
from workflows.request_input import parse_contact_email
from workflows.slots import booking_rules, open_slots
from workflows.timeline import record
from workflows.transaction import transaction

JOIN_URL_MAX_LENGTH = 500
JOIN_PHONE_MAX_LENGTH = 40
CANCEL_REASON_MAX_LENGTH = 500
# Who calls a call off (``cancel_booking``'s ``side``), and those who must say why: the prospect
# reads the reason in the cancellation. A prospect may cancel without one.
SIDES = frozenset({"prospect", "advocate", "coordinator"})
REASON_REQUIRED = frozenset({"advocate", "coordinator"})


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


def check_cancel_reason(reason: str | None, side: str) -> str:
    """The reason, spaces folded; required of the advocate and the coordinator."""
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}: one of {', '.join(sorted(SIDES))}")
    reason = " ".join((reason or "").split())
    if not reason and side in REASON_REQUIRED:
        raise errors.Invalid("Say why the call is cancelled: the prospect and the advocate read it in the "
                             "cancellation. Nothing was changed.", "reason")
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise errors.Invalid(f"Keep the reason to {CANCEL_REASON_MAX_LENGTH} characters or fewer. "
                             "Nothing was changed.", "reason")
    return reason


def check_cancellable(engagement: Engagement, now: datetime, side: str) -> None:
    """A booked call can be cancelled until it begins; an accepted one not booked yet, by the
    advocate or the coordinator (the prospect has nothing to cancel: they just do not book)."""
    if engagement.status is EngagementStatus.AWAITING_BOOKING and side != "prospect":
        return
    check_movable(engagement, now, "cancelled")


def check_changeable(engagement: Engagement, now: datetime) -> None:
    """The join details of a call can change while it waits to be booked, or is booked and has
    not begun."""
    if engagement.status is EngagementStatus.AWAITING_BOOKING:
        return
    check_movable(engagement, now, "changed")


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
    """Send the introduction again (to a corrected contact address, if given: checked as a
    request's contact e-mail is, and kept on the request and the engagement). Only while a live
    call waits to be booked; the booking link in it is a new one, the old one still books."""
    now = now or utcnow()
    requests.request_for(by, request_id)  # RequestNotFound first, for a request not theirs
    if contact_email is not None:
        contact_email = parse_contact_email(contact_email) or None
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
        if not request.format.is_live:
            raise errors.Conflict("A written reference has no introduction: the prospect reads the answers "
                                  "once they are approved. Nothing was sent.")
        if contact_email and contact_email != (engagement.prospect_email or request.contact_email):
            engagement.prospect_email = contact_email
            request.contact_email = contact_email
            request.updated_at = now
            record(request.id, "edited", by, now, changed=["contact_email"])
        sent = db.session.scalar(
            select(func.count(RequestEvent.id))
            .where(RequestEvent.request_id == request.id, RequestEvent.kind == "introduced")
        )
        if not introduce_step(engagement, request, advocate, now, by=by, resend=sent):
            raise errors.Invalid("The request has no contact e-mail: give the prospect contact's address "
                                 "to send the introduction to.", "contact_email")
        add_event("request.introduction_sent", actor=by, subject=f"request:{request.id}",
                  engagement_id=engagement.id, resend=sent)
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
            if not (engagement.join_url or engagement.join_phone):
                # The call keeps the details its invitation gives: its own, else the default.
                engagement.join_url, engagement.join_phone = advocate.join_url, advocate.join_phone
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
                   advocate_id: int | None = None, now: datetime | None = None) -> Engagement:
    """Call off a booked call that has not begun (``side``: prospect, advocate or coordinator),
    or an accepted one not booked yet (advocate or coordinator); the advocate and the
    coordinator say why (``check_cancel_reason``). The place in the quarter is given back, both
    sides of a booked call get the cancellation with ``METHOD:CANCEL`` (the same UID, the
    sequence raised), and the request goes back to the coordinator's queue — or to the next
    candidate, where the program says so (``ASK_NEXT_ON_CANCEL``, or the ``AUTO_ASK`` setting).
    ``advocate_id``: the call must be that advocate's (``NotFound`` otherwise, as for no call)."""
    now = now or utcnow()
    owner = _advocate_of(engagement_id)
    if advocate_id is not None and owner != advocate_id:
        raise errors.NotFound("There is no such call among yours.")
    with transaction(lock=owner) as advocate:
        engagement = _locked_engagement(engagement_id)
        was_booked = engagement.status is EngagementStatus.BOOKED
        check_cancellable(engagement, now, side)  # first: a reason would not help a call begun
        reason = check_cancel_reason(reason, side)
        request_id = cancel_call_step(engagement, advocate, side=side, reason=reason, now=now, by=by)
        add_event("engagement.cancelled", actor=by, subject=f"engagement:{engagement.id}", side=side,
                  was_booked=was_booked)
    if request_id is not None and current_app.config["ASK_NEXT_ON_CANCEL"]:
        requests.ask_next_candidate(request_id, now=now)
    elif request_id is not None:
        requests.ask_automatically(request_id, now=now)
    return engagement


def cancel_call_step(engagement: Engagement, advocate: Advocate, *, side: str, reason: str,
                     now: datetime, by: Account | None = None,
                     timeline_reason: str | None = None) -> int | None:
    """Flush-only: the engagement cancelled, its place given back, its request reopened, and a
    booked call's cancellation (``METHOD:CANCEL``) sent to both sides. The caller holds the
    advocate's lock and has checked the call may be cancelled. → the reopened request's id."""
    was_booked = engagement.status is EngagementStatus.BOOKED
    cancel_engagement_step(engagement, reason=reason or _default_reason(side), now=now)
    request_id = None
    if engagement.request_id is not None:
        request = requests.lock_request(engagement.request_id)
        requests.reopen_step(request, engagement, now, by=by,
                             reason=timeline_reason or f"cancelled_by_{side}")
        request_id = request.id
    if was_booked:
        engagement.ics_sequence += 1
        _send_invitations(engagement, advocate, "cancelled", now, reason=reason, side=side)
    elif engagement.introduced_at is not None:
        _withdraw_introduction(engagement, advocate, reason=reason if side != "prospect" else "")
    return request_id


def _withdraw_introduction(engagement: Engagement, advocate: Advocate, *, reason: str) -> None:
    """The prospect was introduced but had not booked: told that the link no longer works, the
    seller in copy, so that nobody waits on a call that will not come."""
    request = engagement.request
    if not engagement.prospect_email or request is None:
        return
    seller = request.requested_by
    enqueue(
        template="introduction_withdrawn",
        to=[engagement.prospect_email],
        cc=[seller.email] if seller is not None and seller.active else [],
        context={"prospect_name": engagement.prospect_name, "advocate_name": advocate.account.name,
                 "format_name": engagement.format.name, "reason": reason, "seller": seller},
        idempotency_key=f"introduction-withdrawn:{engagement.id}",
    )


def cancel_request_call(request_id: int, *, by: Account, reason: str,
                        now: datetime | None = None) -> Engagement:
    """The coordinator calls off the request's call, booked or waiting to be booked
    (``cancel_booking`` with the coordinator's side)."""
    requests.request_for(by, request_id)  # RequestNotFound first, for a request not theirs
    engagement = current_engagement(request_id)
    if engagement is None or engagement.format_code == "written":
        raise errors.Conflict("This request has no call to cancel. Nothing was changed.")
    return cancel_booking(engagement.id, side="coordinator", reason=reason, by=by, now=now)


def _default_reason(side: str) -> str:
    return {
        "prospect": "Cancelled by the prospect.",
        "advocate": "Cancelled by the advocate.",
        "coordinator": "Cancelled by the program coordinator.",
    }.get(side, "Cancelled.")


@dataclass(frozen=True)
class JoinDetailsSaved:
    engagement: Engagement
    changed: bool
    invited: bool  # both sides were sent the updated invitation


def set_join_details(engagement_id: int, advocate_id: int, *, url: str, phone: str,
                     now: datetime | None = None) -> JoinDetailsSaved:
    """The advocate replaces the join details for one of their calls (both empty: the call uses
    their default again), while it waits to be booked or is booked and has not begun. A booked
    call's invitation goes to both sides again, updated: the same UID, ``SEQUENCE`` raised."""
    now = now or utcnow()
    if _advocate_of(engagement_id) != advocate_id:
        raise errors.NotFound("There is no such call among yours.")
    url, phone = url.strip(), phone.strip()
    check_join_details(url, phone)
    with transaction(lock=advocate_id) as advocate:
        engagement = _locked_engagement(engagement_id)
        if engagement.advocate_id != advocate.id:
            raise errors.NotFound("There is no such call among yours.")
        check_changeable(engagement, now)
        before = join_details(engagement, advocate)
        engagement.join_url, engagement.join_phone = url, phone
        if engagement.status is EngagementStatus.BOOKED and not (url or phone):
            # Emptied: the default again, kept on the call, whose invitation now gives it.
            engagement.join_url, engagement.join_phone = advocate.join_url, advocate.join_phone
        changed = join_details(engagement, advocate) != before
        invited = changed and engagement.status is EngagementStatus.BOOKED
        if invited:
            engagement.ics_sequence += 1
            _send_invitations(engagement, advocate, "updated", now)
        if changed:
            add_event("engagement.join_details_changed", actor=advocate.account,
                      subject=f"engagement:{engagement.id}")
    return JoinDetailsSaved(engagement, changed, invited)


def advocate_call(engagement_id: int, advocate_id: int) -> Engagement:
    """One of the advocate's own calls, with its request and format (``NotFound`` for another
    advocate's, the same as for none)."""
    engagement = db.session.scalars(
        select(Engagement)
        .where(Engagement.id == engagement_id, Engagement.advocate_id == advocate_id)
        .options(joinedload(Engagement.format),
                 joinedload(Engagement.request).joinedload(ReferenceRequest.format),
                 joinedload(Engagement.advocate))
    ).unique().one_or_none()
    if engagement is None:
        raise errors.NotFound("There is no such call among yours.")
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


def join_details(engagement: Engagement, advocate: Advocate | None = None) -> tuple[str, str]:
    """(link, phone) of a call: its own, if it has any, else the advocate's default (never a
    mix of the two: the call's own details replace the default as a whole). A booked call keeps
    the details its invitation gave (``book`` copies the default onto it): a default changed
    later does not reach it, so the reminder never says other than the invitation."""
    own = engagement.join_url, engagement.join_phone
    if any(own) or engagement.status is not EngagementStatus.AWAITING_BOOKING:
        return own
    advocate = advocate or engagement.advocate
    if advocate is None:
        return "", ""
    return advocate.join_url, advocate.join_phone


def default_join_details(engagement: Engagement) -> tuple[str, str]:
    """(link, phone) the advocate gives their calls by default (their profile's)."""
    advocate = engagement.advocate
    return (advocate.join_url, advocate.join_phone) if advocate is not None else ("", "")


def join_location(engagement: Engagement, advocate: Advocate | None = None) -> str:
    """The invitation's LOCATION: the link, else the phone number."""
    url, phone = join_details(engagement, advocate)
    return url or phone


def join_text(engagement: Engagement, advocate: Advocate | None = None) -> str:
    url, phone = join_details(engagement, advocate)
    parts = []
    if url:
        parts.append(f"Join: {url}")
    if phone:
        parts.append(f"Phone: {phone}")
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
        description=join_text(engagement, advocate),
        location=join_location(engagement, advocate),
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
        "join": join_text(engagement, advocate),
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
                     "portal_link": external_url("portal.call", engagement_id=engagement.id)},
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
