"""The Python evaluator on hand-made customers (it is the reference for the SQL compiler)."""

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from segments.query import parse_query
from segments.query.evaluate import matches

NOW = datetime(2024, 6, 15, 12, tzinfo=UTC)
ZONE = ZoneInfo("America/New_York")


def at(*args):
    return datetime(*args, tzinfo=UTC)


ALICE = {
    "shop": "acme.myshopify.com",
    "amount_spent": Decimal("1200.50"),
    "number_of_orders": 3,
    "customer_tags": ["VIP", "wholesale"],
    "customer_countries": ["CA"],
    "customer_cities": ["CA-QC-Montreal"],
    "customer_email_domain": "example.com",
    "email_subscription_status": "SUBSCRIBED",
    "customer_account_status": "ENABLED",
    "customer_language": "fr",
    "last_order_date": at(2024, 6, 10),
    "abandoned_checkout_date": None,
    "orders": [
        {
            "date": at(2023, 1, 5),
            "amount": Decimal("200"),
            "product_ids": [1],
            "product_tags": ["Sports wear"],
        },
        {
            "date": at(2024, 3, 1),
            "amount": Decimal("500.50"),
            "product_ids": [2],
            "product_tags": [],
        },
        {
            "date": at(2024, 6, 10),
            "amount": Decimal("500"),
            "product_ids": [2, 3],
            "product_tags": ["x"],
        },
    ],
}
BOB = {
    "shop": "acme.myshopify.com",
    "amount_spent": Decimal(0),
    "number_of_orders": 0,
    "orders": [],
}


def members(text):
    root = parse_query(text).root
    return [
        name
        for name, facts in (("alice", ALICE), ("bob", BOB))
        if matches(root, facts, now=NOW, zone=ZONE)
    ]


def test_scalars_lists_and_logic():
    assert members("amount_spent > 999.99") == ["alice"]
    assert members("number_of_orders = 0") == ["bob"]
    assert members("customer_tags CONTAINS 'vip'") == ["alice"]  # lists ignore case
    assert members("customer_tags NOT CONTAINS 'vip'") == ["bob"]
    assert members("customer_tags IS NULL") == ["bob"]
    assert members("customer_language != 'fr'") == ["bob"]  # != keeps unknown values
    assert members(
        "email_subscription_status = 'SUBSCRIBED' AND (customer_countries CONTAINS 'US' OR amount_spent > 1000)"
    ) == ["alice"]
    assert members(
        "number_of_orders = 0 OR customer_tags CONTAINS 'VIP' AND number_of_orders > 5"
    ) == ["bob"]


def test_dates_relative_to_now_in_the_shop_zone():
    assert members("last_order_date > -7d") == ["alice"]
    assert members("last_order_date < -7d") == []
    assert members("last_order_date IS NULL") == ["bob"]
    assert members("abandoned_checkout_date IS NULL") == ["alice", "bob"]


def test_products_purchased():
    assert members("products_purchased MATCHES (id = 3)") == ["alice"]
    assert members("products_purchased MATCHES (tag = 'sports WEAR', date >= -12m)") == []
    assert members("products_purchased MATCHES (tag = 'Sports wear')") == ["alice"]
    assert members("products_purchased MATCHES (id IN (2, 9), count >= 2)") == ["alice"]
    assert members("products_purchased MATCHES (id IN (2, 9), count >= 3)") == []
    assert members("products_purchased NOT MATCHES (date > -3m)") == ["bob"]
    assert members("products_purchased NOT MATCHES ()") == ["bob"]
    assert members("products_purchased MATCHES (id NOT IN (2), date > 2024-01-01)") == ["alice"]
    assert members("products_purchased MATCHES (id NOT IN (2, 3), date > 2024-01-01)") == []


def test_orders_placed():
    assert members("orders_placed MATCHES (date > 2024-01-01)") == ["alice"]
    assert members("orders_placed MATCHES (amount >= 500, count = 2)") == ["alice"]
    assert members("orders_placed MATCHES (count = 0)") == ["bob"]
    assert members(
        "orders_placed MATCHES (sum_amount BETWEEN 1000 AND 1000.50, date >= 2024-01-01)"
    ) == ["alice"]
    assert members("orders_placed MATCHES (sum_amount < 10)") == []  # needs one matching order
