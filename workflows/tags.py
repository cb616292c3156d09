"""Free tags (products, use cases, competitors): found by their case-folded key, created when
first used, the same row for everyone who names them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from models import Competitor, Product, UseCase, db
from models._columns import name_key

TagModel = type[Product] | type[UseCase] | type[Competitor]


def _insert(model: TagModel):
    """An INSERT that skips rows whose unique key another transaction has just taken."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing(index_elements=[model.key])
    if dialect == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing(index_elements=[model.key])
    return None


def tags(model: TagModel, names: Iterable[str]) -> dict[str, object]:
    """The tag rows for ``names`` by key, the missing ones created: one query, three when some are new.

    ``"Fleet tracking"`` finds ``"fleet tracking"`` and keeps its spelling. Two people creating
    the same new tag at once both end up with the one row.
    """
    wanted: dict[str, str] = {}
    for name in names:
        if name.strip():
            wanted.setdefault(name_key(name), " ".join(name.split()))
    if not wanted:
        return {}
    rows = {row.key: row for row in db.session.scalars(select(model).where(model.key.in_(wanted)))}
    # In key order, so that two transactions creating the same tags take their locks in one order.
    missing = {key: wanted[key] for key in sorted(wanted) if key not in rows}
    if missing:
        insert = _insert(model)
        if insert is None:  # pragma: no cover - PostgreSQL and SQLite are the databases we run on
            for name in missing.values():
                db.session.add(model(name=name))
            db.session.flush()
        else:
            db.session.execute(insert, [{"name": name, "key": key} for key, name in missing.items()])
        rows.update(
            (row.key, row) for row in db.session.scalars(select(model).where(model.key.in_(missing)))
        )
    return {key: rows[key] for key in wanted}  # in the order given


def tag_list(model: TagModel, names: Iterable[str]) -> list:
    """The rows of ``tags``, in the order given."""
    return list(tags(model, names).values())
