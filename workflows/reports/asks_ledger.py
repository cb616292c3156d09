"""The asks ledger: every ask of a customer in the date range in one list, across the sales
teams that asked, so that fatigue is visible: a company asked six times in a month by three
teams shows as one block of six.

Each line: when the ask was made, the customer (advocate and company), the request (its
number, prospect and who in sales asked for it), the status and when it was answered. Lines
are grouped by customer company, the most asked company first (a window count over the
filtered asks), newest first within a company, ``PAGE_SIZE`` a page. Beside the chart, the
asks per company (the ``COMPANIES_SHOWN`` most asked). The CSV has every line of the filtered
ledger, in one query.

Queries: one for the companies (with the totals), one for the page of lines.
"""

from __future__ import annotations

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import aliased

from models import Account, Advocate, Ask, AskStatus, Company, ReferenceRequest, db
from workflows.reports import Bar, Chart, Column, Paging, Report, ReportFilters, Table, register
from workflows.text import counted

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
    Column("advocates", "Advocates", numeric=True),
    Column("requesters", "Sales people", numeric=True),
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


def _from_asks(query, filters: ReportFilters, *, company: bool = True):
    """``query`` over the filtered asks and their advocates (and companies: needed by the
    industry and region filters, or when ``company``)."""
    query = query.select_from(Ask).join(Advocate, Advocate.id == Ask.advocate_id)
    if company or filters.industry_id is not None or filters.region_id is not None:
        query = query.outerjoin(Company, Company.id == Advocate.company_id)
    return query.where(*_conditions(filters))


def _company_key(company_id):
    """A company's id, 0 for the advocates of no company: the key the asks are grouped by (an
    equality a hash join can use, where NULLs would not meet)."""
    return func.coalesce(company_id, 0)


def _advocate_conditions(filters: ReportFilters) -> list:
    """The filters other than the range: of the advocate (tier) and their company."""
    return _conditions(filters)[2:]


def _with_company(query, filters: ReportFilters):
    if filters.industry_id is not None or filters.region_id is not None:
        query = query.outerjoin(Company, Company.id == Advocate.company_id)
    return query


def _per_company(filters: ReportFilters):
    """(company_key, asks): the filtered asks counted per customer company. Counted per
    advocate first (one pass over the asks in the range), then summed over the advocates: far
    cheaper than grouping every ask by its advocate's company, on SQLite above all."""
    per_advocate = (
        select(Ask.advocate_id, func.count(Ask.id).label("asks"))
        .where(*_conditions(filters)[:2])
        .group_by(Ask.advocate_id)
        .subquery("per_advocate")
    )
    key = _company_key(Advocate.company_id)
    query = select(key.label("company_key"), func.sum(per_advocate.c.asks).label("asks")) \
        .select_from(per_advocate).join(Advocate, Advocate.id == per_advocate.c.advocate_id)
    return (
        _with_company(query, filters)
        .where(*_advocate_conditions(filters))
        .group_by(key)
        .subquery("per_company")
    )


def _company_order(asks, key, name_key) -> tuple:
    """The most asked first, then by name (``Company.name_key``: case and spaces aside), the
    asks of no company last."""
    return (asks.desc(), case((key == 0, 1), else_=0), name_key, key)


def companies(filters: ReportFilters, limit: int | None = COMPANIES_SHOWN) -> tuple[list[tuple], int, int]:
    """The companies asked, the most asked first: rows (name, asks, advocates, people in sales,
    accepted, declined, expired, pending), then the number of companies and of asks in all
    (one query: the distinct counts are taken over the asks of the listed companies only)."""
    per_company = _per_company(filters)
    top = (
        select(per_company.c.company_key, per_company.c.asks, Company.name.label("name"),
               Company.name_key.label("name_key"),
               func.count().over().label("companies"), func.sum(per_company.c.asks).over().label("all_asks"))
        .select_from(per_company)
        .outerjoin(Company, Company.id == per_company.c.company_key)
        .order_by(*_company_order(per_company.c.asks, per_company.c.company_key, Company.name_key))
    )
    if limit is not None:
        top = top.limit(limit)
    top = top.subquery("top_companies")
    key = _company_key(Advocate.company_id)
    stats = (
        _from_asks(
            select(
                key.label("company_key"),
                func.count(distinct(Ask.advocate_id)).label("advocates"),
                func.count(distinct(ReferenceRequest.requested_by_id)).label("requesters"),
                _count(AskStatus.ACCEPTED).label("accepted"), _count(AskStatus.DECLINED).label("declined"),
                _count(AskStatus.EXPIRED).label("expired"), _count(AskStatus.PENDING).label("pending"),
            ),
            filters,
            company=False,
        )
        .join(ReferenceRequest, ReferenceRequest.id == Ask.request_id)
        .where(key.in_(select(top.c.company_key)))
        .group_by(key)
        .subquery("company_stats")
    )
    query = (
        select(top.c.name, top.c.asks, stats.c.advocates, stats.c.requesters, stats.c.accepted,
               stats.c.declined, stats.c.expired, stats.c.pending, top.c.companies, top.c.all_asks)
        .select_from(top)
        .join(stats, stats.c.company_key == top.c.company_key)
        .order_by(*_company_order(top.c.asks, top.c.company_key, top.c.name_key))
    )
    found = db.session.execute(query).all()
    if not found:
        return [], 0, 0
    rows = [(name or NO_COMPANY, *(int(n) for n in numbers)) for name, *numbers, _c, _a in found]
    return rows, int(found[0][-2]), int(found[0][-1])


def ledger(filters: ReportFilters, limit: int | None = None, offset: int = 0) -> list[tuple]:
    """The lines of the ledger in ``LEDGER_COLUMNS`` order (one query): the page's asks are
    picked and ordered over the asks, their companies and the per-company counts alone; names,
    requests and people in sales are joined to that page only."""
    per_company = _per_company(filters)
    key = _company_key(Advocate.company_id)
    page = (
        _from_asks(select(Ask.id.label("ask_id"), Ask.created_at, key.label("company_key"),
                          Company.name.label("company"), Company.name_key.label("name_key"),
                          per_company.c.asks.label("company_asks")), filters)
        .join(per_company, per_company.c.company_key == key)
        .order_by(*_company_order(per_company.c.asks, key, Company.name_key),
                  Ask.created_at.desc(), Ask.id.desc())
        .offset(offset)
    )
    if limit is not None:
        page = page.limit(limit)
    page = page.subquery("ledger_page")
    seller = aliased(Account)
    customer = aliased(Account)
    query = (
        select(page.c.created_at, page.c.company, page.c.company_asks, customer.name, ReferenceRequest.id,
               ReferenceRequest.prospect_company, seller.name, Ask.status, Ask.responded_at)
        .select_from(page)
        .join(Ask, Ask.id == page.c.ask_id)
        .join(Advocate, Advocate.id == Ask.advocate_id)
        .join(customer, customer.id == Advocate.account_id)
        .join(ReferenceRequest, ReferenceRequest.id == Ask.request_id)
        .outerjoin(seller, seller.id == ReferenceRequest.requested_by_id)
        .order_by(*_company_order(page.c.company_asks, page.c.company_key, page.c.name_key),
                  page.c.created_at.desc(), page.c.ask_id.desc())
    )
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
    per_company, company_count, total = companies(filters)
    paging = Paging(page, PAGE_SIZE, total)
    lines = ledger(filters, PAGE_SIZE, paging.offset) if total else []
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
            "Requested by is the person in sales whose request it was; Sales people counts them per "
            "company: several of them asking the same company is the fatigue to look for.",
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
