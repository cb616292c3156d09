"""One denormalised row per advocate holding everything matching reads (DESIGN.md §8), kept
current by ``workflows.matching`` in the same transaction as every write that changes it, and
the pool version every such transaction bumps.

Moments are whole microseconds since 1970 (UTC) and days are ordinals, so both databases
compare them as plain integers; sets of keys are newline-framed text (``\\nroi\\nsecurity\\n``:
a key never holds a newline), so one ``instr``/``strpos`` asks whether a key is in a set.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models import db


class MatchRow(db.Model):
    __tablename__ = "match_rows"

    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocates.id", ondelete="CASCADE"),
                                             primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200))
    company_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    consented: Mapped[bool] = mapped_column(Boolean)
    snoozed_until_day: Mapped[int | None] = mapped_column(Integer)  # date.toordinal()
    calls: Mapped[int] = mapped_column(Integer)  # calls counted in calls_quarter
    calls_quarter: Mapped[str] = mapped_column(String(8))
    quarterly_limit: Mapped[int] = mapped_column(Integer)
    last_call_us: Mapped[int | None] = mapped_column(BigInteger)
    # The first call starting after computed_us: once it has started, last_call_us is stale.
    next_call_us: Mapped[int | None] = mapped_column(BigInteger)
    too_soon_until_us: Mapped[int | None] = mapped_column(BigInteger)  # last call + the gap
    min_days_between_calls: Mapped[int] = mapped_column(Integer)
    max_calls_per_day: Mapped[int] = mapped_column(Integer)
    formats: Mapped[str] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(String(120))
    sector: Mapped[str | None] = mapped_column(String(120))
    size_band: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    job_level_rank: Mapped[int | None] = mapped_column(Integer)
    use_cases: Mapped[str] = mapped_column(Text)
    glad_topics: Mapped[str] = mapped_column(Text)
    avoided_topics: Mapped[str] = mapped_column(Text)
    competitors: Mapped[str] = mapped_column(Text)
    refused_companies: Mapped[str] = mapped_column(Text)
    feedback_average: Mapped[float | None] = mapped_column(Float)
    has_windows: Mapped[bool] = mapped_column(Boolean)
    # The first free slot searched at computed_us (None: none within the horizon then).
    slot_start_us: Mapped[int | None] = mapped_column(BigInteger)
    slot_end_us: Mapped[int | None] = mapped_column(BigInteger)
    computed_us: Mapped[int] = mapped_column(BigInteger)


class PoolVersion(db.Model):
    """A single row: bumped once by every transaction that changes any match row."""

    __tablename__ = "pool_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
