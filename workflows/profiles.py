"""The advocate's reference profile: who they are and what they will talk
about — job, products and use cases, competitors, story, languages, companies they refuse —
and their topic stances and accepted formats.

Each change owns its transaction: it takes the advocate's row lock, checks every rule, then
commits once; a refused change raises ``ProfileError`` and leaves nothing behind. The rules
are plain functions, so forms, imports and tests can use them alone.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from models import (
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateTopic,
    Competitor,
    CompetitorRelation,
    Format,
    JobLevel,
    Product,
    Topic,
    TopicStance,
    UseCase,
    db,
)
from models._columns import name_key
from models.types import zone_or_utc
from workflows import errors
from workflows.audit import add_event
from workflows.bookings import check_join_details
from workflows.tags import tag_list, tags
from workflows.transaction import transaction

JOB_TITLE_MAX_LENGTH = 120
TEXT_MAX_LENGTH = 5000  # success metrics, talking points
TAG_MAX_LENGTH = 120  # products, use cases, competitors (the tag tables' column)
TAGS_MAX = 30  # per list
LANGUAGE_MAX_LENGTH = 40
LANGUAGES_MAX = 10
COMPANY_MAX_LENGTH = 200  # a company name, as on Company and ReferenceRequest
COMPANIES_MAX = 50

NEUTRAL = "neutral"  # a topic with no stance: no AdvocateTopic row
STANCES: dict[str, TopicStance | None] = {**{stance.value: stance for stance in TopicStance}, NEUTRAL: None}


class ProfileError(errors.Invalid):
    """A change refused by a rule; ``errors`` holds every refused input when several were
    checked at once."""


class UnknownChoice(ProfileError):
    """A topic, stance or format the catalogue does not hold: a stale page or a tampered form."""


class NotFound(errors.NotFound):
    """No such advocate."""


# --- the rules -------------------------------------------------------------------------------

# Lists typed in a form: one item per line, so that a tag keeps whatever it holds ("Billing,
# claims"). A spreadsheet's cell separates them with semicolons (the CSV contract).
LINES = re.compile(r"[\n\r]")
CELL_SEPARATORS = re.compile(r"[;\n\r]")
# Languages are typed on one line: "English, German".
LANGUAGE_SEPARATORS = re.compile(r"[,;\n\r]")


def split_list(text: str | None, separators: re.Pattern[str] = LINES) -> list[str]:
    """``"Fleet tracking\\nBilling, claims\\n fleet  TRACKING"`` → ``["Fleet tracking", "Billing, claims"]``.

    Spaces are folded, empty items dropped, and repeats (compared case-insensitively, the way
    tags are) keep their first spelling.
    """
    seen: set[str] = set()
    names = []
    for part in separators.split(text or ""):
        name = " ".join(part.split())
        if name and name_key(name) not in seen:
            seen.add(name_key(name))
            names.append(name)
    return names


def check_list(names: list[str], what: str, *, max_items: int, max_length: int, field: str | None = None):
    """At most ``max_items`` names of at most ``max_length`` characters each."""
    for name in names:
        if len(name) > max_length:
            shown = name[:40] + "…"
            raise ProfileError(
                f"“{shown}” is too long: keep each of your {what} to {max_length} characters or fewer.",
                field,
            )
    if len(names) > max_items:
        raise ProfileError(
            f"That is {len(names)} {what}: list at most {max_items}, the ones that matter most.", field
        )


def check_text(text: str, label: str, *, max_length: int, field: str | None = None) -> None:
    if len(text) > max_length:
        raise ProfileError(
            f"{label} is {len(text):,} characters long: keep it to {max_length:,} or fewer.", field
        )


def check_job_level(code: str | None, known: Collection[str]) -> None:
    if code is not None and code not in known:
        raise ProfileError("Pick a job level from the list, or leave it empty.", "job_level")


def check_competitors(evaluated: list[str], replaced: list[str]) -> None:
    """A competitor is either evaluated or replaced (one row per competitor), never both."""
    both = {name_key(name) for name in evaluated} & {name_key(name) for name in replaced}
    if both:
        names = ", ".join(f"“{name}”" for name in replaced if name_key(name) in both)
        raise ProfileError(
            f"{names} appears in both lists: keep it under “replaced” if you moved away from it, "
            "or under “evaluated” if you only compared it.",
            "competitors_replaced",
        )


@dataclass(frozen=True)
class ProfileChanges:
    """What the profile form sends, already split into lists (see ``split_list``)."""

    job_title: str = ""
    job_level: str | None = None  # a JobLevel code
    products: list[str] = field(default_factory=list)
    use_cases: list[str] = field(default_factory=list)
    competitors_evaluated: list[str] = field(default_factory=list)
    competitors_replaced: list[str] = field(default_factory=list)
    success_metrics: str = ""
    talking_points: str = ""
    languages: list[str] = field(default_factory=list)
    refused_companies: list[str] = field(default_factory=list)


# Each list input: (what it holds, in words; most items; longest item).
LIST_RULES: dict[str, tuple[str, int, int]] = {
    "products": ("products", TAGS_MAX, TAG_MAX_LENGTH),
    "use_cases": ("use cases", TAGS_MAX, TAG_MAX_LENGTH),
    "competitors_evaluated": ("competitors", TAGS_MAX, TAG_MAX_LENGTH),
    "competitors_replaced": ("competitors", TAGS_MAX, TAG_MAX_LENGTH),
    "languages": ("languages", LANGUAGES_MAX, LANGUAGE_MAX_LENGTH),
    "refused_companies": ("companies", COMPANIES_MAX, COMPANY_MAX_LENGTH),
}
TEXT_RULES: dict[str, tuple[str, int]] = {
    "job_title": ("Your job title", JOB_TITLE_MAX_LENGTH),
    "success_metrics": ("Your success metrics", TEXT_MAX_LENGTH),
    "talking_points": ("Your talking points", TEXT_MAX_LENGTH),
}


def check_profile(changes: ProfileChanges, job_levels: Collection[str]) -> None:
    """Every rule at once: one ``ProfileError`` naming each refused input in ``errors``."""
    errors: dict[str, str] = {}

    def collect(check, *args, **kwargs) -> None:
        try:
            check(*args, **kwargs)
        except ProfileError as refusal:
            errors.setdefault(refusal.field or "", str(refusal))

    for name, (label, max_length) in TEXT_RULES.items():
        collect(check_text, getattr(changes, name), label, max_length=max_length, field=name)
    collect(check_job_level, changes.job_level, job_levels)
    for name, (what, max_items, max_length) in LIST_RULES.items():
        collect(check_list, getattr(changes, name), what, max_items=max_items, max_length=max_length,
                field=name)
    collect(check_competitors, changes.competitors_evaluated, changes.competitors_replaced)
    if errors:
        first_field, first_message = next(iter(errors.items()))
        raise ProfileError(first_message, first_field or None, errors)


# --- the changes -----------------------------------------------------------------------------


def _reload(advocate_id: int, *loads) -> None:
    """Read the locked advocate's collections that ``loads`` names, one query each."""
    db.session.scalars(
        select(Advocate)
        .where(Advocate.id == advocate_id)
        .options(*loads)
        .execution_options(populate_existing=True)
    ).one()


def save_profile(
    advocate_id: int, changes: ProfileChanges, *, now: datetime, actor: Account | None = None
) -> list[str]:
    """Replace the profile with ``changes``; saving counts as a review. → the inputs that changed."""
    with transaction(lock=advocate_id) as advocate:
        _reload(
            advocate_id,
            selectinload(Advocate.products),
            selectinload(Advocate.use_cases),
            selectinload(Advocate.competitors).joinedload(AdvocateCompetitor.competitor),
        )
        job_levels = set(db.session.scalars(select(JobLevel.code)))
        check_profile(changes, job_levels)

        before = _snapshot(advocate)
        advocate.job_title = changes.job_title
        advocate.job_level_code = changes.job_level
        advocate.success_metrics = changes.success_metrics
        advocate.talking_points = changes.talking_points
        advocate.languages = list(changes.languages)
        advocate.refused_companies = list(changes.refused_companies)

        advocate.products = tag_list(Product, changes.products)
        advocate.use_cases = tag_list(UseCase, changes.use_cases)
        _set_competitors(advocate, changes.competitors_evaluated, changes.competitors_replaced)

        advocate.last_reviewed_at = now
        changed = [name for name, value in _snapshot(advocate).items() if before[name] != value]
        add_event(
            "profile.saved", actor=actor, subject=f"advocate:{advocate.id}", changed=changed
        )
    return changed


def _set_competitors(advocate: Advocate, evaluated: list[str], replaced: list[str]) -> None:
    """One row per competitor, updated in place (its key is the advocate and the competitor)."""
    rows = tags(Competitor, [*evaluated, *replaced])
    wanted = {rows[name_key(name)].id: CompetitorRelation.EVALUATED for name in evaluated}
    wanted |= {rows[name_key(name)].id: CompetitorRelation.REPLACED for name in replaced}
    by_id = {row.id: row for row in rows.values()}
    for link in list(advocate.competitors):
        if link.competitor_id not in wanted:
            advocate.competitors.remove(link)
        else:
            link.relation = wanted.pop(link.competitor_id)
    for competitor_id, relation in wanted.items():
        advocate.competitors.append(AdvocateCompetitor(competitor=by_id[competitor_id], relation=relation))


def _snapshot(advocate: Advocate) -> dict[str, object]:
    competitors = {(link.competitor.key if link.competitor else link.competitor_id, link.relation.value)
                   for link in advocate.competitors}
    return {
        "job_title": advocate.job_title,
        "job_level": advocate.job_level_code,
        "products": sorted(p.key for p in advocate.products),
        "use_cases": sorted(u.key for u in advocate.use_cases),
        "competitors": sorted(competitors, key=str),
        "success_metrics": advocate.success_metrics,
        "talking_points": advocate.talking_points,
        "languages": list(advocate.languages or []),
        "refused_companies": list(advocate.refused_companies or []),
    }


def save_join_defaults(advocate_id: int, *, url: str, phone: str, actor: Account | None = None) -> bool:
    """The advocate's default join details: the video link and/or phone number a call uses
    unless the advocate sets other ones for it (``workflows.bookings.join_details``). Checked by
    the rule every join detail follows (``bookings.check_join_details``). A call already booked
    keeps the details its invitation gave. → whether anything changed."""
    url, phone = url.strip(), phone.strip()
    check_join_details(url, phone)
    with transaction(lock=advocate_id) as advocate:
        changed = (advocate.join_url, advocate.join_phone) != (url, phone)
        advocate.join_url, advocate.join_phone = url, phone
        if changed:
            add_event("profile.join_details_saved", actor=actor, subject=f"advocate:{advocate.id}")
    return changed


def mark_reviewed(advocate_id: int, *, now: datetime, actor: Account | None = None) -> None:
    """The advocate looked at their profile and it is still right."""
    with transaction(lock=advocate_id) as advocate:
        advocate.last_reviewed_at = now
        add_event("profile.reviewed", actor=actor, subject=f"advocate:{advocate.id}")


@dataclass(frozen=True)
class TopicsSaved:
    glad: int
    avoid: int
    formats: list[str]  # names, in catalogue order


def parse_stances(
    posted: Mapping[str, str], topic_ids: Collection[int]
) -> dict[int, TopicStance | None]:
    """``{"12": "avoid"}`` → ``{12: TopicStance.AVOID}``; refuses ids and stances it does not know."""
    stances: dict[int, TopicStance | None] = {}
    for raw_id, raw_stance in posted.items():
        topic_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 12 else None
        if topic_id is None or topic_id not in topic_ids:
            raise UnknownChoice(
                f"The form named a topic that is not in the catalogue (“{raw_id[:20]}”). "
                "Reload the page and choose again."
            )
        if raw_stance not in STANCES:
            raise UnknownChoice(
                f"“{raw_stance[:40]}” is not a choice for a topic: pick glad to talk about, "
                "neutral or rather not. Reload the page and choose again."
            )
        stances[topic_id] = STANCES[raw_stance]
    return stances


def check_formats(codes: Collection[str], known: Collection[str]) -> None:
    unknown = sorted(code for code in codes if code not in known)
    if unknown:
        shown = ", ".join(f"“{code[:20]}”" for code in unknown[:3])
        raise UnknownChoice(
            f"The form named a format we do not offer ({shown}). Reload the page and choose again."
        )


def save_topics(
    advocate_id: int,
    stances: Mapping[str, str],
    formats: Collection[str],
    *,
    actor: Account | None = None,
) -> TopicsSaved:
    """Replace the advocate's topic stances and formats; a topic not posted becomes neutral.

    ``stances`` maps topic ids (as posted) to ``glad``, ``avoid`` or ``neutral``; ``formats``
    holds the format codes switched on. Unknown ids, stances or codes → ``UnknownChoice``.
    """
    with transaction(lock=advocate_id) as advocate:
        _reload(advocate_id, selectinload(Advocate.topics), selectinload(Advocate.formats))
        topic_ids = set(db.session.scalars(select(Topic.id)))
        catalogue = list(db.session.scalars(select(Format).order_by(Format.position, Format.code)))
        wanted = {
            topic_id: stance
            for topic_id, stance in parse_stances(stances, topic_ids).items()
            if stance is not None
        }
        check_formats(formats, {f.code for f in catalogue})

        for row in list(advocate.topics):
            if row.topic_id in wanted:
                row.stance = wanted.pop(row.topic_id)
            else:
                advocate.topics.remove(row)
        advocate.topics.extend(
            AdvocateTopic(topic_id=topic_id, stance=stance) for topic_id, stance in wanted.items()
        )
        chosen = [f for f in catalogue if f.code in set(formats)]
        advocate.formats = chosen

        counts = {stance: 0 for stance in TopicStance}
        for row in advocate.topics:
            counts[row.stance] += 1
        add_event(
            "profile.topics_saved",
            actor=actor,
            subject=f"advocate:{advocate.id}",
            glad=counts[TopicStance.GLAD],
            avoid=counts[TopicStance.AVOID],
            formats=[f.code for f in chosen],
        )
        saved = TopicsSaved(counts[TopicStance.GLAD], counts[TopicStance.AVOID], [f.name for f in chosen])
    return saved


# --- the pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfilePage:
    """Everything the profile page shows, read in a fixed number of queries."""

    advocate: Advocate
    job_levels: list[JobLevel]
    reviewed_on: date | None  # in the advocate's zone
    review_due: bool
    review_days: int

    def competitors(self, relation: CompetitorRelation) -> list[str]:
        return sorted(
            (link.competitor.name for link in self.advocate.competitors if link.relation == relation),
            key=str.casefold,
        )


def profile_page(advocate_id: int, *, now: datetime, review_days: int) -> ProfilePage:
    advocate = db.session.scalars(
        select(Advocate)
        .where(Advocate.id == advocate_id)
        .options(
            joinedload(Advocate.account),
            selectinload(Advocate.products),
            selectinload(Advocate.use_cases),
            selectinload(Advocate.competitors).joinedload(AdvocateCompetitor.competitor),
        )
    ).one_or_none()
    if advocate is None:
        raise NotFound(f"advocate {advocate_id}")
    reviewed = advocate.last_reviewed_at
    return ProfilePage(
        advocate=advocate,
        job_levels=list(db.session.scalars(select(JobLevel).order_by(JobLevel.rank))),
        reviewed_on=reviewed.astimezone(zone_or_utc(advocate.account.timezone)).date() if reviewed else None,
        review_due=advocate.review_due(now, review_days),
        review_days=review_days,
    )


@dataclass(frozen=True)
class TopicsPage:
    """The topic catalogue by category, the advocate's stances, the formats and theirs."""

    advocate: Advocate
    categories: list[tuple[str, list[Topic]]]  # categories in catalogue order, topics by name
    stances: dict[int, str]  # topic id → glad / avoid / neutral
    formats: list[Format]
    accepted: set[str]  # format codes

    @property
    def topics(self) -> list[Topic]:
        return [topic for _category, topics in self.categories for topic in topics]


def topics_page(advocate_id: int) -> TopicsPage:
    advocate = db.session.scalars(
        select(Advocate)
        .where(Advocate.id == advocate_id)
        .options(selectinload(Advocate.topics), selectinload(Advocate.formats))
    ).one_or_none()
    if advocate is None:
        raise NotFound(f"advocate {advocate_id}")
    categories: dict[str, list[Topic]] = {}
    for topic in db.session.scalars(select(Topic).order_by(Topic.id)):
        categories.setdefault(topic.category, []).append(topic)
    taken = {row.topic_id: row.stance.value for row in advocate.topics}
    return TopicsPage(
        advocate=advocate,
        categories=[
            (category, sorted(topics, key=lambda t: t.name.casefold()))
            for category, topics in categories.items()
        ],
        stances={
            topic.id: taken.get(topic.id, NEUTRAL) for topics in categories.values() for topic in topics
        },
        formats=list(db.session.scalars(select(Format).order_by(Format.position, Format.code))),
        accepted={f.code for f in advocate.formats},
    )
