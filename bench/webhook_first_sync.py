"""Webhook deliveries while a shop's first full sync runs (customers.partitions), p50/p95.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench flock /tmp/clientele-bench.lock \\
        .venv/bin/python -m bench.webhook_first_sync --customers 30000 --workdir /tmp/wfs-wd

Stored deliveries (email consent update, orders/create, orders/updated: full-state payloads, no
GraphQL re-read, as bench/webhook_apply.py) are processed one after the other through
`webhook_delivery_process` (row lock, the handler, status: what the delivery task runs) while a
first full sync of --customers customers runs in another process (its default two loader
processes, then the apply: partitions built bare, indexed, attached, committed):

- `other shop`: deliveries for a shop that has its partitions (fully synced before) while a
  first sync of another shop runs: they should never wait for it;
- `same shop`: deliveries for the shop being synced (its customers arrived by webhooks
  before): during the apply they wait for its commit, by design (partitions.mirror_writes_wait).

Each delivery is put in the sync's phase it started in: `load` (exports streamed and staged),
`apply` (from the build's locks to the commit), `idle` (no sync: before and after). Then the
extra statement a delivery runs for the partitions (`mirror_writes_wait`), A/B interleaved on an
idle machine state: for a shop without partitions (it takes the shared advisory lock) and for a
shop with them (this process remembers them after the first: no statement at all).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.ingest import _django, _fresh_shop, write_exports
from bench.webhook_apply import _deliveries, process, stored_delivery

SHOPS = {
    "synced": "bench-wfs-synced.myshopify.com",  # has its partitions: receives `other shop`
    "first": "bench-wfs-first.myshopify.com",  # first-synced during `other shop`
    "same": "bench-wfs-same.myshopify.com",  # first-synced while receiving `same shop`
    "unsynced": "bench-wfs-unsynced.myshopify.com",  # never synced: the statement's A/B
}


def lines_export(customers: int, workdir: Path, name: str) -> dict[str, str]:
    """An export of `customers` test-helper customers (ids 1..N, totals derived from their 3
    orders each, so order deliveries never re-read the owner from Shopify)."""
    from customers.tests.test_ingest import customer_line, order_line

    paths = {p: workdir / f"{name}-{customers}-{p}.jsonl" for p in ("customers", "orders")}
    if not all(p.exists() for p in paths.values()):
        workdir.mkdir(parents=True, exist_ok=True)
        with open(paths["customers"], "w") as out:
            for n in range(1, customers + 1):
                out.write(json.dumps(customer_line(n)) + "\n")
        with open(paths["orders"], "w") as out:
            for n in range(1, customers + 1):
                for k in range(3):
                    out.write(json.dumps(order_line(n * 10 + k, n, "20.00", day=k + 1)) + "\n")
    return {k: str(v) for k, v in paths.items()}


def webhook_rows(shop, customers: int) -> None:
    """The shop's customers 1..N as webhooks leave them before a first sync (default partition)."""
    from customers.ingest import BulkIngest
    from customers.tests.test_ingest import customer_line

    BulkIngest(shop_id=shop.id).consume(
        json.dumps(customer_line(n)) for n in range(1, customers + 1)
    )


def purge() -> None:
    from bench import ingest

    ingest.BENCH_SHOPS = (*ingest.BENCH_SHOPS, *SHOPS.values())
    ingest.purge_bench_shops()


def sync_only(shop_id: int, paths: dict[str, str]) -> None:
    """(subprocess) The first full sync, printing when its apply started, attached, committed."""
    _django()
    from customers import partitions, sync
    from customers.sources import FileSource

    marks = {"started": time.time()}
    start, attach, apply = (
        partitions.shop_partitions_start,
        partitions.shop_partitions_attach,
        sync._apply_staged,
    )

    def started(**kwargs):
        marks["apply"] = time.time()
        return start(**kwargs)

    def attaching(**kwargs):
        marks["attach"] = time.time()
        return attach(**kwargs)

    def applied(*args, **kwargs):
        finishing = apply(*args, **kwargs)
        marks["committed"] = time.time()
        return finishing

    partitions.shop_partitions_start, partitions.shop_partitions_attach = started, attaching
    sync._apply_staged = applied
    run = sync.shop_full_sync(shop_id=shop_id, source=FileSource(paths))
    marks.update(ended=time.time(), status=run.status, steps=run.checkpoint.get("seconds", {}))
    print(json.dumps(marks))


def _process_timed(shop, topic, payload) -> tuple[float, float]:
    delivery_id = stored_delivery(shop, topic, payload)
    begun = time.time()
    process(delivery_id)
    return begun, (time.time() - begun) * 1000


def during_sync(shop, sync_shop, paths, count: int, idle_seconds: float) -> dict[str, list[float]]:
    """Deliveries for `shop` before, during and after a first sync of `sync_shop`."""
    phases: dict[str, list[float]] = {"idle": [], "load": [], "apply": []}
    n, round_ = 0, 0

    def deliver() -> list[tuple[float, float]]:
        nonlocal n, round_
        n = n % count + 1
        round_ += n == 1
        return [_process_timed(shop, t, p) for t, p in _deliveries(n, round_ + 10)]

    until = time.time() + idle_seconds
    while time.time() < until:
        phases["idle"] += [ms for _, ms in deliver()]
    sync = subprocess.Popen(
        [sys.executable, "-m", "bench.webhook_first_sync", "--sync-only", str(sync_shop.id),
         json.dumps(paths)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    timed = []
    while sync.poll() is None:
        timed += deliver()
    marks = json.loads(sync.stdout.read().strip().splitlines()[-1])
    assert marks["status"] == "succeeded", marks
    for begun, ms in timed:
        if begun >= marks["committed"]:
            phases["idle"].append(ms)
        else:
            phases["apply" if begun >= marks["apply"] else "load"].append(ms)
    until = time.time() + idle_seconds
    while time.time() < until:
        phases["idle"] += [ms for _, ms in deliver()]
    phases["marks"] = marks
    return phases


def statement_ab(shop, count: int, rounds: int) -> dict[str, list[float]]:
    """Deliveries with the partitions' statement and without it (the shop pretended to have
    its partitions: `mirror_writes_wait` returns before any statement), interleaved."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from customers import partitions

    ways = {"with": [], "without": [], "with statements": [], "without statements": []}
    for round_ in range(rounds):
        for n in range(1, count + 1):
            for way in ("with", "without"):
                partitions._PARTITIONED.discard(shop.id)
                if way == "without":
                    partitions._PARTITIONED.add(shop.id)
                for topic, payload in _deliveries(n, 20 + 2 * round_ + (way == "without")):
                    reset_queries()
                    with CaptureQueriesContext(connection) as captured:
                        ways[way].append(_process_timed(shop, topic, payload)[1])
                    ways[f"{way} statements"].append(len(captured.captured_queries))
    partitions._PARTITIONED.discard(shop.id)
    return ways


def _line(name: str, values: list[float]) -> str:
    if len(values) < 2:
        return f"{name:44s} {len(values):6d} deliveries"
    p95 = statistics.quantiles(values, n=20)[18]
    return (
        f"{name:44s} {len(values):6d} {statistics.median(values):9.2f} {p95:9.2f}"
        f" {max(values):9.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=30_000, help="the first-synced shops")
    parser.add_argument("--synced", type=int, default=5_000, help="the synced shop's customers")
    parser.add_argument("--count", type=int, default=300, help="customers receiving deliveries")
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    parser.add_argument("--ab-rounds", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/wfs-wd")
    parser.add_argument("--sync-only", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sync_only:
        return sync_only(int(args.sync_only[0]), json.loads(args.sync_only[1]))
    _django()
    from customers.sources import FileSource
    from customers.sync import shop_full_sync
    from tenants.scoping import shop_scope

    workdir = Path(args.workdir)
    purge()
    shops = {role: _fresh_shop(domain) for role, domain in SHOPS.items()}
    shop_full_sync(
        shop_id=shops["synced"].id, source=FileSource(lines_export(args.synced, workdir, "synced"))
    )
    first_paths = write_exports(args.customers, workdir, seed=1)
    same_paths = lines_export(args.customers, workdir, "same")
    webhook_rows(shops["same"], args.count)
    webhook_rows(shops["unsynced"], args.count)
    load = [os.getloadavg()[0]]
    results = {}
    with shop_scope([s.id for s in shops.values()]):
        results["other shop"] = during_sync(
            shops["synced"], shops["first"], first_paths, args.count, args.idle_seconds
        )
        load.append(os.getloadavg()[0])
        results["same shop"] = during_sync(
            shops["same"], shops["same"], same_paths, args.count, args.idle_seconds
        )
        load.append(os.getloadavg()[0])
        ab = {
            "without partitions": statement_ab(shops["unsynced"], args.count // 3, args.ab_rounds),
            "with partitions": statement_ab(shops["synced"], args.count // 3, args.ab_rounds),
        }
        load.append(os.getloadavg()[0])
    print(f"{'deliveries (ms)':44s} {'count':>6s} {'p50':>9s} {'p95':>9s} {'max':>9s}")
    for scenario, phases in results.items():
        marks = phases.pop("marks")
        for phase, values in phases.items():
            print(_line(f"{scenario}, sync {phase}", values))
        print(
            f"  its first sync: load {marks['apply'] - marks['started']:.1f} s, apply"
            f" {marks['committed'] - marks['apply']:.1f} s (attach at +"
            f"{marks['attach'] - marks['apply']:.1f} s), steps {marks['steps']}"
        )
    for shop, ways in ab.items():
        for way in ("with", "without"):
            print(_line(f"shop {shop}, {way} the statement", ways[way]))
            statements = statistics.mean(ways[f"{way} statements"])
            print(f"  statements per delivery incl. BEGIN, COMMIT: {statements:.2f}")
    print(f"load average {' / '.join(f'{v:.1f}' for v in load)} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
