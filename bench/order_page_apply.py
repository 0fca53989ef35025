"""One page of changed orders applied to a synced shop: does its time per order grow with N?

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench flock /tmp/clientele-bench.lock \\
        .venv/bin/python -m bench.order_page_apply --customers 20000 --sizes 250,1000,4000

A shop's first full sync (bench.ingest's exports, cached in --workdir), then, for each N, N of
its orders re-read with one more product and a newer updated_at, applied as one page the way a
delta applies a page (customers.incremental.orders_apply, one statement, default planner
settings), in a transaction rolled back afterwards, so each page meets the same mirror. Printed
per N (median of --repeat): the apply, the order-product UPDATE trigger's own time
(pg_stat_xact_user_functions: the segments' statement trigger with its transition-table
joins), and the same page with that trigger disabled (the baseline of the same run), each per
order. Linear: the per-order figures stay flat as N grows.
"""

import argparse
import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

from bench.ingest import _django, write_exports

SHOP = "bench-order-page.myshopify.com"
TRIGGER = "segments_order_product_updated"
COLUMNS = [
    "shopify_id",
    "customer_shopify_id",
    "name",
    "created_at_shopify",
    "processed_at",
    "updated_at_shopify",
    "total_price",
    "currency",
    "financial_status",
    "cancelled_at",
    "is_test",
    "product_ids",
    "product_tags",
    "product_tags_normalized",
]
NEW_PRODUCT = 999_999_001


def _synced_shop(paths: dict[str, str]):
    from django.db import transaction

    from customers.sources import FileSource
    from customers.sync import shop_full_sync
    from tenants.models import Agency, Shop
    from tenants.shop_erasure import shop_rows_delete

    for shop_id in Shop.objects.filter(domain=SHOP).values_list("id", flat=True):
        with transaction.atomic():
            shop_rows_delete(shop_id=shop_id)
    agency, _ = Agency.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    shop = Shop.objects.create(
        agency=agency, domain=SHOP, access_token="shpat_bench", country_code="DE"
    )
    shop_full_sync(shop_id=shop.id, source=FileSource(paths))
    return shop


def _page(shop, size: int) -> list[dict]:
    """`size` live orders with a customer and products, each with one more product."""
    from customers.models import Order

    held = (
        Order.all_shops.filter(shop=shop, customer__isnull=False, deleted_at=None)
        .exclude(product_ids=[])
        .order_by("shopify_id")
        .values(*COLUMNS)[:size]
    )
    rows = [
        {
            **row,
            "product_ids": [*row["product_ids"], NEW_PRODUCT],
            "updated_at_shopify": row["updated_at_shopify"] + timedelta(days=1),
        }
        for row in held
    ]
    if len(rows) < size:
        raise SystemExit(f"the shop has {len(rows)} orders with products, fewer than {size}")
    return rows


def _timed_apply(shop, rows: list[dict], *, trigger: bool) -> tuple[float, float]:
    """(apply seconds, the trigger function's seconds), rolled back."""
    from django.db import connection, transaction

    from customers.incremental import orders_apply

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL track_functions = 'pl'")
            if not trigger:
                cursor.execute(f"ALTER TABLE customers_order DISABLE TRIGGER {TRIGGER}")
        started = time.perf_counter()
        owners = orders_apply(shop=shop, rows=rows)
        seconds = time.perf_counter() - started
        assert owners.products, "the page changed no order's products"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(total_time), 0) FROM pg_stat_xact_user_functions"
                " WHERE funcname = %s",
                [TRIGGER],
            )
            trigger_ms = float(cursor.fetchone()[0])
        transaction.set_rollback(True)
    return seconds, trigger_ms / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--sizes", default="250,1000,4000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/clientele-bench")
    args = parser.parse_args()
    paths = write_exports(args.customers, Path(args.workdir), args.seed)
    _django()
    from django.core.management import call_command

    from customers.models import Order

    call_command("migrate", verbosity=0)
    load = os.getloadavg()[0]
    shop = _synced_shop(paths)
    orders = Order.all_shops.filter(shop=shop).count()
    print(f"shop: {args.customers:,} customers, {orders:,} orders; load average {load:.1f}")
    first = None
    for size in [int(s) for s in args.sizes.split(",")]:
        rows = _page(shop, size)
        runs = {True: [], False: []}
        for _ in range(args.repeat):  # interleaved: the machine's load hits both alike
            for trigger in (True, False):
                runs[trigger].append(_timed_apply(shop, rows, trigger=trigger))
        apply = statistics.median(s for s, _ in runs[True])
        in_trigger = statistics.median(t for _, t in runs[True])
        without = statistics.median(s for s, _ in runs[False])
        per = {"apply": apply / size, "trigger": in_trigger / size, "without": without / size}
        first = first or per
        print(
            f"N={size:>5}: apply {apply * 1000:8.1f} ms = {per['apply'] * 1e6:7.1f} us/order"
            f" (x{per['apply'] / first['apply']:.2f} of the first N's);"
            f" trigger {in_trigger * 1000:8.1f} ms = {per['trigger'] * 1e6:7.1f} us/order"
            f" (x{per['trigger'] / first['trigger']:.2f});"
            f" without the trigger {without * 1000:8.1f} ms = {per['without'] * 1e6:7.1f} us/order;"
            f" load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
