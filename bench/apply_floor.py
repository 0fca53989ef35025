"""What PostgreSQL alone needs for a shop's partitions: its final rows COPYed into bare tables,
then every index the mirror requires, on as many connections as the build uses.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \\
        .venv/bin/python -m bench.apply_floor --shop bench-sync.myshopify.com --workdir /tmp/floor

The shop must have its partitions (run bench/ingest.py first: it leaves the synced shop). Its
four partitions are dumped once into --workdir (COPY ... TO, not timed). Then, timed: bare
tables shaped like the parents, the dumps COPYed back (no mapping, no join, no cast beyond the
COPY's own parsing), every index of the parents and ANALYZE, scheduled by the first sync's own
step runner (customers.partition_build.Builder: same connections, same parallel-worker rule).
That is the floor of the apply on this machine: what the partition build does on top of it is
the mapping SQL (joins, aggregates, order-product expansion). The tables are dropped after.
Prints wall seconds, PostgreSQL CPU seconds, and each step's seconds.
"""

import argparse
import os
import time
from pathlib import Path

from bench.ingest import BackendCpu, _django

FORMATS = {"binary": "(FORMAT binary)", "text": ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shop", default="bench-sync.myshopify.com")
    parser.add_argument("--workdir", default="/tmp/clientele-floor")
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--format", choices=sorted(FORMATS), default="text")
    args = parser.parse_args()
    _django()
    from django.conf import settings
    from django.db import connection

    from customers import partition_build, partitions
    from tenants.models import Shop

    settings.FULL_SYNC_BUILD_CONNECTIONS = args.connections
    shop = Shop.objects.get(domain=args.shop)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    option = FORMATS[args.format]
    dumps, rows = {}, {}
    with connection.cursor() as cursor:
        for table in partitions.TABLES:
            source = partitions.partition_name(table, shop.id)
            path = workdir / f"{source}.{args.format}"
            if not path.exists():
                with (
                    path.open("wb") as out,
                    cursor.cursor.copy(f"COPY {source} TO STDOUT {option}") as copy,
                ):
                    for block in copy:
                        out.write(block)
            dumps[table] = path
            cursor.execute(f"SELECT count(*) FROM {source}")
            rows[table] = cursor.fetchone()[0]
    print(
        "rows: "
        + ", ".join(
            f"{t} {n:,} ({dumps[t].stat().st_size / 2**20:.0f} MiB)" for t, n in rows.items()
        )
    )

    bare = {table: f"_floor_{table}" for table in partitions.TABLES}

    def copy_in(table: str) -> int:
        with connection.cursor() as cursor, dumps[table].open("rb") as data:
            with cursor.cursor.copy(f"COPY {bare[table]} FROM STDIN {option}") as copy:
                while block := data.read(1 << 20):
                    copy.write(block)
            return rows[table]

    backends, started, load = BackendCpu(), time.perf_counter(), os.getloadavg()[0]
    with connection.cursor() as cursor:
        for table, name in bare.items():
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)")
        plans = {t: partitions.partition_index_plan(cursor, t, n) for t, n in bare.items()}
    steps = []
    for table in (partitions.TABLES[2], partitions.TABLES[3], *partitions.TABLES[:2]):
        steps.append(partition_build.Step(f"copy {table}", lambda t=table: copy_in(t)))
    for table in (partitions.TABLES[2], partitions.TABLES[3], *partitions.TABLES[:2]):
        names = [f"index {table} {n}" for n in range(len(plans[table]))]
        for name, index in zip(names, plans[table], strict=True):
            steps.append(
                partition_build.Step(
                    name, partition_build._statement(index.create), (f"copy {table}",), index=True
                )
            )
        steps.append(
            partition_build.Step(
                f"finish {table}",
                lambda t=table: partition_build._finish(plans[t], bare[t]),
                tuple(names),
            )
        )
    builder = partition_build.Builder(steps, bare)
    builder.start()
    built = builder.wait()
    seconds, cpu = time.perf_counter() - started, backends.stop()
    with connection.cursor() as cursor:
        for name in bare.values():
            cursor.execute(f"DROP TABLE {name}")
    print(
        f"floor ({args.format} COPY + indexes + ANALYZE, {args.connections} connection(s)):"
        f" {seconds:.1f} s wall, PostgreSQL {cpu:.1f} CPU-s; load average {load:.1f} at start,"
        f" {os.getloadavg()[0]:.1f} at end"
    )
    print(f"steps (s): {built.seconds}")


if __name__ == "__main__":
    main()
