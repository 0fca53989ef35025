"""The client and its operations against the local Shopify sandbox, over real HTTP."""

import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from tenants.models import Shop
from tenants.shopify import http
from tenants.shopify.client import ShopifyClient
from tenants.shopify.errors import (
    ShopifyAuthError,
    ShopifyNotFound,
    ShopifyOAuthError,
    ShopifyThrottled,
    ShopifyTimeout,
    ShopifyTransportError,
)
from tenants.shopify.operations import (
    customer_fetch,
    customer_merge,
    customers_updated_since,
    oauth_exchange_code,
    shop_info,
)
from tenants.shopify.tests.sandbox_helpers import client_for
from tenants.shopify.tests.stub_server import FakeClock, RecordingClock
from tenants.tests.factories import agency_factory, shop_factory


def test_shop_info(sandbox_store):
    info = shop_info(client_for(sandbox_store))
    store = sandbox_store.store
    assert info.myshopify_domain == sandbox_store.domain
    assert info.name == store.name
    assert info.currency == store.currency
    assert info.iana_timezone == store.iana_timezone
    assert info.customer_accounts in ("classic", "new")


def test_customer_fetch_and_not_found(sandbox_store):
    created = sandbox_store.create_customer(
        {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "tags": ["vip"]}
    )
    client = client_for(sandbox_store)

    customer = customer_fetch(client, created["id"])
    assert customer["firstName"] == "Ada"
    assert customer["defaultEmailAddress"]["emailAddress"] == "ada@example.com"
    assert customer["tags"] == ["vip"]
    assert customer["mergeable"]["isMergeable"] in (True, False)

    with pytest.raises(ShopifyNotFound):
        customer_fetch(client, "gid://shopify/Customer/999999999999")


def test_customers_updated_since_pages_in_update_order(sandbox_store):
    ids = [
        sandbox_store.create_customer({"firstName": f"C{i}", "email": f"c{i}@example.com"})["id"]
        for i in range(5)
    ]
    sandbox_store.update_customer(ids[0], {"note": "changed last"})
    client = client_for(sandbox_store)

    since = datetime.now(UTC) - timedelta(hours=1)
    seen = list(customers_updated_since(client, since, page_size=2))

    assert sorted(c["id"] for c in seen) == sorted(ids)
    stamps = [c["updatedAt"] for c in seen]
    assert stamps == sorted(stamps)
    assert seen[-1]["id"] == ids[0]
    future = list(customers_updated_since(client, datetime.now(UTC) + timedelta(days=1)))
    assert future == []


def test_throttled_by_the_sandbox_waits_for_the_refill_then_succeeds(sandbox_store):
    client = client_for(sandbox_store, clock=RecordingClock())
    shop_info(client)  # warm up: the sandbox builds its schema on the first call
    # SHOP_INFO costs 3 points; refilling 1 point/s from 0, it is THROTTLED and told to wait
    # ceil((3 - available) / 1) s, which is 3 s (2 s if a second passed before it arrived).
    sandbox_store.configure(restoreRate=1)
    sandbox_store.set_bucket(0)

    info = shop_info(client)

    assert info.myshopify_domain == sandbox_store.domain
    assert len(client.clock.sleeps) == 1 and 1.0 <= client.clock.sleeps[0] <= 3.0


def test_a_bucket_smaller_than_the_query_ends_in_throttled_after_bounded_retries(sandbox_store):
    sandbox_store.configure(bucketSize=2)  # SHOP_INFO's 3 points never fit
    clock = FakeClock()
    with pytest.raises(ShopifyThrottled):
        shop_info(client_for(sandbox_store, clock=clock, attempts=4))
    # ceil((3 - 2) / 100) = 1 s, the minimum, before each of the 3 retries
    assert clock.sleeps == [1.0, 1.0, 1.0]


def test_sandbox_5xx_fault_is_retried(sandbox_server, sandbox_store):
    sandbox_server.add_fault(kind="error", status=503, count=2, shop=sandbox_store.domain)
    clock = FakeClock()
    assert (
        shop_info(client_for(sandbox_store, clock=clock)).myshopify_domain == sandbox_store.domain
    )
    assert clock.sleeps == [1.0, 2.0]


def test_sandbox_429_fault_waits_retry_after(sandbox_server, sandbox_store):
    sandbox_server.add_fault(kind="throttle", retry_after=3, count=1, shop=sandbox_store.domain)
    clock = FakeClock()
    shop_info(client_for(sandbox_store, clock=clock))
    assert clock.sleeps == [3.0]


def test_sandbox_dropped_connection_on_a_mutation_is_not_repeated(sandbox_server, sandbox_store):
    one = sandbox_store.create_customer({"firstName": "D", "email": "d1@example.com"})["id"]
    two = sandbox_store.create_customer({"firstName": "D", "email": "d2@example.com"})["id"]
    sandbox_server.add_fault(kind="drop", count=1, shop=sandbox_store.domain)
    with pytest.raises(ShopifyTransportError):
        customer_merge(client_for(sandbox_store), one, two)


def test_sandbox_slow_answer_times_out(sandbox_server, sandbox_store):
    sandbox_server.add_fault(kind="slow", delay_seconds=2, count=1, shop=sandbox_store.domain)
    with pytest.raises(ShopifyTimeout):
        shop_info(client_for(sandbox_store, attempts=1, timeout=0.5))


@pytest.mark.django_db
def test_revoked_token_raises_auth_error_and_marks_the_shop(sandbox_server, sandbox_store):
    shop = shop_factory(
        agency=agency_factory(),
        domain=sandbox_store.domain,
        token=sandbox_store.token,
        api_base_url=sandbox_store.base_url,
    )
    status, _ = sandbox_server.control("DELETE", f"/_sandbox/stores/{sandbox_store.domain}/tokens")
    assert status == 200

    with pytest.raises(ShopifyAuthError):
        shop_info(ShopifyClient(shop, clock=FakeClock()))
    shop.refresh_from_db()
    assert shop.needs_reinstall


def test_concurrent_calls_to_two_sandbox_stores_stay_on_their_own_store(sandbox_server):
    # A token sent to the wrong store would be refused (401), so every answer proves isolation.
    stores = []
    for _ in range(2):
        store = sandbox_server.create_store()
        token = sandbox_server.issue_token(store.domain)
        stores.append(
            Shop(
                domain=store.domain,
                access_token=token,
                api_base_url=sandbox_server.shop_base_url(store.domain),
            )
        )

    def call(index: int) -> tuple[str, str]:
        shop = stores[index % 2]
        return shop.domain, shop_info(ShopifyClient(shop, timeout=5)).myshopify_domain

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(call, range(60)))
    assert all(asked == answered for asked, answered in answers)
    for shop in stores:
        sandbox_server.sandbox.delete_store(shop.domain)


def authorization_code(sandbox_store) -> str:
    """Walk the sandbox's authorize step (auto-approve) and take the code from its redirect."""
    query = urllib.parse.urlencode(
        {
            "client_id": settings.SHOPIFY_API_KEY,
            "scope": "read_customers,write_customers",
            "redirect_uri": "http://127.0.0.1:8000/shopify/callback/",
            "state": "nonce",
        }
    )
    answer = http.request(
        "GET",
        f"{sandbox_store.base_url}/admin/oauth/authorize?{query}",
        body=None,
        headers={},
        timeout=5,
    )
    assert answer.status in (302, 303), answer
    location = urllib.parse.urlsplit(answer.headers["Location"])
    return urllib.parse.parse_qs(location.query)["code"][0]


def test_oauth_exchange_code_against_the_sandbox(sandbox_store):
    code = authorization_code(sandbox_store)

    grant = oauth_exchange_code(base_url=sandbox_store.base_url, code=code)

    assert grant.access_token and "write_customers" in grant.scopes
    shop = Shop(
        domain=sandbox_store.domain,
        access_token=grant.access_token,
        api_base_url=sandbox_store.base_url,
    )
    assert (
        shop_info(ShopifyClient(shop, clock=FakeClock())).myshopify_domain == sandbox_store.domain
    )
    with pytest.raises(ShopifyOAuthError, match="already used"):
        oauth_exchange_code(base_url=sandbox_store.base_url, code=code)
