"""How fast the sandbox exports a big store as a bulk operation, and whether memory stays flat.

    DJANGO_SETTINGS_MODULE=config.settings .venv/bin/python bench/sandbox_bulk_export.py \
        --customers 1000000 --orders 3000000

Builds one store in memory (records made directly, not through the seed validator, so the
numbers are the export's), runs Clientele's two bulk queries (customers with addresses, orders
with line items) through `bulkOperationRunQuery` over real HTTP, waits for COMPLETED, downloads
each result and prints seconds, lines, bytes and the process's RSS before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def build(store, customers: int, orders: int) -> None:
    from sandbox.store import Address, Customer, LineItem, Order, normalise_tags

    rng = random.Random(1)
    sandbox = store.sandbox
    tag_sets = [normalise_tags(t) for t in (["vip"], ["newsletter", "wholesale"], [], ["b2b"])]
    cities = ["Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna"]
    stamp = 1_700_000_000_000
    built = []
    for number in range(customers):
        customer = Customer(sandbox.next_id())
        customer.first_name = f"First{number}"
        customer.last_name = f"Last{number}"
        customer.email = f"customer{number}@example.com"
        customer.email_marketing_state = "SUBSCRIBED" if number % 3 else "NOT_SUBSCRIBED"
        customer.email_opt_in_level = "SINGLE_OPT_IN"
        customer.phone = f"+4915{number:09d}"
        customer.tags = tag_sets[number % len(tag_sets)]
        customer.created_at = customer.updated_at = stamp + number
        address = Address(
            sandbox.next_id(),
            first_name=customer.first_name,
            last_name=customer.last_name,
            address1=f"{number} Main St",
            city=rng.choice(cities),
            country_code="FR",
            zip="75001",
        )
        customer.addresses = [address]
        customer.default_address_id = address.id
        store.customers[customer.id] = customer
        built.append(customer)
    for number in range(orders):
        owner = built[number % len(built)]
        order = Order(sandbox.next_id())
        order.name = f"#{1001 + number}"
        order.customer_id = owner.id
        order.email = owner.email
        order.created_at = order.processed_at = order.updated_at = stamp + number
        order.total_minor = 1000 + number % 9000
        order.currency = store.currency
        order.line_items = tuple(
            LineItem(sandbox.next_id(), 1 + item, 300000 + item, ("shoes",), f"Product {item}")
            for item in range(2)
        )
        store.orders[order.id] = order
        owner.orders.append(order)
    store.ids_index = sorted(store.customers)
    store.updated_index = sorted(c.updated_at * 10**16 + c.id for c in store.customers.values())
    store.generation += 1


def run_bulk(harness, store, token, query: str) -> dict:
    from sandbox import bulk

    domain = store.domain
    mutation = (
        "mutation($q: String!) { bulkOperationRunQuery(query: $q) "
        "{ bulkOperation { id } userErrors { message } } }"
    )
    started = time.monotonic()
    status, body = harness.graphql(domain, token, mutation, {"q": query})
    assert status == 200 and not body["data"]["bulkOperationRunQuery"]["userErrors"], body
    operation_id = body["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
    peak = rss_mib()
    while True:
        time.sleep(0.2)
        peak = max(peak, rss_mib())
        _, body = harness.graphql(
            domain,
            token,
            "query($id: ID!) { node(id: $id) { ... on BulkOperation "
            "{ status objectCount rootObjectCount fileSize url } } }",
            {"id": operation_id},
        )
        node = body["data"]["node"]
        if node["status"] not in ("CREATED", "RUNNING"):
            break
    exported = time.monotonic() - started
    lines = 0
    with urllib.request.urlopen(node["url"]) as response:
        for _ in response:
            lines += 1
    operation = bulk.operations(store)[int(operation_id.rsplit("/", 1)[1])]
    return {
        "status": node["status"],
        "seconds_to_completed": round(exported, 1),
        "export_thread_cpu_seconds": round(operation.cpu_seconds, 1),
        "objects": int(node["objectCount"]),
        "root_objects": int(node["rootObjectCount"]),
        "lines_downloaded": lines,
        "megabytes": round(int(node["fileSize"]) / 2**20, 1),
        "peak_rss_mib_during_export": round(peak),
    }


def main() -> None:
    import django

    django.setup()
    from sandbox.server import SandboxServer
    from sandbox.testing import SandboxHarness
    from tenants.shopify.documents import BULK_CUSTOMERS_QUERY, BULK_ORDERS_QUERY

    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=300_000)
    args = parser.parse_args()

    server = SandboxServer(api_key="bench", api_secret="bench").start()
    harness = SandboxHarness(server)
    store = server.sandbox.create_store(domain="bench-1.myshopify.com")
    token = server.sandbox.issue_token(store.domain, ["read_customers", "read_orders"])
    started = time.monotonic()
    build(store, args.customers, args.orders)
    print(f"built {args.customers} customers, {args.orders} orders "
          f"in {time.monotonic() - started:.1f}s; RSS {rss_mib():.0f} MiB; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)  # fmt: skip
    for name, query in (("customers", BULK_CUSTOMERS_QUERY), ("orders", BULK_ORDERS_QUERY)):
        before = rss_mib()
        result = run_bulk(harness, store, token, query)
        result["rss_mib_before"] = round(before)
        result["rss_mib_after"] = round(rss_mib())
        print(name, json.dumps(result), flush=True)
    server.stop()
    os._exit(0)


if __name__ == "__main__":
    main()
