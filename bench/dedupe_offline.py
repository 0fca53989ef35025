"""Detection quality in process, without the database: for trying comparison levels quickly.

    .venv/bin/python -m bench.dedupe_offline --customers 10000 --seeds 1,2,3 --rates 0.05,0.15

Runs the same detection functions as `merges.services.duplicates_find` (normalisation, blocking
keys with the key-share cap, the unsupervised fit, scoring, guarded groups) on the generator's
records turned into `MatchFields` directly, and scores the groups against the generator's truth
like bench/dedupe.py does. The figures of record come from bench/dedupe.py (the production path
through the mirror); this one exists to compare variants within seconds.
"""

import argparse
import itertools
import pickle
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np

from bench.dedupe import (
    COUNTRIES,
    NO_RARE_NAMES,
    Truth,
    _pairs_of,
    _prf,
    rare_names_arg,
    shop_domain,
)


def _store(
    count: int, seed: int, rate: float, country: str, workdir: Path,
    rare_names: tuple[float, float] = NO_RARE_NAMES,
):  # fmt: skip
    from sandbox.generator import generate_customers

    workdir.mkdir(parents=True, exist_ok=True)
    domain = shop_domain(count, seed, rate, country, rare_names)
    path = workdir / f"{domain}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    stream = generate_customers(
        shop_domain=domain,
        count=count,
        seed=seed,
        duplicate_rate=rate,
        country=country,
        rare_names=rare_names,
    )
    records = list(stream)
    path.write_bytes(pickle.dumps((records, stream.truth)))
    return records, stream.truth


WITH_ORDERS = True
THRESHOLD = 0.55  # merges.detection.groups.REVIEW_THRESHOLD unless --threshold


def _member(record: dict, pk: int):
    from merges.detection.groups import Member

    orders = [o for o in record.get("orders") or [] if not o.get("cancelledAt")]
    created = record.get("createdAt")
    return Member(
        pk,
        record.get("state") == "ENABLED",
        len(orders),
        bool(record.get("verifiedEmail")),
        datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
    )


def run_store(records: list[dict], truth, country: str) -> dict:
    from merges.detection import groups, scoring
    from merges.detection.blocking import MAX_KEY_SHARE
    from merges.detection.compare import RecordTable
    from merges.detection.generated import match_fields_from_generated, products_from_generated
    from merges.detection.keys import blocking_keys

    fields = [match_fields_from_generated(r, default_region=country) for r in records]
    pk_of = {f.customer_id: f.customer_id for f in fields}
    t = Truth(truth, pk_of)
    index: dict = defaultdict(list)
    for f in fields:
        for key in blocking_keys(f):
            index[key].append(f.customer_id)
    blocked = sorted(
        {
            (min(a, b), max(a, b))
            for ids in index.values()
            if 2 <= len(ids) <= MAX_KEY_SHARE
            for a, b in itertools.combinations(ids, 2)
        }
    )
    pairs = np.array(blocked, dtype=np.int64)
    products = {
        f.customer_id: products_from_generated(r) for f, r in zip(fields, records, strict=True)
    }
    table = RecordTable.build(fields, products if WITH_ORDERS else None)
    left, right = table.positions(pairs[:, 0]), table.positions(pairs[:, 1])
    model = scoring.fit(table, left, right)
    scored = scoring.score_pairs(model, table, left, right)
    pair_list = [(int(a), int(b)) for a, b in blocked]
    keep = np.flatnonzero(scored.probability >= THRESHOLD)
    members = {
        f.customer_id: _member(r, f.customer_id) for f, r in zip(fields, records, strict=True)
    }
    built = groups.build_groups(
        ((pair_list[i][0], pair_list[i][1], float(scored.probability[i])) for i in keep),
        members,
        cannot_link=groups.level_vetoes(pair_list, scored.levels),
        review_threshold=THRESHOLD,
        linkage=groups.pair_linkage(pairs, scored.probability, THRESHOLD),
    )
    grouped = _pairs_of(g.members for g in built)
    high = _pairs_of(g.members for g in built if g.probability >= groups.HIGH_THRESHOLD)
    edges = {pair_list[i] for i in keep}
    blocked_set = set(blocked)
    keys_of = {f.customer_id: blocking_keys(f) for f in fields}
    return {
        "customers": len(fields),
        "true_pairs": len(t.pairs),
        "blocking": {
            "completeness": len(blocked_set & t.pairs) / len(t.pairs),
            "pairs": len(blocked_set),
            "by_kind": t.by_kind(blocked_set),
        },
        "pairwise": _prf(grouped, t.pairs),
        "edges": _prf(edges, t.pairs),
        "high_tier": _prf(high, t.pairs),
        "groups": t.group_quality([g.members for g in built]),
        "by_kind": t.by_kind(grouped),
        "false_positives": dict(t.false_positive_kinds(grouped)),
        "missed": sorted(t.pairs - grouped),
        "causes": miss_causes(t, grouped, blocked_set, edges, keys_of),
        "_debug": (fields, table, model, pairs, scored, t),
    }


CAUSES = ("found", "below threshold", "keys capped", "no key shared", "cut by guards")


def miss_causes(truth, grouped: set, blocked: set, edges: set, keys_of: dict) -> dict:
    """kind -> Counter of what became of its true pairs: found (in one group, blocked or not);
    blocked but scored below the review threshold; not blocked though sharing a key (every
    shared key held by more than the share cap); not blocked, no key shared; an edge, but the
    group guards put the two apart."""
    out: dict[str, Counter] = defaultdict(Counter)
    for pair, kind in truth.pair_kind.items():
        if pair in grouped:
            cause = "found"
        elif pair in edges:
            cause = "cut by guards"
        elif pair in blocked:
            cause = "below threshold"
        elif keys_of[pair[0]] & keys_of[pair[1]]:
            cause = "keys capped"
        else:
            cause = "no key shared"
        out[kind][cause] += 1
    return out


def summary(results: list[dict]) -> None:
    def total(key, sub):
        found = sum(r[key]["found"] for r in results)
        hit = sum(r[key]["hit"] for r in results)
        truth = sum(r["true_pairs"] for r in results)
        p, rec = hit / max(found, 1), hit / max(truth, 1)
        return p, rec, hit, found

    p, r, _, _ = total("pairwise", None)
    hp, _, hh, hf = total("high_tier", None)
    ep, er, _, _ = total("edges", None)
    blocked = sum(sum(v[1] for v in x["blocking"]["by_kind"].values()) for x in results)
    truth = sum(x["true_pairs"] for x in results)
    ppc = sum(x["blocking"]["pairs"] for x in results) / sum(x["customers"] for x in results)
    mixing = sum(x["groups"]["mixing_people"] for x in results)
    parts = {
        k: sum(x["groups"][f"mixing_{k}"] for x in results)
        for k in ("two_member", "chained", "household")
    }
    print(
        f"pairs in groups P {p:.4f} R {r:.4f} | edges P {ep:.4f} R {er:.4f} | high tier P "
        f"{hp:.4f} ({hh}/{hf}) | blocking {blocked / truth:.4f} at {ppc:.2f}/customer | "
        f"mixing {mixing} ({parts['two_member']} two-member, {parts['chained']} of three or more;"
        f" {parts['household']} holding a household)"
    )
    for x in results:
        print(
            f"  {x['store']}: P {x['pairwise']['precision']:.4f} R {x['pairwise']['recall']:.4f}"
            f" FP {dict(x['false_positives'])}"
        )
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for x in results:
        for kind, (n, hit) in x["by_kind"].items():
            kinds[kind][0] += n
            kinds[kind][1] += hit
    for kind, (n, hit) in sorted(kinds.items(), key=lambda kv: -kv[1][0])[:16]:
        print(f"  {kind:40s} {n:6d}  {hit / n:.3f}")
    fps = Counter()
    for x in results:
        fps.update(x["false_positives"])
    print(f"  false positives: {dict(fps)}")
    causes: dict[str, Counter] = defaultdict(Counter)
    for x in results:
        for kind, counts in x["causes"].items():
            causes[kind].update(counts)
    whole = sum(causes.values(), Counter())
    print("  true pairs by what became of them: " + ", ".join(f"{c} {whole[c]}" for c in CAUSES))
    print(f"  {'kind':40s} " + " ".join(f"{c:>15s}" for c in CAUSES))
    for kind, counts in sorted(causes.items(), key=lambda kv: -sum(kv[1].values()))[:16]:
        print(f"  {kind:40s} " + " ".join(f"{counts[c]:15d}" for c in CAUSES))


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--rates", default="0.05,0.15")
    parser.add_argument("--workdir", default="/tmp/clientele-bench/dedupe-offline")
    parser.add_argument("--threshold", type=float, default=None, help="review threshold")
    parser.add_argument("--no-orders", action="store_true", help="compare without order history")
    parser.add_argument(
        "--rare-names", type=rare_names_arg, default=NO_RARE_NAMES, metavar="GIVEN,SURNAME",
        help="as bench.dedupe's",
    )  # fmt: skip
    args = parser.parse_args()
    global WITH_ORDERS, THRESHOLD
    WITH_ORDERS = not args.no_orders
    from merges.detection.groups import REVIEW_THRESHOLD

    THRESHOLD = args.threshold if args.threshold is not None else REVIEW_THRESHOLD
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    started = time.perf_counter()
    results = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for rate in (float(r) for r in args.rates.split(",")):
            country = COUNTRIES[(seed - 1) % len(COUNTRIES)]
            records, truth = _store(
                args.customers, seed, rate, country, Path(args.workdir), args.rare_names
            )
            result = run_store(records, truth, country)
            result["store"] = f"{country} seed {seed} rate {rate}"
            results.append(result)
    summary(results)
    print(f"{time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
