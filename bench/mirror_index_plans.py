"""Which index each reader of the mirror uses: EXPLAIN (ANALYZE, BUFFERS) of the queries that
filter a shop's customers, addresses, orders and order products, on a synced shop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \\
        .venv/bin/python -m bench.mirror_index_plans --shop bench-sync.myshopify.com

The shop must have its partitions (run bench/ingest.py first). For each query: the index scans
of its plan (or "no index": sequential scans only) and the execution time; `--plans` prints
the whole plans. Readers: the API's customer list (search, account state, tags, updated
since), its detail (addresses, recent orders), segment counts (account state, tags, products
by id and by tag, the order aggregates), the full sync's high-water mark, the merge webhook's
and the order linking's lookups by customer Shopify id, the upserts' conflict targets.
"""

import argparse
import re

from bench.ingest import _django

INDEX = re.compile(
    r"(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using |on )(\S+)"
)
TIME = re.compile(r"Execution Time: ([0-9.]+) ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shop", default="bench-sync.myshopify.com")
    parser.add_argument("--plans", action="store_true", help="print the whole plans")
    args = parser.parse_args()
    _django()
    from django.db import connection
    from django.utils import timezone

    from customers.api.filters import CustomerFilter
    from customers.models import Customer, CustomerAddress, Order
    from segments.query import parse_query
    from segments.query.compile import compile_for_shops, live_customers
    from tenants.models import Shop
    from tenants.scoping import shop_scope

    shop = Shop.objects.get(domain=args.shop)
    customers = Customer.all_shops.filter(shop=shop)
    sample = customers.exclude(email="").exclude(phone="").order_by("pk")[5000]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT product_id FROM segments_order_product_s{shop.id}"
            " GROUP BY product_id ORDER BY count(*) LIMIT 3"
        )
        rare_products = [row[0] for row in cursor.fetchall()]
    recent = customers.order_by("-updated_at_shopify").values_list("updated_at_shopify", flat=True)[
        100
    ]

    def api(**params):
        data = {"shop": str(shop.id), **params}
        return CustomerFilter(data, queryset=Customer.all_shops.all()).qs.order_by("pk")[:51]

    def segment(text):
        with shop_scope([shop.id]):
            root = parse_query(text).root
            return (
                live_customers()
                .filter(shop_id__in=[shop.id])
                .filter(compile_for_shops(root, shops=[shop], now=timezone.now()))
                .values("pk")
            )

    products = ", ".join(str(p) for p in rare_products)
    queries = {
        "API search by email (q=)": api(q=sample.email),
        "API search by phone (q=)": api(q=sample.phone),
        "API state=DECLINED": api(state=["DECLINED"]),
        "API state=ENABLED": api(state=["ENABLED"]),
        "API tag=vip": api(tag="vip"),
        "API updated_since (100 newest)": api(updated_since=recent.isoformat()),
        "API detail: addresses": CustomerAddress.all_shops.filter(customer_id=sample.pk),
        "API detail: recent orders (by shop and customer)": Order.all_shops.filter(
            shop_id=shop.id, customer_id=sample.pk, deleted_at=None
        ).order_by("-processed_at", "-id")[:10],
        "API detail: recent orders (by customer alone, before)": Order.all_shops.filter(
            customer_id=sample.pk, deleted_at=None
        ).order_by("-processed_at", "-id")[:10],
        "sync high-water mark": customers.filter(updated_at_shopify__isnull=False)
        .order_by("-updated_at_shopify")
        .values_list("updated_at_shopify", flat=True)[:1],
        "orders by customer Shopify id (merge webhook)": Order.all_shops.filter(
            shop=shop, customer_shopify_id=sample.shopify_id
        ),
        "orders to link (customer_id null)": Order.all_shops.filter(
            shop_id=shop.id, customer_id__isnull=True, customer_shopify_id__isnull=False
        ),
        "customer by Shopify id (webhooks)": customers.filter(shopify_id=sample.shopify_id),
        "segment: account status DECLINED": segment("customer_account_status = 'DECLINED'"),
        "segment: customer tag vip": segment("customer_tags CONTAINS 'vip'"),
        "segment: products by id (3 rarest)": segment(
            f"products_purchased MATCHES (id IN ({products}))"
        ),
        "segment: products by id + date": segment(
            f"products_purchased MATCHES (id IN ({products}), date >= -365d)"
        ),
        "segment: products by tag": segment("products_purchased MATCHES (tag = 'gift-card')"),
        "segment: products by id + tag": segment(
            f"products_purchased MATCHES (id IN ({products}), tag = 'gift-card')"
        ),
        "segment: products NOT IN": segment(f"products_purchased MATCHES (id NOT IN ({products}))"),
        "segment: orders count": segment("orders_placed MATCHES (count >= 3, date >= -90d)"),
    }
    with connection.cursor() as cursor:  # a partition's index -> the parent's index
        cursor.execute(
            "SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE c.relkind = 'i'"
        )
        parents = dict(cursor.fetchall())
    for label, queryset in queries.items():
        plan = queryset.explain(analyze=True, buffers=True)
        used = sorted({parents.get(i, i) for i in INDEX.findall(plan)}) or ["no index"]
        took = TIME.search(plan)
        print(f"{label:55} {float(took.group(1)) if took else -1:9.1f} ms  {', '.join(used)}")
        if args.plans:
            print(plan, "\n")


if __name__ == "__main__":
    main()
