"""The customers file: the companies a CRM exports, one row per company, with a contact.

A contact with an e-mail becomes a CANDIDATE advocate (an advocate account that cannot be
matched: no consent, not active) at that company, with the contact's title as job title: the
"spot and invite candidates" flow starts from them. A contact already known as an advocate is
left as they are; a contact without an e-mail is not added (the report says which rows); the
address of someone who left the program is refused (``workflows.suppression``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Account, Advocate, AdvocateStatus, Company, Role, db
from models._columns import name_key
from workflows import suppression
from workflows.imports.cells import COMPANY_MAX_LENGTH, CRM_ID_MAX_LENGTH, NAME_MAX_LENGTH, Cells, addresses
from workflows.imports.common import (
    Catalogues,
    CompanyFacts,
    existing_companies,
    insert_returning,
    write_companies,
)
from workflows.imports.reading import Table
from workflows.imports.report import ImportReport, Problem, plural, plural_word, row_list
from workflows.progress import Progress


@dataclass
class CustomerRow:
    number: int
    company_key: str
    contact_email: str | None
    contact_name: str | None
    contact_title: str | None
    contact: Account | None  # an advocate account with the contact's e-mail, if one exists

    @property
    def candidate(self) -> bool:
        """Whether the import adds the contact as a candidate advocate."""
        return bool(self.contact_email) and (self.contact is None or self.contact.advocate is None)


class CustomersImport:
    def __init__(self, table: Table, source_name: str, now: datetime, progress: Progress) -> None:
        self.table = table
        self.now = now
        self.progress = progress
        self.problems: list[Problem] = []
        self.rows: list[CustomerRow] = []
        self.companies: dict[str, CompanyFacts] = {}
        self.without_email: list[int] = []

    def check(self) -> None:
        self.catalogues = Catalogues.load()
        cells_of = [cells for _n, cells in self.table.rows]
        crm_ids = {c["crm_id"] for c in cells_of if c["crm_id"]}
        self.addresses = addresses(c["contact_email"] for c in cells_of)
        emails = set(self.addresses.values()) - {None}
        self.existing_companies = existing_companies(
            {name_key(c["company"]) for c in cells_of if c["company"].strip()}
        )
        self.crm_owners = dict(db.session.execute(
            select(Company.crm_id, Company.name_key).where(Company.crm_id.in_(crm_ids))
        ).all()) if crm_ids else {}
        self.accounts = {
            a.email: a for a in db.session.scalars(
                select(Account).where(Account.email.in_(emails)).options(selectinload(Account.advocate))
            )
        } if emails else {}
        self.left = suppression.suppressed(emails)

        seen_companies: dict[str, int] = {}
        seen_crm: dict[str, int] = {}
        seen_emails: dict[str, int] = {}
        step = self.progress.rows(10, 50, len(self.table.rows))
        for index, (number, cells) in enumerate(self.table.rows):
            row = self.check_row(Cells(number, cells, self.problems, self.addresses),
                                 seen_companies, seen_crm, seen_emails)
            if row is not None:
                self.rows.append(row)
            step(index)

    def check_row(self, cells: Cells, seen_companies, seen_crm, seen_emails) -> CustomerRow | None:
        cat = self.catalogues
        name = cells.text("company", "company's name", max_length=COMPANY_MAX_LENGTH, required=True)
        key = name_key(name) if name else None
        if key in seen_companies:
            cells.error("company", f"{name} is also on row {seen_companies[key]}: one row per company.")
        elif key:
            seen_companies[key] = cells.number
        values: dict[str, Any] = {}
        industry = cells.lookup("industry", cat.industries, "an industry", cat.choices["industry"])
        region = cells.lookup("region", cat.regions, "a region", cat.choices["region"])
        values["industry_id"] = industry.id if industry else None
        values["region_id"] = region.id if region else None
        values["employees"] = cells.integer("employees", "number of employees", 1, None)
        values["health_score"] = cells.integer("health_score", "health score", 0, 100)
        values["nps"] = cells.integer("nps", "NPS", -100, 100)
        values["renewal_date"] = cells.date("renewal_date", "renewal date")
        values["customer_since"] = cells.date("customer_since", "date they became a customer")
        crm_id = cells.text("crm_id", "CRM id", max_length=CRM_ID_MAX_LENGTH)
        if crm_id:
            owner = self.crm_owners.get(crm_id)
            if crm_id in seen_crm:
                cells.error("crm_id", f"The CRM id {crm_id} is also on row {seen_crm[crm_id]}: "
                                      "each company has its own.")
            elif owner is not None and key is not None and owner != key:
                cells.error("crm_id", f"The CRM id {crm_id} belongs to another company in Vouch already.")
            seen_crm[crm_id] = cells.number
        values["crm_id"] = crm_id

        email = cells.email("contact_email", required=False)
        contact_name = cells.text("contact_name", "contact's name", max_length=NAME_MAX_LENGTH)
        title = cells.text("contact_title", "contact's title", max_length=NAME_MAX_LENGTH)
        account = self.accounts.get(email) if email else None
        if email:
            if email in seen_emails:
                cells.error("contact_email", f"{email} is also the contact on row {seen_emails[email]}: "
                                             "a person is a contact at one company.")
            seen_emails[email] = cells.number
            if account is not None and account.role is not Role.ADVOCATE:
                cells.error("contact_email", f"{email} belongs to a {account.role.value} account: a "
                                             "customer contact needs an address of their own.")
            elif email in self.left and (account is None or account.advocate is None):
                cells.error("contact_email", suppression.LEFT_MESSAGE.format(email=email))
        elif (contact_name or title) and not cells["contact_email"]:
            self.without_email.append(cells.number)
        if not cells.ok:
            return None
        self.companies[key] = CompanyFacts(name, key, {k: v for k, v in values.items() if v is not None})
        return CustomerRow(cells.number, key, email, contact_name, title, account)

    def write(self) -> ImportReport:
        company_ids, created, updated = write_companies(self.companies, self.existing_companies)
        self.progress.to(70)

        candidates = [row for row in self.rows if row.candidate]
        known = sum(1 for row in self.rows if row.contact is not None and row.contact.advocate is not None)
        account_ids = {email: account_id for account_id, email in insert_returning(
            Account, (Account.id, Account.email),
            [{"email": row.contact_email, "role": Role.ADVOCATE,
              "name": row.contact_name or row.contact_email.split("@")[0][:NAME_MAX_LENGTH]}
             for row in candidates if row.contact is None],
        )}
        account_ids.update({row.contact_email: row.contact.id for row in candidates if row.contact})
        self.progress.to(85)
        insert_returning(Advocate, (Advocate.id,), [{
            "account_id": account_ids[row.contact_email],
            "company_id": company_ids[row.company_key],
            "status": AdvocateStatus.CANDIDATE,
            "job_title": row.contact_title or "",
        } for row in candidates])
        db.session.flush()
        self.progress.to(95)

        notes = []
        if known:
            notes.append(plural(known, "contact was already an advocate and was left as they are.",
                                "contacts were already advocates and were left as they are."))
        if self.without_email:
            count = len(self.without_email)
            notes.append(f"{plural(count, 'contact has', 'contacts have')} no e-mail "
                         f"address and {plural_word(count, 'was', 'were')} not added "
                         f"({plural_word(count, 'row', 'rows')} {row_list(self.without_email)}).")
        return ImportReport(
            kind="customers", source_name="", rows=len(self.rows), created=created, updated=updated,
            unchanged=len(self.companies) - created - updated, candidates_created=len(candidates),
            notes=tuple(notes),
        )
