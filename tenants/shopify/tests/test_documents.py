"""Every document the client can send, and every bulk query text, is valid against Shopify's
Admin schema (2025-01 dump + documented extensions)."""

import pytest

from tenants.shopify import documents
from tenants.shopify.schema import validation_errors

ALL_TEXTS = {**documents.DOCUMENTS, **documents.BULK_QUERIES}


@pytest.mark.parametrize("name", sorted(ALL_TEXTS))
def test_document_validates_against_the_admin_schema(name):
    assert validation_errors(ALL_TEXTS[name]) == []


def test_every_graphql_constant_is_registered():
    constants = {
        name for name, value in vars(documents).items() if name.isupper() and isinstance(value, str)
    }
    registered = set(documents.DOCUMENTS) | set(documents.BULK_QUERIES) | set(documents.FRAGMENTS)
    assert constants == registered


def test_a_broken_document_fails_the_check():
    broken = documents.SHOP_INFO.replace("ianaTimezone", "timeZoneName")
    errors = validation_errors(broken)
    assert errors and "timeZoneName" in errors[0]


def test_a_broken_bulk_query_fails_the_check():
    broken = documents.BULK_CUSTOMERS_QUERY.replace("addressesV2", "addressList")
    assert any("addressList" in error for error in validation_errors(broken))


def test_a_wrong_variable_type_fails_the_check():
    broken = documents.TAGS_ADD.replace("$tags: [String!]!", "$tags: String!")
    assert validation_errors(broken)


def test_mutations_are_told_apart_from_queries():
    assert documents.is_mutation("CUSTOMER_MERGE")
    assert documents.is_mutation("TAGS_ADD")
    assert not documents.is_mutation("CUSTOMER_MERGE_PREVIEW")
    assert not documents.is_mutation("SHOP_INFO")
