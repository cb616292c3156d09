"""Candidates for the reference program: customers' contacts who are not advocates yet, ranked by
how likely they are to be good advocates (the seed texts: "start with your happiest customers —
high NPS, recent renewals, strong engagement"; "wait until customers are several months into
adoption").

The score (``score``) is a plain function of the company's signals and today's date, 0–100:
each signal brings up to its weight (``WEIGHTS``, the one place they are set), in proportion to
how strong it is, and every part is shown with its weight and what it added; the parts add up
to the score. Ties break on the advocate id, so the same data ranks the same way.

- NPS (−100 to 100): its positive part, NPS 100 earning the whole weight; a detractor-heavy
  NPS earns nothing.
- Health score (0–100): in proportion.
- A recent renewal: a ``renewal_date`` in the past year, the whole weight on the day of the
  renewal, falling to nothing a year later. A date still to come earns nothing: the customer
  has not renewed yet (asking just before a renewal is the worst timing).
- Time as a customer: in proportion up to ``TENURE_FULL_DAYS`` (three years).

The screen (``candidates_page``) reads the signals and each person's latest invitation in one
query, ranks them here (``rank``: the points alone), then reads the people of one page and their
invitations, whose parts are put in words (``score``): the query count does not grow with the
number of candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from models import Account, Advocate, Company, Industry, Invitation, OutboxMessage, db
from models.types import ID_MAX
from workflows.outreach import (
    NOT_YET_ADVOCATES,
    InvitationFacts,
    InvitationState,
    facts_columns,
    facts_of,
    latest_facts,
    latest_invitations,
    state_of,
)


@dataclass(frozen=True)
class Weights:
    """The most each signal adds to the score; they add up to 100."""

    nps: int = 35
    health: int = 30
    renewal: int = 20
    tenure: int = 15

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


WEIGHTS = Weights()
RENEWAL_RECENT_DAYS = 365
TENURE_FULL_DAYS = 3 * 365
SIGNAL_NAMES = {"nps": "NPS", "health": "Health score", "renewal": "Recent renewal",
                "tenure": "Time as a customer"}


@dataclass(frozen=True)
class Signals:
    """What the CRM says about the contact's company (the customers CSV's columns)."""

    nps: int | None = None
    health_score: int | None = None
    renewal_date: date | None = None
    customer_since: date | None = None


@dataclass(frozen=True)
class Part:
    """One signal's part of the score: its name, what it is, its weight and what it added."""

    signal: str
    name: str
    value: str
    weight: int
    points: int


@dataclass(frozen=True)
class Advocacy:
    score: int
    parts: tuple[Part, ...]


def _share(weight: int, amount: int, full: int) -> int:
    """``weight`` × amount / full, clamped to 0…weight, rounded half up, in whole numbers."""
    amount = max(0, min(amount, full))
    return (2 * weight * amount + full) // (2 * full)


def _duration(days: int) -> str:
    years, rest = divmod(days, 365)
    months = rest // 30
    if years and months:
        return f"{years} year{'s' if years > 1 else ''} {months} month{'s' if months > 1 else ''}"
    if years:
        return f"{years} year{'s' if years > 1 else ''}"
    if months:
        return f"{months} month{'s' if months > 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


def _points(signals: Signals, today: date, weights: Weights) -> tuple[int, int, int, int]:
    """What each signal adds (nps, health, renewal, tenure): the rule itself, kept apart from the
    words so that ranking thousands of candidates computes only this."""
    nps = _share(weights.nps, signals.nps, 100) if signals.nps is not None else 0
    health = _share(weights.health, signals.health_score, 100) if signals.health_score is not None else 0
    renewal = tenure = 0
    if signals.renewal_date is not None and signals.renewal_date <= today:
        renewal = _share(weights.renewal, RENEWAL_RECENT_DAYS - (today - signals.renewal_date).days,
                         RENEWAL_RECENT_DAYS)
    if signals.customer_since is not None and signals.customer_since <= today:
        tenure = _share(weights.tenure, (today - signals.customer_since).days, TENURE_FULL_DAYS)
    return nps, health, renewal, tenure


def total(signals: Signals, today: date, weights: Weights = WEIGHTS) -> int:
    """The score alone (what ``score`` adds up)."""
    return sum(_points(signals, today, weights))


def score(signals: Signals, today: date, weights: Weights = WEIGHTS) -> Advocacy:
    """The advocacy score of one candidate, with its parts in words (see the module's text)."""
    nps, health, renewal, tenure = _points(signals, today, weights)

    def part(signal: str, value: str, points: int) -> Part:
        return Part(signal, SIGNAL_NAMES[signal], value, getattr(weights, signal), points)

    parts = [
        part("nps", "not in the CRM" if signals.nps is None
             else f"{signals.nps:+d}" if signals.nps else "0", nps),
        part("health", "not in the CRM" if signals.health_score is None
             else f"{signals.health_score} of 100", health),
    ]
    when = signals.renewal_date
    if when is None:
        words = "no renewal date in the CRM"
    elif when > today:
        words = f"not renewed yet: renewal due {when:%d %b %Y}"
    else:
        ago = (today - when).days
        words = "renewed today" if ago == 0 else f"renewed {_duration(ago)} ago"
    parts.append(part("renewal", words, renewal))
    since = signals.customer_since
    if since is None:
        words = "no start date in the CRM"
    elif since > today:
        words = f"a customer from {since:%d %b %Y}"
    else:
        days = (today - since).days
        words = f"a customer for {_duration(days)}" if days else "a customer since today"
    parts.append(part("tenure", words, tenure))
    return Advocacy(score=nps + health + renewal + tenure, parts=tuple(parts))


def rank(candidates: Iterable[tuple[int, Signals]], today: date,
         weights: Weights = WEIGHTS) -> list[tuple[int, int]]:
    """(id, score) best first; equal scores by id."""
    scored = [(candidate_id, total(signals, today, weights)) for candidate_id, signals in candidates]
    return sorted(scored, key=lambda item: (-item[1], item[0]))


# --- the screen ------------------------------------------------------------------------------

PAGE_SIZE = 50
PAGES_MAX = ID_MAX // PAGE_SIZE


@dataclass(frozen=True)
class CandidateRow:
    advocate: Advocate
    advocacy: Advocacy
    invitation: InvitationFacts | None
    state: InvitationState

    @property
    def undeliverable(self) -> bool:
        return self.state is InvitationState.UNDELIVERABLE


@dataclass(frozen=True)
class CandidatesPage:
    rows: list[CandidateRow]
    total: int  # candidates the filters pick, on every page
    page: int
    pages: int


def candidates_page(*, industry_id: int | None = None, state: InvitationState | None = None,
                    page: int = 1, now: datetime, weights: Weights = WEIGHTS) -> CandidatesPage:
    """One page of the ranked candidates, in three queries whatever their number: the signals of
    all (with their invitations' facts when filtered by what became of them), the people of the
    page, and the invitations' facts of the page."""
    query = (
        select(Advocate.id, Company.nps, Company.health_score, Company.renewal_date, Company.customer_since)
        .select_from(Advocate)
        .join(Account, Account.id == Advocate.account_id)
        .outerjoin(Company, Company.id == Advocate.company_id)
        .where(Advocate.status.in_(NOT_YET_ADVOCATES), Account.active.is_(True))
    )
    if industry_id is not None:
        query = query.where(Company.industry_id == industry_id)
    if state is not None:
        latest = latest_invitations()
        query = (
            query.add_columns(*facts_columns())
            .outerjoin(latest, latest.c.advocate_id == Advocate.id)
            .outerjoin(Invitation, Invitation.id == latest.c.id)
            .outerjoin(OutboxMessage, OutboxMessage.idempotency_key == Invitation.message_key)
        )
    today = now.date()
    signals = {}
    for row in db.session.execute(query).all():
        if state is None or state_of(facts_of(row[5:]), now) is state:
            signals[row[0]] = Signals(*row[1:5])
    ranked = rank(signals.items(), today, weights)
    pages = max(1, -(-len(ranked) // PAGE_SIZE))
    shown = [candidate_id for candidate_id, _points in ranked[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]]
    if not shown:
        return CandidatesPage(rows=[], total=len(ranked), page=page, pages=pages)
    people = {a.id: a for a in db.session.scalars(
        select(Advocate).where(Advocate.id.in_(shown))
        .options(joinedload(Advocate.account), joinedload(Advocate.company).joinedload(Company.industry))
    )}
    facts = latest_facts(shown)
    rows = [CandidateRow(people[i], score(signals[i], today, weights), facts.get(i),
                         state_of(facts.get(i), now)) for i in shown]
    return CandidatesPage(rows=rows, total=len(ranked), page=page, pages=pages)


def industries() -> list[tuple[int, str]]:
    return list(db.session.execute(select(Industry.id, Industry.name).order_by(Industry.name)).all())
