"""Segment definitions, versions, refresh ledger, atomicity, time travel, snapshots, isolation."""

import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from audit.models import AuditEvent
from customers.models import Customer
from customers.normalize import tags_normalize
from segments.models import MembershipEvent, Segment, SegmentMembership, SegmentVersion, Snapshot
from segments.query import SegmentQueryError
from segments.selectors import UnknownShops, segment_members_as_of, segment_preview
from segments.services import (
    SegmentConflict,
    segment_create,
    segment_refresh,
    segment_restore,
    segment_update,
    snapshot_create,
)
from segments.tests.query.mirror_data import insert_customer
from tenants.actors import Actor
from tenants.scoping import shop_scope
from tenants.tests.factories import agency_factory, shop_factory, user_factory

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
def agency(db):
    return agency_factory()


@pytest.fixture
def shops(agency):
    return [shop_factory(agency=agency), shop_factory(agency=agency)]


def tag(customer, *tags):
    customer.tags = list(tags)
    customer.tags_normalized = tags_normalize(tags)
    customer.save(update_fields=["tags", "tags_normalized"])


def members(segment):
    return set(
        SegmentMembership.all_shops.filter(segment=segment).values_list("customer_id", flat=True)
    )


def test_create_validates_before_writing(agency, shops):
    with pytest.raises(SegmentQueryError) as caught:
        segment_create(
            agency=agency, name="VIP", query="customer_tag CONTAINS 'vip'", shop_ids=[shops[0].pk]
        )
    assert caught.value.errors[0].suggestion == "customer_tags"
    foreign = shop_factory(agency=agency_factory())
    with pytest.raises(UnknownShops):
        segment_create(
            agency=agency, name="VIP", query="number_of_orders > 1", shop_ids=[foreign.pk]
        )
    with pytest.raises(ValidationError):
        segment_create(agency=agency, name="  ", query="number_of_orders > 1", all_shops=True)
    with pytest.raises(SegmentQueryError) as caught:
        segment_create(
            agency=agency, name="One shop", query="shop = 'nope.myshopify.com'", all_shops=True
        )
    assert caught.value.errors[0].code == "unknown_value"
    assert (
        not Segment.objects.exists()
        and not AuditEvent.objects.filter(event="segment.created").exists()
    )

    segment_create(agency=agency, name="VIP", query="customer_tags contains 'vip'", all_shops=True)
    with pytest.raises(ValidationError):
        segment_create(agency=agency, name="VIP", query="number_of_orders > 1", all_shops=True)


def test_versions_diff_and_restore(agency, shops):
    editor = user_factory()
    segment = segment_create(
        agency=agency,
        name="Buyers",
        query="number_of_orders>=1",
        shop_ids=[shops[0].pk],
        actor=Actor(user=editor),
    )
    assert segment.query == "number_of_orders >= 1" and segment.version == 1
    segment_update(
        agency=agency,
        segment_id=segment.pk,
        query="number_of_orders >= 2",
        actor=Actor(user=editor),
    )
    segment_update(agency=agency, segment_id=segment.pk, all_shops=True)
    segment_update(agency=agency, segment_id=segment.pk, all_shops=True)  # no change: no version
    with pytest.raises(SegmentConflict):
        segment_update(agency=agency, segment_id=segment.pk, name="X", expected_version=2)

    v2 = SegmentVersion.objects.get(segment=segment, number=2)
    assert v2.diff == {"query": ["number_of_orders >= 1", "number_of_orders >= 2"]}
    assert v2.edited_by == editor
    v3 = SegmentVersion.objects.get(segment=segment, number=3)
    assert v3.diff == {"all_shops": [False, True], "shop_ids": [[shops[0].pk], []]}

    restored = segment_restore(agency=agency, segment_id=segment.pk, version=1)
    assert (restored.version, restored.query, restored.all_shops) == (
        4,
        "number_of_orders >= 1",
        False,
    )
    assert list(restored.shops.values_list("pk", flat=True)) == [shops[0].pk]
    assert SegmentVersion.objects.filter(segment=segment).count() == 4
    events = list(
        AuditEvent.objects.filter(target_type="segment")
        .values_list("event", flat=True)
        .order_by("seq")
    )
    assert events == ["segment.created", "segment.updated", "segment.updated", "segment.restored"]


def test_refresh_writes_the_ledger_and_time_travel_reads_it(agency, shops):
    shop = shops[0]
    alice, bob, carol = (insert_customer(shop, {"tags": t}) for t in (["vip"], [], ["VIP", "x"]))
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )

    first = segment_refresh(segment_id=segment.pk, now=T0)
    assert (first.entered, first.exited, first.members) == (2, 0, 2)
    assert members(segment) == {alice.pk, carol.pk}

    tag(alice)
    tag(bob, "vip")
    second = segment_refresh(segment_id=segment.pk, now=T0 + timedelta(days=1))
    assert (second.entered, second.exited, second.members) == (1, 1, 2)
    assert members(segment) == {bob.pk, carol.pk}
    again = segment_refresh(segment_id=segment.pk, now=T0 + timedelta(days=2))
    assert (again.entered, again.exited) == (0, 0)

    ledger = list(
        MembershipEvent.all_shops.filter(segment=segment)
        .order_by("id")
        .values_list("customer_id", "kind", "refresh_id")
    )
    assert sorted(ledger[:2]) == sorted(
        [(alice.pk, "entered", first.pk), (carol.pk, "entered", first.pk)]
    )
    assert sorted(ledger[2:]) == sorted(
        [(bob.pk, "entered", second.pk), (alice.pk, "exited", second.pk)]
    )

    with shop_scope([shop.pk]):

        def as_of(moment):
            return set(segment_members_as_of(segment=segment, as_of=moment, shop_ids=[shop.pk]))

        assert as_of(T0 - timedelta(seconds=1)) == set()
        assert as_of(T0) == {alice.pk, carol.pk}
        assert as_of(T0 + timedelta(hours=30)) == {bob.pk, carol.pk}


def test_deleted_customers_exit(agency, shops):
    shop = shops[0]
    alice = insert_customer(shop, {"number_of_orders": 2})
    segment = segment_create(
        agency=agency, name="Repeat", query="number_of_orders >= 2", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=segment.pk, now=T0)
    Customer.all_shops.filter(pk=alice.pk).update(deleted_at=T0)
    run = segment_refresh(segment_id=segment.pk, now=T0 + timedelta(hours=1))
    assert (run.exited, members(segment)) == (1, set())


def test_a_failed_refresh_changes_nothing(agency, shops):
    shop = shops[0]
    alice = insert_customer(shop, {"tags": ["vip"]})
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=segment.pk, now=T0)
    tag(alice)
    insert_customer(shop, {"tags": ["vip"]})
    with (
        mock.patch(
            "segments.services.membership.audit_event_record", side_effect=RuntimeError("boom")
        ),
        pytest.raises(RuntimeError),
    ):
        segment_refresh(segment_id=segment.pk, now=T0 + timedelta(days=1))
    assert members(segment) == {alice.pk}
    assert MembershipEvent.all_shops.filter(segment=segment).count() == 1


@pytest.mark.django_db(transaction=True)
def test_readers_never_see_half_a_refresh():
    if connection.vendor != "postgresql":
        pytest.skip("needs two concurrent connections")
    agency = agency_factory()
    shop = shop_factory(agency=agency)
    old = [insert_customer(shop, {"tags": ["vip"]}) for _ in range(3)]
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=segment.pk, now=T0)
    for customer in old:
        tag(customer)
    new = [insert_customer(shop, {"tags": ["vip"]}) for _ in range(2)]

    reached, release = threading.Event(), threading.Event()
    from audit.services import audit_event_record as real_record

    def paused(**kwargs):
        reached.set()  # every row of the refresh is written, not yet committed
        release.wait(10)
        return real_record(**kwargs)

    errors = []

    def refresh():
        try:
            with mock.patch("segments.services.membership.audit_event_record", paused):
                segment_refresh(segment_id=segment.pk, now=T0 + timedelta(days=1))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    worker = threading.Thread(target=refresh)
    worker.start()
    assert reached.wait(10)
    seen_during = members(segment)
    ledger_during = MembershipEvent.all_shops.filter(segment=segment).count()
    release.set()
    worker.join(10)
    assert not errors
    assert seen_during == {c.pk for c in old} and ledger_during == 3
    assert members(segment) == {c.pk for c in new}
    assert MembershipEvent.all_shops.filter(segment=segment).count() == 3 + 5


def test_snapshot_is_frozen(agency, shops):
    shop = shops[0]
    alice, bob = insert_customer(shop, {"tags": ["vip"]}), insert_customer(shop, {})
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=segment.pk, now=T0)
    snapshot = snapshot_create(agency=agency, segment_id=segment.pk, name="May campaign")
    tag(bob, "vip")
    segment_refresh(segment_id=segment.pk, now=T0 + timedelta(days=1))
    assert snapshot.members == 1
    assert list(snapshot.rows.values_list("customer_id", flat=True)) == [alice.pk]
    assert snapshot.query == "customer_tags CONTAINS 'vip'"
    with pytest.raises(ValidationError):
        snapshot_create(agency=agency, segment_id=segment.pk, name="May campaign")
    assert Snapshot.objects.count() == 1


def test_preview_counts_per_shop_and_the_change(agency, shops):
    a, b = shops
    alice, bob = (
        insert_customer(a, {"number_of_orders": 3}),
        insert_customer(b, {"number_of_orders": 5}),
    )
    insert_customer(b, {"number_of_orders": 0})
    preview = segment_preview(agency=agency, query="number_of_orders >= 1", all_shops=True)
    assert preview.counts == {a.pk: 1, b.pk: 1} and preview.total == 2
    assert [row["id"] for row in preview.sample] == [alice.pk, bob.pk]

    segment = segment_create(
        agency=agency, name="Buyers", query="number_of_orders >= 1", all_shops=True
    )
    segment_refresh(segment_id=segment.pk, now=T0)
    change = segment_preview(
        agency=agency,
        query="number_of_orders >= 4 OR number_of_orders = 0",
        all_shops=True,
        segment=segment,
    )
    assert (change.adds, change.removes, change.total) == (1, 1, 2)


def test_agencies_never_see_each_other(agency, shops):
    other = agency_factory()
    other_shop = shop_factory(agency=other)
    mine = insert_customer(shops[0], {"number_of_orders": 1})
    insert_customer(other_shop, {"number_of_orders": 1})
    segment = segment_create(
        agency=agency, name="Buyers", query="number_of_orders >= 1", all_shops=True
    )
    segment_refresh(segment_id=segment.pk, now=T0)
    assert members(segment) == {mine.pk}
    with pytest.raises(Segment.DoesNotExist):
        segment_update(agency=other, segment_id=segment.pk, name="Mine now")
    with pytest.raises(UnknownShops):
        segment_preview(
            agency=other, query="number_of_orders >= 1", all_shops=False, shop_ids=[shops[0].pk]
        )
