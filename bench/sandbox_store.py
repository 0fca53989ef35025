"""How much memory the sandbox store needs and how fast it answers, at benchmark size.

    .venv/bin/python -m bench.sandbox_store --customers 1000000 [--seed-file customers.jsonl]

Loads one store (from the generator, or a seed file), then reports: load time and resident
memory per customer; customers pages over real HTTP (default ID order, an `updated_at` delta on
UPDATED_AT, a tag search); and how long streaming every customer as JSONL takes (the store
layout a bulk export walks).
"""

import argparse
import gc
import json
import os
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from sandbox.seed import (  # noqa: E402
    customer_to_seed,
    format_money,
    format_time,
    load_file,
    load_records,
)
from sandbox.server import SandboxServer  # noqa: E402
from sandbox.store import ID_SPACE  # noqa: E402
from sandbox.testing import http_request  # noqa: E402

SHOP = "bench-1.myshopify.com"
PAGE_FIELDS = """id legacyResourceId firstName lastName displayName note tags state numberOfOrders
  amountSpent { amount currencyCode } createdAt updatedAt verifiedEmail taxExempt locale
  defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
  defaultPhoneNumber { phoneNumber marketingState }
  defaultAddress { id address1 city provinceCode countryCodeV2 zip }"""


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def timed_pages(
    url: str, token: str, query: str, variables: dict, pages: int
) -> tuple[list[float], int]:
    durations, seen, after = [], 0, None
    for _ in range(pages):
        started = time.perf_counter()
        status, _, raw = http_request(
            "POST",
            url,
            {"query": query, "variables": {**variables, "after": after}},
            {"X-Shopify-Access-Token": token},
        )
        durations.append(time.perf_counter() - started)
        body = json.loads(raw)
        assert status == 200 and "errors" not in body, body
        connection = body["data"]["customers"]
        seen += len(connection["nodes"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    return durations, seen


def export_row(customer, currency: str) -> str:
    """What a customers bulk query with the mirror's usual fields writes per customer."""
    address = customer.default_address()
    return json.dumps(
        {
            "id": f"gid://shopify/Customer/{customer.id}",
            "firstName": customer.first_name,
            "lastName": customer.last_name,
            "note": customer.note,
            "tags": list(customer.tags),
            "state": customer.state,
            "numberOfOrders": str(customer.number_of_orders()),
            "amountSpent": {
                "amount": format_money(customer.amount_spent_minor()),
                "currencyCode": currency,
            },
            "createdAt": format_time(customer.created_at),
            "updatedAt": format_time(customer.updated_at),
            "defaultEmailAddress": customer.email
            and {"emailAddress": customer.email, "marketingState": customer.email_marketing_state},
            "defaultPhoneNumber": customer.phone
            and {"phoneNumber": customer.phone, "marketingState": customer.sms_marketing_state},
            "defaultAddress": address
            and {
                "address1": address.address1,
                "city": address.city,
                "countryCodeV2": address.country_code,
                "zip": address.zip,
            },
        },
        ensure_ascii=False,
    )


def seed_row(customer, currency: str) -> str:
    return json.dumps(customer_to_seed(customer, with_orders=False), ensure_ascii=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed-file")
    parser.add_argument("--pages", type=int, default=10)
    args = parser.parse_args()

    server = SandboxServer(api_key="bench", api_secret="bench-secret").start()
    store = server.sandbox.create_store(domain=SHOP, currency="EUR", country="DE")
    gc.collect()
    before = rss_mib()
    started, cpu = time.perf_counter(), time.process_time()
    if args.seed_file:
        loaded = load_file(store, args.seed_file)
    else:
        from sandbox.generator import generate_customers

        loaded = load_records(
            store, generate_customers(shop_domain=SHOP, count=args.customers, seed=1)
        )
    load_seconds, load_cpu = time.perf_counter() - started, time.process_time() - cpu
    gc.collect()
    grown = rss_mib() - before
    print(
        f"loaded {loaded} customers, {len(store.orders)} orders in {load_seconds:.1f}s (cpu {load_cpu:.1f}s)"
        f"{' (including generation)' if not args.seed_file else ''}; "
        f"resident memory +{grown:.0f} MiB = {grown * 2**20 / max(1, loaded):.0f} bytes per customer"
    )

    token = server.sandbox.issue_token(SHOP, ["read_customers", "read_orders"])
    url = f"{server.shop_base_url(SHOP)}/admin/api/2025-01/graphql.json"
    page = f"""query($after: String, $query: String, $sortKey: CustomerSortKeys, $first: Int!) {{
      customers(first: $first, after: $after, query: $query, sortKey: $sortKey) {{
        pageInfo {{ hasNextPage endCursor }} nodes {{ {PAGE_FIELDS} }} }} }}"""
    store.config.bucket_size = store.config.max_query_cost = 10**9
    middle = store.updated_index[len(store.updated_index) // 2] // ID_SPACE  # median updatedAt
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(middle / 1000))
    for label, variables in (
        ("ID order, 250 per page", {"first": 250}),
        (
            "updated_at delta on UPDATED_AT, 250 per page",
            {"first": 250, "sortKey": "UPDATED_AT", "query": f"updated_at:>'{since}'"},
        ),
        ("tag search, 50 per page", {"first": 50, "query": "tag:vip"}),
    ):
        durations, seen = timed_pages(url, token, page, variables, args.pages)
        print(
            f"customers pages, {label}: {len(durations)} pages / {seen} customers, "
            f"median {statistics.median(durations) * 1000:.0f} ms, max {max(durations) * 1000:.0f} ms"
        )

    for label, row in (("bulk-export fields", export_row), ("full seed shape", seed_row)):
        started, cpu = time.perf_counter(), time.process_time()
        written = 0
        with open(os.devnull, "w") as sink:
            for customer_id in store.customer_ids_snapshot():
                customer = store.customers.get(customer_id)
                if customer is not None:
                    written += sink.write(row(customer, store.currency) + "\n")
        print(
            f"JSONL export of {len(store.customers)} customers ({label}, no orders): "
            f"{time.perf_counter() - started:.1f}s (cpu {time.process_time() - cpu:.1f}s), {written / 2**20:.0f} MiB"
        )
    server.stop()


if __name__ == "__main__":
    main()
