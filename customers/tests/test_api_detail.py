"""GET /api/v1/customers/{id}/: the sections other apps add (segments, groups, duplicate
candidates) and the merge history, in a bounded number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer
from customers.tests.test_api import customer_line, mirror, world  # noqa: F401 (fixture)
from merges.models import DuplicateCandidate
from segments.services import group_set_create, group_set_refresh, segment_create, segment_refresh

pytestmark = pytest.mark.django_db


def _segment(agency, shop, name, query):
    segment = segment_create(agency=agency, name=name, query=query, shop_ids=[shop.pk])
    segment_refresh(segment_id=segment.pk)
    return segment


def _candidate(shop, members, *, probability, status=DuplicateCandidate.Status.OPEN):
    return DuplicateCandidate.all_shops.create(
        shop=shop,
        members=sorted(members),
        survivor_id=members[0],
        probability=probability,
        tier="high" if probability >= 0.9 else "medium",
        status=status,
        detector_version="test",
        detected_at=timezone.now(),
    )


@pytest.fixture
def related(world):  # noqa: F811
    agency, shop = world["agency"], world["a"]
    customers = {c.shopify_id: c for c in Customer.all_shops.filter(shop=shop)}
    ada, bob = customers[1], customers[2]
    big = _segment(agency, shop, "Big spenders", "amount_spent >= 100")
    everyone = _segment(agency, shop, "Everyone", "number_of_orders >= 0")
    lifecycle = group_set_create(
        agency=agency,
        name="Lifecycle",
        slug="lifecycle",
        groups=[{"name": "Buyers", "slug": "buyers", "query": "number_of_orders >= 1"}],
    )
    group_set_refresh(group_set_id=lifecycle.pk)
    # Two customers Shopify merged into Ada, at different times.
    mirror(shop, [customer_line(5, firstName="Ada", lastName="L"), customer_line(6)])
    merged_at = timezone.now() - timedelta(days=3)
    Customer.all_shops.filter(shop=shop, shopify_id=5).update(merged_into=ada, deleted_at=merged_at)
    Customer.all_shops.filter(shop=shop, shopify_id=6).update(
        merged_into=ada, deleted_at=merged_at + timedelta(days=1)
    )
    open_pair = _candidate(shop, [ada.id, bob.id], probability=0.93)
    _candidate(shop, [ada.id, bob.id], probability=0.99, status="dismissed")
    return {"ada": ada, "bob": bob, "big": big, "everyone": everyone, "pair": open_pair}


def test_detail_has_segments_groups_duplicate_candidates_and_merge_history(world, related):  # noqa: F811
    ada, bob = related["ada"], related["bob"]
    body = world["viewer"].get(f"/api/v1/customers/{ada.id}/").json()
    assert [(s["id"], s["name"]) for s in body["segments"]] == [
        (related["big"].pk, "Big spenders"),
        (related["everyone"].pk, "Everyone"),
    ]
    assert [
        (g["group_set"]["slug"], g["group"]["slug"], g["group"]["name"]) for g in body["groups"]
    ] == [("lifecycle", "buyers", "Buyers")]
    assert body["duplicate_candidates"] == [
        {
            "id": related["pair"].pk,
            "probability": 0.93,
            "tier": "high",
            "members": [{"id": bob.id, "name": "Bob Müller"}],
            "suggested_survivor": ada.id,
            "needs_split": False,
            "detected_at": body["duplicate_candidates"][0]["detected_at"],
        }
    ]  # the dismissed candidate is not listed
    history = body["merge_history"]
    assert history["merged_into"] is None
    assert [m["shopify_id"] for m in history["merged_from"]] == [5, 6]
    assert history["merged_from"][0]["name"] == "Ada L"

    bob_body = world["viewer"].get(f"/api/v1/customers/{bob.id}/").json()
    assert [s["name"] for s in bob_body["segments"]] == ["Everyone"]
    assert [(g["group"]["slug"], g["group"]["name"]) for g in bob_body["groups"]] == [
        ("other", "Other")
    ]
    assert [m["id"] for m in bob_body["duplicate_candidates"][0]["members"]] == [ada.id]

    merged_away = Customer.all_shops.get(shop=world["a"], shopify_id=5)
    gone = world["viewer"].get(f"/api/v1/customers/{merged_away.id}/?include_deleted=true")
    assert gone.status_code == 200, gone.content
    assert gone.json()["merge_history"]["merged_into"]["id"] == ada.id


def test_detail_sections_follow_field_selection(world, related):  # noqa: F811
    ada = related["ada"]
    body = world["viewer"].get(f"/api/v1/customers/{ada.id}/?fields=id,segments").json()
    assert set(body) == {"id", "segments"} and len(body["segments"]) == 2


def _detail_queries(client, customer) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1/customers/{customer.id}/")
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


def test_detail_query_count_does_not_grow_with_memberships(
    world,  # noqa: F811
    related,
    django_assert_max_num_queries,
):
    agency, shop, ada = world["agency"], world["a"], related["ada"]
    few = _detail_queries(world["viewer"], ada)
    for n in range(8):
        _segment(agency, shop, f"Extra {n}", f"number_of_orders >= {n % 2}")
        group_set = group_set_create(
            agency=agency,
            name=f"Set {n}",
            slug=f"set-{n}",
            groups=[{"name": f"G{n}", "slug": f"g{n}", "query": "number_of_orders >= 1"}],
        )
        group_set_refresh(group_set_id=group_set.pk)
        other = Customer.all_shops.create(
            shop=shop, shopify_id=100 + n, gid=f"gid://shopify/Customer/{100 + n}"
        )
        _candidate(shop, [ada.id, other.id], probability=0.5 + n / 100)
        Customer.all_shops.filter(pk=other.pk).update(merged_into=ada, deleted_at=timezone.now())
    body = world["viewer"].get(f"/api/v1/customers/{ada.id}/").json()
    assert len(body["segments"]) == 2 + 8 and len(body["groups"]) == 1 + 8
    assert (
        len(body["duplicate_candidates"]) == 1 + 8
        and len(body["merge_history"]["merged_from"]) == 10
    )
    many = _detail_queries(world["viewer"], ada)
    assert many == few
    with django_assert_max_num_queries(15):
        world["viewer"].get(f"/api/v1/customers/{ada.id}/")
