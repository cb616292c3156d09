"""The advocates file: a reference program's spreadsheet, the list of record for the columns it has.

A row whose e-mail is new creates an advocate account and an ACTIVE advocate whose consent is
recorded as given to the program before the import ("import of FILE on DATE"). A row whose
e-mail is an advocate's already sets that advocate's columns to what the row says (an empty
list clears it, an empty cap means the tier's quota, an empty time zone UTC); a candidate or
invited advocate becomes active with consent recorded, a paused or retired one keeps their
status, and consent recorded earlier is kept. Tier is required. Competitors are "evaluated"
unless written ``Name (replaced)``. The e-mail of a staff or sales account is refused, and so
is the address of someone who left the program (``workflows.suppression``).

Existing advocates are read as plain values (one query per table, whatever the number of rows)
and compared with their rows; what differs is written in bulk: UPDATE by primary key for the
columns, and for each list that changed, its old rows deleted and the new inserted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from models import (
    Account,
    Advocate,
    AdvocateCompetitor,
    AdvocateStatus,
    AdvocateTopic,
    Competitor,
    CompetitorRelation,
    Format,
    Role,
    Tier,
    TopicStance,
    UseCase,
    WeeklyWindow,
    db,
)
from models._columns import name_key
from models.advocates import advocate_formats, advocate_use_cases
from workflows import quota, suppression
from workflows.availability import AvailabilityError, resolve_time_zone
from workflows.imports.cells import (
    COMPANY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    Cells,
    Span,
    addresses,
    short,
    windows,
)
from workflows.imports.common import (
    Catalogues,
    CompanyFacts,
    existing_companies,
    insert_returning,
    insert_rows,
    write_companies,
)
from workflows.imports.reading import Table
from workflows.imports.report import ImportReport, Problem
from workflows.progress import Progress
from workflows.tags import tags

_COMPETITOR = re.compile(r"(?P<name>.*?)\s*\((?P<relation>replaced|evaluated)\)", re.IGNORECASE)


@dataclass
class AdvocateRow:
    """One good row of an advocates file, parsed."""

    number: int
    email: str
    name: str
    company_key: str
    timezone: str
    tier: Tier
    job_level_code: str | None
    quarterly_cap: int | None
    formats: list[Format]
    use_cases: list[str]
    topics: dict[int, TopicStance]
    competitors: list[tuple[str, CompetitorRelation]]
    windows: list[Span]
    account_id: int | None  # the advocate account with this e-mail, if one exists

    def collections(self) -> dict[str, set]:
        """The row's lists in the form ``Current`` keeps them, to compare."""
        return {
            "formats": {f.code for f in self.formats},
            "use_cases": {name_key(name) for name in self.use_cases},
            "topics": set(self.topics.items()),
            "competitors": {(name_key(name), relation) for name, relation in self.competitors},
            "windows": {(w.weekday, w.starts, w.ends) for w in self.windows},
        }


@dataclass
class Current:
    """An existing advocate as the import compares it: plain values, read with Core."""

    advocate_id: int
    account_id: int
    scalars: dict[str, Any]  # the Advocate columns an import sets
    collections: dict[str, set] = field(default_factory=lambda: {
        "formats": set(), "use_cases": set(), "topics": set(), "competitors": set(), "windows": set(),
    })


# The Advocate columns an import sets; the account's name and time zone are set too.
_ADVOCATE_SCALARS = (
    "company_id", "tier_id", "job_level_code", "quarterly_cap", "status", "consent_at", "consent_source",
)
# Each list of a profile: its table, and how a row of it is keyed to the advocate.
_CHILD_TABLES = {
    "formats": advocate_formats,
    "use_cases": advocate_use_cases,
    "topics": AdvocateTopic.__table__,
    "competitors": AdvocateCompetitor.__table__,
    "windows": WeeklyWindow.__table__,
}


class AdvocatesImport:
    def __init__(self, table: Table, source_name: str, now: datetime, progress: Progress) -> None:
        self.table = table
        self.now = now
        self.progress = progress
        self.consent_source = f"import of {source_name} on {now:%Y-%m-%d}"
        self.problems: list[Problem] = []
        self.rows: list[AdvocateRow] = []
        self.companies: dict[str, CompanyFacts] = {}

    # -- checking ---------------------------------------------------------------------------

    def check(self) -> None:
        self.catalogues = Catalogues.load()
        self.addresses = addresses(cells["email"] for _n, cells in self.table.rows)
        emails = set(self.addresses.values()) - {None}
        self.existing_companies = existing_companies(
            {name_key(cells["company"]) for _n, cells in self.table.rows if cells["company"].strip()}
        )
        self.accounts = {
            row.email: row for row in db.session.execute(
                select(Account.id, Account.email, Account.role, Account.name, Account.timezone)
                .where(Account.email.in_(emails))
            )
        } if emails else {}
        self.left = suppression.suppressed(emails)
        self.current = self.load_current([a.id for a in self.accounts.values() if a.role is Role.ADVOCATE])

        seen: dict[str, int] = {}
        step = self.progress.rows(10, 50, len(self.table.rows))
        for index, (number, cells) in enumerate(self.table.rows):
            row = self.check_row(Cells(number, cells, self.problems, self.addresses), seen)
            if row is not None:
                self.rows.append(row)
            step(index)

    @staticmethod
    def load_current(account_ids: list[int]) -> dict[int, Current]:
        """The existing advocates of these accounts by account id: six queries. On PostgreSQL
        their rows are locked (``FOR UPDATE``, in id order) until the import commits."""
        if not account_ids:
            return {}
        query = (
            select(Advocate.id, Advocate.account_id, Account.name, Account.timezone,
                   *(getattr(Advocate, column) for column in _ADVOCATE_SCALARS))
            .join(Account, Account.id == Advocate.account_id)
            .where(Advocate.account_id.in_(account_ids))
            .order_by(Advocate.id)
        )
        if db.session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(of=Advocate)
        by_id: dict[int, Current] = {}
        for advocate_id, account_id, name, zone, *scalars in db.session.execute(query):
            by_id[advocate_id] = Current(advocate_id, account_id, {
                "name": name, "timezone": zone, **dict(zip(_ADVOCATE_SCALARS, scalars, strict=True)),
            })
        if by_id:
            ids = list(by_id)
            lists = {
                "formats": select(advocate_formats.c.advocate_id, advocate_formats.c.format_code)
                .where(advocate_formats.c.advocate_id.in_(ids)),
                "use_cases": select(advocate_use_cases.c.advocate_id, UseCase.key)
                .join(UseCase, UseCase.id == advocate_use_cases.c.use_case_id)
                .where(advocate_use_cases.c.advocate_id.in_(ids)),
                "topics": select(AdvocateTopic.advocate_id, AdvocateTopic.topic_id, AdvocateTopic.stance)
                .where(AdvocateTopic.advocate_id.in_(ids)),
                "competitors": select(
                    AdvocateCompetitor.advocate_id, Competitor.key, AdvocateCompetitor.relation
                )
                .join(Competitor, Competitor.id == AdvocateCompetitor.competitor_id)
                .where(AdvocateCompetitor.advocate_id.in_(ids)),
                "windows": select(WeeklyWindow.advocate_id, WeeklyWindow.weekday, WeeklyWindow.starts,
                                  WeeklyWindow.ends)
                .where(WeeklyWindow.advocate_id.in_(ids)),
            }
            for name, query in lists.items():
                for advocate_id, *value in db.session.execute(query):
                    by_id[advocate_id].collections[name].add(value[0] if len(value) == 1 else tuple(value))
        return {current.account_id: current for current in by_id.values()}

    def check_row(self, cells: Cells, seen: dict[str, int]) -> AdvocateRow | None:
        cat = self.catalogues
        email = cells.email("email", required=True)
        account = self.accounts.get(email) if email else None
        if email in seen:
            cells.error("email", f"{email} is also on row {seen[email]}: one row per advocate.")
        elif email:
            seen[email] = cells.number
        if email in self.left:
            cells.error("email", suppression.LEFT_MESSAGE.format(email=email))
        if account is not None and account.role is not Role.ADVOCATE:
            cells.error("email", f"{email} belongs to a {account.role.value} account: an advocate needs "
                                 "an address of their own.")
            account = None
        name = cells.text("name", "advocate's name", max_length=NAME_MAX_LENGTH, required=True)
        company = self.company_facts(cells)
        tier = cells.lookup("tier", cat.tiers, "a tier", cat.choices["tier"])
        if tier is None and not cells["tier"]:
            cells.error("tier", f"Give the advocate's tier: {cat.choices['tier']}.")
        level = cells.lookup("job_level", cat.job_levels, "a job level", cat.choices["job_level"])
        spans = windows(cells)
        zone = cells["timezone"]
        if zone:
            try:
                zone = resolve_time_zone(zone)
            except AvailabilityError:
                cells.error("timezone", f"“{short(zone)}” is not a time zone name: use an IANA name "
                                        "like Europe/Berlin or America/New_York.")
        elif spans:
            cells.error("timezone", "Give the time zone the weekly windows are in, like Europe/Berlin.")
        formats = cells.choices("formats", cat.formats, "format", cat.choices["formats"])
        use_cases = cells.names("use_cases", "use case")
        glad = cells.choices("topics", cat.topics, "topic", cat.choices["topics"])
        avoid = cells.choices("avoid_topics", cat.topics, "topic", cat.choices["topics"])
        both = [t.name for t in avoid if t in glad]
        if both:
            cells.error("avoid_topics", f"{', '.join(both)} {'is' if len(both) == 1 else 'are'} in "
                                        "topics too: a topic is either glad to talk about or rather not.")
        competitors = self.competitors(cells)
        cap = cells.integer("quarterly_cap", "quarterly cap", 0, None)
        if cap is not None and tier is not None and cap > tier.quarterly_quota:
            cells.error("quarterly_cap", (
                f"{cap} is more than the {tier.name} tier allows: give 0 to {tier.quarterly_quota}, "
                "or leave it empty for the tier's full quota."
            ))
        if not cells.ok:
            return None
        return AdvocateRow(
            number=cells.number, email=email, name=name, company_key=company.key,
            timezone=zone or "UTC", tier=tier, job_level_code=level.code if level else None,
            quarterly_cap=cap, formats=formats, use_cases=use_cases,
            topics={**{t.id: TopicStance.GLAD for t in glad}, **{t.id: TopicStance.AVOID for t in avoid}},
            competitors=competitors, windows=sorted(spans), account_id=account.id if account else None,
        )

    def company_facts(self, cells: Cells) -> CompanyFacts | None:
        cat = self.catalogues
        name = cells.text("company", "company's name", max_length=COMPANY_MAX_LENGTH, required=True)
        industry = cells.lookup("industry", cat.industries, "an industry", cat.choices["industry"])
        region = cells.lookup("region", cat.regions, "a region", cat.choices["region"])
        employees = cells.integer("employees", "number of employees", 1, None)
        if name is None:
            return None
        facts = self.companies.setdefault(name_key(name), CompanyFacts(name, name_key(name)))
        facts.give(cells, "industry", "industry_id", industry.id if industry else None)
        facts.give(cells, "region", "region_id", region.id if region else None)
        facts.give(cells, "employees", "employees", employees)
        return facts

    def competitors(self, cells: Cells) -> list[tuple[str, CompetitorRelation]]:
        found: dict[str, tuple[str, CompetitorRelation]] = {}
        for item in cells.names("competitors", "competitor"):
            marked = _COMPETITOR.fullmatch(item)
            name, relation = (marked["name"], CompetitorRelation(marked["relation"].lower())) if marked else (
                item, CompetitorRelation.EVALUATED)
            if not name:
                cells.error("competitors", f"“{short(item)}” names no competitor.")
                continue
            key = name_key(name)
            if key in found and found[key][1] is not relation:
                cells.error("competitors", f"{name} is both evaluated and replaced: keep one.")
                continue
            found[key] = (name, relation)
        return list(found.values())

    # -- writing ----------------------------------------------------------------------------

    def write(self) -> ImportReport:
        self.company_ids, companies_created, companies_updated = write_companies(
            self.companies, self.existing_companies
        )
        self.progress.to(55)
        self.use_cases = tags(UseCase, [n for row in self.rows for n in row.use_cases])
        self.competitor_tags = tags(
            Competitor, [name for row in self.rows for name, _relation in row.competitors]
        )
        self.progress.to(60)

        new_rows = [row for row in self.rows if row.account_id not in self.current]
        existing = [
            (row, self.current[row.account_id]) for row in self.rows if row.account_id in self.current
        ]
        updated = self.update(existing)
        self.progress.to(70)
        self.create(new_rows)
        self.progress.to(95)
        return ImportReport(
            kind="advocates", source_name="", rows=len(self.rows), created=len(new_rows), updated=updated,
            unchanged=len(existing) - updated, companies_created=companies_created,
            companies_updated=companies_updated,
        )

    def scalars(self, row: AdvocateRow, current: Current | None) -> dict[str, Any]:
        """What the advocate's own columns become. A candidate or invited advocate becomes active;
        a paused or retired one keeps their status; consent given earlier is kept. A new advocate
        without a cap in the file starts with the program's default cap (``quota.starting_cap``)."""
        status = AdvocateStatus.ACTIVE if current is None else current.scalars["status"]
        if status in (AdvocateStatus.CANDIDATE, AdvocateStatus.INVITED):
            status = AdvocateStatus.ACTIVE
        consent_at = current.scalars["consent_at"] if current else None
        consent_source = current.scalars["consent_source"] if current else ""
        if status is AdvocateStatus.ACTIVE and consent_at is None:
            consent_at, consent_source = self.now, self.consent_source
        cap = row.quarterly_cap
        if cap is None and current is None:  # a new advocate: the program's default cap
            cap = quota.starting_cap(row.tier.quarterly_quota)
        return {
            "company_id": self.company_ids[row.company_key],
            "tier_id": row.tier.id,
            "job_level_code": row.job_level_code,
            "quarterly_cap": cap,
            "status": status,
            "consent_at": consent_at,
            "consent_source": consent_source,
        }

    def children(self, advocate_id: int, row: AdvocateRow) -> dict[str, list[dict[str, Any]]]:
        """The rows of the advocate's lists, ready to insert."""
        return {
            "formats": [{"advocate_id": advocate_id, "format_code": f.code} for f in row.formats],
            "use_cases": [{"advocate_id": advocate_id, "use_case_id": self.use_cases[name_key(name)].id}
                          for name in row.use_cases],
            "topics": [{"advocate_id": advocate_id, "topic_id": topic_id, "stance": stance}
                       for topic_id, stance in row.topics.items()],
            "competitors": [{"advocate_id": advocate_id, "relation": relation,
                             "competitor_id": self.competitor_tags[name_key(name)].id}
                            for name, relation in row.competitors],
            "windows": [{"advocate_id": advocate_id, "weekday": w.weekday, "starts": w.starts, "ends": w.ends}
                        for w in row.windows],
        }

    def update(self, pairs: list[tuple[AdvocateRow, Current]]) -> int:
        """Existing advocates: only what differs is written. Returns how many changed."""
        accounts, advocates = [], []
        replaced: dict[str, list[int]] = {name: [] for name in _CHILD_TABLES}
        inserts: dict[str, list[dict[str, Any]]] = {name: [] for name in _CHILD_TABLES}
        updated = 0
        for row, current in pairs:
            changed = False
            account = {"name": row.name, "timezone": row.timezone}
            if account != {key: current.scalars[key] for key in account}:
                accounts.append({"id": current.account_id, **account})
                changed = True
            scalars = self.scalars(row, current)
            if scalars != {key: current.scalars[key] for key in scalars}:
                advocates.append({"id": current.advocate_id, **scalars})
                changed = True
            wanted = row.collections()
            children = None
            for name in _CHILD_TABLES:
                if wanted[name] != current.collections[name]:
                    children = children or self.children(current.advocate_id, row)
                    replaced[name].append(current.advocate_id)
                    inserts[name] += children[name]
                    changed = True
            updated += changed
        if accounts:
            db.session.execute(update(Account), accounts)
        if advocates:
            db.session.execute(update(Advocate), advocates)
        for name, table in _CHILD_TABLES.items():
            if replaced[name]:
                db.session.execute(table.delete().where(table.c.advocate_id.in_(replaced[name])))
                insert_rows(table, inserts[name])
        return updated

    def create(self, rows: list[AdvocateRow]) -> None:
        """New advocates in bulk: accounts, advocates, then the rows of their lists."""
        account_ids = {email: account_id for account_id, email in insert_returning(
            Account, (Account.id, Account.email),
            [{"email": row.email, "name": row.name, "role": Role.ADVOCATE, "timezone": row.timezone}
             for row in rows if row.account_id is None],
        )}
        # Advocate accounts without a profile yet (made with ``flask users create``, say).
        bare = [{"id": row.account_id, "name": row.name, "timezone": row.timezone}
                for row in rows if row.account_id is not None]
        if bare:
            db.session.execute(update(Account), bare)
        account_ids.update((row.email, row.account_id) for row in rows if row.account_id is not None)
        self.progress.to(78)
        advocate_ids = {account_id: advocate_id for advocate_id, account_id in insert_returning(
            Advocate, (Advocate.id, Advocate.account_id),
            [{"account_id": account_ids[row.email], **self.scalars(row, None)} for row in rows],
        )}
        self.progress.to(85)
        inserts: dict[str, list[dict[str, Any]]] = {name: [] for name in _CHILD_TABLES}
        for row in rows:
            for name, children in self.children(advocate_ids[account_ids[row.email]], row).items():
                inserts[name] += children
        for name, table in _CHILD_TABLES.items():
            insert_rows(table, inserts[name])
