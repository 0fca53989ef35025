"""Full sync over real bulk operations: the mirror equals the sandbox store field by field,
a second sync picks up changes and deletions, and a crashed sync resumes from its checkpoint."""

import pytest

from customers.models import Customer, SyncRun
from customers.sources import BulkSource
from customers.sync import shop_full_sync
from customers.tests.sandbox_compare import mirror_differences, shop_for
from sandbox.generator import dumps, generate_customers
from sandbox.seed import load_customers

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(sandbox_store):
    records = generate_customers(
        shop_domain=sandbox_store.domain, count=120, seed=5, orders_per_customer=2.0
    )
    load_customers(sandbox_store.store, (dumps(r) for r in records), source="test")
    return sandbox_store


def test_full_sync_equals_the_store_field_by_field(seeded):
    store = seeded.store
    assert len(store.customers) == 120 and len(store.orders) > 100
    shop = shop_for(seeded, country_code="DE")
    run = shop_full_sync(
        shop_id=shop.id, source=BulkSource(shop, poll_interval=0.05), batch_size=25
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert mirror_differences(shop, store, full_sync_fields=True) == []
    assert run.records_created == len(store.customers) + len(store.orders)
    # The first sync built the shop's partitions bare (customers.partitions); the next one
    # upserts into them: both paths are compared with the store here.
    assert "build" in run.checkpoint["seconds"]
    mirrored = Customer.all_shops.filter(shop=shop)
    assert len(set(mirrored.values_list("predicted_spend_tier", flat=True))) > 1
    assert mirrored.filter(is_mergeable=False).exclude(merge_blockers=[]).exists()

    # Changes on Shopify, then the next full sync.
    ids = sorted(store.customers)
    seeded.update_customer(ids[0], {"lastName": "Changed", "tags": ["after-sync"]})
    seeded.delete_customer(ids[1]) if not store.customers[
        ids[1]
    ].orders else seeded.delete_customer(ids[2])
    with_orders = next(c for c in store.customers.values() if c.counted_orders())
    seeded.cancel_order(with_orders.counted_orders()[0].id)
    again = shop_full_sync(
        shop_id=shop.id, source=BulkSource(shop, poll_interval=0.05), batch_size=25
    )
    assert again.status == SyncRun.Status.SUCCEEDED and again.records_deleted == 1
    assert "build" not in again.checkpoint["seconds"]
    assert mirror_differences(shop, store, full_sync_fields=True) == []


class Killed(Exception):
    pass


class CrashingBulkSource(BulkSource):
    """The worker dies after reading `at_line` lines of the orders export."""

    def __init__(self, shop, at_line):
        super().__init__(shop, poll_interval=0.05)
        self.at_line = at_line

    def lines(self, url):
        for index, line in enumerate(super().lines(url), start=1):
            if b"Order/" in line and index >= self.at_line:
                raise Killed("worker killed mid-stream")
            yield line


def test_a_crashed_full_sync_resumes_and_completes(seeded):
    shop = shop_for(seeded, country_code="DE")
    with pytest.raises(Killed):
        shop_full_sync(shop_id=shop.id, source=CrashingBulkSource(shop, at_line=120), batch_size=20)
    crashed = SyncRun.all_shops.get(shop=shop)
    assert crashed.status == SyncRun.Status.FAILED and crashed.checkpoint["customers"]["loaded"]
    done_before = crashed.checkpoint["orders"]["lines_done"]
    assert done_before > 0
    # The mirror stays usable: it is the previous one (here: empty), nothing half-applied.
    assert Customer.all_shops.filter(shop=shop).count() == 0

    resumed = shop_full_sync(
        shop_id=shop.id, source=BulkSource(shop, poll_interval=0.05), batch_size=20
    )
    assert resumed.id == crashed.id and resumed.status == SyncRun.Status.SUCCEEDED
    # Same bulk operation, resumed after the checkpoint (no second export was started).
    assert (
        resumed.checkpoint["orders"]["operation_id"] == crashed.checkpoint["orders"]["operation_id"]
    )
    assert mirror_differences(shop, seeded.store, full_sync_fields=True) == []
