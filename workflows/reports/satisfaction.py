"""Satisfaction: the ratings (1–5) both sides gave after a reference, and whether it helped the
prospect's decision, by advocate and by segment, each average beside the number of answers it
is made of (one answer is an anecdote, not an average).

Definitions, stated on the page too:

- the answers are the feedback given in the date range, with a rating (a side that said the
  call did not take place gave none);
- the segment, and the industry and region filters, are those of the advocate's company; the
  tier is the advocate's;
- "helped the decision" is the share of prospects who said yes among those who said yes or no
  ("not sure" is left out).

Two queries whatever the size: the totals with every segment (industry, size band, region),
and the page of advocates with their count (a third past the last page, to count them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, case, cast, func, literal, select, true, union_all

from models import Account, Advocate, Company, Engagement, Feedback, FeedbackSide, Industry, Region, Tier, db
from models.catalogues import SIZE_BANDS
from models.types import ID_MAX
from workflows.reports import (
    Bar,
    Chart,
    Column,
    Paging,
    Report,
    ReportFilters,
    Table,
    register,
    size_band_case,
)

ADVOCATES_PER_PAGE = 50
DIMENSIONS = (("industry", "Industry"), ("size", "Size"), ("region", "Region"))
NOT_RECORDED = "Not recorded"


@dataclass(frozen=True)
class Ratings:
    """One group's answers: each side's average and how many answers it is made of."""

    prospect_answers: int
    prospect_total: int
    advocate_answers: int
    advocate_total: int
    helped_yes: int
    helped_answers: int

    @property
    def prospect_average(self) -> float | None:
        return round(self.prospect_total / self.prospect_answers, 2) if self.prospect_answers else None

    @property
    def advocate_average(self) -> float | None:
        return round(self.advocate_total / self.advocate_answers, 2) if self.advocate_answers else None

    @property
    def helped_share(self) -> float | None:
        return self.helped_yes / self.helped_answers if self.helped_answers else None


@dataclass(frozen=True)
class SegmentRow:
    dimension: str  # industry, size, region
    segment: str
    ratings: Ratings


@dataclass(frozen=True)
class AdvocateRow:
    advocate_id: int
    name: str
    company: str
    tier: str
    ratings: Ratings


@dataclass(frozen=True)
class Satisfaction:
    overall: Ratings
    segments: list[SegmentRow]
    advocates: list[AdvocateRow]  # one page of them
    advocates_total: int
    page: int

    def by(self, dimension: str) -> list[SegmentRow]:
        return [row for row in self.segments if row.dimension == dimension]

    @property
    def pages(self) -> int:
        return max(1, -(-self.advocates_total // ADVOCATES_PER_PAGE))


def segment_name(dimension: str, value: str | None) -> str:
    """A segment's name: the industry or region, the size band's label (the query gives its
    index in ``SIZE_BANDS``, as text)."""
    if value is None:
        return NOT_RECORDED
    return f"{SIZE_BANDS[int(value)][0]} employees" if dimension == "size" else value


_DIMENSION_ORDER = {name: position for position, (name, _label) in enumerate(DIMENSIONS)}
_BAND_ORDER = {f"{label} employees": position for position, (label, _low, _high) in enumerate(SIZE_BANDS)}


def segment_order(row) -> tuple:
    """Industries and regions by name, sizes smallest first, "Not recorded" last of each."""
    return (_DIMENSION_ORDER[row.dimension], row.segment == NOT_RECORDED, _BAND_ORDER.get(row.segment, 0),
            row.segment)


def _measures(answers):
    """The aggregates every group is measured by, over the ``answers`` CTE, in ``Ratings``' field
    order."""
    prospect = answers.c.side == FeedbackSide.PROSPECT
    advocate = answers.c.side == FeedbackSide.ADVOCATE
    rating = answers.c.rating

    def when(condition, value):
        return case((condition, value), else_=None)

    return (
        func.count(when(prospect, rating)).label("prospect_answers"),
        func.coalesce(func.sum(when(prospect, rating)), 0).label("prospect_total"),
        func.count(when(advocate, rating)).label("advocate_answers"),
        func.coalesce(func.sum(when(advocate, rating)), 0).label("advocate_total"),
        func.count(when(prospect & (answers.c.helped == true()), 1)).label("helped_yes"),
        func.count(when(prospect, answers.c.helped)).label("helped_answers"),
    )


def _ratings(row) -> Ratings:
    return Ratings(*(int(value or 0) for value in row[-6:]))


def _answers(filters: ReportFilters):
    """The rated feedback in range, each answer once with its advocate and their company's
    segment (a CTE: every grouping reads it)."""
    query = (
        select(Feedback.side, Feedback.rating, Feedback.helped_decision.label("helped"),
               Engagement.advocate_id, Company.industry_id, Company.region_id,
               cast(size_band_case(Company.employees), String).label("band"))  # text, like the others
        .select_from(Feedback)
        .join(Engagement, Engagement.id == Feedback.engagement_id)
        .join(Advocate, Advocate.id == Engagement.advocate_id)
        .outerjoin(Company, Company.id == Advocate.company_id)
        .where(Feedback.rating.is_not(None), Feedback.created_at >= filters.start,
               Feedback.created_at < filters.end)
    )
    if filters.industry_id is not None:
        query = query.where(Company.industry_id == filters.industry_id)
    if filters.region_id is not None:
        query = query.where(Company.region_id == filters.region_id)
    if filters.tier_id is not None:
        query = query.where(Advocate.tier_id == filters.tier_id)
    return query.cte("answers")


def satisfaction(filters: ReportFilters, *, page: int = 1,
                 per_page: int = ADVOCATES_PER_PAGE) -> Satisfaction:
    overall, segments = _segments(filters)
    advocates, total = _advocates(filters, page=page, per_page=per_page)
    return Satisfaction(overall=overall, segments=segments, advocates=advocates, advocates_total=total,
                        page=page)


def _segments(filters: ReportFilters) -> tuple[Ratings, list[SegmentRow]]:
    answers = _answers(filters)
    a = answers.c
    grouped = {
        "all": (literal(""), None),
        "industry": (Industry.name, (Industry, Industry.id == a.industry_id)),
        "size": (a.band, None),
        "region": (Region.name, (Region, Region.id == a.region_id)),
    }
    parts = []
    for dimension, (column, join) in grouped.items():
        query = select(literal(dimension).label("dimension"), column.label("segment"), *_measures(answers))
        query = query.select_from(answers)
        if join is not None:
            query = query.outerjoin(*join)
        parts.append(query if dimension == "all" else query.group_by(column))
    overall = Ratings(0, 0, 0, 0, 0, 0)
    rows = []
    for row in db.session.execute(union_all(*parts)):
        if row.dimension == "all":
            overall = _ratings(row)
        else:
            rows.append(SegmentRow(row.dimension, segment_name(row.dimension, row.segment), _ratings(row)))
    rows.sort(key=segment_order)
    return overall, rows


def _advocates(filters: ReportFilters, *, page: int, per_page: int) -> tuple[list[AdvocateRow], int]:
    """A page of advocates, most answers first (then by name), with how many there are in all:
    the answers grouped by advocate first, the names joined to those groups."""
    answers = _answers(filters)
    measures = _measures(answers)
    grouped = (
        select(answers.c.advocate_id, (measures[0] + measures[2]).label("answers"), *measures)
        .group_by(answers.c.advocate_id)
        .subquery("by_advocate")
    )
    g = grouped.c
    query = (
        select(Advocate.id, Account.name, Company.name.label("company"), Tier.name.label("tier"),
               func.count().over().label("advocates"), g.prospect_answers, g.prospect_total,
               g.advocate_answers, g.advocate_total, g.helped_yes, g.helped_answers)
        .select_from(grouped)
        .join(Advocate, Advocate.id == g.advocate_id)
        .join(Account, Account.id == Advocate.account_id)
        .outerjoin(Company, Company.id == Advocate.company_id)
        .outerjoin(Tier, Tier.id == Advocate.tier_id)
        .order_by(g.answers.desc(), Account.name, Advocate.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows, total = [], 0
    for row in db.session.execute(query):
        total = row.advocates
        rows.append(AdvocateRow(row.id, row.name, row.company or "", row.tier or "No tier", _ratings(row)))
    if not rows and page > 1:  # past the last page: how many there are, for the page links
        total = db.session.scalar(select(func.count()).select_from(grouped)) or 0
    return rows, total


# --- the page ----------------------------------------------------------------------------------

_DIMENSION_LABELS = dict(DIMENSIONS)
_RATING_COLUMNS = (
    Column("prospect_average", "Prospects' average (1–5)", numeric=True),
    Column("prospect_answers", "Prospects' answers", numeric=True),
    Column("advocate_average", "Advocates' average (1–5)", numeric=True),
    Column("advocate_answers", "Advocates' answers", numeric=True),
    Column("helped", "Helped the decision (%)", numeric=True),
    Column("helped_answers", "Of prospects answering", numeric=True),
)


def _cells(ratings: Ratings) -> tuple:
    helped = None if ratings.helped_share is None else round(ratings.helped_share * 100, 1)
    return (ratings.prospect_average, ratings.prospect_answers, ratings.advocate_average,
            ratings.advocate_answers, helped, ratings.helped_answers)


def _one_place(value: float | None) -> str:
    """An average as the table shows it: one decimal, none for a whole number."""
    return f"{value:.1f}".removesuffix(".0")


def _answers_words(count: int) -> str:
    return f"{count} answer{'' if count == 1 else 's'}"


def _advocates_table(found: Satisfaction, page: int, *, every_row: bool = False) -> Table:
    paged = found.advocates_total > ADVOCATES_PER_PAGE and not every_row
    return Table(
        title="By advocate, most answers first",
        columns=[Column("advocate", "Advocate"), Column("company", "Company"), Column("tier", "Tier"),
                 *_RATING_COLUMNS],
        rows=[(row.name, row.company, row.tier, *_cells(row.ratings)) for row in found.advocates],
        total_rows=found.advocates_total,
        note=(f"{found.advocates_total} advocate{'' if found.advocates_total == 1 else 's'} with answers; "
              f"{ADVOCATES_PER_PAGE} a page." if paged else ""),
        empty="No advocate has rated feedback between these dates." if page == 1
        else "No more advocates: this page is past the last one.",
    )


@register(
    "satisfaction",
    "Satisfaction",
    "How prospects and advocates rated their references, by advocate and by segment, with the number "
    "of answers behind each average.",
    order=40,
)
def build(filters: ReportFilters, page: int = 1) -> Report:
    found = satisfaction(filters, page=page)
    overall = found.overall
    segments = Table(
        title="Ratings by segment of the advocate's company",
        columns=[Column("by", "By"), Column("segment", "Segment"), *_RATING_COLUMNS],
        rows=[("All", "All advocates", *_cells(overall)),
              *((_DIMENSION_LABELS[row.dimension], row.segment, *_cells(row.ratings))
                for row in found.segments)] if overall.prospect_answers + overall.advocate_answers else [],
        empty="No feedback with a rating was given between these dates.",
    )
    industries = [row for row in found.by("industry") if row.ratings.prospect_answers]
    bars = [Bar(row.segment, row.ratings.prospect_average or 0,
                note=f"{_one_place(row.ratings.prospect_average)} from "
                     f"{_answers_words(row.ratings.prospect_answers)}")
            for row in industries]
    if overall.prospect_answers:
        summary = (f"Prospects' average rating {_one_place(overall.prospect_average)} of 5 from "
                   f"{_answers_words(overall.prospect_answers)}; by industry of the advocate's company: "
                   + "; ".join(bar.label + " " + bar.note for bar in bars) + ".")
    else:
        summary = "No prospect rated a reference between these dates."
    if overall.advocate_answers:
        summary += (f" Advocates' average {_one_place(overall.advocate_average)} of 5 from "
                    f"{_answers_words(overall.advocate_answers)}.")
    advocates = _advocates_table(found, page)
    return Report(
        title="Satisfaction",
        table=segments,
        chart=Chart(title="Prospects' average rating by industry of the advocate's company", summary=summary,
                    bars=bars, unit="of 5", max_value=5),
        more_tables=(advocates,),
        paging=Paging(page, ADVOCATES_PER_PAGE, found.advocates_total),
        notes=(
            "Answers: the feedback given between the dates that has a rating from 1 (poor) to 5 "
            "(excellent); a side that said the call did not take place gave none.",
            "Segment, industry and region are the advocate's company's; the tier is the advocate's.",
            "Helped the decision: the prospects who said yes, out of those who said yes or no (not sure is "
            "left out).",
            "Each average stands beside the number of answers it is made of: an average of one or two "
            "answers is an anecdote.",
        ),
    )


@build.table_exporter(1)
def export_advocates(filters: ReportFilters) -> Table:
    """Every advocate with answers, not one page of them."""
    return _advocates_table(satisfaction(filters, per_page=ID_MAX), 1, every_row=True)
