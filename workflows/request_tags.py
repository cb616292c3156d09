"""The names of requests' tags (use cases, topics, competitors) as their pages show them: for any
number of requests in one query of the link tables, where loading the three lists of objects
costs a query each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import bindparam, literal, select, union_all

from models import Competitor, Topic, UseCase, db
from models.requests import request_competitors, request_topics, request_use_cases

# kind → the request's link table and the tag it links to; matching reads the same.
TAG_LINKS = (
    ("use_case", request_use_cases, UseCase),
    ("topic", request_topics, Topic),
    ("competitor", request_competitors, Competitor),
)


@dataclass(frozen=True)
class RequestTags:
    use_cases: tuple[str, ...] = field(default=())
    topics: tuple[str, ...] = field(default=())
    competitors: tuple[str, ...] = field(default=())


NO_TAGS = RequestTags()


@cache
def _tag_names():
    ids = bindparam("ids", expanding=True)
    parts = []
    for kind, link, tag in TAG_LINKS:
        table = tag.__table__
        parts.append(
            select(link.c.request_id, literal(kind).label("kind"), table.c.id, table.c.name)
            .join_from(link, table, table.c.id == link.c[f"{kind}_id"])
            .where(link.c.request_id.in_(ids)))
    everything = union_all(*parts).subquery()
    return select(everything).order_by(everything.c.request_id, everything.c.kind, everything.c.id)


def request_tags(request_ids: Iterable[int]) -> dict[int, RequestTags]:
    """request id → the names of its tags, each kind in the order the tags were made; a request
    without tags (or not found) maps to ``NO_TAGS``."""
    ids = sorted(set(request_ids))
    if not ids:
        return {}
    named: dict[int, dict[str, list[str]]] = {i: {"use_case": [], "topic": [], "competitor": []} for i in ids}
    for request_id, kind, _id, name in db.session.connection().execute(_tag_names(), {"ids": ids}):
        named[request_id][kind].append(name)
    return {i: RequestTags(tuple(n["use_case"]), tuple(n["topic"]), tuple(n["competitor"]))
            for i, n in named.items()}
