"""Every query shown in the Shopify reference notes (section 3) parses; the ones Clientele
can evaluate also pass the checker, and their canonical text parses back to the same AST."""

import pytest

from segments.query import SegmentQueryError, parse_query
from segments.query.normalise import to_text
from segments.query.parser import parse_syntax

# Section 3.6 "Worked examples" (each query of the table), then the other queries quoted in §3.
SUPPORTED = [
    "email_subscription_status = 'SUBSCRIBED'",
    "email_subscription_status = 'SUBSCRIBED' AND customer_countries CONTAINS 'CA'",
    "email_subscription_status = 'SUBSCRIBED' AND (customer_countries CONTAINS 'CA' OR amount_spent > 999.99)",
    "customer_tags CONTAINS 'vip'",
    "customer_tags NOT CONTAINS 'vip'",
    "customer_cities CONTAINS 'US-NY-NewYorkCity'",
    "customer_account_status = 'DISABLED'",
    "customer_email_domain = 'example.com'",
    "number_of_orders = 0",
    "number_of_orders > 10",
    "number_of_orders BETWEEN 100 AND 1000",
    "amount_spent BETWEEN 1 AND 999.99",
    "last_order_date > -7d",
    "last_order_date >= -2w",
    "last_order_date < -1y",
    "last_order_date BETWEEN -365d AND -90d AND number_of_orders >= 2",
    "abandoned_checkout_date >= -7d",
    "abandoned_checkout_date >= 7_days_ago",
    "abandoned_checkout_date > -8m",
    "products_purchased MATCHES (id = 2012162031638)",
    "products_purchased MATCHES (id IN (1012132033639, 2012162031638))",
    "products_purchased MATCHES (tag = 'Sports wear', date >= -12m)",
    "products_purchased MATCHES (id = 1012132033639, date BETWEEN -12m AND today)",
    "products_purchased NOT MATCHES (date > -3m)",
    "orders_placed MATCHES (date > 2025-01-01)",
    "customer_account_status = 'ENABLED' AND customer_tags CONTAINS 'qualifies'",
    "customer_language = 'fr' AND customer_tags CONTAINS 'VIP' AND email_subscription_status = 'NOT_SUBSCRIBED'",
    "rfm_group = 'AT_RISK' AND email_subscription_status = 'SUBSCRIBED'",
    "number_of_orders = 1",
    # §3.1, §3.4, §3.5
    "customer_tags CONTAINS '\\'VIP\\''",
    "last_order_date = 2020-05-30",
    "last_order_date > 2020-05-30T16:00:00",
    "last_order_date BETWEEN 2021-01-01 AND today",
    "last_order_date BETWEEN 2020-01-01 AND -7d",
    "last_order_date >= 30_days_ago AND last_order_date < 12_months_ago OR customer_added_date > 90_days_ago",
    "products_purchased NOT MATCHES ()",
    "products_purchased(id: 1234) = true",
]
# Real Shopify queries whose data the mirror does not hold: they parse, and the checker says so.
UNSUPPORTED = [
    "anniversary(date: 'metafields.facts.birth_date') BETWEEN today AND +30d",
    "shopify_email.opened MATCHES (activity_id = 5240029206)",
    "shopify_email.bounced NOT MATCHES (activity_id = 5240029206, date BETWEEN -12m AND today)",
]


@pytest.mark.parametrize("text", SUPPORTED + UNSUPPORTED)
def test_every_reference_example_parses(text):
    assert parse_syntax(text) is not None


@pytest.mark.parametrize("text", SUPPORTED)
def test_supported_examples_check_and_round_trip(text):
    query = parse_query(text)
    canonical = query.text
    again = parse_query(canonical)
    assert again.root == query.root
    assert again.text == canonical


@pytest.mark.parametrize("text", UNSUPPORTED)
def test_unsupported_examples_are_refused_with_the_reason(text):
    with pytest.raises(SegmentQueryError) as caught:
        parse_query(text)
    (error,) = caught.value.errors
    assert error.code == "unsupported_attribute"
    assert error.line == 1 and error.column == 1
    assert "mirror does not keep" in error.message


def test_eleven_clauses_are_too_many_like_shopify():
    ten = " OR ".join(f"customer_tags CONTAINS 't{i}'" for i in range(10))
    parse_query(ten)
    eleven = ten + " OR customer_tags CONTAINS 't10'"
    with pytest.raises(SegmentQueryError) as caught:
        parse_query(eleven)
    (error,) = caught.value.errors
    assert error.code == "too_many_clauses"
    assert error.column == len(ten) + len(" OR ") + 1


def test_canonical_forms():
    cases = {
        "customer_tags contains 'vip' and amount_spent>10": "customer_tags CONTAINS 'vip' AND amount_spent > 10",
        "abandoned_checkout_date >= 7_days_ago": "abandoned_checkout_date >= -7d",
        "last_order_date < 12_MONTHS_AGO": "last_order_date < -12m",
        "last_order_date >= Today": "last_order_date >= today",
        "((number_of_orders = 1))": "number_of_orders = 1",
        "number_of_orders = 1 and (number_of_orders = 2 or number_of_orders = 3)": "number_of_orders = 1 AND (number_of_orders = 2 OR number_of_orders = 3)",
        "(number_of_orders = 1 and number_of_orders = 2) or number_of_orders = 3": "number_of_orders = 1 AND number_of_orders = 2 OR number_of_orders = 3",
        "products_purchased(id: 1234) = false": "products_purchased NOT MATCHES (id = 1234)",
        "products_purchased(tag: 'x') != false": "products_purchased MATCHES (tag = 'x')",
        "abandoned_checkout_date is not null": "abandoned_checkout_date IS NOT NULL",
        "customer_tags NOT   CONTAINS 'a\\\\b'": "customer_tags NOT CONTAINS 'a\\\\b'",
    }
    for text, canonical in cases.items():
        assert parse_query(text).text == canonical, text


def test_and_binds_tighter_than_or():
    from segments.query import ast

    root = parse_query("number_of_orders = 1 AND number_of_orders = 2 OR number_of_orders = 3").root
    assert isinstance(root, ast.Or)
    assert isinstance(root.items[0], ast.And) and len(root.items[0].items) == 2
    assert to_text(root).count("(") == 0


def test_escapes_keep_quotes_and_backslashes():
    query = parse_query("customer_tags CONTAINS 'it\\'s a \\\\ tag'")
    assert query.root.value.text == "it's a \\ tag"
    assert parse_query(query.text).root == query.root


@pytest.mark.parametrize("text", SUPPORTED)
def test_parsed_form_round_trips_through_json(text):
    import json

    from segments.query.serialise import from_dict, to_dict

    root = parse_query(text).root
    assert from_dict(json.loads(json.dumps(to_dict(root)))) == root


def test_relative_dates_are_detected():
    from segments.query.serialise import uses_relative_dates

    assert uses_relative_dates(parse_query("last_order_date > -7d").root)
    assert uses_relative_dates(parse_query("orders_placed MATCHES (date >= today)").root)
    assert not uses_relative_dates(parse_query("last_order_date > 2024-01-01").root)
