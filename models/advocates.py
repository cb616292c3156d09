"""Reference profiles: what an advocate is willing to do, and when."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models._columns import created_at_column, enum_column
from models.accounts import Account
from models.catalogues import Competitor, Format, JobLevel, Product, Topic, UseCase
from models.companies import Company
from models.tiers import Tier
from models.types import UTCDateTime

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def quarterly_limit(tier_quota: int | None, personal_cap: int | None) -> int:
    """Calls an advocate may take in a quarter: min(tier quota, personal cap)."""
    quota = tier_quota or 0
    return quota if personal_cap is None else min(quota, personal_cap)


def review_due(last_reviewed_at: datetime | None, now: datetime, review_days: int) -> bool:
    """Never reviewed, or not for ``review_days`` days or more (the quarterly nudge's rule)."""
    return last_reviewed_at is None or now - last_reviewed_at >= timedelta(days=review_days)


class AdvocateStatus(StrEnum):
    CANDIDATE = "candidate"
    INVITED = "invited"
    ACTIVE = "active"
    PAUSED = "paused"
    RETIRED = "retired"


class TopicStance(StrEnum):
    GLAD = "glad"  # glad to talk about
    AVOID = "avoid"  # rather not


class CompetitorRelation(StrEnum):
    EVALUATED = "evaluated"
    REPLACED = "replaced"


def _link_table(name: str, other_table: str, other_column: str = "id") -> Table:
    return Table(
        name,
        db.metadata,
        Column("advocate_id", ForeignKey("advocates.id", ondelete="CASCADE"), primary_key=True),
        Column(
            f"{other_table.removesuffix('s')}_{other_column}",
            ForeignKey(f"{other_table}.{other_column}", ondelete="CASCADE"),
            primary_key=True,
        ),
    )


advocate_products = _link_table("advocate_products", "products")
advocate_use_cases = _link_table("advocate_use_cases", "use_cases")
advocate_formats = _link_table("advocate_formats", "formats", "code")


class Advocate(db.Model):
    __tablename__ = "advocates"
    __table_args__ = (
        CheckConstraint("quarterly_cap IS NULL OR quarterly_cap >= 0", name="cap_not_negative"),
        CheckConstraint("min_days_between_calls >= 0", name="gap_not_negative"),
        CheckConstraint("max_calls_per_day >= 1", name="calls_per_day_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), unique=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id"), index=True)
    job_title: Mapped[str] = mapped_column(String(120), default="")
    job_level_code: Mapped[str | None] = mapped_column(ForeignKey("job_levels.code"))
    status: Mapped[AdvocateStatus] = enum_column(AdvocateStatus, default=AdvocateStatus.CANDIDATE)
    # Why a coordinator paused or retired the advocate (staff only), and when the status changed.
    status_reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    success_metrics: Mapped[str] = mapped_column(Text, default="")
    talking_points: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Prospect companies this advocate will not speak with (names, compared case-insensitively).
    refused_companies: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Personal limit per quarter; the effective limit is min(tier quota, this).
    quarterly_cap: Mapped[int | None] = mapped_column(Integer)
    min_days_between_calls: Mapped[int] = mapped_column(Integer, default=0)
    max_calls_per_day: Mapped[int] = mapped_column(Integer, default=1)
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_source: Mapped[str] = mapped_column(String(300), default="")
    last_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where calls happen unless the advocate says otherwise for one call.
    join_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    join_phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # Part of the calendar feed's signed address: bumping it retires the old address.
    calendar_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = created_at_column()

    account: Mapped[Account] = relationship(back_populates="advocate")
    company: Mapped[Company | None] = relationship()
    tier: Mapped[Tier | None] = relationship()
    job_level: Mapped[JobLevel | None] = relationship()
    products: Mapped[list[Product]] = relationship(secondary=advocate_products)
    use_cases: Mapped[list[UseCase]] = relationship(secondary=advocate_use_cases)
    formats: Mapped[list[Format]] = relationship(secondary=advocate_formats)
    topics: Mapped[list[AdvocateTopic]] = relationship(
        back_populates="advocate", cascade="all, delete-orphan"
    )
    competitors: Mapped[list[AdvocateCompetitor]] = relationship(
        back_populates="advocate", cascade="all, delete-orphan"
    )
    windows: Mapped[list[WeeklyWindow]] = relationship(
        back_populates="advocate",
        cascade="all, delete-orphan",
        order_by="(WeeklyWindow.weekday, WeeklyWindow.starts)",
    )
    blackouts: Mapped[list[Blackout]] = relationship(
        back_populates="advocate", cascade="all, delete-orphan", order_by="Blackout.starts_on"
    )

    @property
    def quarterly_limit(self) -> int:
        """Calls this advocate may take in a quarter: min(tier quota, personal cap)."""
        return quarterly_limit(self.tier.quarterly_quota if self.tier else 0, self.quarterly_cap)

    def review_due(self, now: datetime, review_days: int) -> bool:
        return review_due(self.last_reviewed_at, now, review_days)

    def __repr__(self) -> str:
        return f"<Advocate {self.id} {self.status}>"


class AdvocateTopic(db.Model):
    __tablename__ = "advocate_topics"

    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocates.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    stance: Mapped[TopicStance] = enum_column(TopicStance)

    advocate: Mapped[Advocate] = relationship(back_populates="topics")
    topic: Mapped[Topic] = relationship()


class AdvocateCompetitor(db.Model):
    __tablename__ = "advocate_competitors"

    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocates.id", ondelete="CASCADE"), primary_key=True
    )
    competitor_id: Mapped[int] = mapped_column(
        ForeignKey("competitors.id", ondelete="CASCADE"), primary_key=True
    )
    relation: Mapped[CompetitorRelation] = enum_column(CompetitorRelation)

    advocate: Mapped[Advocate] = relationship(back_populates="competitors")
    competitor: Mapped[Competitor] = relationship()


class WeeklyWindow(db.Model):
    """A recurring window on one weekday, in the advocate's own time zone."""

    __tablename__ = "weekly_windows"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        CheckConstraint("ends > starts", name="ends_after_start"),
        UniqueConstraint("advocate_id", "weekday", "starts", name="uq_window_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocates.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)

    advocate: Mapped[Advocate] = relationship(back_populates="windows")


class Blackout(db.Model):
    """Dates (inclusive, in the advocate's zone) when the advocate takes no calls."""

    __tablename__ = "blackouts"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocates.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")

    advocate: Mapped[Advocate] = relationship(back_populates="blackouts")


class AdvocateNote(db.Model):
    """A coordinator's internal note on an advocate: staff read it, the advocate never does."""

    __tablename__ = "advocate_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    advocate_id: Mapped[int] = mapped_column(
        ForeignKey("advocates.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()

    author: Mapped[Account | None] = relationship()
