"""Shopify's signature rules, checked against the vectors in Shopify's documentation."""

from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict

from tenants.oauth import (
    body_hmac,
    body_hmac_valid,
    missing_scopes,
    query_hmac,
    query_hmac_valid,
    query_signature_message,
    querydict_params,
    timestamp_fresh,
)

DOC_PARAMS = {
    "code": "0907a61c0c8d55e99db179b68161bc00",
    "shop": "some-shop.myshopify.com",
    "state": "0.6784241404160823",
    "timestamp": "1337178173",
}
DOC_HMAC = "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"


def test_query_hmac_matches_shopify_doc_vector():
    assert query_hmac(DOC_PARAMS, secret="hush") == DOC_HMAC
    assert query_hmac_valid({**DOC_PARAMS, "hmac": DOC_HMAC}, secret="hush")


def test_query_hmac_ignores_parameter_order_and_the_hmac_itself():
    reordered = dict(reversed(list({**DOC_PARAMS, "hmac": "x"}.items())))
    assert query_hmac(reordered, secret="hush") == DOC_HMAC


@pytest.mark.parametrize(
    "change",
    [
        {"shop": "other-shop.myshopify.com"},
        {"code": "0907a61c0c8d55e99db179b68161bc01"},
        {"timestamp": "1337178174"},
        {"extra": "1"},
    ],
)
def test_query_hmac_rejects_any_tampered_parameter(change):
    assert not query_hmac_valid({**DOC_PARAMS, **change, "hmac": DOC_HMAC}, secret="hush")


def test_query_hmac_rejects_wrong_secret_and_missing_hmac():
    assert not query_hmac_valid({**DOC_PARAMS, "hmac": DOC_HMAC}, secret="other")
    assert not query_hmac_valid(DOC_PARAMS, secret="hush")
    assert not query_hmac_valid({**DOC_PARAMS, "hmac": ""}, secret="hush")


def test_query_signature_escapes_delimiters_and_arrays_like_shopify():
    params = {"a": "1&b=2", "c%": "x", "ids[]": ["1", "2"]}
    assert query_signature_message(params) == 'a=1%26b=2&c%25=x&ids=["1", "2"]'
    # One parameter cannot pose as two.
    assert query_hmac({"a": "1&b=2"}, secret="s") != query_hmac({"a": "1", "b": "2"}, secret="s")


def test_querydict_keeps_arrays_as_lists():
    params = querydict_params(QueryDict("ids[]=1&ids[]=2&shop=a.myshopify.com"))
    assert params == {"ids[]": ["1", "2"], "shop": "a.myshopify.com"}


def test_body_hmac_matches_reference_vector():
    raw = b'{"id":1,"email":"a@example.com"}'
    expected = "SnRPygpSlvOBkfX6XdQZR4cL4GiE8A3prXrBdoz9iBA="
    assert body_hmac(raw, secret="hush") == expected
    assert body_hmac_valid(raw, expected, secrets=["hush"])
    assert body_hmac_valid(raw, expected, secrets=["new-secret", "hush"])  # rotation
    assert not body_hmac_valid(raw + b" ", expected, secrets=["hush"])
    assert not body_hmac_valid(raw, expected, secrets=["other", ""])
    assert not body_hmac_valid(raw, None, secrets=["hush"])
    assert not body_hmac_valid(raw, "", secrets=["hush"])


def test_timestamp_window():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    stamp = lambda delta: str(int((now + delta).timestamp()))  # noqa: E731
    assert timestamp_fresh(stamp(timedelta(0)), now=now)
    assert timestamp_fresh(stamp(-timedelta(minutes=4)), now=now)
    assert not timestamp_fresh(stamp(-timedelta(minutes=6)), now=now)
    assert timestamp_fresh(stamp(timedelta(seconds=60)), now=now)
    assert not timestamp_fresh(stamp(timedelta(minutes=5)), now=now)
    for bad in (None, "", "abc", "1.5", "99999999999999999999"):
        assert not timestamp_fresh(bad, now=now)


def test_scope_check_write_implies_read():
    requested = ["read_customers", "write_customers", "read_orders"]
    assert missing_scopes(requested=requested, granted="write_customers,read_orders") == []
    assert missing_scopes(requested=requested, granted=["read_customers", "read_orders"]) == [
        "write_customers"
    ]
    assert missing_scopes(requested=requested, granted="") == [
        "read_customers",
        "read_orders",
        "write_customers",
    ]
