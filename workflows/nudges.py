"""The e-mails that nudge an advocate to act (DESIGN.md §6): the quarterly "is your availability
still right?", and the reminder of an ask still unanswered half-way to its expiry.

The quarterly nudge goes to each advocate in the program whose profile was not reviewed for
``PROFILE_REVIEW_DAYS`` days.
A periodic job (``send_due_nudges``, run by ``workflows.jobs.run_due``). The days count from the
last review, or, for a profile never reviewed, from joining (the consent): a newly imported
advocate is not asked the day after. One nudge per advocate per review period: the e-mail's
idempotency key names the advocate, the moment the period began and how many periods have
passed since, so a run that repeats, or overlaps another, finds the nudge already queued, and an
advocate who lets a second period pass unreviewed gets a second one.

The e-mail shows what the program has of their availability, a link to change it, and a signed
one-click link (``Purpose.REVIEW``) whose page shows the same and a button that POSTs: pressing
it stamps the review (``profiles.mark_reviewed``), opening it changes nothing. The link is bound
to the advocate and to their last review, so once the profile is reviewed (by the button, or by
saving the profile) it says so instead. The nudge is program mail, not transactional: it carries
the unsubscribe link and headers, and is not sent to an address that unsubscribed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from mail.outbox import enqueue
from models import Account, Advocate, AdvocateStatus, Ask, AskStatus, OutboxMessage, db
from models.advocates import WEEKDAYS, review_due
from models.types import ID_MAX, utcnow, zone_or_utc
from workflows import errors, profiles, unsubscribe
from workflows.links import InvalidToken, Purpose, external_url, load, sign
from workflows.prospect_links import LinkRefused
from workflows.transaction import transaction

log = logging.getLogger(__name__)
TEMPLATE = "availability_nudge"
BATCH = 500  # keys and addresses looked up per query


def review_days() -> int:
    return current_app.config["PROFILE_REVIEW_DAYS"]


def period_start(advocate: Advocate) -> datetime | None:
    """When the advocate's current review period began: the last review, else joining."""
    return advocate.last_reviewed_at or advocate.consent_at


def nudge_due(advocate: Advocate, now: datetime, days: int) -> bool:
    """In the program, consented, and the profile not looked at for ``days`` days
    (``models.advocates.review_due``, counted from joining for a profile never reviewed)."""
    return (
        advocate.status is AdvocateStatus.ACTIVE
        and advocate.account is not None
        and advocate.account.active
        and advocate.consent_at is not None
        and review_due(period_start(advocate), now, days)
    )


def idempotency_key(advocate_id: int, started: datetime, now: datetime, days: int) -> str:
    """One key per advocate and review period: the period's start and how many periods since."""
    periods = (now - started) // timedelta(days=days)
    return f"nudge:{advocate_id}:{started.strftime('%Y%m%dT%H%M%S')}:{periods}"


# --- the periodic job ------------------------------------------------------------------------


def send_due_nudges(now: datetime | None = None) -> int:
    """Nudge every advocate due one; → how many nudges were queued. Each in its own transaction
    under the advocate's lock, where the rule is read again."""
    now = now or utcnow()
    days = review_days()
    cutoff = now - timedelta(days=days)
    rows = db.session.execute(
        select(Advocate.id, Advocate.last_reviewed_at, Advocate.consent_at, Account.email)
        .join(Account, Account.id == Advocate.account_id)
        .where(
            Advocate.status == AdvocateStatus.ACTIVE,
            Account.active.is_(True),
            Advocate.consent_at.is_not(None),
            or_(Advocate.last_reviewed_at <= cutoff,
                and_(Advocate.last_reviewed_at.is_(None), Advocate.consent_at <= cutoff)),
        )
        .order_by(Advocate.id)
    ).all()
    candidates = {
        row.id: (row.email, idempotency_key(row.id, row.last_reviewed_at or row.consent_at, now, days))
        for row in rows
    }
    done = _already_queued({key for _email, key in candidates.values()})
    stopped = _unsubscribed({email for email, _key in candidates.values()})
    db.session.rollback()  # end the read: each advocate gets its own transaction below

    sent = 0
    for advocate_id, (email, key) in candidates.items():
        if key in done or email in stopped:
            continue
        try:
            with transaction(lock=advocate_id) as advocate:
                sent += nudge_step(advocate, now, days)
        except errors.WorkflowError as refusal:  # the advocate gone meanwhile
            log.warning("advocate %s not nudged: %s", advocate_id, refusal)
    return sent


def _already_queued(keys: set[str]) -> set[str]:
    found: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), BATCH):
        found.update(db.session.scalars(
            select(OutboxMessage.idempotency_key)
            .where(OutboxMessage.idempotency_key.in_(ordered[start:start + BATCH]))
        ))
    return found


def _unsubscribed(emails: set[str]) -> set[str]:
    ordered = sorted(emails)
    found: set[str] = set()
    for start in range(0, len(ordered), BATCH):
        found |= unsubscribe.unsubscribed(ordered[start:start + BATCH])
    return found


def nudge_step(advocate: Advocate, now: datetime, days: int) -> bool:
    """Queue the nudge of the locked ``advocate`` if it is still due → whether one was queued
    (flushes only, in the caller's transaction)."""
    if not nudge_due(advocate, now, days):
        return False
    account = advocate.account
    started = period_start(advocate)
    message = unsubscribe.enqueue_program_mail(
        template=TEMPLATE,
        to=account.email,
        context=nudge_context(advocate, now),
        idempotency_key=idempotency_key(advocate.id, started, now, days),
    )
    return message is not None and message in db.session.new


def why_not_nudged(advocate: Advocate, now: datetime, *, unsubscribed: set[str],
                   nudged: set[int]) -> str | None:
    """Why a coordinator's nudge (``nudge_now_step``) leaves ``advocate`` out, in words; None when
    it goes. ``unsubscribed``: addresses that unsubscribed from program mail; ``nudged``: the
    advocates nudged by staff today (``nudged_today``)."""
    account = advocate.account
    if advocate.status is not AdvocateStatus.ACTIVE or account is None or not account.active:
        return "not in the program (only advocates in it are nudged)"
    if advocate.consent_at is None:
        return "no consent recorded"
    if account.email in unsubscribed:
        return "unsubscribed from program mail"
    if advocate.id in nudged:
        return "nudged today already"
    return None


def nudged_today(advocate_ids: list[int], now: datetime) -> set[int]:
    """Which of the advocates a coordinator nudged today (one query per ``BATCH``)."""
    keys = {staff_nudge_key(advocate_id, now): advocate_id for advocate_id in advocate_ids}
    return {keys[key] for key in _already_queued(set(keys))}


def staff_nudge_key(advocate_id: int, now: datetime) -> str:
    """A coordinator's nudge: once a day per advocate, whatever the review period."""
    return f"nudge-by-staff:{advocate_id}:{now.date().isoformat()}"


def nudge_now_step(advocate: Advocate, now: datetime) -> bool:
    """A coordinator asks the locked ``advocate`` to look at their availability now, with the
    quarterly nudge's e-mail, whether or not their review is due; program mail, so not to an
    address that unsubscribed (flushes only) → whether one was queued."""
    if why_not_nudged(advocate, now, unsubscribed=set(), nudged=nudged_today([advocate.id], now)) is not None:
        return False
    message = unsubscribe.enqueue_program_mail(
        template=TEMPLATE,
        to=advocate.account.email,
        context=nudge_context(advocate, now),
        idempotency_key=staff_nudge_key(advocate.id, now),
    )
    return message is not None and message in db.session.new


# --- what the e-mail and the page show -------------------------------------------------------


def availability_summary(advocate: Advocate, now: datetime) -> dict[str, Any]:
    """What the program has of the advocate's availability, in their own zone."""
    zone = zone_or_utc(advocate.account.timezone)
    today = now.astimezone(zone).date()
    return {
        "zone": zone.key,
        "windows": [{"day": WEEKDAYS[w.weekday], "starts": w.starts, "ends": w.ends}
                    for w in advocate.windows],
        "blackouts": [{"starts_on": b.starts_on, "ends_on": b.ends_on, "reason": b.reason}
                      for b in advocate.blackouts if b.ends_on >= today],
        "snoozed_until": advocate.snoozed_until if advocate.snoozed_until and advocate.snoozed_until >= today
        else None,
        "quarterly_limit": advocate.quarterly_limit,
        "formats": [f.name for f in advocate.formats],
    }


def nudge_context(advocate: Advocate, now: datetime) -> dict[str, Any]:
    zone = zone_or_utc(advocate.account.timezone)
    reviewed = advocate.last_reviewed_at
    return {
        "name": advocate.account.name,
        **availability_summary(advocate, now),
        "reviewed_on": reviewed.astimezone(zone).date() if reviewed else None,
        "days": review_days(),
        "confirm_link": link(advocate),
        "availability_link": external_url("portal.availability"),
    }


# --- the one-click confirmation --------------------------------------------------------------


def token(advocate: Advocate) -> str:
    reviewed = advocate.last_reviewed_at
    return sign(Purpose.REVIEW, {"a": advocate.id, "r": reviewed.isoformat() if reviewed else None})


def link(advocate: Advocate) -> str:
    """The absolute link of the "still right" page of ``advocate``'s current review period."""
    return external_url("portal.review", token_text=token(advocate))


@dataclass(frozen=True)
class ReviewLink:
    advocate: Advocate
    summary: dict[str, Any]
    # The profile was reviewed since the nudge was sent (by this link or otherwise): when, in
    # the advocate's zone; None while the confirmation is still to be given.
    reviewed_on: date | None


def read(token_text: str, now: datetime | None = None) -> ReviewLink:
    """The advocate a link is about, with their availability; ``LinkRefused`` for a tampered,
    foreign or too old link, or an advocate no longer in the program."""
    now = now or utcnow()
    try:
        payload = load(Purpose.REVIEW, token_text, review_days() * 86_400)
    except InvalidToken as refusal:
        if refusal.expired:
            raise LinkRefused("This link has expired. Sign in and look at your availability in the "
                              "portal instead: saving it counts as the review.") from None
        raise LinkRefused("This link is not valid. It may have been copied incompletely.",
                          status=400) from None
    advocate_id = payload.get("a") if isinstance(payload, dict) else None
    reviewed = payload.get("r") if isinstance(payload, dict) else None
    if not isinstance(advocate_id, int) or not 1 <= advocate_id <= ID_MAX \
            or not (reviewed is None or isinstance(reviewed, str)):
        raise LinkRefused("This link is not valid.", status=400)
    advocate = db.session.scalars(
        select(Advocate).where(Advocate.id == advocate_id)
        .options(joinedload(Advocate.account), joinedload(Advocate.tier), selectinload(Advocate.windows),
                 selectinload(Advocate.blackouts), selectinload(Advocate.formats))
    ).unique().one_or_none()
    if advocate is None or advocate.account is None or not advocate.account.active \
            or advocate.status not in (AdvocateStatus.ACTIVE, AdvocateStatus.PAUSED):
        raise LinkRefused("This profile is no longer in the reference program: there is nothing to confirm.")
    current = advocate.last_reviewed_at
    since = None
    if (current.isoformat() if current else None) != reviewed:
        since = current.astimezone(zone_or_utc(advocate.account.timezone)).date() if current else None
    return ReviewLink(advocate, availability_summary(advocate, now), since)


def confirm(token_text: str, now: datetime | None = None) -> ReviewLink:
    """The advocate says their availability is still right: the review is stamped now, as
    the portal's "still right" button does. A link whose period is already reviewed changes
    nothing."""
    now = now or utcnow()
    found = read(token_text, now)
    if found.reviewed_on is None:
        profiles.mark_reviewed(found.advocate.id, now=now, actor=found.advocate.account)
    return found


# --- the ask reminder ------------------------------------------------------------------------


def ask_reminder_due(now: datetime) -> tuple:
    """Pending, asked ASK_REMINDER_HOURS ago or more, and expiring within as many hours (with the
    default 48 hours to answer: half-way). An ask made with less time than that is not reminded."""
    hours = timedelta(hours=current_app.config["ASK_REMINDER_HOURS"])
    return (
        Ask.status == AskStatus.PENDING,
        Ask.created_at <= now - hours,
        Ask.expires_at > now,
        Ask.expires_at <= now + hours,
    )


def send_due_ask_reminders(now: datetime | None = None) -> int:
    """Remind each advocate of the asks ``ask_reminder_due`` picks, once per ask; → how many.
    Each in its own transaction under the advocate's lock, where the ask is read again."""
    now = now or utcnow()
    rule = ask_reminder_due(now)
    due = db.session.execute(select(Ask.id, Ask.advocate_id).where(*rule).order_by(Ask.id)).all()
    done = _already_queued({f"ask-reminder:{ask_id}" for ask_id, _advocate_id in due})
    db.session.rollback()
    sent = 0
    for ask_id, advocate_id in due:
        if f"ask-reminder:{ask_id}" in done:
            continue
        try:
            with transaction(lock=advocate_id) as advocate:
                ask = db.session.scalars(
                    select(Ask).where(Ask.id == ask_id, *rule).execution_options(populate_existing=True)
                ).one_or_none()
                if ask is not None and advocate.account.active:
                    sent += ask_reminder_step(ask, advocate, now)
        except errors.WorkflowError as refusal:
            log.warning("ask %s not reminded: %s", ask_id, refusal)
    return sent


def ask_reminder_step(ask: Ask, advocate: Advocate, now: datetime) -> bool:
    """Queue the reminder of ``ask`` (flushes only) → whether one was queued."""
    account, request = advocate.account, ask.request
    zone = zone_or_utc(account.timezone)
    message = enqueue(
        template="ask_reminder",
        to=[account.email],
        context={
            "name": account.name,
            "format_name": request.format.name,
            "industry": request.industry.name if request.industry else None,
            "asked_at": ask.created_at.astimezone(zone),
            "answer_by": ask.expires_at.astimezone(zone),
            "hours_left": max(1, int((ask.expires_at - now).total_seconds() // 3600)),
            "link": external_url("portal.ask", ask_id=ask.id),
        },
        idempotency_key=f"ask-reminder:{ask.id}",
    )
    return message in db.session.new
