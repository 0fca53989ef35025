"""shop/redact at scale: the set-based erasure against Django's cascade, measured in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_redact_bench \\
        flock /tmp/clientele-bench.lock .venv/bin/python -m bench.shop_redact \\
        --customers 100000 --baseline-customers 20000

For each store (the baseline store, then each `--customers` size) a shop is generated in SQL:
per customer one address, 3 orders, 2 duplicate-detection blocking keys, a customer score, and
for half of them a segment membership and its `entered` ledger event; plus 1,000 stored webhook
deliveries. Then the shop is uninstalled and erased:
- baseline: the previous shop/redact (Django's cascade: `shop.delete()` plus the audit event,
  one transaction), on the smaller store;
- set-based: `tenants.shop_lifecycle.shop_redact` (one DELETE per table, children first), on
  the baseline store too (same size: a direct ratio) and on every larger store.
Printed: rows erased, wall seconds, this process's CPU seconds, rows per second, the ratio of
rows per second against the baseline, and the load average. Every table is checked empty for
the shop afterwards. Migrates the database first. The mirror rows (customers, addresses, orders)
are moved into the shop's own partitions, as a full sync leaves them (`--store-in default`: left
in the default partition, as for a shop never fully synced).
"""

import argparse
import logging
import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from audit.services import SHOPIFY, audit_event_record  # noqa: E402
from customers.models import Customer, CustomerAddress, Order  # noqa: E402
from customers.partitions import shop_partitions_start  # noqa: E402
from merges.models import BlockingKey  # noqa: E402
from segments.models import (  # noqa: E402
    CustomerScore,
    MembershipEvent,
    Segment,
    SegmentMembership,
    SegmentRefresh,
)
from tenants.models import Agency, Shop  # noqa: E402
from tenants.shop_erasure import erasure_plan  # noqa: E402
from tenants.shop_lifecycle import shop_redact, shop_uninstall  # noqa: E402
from tenants.webhooks.models import WebhookDelivery  # noqa: E402

IN_PARTITIONS = True


def _insert_select(model, exprs: dict[str, str], source: str, params: list) -> None:
    """INSERT INTO model's table SELECT ...: `exprs` gives SQL for some columns; every other
    NOT NULL column gets its Python default (or a sample value) as a constant."""
    columns, values, constants = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.column in exprs:
            columns.append(field.column)
            values.append(exprs[field.column])
        elif not field.null:
            value = field.get_default() if field.has_default() else _sample(field)
            columns.append(field.column)
            values.append("%s")
            constants.append(field.get_db_prep_save(value, connection))
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*constants, *params])


def _sample(field):
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.IntegerField | models.DecimalField | models.FloatField):
        return 0
    return ""


def store_generate(customers: int, label: str) -> Shop:
    agency, _ = Agency.objects.get_or_create(
        slug="redact-bench", defaults={"name": "shop/redact bench"}
    )
    Shop.objects.filter(domain=f"redact-{label}.myshopify.com").delete()
    Segment.objects.filter(agency=agency, name=f"bench {label}").delete()
    shop = Shop.objects.create(agency=agency, domain=f"redact-{label}.myshopify.com")
    segment = Segment.objects.create(agency=agency, name=f"bench {label}", query="orders > 0")
    segment.shops.add(shop)
    refresh = SegmentRefresh.objects.create(
        segment=segment, reason="bench", started_at=timezone.now()
    )
    sid = shop.pk
    started = time.perf_counter()
    gen = "FROM generate_series(1, %s) AS g"
    _insert_select(
        Customer,
        {
            "shop_id": str(sid),
            "shopify_id": "g",
            "gid": "'gid://shopify/Customer/' || g",
            "first_name": "'Name' || g",
            "email": "'c' || g || '@example.com'",
            "email_normalized": "'c' || g || '@example.com'",
        },
        gen,
        [customers],
    )
    of_shop = f"FROM customers_customer c WHERE c.shop_id = {sid}"
    _insert_select(
        CustomerAddress,
        {"shop_id": str(sid), "customer_id": "c.id", "shopify_id": "c.shopify_id", "city": "'X'"},
        of_shop,
        [],
    )
    _insert_select(
        Order,
        {
            "shop_id": str(sid),
            "shopify_id": "c.shopify_id * 3 + k",
            "customer_id": "c.id",
            "customer_shopify_id": "c.shopify_id",
        },
        f"FROM customers_customer c CROSS JOIN generate_series(0, 2) AS k WHERE c.shop_id = {sid}",
        [],
    )
    _insert_select(
        BlockingKey,
        {
            "shop_id": str(sid),
            "customer_id": "c.id",
            "key_type": "(ARRAY['email','name'])[k]",
            "key_value": "'v' || c.shopify_id || k",
        },
        f"FROM customers_customer c CROSS JOIN generate_series(1, 2) AS k WHERE c.shop_id = {sid}",
        [],
    )
    _insert_select(CustomerScore, {"shop_id": str(sid), "customer_id": "c.id"}, of_shop, [])
    half = f"{of_shop} AND c.shopify_id %% 2 = 0"
    _insert_select(
        SegmentMembership,
        {"shop_id": str(sid), "segment_id": str(segment.pk), "customer_id": "c.id"},
        half,
        [],
    )
    _insert_select(
        MembershipEvent,
        {
            "shop_id": str(sid),
            "segment_id": str(segment.pk),
            "customer_id": "c.id",
            "refresh_id": str(refresh.pk),
        },
        half,
        [],
    )
    _insert_select(
        WebhookDelivery,
        {"shop_id": str(sid), "webhook_id": "'w' || g", "topic": "'customers/update'"},
        gen,
        [1000],
    )
    if IN_PARTITIONS:  # as a synced shop has them: its rows moved into its own partitions
        with transaction.atomic():
            shop_partitions_start(shop_id=sid)
    with connection.cursor() as cursor:
        for table in ("customers_customer", "customers_order", "merges_blockingkey"):
            cursor.execute(f"ANALYZE {table}")
    print(f"  generated {label}: {customers:,} customers in {time.perf_counter() - started:.1f} s")
    shop_uninstall(shop=shop)
    return Shop.objects.get(pk=sid)


@transaction.atomic
def cascade_redact(shop: Shop) -> dict[str, int]:
    """The previous shop/redact: Django's cascade, then the same audit event."""
    agency_id, shop_id = shop.agency_id, shop.pk
    _, deleted = shop.delete()
    audit_event_record(
        agency_id=agency_id,
        event="shop.redacted",
        actor=SHOPIFY,
        shop_id=shop_id,
        target_type="shop",
        target_id=shop_id,
        data={"domain": shop.domain, "deleted": deleted},
    )
    return deleted


def leftovers(shop_id: int) -> int:
    with connection.cursor() as cursor:
        total = 0
        for table in erasure_plan():
            where = " OR ".join(f"{c} = %s" for c in table.columns)
            cursor.execute(
                f"SELECT count(*) FROM {table.table} WHERE {where}", [shop_id] * len(table.columns)
            )
            total += cursor.fetchone()[0]
    return total


class _TableTimes(logging.Handler):
    """Collects tenants.shop_erasure's per-table log lines (rows, label, ms)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        _shop, rows, label, ms = record.args
        self.lines.append(f"{label} {rows:,} rows {ms:,.0f} ms")


def measure(label: str, customers: int, erase) -> dict:
    shop = store_generate(customers, label)
    shop_id = shop.pk
    load = os.getloadavg()[0]
    times = _TableTimes()
    erasure_log = logging.getLogger("tenants.shop_erasure")
    erasure_log.addHandler(times)
    erasure_log.setLevel(logging.INFO)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        deleted = erase(shop)
    finally:
        erasure_log.removeHandler(times)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if times.lines:
        print("    per table: " + "; ".join(times.lines))
    rows = sum(n for name, n in deleted.items())
    assert leftovers(shop_id) == 0 and not Shop.objects.filter(pk=shop_id).exists()
    result = {"label": label, "customers": customers, "rows": rows, "wall": wall, "cpu": cpu}
    result |= {"rate": rows / wall, "load": (load, os.getloadavg()[0])}
    print(
        f"  {label}: {rows:,} rows in {wall:.2f} s wall, {cpu:.2f} s CPU here"
        f" ({rows / wall:,.0f} rows/s), load {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000])
    parser.add_argument("--baseline-customers", type=int, default=20_000)
    parser.add_argument(
        "--store-in",
        choices=["partition", "default"],
        default="partition",
        help="the mirror rows in the shop's own partitions (a synced shop) or the default one",
    )
    args = parser.parse_args()
    global IN_PARTITIONS
    IN_PARTITIONS = args.store_in == "partition"
    call_command("migrate", verbosity=0)
    print(f"load average at start: {os.getloadavg()}")
    base = measure("cascade", args.baseline_customers, cascade_redact)
    same = measure("set-based-base", args.baseline_customers, lambda s: shop_redact(shop=s))
    results = [same] + [
        measure(f"set-based-{n}", n, lambda s: shop_redact(shop=s)) for n in args.customers
    ]
    print(
        "\n| store | method | rows erased | wall s | CPU s (this process) | rows/s | vs cascade |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in [base, *results]:
        method = "Django cascade" if r is base else "set-based"
        print(
            f"| {r['customers']:,} customers | {method} | {r['rows']:,} | {r['wall']:.2f}"
            f" | {r['cpu']:.2f} | {r['rate']:,.0f} | {r['rate'] / base['rate']:.1f}x |"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
