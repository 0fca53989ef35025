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


def apply_once(shop, run, *, partition: bool) -> dict:
    from django.db import connection, transaction

    from customers import sync

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    timings: dict[str, float] = {}
    cpu, started = backend_cpu(pid), time.perf_counter()
    try:
        with transaction.atomic():
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
    args = parser.parse_args()
    paths = write_exports(args.customers, Path(args.workdir), args.seed)
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from customers import staging, sync
    from customers.models import SyncRun
    from customers.sources import FileSource

    shop = _fresh_shop(SHOP)
    run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL, requested_by="bench")
    try:
        for phase in sync.PHASES:
            sync._stage_phase(shop, run, phase, FileSource(paths), 20_000, None)
        results: dict[str, list[dict]] = {"upsert": [], "partition": []}
        for round_number in range(args.rounds):
            modes = ["upsert", "partition"]
            if round_number % 2:
                modes.reverse()
            for mode in modes:
                vacuum()
                result = apply_once(shop, run, partition=mode == "partition")
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
    finally:
        staging.stage_tables_drop(run.id)
        shop.delete()


if __name__ == "__main__":
    main()
