"""Writers outside webhook deliveries (the delta's order pages, redaction, tombstones, consent,
the ingest) during a first sync's apply of the same shop, on real concurrent connections: they
wait for its commit before their first statement and their writes land in the shop's new
partitions. Without the wait (customers.partitions.mirror_writes_wait) an INSERT fails after
the attach ("new row for relation ..._default violates partition constraint"), an UPDATE
changes nothing (its plan still names the default partition, which no longer holds the row),
and one that read first is cancelled as deadlocked with the attach."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from customers import partitions
from customers.incremental import (
    customer_consent_apply,
    customer_tombstone,
    orders_delta_apply,
)
from customers.ingest import BulkIngest
from customers.models import Customer, Order, SyncRun
from customers.privacy import customer_redact
from customers.sync import shop_full_sync
from customers.tests.test_ingest import customer_line, jsonl, order_line
from customers.tests.test_partitions import (
    agency,
    attached,
    in_default,
    lock_waiting,
    new_shop,
    webhook,
)
from customers.tests.test_sync import store

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL partitions"),
]
__all__ = ["agency"]  # the fixture, for pytest

LATER = datetime(2030, 1, 1, tzinfo=UTC)


def _run_concurrently(writers: dict, pids: dict, results: dict) -> dict[str, threading.Thread]:
    def run(name, write):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids[name] = cursor.fetchone()[0]
                write()
            results[name] = "ok"
        except Exception as error:
            results[name] = error
        finally:
            connection.close()

    return {
        name: threading.Thread(target=run, args=(name, write)) for name, write in writers.items()
    }


def test_writers_outside_deliveries_wait_for_the_first_sync_and_land_in_its_partitions(
    agency, tmp_path, monkeypatch
):
    shop = new_shop(agency)
    for n in (3, 4, 5):  # the shop's rows before its first sync (older than the export's)
        webhook(shop, n, updated="2024-01-01T00:00:00Z")
    writers = {
        "redact": lambda: customer_redact(shop=shop, shopify_customer_id=3),
        "tombstone": lambda: customer_tombstone(shop=shop, shopify_id=4, deleted_at=LATER),
        "consent": lambda: customer_consent_apply(
            shop=shop,
            shopify_id=5,
            channel="email",
            state="unsubscribed",
            opt_in_level="single_opt_in",
            updated_at=LATER,
        ),
        "delta orders": lambda: orders_delta_apply(
            shop=shop, nodes=[{**order_line(1006, 6, "77.00"), "updatedAt": "2030-01-01T00:00:00Z"}]
        ),
        "ingest": lambda: BulkIngest(shop_id=shop.id).consume(
            jsonl(customer_line(90, updated="2030-01-01T00:00:00Z"))
        ),
    }
    pids, results = {}, {}
    threads = _run_concurrently(writers, pids, results)
    real_attach = partitions.shop_partitions_attach

    def attach_while_writers_arrive(*, shop_id):
        for thread in threads.values():
            thread.start()
        deadline = time.monotonic() + 60
        while not all(lock_waiting(pids.get(name)) for name in writers):
            assert time.monotonic() < deadline, f"not all waiting: {pids} {results}"
            time.sleep(0.05)
        assert results == {}
        real_attach(shop_id=shop_id)

    monkeypatch.setattr(partitions, "shop_partitions_attach", attach_while_writers_arrive)
    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 8))
    for thread in threads.values():
        thread.join(timeout=60)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert "build" in run.checkpoint["seconds"]  # built bare
    assert results == dict.fromkeys(writers, "ok")
    assert in_default(shop) == 0 and all(attached(shop).values())
    customers = {c.shopify_id: c for c in Customer.all_shops.filter(shop=shop)}
    assert customers[3].redacted_at is not None and customers[3].first_name == ""
    assert customers[4].deleted_at == LATER
    assert customers[5].email_marketing_state == "UNSUBSCRIBED"
    assert customers[90].first_name == "Anna90"
    assert Order.all_shops.get(shop=shop, shopify_id=1006).total_price == 77


@pytest.mark.parametrize("first_sync", [True, False])
def test_a_sync_whose_shop_is_erased_before_its_apply_applies_nothing(
    agency, tmp_path, monkeypatch, first_sync
):
    """shop/redact (its own connection, committed) while a full sync loads or builds: the
    apply must refuse, not bring the erased rows back."""
    from customers import staging
    from customers.sync import ShopErasedDuringSync
    from tenants.shop_erasure import shop_rows_delete

    shop = new_shop(agency)
    if not first_sync:
        shop_full_sync(shop_id=shop.id, source=store(tmp_path, 3, tag="a"))
    real_settings = staging.apply_settings
    results: dict = {}

    def erased_then_settings():
        redact = _run_concurrently(
            {"erase": lambda: shop_rows_delete(shop_id=shop.id)}, {}, results
        )["erase"]
        redact.start()
        redact.join(timeout=30)
        real_settings()

    monkeypatch.setattr(staging, "apply_settings", erased_then_settings)
    with pytest.raises(ShopErasedDuringSync, match="erased"):
        shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5, tag="b"))
    assert results == {"erase": "ok"}
    assert Customer.all_shops.filter(shop=shop).count() == 0
    assert Order.all_shops.filter(shop=shop).count() == 0
    assert not SyncRun.all_shops.filter(shop=shop).exists()
    assert not any(attached(shop).values())
