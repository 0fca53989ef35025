"""Bulk operations over real HTTP: the mutation, polling, the JSONL file line by line."""

import json
import time

import pytest

from sandbox.testing import http_request
from sandbox.tests.receiver import Receiver
from tenants.shopify.documents import BULK_CUSTOMERS_QUERY, BULK_ORDERS_QUERY

RUN = """
mutation($q: String!) { bulkOperationRunQuery(query: $q) {
  bulkOperation { id status type errorCode completedAt objectCount rootObjectCount fileSize url
                  partialDataUrl query }
  userErrors { field message code } } }"""
BY_ID = """
query($id: ID!) { node(id: $id) { ... on BulkOperation {
  id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt
} } }"""
CANCEL = """
mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status }
  userErrors { field message } } }"""


def run(shop, query):
    return shop.graphql(RUN, {"q": query})["data"]["bulkOperationRunQuery"]


def wait(shop, operation_id, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        node = shop.graphql(BY_ID, {"id": operation_id})["data"]["node"]
        if node["status"] not in ("CREATED", "RUNNING", "CANCELING"):
            return node
        time.sleep(0.05)
    raise AssertionError("bulk operation did not finish")


def download(url):
    status, _, raw = http_request("GET", url)
    assert status == 200, raw
    return [json.loads(line) for line in raw.decode().splitlines()]


@pytest.fixture
def shop(sandbox_store):
    """Two customers (one with two addresses and two orders) and a guest order."""
    ada = sandbox_store.create_customer(
        {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
            "tags": ["vip"],
            "addresses": [
                {"address1": "1 Rue", "city": "Paris", "countryCodeV2": "FR", "zip": "75001"},
                {"address1": "2 Straße", "city": "Berlin", "countryCodeV2": "DE"},
            ],
        }
    )
    bob = sandbox_store.create_customer({"firstName": "Bob", "phone": "+14155550123"})
    sandbox_store.ada, sandbox_store.bob = ada["id"], bob["id"]
    sandbox_store.orders = [
        sandbox_store.place_order(
            ada["id"],
            totalPrice="59.90",
            lineItems=[
                {"quantity": 2, "productId": "gid://shopify/Product/11", "productTags": ["shoes"]},
                {"quantity": 1, "productId": "gid://shopify/Product/12", "productTags": []},
            ],
        )["id"],
        sandbox_store.place_order(ada["id"], totalPrice="10.00")["id"],
        sandbox_store.place_order(None, totalPrice="5.00", email="guest@example.com")["id"],
    ]
    return sandbox_store


def test_customers_with_addresses_jsonl(shop):
    started = run(shop, BULK_CUSTOMERS_QUERY)
    assert started["userErrors"] == []
    operation = started["bulkOperation"]
    # Recorded first answer: CREATED, nothing counted yet, the query echoed verbatim.
    assert operation["status"] == "CREATED" and operation["type"] == "QUERY"
    assert (operation["objectCount"], operation["rootObjectCount"]) == ("0", "0")
    assert operation["url"] is None and operation["fileSize"] is None
    assert operation["query"] == BULK_CUSTOMERS_QUERY
    done = wait(shop, operation["id"])
    assert done["status"] == "COMPLETED" and done["errorCode"] is None
    assert done["completedAt"] is not None and done["partialDataUrl"] is None
    lines = download(done["url"])
    assert (done["objectCount"], done["rootObjectCount"]) == ("4", "2")
    assert int(done["fileSize"]) == len(http_request("GET", done["url"])[2])
    ada, paris, berlin, bob = lines
    assert ada["id"] == shop.ada and "__parentId" not in ada
    assert ada["firstName"] == "Ada" and ada["tags"] == ["vip"]
    assert ada["numberOfOrders"] == "2"
    assert ada["amountSpent"] == {"amount": "69.9", "currencyCode": "USD"}
    assert ada["defaultEmailAddress"]["emailAddress"] == "ada@example.com"
    assert ada["defaultAddress"] == {"id": paris["id"]}
    assert "addressesV2" not in ada  # nested connections never appear inline
    assert paris["__parentId"] == berlin["__parentId"] == shop.ada
    assert (paris["city"], paris["countryCodeV2"], paris["country"]) == ("Paris", "FR", "France")
    assert paris["id"].startswith("gid://shopify/MailingAddress/")
    assert bob["id"] == shop.bob and bob["defaultEmailAddress"] is None
    assert bob["defaultPhoneNumber"]["phoneNumber"] == "+14155550123"
    assert list(ada) == [
        "id", "legacyResourceId", "firstName", "lastName", "displayName", "note", "tags", "state",
        "verifiedEmail", "taxExempt", "locale", "numberOfOrders", "createdAt", "updatedAt",
        "amountSpent", "defaultEmailAddress", "defaultPhoneNumber", "defaultAddress", "statistics",
        "mergeable",
    ]  # fmt: skip
    assert ada["statistics"]["predictedSpendTier"] in {"LOW", "MEDIUM", "HIGH"}
    assert ada["mergeable"] == {"isMergeable": True, "errorFields": []}
    # The bulk file says what a normal paged read of the same customer says.
    normal = shop.graphql(
        "query($id: ID!) { customer(id: $id) { id firstName updatedAt amountSpent { amount } } }",
        {"id": shop.ada},
    )["data"]["customer"]
    assert (normal["updatedAt"], normal["amountSpent"]) == (ada["updatedAt"], {"amount": "69.9"})


def test_orders_with_line_items_jsonl(shop):
    done = wait(shop, run(shop, BULK_ORDERS_QUERY)["bulkOperation"]["id"])
    lines = download(done["url"])
    roots = [line for line in lines if "__parentId" not in line]
    assert [line["id"] for line in roots] == sorted(
        shop.orders, key=lambda g: int(g.rsplit("/", 1)[1])
    )
    first = roots[0]
    assert first["customer"] == {"id": shop.ada}
    assert first["currentTotalPriceSet"]["shopMoney"] == {"amount": "59.9", "currencyCode": "USD"}
    items = [line for line in lines if line.get("__parentId") == first["id"]]
    assert [(i["quantity"], i["product"]["id"], i["product"]["tags"]) for i in items] == [
        (2, "gid://shopify/Product/11", ["shoes"]),
        (1, "gid://shopify/Product/12", []),
    ]
    assert lines.index(items[0]) == lines.index(first) + 1  # children follow their parent
    guest = roots[2]
    assert guest["customer"] is None and guest["email"] == "guest@example.com"
    assert done["rootObjectCount"] == "3"
    assert done["objectCount"] == str(len(lines))


def test_search_filter_and_aliases(shop):
    query = """{ customers(query: "tag:vip") { edges { node {
        id who: displayName addressesV2 { edges { node { id where: city } } } } } } }"""
    lines = download(wait(shop, run(shop, query)["bulkOperation"]["id"])["url"])
    assert lines[0] == {"id": shop.ada, "who": "Ada Lovelace"}
    assert [line["where"] for line in lines[1:]] == ["Paris", "Berlin"]


def test_empty_result_has_no_url(shop):
    query = '{ customers(query: "tag:nobody") { edges { node { id } } } }'
    done = wait(shop, run(shop, query)["bulkOperation"]["id"])
    assert done["status"] == "COMPLETED"
    assert (done["url"], done["objectCount"], done["fileSize"]) == (None, "0", None)


def test_bad_queries_get_invalid_user_errors(shop):
    result = run(shop, "{ customers { edges { node { id bogus } } } }")
    assert result["bulkOperation"] is None
    [error] = result["userErrors"]
    assert error["code"] == "INVALID" and error["field"] == ["query"]
    assert "bogus" in error["message"]
    [error] = run(shop, "{ shop { name } }")["userErrors"]
    assert error["message"] == "Bulk queries must contain at least one connection."


def test_second_operation_while_one_runs(sandbox_server, shop):
    sandbox_server.control("POST", f"/_sandbox/bulk/{shop.domain}/settings", {"startDelay": 5})
    first = run(shop, BULK_CUSTOMERS_QUERY)["bulkOperation"]
    second = run(shop, BULK_ORDERS_QUERY)
    assert second == {
        "bulkOperation": None,
        "userErrors": [
            {
                "field": None,
                "message": "A bulk query operation for this app and shop is already in progress: "
                f"{first['id']}.",
                "code": "OPERATION_IN_PROGRESS",
            }
        ],
    }
    current = shop.graphql("{ currentBulkOperation { id status } }")["data"]
    assert current["currentBulkOperation"] == {"id": first["id"], "status": "CREATED"}
    cancelled = shop.graphql(CANCEL, {"id": first["id"]})["data"]["bulkOperationCancel"]
    assert cancelled == {
        "bulkOperation": {"id": first["id"], "status": "CANCELING"},
        "userErrors": [],
    }
    assert wait(shop, first["id"])["status"] == "CANCELED"
    assert run(shop, BULK_ORDERS_QUERY)["userErrors"] == []


def test_missing_scope_fails_with_access_denied(sandbox_server, shop):
    token = sandbox_server.issue_token(shop.domain, ["read_customers"])
    body = shop.graphql(RUN, {"q": BULK_ORDERS_QUERY}, token=token)
    operation = body["data"]["bulkOperationRunQuery"]["bulkOperation"]
    done = wait(shop, operation["id"])
    assert (done["status"], done["errorCode"], done["url"]) == ("FAILED", "ACCESS_DENIED", None)


def test_finish_webhook(shop):
    receiver = Receiver()
    try:
        body = shop.graphql(
            "mutation($url: URL!) { webhookSubscriptionCreate(topic: BULK_OPERATIONS_FINISH, "
            "webhookSubscription: {callbackUrl: $url, format: JSON}) { userErrors { message } } }",
            {"url": receiver.url},
        )
        assert body["data"]["webhookSubscriptionCreate"]["userErrors"] == []
        operation = run(shop, BULK_CUSTOMERS_QUERY)["bulkOperation"]
        [delivery] = receiver.wait_for(1)
        done = wait(shop, operation["id"])
        assert delivery["headers"]["x-shopify-topic"] == "bulk_operations/finish"
        assert delivery["json"] == {
            "admin_graphql_api_id": operation["id"],
            "completed_at": done["completedAt"],
            "created_at": done["createdAt"],
            "error_code": None,
            "status": "completed",
            "type": "query",
        }
    finally:
        receiver.close()


def test_result_links_are_unguessable(sandbox_server, shop):
    done = wait(shop, run(shop, BULK_CUSTOMERS_QUERY)["bulkOperation"]["id"])
    token = done["url"].rsplit("/", 1)[1].removesuffix(".jsonl")
    assert len(token) >= 32
    status, _, _ = http_request("GET", f"{sandbox_server.base_url}/_bulk/{'x' * 32}.jsonl")
    assert status == 404
