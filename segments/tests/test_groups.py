"""Group sets: exclusive first-match groups, moves recorded, the `group` attribute."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from customers.models import Customer
from segments.models import GroupAssignment, GroupMove, SegmentMembership
from segments.query import SegmentQueryError, parse_query
from segments.query.evaluate import matches
from segments.selectors import group_moves_summary, group_stats
from segments.services import (
    group_set_create,
    group_set_install_built_in,
    group_set_refresh,
    segment_create,
    segment_refresh,
)
from segments.tests.query.mirror_data import insert_customer
from tenants.tests.factories import agency_factory, shop_factory

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def days_ago(n):
    return NOW - timedelta(days=n)


@pytest.fixture
def store(db):
    agency = agency_factory()
    shop = shop_factory(agency=agency, timezone="Europe/Paris")
    people = {
        "newbie": {
            "number_of_orders": 1,
            "first_order_at": days_ago(3),
            "last_order_at": days_ago(3),
        },
        "whale": {
            "number_of_orders": 9,
            "amount_spent": Decimal(5000),
            "predicted_spend_tier": "HIGH",
            "first_order_at": days_ago(900),
            "last_order_at": days_ago(20),
        },
        "regular": {
            "number_of_orders": 3,
            "first_order_at": days_ago(400),
            "last_order_at": days_ago(40),
        },
        "fading": {
            "number_of_orders": 2,
            "first_order_at": days_ago(400),
            "last_order_at": days_ago(120),
        },
        "gone": {
            "number_of_orders": 2,
            "first_order_at": days_ago(800),
            "last_order_at": days_ago(500),
        },
        "browser": {"number_of_orders": 0},
        "odd": {"number_of_orders": 2},  # orders but no order dates: no rule matches
    }
    rows = {name: insert_customer(shop, spec) for name, spec in people.items()}
    return agency, shop, rows


def assignments(group_set):
    return dict(
        GroupAssignment.all_shops.filter(group_set=group_set).values_list(
            "customer_id", "group_slug"
        )
    )


def test_lifecycle_groups_are_exclusive_and_moves_are_recorded(store):
    agency, _shop, rows = store
    lifecycle = group_set_install_built_in(agency=agency, kind="lifecycle")
    moved = group_set_refresh(group_set_id=lifecycle.pk, now=NOW)
    assert moved == len(rows)
    by_name = {name: assignments(lifecycle)[row.pk] for name, row in rows.items()}
    assert by_name == {
        "newbie": "new",
        "whale": "high-value",
        "regular": "active",
        "fading": "at-risk",
        "gone": "dormant",
        "browser": "prospects",
        "odd": "other",
    }
    assert GroupAssignment.all_shops.filter(group_set=lifecycle).count() == len(rows)  # one each

    # The regular customer lapses, the browser buys, the odd one is deleted.
    Customer.all_shops.filter(pk=rows["regular"].pk).update(last_order_at=days_ago(300))
    Customer.all_shops.filter(pk=rows["browser"].pk).update(
        number_of_orders=1, first_order_at=days_ago(1), last_order_at=days_ago(1)
    )
    Customer.all_shops.filter(pk=rows["odd"].pk).update(deleted_at=NOW)
    later = NOW + timedelta(days=1)
    assert group_set_refresh(group_set_id=lifecycle.pk, now=later) == 3
    assert group_set_refresh(group_set_id=lifecycle.pk, now=later) == 0  # idempotent

    moves = set(
        GroupMove.all_shops.filter(group_set=lifecycle, moved_at=later).values_list(
            "customer_id", "from_group", "to_group"
        )
    )
    assert moves == {
        (rows["regular"].pk, "active", "dormant"),
        (rows["browser"].pk, "prospects", "new"),
        (rows["odd"].pk, "other", ""),
    }
    summary = group_moves_summary(group_set=lifecycle, since=later)
    assert {"from_group": "active", "to_group": "dormant", "customers": 1} in summary

    stats = {row["group"]: row for row in group_stats(group_set=lifecycle)}
    assert stats["high-value"]["members"] == 1 and stats["high-value"]["total_spent"] == Decimal(
        5000
    )
    assert stats["dormant"]["members"] == 2 and stats["other"]["members"] == 0


def test_group_attribute_in_segments(store):
    agency, _shop, rows = store
    lifecycle = group_set_install_built_in(agency=agency, kind="lifecycle")
    group_set_refresh(group_set_id=lifecycle.pk, now=NOW)
    segment = segment_create(
        agency=agency,
        name="Win back",
        query="group = 'lifecycle:dormant' OR group = 'lifecycle:at-risk'",
        all_shops=True,
    )
    segment_refresh(segment_id=segment.pk, now=NOW)
    found = set(
        SegmentMembership.all_shops.filter(segment=segment).values_list("customer_id", flat=True)
    )
    assert found == {rows["fading"].pk, rows["gone"].pk}

    root = parse_query("group != 'lifecycle:dormant'").root
    assert matches(root, {"group": ["lifecycle:active"]}, now=NOW, zone=ZoneInfo("UTC"))
    assert not matches(root, {"group": ["lifecycle:dormant"]}, now=NOW, zone=ZoneInfo("UTC"))

    with pytest.raises(SegmentQueryError) as caught:
        segment_create(
            agency=agency, name="Typo", query="group = 'lifecycle:dormnt'", all_shops=True
        )
    assert caught.value.errors[0].suggestion == "'lifecycle:dormant'"


def test_rfm_set_and_bad_rules(store):
    agency, _shop, _rows = store
    rfm = group_set_install_built_in(agency=agency, kind="rfm")
    assert rfm.groups.count() == 11
    with pytest.raises(SegmentQueryError) as caught:
        group_set_create(
            agency=agency,
            name="Mine",
            slug="mine",
            groups=[
                {"name": "A", "slug": "a", "query": "number_of_orders > 1"},
                {"name": "B", "slug": "b", "query": "amount_spent > 'x'"},
            ],
        )
    assert caught.value.errors[0].text.startswith("group 2 (b)")
