"""Re-sync benchmark: a shop's first full sync, then a full sync of the same shop again.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \\
        .venv/bin/python -m bench.resync --customers 100000

The first full sync builds the shop's partitions bare (customers.partition_build); a re-sync
(the shop has its partitions) upserts every staged row through the parent tables
(customers.staging: INSERT ... ON CONFLICT, every index maintained row by row, addresses
replaced). Both read the same exports (bench.ingest's, cached in --workdir), so the re-sync
rewrites every row (equal updated_at passes the newer-wins guard): the worst case, and the
case of an operator's `sync_shop --full`. Prints wall seconds, Python and PostgreSQL CPU
seconds of both and the re-sync's ratio to the first sync in the same run.

Where both would not fit one benchmark slot (8 minutes; 1M customers), `--step first` runs the
first sync alone and a later `--step again` the re-sync of the shop it left; the ratio then
uses the first sync's wall time as its run row recorded it (started -> finished).
"""

import argparse
import os
import time
from pathlib import Path

from bench.ingest import BackendCpu, _django, python_cpu, write_exports

SHOP = "bench-resync.myshopify.com"


def _synced_shop():
    from customers.models import SyncRun
    from tenants.models import Shop

    shop = Shop.objects.filter(domain=SHOP).first()
    first = (
        SyncRun.all_shops.filter(shop=shop, kind="full", status="succeeded").order_by("id").first()
        if shop is not None
        else None
    )
    if first is None:
        raise SystemExit(f"no synced {SHOP} in this database: run --step first before")
    return shop, {"seconds": (first.finished_at - first.started_at).total_seconds()}


def _fresh_shop():
    from django.db import transaction

    from tenants.models import Agency, Shop
    from tenants.shop_erasure import shop_rows_delete

    for shop_id in Shop.objects.filter(domain=SHOP).values_list("id", flat=True):
        with transaction.atomic():
            shop_rows_delete(shop_id=shop_id)  # its partitions dropped, not row by row
    agency, _ = Agency.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    return Shop.objects.create(
        agency=agency, domain=SHOP, access_token="shpat_bench", country_code="DE"
    )


def _timed_sync(shop, paths, batch_size: int, parallel: bool) -> dict:
    from customers.sources import FileSource
    from customers.sync import shop_full_sync

    load = os.getloadavg()[0]
    backends, cpu, started = BackendCpu(), python_cpu(), time.perf_counter()
    run = shop_full_sync(
        shop_id=shop.id, source=FileSource(paths), batch_size=batch_size, parallel=parallel
    )
    seconds = time.perf_counter() - started
    return {
        "run": run.id,
        "status": run.status,
        "created": run.records_created,
        "updated": run.records_updated,
        "seconds": seconds,
        "python_cpu": python_cpu() - cpu,
        "postgres_cpu": backends.stop(),
        "steps": run.checkpoint.get("seconds", {}),
        "load_average": (load, os.getloadavg()[0]),
    }


def _report(name: str, result: dict, customers: int) -> None:
    print(
        f"{name}: {customers:,} customers in {result['seconds']:.1f}s ="
        f" {customers / result['seconds']:,.0f} customers/s; created {result['created']:,},"
        f" updated {result['updated']:,}; python {result['python_cpu']:.1f} CPU-s + postgres"
        f" {result['postgres_cpu']:.1f} CPU-s; load average {result['load_average'][0]:.1f}"
        f" -> {result['load_average'][1]:.1f}; status {result['status']}"
    )
    print(f"{name} steps (s): {result['steps']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/clientele-bench")
    parser.add_argument("--load", choices=["parallel", "sequential"], default="parallel")
    parser.add_argument("--step", choices=["both", "first", "again"], default="both")
    args = parser.parse_args()
    paths = write_exports(args.customers, Path(args.workdir), args.seed)
    _django()
    from django.core.management import call_command

    from customers.models import Customer

    call_command("migrate", verbosity=0)
    parallel = args.load == "parallel"
    if args.step == "again":
        shop, first = _synced_shop()
    else:
        shop = _fresh_shop()
        first = _timed_sync(shop, paths, args.batch_size, parallel)
    again = _timed_sync(shop, paths, args.batch_size, parallel) if args.step != "first" else None
    customers = Customer.all_shops.filter(shop=shop).count()
    if args.step != "again":
        _report("first sync", first, customers)
    if again is None:
        return
    _report("re-sync", again, customers)
    if args.step == "again":
        print(
            f"ratio: the re-sync takes {again['seconds'] / first['seconds']:.2f}x the first"
            f" sync's wall time ({first['seconds']:.1f} s, as its run row recorded it)"
        )
        return
    cpu = {name: r["python_cpu"] + r["postgres_cpu"] for name, r in (("1", first), ("2", again))}
    print(
        f"ratio: the re-sync takes {again['seconds'] / first['seconds']:.2f}x the first sync's"
        f" wall time, {cpu['2'] / cpu['1']:.2f}x its CPU (Python + PostgreSQL)"
    )


if __name__ == "__main__":
    main()
