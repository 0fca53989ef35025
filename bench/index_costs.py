"""What each index of the mirror costs a shop's first full sync: every index of the four
partitioned mirror tables built again on the shop's partitions, one at a time, in a transaction
rolled back after each, as the partition build makes them (maintenance_work_mem 512 MB, no
parallel worker). Prints per index the PostgreSQL CPU seconds (of the backend, from /proc) and
the wall seconds, and the total per table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \\
        .venv/bin/python -m bench.index_costs --shop bench-sync.myshopify.com

The shop must have its partitions (run bench/ingest.py first: it leaves the synced shop).
CPU-seconds, not wall, are the figure to compare under load.
"""

import argparse
import os
import time
from pathlib import Path

from bench.ingest import _django


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shop", default="bench-sync.myshopify.com")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    _django()
    from django.db import connection, transaction

    from customers import partitions
    from tenants.models import Shop

    shop = Shop.objects.get(domain=args.shop)
    load = os.getloadavg()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        indexes = []
        for table in partitions.TABLES:
            name = partitions.partition_name(table, shop.id)
            cursor.execute(f"SELECT count(*) FROM {name}")
            rows = cursor.fetchone()[0]
            for index in partitions.partition_index_plan(cursor, table, name):
                indexes.append((table, rows, index))
    totals: dict[str, list[float]] = {}
    for table, rows, index in indexes:
        cpus, walls = [], []
        for _ in range(args.rounds):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
                    cursor.execute("SET LOCAL max_parallel_maintenance_workers = 0")
                    cpu, started = backend_cpu(pid), time.perf_counter()
                    cursor.execute(index.create.replace(index.name, f"{index.name}_cost", 1))
                    walls.append(time.perf_counter() - started)
                    cpus.append(backend_cpu(pid) - cpu)
                    raise _Rollback
            except _Rollback:
                pass
        cpu, wall = min(cpus), min(walls)
        total = totals.setdefault(table, [0.0, 0.0])
        total[0] += cpu
        total[1] += wall
        definition = index.create.split(" USING ", 1)[1]
        print(f"{table} ({rows:,} rows): {cpu:6.2f} CPU-s {wall:6.2f} s  {definition}")
    for table, (cpu, wall) in totals.items():
        print(f"total {table}: {cpu:.2f} CPU-s, {wall:.2f} s")
    print(
        f"all: {sum(t[0] for t in totals.values()):.2f} CPU-s; load average {load:.1f} at start,"
        f" {os.getloadavg()[0]:.1f} at end (best of {args.rounds})"
    )


class _Rollback(Exception):
    pass


if __name__ == "__main__":
    main()
