"""Clients for a `sandbox_store` fixture's store (unsaved Shop rows: no database needed)."""

from tenants.models import Shop
from tenants.shopify.client import RetryPolicy, ShopifyClient
from tenants.shopify.tests.stub_server import FakeClock


def shop_for(store) -> Shop:
    return Shop(domain=store.domain, access_token=store.token, api_base_url=store.base_url)


def client_for(store, *, clock=None, attempts=5, timeout=5.0) -> ShopifyClient:
    return ShopifyClient(
        shop_for(store),
        timeout=timeout,
        retry=RetryPolicy(max_attempts=attempts),
        clock=clock or FakeClock(),
    )
