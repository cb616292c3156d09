"""Outreach (DESIGN.md §1 "spot and invite candidates", §6 "program invitation"): the
coordinator invites customers' contacts to the reference program, each by a personal e-mail
whose signed link opens a page about the program; there the person joins or declines.

Who can be invited
    A candidate advocate (a contact the customers import brought in: ``invite``), or anybody by
    address (``invite_address``): nobody is created until they accept. That is also how someone
    who left the program comes back (``workflows.suppression``): staff cannot add them, but may
    invite them, and only their own acceptance lifts the suppression.

The link (``link``, ``read``)
    Signed for ``Purpose.INVITATION`` over the invitation's id, valid ``LINK_MAX_AGE`` from the
    e-mail that carries it (the reminder carries a fresh one). Opening it changes nothing but
    the "opened" stamp of the funnel (a mail scanner's fetch counts too: "opened" is an upper
    bound); only the page's POSTs answer. An invitation is answered once, by a conditional
    ``UPDATE … WHERE joined_at IS NULL AND declined_at IS NULL``: a used, superseded, tampered or
    expired link is refused with a page that says why (``LinkRefused``, 4xx).

Joining (``accept``)
    Records consent on the advocate as every consent is recorded (``consent_at``, and in
    ``consent_source`` how it was given), makes them an active advocate at the entry tier (the
    lowest; a tier already set is kept), and returns the account for the view to sign in
    (``portal.auth.start_session``), audited as a sign-in. Then the first-time setup
    (``setup_steps``): availability, topics, formats.

The reminder (``send_due_reminders``, a periodic job of ``workflows.jobs``)
    One, ``REMINDER_AFTER`` days after the invitation when it is still unanswered, its link still
    live and its e-mail not dead in the outbox; then never again (``reminded_at``, and the
    outbox idempotency key ``invitation-reminder:<id>``).

The e-mails are enqueued in ``_mail`` (templates ``program_invitation`` and
``program_invitation_reminder``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import case, func, literal, select, update
from sqlalchemy.orm import joinedload

from models import (
    Account,
    Advocate,
    AdvocateStatus,
    AdvocateTopic,
    Company,
    Format,
    Invitation,
    OutboxMessage,
    OutboxStatus,
    Perk,
    Role,
    Tier,
    TopicStance,
    WeeklyWindow,
    db,
)
from models._columns import name_key
from models.accounts import normalize_email
from models.advocates import advocate_formats
from models.types import ID_MAX, UTCDateTime, utcnow
from workflows import errors, quota, suppression, unsubscribe
from workflows.audit import add_event
from workflows.links import InvalidToken, Purpose, external_url, load, sign
from workflows.prospect_links import LinkRefused
from workflows.transaction import transaction

REMINDER_AFTER = timedelta(days=7)
LINK_MAX_AGE = timedelta(days=30)
MAX_SELECTED = 200  # candidates invited in one go
NAME_MAX_LENGTH = 120
CONSENT_SOURCE = "accepted the program invitation on {day:%Y-%m-%d}"
# People an invitation can make advocates of: not yet in the program.
NOT_YET_ADVOCATES = (AdvocateStatus.CANDIDATE, AdvocateStatus.INVITED)


# --- what became of an invitation ------------------------------------------------------------


class InvitationState(StrEnum):
    NOT_INVITED = "not_invited"
    INVITED = "invited"  # sent, unanswered, its link still live
    OPENED = "opened"  # … and its page opened
    NO_ANSWER = "no_answer"  # its link expired unanswered
    UNDELIVERABLE = "undeliverable"  # its latest e-mail is dead in the outbox (a bounce, a 5xx)
    DECLINED = "declined"
    JOINED = "joined"


STATE_WORDS = {
    InvitationState.NOT_INVITED: "Not invited yet",
    InvitationState.INVITED: "Invited, no answer yet",
    InvitationState.OPENED: "Opened the invitation, no answer yet",
    InvitationState.NO_ANSWER: "No answer: the invitation expired",
    InvitationState.UNDELIVERABLE: "Undeliverable: the invitation bounced",
    InvitationState.DECLINED: "Declined",
    InvitationState.JOINED: "Joined",
}
# Who a coordinator's "Invite" reaches: by default nobody already waiting on an invitation,
# nobody who said no and no address that bounced; ``again`` adds the last two.
INVITABLE = frozenset({InvitationState.NOT_INVITED, InvitationState.NO_ANSWER})
INVITABLE_AGAIN = INVITABLE | {InvitationState.DECLINED, InvitationState.UNDELIVERABLE}


@dataclass(frozen=True)
class InvitationFacts:
    """What a person's latest invitation says, with the outbox status of its latest e-mail."""

    id: int
    sent_at: datetime
    reminded_at: datetime | None
    opened_at: datetime | None
    joined_at: datetime | None
    declined_at: datetime | None
    message_status: OutboxStatus | None

    @property
    def last_mailed_at(self) -> datetime:
        return self.reminded_at or self.sent_at


def state_of(facts: InvitationFacts | None, now: datetime) -> InvitationState:
    """The one rule for what became of an invitation (the screen, its filter, ``invite``)."""
    if facts is None:
        return InvitationState.NOT_INVITED
    if facts.joined_at is not None:
        return InvitationState.JOINED
    if facts.declined_at is not None:
        return InvitationState.DECLINED
    if facts.message_status is OutboxStatus.DEAD:
        return InvitationState.UNDELIVERABLE
    if facts.last_mailed_at + LINK_MAX_AGE <= now:
        return InvitationState.NO_ANSWER
    return InvitationState.OPENED if facts.opened_at is not None else InvitationState.INVITED


def facts_columns() -> tuple:
    """The columns ``InvitationFacts`` is made of, for a query joining Invitation and the outbox."""
    return (Invitation.id, Invitation.sent_at, Invitation.reminded_at, Invitation.opened_at,
            Invitation.joined_at, Invitation.declined_at, OutboxMessage.status)


def facts_of(row) -> InvitationFacts | None:
    """``InvitationFacts`` from the ``facts_columns`` of a row (None when it has no invitation)."""
    if row[0] is None:
        return None
    return InvitationFacts(*row[:6], OutboxStatus(row[6]) if row[6] is not None else None)


def latest_invitations():
    """A subquery: each advocate's latest invitation id (``advocate_id``, ``id``)."""
    return (
        select(Invitation.advocate_id, func.max(Invitation.id).label("id"))
        .where(Invitation.advocate_id.is_not(None))
        .group_by(Invitation.advocate_id)
        .subquery()
    )


def latest_facts(advocate_ids: Collection[int]) -> dict[int, InvitationFacts]:
    """The latest invitation of each of these advocates, with its e-mail's status (one query)."""
    if not advocate_ids:
        return {}
    latest = latest_invitations()
    rows = db.session.execute(
        select(latest.c.advocate_id, *facts_columns())
        .select_from(latest)
        .join(Invitation, Invitation.id == latest.c.id)
        .outerjoin(OutboxMessage, OutboxMessage.idempotency_key == Invitation.message_key)
        .where(latest.c.advocate_id.in_(list(advocate_ids)))
    ).all()
    return {row[0]: facts_of(row[1:]) for row in rows}


# --- the funnel ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funnel:
    invited: int
    opened: int
    joined: int
    declined: int
    undeliverable: int


def funnel() -> Funnel:
    """Every invitation sent, and how many were opened, joined, declined, or bounced unanswered
    (one query)."""
    dead = (OutboxMessage.status == OutboxStatus.DEAD) & Invitation.joined_at.is_(None) \
        & Invitation.declined_at.is_(None)
    row = db.session.execute(
        select(
            func.count(Invitation.id),
            func.count(Invitation.opened_at),
            func.count(Invitation.joined_at),
            func.count(Invitation.declined_at),
            func.sum(case((dead, 1), else_=0)),
        )
        .select_from(Invitation)
        .outerjoin(OutboxMessage, OutboxMessage.idempotency_key == Invitation.message_key)
    ).one()
    return Funnel(*(int(n or 0) for n in row))


# --- inviting --------------------------------------------------------------------------------


@dataclass
class Sent:
    """What an ``invite`` did: whom it invited, and whom it left out and why."""

    invited: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


def check_selection(advocate_ids: Collection[int]) -> list[int]:
    ids = sorted(set(advocate_ids))
    if not ids:
        raise errors.Invalid("Choose at least one candidate to invite.", "advocate_id")
    if len(ids) > MAX_SELECTED:
        raise errors.Invalid(f"Invite at most {MAX_SELECTED} candidates at a time.", "advocate_id")
    if any(not isinstance(i, int) or not 1 <= i <= ID_MAX for i in ids):
        raise errors.Invalid("The selection names a candidate that does not exist.", "advocate_id")
    return ids


SKIP_REASONS = {
    InvitationState.INVITED: "invited already, waiting for an answer",
    InvitationState.OPENED: "invited already, waiting for an answer",
    InvitationState.DECLINED: "declined an earlier invitation",
    InvitationState.UNDELIVERABLE: "the earlier invitation could not be delivered",
    InvitationState.JOINED: "in the program already",
}


UNSUBSCRIBED = "unsubscribed from program mail"


def invite(advocate_ids: Collection[int], *, by: Account, again: bool = False,
           now: datetime | None = None) -> Sent:
    """Send the program invitation to each of these candidates, in one transaction under their
    row locks (so that two coordinators, or a form sent twice, invite each person once). Those
    waiting on an invitation already are left out; so are those who declined or whose address
    bounced, unless ``again``. ``errors.NotFound`` for an id that names no advocate."""
    ids = check_selection(advocate_ids)
    now = now or utcnow()
    sent = Sent()
    allowed = INVITABLE_AGAIN if again else INVITABLE
    with transaction(lock=ids) as advocates:
        entry = entry_tier()
        facts = latest_facts(ids)
        people = {a.id: a for a in db.session.scalars(
            select(Advocate).where(Advocate.id.in_(ids))
            .options(joinedload(Advocate.account), joinedload(Advocate.company))
        )}
        stopped = unsubscribe.unsubscribed(p.account.email for p in people.values())
        for locked in advocates:
            advocate = people[locked.id]
            name = advocate.account.name
            if advocate.account.email in stopped:
                sent.skipped.append((name, UNSUBSCRIBED))
                continue
            if advocate.status not in NOT_YET_ADVOCATES:
                sent.skipped.append((name, "in the program already"
                                     if advocate.status is not AdvocateStatus.RETIRED else "retired"))
                continue
            if not advocate.account.active:
                sent.skipped.append((name, "their account is deactivated"))
                continue
            state = state_of(facts.get(advocate.id), now)
            if state not in allowed:
                sent.skipped.append((name, SKIP_REASONS[state]))
                continue
            invitation = Invitation(advocate_id=advocate.id, sent_at=now, by_id=by.id)
            db.session.add(invitation)
            db.session.flush()
            _mail(invitation, advocate.account.email, name,
                  advocate.company.name if advocate.company else None, by.name, now, entry)
            advocate.status = AdvocateStatus.INVITED
            sent.invited.append(name)
        add_event("outreach.invited", actor=by, invited=len(sent.invited), skipped=len(sent.skipped),
                  again=again)
    return sent


class NotInvitable(errors.Conflict):
    """The address belongs to someone an invitation cannot be for (in the program already)."""


def invite_address(email: str, *, name: str = "", company: str = "", by: Account,
                   now: datetime | None = None) -> Sent:
    """Invite someone by address: a candidate already in Vouch as ``invite`` does; anybody
    else, someone who left the program included, without creating anything until they accept.
    ``company``: the name of a company Vouch knows (or empty)."""
    now = now or utcnow()
    problems: dict[str, str] = {}
    try:
        email = normalize_email(validate_email(email.strip(), check_deliverability=False).normalized)
    except EmailNotValidError:
        problems["email"] = "Enter the person's e-mail address, like dana@example.com."
    name = " ".join((name or "").split())
    if len(name) > NAME_MAX_LENGTH:
        problems["name"] = f"Keep the name under {NAME_MAX_LENGTH} characters."
    company_row = None
    if company and company.strip():
        key = name_key(company)[:200]
        company_row = db.session.scalar(select(Company).where(Company.name_key == key))
        if company_row is None:
            problems["company"] = (f"No company named {company.strip()[:200]} is in Vouch: import the "
                                   "customers file first, or leave the company empty.")
    if problems:
        raise errors.Invalid(next(iter(problems.values())), errors=problems)

    account = db.session.scalar(
        select(Account).where(Account.email == email).options(joinedload(Account.advocate))
    )
    if account is not None:
        if account.role is not Role.ADVOCATE:
            raise errors.Invalid(f"{email} belongs to a {account.role.value} account: an advocate needs "
                                 "an address of their own.", "email")
        advocate = account.advocate
        if advocate is not None and advocate.status in NOT_YET_ADVOCATES:
            db.session.rollback()
            return invite([advocate.id], by=by, now=now)
        if advocate is not None:
            where = "retired" if advocate.status is AdvocateStatus.RETIRED else "in the program"
            raise NotInvitable(f"{account.name} ({email}) is an advocate already ({where}).", "email")
    with transaction():
        pending = db.session.execute(
            select(*facts_columns())
            .select_from(Invitation)
            .outerjoin(OutboxMessage, OutboxMessage.idempotency_key == Invitation.message_key)
            .where(Invitation.email == email)
            .order_by(Invitation.id.desc())
            .limit(1)
        ).first()
        state = state_of(facts_of(pending) if pending else None, now)
        if state in (InvitationState.INVITED, InvitationState.OPENED):
            raise errors.Conflict(f"{email} was invited already and has not answered yet.", "email")
        if unsubscribe.unsubscribed([email]):
            raise errors.Conflict(f"{email} {UNSUBSCRIBED}: they get no program mail.", "email")
        invitation = Invitation(email=email, name=name, company_id=company_row.id if company_row else None,
                                sent_at=now, by_id=by.id)
        db.session.add(invitation)
        db.session.flush()
        _mail(invitation, email, name or None, company_row.name if company_row else None, by.name, now,
              entry_tier())
        add_event("outreach.invited", actor=by, invited=1, skipped=0, by_address=True)
    return Sent(invited=[name or email])


def _mail(invitation: Invitation, email: str, name: str | None, company: str | None, inviter: str,
          now: datetime, entry: Tier | None, *, reminder: bool = False) -> None:
    """The invitation e-mail, or its reminder: where outreach enqueues its mail."""
    key = f"invitation-reminder:{invitation.id}" if reminder else f"invitation:{invitation.id}"
    unsubscribe.enqueue_program_mail(
        template="program_invitation_reminder" if reminder else "program_invitation",
        to=email,
        context={
            "name": name, "company": company, "inviter": inviter, "link": link(invitation),
            "days": LINK_MAX_AGE.days, "sent_on": invitation.sent_at,
            "entry_tier": entry.name if entry else None,
            "calls_a_quarter": first_calls(entry),
        },
        idempotency_key=key,
        # Its link signs the person in when they join: wiped once sent, so that nobody reading the
        # outbox can join in their name (a reminder carries a fresh link).
        sensitive=True,
    )
    invitation.message_key = key


def entry_tier() -> Tier | None:
    """The tier a new advocate starts at: the lowest (the highest rank number)."""
    return db.session.scalar(select(Tier).order_by(Tier.rank.desc()).limit(1))


def link(invitation: Invitation) -> str:
    """The absolute link to the invitation's page, on BASE_URL."""
    return external_url("portal.join", token_text=sign(Purpose.INVITATION, {"i": invitation.id}))


# --- the reminder ----------------------------------------------------------------------------


def reminder_due(now: datetime) -> tuple:
    """Unanswered, never reminded, sent ``REMINDER_AFTER`` ago or more, its link still live."""
    return (
        Invitation.joined_at.is_(None),
        Invitation.declined_at.is_(None),
        Invitation.reminded_at.is_(None),
        Invitation.sent_at <= now - REMINDER_AFTER,
        Invitation.sent_at > now - LINK_MAX_AGE,
    )


def send_due_reminders(now: datetime | None = None) -> int:
    """Remind each invitation due (``reminder_due``) once, one transaction each, the invitation
    read again there under its row lock; → how many were reminded. An invitation whose e-mail
    is dead, or whose person joined by another way, gets none."""
    now = now or utcnow()
    due = db.session.scalars(select(Invitation.id).where(*reminder_due(now)).order_by(Invitation.id)).all()
    db.session.rollback()
    reminded = 0
    entry = entry_tier() if due else None
    for invitation_id in due:
        with transaction():
            invitation = db.session.scalars(
                select(Invitation).where(Invitation.id == invitation_id, *reminder_due(now))
                .with_for_update().execution_options(populate_existing=True)
            ).one_or_none()
            if invitation is None or not _remindable(invitation):
                continue
            email, name, company = _addressee(invitation)
            _mail(invitation, email, name, company, invitation.by.name if invitation.by else "The team",
                  now, entry, reminder=True)
            invitation.reminded_at = now
            reminded += 1
    return reminded


def _remindable(invitation: Invitation) -> bool:
    status = db.session.scalar(
        select(OutboxMessage.status).where(OutboxMessage.idempotency_key == invitation.message_key)
    )
    if status == OutboxStatus.DEAD:
        return False
    advocate = invitation.advocate
    if advocate is not None and (advocate.status not in NOT_YET_ADVOCATES or not advocate.account.active):
        return False
    return advocate is not None or bool(invitation.email)


def _addressee(invitation: Invitation) -> tuple[str, str | None, str | None]:
    """(address, name, company name) of the person invited."""
    advocate = invitation.advocate
    if advocate is not None:
        company = advocate.company or invitation.company
        return advocate.account.email, advocate.account.name, company.name if company else None
    company = invitation.company
    return invitation.email or "", invitation.name or None, company.name if company else None


# --- the link and its page -------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """What the invitation's page explains: the tiers (top first), the entry tier, what is asked
    (the formats) and the perks."""

    tiers: list[Tier]
    entry: Tier | None
    formats: list[Format]
    perks: list[Perk]

    @property
    def first_calls(self) -> int | None:
        return first_calls(self.entry)


def first_calls(entry: Tier | None) -> int | None:
    """The calls a quarter someone joining starts with: the entry tier's quota, or the program's
    default cap below it (``quota.starting_cap``)."""
    if entry is None:
        return None
    cap = quota.starting_cap(entry.quarterly_quota)
    return entry.quarterly_quota if cap is None else cap


@dataclass(frozen=True)
class InvitationPage:
    invitation: Invitation
    name: str | None
    company: str | None
    program: Program


def read(token_text: str, *, now: datetime | None = None) -> Invitation:
    """The invitation a link is for, still open to an answer; ``LinkRefused`` (4xx) otherwise."""
    now = now or utcnow()
    try:
        payload = load(Purpose.INVITATION, token_text, int(LINK_MAX_AGE.total_seconds()))
    except InvalidToken as refusal:
        if refusal.expired:
            raise LinkRefused(f"This invitation has expired: invitations work for {LINK_MAX_AGE.days} "
                              "days. Reply to the e-mail to ask for a new one.") from None
        raise LinkRefused("This invitation link is not valid. It may have been copied incompletely.",
                          status=400) from None
    invitation_id = payload.get("i") if isinstance(payload, dict) else None
    if type(invitation_id) is not int or not 1 <= invitation_id <= ID_MAX:
        raise LinkRefused("This invitation link is not valid.", status=400)
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.id == invitation_id)
        .options(joinedload(Invitation.advocate).joinedload(Advocate.account),
                 joinedload(Invitation.advocate).joinedload(Advocate.company),
                 joinedload(Invitation.company))
        .execution_options(populate_existing=True)
    ).unique().one_or_none()
    if invitation is None:
        raise LinkRefused("This invitation no longer exists.", status=404)
    check_open(invitation)
    return invitation


def check_open(invitation: Invitation) -> None:
    """Unanswered, the latest sent to its person, and its person not in the program yet."""
    if invitation.joined_at is not None:
        raise LinkRefused("You have accepted this invitation already: sign in to the portal with your "
                          "e-mail address.")
    if invitation.declined_at is not None:
        raise LinkRefused(f"You declined this invitation on {invitation.declined_at:%d %B %Y}. If you "
                          "have changed your mind, reply to the e-mail and ask for a new one.")
    same_person = (Invitation.advocate_id == invitation.advocate_id) if invitation.advocate_id \
        else (Invitation.email == invitation.email)
    newer = db.session.scalar(
        select(func.count(Invitation.id)).where(same_person, Invitation.id > invitation.id)
    )
    if newer:
        raise LinkRefused("A newer invitation was sent to you: use the link in the latest e-mail.")
    advocate = invitation.advocate
    if advocate is not None:
        if advocate.status is AdvocateStatus.RETIRED or not advocate.account.active:
            raise LinkRefused("This invitation is no longer valid.")
        if advocate.status not in NOT_YET_ADVOCATES:
            raise LinkRefused("You are in the reference program already: sign in to the portal with your "
                              "e-mail address.", status=409)
    elif not invitation.email:
        raise LinkRefused("This invitation is no longer valid.")


def program() -> Program:
    """The program as the invitation's page explains it, from the database (three queries)."""
    tiers = list(db.session.scalars(select(Tier).order_by(Tier.rank)))
    formats = list(db.session.scalars(select(Format).order_by(Format.position, Format.code)))
    perks = list(db.session.scalars(
        select(Perk).join(Tier, Tier.id == Perk.min_tier_id).where(Perk.active.is_(True))
        .options(joinedload(Perk.min_tier)).order_by(Tier.rank.desc(), Perk.name, Perk.id)
    ))
    return Program(tiers=tiers, entry=max(tiers, key=lambda t: t.rank) if tiers else None,
                   formats=formats, perks=perks)


def open_invitation(token_text: str, *, stamp: bool = True, now: datetime | None = None) -> InvitationPage:
    """The invitation's page. ``stamp``: record the first opening (a GET; a HEAD records nothing)."""
    now = now or utcnow()
    invitation = read(token_text, now=now)
    if stamp and invitation.opened_at is None:
        with transaction():
            db.session.execute(
                update(Invitation).where(Invitation.id == invitation.id, Invitation.opened_at.is_(None))
                .values(opened_at=now).execution_options(synchronize_session=False)
            )
        invitation = read(token_text, now=now)
    _email, name, company = _addressee(invitation)
    return InvitationPage(invitation=invitation, name=name, company=company, program=program())


def _answer(invitation: Invitation, now: datetime, **values) -> None:
    """Claim the invitation's one answer; ``LinkRefused`` when another came first."""
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.joined_at.is_(None),
               Invitation.declined_at.is_(None))
        .values(opened_at=func.coalesce(Invitation.opened_at, literal(now, UTCDateTime())), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise LinkRefused("This invitation was answered already: each invitation is answered once.")


def accept(token_text: str, *, now: datetime | None = None) -> Account:
    """Join the program through the invitation: consent recorded, an active advocate at the entry
    tier with the program's default cap (``quota.starting_cap``), created now for someone
    invited by address (whose suppression, if they had left, is lifted), audited as joining and
    as a sign-in. → the account, for the view to sign in."""
    now = now or utcnow()
    invitation = read(token_text, now=now)
    invitation_id, advocate_id = invitation.id, invitation.advocate_id
    with transaction(lock=advocate_id) as advocate:
        invitation = db.session.get(Invitation, invitation_id, populate_existing=True)
        check_open(invitation)
        _answer(invitation, now, joined_at=now)
        if advocate is None:
            advocate = _advocate_for_address(invitation)
        account = advocate.account
        advocate.status = AdvocateStatus.ACTIVE
        if advocate.tier_id is None:
            entry = entry_tier()
            advocate.tier_id = entry.id if entry else None
        if advocate.quarterly_cap is None:
            tier = db.session.get(Tier, advocate.tier_id) if advocate.tier_id is not None else None
            advocate.quarterly_cap = quota.starting_cap(tier.quarterly_quota if tier else None)
        advocate.consent_at = now
        advocate.consent_source = CONSENT_SOURCE.format(day=now)
        account.last_sign_in_at = now
        add_event("outreach.joined", actor=account, invitation_id=invitation_id)
        add_event("sign_in.succeeded", actor=account, subject=account.email, via="invitation")
    return account


def _advocate_for_address(invitation: Invitation) -> Advocate:
    """The advocate someone invited by address becomes: their account (new, or the one with that
    address since), their profile at the invitation's company. The address moves to the account."""
    email = invitation.email or ""
    account = db.session.scalar(select(Account).where(Account.email == email))
    if account is None:
        account = Account(email=email, role=Role.ADVOCATE,
                          name=(invitation.name or email.split("@")[0])[:NAME_MAX_LENGTH])
        db.session.add(account)
        db.session.flush()
    elif account.role is not Role.ADVOCATE or not account.active:
        raise LinkRefused("This invitation is no longer valid: the address belongs to another account.",
                          status=409)
    advocate = db.session.scalar(select(Advocate).where(Advocate.account_id == account.id))
    if advocate is None:
        advocate = Advocate(account_id=account.id, company_id=invitation.company_id,
                            status=AdvocateStatus.CANDIDATE)
        db.session.add(advocate)
        db.session.flush()
    elif advocate.status not in NOT_YET_ADVOCATES:
        raise LinkRefused("You are in the reference program already: sign in to the portal with your "
                          "e-mail address.", status=409)
    suppression.lift(email)
    invitation.advocate_id = advocate.id
    invitation.email = None
    db.session.flush()
    db.session.refresh(advocate)
    return advocate


def decline(token_text: str, *, now: datetime | None = None) -> Invitation:
    """Say no to the invitation: recorded (the funnel counts it, no reminder follows, and the
    coordinator does not invite them again by default). Someone invited by address keeps no
    address in Vouch."""
    now = now or utcnow()
    invitation = read(token_text, now=now)
    invitation_id = invitation.id
    with transaction(lock=invitation.advocate_id) as advocate:
        invitation = db.session.get(Invitation, invitation_id, populate_existing=True)
        check_open(invitation)
        _answer(invitation, now, declined_at=now)
        db.session.refresh(invitation)
        if advocate is not None and advocate.status is AdvocateStatus.INVITED:
            advocate.status = AdvocateStatus.CANDIDATE
        if advocate is None:
            invitation.email = None
            invitation.name = ""
        add_event("outreach.declined", actor=advocate.account if advocate else None,
                  invitation_id=invitation_id)
    return invitation


# --- the first-time setup --------------------------------------------------------------------


@dataclass(frozen=True)
class SetupStep:
    key: str  # availability, topics, formats
    label: str
    done: bool


def setup_steps(advocate_id: int) -> list[SetupStep]:
    """The short first-time setup after joining, each step done or not (one query)."""

    def count(query) -> object:
        return query.scalar_subquery()

    windows, topics, formats = db.session.execute(select(
        count(select(func.count()).select_from(WeeklyWindow).where(WeeklyWindow.advocate_id == advocate_id)),
        count(select(func.count()).select_from(AdvocateTopic).where(
            AdvocateTopic.advocate_id == advocate_id, AdvocateTopic.stance == TopicStance.GLAD)),
        count(select(func.count()).select_from(advocate_formats).where(
            advocate_formats.c.advocate_id == advocate_id)),
    )).one()
    return [
        SetupStep("availability", "Your availability: the weekly hours when prospects may book a call",
                  bool(windows)),
        SetupStep("topics", "Topics you are glad to talk about", bool(topics)),
        SetupStep("formats", "The formats you accept: calls, video calls, written answers, site visits",
                  bool(formats)),
    ]
