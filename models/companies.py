"""Customer organisations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from models import db
from models._columns import created_at_column, name_key
from models.catalogues import Industry, Region, size_band


class Company(db.Model):
    __tablename__ = "companies"
    __table_args__ = (
        CheckConstraint("employees IS NULL OR employees >= 1", name="employees_positive"),
        CheckConstraint(
            "health_score IS NULL OR (health_score >= 0 AND health_score <= 100)",
            name="health_score_range",
        ),
        CheckConstraint("nps IS NULL OR (nps >= -100 AND nps <= 100)", name="nps_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("industries.id"), index=True)
    employees: Mapped[int | None] = mapped_column(Integer)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    health_score: Mapped[int | None] = mapped_column(Integer)
    nps: Mapped[int | None] = mapped_column(Integer)
    renewal_date: Mapped[date | None] = mapped_column(Date)
    customer_since: Mapped[date | None] = mapped_column(Date)
    crm_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()

    industry: Mapped[Industry | None] = relationship()
    region: Mapped[Region | None] = relationship()

    @validates("name")
    def _set_name_key(self, _attr, value: str) -> str:
        value = " ".join(value.split())
        self.name_key = name_key(value)
        return value

    @property
    def size_band(self) -> str | None:
        return size_band(self.employees)

    def __repr__(self) -> str:
        return f"<Company {self.name!r}>"
