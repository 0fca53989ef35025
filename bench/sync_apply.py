"""The full sync's apply phase alone, a shop's first sync both ways, interleaved in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \\
        .venv/bin/python -m bench.sync_apply --customers 100000 --workdir /tmp/sync-wd

The exports of bench/ingest.py (same generator, cached in --workdir) are staged once for a new
shop; then the apply (customers.sync._apply_staged: customers, addresses, orders, order
products, tombstones, aggregates) runs --rounds times per mode, each in a transaction that is
rolled back, the modes alternating:

- `upsert`: INSERT ... ON CONFLICT through the parent tables, every index maintained per row
  (what every first sync did before the mirror was partitioned by shop);
- `partition`: the shop's partitions built bare, indexed by sorting, attached.

Printed per mode: wall seconds and CPU seconds of the PostgreSQL backend doing the apply (from
/proc/<pid>/stat; index builds run without parallel workers, so the backend holds all of it),
median over the rounds, and the apply's steps. The commit is not included (rolled back).
"""

import argparse
import os
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

from bench.ingest import _django, _fresh_shop, write_exports

SHOP = "bench-apply.myshopify.com"


class Rollback(Exception):
    pass


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vacuum() -> None:
    """Rolled-back rows leave dead tuples and index entries: cleared between rounds so every
    round starts from the same tables."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("customers_customer", "customers_customeraddress", "customers_order"):
            cursor.execute(f"VACUUM {table}_default")
        cursor.execute("VACUUM segments_order_product")


@contextmanager
def staged_shop(paths: dict[str, str], domain: str):
    """(shop, run): a new shop with the exports staged for one full-sync run (migrated first);
    the staged tables and the shop go afterwards."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from customers import staging, sync
    from customers.models import SyncRun
    from customers.sources import FileSource

    shop = _fresh_shop(domain)
    run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL, requested_by="bench")
    try:
        for phase in sync.PHASES:
            sync._stage_phase(shop, run, phase, FileSource(paths), 20_000, None)
        yield shop, run
    finally:
        staging.stage_tables_drop(run.id)
        shop.delete()


def previous_rows_insert(shop, run, count: int) -> None:
    """`count` customers (with their addresses) and `count` orders of the export written into
    the default partitions before the apply, as webhooks before a first sync leave them: every
    other one a year newer than the export's row (kept), the others a year older (replaced)."""
    from django.db import connection

    from customers import staging

    params = {"shop": shop.id, "run": None, "now": "2026-01-01T00:00:00Z"}
    columns, ctes, select = staging._customer_rows(run.id)
    shift = "(CASE WHEN src.shopify_id %% 2 = 0 THEN interval '1 year' ELSE -interval '1 year' END)"
    limited = f"(SELECT * FROM src ORDER BY shopify_id LIMIT {int(count)}) s"
    select.source = select.source.replace("src s", limited, 1)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO customers_customer (shop_id, {', '.join(columns)}) WITH {ctes} {select}",
            params,
        )
        cursor.execute(
            f"UPDATE customers_customer src SET updated_at_shopify = updated_at_shopify + {shift}"
            " WHERE shop_id = %s",
            [shop.id],
        )
        staging._addresses_insert(
            cursor, run.id, "customers_customeraddress",
            "(SELECT id, shopify_id FROM customers_customer WHERE shop_id = %(shop)s)", params,
        )  # fmt: skip
        customers = "(SELECT id, shopify_id FROM customers_customer WHERE shop_id = %(shop)s) c"
        columns, ctes, select = staging._order_rows(run.id, customers)
        select.source = select.source.replace("src s", limited, 1)
        cursor.execute(
            f"INSERT INTO customers_order (shop_id, {', '.join(columns)}) WITH {ctes} {select}",
            params,
        )
        cursor.execute(
            f"UPDATE customers_order src SET updated_at_shopify = updated_at_shopify + {shift}"
            " WHERE shop_id = %s",
            [shop.id],
        )


def apply_once(shop, run, *, partition: bool, previous: int = 0) -> dict:
    from django.db import connection, transaction

    from customers import sync

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    timings: dict[str, float] = {}
    try:
        with transaction.atomic():
            if previous:
                previous_rows_insert(shop, run, previous)
            cpu, started = backend_cpu(pid), time.perf_counter()
            sync._apply_staged(shop, run, timings, partition=partition)
            seconds, cpu = time.perf_counter() - started, backend_cpu(pid) - cpu
            raise Rollback
    except Rollback:
        pass
    timings.pop("aggregates_and_commit", None)
    return {"seconds": seconds, "cpu": cpu, "steps": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/clientele-bench")
    parser.add_argument(
        "--previous",
        type=int,
        default=0,
        help="also run `previous`: the partition build with this many customers and orders"
        " already in the default partitions (webhooks before the first sync)",
    )
    args = parser.parse_args()
    paths = write_exports(args.customers, Path(args.workdir), args.seed)
    _django()
    with staged_shop(paths, SHOP) as (shop, run):
        results: dict[str, list[dict]] = {"upsert": [], "partition": []}
        if args.previous:
            results["previous"] = []
        for round_number in range(args.rounds):
            modes = list(results)
            if round_number % 2:
                modes.reverse()
            for mode in modes:
                vacuum()
                result = apply_once(
                    shop, run, partition=mode != "upsert",
                    previous=args.previous if mode == "previous" else 0,
                )  # fmt: skip
                results[mode].append(result)
                print(f"round {round_number + 1} {mode:9}: {result['seconds']:.2f} s wall, "
                      f"{result['cpu']:.2f} CPU-s, steps {result['steps']}, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        medians = {
            mode: (
                statistics.median(r["seconds"] for r in rows),
                statistics.median(r["cpu"] for r in rows),
            )
            for mode, rows in results.items()
        }
        for mode, (seconds, cpu) in medians.items():
            print(f"median {mode:9}: {seconds:.2f} s wall, {cpu:.2f} PostgreSQL CPU-s")
        print(f"ratio: the partition build takes {medians['partition'][1] / medians['upsert'][1]:.2f}x"
              f" the upsert's CPU, {medians['partition'][0] / medians['upsert'][0]:.2f}x its wall"
              f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
        if args.previous:
            print(f"ratio: with {args.previous} previous customers and orders the build takes"
                  f" {medians['previous'][1] / medians['partition'][1]:.3f}x the CPU of none,"
                  f" {medians['previous'][0] / medians['partition'][0]:.3f}x its wall")  # fmt: skip


if __name__ == "__main__":
    main()
