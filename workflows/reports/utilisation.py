"""Utilisation and burnout risk: each advocate's calls this quarter against their limit, and how
often they were asked in the date range, with the share they declined or let expire.

One aggregate query over asks (grouped by advocate, in the range) and one over this quarter's
counted engagements (``quarter_use_subquery``, the rule of ``workflows.quota``), joined to the
advocates; the page shows the most asked first, ``PAGE_SIZE`` at a time, and the chart the
top ``CHART_BARS``. Listed: every advocate asked in the range or with a call counted this
quarter (the others have nothing to show).

Burnout risk, as the page states it: at or over their limit this quarter (with a limit above
0), or asked ``RISK_ASKS`` times or more in the range and declining or letting expire at least
``RISK_SHARE`` of those asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import and_, case, func, or_, select

from models import Account, Advocate, Ask, AskStatus, Company, Tier, db
from workflows import quota
from workflows.quota import quarter_use_subquery, quota_limit
from workflows.reports import (
    Bar,
    Chart,
    Column,
    Paging,
    Report,
    ReportFilters,
    Table,
    register,
)
from workflows.text import counted

PAGE_SIZE = 50
CHART_BARS = 12
RISK_ASKS = 3
RISK_SHARE = Fraction(1, 2)  # declined or expired, of the asks in the range

# The page's table, narrow enough to stand beside the chart; the CSV has every number apart.
PAGE_COLUMNS = (
    Column("advocate", "Advocate"),
    Column("calls", "Calls this quarter", numeric=True),
    Column("asks", "Asks in range", numeric=True),
    Column("declined_pct", "Declined %", numeric=True),
    Column("expired_pct", "Expired %", numeric=True),
    Column("risk", "Burnout risk"),
)
COLUMNS = (
    Column("advocate", "Advocate"),
    Column("company", "Company"),
    Column("tier", "Tier"),
    Column("calls", "Calls this quarter", numeric=True),
    Column("limit", "Limit", numeric=True),
    Column("asks", "Asks in range", numeric=True),
    Column("accepted", "Accepted", numeric=True),
    Column("declined", "Declined", numeric=True),
    Column("expired", "Expired", numeric=True),
    Column("declined_pct", "Declined %", numeric=True),
    Column("expired_pct", "Expired %", numeric=True),
    Column("risk", "Burnout risk"),
)


@dataclass(frozen=True)
class UseRow:
    advocate_id: int
    name: str
    company: str | None
    tier: str | None
    calls: int
    limit: int
    asks: int
    accepted: int
    declined: int
    expired: int

    @property
    def declined_share(self) -> float:
        return self.declined / self.asks if self.asks else 0.0

    @property
    def expired_share(self) -> float:
        return self.expired / self.asks if self.asks else 0.0

    @property
    def at_limit(self) -> bool:
        return self.limit > 0 and self.calls >= self.limit

    @property
    def worn(self) -> bool:
        """Asked often and mostly not answering yes."""
        unanswered = self.declined + self.expired
        return (self.asks >= RISK_ASKS
                and unanswered * RISK_SHARE.denominator >= self.asks * RISK_SHARE.numerator)

    @property
    def risk(self) -> str:
        reasons = []
        if self.at_limit:
            reasons.append("at the limit" if self.calls == self.limit else "over the limit")
        if self.worn:
            share = (self.declined + self.expired) / self.asks
            reasons.append(f"asked {self.asks}×, {share:.0%} declined or expired")
        return "; ".join(reasons)


def _count(status: AskStatus):
    return func.coalesce(func.sum(case((Ask.status == status, 1), else_=0)), 0)


def _base(filters: ReportFilters, quarter: str):
    """The listed advocates with their numbers, as columns of one select (not yet ordered)."""
    asked = (
        select(
            Ask.advocate_id,
            func.count(Ask.id).label("asks"),
            _count(AskStatus.ACCEPTED).label("accepted"),
            _count(AskStatus.DECLINED).label("declined"),
            _count(AskStatus.EXPIRED).label("expired"),
        )
        .where(Ask.created_at >= filters.start, Ask.created_at < filters.end)
        .group_by(Ask.advocate_id)
        .subquery("asked")
    )
    used = quarter_use_subquery(quarter)
    calls = func.coalesce(used.c.used, 0)
    asks = func.coalesce(asked.c.asks, 0)
    declined = func.coalesce(asked.c.declined, 0)
    expired = func.coalesce(asked.c.expired, 0)
    limit = quota_limit()
    # ``UseRow.risk`` in SQL, in whole numbers (declined + expired ≥ share × asks).
    at_risk = or_(
        and_(limit > 0, calls >= limit),
        and_(asks >= RISK_ASKS,
             (declined + expired) * RISK_SHARE.denominator >= asks * RISK_SHARE.numerator),
    )
    columns = dict(
        advocate_id=Advocate.id, name=Account.name, company=Company.name, tier=Tier.name,
        calls=calls, limit=limit, asks=asks, accepted=func.coalesce(asked.c.accepted, 0),
        declined=declined, expired=expired,
    )
    conditions = [or_(asked.c.asks.is_not(None), used.c.used.is_not(None))]
    if filters.industry_id is not None:
        conditions.append(Company.industry_id == filters.industry_id)
    if filters.region_id is not None:
        conditions.append(Company.region_id == filters.region_id)
    if filters.tier_id is not None:
        conditions.append(Advocate.tier_id == filters.tier_id)

    def joined(query):
        return (
            query.select_from(Advocate)
            .join(Account, Account.id == Advocate.account_id)
            .outerjoin(Company, Company.id == Advocate.company_id)
            .outerjoin(Tier, Tier.id == Advocate.tier_id)
            .outerjoin(asked, asked.c.advocate_id == Advocate.id)
            .outerjoin(used, used.c.advocate_id == Advocate.id)
            .where(*conditions)
        )

    order = (asks.desc(), calls.desc(), func.lower(Account.name), Advocate.id)
    return joined, columns, order, at_risk


def listing(filters: ReportFilters, quarter: str, limit: int | None = None,
            offset: int = 0) -> tuple[list[UseRow], int, int]:
    """The most asked first, and the advocates listed and at burnout risk in all pages (window
    counts over the whole list, in the same query; 0 and 0 when the page is empty)."""
    joined, columns, order, at_risk = _base(filters, quarter)
    query = (
        joined(select(*(c.label(k) for k, c in columns.items()),
                      func.count().over().label("listed"),
                      func.sum(case((at_risk, 1), else_=0)).over().label("at_risk")))
        .order_by(*order)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    found = db.session.execute(query).all()
    rows = [UseRow(**{k: row._mapping[k] for k in columns}) for row in found]
    return rows, (int(found[0].listed) if found else 0), (int(found[0].at_risk) if found else 0)


def rows(filters: ReportFilters, quarter: str, limit: int | None = None, offset: int = 0) -> list[UseRow]:
    """The most asked first (one query)."""
    return listing(filters, quarter, limit, offset)[0]


def totals(filters: ReportFilters, quarter: str) -> tuple[int, int]:
    """(advocates listed, of them at burnout risk), one query."""
    joined, _columns, _order, at_risk = _base(filters, quarter)
    found = db.session.execute(
        joined(select(func.count(Advocate.id), func.coalesce(func.sum(case((at_risk, 1), else_=0)), 0)))
    ).one()
    return int(found[0]), int(found[1])


def page_table_of(found: list[UseRow], title: str, **extra) -> Table:
    """The page's narrower table: the advocate with their company, calls as "used of limit"."""
    return Table(
        title=title,
        columns=PAGE_COLUMNS,
        rows=[(f"{r.name} · {r.company}" if r.company else r.name, f"{r.calls} of {r.limit}", r.asks,
               _percent(r.declined_share), _percent(r.expired_share), r.risk or "no") for r in found],
        row_flags={i: "burnout risk" for i, r in enumerate(found) if r.risk},
        empty="Nobody was asked in this range, and no call is counted this quarter.",
        **extra,
    )


def _percent(share: float) -> float:
    return round(share * 100, 1)


def table_of(found: list[UseRow], title: str, **extra) -> Table:
    """Every number in its own column (the CSV)."""
    return Table(
        title=title,
        columns=COLUMNS,
        rows=[(r.name, r.company, r.tier, r.calls, r.limit, r.asks, r.accepted, r.declined, r.expired,
               _percent(r.declined_share), _percent(r.expired_share), r.risk or "no") for r in found],
        row_flags={i: "burnout risk" for i, r in enumerate(found) if r.risk},
        empty="Nobody was asked in this range, and no call is counted this quarter.",
        **extra,
    )


@register(
    "utilisation",
    "Utilisation and burnout risk",
    "Calls per advocate this quarter against their limit, who is asked most, and how often they "
    "decline or let an ask expire.",
    order=20,
)
def build(filters: ReportFilters, page: int = 1) -> Report:
    quarter = quota.current_quarter()
    label = quota.QuarterUse(quarter, 0, 0).label
    # The first page, or the chart's top when another page is asked for: with the totals.
    first, total, at_risk = listing(filters, quarter, PAGE_SIZE if page == 1 else CHART_BARS)
    paging = Paging(page, PAGE_SIZE, total)
    found = first if page == 1 else rows(filters, quarter, PAGE_SIZE, paging.offset)
    top = first[:CHART_BARS]
    shown = f"{paging.offset + 1}–{paging.offset + len(found)} of {total}" if found else f"0 of {total}"
    table = page_table_of(
        found,
        f"Advocates asked from {filters.date_from:%d %b %Y} to {filters.date_to:%d %b %Y}, "
        f"or with calls in {label}",
        note=f"Most asked first; {shown}." if total > PAGE_SIZE else "Most asked first.",
        total_rows=total,
    )
    bars = [
        Bar(
            label=f"{r.name}" + (f" · {r.company}" if r.company else ""),
            value=r.calls,
            limit=r.limit,
            note=f"{r.calls} of {r.limit} calls · asked {r.asks}×",
            flagged=bool(r.risk),
        )
        for r in top
    ]
    summary = f"{counted(total, 'advocate')} listed, {at_risk} at burnout risk. "
    if top:
        summary += "Most asked: " + "; ".join(
            f"{r.name}, asked {r.asks} times, {r.calls} of {r.limit} calls"
            + (" (burnout risk)" if r.risk else "") for r in top[:5]) + "."
    chart = Chart(
        title=f"Calls in {label} against each advocate's limit, the {len(top)} most asked",
        summary=summary.strip(),
        bars=bars,
        unit="calls",
        flag_word="burnout risk",
    )
    return Report(
        title="Utilisation and burnout risk",
        intro=f"{at_risk} of {counted(total, 'advocate')} at burnout risk. Calls are counted "
              f"for {label}; asks from {filters.date_from:%d %b %Y} to {filters.date_to:%d %b %Y}.",
        notes=(
            "Calls this quarter: engagements awaiting booking, booked or completed in the current quarter "
            "(a cancelled one gives its place back). The limit is the lower of the tier's quota and the "
            "advocate's personal cap.",
            f"Burnout risk: at or over the limit this quarter, or asked {RISK_ASKS} times or more in the "
            f"date range and declining or letting expire at least {float(RISK_SHARE):.0%} of those asks.",
            "Declined % and Expired % are shares of all the asks made in the date range, pending ones "
            "included.",
        ),
        table=table,
        chart=chart,
        paging=paging,
    )


@build.exporter
def export(filters: ReportFilters) -> Table:
    """Every listed advocate, not one page (one query)."""
    quarter = quota.current_quarter()
    label = quota.QuarterUse(quarter, 0, 0).label
    return table_of(rows(filters, quarter), f"Utilisation: calls in {label}, asks "
                    f"{filters.date_from.isoformat()} to {filters.date_to.isoformat()}")
