"""Engagements (the reference activity itself), the feedback on them and written answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    true,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models._columns import created_at_column, enum_column
from models.advocates import Advocate
from models.catalogues import Format
from models.requests import Ask, ReferenceRequest
from models.types import UTCDateTime


class EngagementStatus(StrEnum):
    AWAITING_BOOKING = "awaiting_booking"
    BOOKED = "booked"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


# Engagements that use up a place in the advocate's quarter (DESIGN.md §5 "Quota").
COUNTED_STATUSES = (
    EngagementStatus.AWAITING_BOOKING,
    EngagementStatus.BOOKED,
    EngagementStatus.COMPLETED,
)
# Engagements that occupy the advocate's calendar.
CALENDAR_STATUSES = ("booked", "completed")
# A request has at most one engagement that is not cancelled: the one it is served by.
LIVE_STATUSES = (
    EngagementStatus.AWAITING_BOOKING,
    EngagementStatus.BOOKED,
    EngagementStatus.COMPLETED,
    EngagementStatus.NO_SHOW,
)


def quarter_of(moment: datetime) -> str:
    """The calendar quarter (UTC) a moment falls in, as ``2026Q4``."""
    return f"{moment.year}Q{(moment.month - 1) // 3 + 1}"


class Engagement(db.Model):
    __tablename__ = "engagements"
    __table_args__ = (
        CheckConstraint(
            "(starts_at IS NULL AND ends_at IS NULL) OR "
            "(starts_at IS NOT NULL AND ends_at IS NOT NULL AND ends_at > starts_at)",
            name="times_ordered",
        ),
        CheckConstraint(
            "status NOT IN ('booked') OR starts_at IS NOT NULL", name="booked_has_time"
        ),
        # A slot is booked at most once, on every database.
        Index(
            "uq_engagements_advocate_slot",
            "advocate_id",
            "starts_at",
            unique=True,
            sqlite_where=Column("status").in_(CALENDAR_STATUSES),
            postgresql_where=Column("status").in_(CALENDAR_STATUSES),
        ),
        # One live engagement per request; a cancelled one stays beside it, in the history.
        Index(
            "uq_engagements_one_live_per_request",
            "request_id",
            unique=True,
            sqlite_where=Column("status") != "cancelled",
            postgresql_where=Column("status") != "cancelled",
        ),
        Index("ix_engagements_advocate_quarter", "advocate_id", "quarter", "status"),
        # A request's engagements by status: did a reference for it take place (the reports).
        Index("ix_engagements_request_status", "request_id", "status"),
        # PostgreSQL also refuses calls of any length that overlap for the same advocate.
        ExcludeConstraint(
            (Column("advocate_id"), "="),
            (func.tstzrange(Column("starts_at"), Column("ends_at")), "&&"),
            # Only engagements with a time: a written reference has none, and an open range
            # would overlap every call of its advocate.
            where=literal_column("status IN ('booked', 'completed') AND starts_at IS NOT NULL"),
            using="gist",
            name="ex_engagements_no_overlap",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="SET NULL"))
    ask_id: Mapped[int | None] = mapped_column(ForeignKey("asks.id", ondelete="SET NULL"), unique=True)
    advocate_id: Mapped[int | None] = mapped_column(
        ForeignKey("advocates.id", ondelete="SET NULL"), index=True
    )
    format_code: Mapped[str] = mapped_column(ForeignKey("formats.code"))
    status: Mapped[EngagementStatus] = enum_column(
        EngagementStatus, default=EngagementStatus.AWAITING_BOOKING
    )
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The quarter this engagement counts in: of the call once booked, of the acceptance before.
    quarter: Mapped[str] = mapped_column(String(6))
    prospect_name: Mapped[str] = mapped_column(String(120), default="")
    prospect_email: Mapped[str] = mapped_column(String(254), default="")
    prospect_timezone: Mapped[str | None] = mapped_column(String(64))
    # Where the call happens (the advocate's default, or what they set for this call).
    join_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    join_phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # The .ics SEQUENCE: raised by each reschedule and by the cancellation.
    ics_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()
    introduced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answers_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answers_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A coordinator sent the written answers back to the advocate, with this note.
    answers_returned_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    request: Mapped[ReferenceRequest | None] = relationship()
    ask: Mapped[Ask | None] = relationship()
    advocate: Mapped[Advocate | None] = relationship()
    format: Mapped[Format] = relationship()
    feedback: Mapped[list[Feedback]] = relationship(
        back_populates="engagement", cascade="all, delete-orphan"
    )
    answers: Mapped[list[WrittenAnswer]] = relationship(
        back_populates="engagement", cascade="all, delete-orphan", order_by="WrittenAnswer.position"
    )


class FeedbackSide(StrEnum):
    PROSPECT = "prospect"
    ADVOCATE = "advocate"


class Feedback(db.Model):
    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("engagement_id", "side", name="uq_feedback_once_per_side"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        CheckConstraint("call_happened OR rating IS NULL", name="rated_only_if_held"),
        # The reports' date range.
        Index("ix_feedback_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id", ondelete="CASCADE"))
    side: Mapped[FeedbackSide] = enum_column(FeedbackSide)
    # Did the call take place? (A side that says no gets no rating: the call was not had.)
    call_happened: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    helped_decision: Mapped[bool | None] = mapped_column(Boolean)
    # Whether the advocate may read the prospect's comment.
    shared_with_advocate: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()

    engagement: Mapped[Engagement] = relationship(back_populates="feedback")


class WrittenAnswer(db.Model):
    __tablename__ = "written_answers"
    __table_args__ = (UniqueConstraint("engagement_id", "position", name="uq_answer_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagements.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")

    engagement: Mapped[Engagement] = relationship(back_populates="answers")
