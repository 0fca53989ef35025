"""Full sync outside a transaction, as production runs it: the staging load's COPYs and
checkpoints are written by a second thread on its own connection (customers.staging._BatchWriter).
The other sync tests run inside the test's transaction, where the load writes inline."""

import threading

import pytest

from customers import staging
from customers.models import Customer, Order, SyncRun
from customers.staging import staged_rows
from customers.sync import shop_full_sync
from customers.tests.test_sync import Crash, CrashingSource, store
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="DE")


@pytest.fixture
def writer_threads(monkeypatch):
    """Names of the threads that wrote staged batches."""
    names: list[str] = []
    original = staging.StagedLoad._write

    def spy(self, batch, lines_done):
        names.append(threading.current_thread().name)
        return original(self, batch, lines_done)

    monkeypatch.setattr(staging.StagedLoad, "_write", spy)
    return names


def test_pipelined_load_crashes_resumes_and_mirrors_everything(shop, tmp_path, writer_threads):
    shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5, tag="before"))
    source = store(tmp_path, 20)
    with pytest.raises(Crash):
        crashing = CrashingSource(source.paths, phase="orders", at_line=15)
        shop_full_sync(shop_id=shop.id, source=crashing, batch_size=4)
    failed = SyncRun.all_shops.filter(shop=shop).first()
    assert failed.status == SyncRun.Status.FAILED
    assert failed.checkpoint["orders"]["lines_done"] == 8  # the batches written before the crash
    assert Customer.all_shops.filter(shop=shop, deleted_at=None).count() == 5
    assert Order.all_shops.filter(shop=shop).count() == 5

    resumed = shop_full_sync(shop_id=shop.id, source=source, batch_size=4)
    assert resumed.id == failed.id and resumed.status == SyncRun.Status.SUCCEEDED
    assert resumed.records_read == 40 and resumed.records_created == 30
    assert Order.all_shops.filter(shop=shop, customer__isnull=False).count() == 20
    assert staged_rows(resumed.id, "customers") is None
    assert writer_threads and set(writer_threads) == {"staging-copy"}


def test_a_failing_copy_stops_the_load_at_the_last_batch_written(shop, tmp_path, monkeypatch):
    source = store(tmp_path, 20)
    original = staging.StagedLoad._write
    written = []

    def fail_third_orders_batch(self, batch, lines_done):
        if self.phase == "orders" and len(written) == 2:
            raise Crash("COPY failed")
        original(self, batch, lines_done)
        if self.phase == "orders":
            written.append(lines_done)

    monkeypatch.setattr(staging.StagedLoad, "_write", fail_third_orders_batch)
    with pytest.raises(Crash, match="COPY failed"):
        shop_full_sync(shop_id=shop.id, source=source, batch_size=4)
    failed = SyncRun.all_shops.get(shop=shop)
    assert written == [8, 16]
    assert failed.checkpoint["orders"]["lines_done"] == 16
    assert staged_rows(failed.id, "orders") == 8  # an order and its item line make one row
    assert Customer.all_shops.filter(shop=shop).count() == 0  # nothing applied

    monkeypatch.undo()
    resumed = shop_full_sync(shop_id=shop.id, source=source, batch_size=4)
    assert resumed.status == SyncRun.Status.SUCCEEDED and resumed.records_read == 40
    assert Order.all_shops.filter(shop=shop, customer__isnull=False).count() == 20
