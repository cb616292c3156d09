"""The catalogues' entries as a form offers them: several catalogues in one query, each in its
own order (names alphabetically, formats by position, tiers by rank), instead of a query each."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import String, cast, func, literal, null, select, union_all

from models import Format, Industry, Region, Tier, Topic, db


class Choice(NamedTuple):
    value: str  # what the form sends: an id or code, or the name where the contract carries names
    name: str
    detail: str | None = None  # a tier's calls a quarter


# kind → (value, name, detail, order)
_KINDS = {
    "industry": (Industry.id, Industry.name, None, Industry.name),
    "industry_name": (Industry.name, Industry.name, None, Industry.name),
    "region_name": (Region.name, Region.name, None, Region.name),
    "topic": (Topic.id, Topic.name, None, Topic.name),
    "topic_name": (Topic.name, Topic.name, None, Topic.name),
    "format": (Format.code, Format.name, None, Format.position),
    "tier": (Tier.id, Tier.name, Tier.quarterly_quota, Tier.rank),
}


@lru_cache(maxsize=32)
def _query(kinds: tuple[str, ...]):
    parts = []
    for kind in kinds:
        value, name, detail, order = _KINDS[kind]
        parts.append(select(
            literal(kind).label("kind"),
            cast(value, String).label("value"),
            name.label("name"),
            (cast(detail, String) if detail is not None else null()).label("detail"),
            func.row_number().over(order_by=(order, value)).label("position"),
        ))
    every = union_all(*parts).subquery()
    return select(every.c.kind, every.c.value, every.c.name, every.c.detail).order_by(
        every.c.kind, every.c.position)


def catalogue_choices(*kinds: str) -> dict[str, list[Choice]]:
    """kind (``industry``, ``topic``, ``format``, ``tier``: by id or code; ``industry_name``,
    ``region_name``, ``topic_name``: by name) → its entries, in one query."""
    found: dict[str, list[Choice]] = {kind: [] for kind in kinds}
    for kind, value, name, detail in db.session.connection().execute(_query(tuple(kinds))):
        found[kind].append(Choice(value, name, detail))
    return found
