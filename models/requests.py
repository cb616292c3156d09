"""Reference requests from sales, the asks sent to advocates for them, and their timeline."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models._columns import created_at_column, enum_column
from models.accounts import Account
from models.advocates import Advocate
from models.catalogues import Competitor, Format, Industry, Region, Topic, UseCase
from models.types import UTCDateTime, utcnow


class RequestStatus(StrEnum):
    NEW = "new"  # submitted, nobody asked yet
    ASKING = "asking"  # at least one ask pending
    MATCHED = "matched"  # an advocate accepted
    SCHEDULED = "scheduled"  # the call is booked (live formats)
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RequestOutcome(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


def _request_link(name: str, other_table: str) -> Table:
    return Table(
        name,
        db.metadata,
        Column("request_id", ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True),
        Column(
            f"{other_table.removesuffix('s')}_id",
            ForeignKey(f"{other_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )


request_use_cases = _request_link("request_use_cases", "use_cases")
request_topics = _request_link("request_topics", "topics")
request_competitors = _request_link("request_competitors", "competitors")


class ReferenceRequest(db.Model):
    __tablename__ = "requests"
    __table_args__ = (Index("ix_requests_status_needed_by", "status", "needed_by"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    opportunity_id: Mapped[str] = mapped_column(String(64), default="")
    opportunity_name: Mapped[str] = mapped_column(String(200), default="")
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    prospect_company: Mapped[str] = mapped_column(String(200))
    industry_id: Mapped[int | None] = mapped_column(ForeignKey("industries.id"))
    employees: Mapped[int | None] = mapped_column(Integer)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    format_code: Mapped[str] = mapped_column(ForeignKey("formats.code"))
    needed_by: Mapped[date | None] = mapped_column(Date)
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[RequestStatus] = enum_column(RequestStatus, default=RequestStatus.NEW)
    outcome: Mapped[RequestOutcome] = enum_column(RequestOutcome, default=RequestOutcome.OPEN)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    first_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by: Mapped[Account | None] = relationship()
    industry: Mapped[Industry | None] = relationship()
    region: Mapped[Region | None] = relationship()
    format: Mapped[Format] = relationship()
    use_cases: Mapped[list[UseCase]] = relationship(secondary=request_use_cases)
    topics: Mapped[list[Topic]] = relationship(secondary=request_topics)
    competitors: Mapped[list[Competitor]] = relationship(secondary=request_competitors)
    asks: Mapped[list[Ask]] = relationship(back_populates="request", order_by="Ask.created_at")
    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", order_by="RequestEvent.at, RequestEvent.id"
    )

    def __repr__(self) -> str:
        return f"<ReferenceRequest {self.id} {self.status}>"


class AskStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class Ask(db.Model):
    __tablename__ = "asks"
    __table_args__ = (
        # An advocate is asked at most once per request.
        UniqueConstraint("request_id", "advocate_id", name="uq_asks_request_advocate"),
        # (An accepted ask stays accepted when its call is cancelled later, so a request may
        # have several; the engagements' one-live-per-request index keeps one at a time.)
        Index("ix_asks_advocate_status", "advocate_id", "status"),
        # The reports' date range.
        Index("ix_asks_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocates.id", ondelete="CASCADE"))
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    # Score and reasons as they were when the ask was made.
    score: Mapped[int] = mapped_column(Integer, default=0)
    explanation: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[AskStatus] = enum_column(AskStatus, default=AskStatus.PENDING)
    decline_reason: Mapped[str | None] = mapped_column(String(32))
    decline_note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    request: Mapped[ReferenceRequest] = relationship(back_populates="asks")
    advocate: Mapped[Advocate] = relationship()


class RequestEvent(db.Model):
    """One line of a request's timeline: everything that happened, by whom, when."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = created_at_column()
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    request: Mapped[ReferenceRequest] = relationship(back_populates="events")
    actor: Mapped[Account | None] = relationship()
