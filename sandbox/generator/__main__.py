"""python -m sandbox.generator --shop acme-1.myshopify.com --count 5000 --seed 1 --out customers.jsonl"""

import argparse
import sys
import time

from .core import generate_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.generator", description=__doc__)
    parser.add_argument("--shop", required=True, help="shop domain, e.g. acme-1.myshopify.com")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duplicate-rate", type=float, default=0.08)
    parser.add_argument("--currency", default="EUR")
    parser.add_argument("--country", default="DE")
    parser.add_argument("--orders-per-customer", type=float, default=3.0)
    parser.add_argument("--start-id", type=int, default=None)
    parser.add_argument("--out", required=True, help="customers JSONL file")
    parser.add_argument("--truth-out", default=None, help="ground truth JSON file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        truth = generate_store(
            shop_domain=args.shop,
            count=args.count,
            seed=args.seed,
            customers_out=args.out,
            truth_out=args.truth_out,
            duplicate_rate=args.duplicate_rate,
            currency=args.currency,
            country=args.country,
            orders_per_customer=args.orders_per_customer,
            start_id=args.start_id,
        )
    except ValueError as error:
        parser.error(str(error))
    elapsed = time.perf_counter() - started
    print(
        f"{truth.count} customers, {len(truth.kinds)} duplicate profiles "
        f"({truth.realized_duplicate_rate:.4f}) in {elapsed:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
