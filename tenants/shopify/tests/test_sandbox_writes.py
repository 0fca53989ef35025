"""Operations that change a sandbox store: tags, webhooks, bulk exports, merges, invites."""

import json
import time

import pytest

from tenants.shopify import documents
from tenants.shopify.errors import (
    ShopifyNotFound,
    ShopifyUserErrors,
)
from tenants.shopify.operations import (
    bulk_operation_current,
    bulk_operation_wait,
    bulk_query_start,
    bulk_result_lines,
    customer_fetch,
    customer_merge,
    customer_merge_job_status,
    customer_merge_preview,
    customer_send_account_invite,
    tags_add,
    tags_remove,
    webhooks_subscribe,
)
from tenants.shopify.tests.sandbox_helpers import client_for
from tenants.shopify.tests.stub_server import RecordingClock


def test_tags_add_and_remove(sandbox_store):
    gid = sandbox_store.create_customer({"firstName": "T", "email": "t@example.com"})["id"]
    client = client_for(sandbox_store)

    tags_add(client, gid, ["group:gold", "vip"])
    assert set(customer_fetch(client, gid)["tags"]) == {"group:gold", "vip"}
    tags_remove(client, gid, ["vip"])
    assert customer_fetch(client, gid)["tags"] == ["group:gold"]


def test_webhooks_subscribe_is_idempotent(sandbox_store):
    client = client_for(sandbox_store)
    topics = ["customers/create", "customers/update", "customers/merge"]

    first = webhooks_subscribe(client, topics, "https://app.example.com/webhooks/shopify/")
    again = webhooks_subscribe(client, topics, "https://app.example.com/webhooks/shopify/")
    moved = webhooks_subscribe(client, topics[:1], "https://new.example.com/webhooks/shopify/")

    assert first.created == ["CUSTOMERS_CREATE", "CUSTOMERS_UPDATE", "CUSTOMERS_MERGE"]
    assert (again.created, again.kept) == ([], first.created)
    assert moved.created == ["CUSTOMERS_CREATE"] and len(moved.deleted) == 1
    listed = list(
        client.paginate("WEBHOOK_SUBSCRIPTIONS_PAGE", {}, connection="webhookSubscriptions")
    )
    assert sorted((s["topic"], s["endpoint"]["callbackUrl"]) for s in listed) == [
        ("CUSTOMERS_CREATE", "https://new.example.com/webhooks/shopify/"),
        ("CUSTOMERS_MERGE", "https://app.example.com/webhooks/shopify/"),
        ("CUSTOMERS_UPDATE", "https://app.example.com/webhooks/shopify/"),
    ]


def test_bulk_customers_export_end_to_end(sandbox_store):
    for i in range(3):
        sandbox_store.create_customer(
            {
                "firstName": f"B{i}",
                "email": f"b{i}@example.com",
                "addresses": [{"address1": f"{i} Main St", "city": "Paris", "countryCode": "FR"}],
            }
        )
    client = client_for(sandbox_store, clock=RecordingClock())

    operation_id = bulk_query_start(client, documents.BULK_CUSTOMERS_QUERY)
    status, url, object_count = bulk_operation_wait(
        client, operation_id, poll_interval=0.1, timeout=30
    )
    rows = [json.loads(line) for line in bulk_result_lines(url, timeout=5)]

    assert status == "COMPLETED"
    customers = [r for r in rows if "__parentId" not in r]
    addresses = [r for r in rows if "__parentId" in r]
    assert len(customers) == 3 and object_count == len(rows)
    assert {a["__parentId"] for a in addresses} == {c["id"] for c in customers}


def test_bulk_query_while_one_runs_is_a_user_error(sandbox_store):
    client = client_for(sandbox_store)
    bulk_query_start(client, documents.BULK_ORDERS_QUERY)
    with pytest.raises(ShopifyUserErrors) as caught:
        bulk_query_start(client, documents.BULK_ORDERS_QUERY)
    assert caught.value.codes == ["OPERATION_IN_PROGRESS"]


def test_merge_preview_merge_and_job_status(sandbox_store):
    one = sandbox_store.create_customer({"firstName": "Ann", "email": "ann@example.com"})["id"]
    two = sandbox_store.create_customer({"firstName": "Anne", "lastName": "Lee"})["id"]
    client = client_for(sandbox_store, clock=RecordingClock())

    preview = customer_merge_preview(client, one, two)
    assert preview["resultingCustomerId"] == one  # the one with an email is kept
    started = customer_merge(client, one, two)
    assert started.resulting_customer_id == one and started.job_id

    deadline = time.monotonic() + 15
    while (status := customer_merge_job_status(client, started.job_id))["status"] != "COMPLETED":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    with pytest.raises(ShopifyNotFound):
        customer_fetch(client, two)


def test_merge_refusal_surfaces_user_errors(sandbox_store):
    one = sandbox_store.create_customer({"firstName": "Solo", "email": "solo@example.com"})["id"]
    with pytest.raises(ShopifyUserErrors) as caught:
        customer_merge(client_for(sandbox_store), one, one)
    assert caught.value.codes == ["INVALID_CUSTOMER_ID"]
    assert caught.value.errors[0]["message"] == "Customers IDs should not match"


def test_send_account_invite(sandbox_store):
    gid = sandbox_store.create_customer({"firstName": "I", "email": "invite@example.com"})["id"]
    assert customer_send_account_invite(client_for(sandbox_store), gid) == "INVITED"


def test_bulk_orders_export_has_line_items_with_product_tags(sandbox_store):
    gid = sandbox_store.create_customer({"firstName": "O", "email": "o@example.com"})["id"]
    sandbox_store.place_order(
        gid,
        lineItems=[
            {"quantity": 2, "productId": "gid://shopify/Product/300001", "productTags": ["shoes"]},
            {
                "quantity": 1,
                "productId": "gid://shopify/Product/300002",
                "productTags": ["hats", "sale"],
            },
        ],
    )
    client = client_for(sandbox_store, clock=RecordingClock())

    operation_id = bulk_query_start(client, documents.BULK_ORDERS_QUERY)
    result = bulk_operation_wait(client, operation_id, poll_interval=0.1, timeout=30)
    rows = [json.loads(line) for line in bulk_result_lines(result.url, timeout=5)]

    (order,) = [r for r in rows if "__parentId" not in r]
    items = [r for r in rows if r.get("__parentId") == order["id"]]
    assert order["customer"]["id"] == gid
    assert sorted((i["product"]["id"], tuple(i["product"]["tags"])) for i in items) == [
        ("gid://shopify/Product/300001", ("shoes",)),
        ("gid://shopify/Product/300002", ("hats", "sale")),
    ]


def test_current_bulk_operation_reports_the_latest_one(sandbox_store):
    client = client_for(sandbox_store, clock=RecordingClock())
    assert bulk_operation_current(client) is None
    operation_id = bulk_query_start(client, documents.BULK_CUSTOMERS_QUERY)
    assert bulk_operation_current(client)["id"] == operation_id
