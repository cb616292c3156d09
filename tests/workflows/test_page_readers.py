"""The readers pages share: the names of requests' tags, and the catalogues as form choices,
each in one query whatever the number of requests or catalogues."""

from sqlalchemy import select

from models import Format, Industry, ReferenceRequest, Region, Tier, Topic, db
from workflows.catalogue_choices import Choice, catalogue_choices
from workflows.request_tags import NO_TAGS, RequestTags, request_tags


def test_the_tags_of_several_requests_come_in_one_query_each_kind_in_the_order_made(
        app_context, make_request, count_queries):
    first = make_request(topics=["Security", "Migration"], use_cases=["Fleet tracking", "Billing"],
                         competitors=["Acme CRM"])
    second = make_request(topics=["ROI"])
    bare = make_request()
    topic_ids = {t.name: t.id for t in db.session.scalars(select(Topic))}

    with count_queries() as queries:
        found = request_tags([first.id, second.id, bare.id, first.id, 2_000_000])
    assert len(queries) == 1
    assert found[first.id] == RequestTags(
        use_cases=("Fleet tracking", "Billing"),  # made in this order
        topics=tuple(sorted(("Security", "Migration"), key=topic_ids.get)),
        competitors=("Acme CRM",),
    )
    assert found[second.id] == RequestTags(topics=("ROI",))
    assert found[bare.id] == NO_TAGS
    assert found[2_000_000] == NO_TAGS  # no such request: nothing to show
    assert request_tags([]) == {}


def test_the_tags_are_those_the_request_holds(app_context, make_request):
    made = make_request(topics=["Security", "ROI", "Adoption"], use_cases=["Billing"], competitors=["X", "Y"])
    held = db.session.get(ReferenceRequest, made.id)
    found = request_tags([made.id])[made.id]
    assert set(found.topics) == {t.name for t in held.topics}
    assert found.use_cases == tuple(u.name for u in held.use_cases)
    assert set(found.competitors) == {c.name for c in held.competitors}


def test_the_catalogues_come_in_one_query_each_in_its_own_order(app_context, count_queries):
    kinds = ("industry", "industry_name", "region_name", "topic", "topic_name", "format", "tier")
    with count_queries() as queries:
        found = catalogue_choices(*kinds)
    assert len(queries) == 1
    assert set(found) == set(kinds)

    def read(*columns, order):
        return [Choice(*(None if v is None else str(v) for v in row))
                for row in db.session.execute(select(*columns).order_by(*order))]

    assert found["industry"] == read(Industry.id, Industry.name, order=(Industry.name, Industry.id))
    assert found["industry_name"] == read(Industry.name, Industry.name, order=(Industry.name,))
    assert found["region_name"] == read(Region.name, Region.name, order=(Region.name,))
    assert found["topic"] == read(Topic.id, Topic.name, order=(Topic.name, Topic.id))
    assert found["topic_name"] == read(Topic.name, Topic.name, order=(Topic.name,))
    assert found["format"] == read(Format.code, Format.name, order=(Format.position,))
    assert found["tier"] == read(Tier.id, Tier.name, Tier.quarterly_quota, order=(Tier.rank,))
    assert [c.name for c in found["format"]][:2] == ["Phone call", "Video call"]
    assert all(c.detail is None for c in found["topic"])


def test_only_the_catalogues_asked_for_are_read(app_context):
    found = catalogue_choices("tier")
    assert list(found) == ["tier"]
    assert found["tier"] and all(c.detail and c.detail.isdigit() for c in found["tier"])
