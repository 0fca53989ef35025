"""What the Shopify client adds per call: session activation, header copy, timeout and answer
checks, against a bare urllib POST to the same loopback stub.

    DJANGO_SETTINGS_MODULE=config.settings .venv/bin/python -m bench.shopify_client
"""

import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import django

django.setup()

from tenants.models import Shop  # noqa: E402
from tenants.shopify.client import ShopifyClient  # noqa: E402
from tenants.shopify.tests.stub_server import StubServer, graphql_ok  # noqa: E402

CALLS = 2000
THREADS = 8


def per_call_ms(function, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) * 1000 / calls


def main() -> None:
    with StubServer() as stub:
        stub.responder = lambda request: graphql_ok({"shop": {"name": "Acme"}})
        shop = Shop(
            domain="acme.myshopify.com",
            access_token="t",
            api_base_url=stub.shop_base_url("acme.myshopify.com"),
        )
        url = f"{shop.base_url}/admin/api/2025-01/graphql.json"
        body = json.dumps({"query": "{ shop { name } }"}).encode()

        def bare() -> None:
            request = urllib.request.Request(
                url,
                data=body,
                headers={"Content-Type": "application/json", "X-Shopify-Access-Token": "t"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                json.loads(response.read())

        def client_call() -> None:
            ShopifyClient(shop, timeout=5).execute("SHOP_INFO")

        per_call_ms(client_call, 100)  # warm up
        bare_runs = [per_call_ms(bare, CALLS) for _ in range(3)]
        client_runs = [per_call_ms(client_call, CALLS) for _ in range(3)]
        started = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda _: client_call(), range(CALLS)))
        threaded = CALLS / (time.perf_counter() - started)

    print(
        f"bare urllib POST      {statistics.median(bare_runs):.3f} ms/call (median of 3 x {CALLS})"
    )
    print(
        f"ShopifyClient.execute {statistics.median(client_runs):.3f} ms/call (median of 3 x {CALLS})"
    )
    print(f"ShopifyClient, {THREADS} threads: {threaded:.0f} calls/s")


if __name__ == "__main__":
    main()
