"""The first sync's partition build, step by step, in PostgreSQL CPU seconds.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \\
        .venv/bin/python -m bench.build_steps --customers 100000 --workdir /tmp/sync-wd

The exports of bench/ingest.py (same generator, cached in --workdir) are staged once for a new
shop; then the build of the shop's partitions (customers.partition_build: ids, customers,
addresses, orders, order products, every index, constraints and ANALYZE) runs --rounds times
inline on one connection (steps one after the other, no parallel worker), each in a
transaction rolled back. Printed: per step the CPU seconds of the PostgreSQL backend (from
/proc/<pid>/stat, best of the rounds), and the total, which is what the build costs the
machine whatever the number of connections it is spread over. CPU-seconds, not wall, are the
figure to compare under load.
"""

import argparse
import os
import time
from pathlib import Path

from bench.ingest import _django, write_exports
from bench.sync_apply import Rollback, backend_cpu, staged_shop

SHOP = "bench-build.myshopify.com"


def build_once(shop, run) -> dict[str, float]:
    from django.db import connection, transaction
    from django.utils import timezone

    from customers import partition_build

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    cpu: dict[str, float] = {}
    original = partition_build.Builder._run

    def measured(self, step):
        before = backend_cpu(pid)
        original(self, step)
        cpu[step.name] = backend_cpu(pid) - before

    partition_build.Builder._run = measured
    try:
        with transaction.atomic():
            builder = partition_build.shop_partitions_build(
                shop_id=shop.id, run_id=run.id, now=timezone.now()
            )
            builder.wait()
            raise Rollback
    except Rollback:
        pass
    finally:
        partition_build.Builder._run = original
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/clientele-bench")
    args = parser.parse_args()
    paths = write_exports(args.customers, Path(args.workdir), args.seed)
    _django()
    load = os.getloadavg()[0]
    with staged_shop(paths, SHOP) as (shop, run):
        rounds = []
        for number in range(args.rounds):
            started = time.perf_counter()
            rounds.append(build_once(shop, run))
            total = sum(rounds[-1].values())
            print(f"round {number + 1}: {total:.2f} CPU-s, {time.perf_counter() - started:.1f} s"
                  f" wall, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        best = {name: min(r[name] for r in rounds) for name in rounds[0]}
        groups: dict[str, float] = {}
        for name, cpu in best.items():
            group = name.split(" ")[0] if " " in name else "fill"
            groups[group] = groups.get(group, 0.0) + cpu
            print(f"  {name:28} {cpu:6.2f} CPU-s")
        print("by kind: " + ", ".join(f"{g} {c:.2f}" for g, c in groups.items()))
        print(f"build: {sum(best.values()):.2f} PostgreSQL CPU-s (sum of per-step bests of"
              f" {args.rounds}); load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end")  # fmt: skip


if __name__ == "__main__":
    main()
