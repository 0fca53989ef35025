"""Bulk query rules (shopify-admin-api.md §4) and the plan the exporter walks."""

import pytest

from sandbox.bulk_query import BulkQueryError, plan_bulk_query
from tenants.shopify.schema import admin_schema

CUSTOMERS = """
{ customers(query: "updated_at:>='2025-01-01T00:00:00Z'") { edges { node {
    id firstName tags amountSpent { amount currencyCode }
    defaultAddress { city }
    addressesV2(first: 10) { edges { node { id city } } pageInfo { hasNextPage } }
} } } }
"""


def plan(query):
    return plan_bulk_query(admin_schema(), query)


def test_customers_with_addresses_plan():
    [root] = plan(CUSTOMERS)
    assert root.name == "customers" and root.connection
    assert root.arguments == {"query": "updated_at:>='2025-01-01T00:00:00Z'"}
    keys = [child.response_key for child in root.children]
    assert keys == ["id", "firstName", "tags", "amountSpent", "defaultAddress", "addressesV2"]
    addresses = root.children[-1]
    assert addresses.connection
    assert addresses.arguments == {}  # first/after are ignored in bulk queries
    assert [child.name for child in addresses.children] == ["id", "city"]
    assert [child.name for child in root.children[3].children] == ["amount", "currencyCode"]


def test_nodes_shorthand_aliases_and_fragments_are_planned():
    [root] = plan(
        "{ orders { nodes { id ...F lineItems { edges { node { ... on LineItem { qty: quantity } } } } } } }"
        " fragment F on Order { name }"
    )
    assert [child.response_key for child in root.children] == ["id", "name", "lineItems"]
    assert root.children[2].children[0].response_key == "qty"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ shop { name } }", "Bulk queries must contain at least one connection."),
        ('{ node(id: "gid://shopify/Customer/1") { id } }', "top level `node` or `nodes`"),
        (
            "{ customers { edges { node { id orders { edges { node { id lineItems { edges { node { id } } } } } } } } } }",
            "nesting depth greater than 2",
        ),
        (
            "{ customers { edges { node { firstName addressesV2 { edges { node { id } } } } } } }",
            "must select the 'id' field",
        ),
        (
            "{ customers { edges { node { id bogus } } } }",
            "Invalid bulk query: Cannot query field 'bogus'",
        ),
        ("{ customers { edges { node { id ", "Invalid bulk query: Syntax Error"),
        ('mutation { tagsAdd(id: "x", tags: ["a"]) { node { id } } }', "only accepts queries"),
        (
            "query($q: String) { customers(query: $q) { edges { node { id } } } }",
            "cannot use variables",
        ),
        (
            "{ a: customers { edges { node { id } } } b: customers { edges { node { id } } }"
            " c: orders { edges { node { id } } } d: orders { edges { node { id } } }"
            " e: products { edges { node { id } } } f: products { edges { node { id } } } }",
            "more than 5 connections",
        ),
    ],
)
def test_bad_bulk_queries_are_rejected_with_a_reason(query, message):
    with pytest.raises(BulkQueryError) as error:
        plan(query)
    assert message in str(error.value)
