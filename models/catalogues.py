"""Fixed lists an admin can edit (industries, regions, topics, formats, job levels) and the
free tags created when first used (use cases, products, competitors). All are compared
case-insensitively through their ``key``."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models._columns import NamedMixin

SECTORS = ("tech", "health", "finance", "industrial", "services", "public")

# (label, lowest employee count, highest employee count or None); derived, never stored.
SIZE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("1–50", 1, 50),
    ("51–200", 51, 200),
    ("201–1000", 201, 1000),
    ("1001–5000", 1001, 5000),
    ("5000+", 5001, None),
)


def size_band_index(employees: int | None) -> int | None:
    """0 for the smallest band, up to 4 for 5000+; None when the size is unknown."""
    if employees is None or employees < 1:
        return None
    for index, (_label, low, high) in enumerate(SIZE_BANDS):
        if employees >= low and (high is None or employees <= high):
            return index
    return None  # pragma: no cover - the last band is open-ended


def size_band(employees: int | None) -> str | None:
    index = size_band_index(employees)
    return None if index is None else SIZE_BANDS[index][0]


class Industry(NamedMixin, db.Model):
    __tablename__ = "industries"

    id: Mapped[int] = mapped_column(primary_key=True)
    sector: Mapped[str] = mapped_column(String(20))


class Region(NamedMixin, db.Model):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)


class Topic(NamedMixin, db.Model):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(60))


class Format(db.Model):
    """How a reference happens: call, video call, written, site visit."""

    __tablename__ = "formats"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    # Live formats need a slot in the advocate's availability; written ones do not.
    is_live: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer, default=0)


class JobLevel(db.Model):
    __tablename__ = "job_levels"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    rank: Mapped[int] = mapped_column(Integer, unique=True)


class UseCase(NamedMixin, db.Model):
    __tablename__ = "use_cases"

    id: Mapped[int] = mapped_column(primary_key=True)


class Product(NamedMixin, db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)


class Competitor(NamedMixin, db.Model):
    __tablename__ = "competitors"

    id: Mapped[int] = mapped_column(primary_key=True)
