"""How fast the sandbox store generator is, and how much memory it needs, at benchmark size.

    .venv/bin/python -m bench.generator --count 1000000 [--out /tmp/customers.jsonl]

Reports generation alone (records built, not serialised), then generation + JSONL writing, with
CPU time, wall time, peak RSS, and what was produced (orders, duplicate rate, file size).
"""

import argparse
import os
import resource
import time

from sandbox.generator import generate_customers, write_jsonl

SHOP = "bench-1.myshopify.com"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(count: int, out: str | None) -> None:
    stream = generate_customers(shop_domain=SHOP, count=count, seed=1)
    cpu, wall = time.process_time(), time.perf_counter()
    if out:
        write_jsonl(out, stream)
    else:
        orders = 0
        for record in stream:
            orders += len(record["orders"])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    truth = stream.truth
    what = (
        f"JSONL to {out} ({os.path.getsize(out) / 2**30:.2f} GiB)"
        if out
        else f"records only, {orders} orders"
    )
    print(
        f"{count} customers, {what}: cpu {cpu:.1f}s, wall {wall:.1f}s, "
        f"{count / cpu:,.0f} customers/cpu-s, peak RSS {peak_rss_mib():.0f} MiB, "
        f"duplicate rate {truth.realized_duplicate_rate:.4f}, clusters {len(truth.clusters)}, "
        f"households {len(truth.households)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--out", default=None, help="also write the JSONL file here")
    args = parser.parse_args()
    run(args.count, None)
    if args.out:
        run(args.count, args.out)


if __name__ == "__main__":
    main()
