"""What both imports share: the catalogues a cell is looked up in, what a file says about a
company, and the bulk inserts that keep the number of queries independent of the file's size."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, insert, select

from models import Company, Format, Industry, JobLevel, Region, Tier, Topic, db
from models._columns import name_key
from workflows.imports.cells import Cells
from workflows.imports.report import either


@dataclass
class Catalogues:
    """The catalogues by case-folded name (formats and job levels by code too): six queries."""

    industries: dict[str, Industry]
    regions: dict[str, Region]
    topics: dict[str, Topic]
    formats: dict[str, Format]
    job_levels: dict[str, JobLevel]
    tiers: dict[str, Tier]
    choices: dict[str, str]  # column → the allowed values, in words

    @classmethod
    def load(cls) -> Catalogues:
        industries = list(db.session.scalars(select(Industry).order_by(Industry.id)))
        regions = list(db.session.scalars(select(Region).order_by(Region.id)))
        topics = list(db.session.scalars(select(Topic).order_by(Topic.id)))
        formats = list(db.session.scalars(select(Format).order_by(Format.position, Format.code)))
        levels = list(db.session.scalars(select(JobLevel).order_by(JobLevel.rank)))
        tiers = list(db.session.scalars(select(Tier).order_by(Tier.rank)))
        return cls(
            industries={i.key: i for i in industries},
            regions={r.key: r for r in regions},
            topics={t.key: t for t in topics},
            formats={**{name_key(f.name): f for f in formats}, **{name_key(f.code): f for f in formats}},
            job_levels={**{name_key(j.name): j for j in levels}, **{name_key(j.code): j for j in levels}},
            tiers={name_key(t.name): t for t in tiers},
            choices={
                "industry": either([i.name for i in industries]) + " (an admin can add industries)",
                "region": either([r.name for r in regions]),
                "topics": "topics from the catalogue: " + either([t.name for t in topics]),
                "formats": either([f.code for f in formats]),
                "job_level": either([j.name for j in levels]) + ", or leave it empty",
                "tier": either([t.name for t in tiers]),
            },
        )


# --- companies ---------------------------------------------------------------------------------


@dataclass
class CompanyFacts:
    """What the file says about one company; ``rows`` remembers where each value came from."""

    name: str
    key: str
    values: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def give(self, cells: Cells, column: str, attribute: str, value: Any) -> None:
        """Record ``value`` (None: not given); two rows disagreeing is the later row's problem."""
        if value is None:
            return
        if attribute in self.values and self.values[attribute] != value:
            cells.error(column, (
                f"Row {self.rows[attribute]} gives {self.name} another {column}. A company has one "
                f"{column}: give the same on every row, or leave the cell empty on all rows but one."
            ))
            return
        self.values[attribute] = value
        self.rows.setdefault(attribute, cells.number)


def existing_companies(keys: set[str]) -> dict[str, Company]:
    """The companies already in Vouch with these name keys (one query)."""
    if not keys:
        return {}
    return {c.name_key: c for c in db.session.scalars(select(Company).where(Company.name_key.in_(keys)))}


def write_companies(companies: dict[str, CompanyFacts],
                    existing: dict[str, Company]) -> tuple[dict[str, int], int, int]:
    """Existing companies take the values the file gives, new ones are inserted in bulk.
    Returns every company's id by name key, how many were created and how many changed."""
    updated = 0
    for key, facts in companies.items():
        if key in existing and apply_company(existing[key], facts.values):
            updated += 1
    new = [facts for key, facts in companies.items() if key not in existing]
    db.session.flush()
    ids = {key: company.id for key, company in existing.items()}
    ids.update(new_companies(new))
    return ids, len(new), updated


def apply_company(company: Company, values: dict[str, Any]) -> bool:
    """Set the values given; True when something changed."""
    changed = False
    for attribute, value in values.items():
        if getattr(company, attribute) != value:
            setattr(company, attribute, value)
            changed = True
    return changed


def new_companies(facts: Iterable[CompanyFacts]) -> dict[str, int]:
    """Insert the companies named for the first time; their ids by name key."""
    rows = [{"name": f.name, "name_key": f.key, **f.values} for f in facts]
    for row in rows:
        for attribute in ("industry_id", "employees", "region_id", "health_score", "nps",
                          "renewal_date", "customer_since", "crm_id"):
            row.setdefault(attribute, None)
    return {key: company_id for company_id, key in insert_returning(Company, (Company.id, Company.name_key),
                                                                    rows)}


# --- bulk inserts ------------------------------------------------------------------------------


def insert_returning(model, columns, rows: list[dict[str, Any]]) -> list[tuple]:
    """Bulk INSERT returning ``columns`` per row, in batches of SQLAlchemy's insertmanyvalues.
    ``render_nulls``: a None is sent as NULL rather than leaving the column out, so that every row
    has the same columns and the batches are not split by where the Nones fall."""
    if not rows:
        return []
    statement = insert(model).returning(*columns).execution_options(render_nulls=True)
    return list(db.session.execute(statement, rows).all())


def insert_rows(table: Table, rows: list[dict[str, Any]]) -> None:
    """Bulk INSERT into a table (one executemany)."""
    if rows:
        db.session.execute(table.insert(), rows)
