"""Operations whose transport edge cases the sandbox cannot stage: OAuth answers, bulk polling
with a fake clock, and streaming a large bulk result with flat memory."""

import json
import tracemalloc
import urllib.parse

import pytest
from django.conf import settings

from tenants.models import Shop
from tenants.shopify.client import ShopifyClient
from tenants.shopify.errors import (
    ShopifyBulkOperationFailed,
    ShopifyBulkOperationTimeout,
    ShopifyOAuthError,
    ShopifyTransportError,
)
from tenants.shopify.operations import (
    TokenGrant,
    bulk_operation_wait,
    bulk_result_lines,
    oauth_exchange_code,
)
from tenants.shopify.tests.stub_server import Answer, FakeClock, StubServer, graphql_ok


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


def test_oauth_exchange_posts_the_code_with_the_app_credentials(stub):
    stub.queue(
        Answer(body={"access_token": "shpat_new", "scope": "read_customers,write_customers"})
    )

    grant = oauth_exchange_code(base_url=stub.shop_base_url("acme.myshopify.com"), code="c0de")

    assert grant == TokenGrant("shpat_new", ["read_customers", "write_customers"])
    access_token, scopes = grant  # also usable as a plain pair
    assert (access_token, scopes) == ("shpat_new", ["read_customers", "write_customers"])
    (request,) = stub.requests
    assert request.path == "/store/acme.myshopify.com/admin/oauth/access_token"
    assert urllib.parse.parse_qs(request.body.decode()) == {
        "client_id": [settings.SHOPIFY_API_KEY],
        "client_secret": [settings.SHOPIFY_API_SECRET],
        "code": ["c0de"],
    }


def test_oauth_exchange_refused_code_is_a_typed_error(stub):
    stub.queue(
        Answer(
            status=400,
            body={
                "error": "invalid_request",
                "error_description": "The authorization code was not found or was already used",
            },
        )
    )
    with pytest.raises(ShopifyOAuthError, match="already used") as caught:
        oauth_exchange_code(base_url=stub.base_url, code="used")
    assert caught.value.status == 400
    assert len(stub.requests) == 1  # a code is single-use: never retried


def test_oauth_exchange_without_a_token_is_refused(stub):
    stub.queue(Answer(body={"scope": "read_customers"}))
    with pytest.raises(ShopifyOAuthError, match="without an access_token"):
        oauth_exchange_code(base_url=stub.base_url, code="c")


def test_oauth_exchange_times_out(stub):
    stub.queue(Answer(action="hang"))
    with pytest.raises(ShopifyTransportError, match="token exchange"):
        oauth_exchange_code(base_url=stub.base_url, code="c", timeout=0.3)


def bulk_node(status, **extra):
    node = {
        "id": "gid://shopify/BulkOperation/1",
        "status": status,
        "errorCode": None,
        "objectCount": "0",
        "url": None,
        "partialDataUrl": None,
    }
    node.update(extra)
    return graphql_ok({"node": node})


def bulk_client(stub):
    shop = Shop(
        domain="acme.myshopify.com",
        access_token="t",
        api_base_url=stub.shop_base_url("acme.myshopify.com"),
    )
    clock = FakeClock()
    return ShopifyClient(shop, timeout=2, clock=clock), clock


def test_bulk_wait_polls_until_completed(stub):
    stub.queue(bulk_node("CREATED"), bulk_node("RUNNING"))
    stub.queue(bulk_node("COMPLETED", objectCount="42", url="http://example.invalid/r.jsonl"))
    client, clock = bulk_client(stub)

    result = bulk_operation_wait(
        client, "gid://shopify/BulkOperation/1", poll_interval=5, timeout=60
    )

    assert tuple(result) == ("COMPLETED", "http://example.invalid/r.jsonl", 42)
    assert clock.sleeps == [5, 5]
    assert all(
        r.json()["variables"] == {"id": "gid://shopify/BulkOperation/1"} for r in stub.requests
    )


def test_bulk_wait_raises_on_failure_with_the_error_code(stub):
    stub.queue(bulk_node("FAILED", errorCode="ACCESS_DENIED", partialDataUrl="http://x.invalid/p"))
    client, _ = bulk_client(stub)
    with pytest.raises(ShopifyBulkOperationFailed) as caught:
        bulk_operation_wait(client, "gid://shopify/BulkOperation/1")
    assert (caught.value.status, caught.value.error_code) == ("FAILED", "ACCESS_DENIED")
    assert caught.value.partial_data_url == "http://x.invalid/p"


def test_bulk_wait_gives_up_after_its_timeout(stub):
    stub.responder = lambda request: bulk_node("RUNNING")
    client, clock = bulk_client(stub)
    with pytest.raises(ShopifyBulkOperationTimeout):
        bulk_operation_wait(client, "gid://shopify/BulkOperation/1", poll_interval=10, timeout=35)
    assert clock.sleeps == [10, 10, 10]


def test_bulk_result_lines_streams_a_large_file_with_flat_memory(stub):
    lines, line_size = 40_000, 500  # ~20 MB
    payload = b"".join(
        json.dumps({"id": f"gid://shopify/Customer/{i}", "note": "x" * line_size}).encode() + b"\n"
        for i in range(lines)
    )
    stub.queue(Answer(body=payload))

    tracemalloc.start()
    count = 0
    last = b""
    for line in bulk_result_lines(f"{stub.base_url}/_bulk/result.jsonl", timeout=5):
        count += 1
        last = line
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert count == lines
    assert json.loads(last)["id"] == f"gid://shopify/Customer/{lines - 1}"
    assert peak < 1_000_000, f"peak {peak} bytes while streaming {len(payload)} bytes"
