"""The incremental duplicate check of one new or changed customer against a large store.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_incr_bench \\
        .venv/bin/python -m bench.dedupe_incremental --customers 1000000 --samples 200 \\
        --setup keys --baseline-samples 0

The store is generated in SQL (generate_series: synthetic names from syllables, emails, phones,
postcodes; every 20th customer a second profile of the previous person with a typo'd email and
a nickname-free copy of the name), then scanned once in full (keys, fit, candidates) by
`merges.services.duplicates_find`, which is the first baseline: what re-checking the store
would cost without an incremental path. Then, one at a time, customers are changed (half: an
existing customer's email and first name are rewritten; half: a new profile copying a random
person arrives) and checked: `samples` of them by the production path (merges.incremental:
a few statements per check on PostgreSQL) and `portable-samples`, spread among those, by the
portable path (an ORM query per step: the check as it was before; the same-run baseline).
Each is timed (wall clock and this process's CPU): p50 / p95 / max, and the statements one check
sends are counted. The last baseline is checking one customer *without* the key table: scoring
it against every customer (records already in memory, so only the comparison is timed; loading
them takes minutes at 1M, `--baseline-samples 0` skips it).
The store is reused by later runs of the same size (the generation and the scan are the slow
part at 1M); `--rescan` forces the scan again. Migrates the database first.

`--setup keys` prepares a new store without the full scan (18 min at 1M while its grouping is
quadratic): the key table is built by the production `blocking_keys_rebuild`, the model fitted
on every blocked pair as the scan does, and the open candidates proposed from the same pairs in
slices of consecutive ids (a component that straddles two slices is proposed as two groups: the
store's duplicates are neighbours by id, so this changes a handful of the 50,000). No scan
baseline is printed then. Use a database of your own (DATABASE_URL) to keep the store between runs.
"""

import argparse
import os
import random
import resource
import statistics
import time
from dataclasses import dataclass, field

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from customers.models import Customer  # noqa: E402
from merges import fitting, services  # noqa: E402
from merges.detection import blocking, scoring  # noqa: E402
from merges.detection.compare import RecordTable  # noqa: E402
from merges.fitting import matcher_model  # noqa: E402
from merges.incremental import _check, _check_portable  # noqa: E402
from merges.models import BlockingKey, DuplicateCandidate  # noqa: E402
from merges.services import duplicates_find  # noqa: E402
from tenants.models import Agency, Shop  # noqa: E402

SYLLABLES = "'ber','man','stein','ko','wal','ski','mar','tin','hof','ler','san','der','ro','vic','lin','gar','mo','ren','tal','bau'"
FIRST = "'Anna','Lukas','Mia','Leon','Emma','Paul','Lena','Jonas','Sofia','Felix','Hannah','Noah','Lea','Elias','Clara','Ben','Marie','Finn','Laura','Tim','Julia','Max','Sara','David','Nina','Jan','Eva','Tom','Ida','Erik'"
CITIES = "'Berlin','Hamburg','Munich','Cologne','Frankfurt','Stuttgart','Leipzig','Bremen'"
DOMAINS = "'gmail.com','web.de','gmx.de','outlook.com','yahoo.de','t-online.de'"

# person p: surname from three syllables (8,000 surnames), first name from 30; the 20th customer
# of each block is a second profile of the customer before it.
FILL_SQL = f"""
WITH numbered AS (
  SELECT g, CASE WHEN g %% 20 = 0 THEN g - 1 ELSE g END AS p FROM generate_series(1, %s) AS g
), people AS (
  SELECT g, p,
    (ARRAY[{FIRST}])[1 + (p * 7) %% 30] AS first_name,
    initcap((ARRAY[{SYLLABLES}])[1 + p %% 20] || (ARRAY[{SYLLABLES}])[1 + (p / 20) %% 20]
            || (ARRAY[{SYLLABLES}])[1 + (p / 400) %% 20]) AS last_name,
    (ARRAY[{CITIES}])[1 + p %% 8] AS city,
    lpad(((p::bigint * 7919) %% 99999)::text, 5, '0') AS zip,
    (ARRAY[{DOMAINS}])[1 + p %% 6] AS domain
  FROM numbered
)
INSERT INTO customers_customer (
  shop_id, shopify_id, gid, first_name, last_name, email, phone, state, tags, tags_normalized,
  note, verified_email, tax_exempt, locale, number_of_orders, amount_spent, amount_spent_currency,
  aggregates_from_shopify, email_marketing_state, email_marketing_opt_in_level,
  sms_marketing_state, sms_marketing_opt_in_level, default_address_city,
  default_address_province_code, default_address_country_code, default_address_zip,
  predicted_spend_tier, merge_blockers, email_normalized, phone_e164, first_name_key,
  last_name_key, postcode_normalized, created_at_shopify)
SELECT %s, g, 'gid://shopify/Customer/' || g, first_name, last_name,
  lower(first_name) || '.' || lower(last_name)
    || (p %% 89)::text || '@' || CASE WHEN g <> p THEN replace(domain, 'gmail', 'gmial') ELSE domain END,
  CASE WHEN p %% 3 = 0 THEN '+49151' || lpad(p::text, 8, '0') ELSE '' END,
  CASE WHEN g %% 2 = 0 THEN 'ENABLED' ELSE 'DISABLED' END, '[]'::jsonb, '', '', g %% 5 = 0, false,
  'de', g %% 7, (g %% 500)::numeric, 'EUR', true, 'NOT_SUBSCRIBED', '', 'NOT_SUBSCRIBED', '',
  city, '', 'DE', zip, '', '[]'::jsonb, '', '', '', '', '', now() - (g %% 900 || ' days')::interval
FROM people
"""


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_shop(customers: int) -> tuple[Shop, bool]:
    agency, _ = Agency.objects.get_or_create(
        slug=f"dedupe-incr-{customers}", defaults={"name": f"Incremental bench {customers:,}"}
    )
    shop, _ = Shop.objects.get_or_create(
        agency=agency,
        domain=f"dedupe-incr-{customers}.myshopify.com",
        defaults={"country_code": "DE"},
    )
    have = Customer.all_shops.filter(shop=shop, shopify_id__lte=customers).count()
    if have == customers:
        # Undo earlier runs' changes: their new profiles go, rewritten ones are scanned anew.
        Customer.all_shops.filter(shop=shop, shopify_id__gt=customers).delete()
        return shop, False
    Customer.all_shops.filter(shop=shop).delete()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL, [customers, shop.pk])
        cursor.execute("ANALYZE customers_customer")
    print(f"generated {customers:,} customers in SQL in {time.perf_counter() - started:.1f} s")
    return shop, True


def change_one(shop: Shop, customers: int, rng: random.Random, serial: int) -> int:
    return change_customer(shop, rng.randint(1, customers), customers + serial + 1, serial, rng)


def change_customer(
    shop: Shop, shopify_id: int, new_shopify_id: int, serial: int, rng: random.Random
) -> int:
    """Half the time rewrite an existing customer's email and first name; otherwise a new profile
    arrives copying a random person (a duplicate to find). Returns the customer's id."""
    if serial % 2 == 0:
        target = Customer.all_shops.get(shop=shop, shopify_id=shopify_id)
        target.email = f"renamed{serial}.{(target.last_name or 'x').lower()}@example.org"
        target.first_name = rng.choice(["Ole", "Mila", "Theo", "Greta"])
        target.save(update_fields=["email", "first_name"])
        return target.pk
    model = Customer.all_shops.get(shop=shop, shopify_id=shopify_id)
    new_id = new_shopify_id
    return Customer.all_shops.create(
        shop=shop,
        shopify_id=new_id,
        gid=f"gid://shopify/Customer/{new_id}",
        first_name=model.first_name,
        last_name=model.last_name,
        email=(model.email or "").upper(),
        phone=model.phone,
        default_address_zip=model.default_address_zip,
        default_address_city=model.default_address_city,
        default_address_country_code="DE",
    ).pk


PROPOSE_SLICE = 500  # pairs per grouping call in --setup keys (grouping is quadratic)


def setup_without_scan(shop: Shop) -> None:
    """Keys, fit and open candidates for a new store, with the production functions but without
    the scan's grouping of all pairs at once (see the module docstring). Each step is skipped
    when an earlier, interrupted set-up finished it."""
    started = time.perf_counter()
    has_keys = BlockingKey.all_shops.filter(shop=shop).exists()
    if not has_keys or matcher_model(shop_id=shop.id) is None:  # None too: fitted for old levels
        records = blocking.match_fields_load(shop_id=shop.id)
        print(f"  {len(records):,} records loaded in {time.perf_counter() - started:.1f} s")
        if not has_keys:
            keys = blocking.blocking_keys_rebuild(shop_id=shop.id, records=records)
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {blocking.KEY_TABLE}")
            print(f"  {keys:,} keys written in {time.perf_counter() - started:.1f} s")
        pairs = blocking.candidate_pairs(shop_id=shop.id)
        model, report = fitting.matcher_fit(shop_id=shop.id, records=records, pairs=pairs)
        fitting.matcher_save(
            shop_id=shop.id, model=model, report=report, version=services.DETECTOR_VERSION
        )
        print(f"  {len(pairs):,} pairs, model fitted in {time.perf_counter() - started:.1f} s")
        del records
    pairs = blocking.candidate_pairs(shop_id=shop.id)
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    members = sorted(set(pairs.ravel().tolist()))
    by_id = {
        r.customer_id: r for r in blocking.match_fields_load(shop_id=shop.id, customer_ids=members)
    }
    model = matcher_model(shop_id=shop.id)
    now = timezone.now()
    DuplicateCandidate.all_shops.filter(shop=shop, status="open").delete()
    stored = 0
    for start in range(0, len(pairs), PROPOSE_SLICE):
        chunk = pairs[start : start + PROPOSE_SLICE]
        chunk_records = [by_id[i] for i in sorted(set(chunk.ravel().tolist())) if i in by_id]
        live = np.isin(chunk, list(by_id)).all(axis=1)
        proposals = services._propose(shop.id, model, chunk_records, chunk[live])
        DuplicateCandidate.all_shops.bulk_create(
            [services._candidate(shop.id, g, e, now) for g, e in proposals]
        )
        stored += len(proposals)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE merges_duplicatecandidate")
    print(f"  {stored:,} open candidates in {time.perf_counter() - started:.1f} s")


PATHS = {"statements": _check, "portable": _check_portable}


@dataclass
class Run:
    wall: list[float] = field(default_factory=list)  # ms
    cpu: list[float] = field(default_factory=list)  # ms of this process
    found: int = 0
    copies: int = 0
    statements: int = 0  # sent by one check (its first, untimed: the model is cached after it)

    def time(self, shop: Shop, customer_id: int, check, *, copy: bool) -> None:
        if not self.statements:
            with CaptureQueriesContext(connection) as sent:
                check(shop.id, [customer_id])
            self.statements = len(sent)
            return
        started, started_cpu = time.perf_counter(), time.process_time()
        if check(shop.id, [customer_id]) is None:
            raise SystemExit("the store's model was fitted for other comparison levels: --rescan")
        self.wall.append((time.perf_counter() - started) * 1000)
        self.cpu.append((time.process_time() - started_cpu) * 1000)
        if copy:
            self.copies += 1
            self.found += DuplicateCandidate.all_shops.filter(
                shop=shop, status="open", members__contains=[customer_id]
            ).exists()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def without_key_table(shop: Shop, samples: int, rng: random.Random) -> list[float]:
    """Baseline: one customer scored against every customer (records already in memory)."""
    records = blocking.match_fields_load(shop_id=shop.id)
    table = RecordTable.build(records)
    model = matcher_model(shop_id=shop.id)
    everyone = np.arange(len(records))
    times = []
    for _ in range(samples):
        one = np.full(len(records), rng.randrange(len(records)))
        started = time.perf_counter()
        scoring.score_pairs(model, table, one, everyone)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--baseline-samples", type=int, default=5)
    parser.add_argument("--portable-samples", type=int, default=40)
    parser.add_argument("--rescan", action="store_true")
    parser.add_argument(
        "--shop-domain",
        help="measure on this already scanned shop (e.g. bench.dedupe's realistic 1M store)"
        " instead of the SQL-generated one; its new profiles are left in place",
    )
    parser.add_argument(
        "--setup",
        choices=["scan", "keys"],
        default="scan",
        help="how a new store gets its keys, model and candidates (module docstring)",
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.shop_domain:
        shop, generated = Shop.objects.get(domain=args.shop_domain), False
        shopify_ids = list(
            Customer.all_shops.filter(shop=shop, deleted_at__isnull=True)
            .order_by("shopify_id")
            .values_list("shopify_id", flat=True)
        )
    else:
        shop, generated = bench_shop(args.customers)
    scanned = (
        matcher_model(shop_id=shop.id) is not None  # fitted for today's comparison levels
        and BlockingKey.all_shops.filter(shop=shop).exists()
        and DuplicateCandidate.all_shops.filter(shop=shop).exists()
    )
    scan_seconds = None
    if (generated or args.rescan or not scanned) and args.setup == "keys":
        setup_without_scan(shop)
    elif generated or args.rescan or not scanned:
        started = time.perf_counter()
        result = duplicates_find(shop_id=shop.id, full=True, progress=lambda m: print(" ", m))
        scan_seconds = time.perf_counter() - started
        print(
            f"full scan: {result.customers:,} customers, {result.pairs:,} pairs,"
            f" {result.candidates:,} candidates in {scan_seconds:.1f} s"
        )
    open_candidates = DuplicateCandidate.all_shops.filter(shop=shop, status="open").count()
    print(f"open candidates: {open_candidates:,}; peak RSS so far {peak_rss_mib():,.0f} MiB")

    rng = random.Random(7)
    total = args.samples + args.portable_samples
    # The portable path (one ORM query per step, the check before the one-statement rewrite) is
    # the same-run baseline: its samples are spread among the others, so both see the same load.
    # Every other one of them a new copy (odd serials), as among the others.
    spacing = total / max(1, args.portable_samples)
    portable_at = {2 * int(j * spacing / 2) + j % 2 for j in range(args.portable_samples)}
    runs = {"statements": Run(), "portable": Run()}
    for serial in range(total):
        path = "portable" if serial in portable_at else "statements"
        if args.shop_domain:
            new_id = shopify_ids[-1] + 1_000_000 + serial
            chosen = shopify_ids[rng.randrange(len(shopify_ids))]
            customer_id = change_customer(shop, chosen, new_id, serial, rng)
        else:
            customer_id = change_one(shop, args.customers, rng, serial)
        runs[path].time(shop, customer_id, PATHS[path], copy=serial % 2 == 1)
    for path in ("statements", "portable"):
        run = runs[path]
        if run.wall:
            print(
                f"{path} path, one customer ({len(run.wall)} samples):"
                f" p50 {statistics.median(run.wall):.1f} ms, p95 {percentile(run.wall, 0.95):.1f} ms,"
                f" max {max(run.wall):.1f} ms; CPU p50 {statistics.median(run.cpu):.1f} ms,"
                f" p95 {percentile(run.cpu, 0.95):.1f} ms; {run.statements} statements per check;"
                f" new copies proposed with their original: {run.found}/{run.copies}"
            )
    ms = runs["statements"].wall
    if runs["portable"].wall:
        before = percentile(runs["portable"].wall, 0.95)
        print(f"ratio: p95 {before / percentile(ms, 0.95):.1f}x faster than the portable path")
    load = os.getloadavg()
    print(f"load average after the samples: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    p95 = percentile(ms, 0.95)
    if args.baseline_samples:
        baseline = [t * 1000 for t in without_key_table(shop, args.baseline_samples, rng)]
        base_p50 = statistics.median(baseline)
        print(
            f"baseline, one customer scored against all {args.customers:,} (no key table):"
            f" p50 {base_p50:.0f} ms ({args.baseline_samples} samples)"
        )
        print(
            f"ratio: incremental p95 is {base_p50 / p95:,.0f}x faster than the no-key-table baseline"
        )
    if scan_seconds is not None:
        print(
            f"ratio: incremental p95 is {scan_seconds * 1000 / p95:,.0f}x faster than a full scan"
        )
    print(
        f"target p95 <= 50 ms: {'met' if p95 <= 50 else 'MISSED'}; peak RSS {peak_rss_mib():,.0f} MiB"
    )


if __name__ == "__main__":
    main()
