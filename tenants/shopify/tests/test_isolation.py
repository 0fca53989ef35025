"""Per-shop isolation: concurrent calls for two shops from several threads never send one shop's
token to the other (ShopifyAPI keeps its session in thread-local class state)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import shopify

from tenants.models import Shop
from tenants.shopify.client import ShopifyClient
from tenants.shopify.tests.stub_server import StubServer, graphql_ok

THREADS = 8
CALLS_PER_THREAD = 40


def test_concurrent_calls_never_cross_tokens_between_shops():
    with StubServer() as stub:
        shops = {
            domain: Shop(domain=domain, access_token=token, api_base_url=stub.shop_base_url(domain))
            for domain, token in [
                ("alpha.myshopify.com", "shpat_alpha"),
                ("beta.myshopify.com", "shpat_beta"),
            ]
        }
        token_of = {domain: shop.access_token for domain, shop in shops.items()}
        stub.responder = lambda request: graphql_ok({"shop": {"name": request.path.split("/")[2]}})
        start = threading.Barrier(THREADS)
        leftover_tokens = []

        def worker(index: int) -> list[tuple[str, str]]:
            start.wait()
            answers = []
            for call in range(CALLS_PER_THREAD):
                # Threads interleave shops differently, so a leak would show up quickly.
                domain = sorted(shops)[(index + call) % 2]
                data = ShopifyClient(shops[domain], timeout=5).execute("SHOP_INFO")
                answers.append((domain, data["shop"]["name"]))
            leftover_tokens.append(
                shopify.ShopifyResource.get_headers().get("X-Shopify-Access-Token")
            )
            return answers

        with ThreadPoolExecutor(THREADS) as pool:
            results = [answer for answers in pool.map(worker, range(THREADS)) for answer in answers]

    assert len(stub.requests) == THREADS * CALLS_PER_THREAD
    by_shop = {domain: 0 for domain in shops}
    for request in stub.requests:
        domain = request.path.split("/")[2]
        assert request.headers["X-Shopify-Access-Token"] == token_of[domain], request.path
        by_shop[domain] += 1
    assert by_shop == {domain: THREADS * CALLS_PER_THREAD // 2 for domain in shops}
    # Every answer came back to the caller that asked for that shop.
    assert all(domain == answered for domain, answered in results)
    # No thread keeps an active session (and so a token) after its calls.
    assert leftover_tokens == [None] * THREADS
