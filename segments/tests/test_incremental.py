"""Incremental refresh: only the definitions a change can move, only the changed customers.

The property: after random changes to some customers, refreshing only those customers gives
the same membership (and ledger diff) as recomputing the whole segment.
"""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, connections, transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from customers.models import Customer
from customers.normalize import tags_normalize
from segments.dependencies import READS, could_change
from segments.models import (
    GroupAssignment,
    GroupMove,
    MembershipEvent,
    SegmentMembership,
    SegmentRefresh,
)
from segments.query import parse_query
from segments.query.normalise import to_text
from segments.query.registry import ATTRIBUTES
from segments.services import (
    group_set_create,
    group_set_refresh,
    group_set_refresh_customers,
    segment_create,
    segment_refresh,
    segment_refresh_customers,
    shop_derived_refresh,
)
from segments.signals import mirror_changed
from segments.tests.query.mirror_data import insert_customer, rewrite_customer
from segments.tests.query.test_equivalence import NOW, ZONES, customers, queries, query_edges
from tenants.tests.factories import agency_factory, api_client, api_key_factory, shop_factory

LATER = NOW + timedelta(hours=1)


def members(segment) -> set[int]:
    return set(
        SegmentMembership.all_shops.filter(segment=segment).values_list("customer_id", flat=True)
    )


def ledger(run) -> tuple[set[int], set[int]]:
    events = MembershipEvent.all_shops.filter(refresh=run)
    return (
        set(events.filter(kind="entered").values_list("customer_id", flat=True)),
        set(events.filter(kind="exited").values_list("customer_id", flat=True)),
    )


def tag(customer, *tags):
    customer.tags, customer.tags_normalized = list(tags), tags_normalize(tags)
    customer.save(update_fields=["tags", "tags_normalized"])


# --- which definitions a change can move ---------------------------------------------------------
def test_every_attribute_says_what_it_reads():
    assert set(ATTRIBUTES) <= set(READS)


def test_could_change():
    assert could_change({"customer_tags"}, frozenset({"tags", "tags_normalized"}))
    assert not could_change({"customer_tags", "amount_spent"}, frozenset({"first_name"}))
    assert not could_change({"customer_tags"}, frozenset())
    assert could_change({"products_purchased"}, frozenset({"orders"}))
    assert could_change({"shop"}, frozenset({"deleted_at"}))  # a deleted customer leaves all
    assert could_change({"shop"}, None)
    assert could_change({"an_attribute_added_later"}, frozenset({"note"}))


# --- the property -----------------------------------------------------------------------------
@pytest.mark.django_db(transaction=False)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=queries, zone=st.sampled_from(ZONES), data=st.data())
def test_incremental_equals_full_recompute(query, zone, data):
    text = to_text(parse_query(to_text(query)).root)
    assume("other.myshopify.com" not in text)  # a segment only names shops of its agency
    edges = query_edges(parse_query(text).root, zone)
    people = st.lists(customers(zone, edges), min_size=1, max_size=8)
    before = data.draw(people, label="before")
    with transaction.atomic():
        agency = agency_factory()
        shop = shop_factory(agency=agency, domain="equivalence.myshopify.com", timezone=zone)
        rows = [insert_customer(shop, spec) for spec in before]
        incremental = segment_create(agency=agency, name="inc", query=text, shop_ids=[shop.pk])
        full = segment_create(agency=agency, name="full", query=text, shop_ids=[shop.pk])
        segment_refresh(segment_id=incremental.pk, now=NOW)
        was = members(incremental)

        changed = []
        rewritten = data.draw(st.sets(st.sampled_from(range(len(rows)))), label="rewritten")
        for index, spec in zip(sorted(rewritten), data.draw(people), strict=False):
            rewrite_customer(rows[index], spec)
            changed.append(rows[index].pk)
        for index in data.draw(st.sets(st.sampled_from(range(len(rows)))), label="deleted"):
            Customer.all_shops.filter(pk=rows[index].pk).update(deleted_at=NOW)
            changed.append(rows[index].pk)
        for spec in data.draw(st.lists(customers(zone, edges), max_size=3), label="new"):
            changed.append(insert_customer(shop, spec).pk)

        run = segment_refresh_customers(segment_id=incremental.pk, customer_ids=changed, now=NOW)
        segment_refresh(segment_id=full.pk, now=NOW)
        now_members = members(incremental)
        expected = members(full)
        entered, exited = ledger(run) if run else (set(), set())
        incremental.refresh_from_db()
        transaction.set_rollback(True)
    assert now_members == expected, text
    assert (entered, exited) == (expected - was, was - expected), text
    # The count adjusted by the diff is the exact count of the new membership.
    assert incremental.members == len(expected), text
    if run is not None:
        assert run.members == len(expected), text


# --- ledger, untouched definitions, atomicity -----------------------------------------------------
@pytest.fixture
def store(db):
    agency = agency_factory()
    return agency, shop_factory(agency=agency)


def test_only_the_changed_customers_are_written(store):
    agency, shop = store
    alice, bob = insert_customer(shop, {"tags": ["vip"]}), insert_customer(shop, {"tags": ["vip"]})
    carol = insert_customer(shop, {})
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )
    first = segment_refresh(segment_id=segment.pk, now=NOW)
    tag(alice)
    tag(bob)  # changed too, but not named: an incremental refresh leaves it for later
    tag(carol, "vip")

    run = segment_refresh_customers(
        segment_id=segment.pk, customer_ids=[alice.pk, carol.pk], now=LATER
    )

    assert members(segment) == {bob.pk, carol.pk}
    assert ledger(run) == ({carol.pk}, {alice.pk})
    assert (run.entered, run.exited, run.members, run.reason) == (1, 1, 2, "data")
    segment.refresh_from_db()
    assert segment.members == 2
    assert MembershipEvent.all_shops.get(refresh=run, customer_id=carol.pk).occurred_at == LATER
    assert first.members == 2
    # Nothing moved: no run, no ledger row.
    assert segment_refresh_customers(segment_id=segment.pk, customer_ids=[carol.pk]) is None
    assert SegmentRefresh.objects.filter(segment=segment).count() == 2


def test_the_hook_refreshes_only_what_the_change_can_move(store):
    agency, shop = store
    alice = insert_customer(shop, {"tags": []})
    by_tag = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", all_shops=True
    )
    by_orders = segment_create(
        agency=agency, name="Buyers", query="number_of_orders >= 1", all_shops=True
    )
    lifecycle_like = group_set_create(
        agency=agency,
        name="Orders",
        slug="orders",
        groups=[{"name": "Buyers", "slug": "buyers", "query": "number_of_orders >= 1"}],
    )
    by_group = segment_create(
        agency=agency, name="In buyers", query="group = 'orders:buyers'", all_shops=True
    )
    for segment in (by_tag, by_orders, by_group):
        segment_refresh(segment_id=segment.pk, now=NOW)
    group_set_refresh(group_set_id=lifecycle_like.pk, now=NOW)
    runs = {s.pk: SegmentRefresh.objects.filter(segment=s).count() for s in (by_orders, by_group)}
    tag(alice, "vip")

    mirror_changed(
        shop_id=shop.pk, customer_ids=[alice.pk], reason="webhook", changed=frozenset({"tags"})
    )  # the task runs inline in tests

    assert members(by_tag) == {alice.pk}
    assert {pk: SegmentRefresh.objects.filter(segment_id=pk).count() for pk in runs} == runs
    assert not GroupMove.all_shops.filter(group_set=lifecycle_like, to_group="buyers").exists()

    # An order: the aggregates move the group set, and the group move reaches `group = ...`.
    Customer.all_shops.filter(pk=alice.pk).update(number_of_orders=1)
    mirror_changed(
        shop_id=shop.pk,
        customer_ids=[alice.pk],
        reason="webhook",
        changed=frozenset({"orders", "number_of_orders"}),
    )
    assert members(by_orders) == members(by_group) == {alice.pk}
    move = GroupMove.all_shops.get(
        group_set=lifecycle_like, customer_id=alice.pk, to_group="buyers"
    )
    assert (move.from_group, move.to_group) == ("other", "buyers")
    # Without `changed` (an older mirror, or a full re-read) anything may have moved.
    tag(alice)
    mirror_changed(shop_id=shop.pk, customer_ids=[alice.pk], reason="webhook")
    assert members(by_tag) == set()


def test_group_set_incremental_equals_full(store):
    agency, shop = store
    people = [
        insert_customer(shop, {"number_of_orders": n, "tags": ["vip"] if n == 2 else []})
        for n in (0, 1, 2, 3)
    ]
    rules = [
        {"name": "VIP", "slug": "vip", "query": "customer_tags CONTAINS 'vip'"},
        {"name": "Buyers", "slug": "buyers", "query": "number_of_orders >= 1"},
    ]
    incremental = group_set_create(agency=agency, name="A", slug="a", groups=rules)
    full = group_set_create(agency=agency, name="B", slug="b", groups=rules)
    group_set_refresh(group_set_id=incremental.pk, now=NOW)
    tag(people[0], "vip")
    tag(people[2])
    Customer.all_shops.filter(pk=people[3].pk).update(deleted_at=NOW)
    newcomer = insert_customer(shop, {"number_of_orders": 5})
    changed = [people[0].pk, people[2].pk, people[3].pk, newcomer.pk]

    moved = group_set_refresh_customers(
        group_set_id=incremental.pk, customer_ids=changed, now=LATER
    )
    group_set_refresh(group_set_id=full.pk, now=LATER)

    def placed(group_set):
        return dict(
            GroupAssignment.all_shops.filter(group_set=group_set).values_list(
                "customer_id", "group_slug"
            )
        )

    assert placed(incremental) == placed(full)
    later = GroupMove.all_shops.filter(group_set=incremental, moved_at=LATER)
    assert moved == 4
    assert set(later.values_list("customer_id", "from_group", "to_group")) == {
        (people[0].pk, "other", "vip"),
        (people[2].pk, "vip", "buyers"),
        (people[3].pk, "buyers", ""),
        (newcomer.pk, "", "buyers"),
    }
    assert group_set_refresh_customers(group_set_id=incremental.pk, customer_ids=changed) == 0


def test_member_count_stays_exact_across_incremental_and_full_refreshes(store):
    """Every run's count and the segment's (also in the API) equal the membership rows, through
    a sequence of incremental refreshes with entries, exits and no-ops between full ones."""
    agency, shop = store
    people = [insert_customer(shop, {"tags": ["vip"] if i % 2 else []}) for i in range(8)]
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )
    key = api_key_factory(agency=agency, scope="read")[1]
    client = api_client(key=key)

    def check(run):
        segment.refresh_from_db()
        rows = SegmentMembership.all_shops.filter(segment=segment).count()
        shown = client.get(f"/api/v1/segments/{segment.pk}/").json()["members"]
        assert segment.members == rows == shown
        if run is not None:
            assert run.members == rows

    check(None)  # never refreshed: 0
    check(segment_refresh_customers(segment_id=segment.pk, customer_ids=[people[1].pk]))
    check(segment_refresh(segment_id=segment.pk, now=NOW))
    steps = [
        ([0, 2], ["vip"], [0, 2]),  # two enter
        ([1], [], [1, 3]),  # one exits, one unchanged named
        ([4, 5], ["vip"], [4, 5]),  # one enters, one was in already
        ([6], [], [0, 6]),  # nobody moves
    ]
    for changed, tags, named in steps:
        for index in changed:
            tag(people[index], *tags)
        check(
            segment_refresh_customers(
                segment_id=segment.pk, customer_ids=[people[i].pk for i in named]
            )
        )
    tag(people[7])  # changed but not named: the rows (and the count) keep it until a full run
    check(segment_refresh_customers(segment_id=segment.pk, customer_ids=[people[0].pk]))
    assert segment.members == 6
    check(segment_refresh(segment_id=segment.pk, now=LATER))
    assert segment.members == 5
    check(segment_refresh_customers(segment_id=segment.pk, customer_ids=[p.pk for p in people]))


def test_a_failed_incremental_refresh_changes_nothing(store):
    agency, shop = store
    alice = insert_customer(shop, {"tags": ["vip"]})
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=segment.pk, now=NOW)
    tag(alice)
    with (
        mock.patch(
            "segments.services.membership.audit_event_record", side_effect=RuntimeError("boom")
        ),
        pytest.raises(RuntimeError),
    ):
        segment_refresh_customers(segment_id=segment.pk, customer_ids=[alice.pk], now=LATER)
    assert members(segment) == {alice.pk}
    assert MembershipEvent.all_shops.filter(segment=segment).count() == 1
    assert SegmentRefresh.objects.filter(segment=segment).count() == 1


@pytest.mark.django_db(transaction=True)
def test_readers_never_see_half_an_incremental_refresh():
    if connection.vendor != "postgresql":
        pytest.skip("needs two concurrent connections")
    agency = agency_factory()
    shop = shop_factory(agency=agency)
    old = [insert_customer(shop, {"tags": ["vip"]}) for _ in range(3)]
    segment = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", shop_ids=[shop.pk]
    )
    segment_refresh(segment_id=segment.pk, now=NOW)
    for customer in old:
        tag(customer)
    new = [insert_customer(shop, {"tags": ["vip"]}) for _ in range(2)]
    changed = [c.pk for c in old + new]

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
                segment_refresh_customers(segment_id=segment.pk, customer_ids=changed, now=LATER)
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


def test_derived_refresh_names_only_what_the_change_can_move(store):
    agency, shop = store
    alice = insert_customer(shop, {})
    by_tag = segment_create(
        agency=agency, name="VIP", query="customer_tags CONTAINS 'vip'", all_shops=True
    )
    by_orders = segment_create(
        agency=agency, name="Buyers", query="number_of_orders >= 1", all_shops=True
    )
    by_shop = segment_create(
        agency=agency, name="Everyone", query=f"shop = '{shop.domain}'", all_shops=True
    )
    buyers = group_set_create(
        agency=agency,
        name="Orders",
        slug="orders",
        groups=[{"name": "Buyers", "slug": "buyers", "query": "number_of_orders >= 1"}],
    )
    by_group = segment_create(
        agency=agency, name="In buyers", query="group = 'orders:buyers'", all_shops=True
    )
    group_set_refresh(group_set_id=buyers.pk, now=NOW)  # alice in "other"

    def refresh(changed):
        return shop_derived_refresh(
            shop_id=shop.pk, rescore=False, reason="data", customer_ids=[alice.pk], changed=changed
        )

    assert refresh(frozenset({"tags", "tags_normalized"})) == {
        "group_sets": [],
        "segments": [by_tag.pk],
    }
    assert refresh(frozenset({"first_name", "note"})) == {"group_sets": [], "segments": []}
    # The group set moves nobody (alice has no orders yet), so `group = ...` is left alone.
    assert refresh(frozenset({"number_of_orders"})) == {
        "group_sets": [buyers.pk],
        "segments": [by_orders.pk],
    }
    Customer.all_shops.filter(pk=alice.pk).update(number_of_orders=2)
    assert refresh(frozenset({"number_of_orders"})) == {
        "group_sets": [buyers.pk],
        "segments": [by_orders.pk, by_group.pk],  # segments come in name order
    }
    everything = refresh(None)["segments"]
    assert set(everything) == {by_tag.pk, by_orders.pk, by_shop.pk, by_group.pk}
    assert set(refresh(frozenset({"deleted_at"}))["segments"]) == set(everything)
