"""Where the full sync's load spends Python CPU, per line type, in µs of CPU per line.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \\
        .venv/bin/python -m bench.load_profile --workdir /tmp/ingest-wd --customers 100000

Reads the first --lines lines of each export that bench/ingest.py wrote (cached in --workdir)
into memory, then times, with process CPU time (the machine is shared: wall time is noise):

- parse: `orjson.loads` of each line type alone (customer, address, order, line item);
- normalise: the matching keys of each customer (email, phone, name keys, postcode), cold
  caches (a first sync) and warm;
- map: customers.bulkrows over the parsed nodes, per parent with its children (a customer with
  its addresses, an order with its line items): field picking, keys and COPY text together;
- consume: `StagedLoad.consume` with the COPY replaced by a no-op (the whole Python side of the
  load: parse + grouping + mapping + building the COPY lines), per parent;
- copy: the batches' COPY into the staging tables (join + encode + psycopg send), with the
  PostgreSQL backend's CPU for the same statements.

Each figure is the best of --repeat runs (least disturbed by other processes).
"""

import argparse
import os
import time
from pathlib import Path

import orjson


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return min(times)


def read_lines(path: str, limit: int) -> list[bytes]:
    lines = []
    with open(path, "rb") as handle:
        for line in handle:
            lines.append(line)
            if len(lines) >= limit:
                break
    return lines


def kind_of(node: dict) -> str:
    return node["id"].split("/", 4)[3]


def backend_cpu(cursor) -> float:
    cursor.execute("SELECT pg_backend_pid()")
    pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/clientele-bench")
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-copy", action="store_true", help="skip the COPY (no database)")
    args = parser.parse_args()
    _django()
    from django.db import connection

    from customers import bulkrows, normalize, staging

    workdir = Path(args.workdir)
    files = {
        "customers": workdir / f"customers-{args.customers}-{args.seed}-utf8.jsonl",
        "orders": workdir / f"orders-{args.customers}-{args.seed}-utf8.jsonl",
    }
    print(f"load average {os.getloadavg()[0]:.1f}; best of {args.repeat}; CPU µs per line")
    for phase, path in files.items():
        lines = read_lines(str(path), args.lines)
        nodes = [orjson.loads(line) for line in lines]
        by_kind: dict[str, list[bytes]] = {}
        for line, node in zip(lines, nodes, strict=True):
            by_kind.setdefault(kind_of(node), []).append(line)
        for kind, group in by_kind.items():
            loads = orjson.loads

            def parse(group=group, loads=loads):
                for line in group:
                    loads(line)

            seconds = best(parse, args.repeat)
            size = sum(map(len, group)) / len(group)
            print(
                f"  parse {kind:12s} {len(group):8,d} lines, {size:5.0f} B: "
                f"{seconds / len(group) * 1e6:6.2f} µs"
            )
        # Group parents with their children, as StagedLoad does.
        groups: list[tuple[dict, list[dict]]] = []
        for node in nodes:
            if "__parentId" in node:
                groups[-1][1].append(node)
            else:
                groups.append((node, []))
        if phase == "customers":
            groups = groups[:-1]  # the last may miss children past --lines

            def map_all(groups=groups):
                for node, children in groups:
                    bulkrows.customer_lines(node, children, "DE", "1\t", clean=True)

            keys = [
                (
                    (n.get("defaultEmailAddress") or {}).get("emailAddress") or "",
                    (n.get("defaultPhoneNumber") or {}).get("phoneNumber") or "",
                    n.get("firstName") or "",
                    n.get("lastName") or "",
                    (c[0].get("zip") or "", c[0].get("countryCodeV2") or "") if c else ("", ""),
                )
                for n, c in groups
            ]

            def normalise(keys=keys):
                for email, phone, first, last, (zip_code, country) in keys:
                    normalize.email_normalize(email)
                    normalize.phone_normalize(phone, region=country or "DE")
                    normalize.name_key(first)
                    normalize.name_key(last)
                    normalize.postcode_normalize(zip_code, country_code=country)

            for cache in (normalize._phone_international, normalize._phone_parsed,
                          normalize.name_key, normalize._postcode):  # fmt: skip
                cache.cache_clear()
            started = time.process_time()
            normalise()  # cold: what a first sync pays (phone numbers are unique)
            cold = time.process_time() - started
            warm = best(normalise, args.repeat)
            print(
                f"  normalise (email, phone, 2 name keys, postcode) cold {cold / len(keys) * 1e6:6.2f}"
                f" µs, warm {warm / len(keys) * 1e6:6.2f} µs per customer"
            )
        else:

            def map_all(groups=groups):
                for node, children in groups:
                    bulkrows.order_line(node, children, "1\t", clean=True)

        seconds = best(map_all, args.repeat)
        children = sum(len(c) for _, c in groups)
        print(
            f"  map   {phase} (parent + {children / len(groups):.2f} children) "
            f"{seconds / len(groups) * 1e6:6.2f} µs per parent"
        )

        # The whole Python side of the load, COPY replaced by collecting the batches.
        batches: list = []

        class Collecting(staging.StagedLoad):
            def _flush(self, *, lines_done):
                self.batches.append(self._batch)
                self._batch = staging._Batch([], [], [])

        def consume(lines=lines, phase=phase, batches=batches):
            batches.clear()
            load = Collecting(run_id=0, phase=phase, shop_country="DE", batch_size=20_000)
            load.batches = batches
            load.consume(lines)

        seconds = best(consume, args.repeat)
        print(
            f"  consume {phase}: {seconds:.3f} s for {len(lines):,} lines = "
            f"{seconds / len(groups) * 1e6:6.2f} µs per parent, {seconds / len(lines) * 1e6:5.2f} "
            "µs per line"
        )
        if args.no_copy:
            continue
        staging.stage_tables_drop(0)
        staging.stage_tables_create(0)
        parent_columns = (
            bulkrows.CUSTOMER_COLUMNS if phase == "customers" else bulkrows.ORDER_COLUMNS
        )
        with connection.cursor() as cursor:
            db_before, cpu_before = backend_cpu(cursor), time.process_time()
            for batch in batches:
                staging._copy(
                    cursor,
                    staging.table_name(0, phase),
                    ["line_no", *parent_columns],
                    batch.parents,
                )
                if batch.addresses:
                    staging._copy(
                        cursor,
                        staging.table_name(0, "addresses"),
                        ["line_no", *bulkrows.ADDRESS_COLUMNS],
                        batch.addresses,
                    )
            py, db = time.process_time() - cpu_before, backend_cpu(cursor) - db_before
        staging.stage_tables_drop(0)
        print(
            f"  copy  {phase}: python {py / len(groups) * 1e6:6.2f} µs, postgres "
            f"{db / len(groups) * 1e6:6.2f} µs per parent"
        )


if __name__ == "__main__":
    main()
