"""Coverage: where the program can serve a request today, and where it must recruit.

Industry × size band of the advocate's company (``models.catalogues.SIZE_BANDS``, derived from
``Company.employees``), counting the active advocates with a call left this quarter: the quota
rule of ``workflows.quota`` (engagements awaiting booking, booked or completed in the quarter,
against min(tier quota, personal cap)) in one aggregate query. A cell of 0 is a gap.

Every industry of the catalogue has its row (one with nobody is the widest gap); advocates
whose company has no industry or no size are counted in a "Not recorded" row or column, shown
only when there are some. The date range does not apply: quota is this quarter's.
"""

from __future__ import annotations

from sqlalchemy import func, select

from models import Advocate, AdvocateStatus, Company, Industry, Tier, db
from models.catalogues import SIZE_BANDS
from workflows import quota
from workflows.quota import quarter_use_subquery, quota_limit
from workflows.reports import (
    Column,
    Grid,
    Report,
    ReportFilters,
    Table,
    register,
    size_band_case,
)
from workflows.text import counted

NOT_RECORDED = "Not recorded"
# The size bands as the grid's narrow columns write them.
GRID_LABELS = ("1–50", "51–200", "201–1k", "1k–5k", "5k+")


def available_counts(filters: ReportFilters, quarter: str) -> dict[tuple[int | None, int | None], int]:
    """(industry id, size band index) → active advocates with a call left in ``quarter``
    (one query)."""
    used = quarter_use_subquery(quarter)
    band = size_band_case(Company.employees).label("band")
    query = (
        select(Company.industry_id, band, func.count(Advocate.id))
        .select_from(Advocate)
        .outerjoin(Company, Company.id == Advocate.company_id)
        .outerjoin(Tier, Tier.id == Advocate.tier_id)
        .outerjoin(used, used.c.advocate_id == Advocate.id)
        .where(Advocate.status == AdvocateStatus.ACTIVE,
               quota_limit() - func.coalesce(used.c.used, 0) > 0)
        .group_by(Company.industry_id, band)
    )
    if filters.industry_id is not None:
        query = query.where(Company.industry_id == filters.industry_id)
    if filters.region_id is not None:
        query = query.where(Company.region_id == filters.region_id)
    if filters.tier_id is not None:
        query = query.where(Advocate.tier_id == filters.tier_id)
    return {(industry, band): count for industry, band, count in db.session.execute(query)}


@register(
    "coverage",
    "Coverage",
    "Industry × company size: the active advocates with a call left this quarter, and the gaps "
    "where the program needs to recruit.",
    filters=("industry", "region", "tier"),
    order=10,
)
def build(filters: ReportFilters, page: int = 1) -> Report:
    quarter = quota.current_quarter()
    label = quota.QuarterUse(quarter, 0, 0).label
    counts = available_counts(filters, quarter)
    industries = db.session.execute(
        select(Industry.id, Industry.name).order_by(Industry.name)
        .where(*([Industry.id == filters.industry_id] if filters.industry_id is not None else []))
    ).all()
    rows_keys: list[tuple[int | None, str]] = [(i, name) for i, name in industries]
    if any(industry is None for industry, _band in counts):
        rows_keys.append((None, NOT_RECORDED))
    bands: list[tuple[int | None, str]] = [(i, b[0]) for i, b in enumerate(SIZE_BANDS)]
    if any(band is None for _industry, band in counts):
        bands.append((None, NOT_RECORDED))

    columns = [Column("industry", "Industry"),
               *(Column(f"band_{i}", name if i is not None else "Size unknown", numeric=True)
                 for i, name in bands),
               Column("total", "Total", numeric=True)]
    rows: list[tuple] = []
    marks: dict[tuple[int, int], str] = {}
    values: list[list[int]] = []
    gaps_by_industry: list[str] = []
    for r, (industry_id, name) in enumerate(rows_keys):
        cells = [counts.get((industry_id, band), 0) for band, _ in bands]
        values.append(cells)
        missing = []
        for c, count in enumerate(cells):
            # Only the sizes of the catalogue are gaps; "not recorded" is no segment to recruit in.
            if count == 0 and bands[c][0] is not None and industry_id is not None:
                marks[(r, c + 1)] = "gap"
                missing.append(bands[c][1])
        if missing:
            sizes = "all sizes" if len(missing) == len(SIZE_BANDS) else ", ".join(missing)
            gaps_by_industry.append(f"{name} ({sizes})")
        rows.append((name, *cells, sum(cells)))
    totals = [sum(v[c] for v in values) for c in range(len(bands))]
    rows.append(("All industries", *totals, sum(totals)))

    cells = sum(1 for industry_id, _ in rows_keys if industry_id is not None) * len(SIZE_BANDS)
    available = sum(totals)
    summary = (f"{counted(available, 'advocate')} with a call left in {label}; "
               f"{len(marks)} of {cells} industry and size combinations have none.")
    if gaps_by_industry:
        summary += " Gaps: " + "; ".join(gaps_by_industry) + "."
    table = Table(
        title=f"Advocates with a call left in {label}, by industry and company size (employees)",
        columns=columns,
        rows=rows,
        marks=marks,
        empty="There are no industries in the catalogue yet.",
        matrix=True,
    )
    grid = Grid(
        title=f"Coverage in {label}: industry × company size",
        summary=summary,
        row_labels=[name for _, name in rows_keys],
        column_labels=[GRID_LABELS[i] if i is not None else "Unknown" for i, _ in bands],
        values=values,
        gaps=frozenset((r, c - 1) for r, c in marks),
        unit="advocates",
    )
    return Report(
        title="Coverage",
        intro=f"Where a request can be served today: active advocates with at least one call left in "
              f"{label}, by the industry and size of their company.",
        notes=(
            "A call left: fewer calls awaiting booking, booked or completed this quarter than the advocate's "
            "limit (the lower of their tier's quota and their personal cap; no tier, no calls).",
            "A gap is an industry and size with nobody available: where the program needs to recruit.",
            "The date range does not apply: quota is counted for the current quarter.",
        ),
        table=table,
        chart=grid,
    )
