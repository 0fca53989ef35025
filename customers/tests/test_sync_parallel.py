"""The full sync's two loaders: the orders export loaded in a child process (customers.loader)
while the sync's own process loads the customers. Committed data only (the child has its own
connection), so these tests run outside a test transaction."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from customers import staging, sync
from customers.models import Customer, Order, SyncRun
from customers.sources import BulkSource
from customers.staging import staged_rows
from customers.sync import PhaseLoadFailed, shop_full_sync
from customers.tests.sandbox_compare import mirror_differences, shop_for
from customers.tests.test_sync import Crash, CrashingSource, store
from sandbox.generator import dumps, generate_customers
from sandbox.seed import load_customers
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db(transaction=True)
STAGED = ("customers", "addresses", "orders", "customers_late", "orders_late")


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="DE")


def staged(run_id: int, what: str) -> list[tuple]:
    """The staged rows, without the ids staged customers and orders take from the mirror's
    sequences (each distinct: checked here)."""
    table = staging.table_name(run_id, what)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid"
            " = %s::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'id'",
            [table],
        )
        columns = cursor.fetchone()[0]
        if what in staging.STAGED_IDS:
            cursor.execute(f"SELECT count(*), count(DISTINCT id) FROM {table}")
            count, ids = cursor.fetchone()
            assert ids == count
        cursor.execute(f"SELECT {columns} FROM {table} ORDER BY line_no")
        return cursor.fetchall()


def test_two_loaders_stage_exactly_what_one_loader_stages(shop, tmp_path):
    source = store(tmp_path, 23)
    states, rows = {}, {}
    for parallel in (False, True):
        run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL)
        timings: dict[str, float] = {}
        sync._stage_phases(shop, run, source, 5, None, timings, parallel=parallel)
        assert ("load" in timings) is parallel  # the parallel path ran (timed as one step)
        run.refresh_from_db()
        states[parallel] = {
            phase: {k: v for k, v in run.checkpoint[phase].items() if k != "started_at"}
            for phase in sync.PHASES
        }
        rows[parallel] = {what: staged(run.id, what) for what in STAGED}
        assert run.records_read == 46 and run.progress_done == run.progress_total == 92
        staging.stage_tables_drop(run.id)
    assert states[True] == states[False]
    assert rows[True] == rows[False]
    assert len(rows[True]["orders"]) == 23 and len(rows[True]["addresses"]) == 23


def test_a_parallel_full_sync_mirrors_both_exports(shop, tmp_path):
    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 12), batch_size=5)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert "load" in run.checkpoint["seconds"] and "cpu_load_orders" in run.checkpoint["seconds"]
    assert (run.records_read, run.records_created) == (24, 24)
    assert run.progress_done == run.progress_total == 48
    customer = Customer.all_shops.get(shop=shop, shopify_id=4)
    assert customer.number_of_orders == 1
    assert Order.all_shops.get(shop=shop, shopify_id=1004).customer_id == customer.id


def test_a_crashed_orders_loader_fails_the_run_and_the_rerun_resumes_both_checkpoints(
    shop, tmp_path
):
    source = store(tmp_path, 20)
    crashing = CrashingSource(source.paths, phase="orders", at_line=15)
    with pytest.raises(PhaseLoadFailed, match="worker killed"):
        shop_full_sync(shop_id=shop.id, source=crashing, batch_size=4)
    failed = SyncRun.all_shops.get(shop=shop)
    assert failed.status == SyncRun.Status.FAILED and "worker killed" in failed.error
    assert failed.checkpoint["customers"]["loaded"] is True  # the other loader went on
    assert failed.checkpoint["orders"]["lines_done"] == 8  # one batch: four orders and their items
    assert failed.records_read == 20 + 4  # customers + the orders of the batch committed
    assert Customer.all_shops.filter(shop=shop).count() == 0  # nothing applied

    resumed = shop_full_sync(shop_id=shop.id, source=source, batch_size=4)
    assert resumed.id == failed.id and resumed.status == SyncRun.Status.SUCCEEDED
    assert resumed.records_read == 40  # nothing read twice
    assert Order.all_shops.filter(shop=shop, customer__isnull=False).count() == 20
    assert staged_rows(resumed.id, "orders") is None


def test_a_crash_of_the_customers_loader_stops_the_orders_loader_and_the_rerun_completes(
    shop, tmp_path
):
    source = store(tmp_path, 20)
    crashing = CrashingSource(source.paths, phase="customers", at_line=11)
    with pytest.raises(Crash):
        shop_full_sync(shop_id=shop.id, source=crashing, batch_size=4)
    failed = SyncRun.all_shops.get(shop=shop)
    assert failed.status == SyncRun.Status.FAILED
    assert failed.checkpoint["customers"]["lines_done"] == 8
    assert not failed.checkpoint["customers"].get("loaded")
    # The orders loader was stopped with the run: no process still writes its phase.
    lines_then = failed.checkpoint["orders"].get("lines_done")
    failed.refresh_from_db()
    assert failed.checkpoint["orders"].get("lines_done") == lines_then

    resumed = shop_full_sync(shop_id=shop.id, source=source, batch_size=4)
    assert resumed.id == failed.id and resumed.status == SyncRun.Status.SUCCEEDED, resumed.error
    assert resumed.records_read == 40
    assert Customer.all_shops.filter(shop=shop).count() == 20
    assert Order.all_shops.filter(shop=shop, customer__isnull=False).count() == 20


@pytest.fixture
def seeded(sandbox_store):
    records = generate_customers(
        shop_domain=sandbox_store.domain, count=80, seed=9, orders_per_customer=2.0
    )
    load_customers(sandbox_store.store, (dumps(r) for r in records), source="test")
    return sandbox_store


def test_over_real_bulk_operations_both_exports_start_and_the_mirror_equals_the_store(seeded):
    """The sandbox runs one bulk query at a time (API 2025-01): the orders export starts when
    the customers' has finished; the child streams its result from the sandbox."""
    shop = shop_for(seeded, country_code="DE")
    run = shop_full_sync(
        shop_id=shop.id, source=BulkSource(shop, poll_interval=0.05), batch_size=25
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert "load" in run.checkpoint["seconds"]  # the two loaders ran
    operations = {run.checkpoint[p]["operation_id"] for p in sync.PHASES}
    assert len(operations) == 2 and all(
        o.startswith("gid://shopify/BulkOperation/") for o in operations
    )
    assert mirror_differences(shop, seeded.store, full_sync_fields=True) == []


def test_the_second_loader_follows_the_setting_and_the_command_flags(seeded, settings):
    """FULL_SYNC_SECOND_LOADER turns the second loader off for every sync; sync_shop's
    --second-loader / --one-loader decide for one run."""
    shop = shop_for(seeded, country_code="DE")

    def full_sync(*flags) -> SyncRun:
        call_command("sync_shop", shop.domain, "--full", *flags, stdout=StringIO())
        run = SyncRun.all_shops.filter(shop=shop).latest("id")
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        return run

    settings.FULL_SYNC_SECOND_LOADER = False
    one = full_sync()
    assert "load" not in one.checkpoint["seconds"] and "load_orders" in one.checkpoint["seconds"]
    assert "load" in full_sync("--second-loader").checkpoint["seconds"]  # the child loaded
    settings.FULL_SYNC_SECOND_LOADER = True
    assert "load" in full_sync().checkpoint["seconds"]
    assert "load" not in full_sync("--one-loader").checkpoint["seconds"]
    assert mirror_differences(shop, seeded.store, full_sync_fields=True) == []
