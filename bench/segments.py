"""Segments on PostgreSQL at scale: one store with N customers and 3N orders (generated in SQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \
      DJANGO_SETTINGS_MODULE=config.settings .venv/bin/python -m bench.segments [customers]

Times: a 10-clause query with products_purchased counted in the database; a full membership
refresh with its ledger diff (first refresh: everyone enters; second after a change: the diff);
one members page of 1,000; the incremental refresh of one changed customer (p50/p95, the
webhook path); and the naive approach (load customers and orders, filter in Python with the
reference evaluator) on the same query, with the ratios. Migrates the database first; the
generated store is kept and reused by the next run of the same size.
"""

import os
import sys
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from customers.models import Customer, Order  # noqa: E402
from segments.models import Segment, SegmentMembership  # noqa: E402
from segments.query import parse_query  # noqa: E402
from segments.query.compile import compile_for_shops, live_customers  # noqa: E402
from segments.query.evaluate import matches  # noqa: E402
from segments.services import (  # noqa: E402
    segment_create,
    segment_refresh,
    segment_refresh_customers,
)
from tenants.models import Agency, Shop  # noqa: E402
from tenants.scoping import shop_scope  # noqa: E402

QUERY = (
    "amount_spent > 50 AND number_of_orders >= 2 AND last_order_date >= -365d"
    " AND customer_tags NOT CONTAINS 'blocked' AND email_subscription_status = 'SUBSCRIBED'"
    " AND customer_account_status != 'DECLINED'"
    " AND (customer_tags CONTAINS 'vip' OR amount_spent > 500)"
    " AND first_order_date IS NOT NULL"
    " AND products_purchased MATCHES (id IN (101, 202, 303))"
)


# The refresh and page timings use a broad segment (nearly every customer), the worst case.
BROAD = "number_of_orders >= 1 AND customer_tags NOT CONTAINS 'blocked' AND last_order_date >= -2y"


def timed(label, function):
    started = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - started
    print(f"{label:<58} {elapsed:8.3f} s")
    return result, elapsed


def fill(shop: Shop, customers: int) -> None:
    """Customers and orders straight in SQL (generate_series): the mirror's shape, no Python loop."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (
              shop_id, shopify_id, gid, first_name, last_name, email, phone, state, tags,
              tags_normalized, note, verified_email, tax_exempt, locale, number_of_orders,
              amount_spent, amount_spent_currency, aggregates_from_shopify, first_order_at,
              last_order_at, created_at_shopify, email_marketing_state, email_marketing_opt_in_level,
              sms_marketing_state, sms_marketing_opt_in_level, default_address_city,
              default_address_province_code, default_address_country_code, default_address_zip,
              predicted_spend_tier, merge_blockers, email_normalized, phone_e164, first_name_key,
              last_name_key, postcode_normalized)
            SELECT %s, g, 'gid://shopify/Customer/' || g, 'F' || g, 'L' || g, 'c' || g || '@example.com',
              '', (ARRAY['ENABLED','DISABLED','INVITED','DECLINED'])[1 + g %% 4],
              CASE WHEN g %% 10 = 0 THEN '["vip"]'::jsonb WHEN g %% 97 = 0 THEN '["blocked"]'::jsonb ELSE '[]'::jsonb END,
              CASE WHEN g %% 10 = 0 THEN ',vip,' WHEN g %% 97 = 0 THEN ',blocked,' ELSE '' END,
              '', false, false, 'en', 3, (g %% 1000)::numeric, 'EUR', true,
              now() - ((g %% 900) || ' days')::interval - interval '30 days',
              now() - ((g %% 500) || ' days')::interval,
              now() - ((g %% 1500) || ' days')::interval - interval '60 days',
              (ARRAY['SUBSCRIBED','NOT_SUBSCRIBED','UNSUBSCRIBED'])[1 + g %% 3], '', '', '',
              'Paris', '', 'FR', '75001', '', '[]'::jsonb, 'c' || g || '@example.com', '', '', '', ''
            FROM generate_series(1, %s) AS g
            """,
            [shop.pk, customers],
        )
        cursor.execute(
            """
            INSERT INTO customers_order (shop_id, shopify_id, customer_id, customer_shopify_id, name,
              processed_at, total_price, currency, financial_status, product_ids, product_tags,
              product_tags_normalized, is_test)
            SELECT c.shop_id, c.shopify_id * 3 + k, c.id, c.shopify_id, '#' || (c.shopify_id * 3 + k),
              c.last_order_at - (k || ' days')::interval, 40 + k * 10, 'EUR', 'PAID',
              jsonb_build_array(100 + (c.shopify_id * 7 + k) %% 400), '[]'::jsonb, '', false
            FROM customers_customer c CROSS JOIN generate_series(0, 2) AS k
            WHERE c.shop_id = %s
            """,
            [shop.pk],
        )
        cursor.execute("ANALYZE customers_customer; ANALYZE customers_order")


def bench_store(customers: int) -> Shop:
    """The generated store for this size: reused when a previous run left it complete (the
    generation is the slow part at 1M), otherwise generated. Earlier runs' segments go."""
    agency, _ = Agency.objects.get_or_create(
        slug=f"bench-store-{customers}", defaults={"name": f"Bench {customers:,}"}
    )
    shop, _ = Shop.objects.get_or_create(
        agency=agency,
        domain=f"bench-store-{customers}.myshopify.com",
        defaults={"timezone": "Europe/Paris"},
    )
    Segment.objects.filter(agency=agency).delete()
    if Customer.all_shops.filter(shop=shop).count() == customers:
        with connection.cursor() as cursor:  # undo the previous run's "10 % changed" step
            cursor.execute(
                "UPDATE customers_customer SET tags_normalized = CASE WHEN shopify_id %% 10 = 0"
                " THEN ',vip,' WHEN shopify_id %% 97 = 0 THEN ',blocked,' ELSE '' END"
                " WHERE shop_id = %s AND shopify_id <= %s",
                [shop.pk, customers // 10],
            )
        print("reusing the generated store")
    else:
        Order.all_shops.filter(shop=shop).delete()
        Customer.all_shops.filter(shop=shop).delete()
        timed("generate the store in SQL", lambda: fill(shop, customers))
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load (the triggers filled it with the orders, or
        # migration 0009 did): the visibility map lets the count scan its index only.
        cursor.execute("VACUUM (ANALYZE) segments_order_product")
    return shop


def count_plan(matching) -> list[str]:
    """The count's plan with buffers: which relations it read and how many pages."""
    sql, params = matching.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) q", params)
        lines = [row[0] for row in cursor.fetchall()]
    keep = ("Scan", "Join", "Buffers", "Execution Time", "Nested Loop")
    return [line for line in lines if any(word in line for word in keep)]


def main(customers: int) -> None:
    call_command("migrate", verbosity=0)
    print(f"# {customers:,} customers, {3 * customers:,} orders, PostgreSQL")
    print(f"started {datetime.now(UTC).isoformat(timespec='seconds')}, load {_load()}")
    shop = bench_store(customers)
    agency = shop.agency
    now = timezone.now()
    root = parse_query(QUERY).root
    with shop_scope([shop.pk]):
        matching = (
            live_customers()
            .filter(shop=shop)
            .filter(compile_for_shops(root, shops=[shop], now=now))
        )
        count, sql_seconds = timed(
            "10-clause query incl. products_purchased: count", matching.count
        )
        print(f"  members: {count:,}")
        # The first count reads orders' pages from disk; later ones (the steady state of a
        # working shop) find them cached.
        repeats = sorted(timed("  same count again", matching.count)[1] for _ in range(3))
        print(f"  repeated count, median of 3: {repeats[1]:.3f} s")
        print("  plan of the count (repeated):")
        for line in count_plan(matching):
            print("   ", line)

    def naive():
        zone = ZoneInfo(shop.timezone)
        orders = {}
        for customer_id, processed, total, ids in (
            Order.all_shops.filter(shop=shop)
            .values_list("customer_id", "processed_at", "total_price", "product_ids")
            .iterator(chunk_size=20000)
        ):
            orders.setdefault(customer_id, []).append(
                {"date": processed, "amount": total, "product_ids": ids, "product_tags": []}
            )
        found = 0
        for c in Customer.all_shops.filter(shop=shop).iterator(chunk_size=20000):
            facts = {
                "amount_spent": c.amount_spent,
                "number_of_orders": c.number_of_orders,
                "last_order_date": c.last_order_at,
                "first_order_date": c.first_order_at,
                "customer_added_date": c.created_at_shopify,
                "customer_tags": c.tags,
                "email_subscription_status": c.email_marketing_state or None,
                "customer_account_status": c.state,
                "orders": orders.get(c.pk, []),
            }
            found += matches(root, facts, now=now, zone=zone)
        return found

    naive_count, naive_seconds = timed("naive: load customers + orders, filter in Python", naive)
    print(f"  naive members: {naive_count:,} (same query as the SQL count: {naive_count == count})")
    segment = segment_create(agency=agency, name="Bench", query=BROAD, shop_ids=[shop.pk])
    run, first_refresh = timed(
        "full refresh + ledger (first: all enter)", lambda: segment_refresh(segment_id=segment.pk)
    )
    print(f"  entered {run.entered:,}, exited {run.exited:,}")
    Customer.all_shops.filter(shop=shop, shopify_id__lte=customers // 10).update(
        tags_normalized=",blocked,"
    )
    run, diff_refresh = timed(
        "full refresh + ledger (after 10% changed)", lambda: segment_refresh(segment_id=segment.pk)
    )
    print(f"  entered {run.entered:,}, exited {run.exited:,}")
    with shop_scope([shop.pk]):
        middle = (
            SegmentMembership.objects.filter(segment=segment)
            .order_by("customer_id")
            .values_list("customer_id", flat=True)[run.members // 2]
        )

        def page():
            """The members API's query: customers of the segment after the cursor, by id."""
            members = SegmentMembership.objects.filter(segment=segment, shop_id__in=[shop.pk])
            return list(
                Customer.objects.filter(pk__in=members.values("customer_id"), shop_id__in=[shop.pk])
                .filter(pk__gt=middle)
                .order_by("pk")
                .values("id", "shop_id", "email", "amount_spent")[:1000]
            )

        rows, page_seconds = timed("one members page of 1,000 (cursor in the middle)", page)
        assert len(rows) == 1000
    incremental = incremental_refreshes(shop, segment, middle)
    p50, p95 = incremental[len(incremental) // 2], incremental[int(len(incremental) * 0.95)]
    print(f"incremental refresh, one changed customer ({len(incremental)} runs):")
    print(f"  p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
    print(f"ratio naive / SQL count: {naive_seconds / sql_seconds:.1f}x")
    print(f"ratio full refresh (after 10% changed) / incremental p50: {diff_refresh / p50:.0f}x")
    print(
        f"summary: count {sql_seconds:.3f} s (repeated {repeats[1]:.3f} s), refresh {first_refresh:.2f} s / {diff_refresh:.2f} s,"
        f" page {page_seconds * 1000:.1f} ms, incremental p50 {p50 * 1000:.1f} ms"
        f" p95 {p95 * 1000:.1f} ms, naive {naive_seconds:.1f} s"
    )
    print(f"finished {datetime.now(UTC).isoformat(timespec='seconds')}, load {_load()}")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def incremental_refreshes(shop: Shop, segment, customer_id: int, runs: int = 60) -> list[float]:
    """One customer flips in and out of the broad segment (a tag), refreshed alone each time
    through the same path as a webhook (segment_refresh_customers): sorted seconds per run."""
    seconds = []
    original = Customer.all_shops.get(pk=customer_id).tags_normalized
    for turn in range(runs):
        Customer.all_shops.filter(pk=customer_id).update(
            tags_normalized=",blocked," if turn % 2 == 0 else ""
        )
        started = time.perf_counter()
        run = segment_refresh_customers(segment_id=segment.pk, customer_ids=[customer_id])
        seconds.append(time.perf_counter() - started)
        assert run is not None and run.entered + run.exited == 1
    Customer.all_shops.filter(pk=customer_id).update(tags_normalized=original)
    segment_refresh_customers(segment_id=segment.pk, customer_ids=[customer_id])
    return sorted(seconds)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
