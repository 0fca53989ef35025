"""The compiled SQL on hand-made customers in PostgreSQL: expected members, spelled out."""

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from segments.query import SegmentQueryError, parse_query
from segments.query.compile import compile_for_shops, live_customers
from segments.query.evaluate import matches
from segments.tests.query.mirror_data import facts_of, insert_customer
from tenants.scoping import shop_scope
from tenants.tests.factories import agency_factory, shop_factory

NOW = datetime(2024, 3, 31, 12, tzinfo=UTC)

ALICE = {
    "email": "alice@Example.com",
    "state": "ENABLED",
    "tags": ["VIP", "Wholesale"],
    "locale": "fr-CA",
    "number_of_orders": 3,
    "amount_spent": Decimal("1200.50"),
    "last_order_at": datetime(2024, 3, 30, 23, 30, tzinfo=UTC),  # March 31 in Paris
    "created_at": datetime(2022, 1, 1, tzinfo=UTC),
    "email_marketing_state": "SUBSCRIBED",
    "default_address": {"country_code": "CA", "province_code": "QC", "city": "Montreal"},
    "addresses": [{"country_code": "US", "province_code": "NY", "city": "New York City"}],
    "score": {"rfm_group": "CHAMPIONS", "predicted_spend_tier": "HIGH"},
    "orders": [
        {
            "processed_at": datetime(2023, 6, 1, tzinfo=UTC),
            "total_price": Decimal("700.50"),
            "product_ids": [111, 222],
            "product_tags": ["Sports wear"],
        },
        {
            "processed_at": datetime(2024, 3, 30, 23, 30, tzinfo=UTC),
            "total_price": Decimal("500"),
            "product_ids": [333],
            "product_tags": [],
        },
        {
            "processed_at": datetime(2024, 3, 1, tzinfo=UTC),
            "total_price": Decimal("99"),
            "product_ids": [444],
            "product_tags": [],
            "cancelled": True,
        },
    ],
}
BOB = {
    "email": "bob@shop.fr",
    "tags": [],
    "predicted_spend_tier": "LOW",
    "score": {"rfm_group": "PROSPECTS", "predicted_spend_tier": "MEDIUM"},
    "abandoned_at": datetime(2024, 3, 28, tzinfo=UTC),
}
CAROL = {"email": "", "state": "INVITED", "locale": "en"}


@pytest.fixture
def store(db):
    shop = shop_factory(agency=agency_factory(), timezone="Europe/Paris")
    people = {
        name: insert_customer(shop, spec)
        for name, spec in [("alice", ALICE), ("bob", BOB), ("carol", CAROL)]
    }
    return shop, people


def members(store, text):
    shop, people = store
    root = parse_query(text).root
    names = {c.pk: n for n, c in people.items()}
    with shop_scope([shop.pk]):
        found = live_customers().filter(compile_for_shops(root, shops=[shop], now=NOW))
        result = sorted(names[pk] for pk in found.values_list("pk", flat=True))
    specs = {"alice": ALICE, "bob": BOB, "carol": CAROL}
    expected = sorted(
        n
        for n, spec in specs.items()
        if matches(root, facts_of(shop, spec), now=NOW, zone=ZoneInfo(shop.timezone))
    )
    assert result == expected, f"SQL {result} != Python {expected} for {text}"
    return result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount_spent > 999.99", ["alice"]),
        ("amount_spent BETWEEN 0 AND 1200.50", ["alice", "bob", "carol"]),
        ("number_of_orders = 0", ["bob", "carol"]),
        ("customer_tags CONTAINS 'vip'", ["alice"]),
        ("customer_tags NOT CONTAINS 'vip'", ["bob", "carol"]),
        ("customer_tags IS NULL", ["bob", "carol"]),
        ("customer_email_domain = 'example.com'", ["alice"]),
        ("customer_email_domain != 'example.com'", ["bob", "carol"]),
        ("customer_account_status = 'INVITED'", ["carol"]),
        ("customer_language = 'fr'", ["alice"]),
        ("customer_language != 'fr'", ["bob", "carol"]),
        ("email_subscription_status != 'SUBSCRIBED'", ["bob", "carol"]),
        ("customer_countries CONTAINS 'us'", ["alice"]),
        ("customer_countries IS NOT NULL", ["alice"]),
        ("customer_regions CONTAINS 'CA-QC'", ["alice"]),
        ("customer_cities CONTAINS 'US-NY-NewYorkCity'", ["alice"]),
        ("customer_cities CONTAINS 'US-NY-Boston'", []),
        ("last_order_date = today", ["alice"]),  # 23:30 UTC on the 30th is the 31st in Paris
        ("last_order_date = yesterday", []),
        ("last_order_date > -7d AND customer_added_date < 2023-01-01", ["alice"]),
        ("last_order_date IS NULL", ["bob", "carol"]),
        ("abandoned_checkout_date >= -7d", ["bob"]),
        ("predicted_spend_tier = 'LOW'", ["bob"]),  # Shopify's tier wins over ours
        ("predicted_spend_tier = 'HIGH'", ["alice"]),
        ("rfm_group = 'CHAMPIONS' OR rfm_group = 'PROSPECTS'", ["alice", "bob"]),
        ("rfm_group != 'CHAMPIONS'", ["bob", "carol"]),
        ("products_purchased MATCHES (id = 222)", ["alice"]),
        ("products_purchased MATCHES (id = 444)", []),  # only in a cancelled order
        ("products_purchased MATCHES (id IN (1, 333), date >= -1m)", ["alice"]),
        ("products_purchased MATCHES (id NOT IN (333), date >= -1m)", []),
        ("products_purchased MATCHES (tag = 'sports wear', count = 1)", ["alice"]),
        ("products_purchased NOT MATCHES ()", ["bob", "carol"]),
        ("orders_placed MATCHES (count = 0)", ["bob", "carol"]),
        ("orders_placed MATCHES (sum_amount = 1200.50)", ["alice"]),
        ("orders_placed MATCHES (amount > 600, date < 2024-01-01)", ["alice"]),
        ("orders_placed NOT MATCHES (date > -1w)", ["bob", "carol"]),
        ("shop != 'other.myshopify.com' AND number_of_orders = 0", ["bob", "carol"]),
    ],
)
def test_compiled_query_members(store, text, expected):
    assert members(store, text) == expected


def test_deleted_and_merged_customers_are_never_members(store):
    shop, people = store
    people["carol"].deleted_at = NOW
    people["carol"].save()
    people["bob"].merged_into = people["alice"]
    people["bob"].save()
    with shop_scope([shop.pk]):
        assert (
            live_customers()
            .filter(
                compile_for_shops(parse_query("number_of_orders >= 0").root, shops=[shop], now=NOW)
            )
            .count()
            == 1
        )


def test_each_shop_reads_dates_in_its_own_zone(db):
    agency = agency_factory()
    paris = shop_factory(agency=agency, timezone="Europe/Paris")
    new_york = shop_factory(agency=agency, timezone="America/New_York")
    late = {"last_order_at": datetime(2024, 3, 30, 23, 30, tzinfo=UTC)}
    in_paris, in_new_york = insert_customer(paris, late), insert_customer(new_york, late)
    root = parse_query("last_order_date = today").root
    with shop_scope([paris.pk, new_york.pk]):
        found = set(
            live_customers()
            .filter(compile_for_shops(root, shops=[paris, new_york], now=NOW))
            .values_list("pk", flat=True)
        )
    assert found == {in_paris.pk}
    assert in_new_york.pk not in found


def test_a_bad_query_never_reaches_the_database(db, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(SegmentQueryError):
        parse_query("amount_spent > 'lots'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("last_order_date = 2024-03-30", ["first second"]),
        ("last_order_date != 2024-03-30", ["before", "next day", "never"]),
        ("last_order_date > 2024-03-30", ["next day"]),
        ("last_order_date >= 2024-03-30", ["first second", "next day"]),
        ("last_order_date < 2024-03-30", ["before"]),
        ("last_order_date <= 2024-03-30", ["before", "first second"]),
        ("last_order_date BETWEEN 2024-03-30 AND 2024-03-30", ["first second"]),
        ("last_order_date = 2024-03-30T00:00:00", ["first second"]),
        ("last_order_date = yesterday", ["first second"]),
    ],
)
def test_day_edges_in_the_shop_zone(db, text, expected):
    """Edges of March 30 in Paris (UTC+1): 23:00 UTC on the 29th to 23:00 UTC on the 30th."""
    shop = shop_factory(agency=agency_factory(), timezone="Europe/Paris")
    edges = {
        "before": datetime(2024, 3, 29, 22, 59, 59, tzinfo=UTC),
        "first second": datetime(2024, 3, 29, 23, 0, tzinfo=UTC),
        "next day": datetime(2024, 3, 30, 23, 0, tzinfo=UTC),
        "never": None,
    }
    rows = {name: insert_customer(shop, {"last_order_at": at}) for name, at in edges.items()}
    root = parse_query(text).root
    with shop_scope([shop.pk]):
        found = set(
            live_customers()
            .filter(compile_for_shops(root, shops=[shop], now=NOW))
            .values_list("pk", flat=True)
        )
    assert sorted(name for name, row in rows.items() if row.pk in found) == sorted(expected)
    for name, at in edges.items():
        in_python = matches(root, {"last_order_date": at}, now=NOW, zone=ZoneInfo("Europe/Paris"))
        assert in_python == (name in expected), name


@pytest.mark.django_db
def test_duplicate_status_picks_one_status_per_customer():
    from customers.models import Customer

    shop = shop_factory(agency=agency_factory())
    people = {
        name: insert_customer(shop, {"duplicate_candidates": statuses})
        for name, statuses in {
            "reviewing": ["open", "dismissed"],  # open wins over dismissed
            "requested": ["open", "merge_requested"],
            "survivor": ["merged"],
            "different": ["dismissed"],
            "alone": [],
        }.items()
    }
    absorbed = insert_customer(shop, {"duplicate_candidates": ["merged"]})
    Customer.all_shops.filter(pk=absorbed.pk).update(merged_into=people["survivor"])

    def who(query, customers):
        root = parse_query(query).root
        with shop_scope([shop.pk]):
            ids = set(
                customers()
                .filter(compile_for_shops(root, shops=[shop], now=NOW))
                .values_list("pk", flat=True)
            )
        return {name for name, row in people.items() if row.pk in ids} | (
            {"absorbed"} if absorbed.pk in ids else set()
        )

    assert who("duplicate_status = 'OPEN'", live_customers) == {"reviewing"}
    assert who("duplicate_status = 'MERGE_REQUESTED'", live_customers) == {"requested"}
    assert who("duplicate_status = 'DISMISSED'", live_customers) == {"different"}
    assert who("duplicate_status = 'NONE'", live_customers) == {"alone"}
    assert who("duplicate_status = 'MERGED'", live_customers) == {"survivor"}
    # Segments hold live customers only; over every row, merged-away profiles are MERGED too.
    assert who("duplicate_status = 'MERGED'", Customer.objects.all) == {"survivor", "absorbed"}
    assert who("duplicate_status != 'NONE'", live_customers) == set(people) - {"alone"}
