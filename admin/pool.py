"""The advocate pool in the admin area: a browser with search, and one advocate's page.

The browser searches by industry, a topic the advocate is glad to talk about, format, tier,
status, "available now" and name or company text (GET, so a search has its own address). Each
row shows this quarter's use against the advocate's limit (DESIGN.md §5 "Quota": engagements
awaiting booking, booked or completed in the quarter), counted for the page's fifty advocates
only, so the page issues the same queries whatever the size of the pool, and reads whole only
the sort by name (and, with filters, the count).

"Available now" is what the matching engine's first rules ask of anyone it may rank: active,
consented, not snoozed, and a call left this quarter.

Staff only (the blueprint's default): choosing advocates is the coordinator's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from flask import abort, get_template_attribute, render_template, request
from markupsafe import Markup
from sqlalchemy import Integer, bindparam, exists, func, or_, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import BooleanField, Form, SearchField, SelectChoice, SelectField
from wtforms.validators import Length

from admin import advocate_management as actions
from admin import bp
from admin.requests import select_choices
from models import (
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateStatus,
    AdvocateTopic,
    Company,
    Industry,
    Tier,
    TopicStance,
    db,
)
from models.advocates import WEEKDAYS, advocate_formats, quarterly_limit
from models.types import ID_MAX, utcnow
from pages import ADVOCATE_STATUS_WORDS, date_and_time, drawn, drawn_for, id_path, int_arg, viewer_zone
from workflows import advocate_management as management
from workflows import points, quota
from workflows.catalogue_choices import Choice, catalogue_choices
from workflows.request_view import decline_reason_text

PAGE_SIZE = 50
PAGES_MAX = ID_MAX // PAGE_SIZE  # so that the OFFSET stays an integer the database takes
PICK = "Pick one from the list."
FILTERS = ("q", "industry", "topic", "format", "tier", "status", "available")


# --- the browser -----------------------------------------------------------------------------


class PoolFilters(Form):
    """The search form: a GET form, its choices from the catalogues (by id or code)."""

    q = SearchField("Name or company", validators=[Length(max=100, message="Keep it under 100 characters.")])
    industry = SelectField("Industry", choices=[], default="", invalid_choice_message=PICK)
    topic = SelectField("Glad to talk about", choices=[], default="", invalid_choice_message=PICK)
    format = SelectField("Format", choices=[], default="", invalid_choice_message=PICK)
    tier = SelectField("Tier", choices=[], default="", invalid_choice_message=PICK)
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(s.value, words) for s, words in ADVOCATE_STATUS_WORDS.items()],
        default="",
        invalid_choice_message=PICK,
    )
    available = BooleanField("Available now (active, consented, not snoozed, a call left this quarter)")


FILTER_CATALOGUES = ("industry", "topic", "format", "tier")


def pool_filters(options: dict[str, list[Choice]]) -> PoolFilters:
    """The form, its choices from ``options`` (``catalogue_choices(*FILTER_CATALOGUES)``)."""
    form = PoolFilters(request.args)
    form.industry.choices = select_choices("Any industry", options["industry"])
    form.topic.choices = select_choices("Any topic", options["topic"])
    form.format.choices = select_choices("Any format", options["format"])
    form.tier.choices = select_choices("Any tier", options["tier"])
    return form


@dataclass(frozen=True)
class PoolRow:
    """What a row of the pool shows of an advocate: read as plain columns, no ORM objects."""

    id: int
    name: str
    company: str | None
    industry: str | None
    tier: str | None
    status: AdvocateStatus
    snoozed_until: date | None
    use: quota.QuarterUse


def search(form: PoolFilters, quarter: str, today: date, page: int) -> tuple[list[PoolRow], int]:
    """The advocates the filters pick, by name, one page of them, in two queries whatever the
    size of the pool: the page's rows with what they show and their quarter's use (the pool
    walked in ``ix_accounts_name_order``'s order until the page is full, an index lookup per row
    for the rest), and the total (joined only to what the filters read)."""
    wanted = (form.q.data or "").strip().casefold()
    values = {
        "quarter": quarter,
        "today": today,
        "pattern": "%" + wanted.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%",
        "industry_id": int(form.industry.data) if form.industry.data else None,
        "topic_id": int(form.topic.data) if form.topic.data else None,
        "format_code": form.format.data or None,
        "tier_id": int(form.tier.data) if form.tier.data else None,
        "status": AdvocateStatus(form.status.data) if form.status.data else None,
        "limit": PAGE_SIZE,
        "offset": (page - 1) * PAGE_SIZE,
    }
    shown, counted = _search_queries(bool(wanted), *(values[name] is not None for name in (
        "industry_id", "topic_id", "format_code", "tier_id", "status")), bool(form.available.data))
    found = db.session.execute(shown, values).all()
    total = db.session.scalar(counted, values)
    rows = [PoolRow(id_, name, company, industry, tier, status, snoozed_until,
                    quota.QuarterUse(quarter, int(used), quarterly_limit(tier_quota, cap)))
            for id_, name, company, industry, tier, tier_quota, cap, status, snoozed_until, used in found]
    return rows, total


@lru_cache(maxsize=128)
def _search_queries(text: bool, industry: bool, topic: bool, format_: bool, tier: bool, status: bool,
                    available: bool):
    """``search``'s two queries for one shape of filters, built once with bound parameters."""
    used = quota.used_in_quarter(bindparam("quarter"))
    conditions = []
    joins = set()  # of Account, Company, Tier: what the conditions read
    if text:
        pattern = bindparam("pattern")
        conditions.append(or_(func.lower(Account.name).like(pattern, escape="/"),
                              func.lower(Company.name).like(pattern, escape="/")))
        joins |= {Account, Company}
    if industry:
        conditions.append(Company.industry_id == bindparam("industry_id"))
        joins.add(Company)
    if topic:
        conditions.append(exists().where(
            AdvocateTopic.advocate_id == Advocate.id,
            AdvocateTopic.topic_id == bindparam("topic_id"),
            AdvocateTopic.stance == TopicStance.GLAD,
        ))
    if format_:
        conditions.append(exists().where(
            advocate_formats.c.advocate_id == Advocate.id,
            advocate_formats.c.format_code == bindparam("format_code"),
        ))
    if tier:
        conditions.append(Advocate.tier_id == bindparam("tier_id"))
    if status:
        conditions.append(Advocate.status == bindparam("status"))
    if available:
        conditions += [
            Advocate.status == AdvocateStatus.ACTIVE,
            Advocate.consent_at.is_not(None),
            or_(Advocate.snoozed_until.is_(None), Advocate.snoozed_until < bindparam("today")),
            used < quota.quota_limit(),
        ]
        joins.add(Tier)

    def picked(query, *also):
        needed = joins.union(also)
        if Account in needed:
            query = query.join(Account, Account.id == Advocate.account_id)
        if Company in needed:
            query = query.outerjoin(Company, Company.id == Advocate.company_id)
        if Tier in needed:
            query = query.outerjoin(Tier, Tier.id == Advocate.tier_id)
        return query.where(*conditions)

    shown = select(Advocate.id, Account.name, Company.name.label("company"), Industry.name.label("industry"),
                   Tier.name.label("tier"), Tier.quarterly_quota, Advocate.quarterly_cap, Advocate.status,
                   Advocate.snoozed_until, used.label("used"))
    rows = (
        picked(shown, Account, Company, Tier)
        .outerjoin(Industry, Industry.id == Company.industry_id)
        .order_by(func.lower(Account.name), Account.id)  # ix_accounts_name_order's order
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return rows, picked(select(func.count()).select_from(Advocate))


def row_html(row: PoolRow, today: date, advocate_url: str) -> Markup:
    """``_pool_row.html``'s row, drawn once for what it shows (``pages.drawn``)."""
    snoozed = row.snoozed_until is not None and row.snoozed_until >= today
    return drawn("admin/_pool_row.html", "pool_row", row, snoozed, advocate_url)


def filters_html(form: PoolFilters, options: dict[str, list[Choice]]) -> Markup:
    """The search form as it stands: drawn once for each search and catalogues while it holds
    no error (``pages.drawn_for``), drawn each time with its errors."""
    filtered = any(request.args.get(name) for name in FILTERS)
    if form.errors:
        return get_template_attribute("admin/_pool_forms.html", "filters")(form, filtered)
    key = ("filters", tuple(request.args.get(name, "") for name in FILTERS),
           tuple(tuple(options[kind]) for kind in FILTER_CATALOGUES))
    return drawn_for(key, "admin/_pool_forms.html", "filters", form, filtered)


def bulk_html(tiers: list[Choice]) -> Markup:
    """The bulk actions, untouched: the same for everyone while the tiers stay the same."""
    return drawn_for(("bulk", tuple(tiers)), "admin/_pool_forms.html", "bulk_actions",
                     lambda: actions.BulkForm(formdata=None, tiers=tiers))


@bp.get("/advocates")
def pool():
    options = catalogue_choices(*FILTER_CATALOGUES)
    form = pool_filters(options)
    page = int_arg(request.args, "page", 1, high=PAGES_MAX)
    quarter = quota.current_quarter()
    label = quota.QuarterUse(quarter, 0, 0).label
    today = utcnow().date()
    if not form.validate():
        return render_template("admin/pool.html", filters_html=filters_html(form, options), rows=[], total=0,
                               invalid=True, page=1, pages=1, quarter=label, filtered=True, args={},
                               today=today), 400
    rows, total = search(form, quarter, today, page)
    advocate_path = id_path("admin.advocate", "advocate_id")
    return render_template(
        "admin/pool.html", filters_html=filters_html(form, options), rows=rows, total=total, invalid=False,
        page=page, today=today, row_html=lambda row: row_html(row, today, advocate_path(row.id)),
        bulk_html=bulk_html(options["tier"]),
        pages=max(1, -(-total // PAGE_SIZE)), quarter=label,
        filtered=any(request.args.get(name) for name in FILTERS),
        args={name: request.args[name] for name in FILTERS if request.args.get(name)},
    )


# --- one advocate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvocatePage:
    advocate: Advocate
    use: quota.QuarterUse
    balance: int
    glad: list[str]
    avoided: list[str]
    evaluated: list[str]
    replaced: list[str]
    commitments: management.Commitments
    timeline: list[management.Moment]
    actors: dict[int, str]  # the staff named on the timeline's status lines


@bp.get("/advocates/<int:advocate_id>")
def advocate(advocate_id: int):
    return advocate_page(advocate_id)


def advocate_page(advocate_id: int, status: int = 200, *, forms: dict | None = None,
                  open_step: str | None = None):
    """The advocate's page: profile, quota, points, the actions (``forms`` replaces the blank
    form of a step refused, shown open), and the timeline. A fixed number of queries."""
    found = db.session.scalars(
        select(Advocate)
        .where(Advocate.id == advocate_id)
        .options(
            joinedload(Advocate.account),
            joinedload(Advocate.company).options(joinedload(Company.industry), joinedload(Company.region)),
            joinedload(Advocate.tier),
            joinedload(Advocate.job_level),
            selectinload(Advocate.products),
            selectinload(Advocate.use_cases),
            selectinload(Advocate.formats),
            selectinload(Advocate.topics).joinedload(AdvocateTopic.topic),
            selectinload(Advocate.competitors).joinedload(AdvocateCompetitor.competitor),
            selectinload(Advocate.windows),
            selectinload(Advocate.blackouts),
        )
    ).unique().one_or_none()
    if found is None:
        abort(404)
    moments = management.timeline(advocate_id)
    page = AdvocatePage(
        advocate=found,
        use=quota.quarter_use(found),
        balance=points.balance(found.id),
        glad=sorted(t.topic.name for t in found.topics if t.stance is TopicStance.GLAD),
        avoided=sorted(t.topic.name for t in found.topics if t.stance is TopicStance.AVOID),
        evaluated=sorted(c.competitor.name for c in found.competitors if c.relation.value == "evaluated"),
        replaced=sorted(c.competitor.name for c in found.competitors if c.relation.value == "replaced"),
        commitments=management.commitments(advocate_id),
        timeline=moments,
        actors=management.actor_names(moments),
    )
    zone = viewer_zone()
    return render_template(
        "admin/advocate.html",
        page=page,
        a=found,
        forms={**actions.blank_forms(), **(forms or {})},
        open_step=open_step,
        can=lambda wanted: management.why_not(found, AdvocateStatus(wanted)) is None,
        awards=management.AWARDS,
        reason_text=decline_reason_text,
        weekdays=WEEKDAYS,
        today=utcnow().date(),
        zone=zone,
        when=lambda moment: date_and_time(moment.astimezone(zone)) if moment else "",
    ), status
