"""shop/redact (uninstall, then erasure, committed on a connection of its own) while a full sync
of the shop loads, builds or applies, or while its crashed run waits to be resumed: every
stage ends with ShopErasedDuringSync, nothing of the shop comes back, and nothing is left on
disk (the run's staged tables, tables built for the partitions, the partitions themselves),
nor a loader process still writing."""

import json
import threading

import pytest
from django.db import connection

from customers import partition_build
from customers.models import Customer, Order, SyncRun
from customers.sources import BulkSource, FileSource
from customers.sync import ShopErasedDuringSync, shop_full_sync
from customers.tests.sandbox_compare import shop_for
from customers.tests.test_sync import Crash, CrashingSource, store
from sandbox.generator import dumps, generate_customers
from sandbox.seed import load_customers
from tenants.models import Shop
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="staged full sync"),
]


def erase(shop_id: int) -> list[int]:
    """Uninstall then shop/redact, committed on a connection of its own (a thread) while the
    caller waits; the ids of the shop's sync runs it erased."""
    from tenants.shop_lifecycle import shop_redact, shop_uninstall

    runs: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runs.extend(SyncRun.all_shops.filter(shop_id=shop_id).values_list("id", flat=True))
            shop_uninstall(shop=Shop.objects.get(pk=shop_id))
            shop_redact(shop=Shop.objects.get(pk=shop_id))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive() and errors == [], errors
    return runs


class ErasingSource(FileSource):
    """An export on disk; the shop is erased when `phase`'s `at_line` is read (in whichever
    process loads that phase: the second loader unpickles it). The erased runs' ids are
    written to `record` (a file: the second loader is another process)."""

    def __init__(self, paths, *, shop_id, phase, at_line, record):
        super().__init__(paths)
        self.shop_id, self.erase_phase, self.at_line = shop_id, phase, at_line
        self.record = str(record)

    def lines(self, url):
        for index, line in enumerate(super().lines(url), start=1):
            if url == self.paths[self.erase_phase] and index == self.at_line:
                with open(self.record, "a") as record:
                    record.writelines(f"{run}\n" for run in erase(self.shop_id))
            yield line


class ErasingBulkSource(BulkSource):
    """The real bulk operations over HTTP (the sandbox); the shop is erased when the
    `at_customer`th customer of the customers' result is read."""

    def __init__(self, shop, *, at_customer, record, **kwargs):
        super().__init__(shop, **kwargs)
        self.at_customer, self.record = at_customer, str(record)

    def lines(self, url):
        customers = 0
        for line in super().lines(url):
            if json.loads(line)["id"].startswith("gid://shopify/Customer/"):
                customers += 1
                if customers == self.at_customer:
                    with open(self.record, "a") as record:
                        record.writelines(f"{run}\n" for run in erase(self.shop.id))
            yield line


def erased_runs(record) -> list[int]:
    with open(record) as lines:
        return [int(line) for line in lines]


def run_tables(run_id: int) -> list[str]:
    """Tables named after the run (staged rows, tables built for the partitions)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE %s AND relkind = 'r' ORDER BY relname",
            [f"\\_sync{int(run_id)}\\_%"],
        )
        return [name for (name,) in cursor.fetchall()]


def phase_locks_held(run_id: int) -> int:
    """Loaders still holding their phase's lock (customers.sync._PhaseLock) for the run."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid IN (%s, %s)",
            [0x5D, 2 * run_id, 2 * run_id + 1],
        )
        return cursor.fetchone()[0]


def assert_nothing_left(shop_id: int, run_ids: list[int]) -> None:
    assert run_ids  # the erasure saw the run
    assert not Shop.objects.filter(pk=shop_id).exists()
    assert not SyncRun.all_shops.filter(shop_id=shop_id).exists()
    assert not Customer.all_shops.filter(shop_id=shop_id).exists()
    assert not Order.all_shops.filter(shop_id=shop_id).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname ~ %s", [f"_s{shop_id}$"])
        assert cursor.fetchall() == []  # no partition of the shop, attached or not
    for run_id in run_ids:
        assert run_tables(run_id) == []
        assert phase_locks_held(run_id) == 0  # no loader still running


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="DE")


@pytest.mark.parametrize(
    ("phase", "parallel"),
    [("customers", False), ("orders", False), ("customers", True), ("orders", True)],
    ids=["customers-one-loader", "orders-one-loader", "customers-parent", "orders-child"],
)
def test_erased_while_loading(shop, tmp_path, phase, parallel):
    record = tmp_path / "erased"
    source = ErasingSource(
        store(tmp_path, 20).paths, shop_id=shop.id, phase=phase, at_line=13, record=record
    )
    with pytest.raises(ShopErasedDuringSync, match="erased"):
        shop_full_sync(shop_id=shop.id, source=source, batch_size=4, parallel=parallel)
    assert_nothing_left(shop.id, erased_runs(record))


def test_erased_while_building_its_partitions(shop, tmp_path, monkeypatch):
    """The build (threads on connections of their own) goes on to its end; the apply then
    refuses, and the tables built for the partitions go with the staged rows."""
    real_addresses = partition_build.addresses_build
    erased: list[int] = []

    def erased_then_addresses(**kwargs):
        if not erased:
            erased.extend(erase(shop.id))
        return real_addresses(**kwargs)

    monkeypatch.setattr(partition_build, "addresses_build", erased_then_addresses)
    with pytest.raises(ShopErasedDuringSync, match="erased"):
        shop_full_sync(shop_id=shop.id, source=store(tmp_path, 8), batch_size=4)
    assert_nothing_left(shop.id, erased)


@pytest.mark.parametrize("first_sync", [True, False])
def test_erased_just_before_the_apply(shop, tmp_path, monkeypatch, first_sync):
    from customers import staging

    if not first_sync:
        shop_full_sync(shop_id=shop.id, source=store(tmp_path, 3, tag="a"))
    real_settings = staging.apply_settings
    erased: list[int] = []

    def erased_then_settings():
        erased.extend(erase(shop.id))
        real_settings()

    monkeypatch.setattr(staging, "apply_settings", erased_then_settings)
    with pytest.raises(ShopErasedDuringSync, match="erased"):
        shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5, tag="b"))
    assert_nothing_left(shop.id, erased)


def test_a_crashed_run_of_an_erased_shop_is_not_resumed_and_its_tables_go(shop, tmp_path):
    from customers.tasks import shop_full_sync_task

    source = store(tmp_path, 20)
    with pytest.raises(Crash):
        shop_full_sync(
            shop_id=shop.id,
            source=CrashingSource(source.paths, phase="orders", at_line=15),
            batch_size=4,
            parallel=False,
        )
    crashed = SyncRun.all_shops.get(shop=shop)
    assert run_tables(crashed.id)  # kept for the resume
    assert erase(shop.id) == [crashed.id]
    assert shop_full_sync_task(shop.id, crashed.id) == 0  # the queued retry: skipped
    with pytest.raises(ShopErasedDuringSync, match="erased"):
        shop_full_sync(shop_id=shop.id, sync_run_id=crashed.id, source=source, batch_size=4)
    assert_nothing_left(shop.id, [crashed.id])
    with pytest.raises(ShopErasedDuringSync, match="erased"):  # a new run: none is created
        shop_full_sync(shop_id=shop.id, source=source)


@pytest.fixture
def seeded(sandbox_store):
    records = generate_customers(
        shop_domain=sandbox_store.domain, count=60, seed=4, orders_per_customer=2.0
    )
    load_customers(sandbox_store.store, (dumps(r) for r in records), source="test")
    return sandbox_store


@pytest.mark.parametrize("parallel", [False, True], ids=["one-loader", "two-loaders"])
def test_erased_while_loading_real_bulk_operations(seeded, tmp_path, parallel):
    shop = shop_for(seeded, country_code="DE")
    record = tmp_path / "erased"
    source = ErasingBulkSource(shop, at_customer=30, record=record, poll_interval=0.05)
    with pytest.raises(ShopErasedDuringSync, match="erased"):
        shop_full_sync(shop_id=shop.id, source=source, batch_size=10, parallel=parallel)
    assert_nothing_left(shop.id, erased_runs(record))


def test_erasing_a_synced_shop_leaves_no_table_of_it(shop, tmp_path):
    """After its first sync the shop has partitions of its own: the mirror's and, from the
    duplicate scan the sync queues, its blocking keys' (merges). Erasure drops them all."""
    from merges.models import BlockingKey

    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 6))
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"merges_blockingkey_s{shop.id}"])
        assert cursor.fetchone()[0] is not None
    assert BlockingKey.all_shops.filter(shop_id=shop.id).exists()
    assert erase(shop.id) == [run.id]
    assert_nothing_left(shop.id, [run.id])
