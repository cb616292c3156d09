"""The asks ledger: every ask of a customer in the date range in one list, across the sales
teams that asked, so that fatigue is visible: a company asked six times in a month by three
teams shows as one block of six.

Each line: when the ask was made, the customer (advocate and company), the request (its
number, prospect and who in sales asked for it), the status and when it was answered. Lines
are grouped by customer company, the most asked company first (a window count over the
filtered asks), newest first within a company, ``PAGE_SIZE`` a page. Beside the chart, the
asks per company (the ``COMPANIES_SHOWN`` most asked). The CSV has every line of the filtered
ledger, in one query.

Queries: one for the totals, one for the companies, one for the page of lines.
"""

from __future__ import annotations

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import aliased

from models import Account, Advocate, Ask, AskStatus, Company, ReferenceRequest, db
from workflows.reports import Bar, Chart, Column, Paging, Report, ReportFilters, Table, counted, register

PAGE_SIZE = 50
COMPANIES_SHOWN = 100
CHART_BARS = 12
NO_COMPANY = "No company recorded"

STATUS_WORDS = {
    AskStatus.PENDING: "waiting for an answer",
    AskStatus.ACCEPTED: "accepted",
    AskStatus.DECLINED: "declined",
    AskStatus.EXPIRED: "expired unanswered",
    AskStatus.WITHDRAWN: "withdrawn",
}

LEDGER_COLUMNS = (
    Column("asked_at", "Asked"),
    Column("company", "Customer company"),
    Column("company_asks", "Company's asks in range", numeric=True),
    Column("advocate", "Advocate"),
    Column("request", "Request", numeric=True),
    Column("prospect", "Prospect"),
    Column("requested_by", "Requested by"),
    Column("status", "Status"),
    Column("answered_at", "Answered"),
)
COMPANY_COLUMNS = (
    Column("company", "Customer company"),
    Column("asks", "Asks", numeric=True),
    Column("advocates", "Advocates asked", numeric=True),
    Column("requesters", "Asked by (people in sales)", numeric=True),
    Column("accepted", "Accepted", numeric=True),
    Column("declined", "Declined", numeric=True),
    Column("expired", "Expired", numeric=True),
    Column("pending", "Waiting", numeric=True),
)


def _count(status: AskStatus):
    return func.coalesce(func.sum(case((Ask.status == status, 1), else_=0)), 0)


def _conditions(filters: ReportFilters) -> list:
    found = [Ask.created_at >= filters.start, Ask.created_at < filters.end]
    if filters.industry_id is not None:
        found.append(Company.industry_id == filters.industry_id)
    if filters.region_id is not None:
        found.append(Company.region_id == filters.region_id)
    if filters.tier_id is not None:
        found.append(Advocate.tier_id == filters.tier_id)
    return found


def _from_asks(query, filters: ReportFilters):
    return (
        query.select_from(Ask)
        .join(Advocate, Advocate.id == Ask.advocate_id)
        .outerjoin(Company, Company.id == Advocate.company_id)
        .where(*_conditions(filters))
    )


def _by_company() -> tuple:
    """Companies by name, case aside, the asks of no company last (on every database)."""
    return (case((Company.id.is_(None), 1), else_=0), func.lower(Company.name), Company.id)


def totals(filters: ReportFilters) -> tuple[int, int]:
    """(asks, customer companies asked) in the filtered range; asks of advocates without a
    company count as one more "company"."""
    company_key = func.coalesce(Company.id, 0)
    asks, companies = db.session.execute(
        _from_asks(select(func.count(Ask.id), func.count(distinct(company_key))), filters)
    ).one()
    return int(asks), int(companies)


def companies(filters: ReportFilters, limit: int | None = COMPANIES_SHOWN) -> list[tuple]:
    """Per customer company, the most asked first: (name, asks, advocates, requesters,
    accepted, declined, expired, pending)."""
    asks = func.count(Ask.id)
    query = (
        _from_asks(
            select(
                Company.name, asks, func.count(distinct(Ask.advocate_id)),
                func.count(distinct(ReferenceRequest.requested_by_id)),
                _count(AskStatus.ACCEPTED), _count(AskStatus.DECLINED), _count(AskStatus.EXPIRED),
                _count(AskStatus.PENDING),
            ),
            filters,
        )
        .join(ReferenceRequest, ReferenceRequest.id == Ask.request_id)
        .group_by(Company.id, Company.name)
        .order_by(asks.desc(), *_by_company())
    )
    if limit is not None:
        query = query.limit(limit)
    return [(name or NO_COMPANY, *(int(n) for n in numbers)) for name, *numbers in db.session.execute(query)]


def ledger(filters: ReportFilters, limit: int | None = None, offset: int = 0) -> list[tuple]:
    """The lines of the ledger in ``LEDGER_COLUMNS`` order (one query)."""
    seller = aliased(Account)
    customer = aliased(Account)
    company_asks = func.count(Ask.id).over(partition_by=Advocate.company_id)
    query = (
        _from_asks(
            select(
                Ask.created_at, Company.name, company_asks.label("company_asks"), customer.name,
                ReferenceRequest.id, ReferenceRequest.prospect_company, seller.name, Ask.status,
                Ask.responded_at,
            ),
            filters,
        )
        .join(customer, customer.id == Advocate.account_id)
        .join(ReferenceRequest, ReferenceRequest.id == Ask.request_id)
        .outerjoin(seller, seller.id == ReferenceRequest.requested_by_id)
        .order_by(company_asks.desc(), *_by_company(), Ask.created_at.desc(), Ask.id.desc())
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        (asked_at, company or NO_COMPANY, int(count), advocate, f"#{request_id}", prospect, seller_name,
         STATUS_WORDS[AskStatus(status)], answered_at)
        for asked_at, company, count, advocate, request_id, prospect, seller_name, status, answered_at
        in db.session.execute(query)
    ]


def _range(filters: ReportFilters) -> str:
    return f"from {filters.date_from:%d %b %Y} to {filters.date_to:%d %b %Y}"


@register(
    "asks-ledger",
    "Asks ledger",
    "Every ask of a customer in one list, by customer company, across the sales teams that asked: "
    "where the same customers are asked again and again.",
    order=60,
)
def build(filters: ReportFilters, page: int = 1) -> Report:
    total, company_count = totals(filters)
    paging = Paging(page, PAGE_SIZE, total)
    per_company = companies(filters)
    lines = ledger(filters, PAGE_SIZE, paging.offset)
    top = per_company[:CHART_BARS]
    asked = counted(company_count, "customer company", "customer companies")
    headline = f"{counted(total, 'ask')} of {asked} {_range(filters)}."
    summary = headline
    if top:
        summary += " Most asked: " + "; ".join(
            f"{name}, {counted(asks, 'ask')} by {counted(requesters, 'person', 'people')} in sales"
            for name, asks, _advocates, requesters, *_rest in top[:5]) + "."
    chart = Chart(
        title=f"Asks per customer company {_range(filters)}, the {len(top)} most asked",
        summary=summary,
        bars=[Bar(label=name, value=asks,
                  note=f"{counted(asks, 'ask')} · {counted(advocates, 'advocate')}")
              for name, asks, advocates, *_rest in top],
        unit="asks",
    )
    company_table = Table(
        title=f"Asks per customer company {_range(filters)}",
        columns=COMPANY_COLUMNS,
        rows=per_company,
        note=(f"The {COMPANIES_SHOWN} most asked of {company_count} companies; the CSV below has every ask."
              if company_count > COMPANIES_SHOWN else "Most asked first."),
        empty="No customer was asked in this range.",
        total_rows=company_count,
    )
    shown = (f"asks {paging.offset + 1}–{paging.offset + len(lines)} of {total}" if lines
             else f"0 of {counted(total, 'ask')}")
    ledger_table = Table(
        title=f"Every ask {_range(filters)}",
        columns=LEDGER_COLUMNS,
        rows=lines,
        note=f"By customer company, the most asked first, newest first within each; {shown}.",
        empty="No customer was asked in this range." if not total else "No asks on this page.",
        total_rows=total,
        row_header=None,
    )
    return Report(
        title="Asks ledger",
        intro=f"{headline} Asks of advocates whose company is not recorded are listed as “{NO_COMPANY}”.",
        notes=(
            "An ask is one advocate asked for one request. Asked is when the ask was sent; answered is "
            "when the advocate accepted or declined it (an expired or withdrawn ask has no answer).",
            "Requested by is the person in sales whose request it was: several of them asking the same "
            "company is the fatigue to look for.",
            "Industry and region are those of the customer's company; tier is the advocate's.",
        ),
        table=company_table,
        chart=chart,
        more_tables=(ledger_table,),
        paging=paging,
    )


build.csv_label = "Download every ask in the range (CSV)"


@build.exporter
def export(filters: ReportFilters) -> Table:
    """Every ask of the filtered ledger, in the page's order (one query)."""
    return Table(title=f"Asks ledger {_range(filters)}", columns=LEDGER_COLUMNS, rows=ledger(filters))
