"""Full-sync ingest benchmark: bulk JSONL -> PostgreSQL, end to end, against a naive baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \\
        .venv/bin/python -m bench.ingest --customers 1000000

1. Writes two Shopify bulk-operation exports (customers + address children; orders + line-item
   children, `__parentId` lines as Shopify emits them) from the sandbox generator, cached in
   --workdir. Generation is not timed.
2. In a fresh subprocess (so peak RSS is the ingest's own): `customers.sync.shop_full_sync` for a
   new shop reading those files through `FileSource`: the production path (streaming parse,
   mapping and matching keys, COPY + INSERT ... ON CONFLICT, checkpoints, tombstones, aggregates).
   It loads the orders export in a second process (`--load parallel`, production's way) or after
   the customers (`--load sequential`); the second loader's CPU is counted and its peak RSS printed.
3. In another subprocess: a naive baseline doing the same mapping with Django `bulk_create`
   (batches of 1000, no upsert, no checkpoint) over the first --baseline-customers customers.
Prints customers/second, orders/second, peak RSS, and the speed ratio.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SHOP = "bench-ingest.myshopify.com"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _gid(kind: str, value) -> str:
    return value if str(value).startswith("gid://") else f"gid://shopify/{kind}/{value}"


def write_customer_export(out, record: dict) -> list[dict]:
    """Write a generated customer and its address children as Shopify's bulk export has them;
    returns the customer's orders (taken off the record) for the orders export."""
    customer_gid = record["id"]
    orders = record.pop("orders", None) or []
    addresses = record.pop("addresses", None) or []
    blockers = record.pop("mergeBlockers", None) or {}
    default_id = record.pop("defaultAddressId", None)
    record["defaultAddress"] = {"id": default_id} if default_id else None
    counted = [o for o in orders if not o.get("cancelledAt") and not o.get("test")]
    record["numberOfOrders"] = str(len(counted))
    record["amountSpent"] = {
        "amount": f"{sum(float(o['totalPrice']) for o in counted):.2f}",
        "currencyCode": orders[0]["currencyCode"] if orders else "EUR",
    }
    record["mergeable"] = {"isMergeable": not any(blockers.values()), "errorFields": []}
    out.write(json.dumps(record) + "\n")
    for address in addresses:
        out.write(json.dumps({**address, "__parentId": customer_gid}) + "\n")
    return orders


def write_order_export(out, customer_gid: str, orders: list[dict], dumps=json.dumps) -> None:
    """Write a customer's generated orders and their line item children as Shopify's orders
    bulk export has them."""
    for order in orders:
        items = order.pop("lineItems", None) or []
        total, currency = order.pop("totalPrice"), order.pop("currencyCode")
        order["currentTotalPriceSet"] = {"shopMoney": {"amount": total, "currencyCode": currency}}
        order["customer"] = {"id": customer_gid}
        order.setdefault("updatedAt", order.get("processedAt"))
        out.write(dumps(order) + "\n")
        order_gid = order["id"]
        for item in items:
            line = {
                "id": item["id"],
                "quantity": item.get("quantity", 1),
                "product": {
                    "id": _gid("Product", item["productId"]),
                    "tags": item.get("productTags") or [],
                },
                "__parentId": order_gid,
            }
            out.write(dumps(line) + "\n")


def write_exports(customers: int, workdir: Path, seed: int) -> dict[str, str]:
    """Bulk JSONL files for `customers` generated customers (reused when already there)."""
    from sandbox.generator import generate_customers

    workdir.mkdir(parents=True, exist_ok=True)
    paths = {
        "customers": workdir / f"customers-{customers}-{seed}-utf8.jsonl",
        "orders": workdir / f"orders-{customers}-{seed}-utf8.jsonl",
    }
    if all(p.exists() for p in paths.values()):
        return {k: str(v) for k, v in paths.items()}
    started = time.perf_counter()

    # UTF-8 as Shopify (and the sandbox) write bulk results, not ASCII with \u escapes.
    def dumps(value):
        return json.dumps(value, ensure_ascii=False)

    with (
        open(paths["customers"], "w", encoding="utf-8") as cout,
        open(paths["orders"], "w", encoding="utf-8") as oout,
    ):
        for record in generate_customers(shop_domain=SHOP, count=customers, seed=seed):
            customer_gid = record["id"]
            write_order_export(oout, customer_gid, write_customer_export(cout, record), dumps)
    print(
        f"exports written in {time.perf_counter() - started:.0f}s: {paths['customers']}, {paths['orders']}"
    )
    return {k: str(v) for k, v in paths.items()}


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


class BackendCpu:
    """CPU seconds of every PostgreSQL backend connected to this database during the run.

    A sync may use more than one connection (and Django may replace one), so a sampler thread
    reads /proc/<pid>/stat of each backend twice a second; a backend that ends between two
    samples loses at most half a second of CPU from the total.
    """

    def __init__(self) -> None:
        import threading

        import psycopg
        from django.db import connection

        settings = connection.settings_dict
        self._conn = psycopg.connect(
            host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
            password=settings["PASSWORD"], dbname=settings["NAME"], autocommit=True,
        )  # fmt: skip
        self._own = self._conn.info.backend_pid
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._sample()
        self._start = dict(self._last)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        rows = self._conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
        for (pid,) in rows:
            if pid == self._own:
                continue
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self._last[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._sample()
        self._conn.close()
        return sum(cpu - self._start.get(pid, 0.0) for pid, cpu in self._last.items())


BENCH_SHOPS = ("bench-sync.myshopify.com", "bench-naive.myshopify.com")


def purge_bench_shops() -> None:
    """Delete the previous run's bench shops and their mirror rows in SQL: the ORM's cascade
    would load millions of rows into memory first (and count towards the next peak RSS)."""
    from django.db import connection

    from tenants.models import Shop

    ids = list(Shop.objects.filter(domain__in=BENCH_SHOPS).values_list("id", flat=True))
    if not ids:
        return
    from customers.partitions import TABLES, shop_partition_drop, shop_partition_exists

    for shop_id in ids:  # their own partitions (a first full sync builds them)
        for table in TABLES:
            if shop_partition_exists(table, shop_id):
                shop_partition_drop(table=table, shop_id=shop_id)
    with connection.cursor() as cursor:
        for table in ("customers_customeraddress", "customers_order", "customers_customer"):
            cursor.execute(f"DELETE FROM {table} WHERE shop_id = ANY(%s)", [ids])
    Shop.objects.filter(id__in=ids).delete()


def _fresh_shop(domain: str):
    from tenants.models import Agency, Shop

    Shop.objects.filter(domain=domain).delete()
    agency, _ = Agency.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    return Shop.objects.create(
        agency=agency, domain=domain, access_token="shpat_bench", country_code="DE"
    )


def python_cpu() -> float:
    """CPU seconds of this process and of its children that ended (the second loader)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_sync(paths: dict[str, str], batch_size: int, parallel: bool) -> dict:
    _django()
    from customers.models import Customer, Order
    from customers.sources import FileSource
    from customers.sync import shop_full_sync

    shop = _fresh_shop("bench-sync.myshopify.com")
    backends, cpu, started = BackendCpu(), python_cpu(), time.perf_counter()
    load = os.getloadavg()[0]
    run = shop_full_sync(
        shop_id=shop.id, source=FileSource(paths), batch_size=batch_size, parallel=parallel
    )
    seconds = time.perf_counter() - started
    cpu, db_cpu = python_cpu() - cpu, backends.stop()
    customers = Customer.all_shops.filter(shop=shop).count()
    orders = Order.all_shops.filter(shop=shop).count()
    return {
        "status": run.status,
        "load": "parallel" if parallel else "sequential",
        "steps": run.checkpoint.get("seconds", {}),
        "load_average": [load, os.getloadavg()[0]],
        "customers": customers,
        "orders": orders,
        "seconds": seconds,
        "python_cpu": cpu,
        "postgres_cpu": db_cpu,
        "peak_rss_mib": peak_rss_mib(),
        "loader_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run_baseline(paths: dict[str, str], limit: int) -> dict:
    """Same mapping, plain ORM bulk_create: what a first implementation would do."""
    _django()
    from customers.mapping import (
        address_from_graphql,
        customer_from_graphql,
        gid_id,
        order_from_graphql,
    )
    from customers.models import Customer, CustomerAddress, Order

    shop = _fresh_shop("bench-naive.myshopify.com")
    backends, cpu, started = BackendCpu(), time.process_time(), time.perf_counter()
    ids: dict[int, int] = {}

    def flush_customers(pending):
        objects = [Customer(shop=shop, **row) for row, _ in pending]
        Customer.all_shops.bulk_create(objects, batch_size=1000)
        addresses = []
        for customer, (_row, rows) in zip(objects, pending, strict=True):
            ids[customer.shopify_id] = customer.id
            addresses += [CustomerAddress(shop=shop, customer=customer, **a) for a in rows]
        CustomerAddress.all_shops.bulk_create(addresses, batch_size=1000)

    pending, current, count = [], None, 0
    with open(paths["customers"], "rb") as handle:
        for raw in handle:
            node = json.loads(raw)
            if "__parentId" in node:
                current[1].append(address_from_graphql(node))
                continue
            if current is not None:
                pending.append(
                    customer_from_graphql(current[0], addresses=current[1], shop_country="DE")
                )
            count += 1
            if count > limit:
                current = None
                break
            current = (node, [])
            if len(pending) >= 1000:
                flush_customers(pending)
                pending = []
    if current is not None:
        pending.append(customer_from_graphql(current[0], addresses=current[1], shop_country="DE"))
    flush_customers(pending)
    customers = len(ids)

    orders, batch, current = 0, [], None
    with open(paths["orders"], "rb") as handle:
        for raw in handle:
            node = json.loads(raw)
            if "__parentId" in node:
                current[1].append(node)
                continue
            if current is not None and gid_id(current[0]["customer"]["id"]) in ids:
                batch.append(order_from_graphql(current[0], line_items=current[1]))
            current = (node, [])
            if len(batch) >= 1000:
                Order.all_shops.bulk_create(
                    [
                        Order(shop=shop, customer_id=ids.get(r["customer_shopify_id"]), **r)
                        for r in batch
                    ]
                )
                orders += len(batch)
                batch = []
    if current is not None and gid_id(current[0]["customer"]["id"]) in ids:
        batch.append(order_from_graphql(current[0], line_items=current[1]))
    Order.all_shops.bulk_create(
        [Order(shop=shop, customer_id=ids.get(r["customer_shopify_id"]), **r) for r in batch]
    )
    orders += len(batch)
    seconds = time.perf_counter() - started
    cpu, db_cpu = time.process_time() - cpu, backends.stop()
    return {
        "customers": customers,
        "orders": orders,
        "seconds": seconds,
        "python_cpu": cpu,
        "postgres_cpu": db_cpu,
        "peak_rss_mib": peak_rss_mib(),
    }


def _subprocess(phase: str, args) -> dict:
    command = [sys.executable, "-m", "bench.ingest", "--phase", phase, "--customers", str(args.customers),
               "--workdir", args.workdir, "--seed", str(args.seed), "--batch-size", str(args.batch_size),
               "--baseline-customers", str(args.baseline_customers), "--load", args.load]  # fmt: skip
    if phase != "sync" or args.memory_cap is None:
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        return json.loads(output.strip().splitlines()[-1])
    from bench.memcap import run_capped

    output, cap = run_capped(command, args.memory_cap)
    return {**json.loads(output.strip().splitlines()[-1]), "memory_cap": cap}


def _sync_report(sync: dict) -> None:
    rate = sync["customers"] / sync["seconds"]
    print(f"full sync ({sync['load']} load): {sync['customers']:,} customers + {sync['orders']:,} orders in "
          f"{sync['seconds']:.1f}s = {rate:,.0f} customers/s; python {sync['python_cpu']:.1f} CPU-s "
          f"+ postgres {sync['postgres_cpu']:.1f} CPU-s; peak RSS {sync['peak_rss_mib']:.0f} MiB "
          f"(second loader {sync['loader_peak_rss_mib']:.0f} MiB)")  # fmt: skip
    print(f"full sync steps (s): {sync['steps']}; load average {sync['load_average'][0]:.1f} at start, "
          f"{sync['load_average'][1]:.1f} at end")  # fmt: skip
    if "memory_cap" in sync:  # the cgroup's peak counts the page cache of the exports it read
        cap = sync["memory_cap"]
        print(f"memory cgroup (the sync and its second loader): hard limit {cap['limit_mib']} MiB, "
              f"finished with {cap['oom_kills']} OOM kills")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--baseline-customers", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/clientele-bench")
    parser.add_argument("--phase", choices=["all", "sync", "baseline"], default="all")
    parser.add_argument(
        "--load",
        choices=["parallel", "sequential"],
        default="parallel",
        help="the two exports loaded by two processes at once (production) or one after the other",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    parser.add_argument(
        "--memory-cap",
        type=int,
        default=None,
        metavar="MIB",
        help="run the sync in a memory cgroup with this hard limit (bench/memcap.py); finishing"
        " proves the sync and its second loader never held more together",
    )
    args = parser.parse_args()
    if args.phase == "all":
        from django.core.management import call_command

        paths = write_exports(args.customers, Path(args.workdir), args.seed)
        _django()
        call_command("migrate", verbosity=0)
        purge_bench_shops()
        sync = _subprocess("sync", args)
        if args.no_baseline:
            _sync_report(sync)
            return
        baseline = _subprocess("baseline", args)
        sync_rate = sync["customers"] / sync["seconds"]
        base_rate = baseline["customers"] / baseline["seconds"]
        print(f"exports: {paths['customers']} ({os.path.getsize(paths['customers']) / 2**20:.0f} MiB), "
              f"{paths['orders']} ({os.path.getsize(paths['orders']) / 2**20:.0f} MiB)")  # fmt: skip
        print(f"full sync : {sync['customers']:,} customers + {sync['orders']:,} orders in {sync['seconds']:.1f}s "
              f"= {sync_rate:,.0f} customers/s ({sync['orders'] / sync['seconds']:,.0f} orders/s), "
              f"peak RSS {sync['peak_rss_mib']:.0f} MiB, status {sync['status']}")  # fmt: skip
        print(f"bulk_create: {baseline['customers']:,} customers + {baseline['orders']:,} orders in "
              f"{baseline['seconds']:.1f}s = {base_rate:,.0f} customers/s, peak RSS {baseline['peak_rss_mib']:.0f} MiB")  # fmt: skip
        for name, result in (("full sync", sync), ("bulk_create", baseline)):
            if not result["postgres_cpu"] >= 0:  # the backend was replaced mid-run: unknown
                print(f"{name} CPU: python {result['python_cpu']:.1f}s = "
                      f"{result['customers'] / result['python_cpu']:,.0f} customers per Python CPU-second")  # fmt: skip
                continue
            busy = result["python_cpu"] + result["postgres_cpu"]
            print(f"{name} CPU: python {result['python_cpu']:.1f}s + postgres {result['postgres_cpu']:.1f}s"
                  f" = {result['customers'] / busy:,.0f} customers per CPU-second "
                  f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
        _sync_report(sync)
        print(f"ratio: full sync is {sync_rate / base_rate:.2f}x the naive bulk_create rate")
        return
    paths = write_exports(args.customers, Path(args.workdir), args.seed)
    result = (
        run_sync(paths, args.batch_size, args.load == "parallel")
        if args.phase == "sync"
        else run_baseline(paths, args.baseline_customers)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
