"""Documents are validated on Shopify's own schema and rejected in Shopify's error shape."""

import pytest


def test_unknown_field_gets_undefined_field_error_without_cost(sandbox_store):
    body = sandbox_store.graphql("{ customers(first: 2) { nodes { id favouriteColour } } }")
    assert "data" not in body
    assert "extensions" not in body  # recorded: validation failures carry no cost block
    [error] = body["errors"]
    assert error["message"] == "Field 'favouriteColour' doesn't exist on type 'Customer'"
    assert error["extensions"] == {
        "code": "undefinedField",
        "typeName": "Customer",
        "fieldName": "favouriteColour",
    }
    assert error["path"] == ["query", "customers", "nodes", "favouriteColour"]
    assert error["locations"] == [{"line": 1, "column": 36}]


def test_wrong_argument_type_is_argument_literals_incompatible(sandbox_store):
    body = sandbox_store.graphql('query Page { customers(first: "ten") { nodes { id } } }')
    [error] = body["errors"]
    assert error["extensions"]["code"] == "argumentLiteralsIncompatible"
    assert error["message"] == (
        "Argument 'first' on Field 'customers' has an invalid value (\"ten\"). Expected type 'Int'."
    )
    assert error["path"] == ["query Page", "customers", "first"]


def test_missing_required_argument(sandbox_store):
    body = sandbox_store.graphql(
        'mutation M { customerMerge(customerOneId: "gid://shopify/Customer/1") { resultingCustomerId } }'
    )
    [error] = body["errors"]
    assert error["message"] == "Field 'customerMerge' is missing required arguments: customerTwoId"
    assert error["extensions"] == {
        "code": "missingRequiredArguments",
        "className": "Field",
        "name": "customerMerge",
        "arguments": "customerTwoId",
    }
    assert error["path"] == ["mutation M", "customerMerge"]


def test_unknown_argument_and_bad_enum(sandbox_store):
    body = sandbox_store.graphql(
        "{ customers(first: 1, colour: 3, sortKey: SHOE_SIZE) { nodes { id } } }"
    )
    codes = sorted(error["extensions"]["code"] for error in body["errors"])
    assert codes == ["argumentLiteralsIncompatible", "argumentNotAccepted"]
    messages = {error["message"] for error in body["errors"]}
    assert "Field 'customers' doesn't accept argument 'colour'" in messages
    assert (
        "Argument 'sortKey' on Field 'customers' has an invalid value (SHOE_SIZE). Expected type 'CustomerSortKeys'."
        in messages
    )


def test_null_for_required_variable_is_invalid_variable(sandbox_store):
    body = sandbox_store.graphql("query One($id: ID!) { customer(id: $id) { id } }", {})
    [error] = body["errors"]
    assert error["message"] == "Variable $id of type ID! was provided invalid value"
    assert error["extensions"]["code"] == "INVALID_VARIABLE"
    assert error["extensions"]["problems"] == [
        {"path": [], "explanation": "Expected value to not be null"}
    ]


def test_variable_of_wrong_type_is_invalid_variable(sandbox_store):
    body = sandbox_store.graphql(
        "query P($n: Int) { customers(first: $n) { nodes { id } } }", {"n": "many"}
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_VARIABLE"
    assert error["extensions"]["value"] == "many"


def test_syntax_error_is_reported_with_location(sandbox_store):
    body = sandbox_store.graphql("{ customers(first: 1) { nodes { id }")
    [error] = body["errors"]
    assert error["message"].startswith("Parse error:")
    assert error["locations"][0]["line"] == 1


def test_scalar_without_selection_and_object_without_selection(sandbox_store):
    body = sandbox_store.graphql("{ shop }")
    [error] = body["errors"]
    assert error["extensions"]["code"] == "selectionMismatch"


@pytest.mark.parametrize("page", ["first: 251", "last: 300"])
def test_page_size_over_250_is_refused(sandbox_store, page):
    body = sandbox_store.graphql(f"{{ customers({page}) {{ nodes {{ id }} }} }}")
    assert body["data"] is None
    assert "less than or equal to 250" in body["errors"][0]["message"]


def test_connection_without_first_or_last_is_refused(sandbox_store):
    body = sandbox_store.graphql("{ customers { nodes { id } } }")
    assert body["errors"][0]["message"] == "you must provide one of first or last"


def test_valid_query_answers_data_and_cost(sandbox_store):
    body = sandbox_store.graphql("{ shop { name myshopifyDomain } }")
    assert "errors" not in body
    assert body["data"]["shop"]["myshopifyDomain"] == sandbox_store.domain
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1
    assert cost["actualQueryCost"] == 1
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0
    assert cost["throttleStatus"]["restoreRate"] == 100.0
