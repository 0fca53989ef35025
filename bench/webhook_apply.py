"""Time to apply one webhook to the mirror (no GraphQL re-read), p50/p95, against a baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench \\
        flock /tmp/clientele-bench.lock .venv/bin/python -m bench.webhook_apply [--customers 20000]

A shop of N customers with 3 orders each (totals derived from orders) is bulk-ingested. Then, for
500 of them, three deliveries each (an email consent update, orders/create, orders/updated: all
carry their full state, so no handler reads Shopify) are applied three ways, interleaved:

- baseline: the previous apply path, rebuilt here from the same writer functions: ORM consent
  update, order upsert bracketed by two owner SELECTs, the shop-wide aggregate CTE, and every
  `mirror_changed` hook called per delivery (each queues its own django-q2 task, ORM broker);
- apply: the topic's prepare step + handler in the delivery transaction, as the delivery task
  runs them (outbox row + the shop's drain marker instead of the hooks);
- process: `webhook_delivery_process` for a stored delivery (adds the row lock and its status);
- intake->apply: the signed POST through the Django test client (HMAC, stored once, task queued)
  and then `webhook_delivery_process` for it (row lock, handler, status), end to end.

The drain (one per burst: here the whole run) is timed once and shown per delivery.
"""

import argparse
import cProfile
import json
import os
import statistics
import time
from collections import defaultdict


def _deliveries(n: int, round_: int) -> list[tuple[str, dict]]:
    second = f"{round_:02d}"
    return [
        ("customers_email_marketing_consent/update", {"customer_id": n, "email_address": "x@example.com",
         "email_marketing_consent": {"state": ["unsubscribed", "subscribed"][round_ % 2],
                                     "opt_in_level": "single_opt_in",
                                     "consent_updated_at": f"2025-02-01T00:{second}:00+00:00"}}),
        ("orders/create", {"id": 10_000_000 * round_ + n, "created_at": "2025-01-01T10:00:00+00:00",
         "updated_at": f"2025-01-01T10:{second}:00+00:00", "total_price": "12.50", "currency": "EUR",
         "financial_status": "paid", "customer": {"id": n}, "line_items": []}),
        ("orders/updated", {"id": 10_000_000 * round_ + n, "created_at": "2025-01-01T10:00:00+00:00",
         "updated_at": f"2025-01-02T10:{second}:00+00:00", "total_price": "10.00", "currency": "EUR",
         "financial_status": "partially_refunded", "customer": {"id": n}, "line_items": []}),
    ]  # fmt: skip


def previous_apply(shop, topic: str, payload: dict) -> None:
    """The apply path before the outbox (bench baseline), for the topics measured here."""
    from django.db import transaction

    from customers import hooks, incremental, writer
    from customers.mapping import parse_datetime
    from customers.models import Customer, Order

    with transaction.atomic():
        if topic.startswith("customers_email"):
            consent = payload["email_marketing_consent"]
            customers = Customer.all_shops.filter(shop=shop, shopify_id=payload["customer_id"])
            if customers.exists():
                at = parse_datetime(consent["consent_updated_at"])
                customers.filter(redacted_at__isnull=True).exclude(
                    email_marketing_updated_at__gt=at
                ).update(
                    email_marketing_state=consent["state"].upper(),
                    email_marketing_opt_in_level=consent["opt_in_level"].upper(),
                    email_marketing_updated_at=at,
                )
            ids = list(customers.values_list("id", flat=True))
        else:
            row = incremental.order_from_payload(payload)
            owner = Order.all_shops.filter(shop=shop, shopify_id=row["shopify_id"]).exclude(
                customer_id=None
            )
            before = set(owner.values_list("customer_id", flat=True))
            writer.orders_upsert(shop_id=shop.id, rows=[row])
            after = set(owner.values_list("customer_id", flat=True))
            writer.customer_aggregates_refresh_set_based(
                shop_id=shop.id, customer_ids=sorted(before | after)
            )
            customer = Customer.all_shops.filter(
                shop=shop, shopify_id=row["customer_shopify_id"]
            ).first()
            ids = [customer.id]
        hooks._mirror_changed_run(shop_id=shop.id, customer_ids=ids, reason="webhook", changed=None)


def new_apply(shop, topic: str, payload: dict) -> None:
    from tenants.webhooks.routing import handler_for, preparer_for
    from tenants.webhooks.services import delivery_transaction

    prepared = preparer_for(topic)(shop=shop, payload=payload, delivery=None)
    with delivery_transaction():
        handler_for(topic)(shop=shop, payload=payload, delivery=None, prepared=prepared)


def stored_delivery(shop, topic: str, payload: dict) -> int:
    """A delivery as the intake stores it (not timed: the 'process' way times its processing)."""
    import uuid

    from tenants.webhooks.models import WebhookDelivery

    return WebhookDelivery.all_shops.create(
        shop=shop, webhook_id=str(uuid.uuid4()), topic=topic, payload=payload
    ).id


def process(delivery_id: int) -> None:
    from tenants.webhooks.services import webhook_delivery_process

    assert webhook_delivery_process(delivery_id=delivery_id) == "processed"


def intake_apply(client, shop, topic: str, payload: dict) -> None:
    from django.db import connection

    from tenants.tests.webhook_helpers import webhook_post
    from tenants.webhooks.models import WebhookDelivery
    from tenants.webhooks.services import webhook_delivery_process

    response = webhook_post(client, shop_domain=shop.domain, topic=topic, payload=payload)
    assert response.status_code == 200, response.content
    delivery_id = WebhookDelivery.all_shops.filter(shop=shop).latest("id").id
    assert webhook_delivery_process(delivery_id=delivery_id) == "processed"
    assert not connection.in_atomic_block


def setup_shop(customers: int):
    from customers.ingest import BulkIngest
    from customers.tests.test_ingest import customer_line, order_line
    from tenants.models import Agency, Shop

    Shop.objects.filter(domain="bench-webhooks.myshopify.com").delete()
    agency, _ = Agency.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    shop = Shop.objects.create(
        agency=agency, domain="bench-webhooks.myshopify.com", access_token="x"
    )

    def lines():
        for n in range(1, customers + 1):
            yield json.dumps(customer_line(n))
        for n in range(1, customers + 1):
            for k in range(3):
                yield json.dumps(order_line(n * 10 + k, n, "20.00", day=k + 1))

    BulkIngest(shop_id=shop.id).consume(lines())
    return shop


def quantiles(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), statistics.quantiles(values, n=20)[18]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--count", type=int, default=500, help="customers receiving deliveries")
    parser.add_argument("--profile", help="write a cProfile of the apply way to this file")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from customers.outbox import mirror_changes_drain
    from tenants.scoping import shop_scope

    profiler = cProfile.Profile() if args.profile else None
    started = time.perf_counter()
    shop = setup_shop(args.customers)
    print(f"shop: {args.customers} customers, {3 * args.customers} orders "
          f"(ingested in {time.perf_counter() - started:.1f} s)")  # fmt: skip
    client = Client()
    ways = {
        "baseline": lambda topic, payload: previous_apply(shop, topic, payload),
        "apply": lambda topic, payload: new_apply(shop, topic, payload),
        "process": lambda topic, delivery_id: process(delivery_id),
        "intake->apply": lambda topic, payload: intake_apply(client, shop, topic, payload),
    }
    timings: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    queries: dict[str, list[int]] = defaultdict(list)
    with shop_scope([shop.id]):
        for n in range(1, args.count + 1):
            for round_, (way, apply) in enumerate(ways.items(), start=1):
                for topic, payload in _deliveries(n, round_):
                    if way == "process":
                        payload = stored_delivery(shop, topic, payload)
                    profiling = profiler is not None and way == "apply"
                    reset_queries()  # the query log keeps 9,000 entries; start each count at 0
                    with CaptureQueriesContext(connection) as captured:
                        if profiling:
                            profiler.enable()
                        begun = time.perf_counter()
                        apply(topic, payload)
                        elapsed = (time.perf_counter() - begun) * 1000
                        if profiling:
                            profiler.disable()
                    timings[way][topic].append(elapsed)
                    queries[way].append(len(captured.captured_queries))
        begun = time.perf_counter()
        drained = mirror_changes_drain(shop_id=shop.id)
        drain_ms = (time.perf_counter() - begun) * 1000
    print(f"{'way':14s} {'topic':42s} {'p50 ms':>8s} {'p95 ms':>8s}")
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"(cProfile of the apply way written to {args.profile})")
    summary = {}
    for way, per_topic in timings.items():
        everything = [t for values in per_topic.values() for t in values]
        for topic, values in [*per_topic.items(), ("all", everything)]:
            p50, p95 = quantiles(values)
            print(f"{way:14s} {topic:42s} {p50:8.2f} {p95:8.2f}")
        summary[way] = quantiles(everything)
        print(
            f"{way:14s} {'statements per delivery incl. BEGIN, COMMIT':42s} {statistics.mean(queries[way]):8.1f}"
        )
    print(f"drain: {drained} outbox rows -> one hooks call in {drain_ms:.1f} ms "
          f"({drain_ms / max(drained, 1):.3f} ms per delivery)")  # fmt: skip
    base, new = summary["baseline"][1], summary["apply"][1]
    print(f"p95 baseline / apply: {base:.2f} / {new:.2f} ms = {base / new:.1f}x faster")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
