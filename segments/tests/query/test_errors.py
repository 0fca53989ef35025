"""Malformed queries: each error names the problem, where it is and what was expected."""

from unittest import mock

import pytest

from segments.query import SegmentQueryError, parse_query
from segments.query.check import CheckContext
from segments.query.registry import ATTRIBUTES, Attribute, Kind


def errors_of(text, **kwargs):
    with pytest.raises(SegmentQueryError) as caught:
        parse_query(text, **kwargs)
    return caught.value.errors


def only_error(text, **kwargs):
    (error,) = errors_of(text, **kwargs)
    return error


@pytest.mark.parametrize(
    ("text", "code", "line", "column", "end_column", "offending", "suggestion"),
    [
        (
            "customer_tag CONTAINS 'vip'",
            "unknown_attribute",
            1,
            1,
            13,
            "customer_tag",
            "customer_tags",
        ),
        ("total_spent > 100", "unknown_attribute", 1, 1, 12, "total_spent", "amount_spent"),
        ("orders_count > 1", "unknown_attribute", 1, 1, 13, "orders_count", "number_of_orders"),
        (
            "Customer_Tags CONTAINS 'x'",
            "unknown_attribute",
            1,
            1,
            14,
            "Customer_Tags",
            "customer_tags",
        ),
        (
            "email_subscription_status = 'subscribed'",
            "unknown_value",
            1,
            29,
            41,
            "'subscribed'",
            "'SUBSCRIBED'",
        ),
        ("rfm_group = 'AT_RISKY'", "unknown_value", 1, 13, 23, "'AT_RISKY'", "'AT_RISK'"),
        ("number_of_orders = 2.5", "not_an_integer", 1, 20, 23, "2.5", "2"),
        ("last_order_date = 2024-02-30", "invalid_date", 1, 19, 29, "2024-02-30", None),
        (
            "last_order_date > 2023-13-01T10:00:00",
            "invalid_date",
            1,
            19,
            38,
            "2023-13-01T10:00:00",
            None,
        ),
        ("customer_tags = 'vip'", "wrong_operator", 1, 1, 22, "=", "customer_tags CONTAINS 'vip'"),
        ("amount_spent > '100'", "wrong_type", 1, 16, 21, "'100'", None),
        ("customer_language = fr", "unquoted_string", 1, 21, 23, "fr", "'fr'"),
        ("customer_countries CONTAINS 'Canada'", "bad_format", 1, 29, 37, "'Canada'", None),
        ("amount_spent BETWEEN 10 AND 1", "empty_range", 1, 1, 30, "", "BETWEEN 1 AND 10"),
        ("products_purchased MATCHES (idd = 1)", "unknown_parameter", 1, 29, 32, "idd", "id"),
        (
            "products_purchased MATCHES (id = 1, id = 2)",
            "duplicate_parameter",
            1,
            37,
            39,
            "id",
            None,
        ),
        ("products_purchased MATCHES (id = 1.5)", "not_an_integer", 1, 34, 37, "1.5", "1"),
        ("products_purchased = 1", "wrong_operator", 1, 1, 23, "=", None),
        ("amount_spent MATCHES (id = 1)", "wrong_operator", 1, 1, 30, "MATCHES", None),
    ],
)
def test_checker_errors(text, code, line, column, end_column, offending, suggestion):
    error = only_error(text)
    assert (error.code, error.line, error.column, error.end_column) == (
        code,
        line,
        column,
        end_column,
    )
    assert error.text == offending
    assert error.suggestion == suggestion
    assert error.message


def test_syntax_error_positions_on_later_lines():
    error = only_error("number_of_orders > 1\nAND\n  amount_spent >> 5")
    assert (error.code, error.line, error.column) == ("unexpected_token", 3, 17)
    assert error.text == ">"
    assert "a value" in error.expected


def test_query_that_ends_early():
    error = only_error("amount_spent >")
    assert error.code == "unexpected_end"
    assert (error.line, error.column) == (1, 15)
    assert error.expected == ("a value",)


def test_missing_operator_lists_what_was_expected():
    error = only_error("amount_spent 100")
    assert error.code == "unexpected_token"
    assert (error.column, error.text) == (14, "100")
    assert "an operator (=, !=, >, >=, <, <=)" in error.expected and "BETWEEN" in error.expected


def test_unbalanced_parenthesis():
    error = only_error("(number_of_orders > 1 OR amount_spent > 5")
    assert error.code == "unexpected_end"
    assert ")" in error.expected


def test_double_quotes_and_unterminated_strings():
    assert only_error('customer_tags CONTAINS "vip"').code == "double_quotes"
    error = only_error("customer_tags CONTAINS 'vip")
    assert (error.code, error.column) == ("unterminated_string", 24)


def test_every_checker_error_is_reported_at_once():
    errors = errors_of("customer_tag CONTAINS 'x' AND number_of_orders = 1.5 AND rfm_group = 'x'")
    assert [e.code for e in errors] == ["unknown_attribute", "not_an_integer", "unknown_value"]
    assert [e.column for e in errors] == [1, 50, 70]


def test_empty_query():
    assert only_error("   ").code == "empty"


def test_shops_are_checked_against_the_context():
    context = CheckContext(shops=frozenset({"acme.myshopify.com"}))
    parse_query("shop = 'acme.myshopify.com'", context=context)
    error = only_error("shop = 'acme2.myshopify.com'", context=context)
    assert (error.code, error.suggestion) == ("unknown_value", "'acme.myshopify.com'")
    assert only_error("shop = 'acme'").code == "bad_format"


def test_attributes_whose_data_has_not_landed_are_refused_with_the_reason():
    waiting = Attribute(
        "loyalty_points", Kind.INTEGER, "Points", "Clientele", unavailable="no loyalty data yet"
    )
    with mock.patch.dict(ATTRIBUTES, {"loyalty_points": waiting}):
        error = only_error("loyalty_points > 3")
    assert error.code == "unsupported_attribute"
    assert "cannot be used yet: no loyalty data yet" in error.message


@pytest.mark.parametrize(
    ("written", "suggestion"),
    [
        ("open", "'OPEN'"),
        ("has_open_duplicates", "'OPEN'"),
        ("SUSPECTED", "'OPEN'"),
        ("merged", "'MERGED'"),
        ("MERGE_REQUEST", "'MERGE_REQUESTED'"),
    ],
)
def test_duplicate_status_values_are_checked_with_suggestions(written, suggestion):
    parse_query("duplicate_status = 'OPEN' OR duplicate_status != 'NONE'")
    error = only_error(f"duplicate_status = '{written}'")
    assert (error.code, error.suggestion, error.column) == ("unknown_value", suggestion, 20)
    assert "DISMISSED" in error.expected
    assert only_error("duplicate_status CONTAINS 'OPEN'").code == "wrong_operator"


def test_error_serialises_for_the_api():
    with pytest.raises(SegmentQueryError) as caught:
        parse_query("customer_tag CONTAINS 'vip'")
    (payload,) = caught.value.as_list()
    assert payload == {
        "code": "unknown_attribute",
        "message": "There is no attribute 'customer_tag'.",
        "line": 1,
        "column": 1,
        "end_line": 1,
        "end_column": 13,
        "text": "customer_tag",
        "expected": ["an attribute name"],
        "suggestion": "customer_tags",
    }
    assert "Did you mean customer_tags?" in str(caught.value)
