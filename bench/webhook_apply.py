"""Time to apply one webhook to the mirror (no GraphQL re-read), p50/p95.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clientele_bench .venv/bin/python -m bench.webhook_apply

Calls the registered handlers as the intake does (inside the shop scope) with payloads that carry
their full state: email consent updates and orders/create + orders/updated for customers whose
totals the mirror derives from orders, so no handler needs to read Shopify.
"""

import json
import os
import statistics
import time


def main(count: int = 500) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from customers.ingest import BulkIngest
    from customers.tests.test_ingest import customer_line
    from tenants.models import Agency, Shop
    from tenants.scoping import shop_scope
    from tenants.webhooks.routing import handler_for

    Shop.objects.filter(domain="bench-webhooks.myshopify.com").delete()
    agency, _ = Agency.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    shop = Shop.objects.create(
        agency=agency, domain="bench-webhooks.myshopify.com", access_token="x"
    )
    BulkIngest(shop_id=shop.id).consume(json.dumps(customer_line(n)) for n in range(1, count + 1))
    timings: dict[str, list[float]] = {}
    with shop_scope([shop.id]):
        for n in range(1, count + 1):
            deliveries = [
                ("customers_email_marketing_consent/update", {"customer_id": n, "email_address": "x@example.com",
                 "email_marketing_consent": {"state": "unsubscribed", "opt_in_level": "single_opt_in",
                                             "consent_updated_at": f"2025-02-01T00:00:{n % 60:02d}+00:00"}}),
                ("orders/create", {"id": 10_000 + n, "created_at": "2025-01-01T10:00:00+00:00",
                 "updated_at": "2025-01-01T10:00:00+00:00", "total_price": "12.50", "currency": "EUR",
                 "financial_status": "paid", "customer": {"id": n}, "line_items": []}),
                ("orders/updated", {"id": 10_000 + n, "created_at": "2025-01-01T10:00:00+00:00",
                 "updated_at": "2025-01-02T10:00:00+00:00", "total_price": "10.00", "currency": "EUR",
                 "financial_status": "partially_refunded", "customer": {"id": n}, "line_items": []}),
            ]  # fmt: skip
            for topic, payload in deliveries:
                handler = handler_for(topic)
                started = time.perf_counter()
                handler(shop=shop, payload=payload, delivery=None)
                timings.setdefault(topic, []).append((time.perf_counter() - started) * 1000)
    everything = [t for values in timings.values() for t in values]
    for topic, values in [*timings.items(), ("all", everything)]:
        quantiles = statistics.quantiles(values, n=20)
        print(
            f"{topic:45s} n={len(values):5d} p50 {statistics.median(values):6.2f} ms  p95 {quantiles[18]:6.2f} ms"
        )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
