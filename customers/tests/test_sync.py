"""Full sync orchestration: phases, checkpoints, deletions, crash and resume, hooks."""

import json

import pytest

from customers import hooks
from customers.models import Customer, Order, SyncRun
from customers.sources import FileSource
from customers.staging import staged_rows
from customers.sync import shop_full_sync, sync_run_request
from customers.tests.test_ingest import address_line, customer_line, item_line, order_line
from tenants.tests.factories import agency_factory, shop_factory, user_factory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="DE")


def write_export(tmp_path, name, objects):
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in objects))
    return str(path)


def store(tmp_path, customers: int, *, tag="a"):
    customer_objects, order_objects = [], []
    for n in range(1, customers + 1):
        customer_objects += [customer_line(n), address_line(n, 1)]
        order_objects += [order_line(1000 + n, n, "10.00"), item_line(1000 + n, 1, 300, ["shoes"])]
    return FileSource(
        {
            "customers": write_export(tmp_path, f"customers-{tag}", customer_objects),
            "orders": write_export(tmp_path, f"orders-{tag}", order_objects),
        }
    )


class Crash(Exception):
    pass


class CrashingSource(FileSource):
    def __init__(self, paths, *, phase, at_line):
        super().__init__(paths)
        self.crash_phase, self.at_line = phase, at_line

    def lines(self, url):
        for index, line in enumerate(super().lines(url), start=1):
            if url == self.paths[self.crash_phase] and index == self.at_line:
                raise Crash("worker killed")
            yield line


def test_full_sync_mirrors_both_phases_and_records_the_run(shop, tmp_path):
    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 12), batch_size=5)
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.records_read, run.records_created, run.records_deleted) == (24, 24, 0)
    assert run.progress_done == run.progress_total == 48
    assert run.high_water_mark is not None
    assert Customer.all_shops.filter(shop=shop).count() == 12
    customer = Customer.all_shops.get(shop=shop, shopify_id=4)
    assert customer.number_of_orders == 1 and customer.first_order_at is not None
    assert Order.all_shops.get(shop=shop, shopify_id=1004).customer_id == customer.id


def test_customers_missing_from_the_next_full_sync_are_tombstoned(shop, tmp_path):
    shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5, tag="a"))
    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 3, tag="b"))
    assert run.records_deleted == 2
    gone = Customer.all_shops.filter(shop=shop, deleted_at__isnull=False)
    assert sorted(gone.values_list("shopify_id", flat=True)) == [4, 5]
    assert Order.all_shops.filter(shop=shop, deleted_at__isnull=False).count() == 2


def test_a_crashed_sync_leaves_the_mirror_usable_and_the_next_run_resumes(shop, tmp_path):
    shop_full_sync(shop_id=shop.id, source=store(tmp_path, 5, tag="before"))
    source = store(tmp_path, 20)
    crashing = CrashingSource(source.paths, phase="orders", at_line=15)
    with pytest.raises(Crash):
        shop_full_sync(shop_id=shop.id, source=crashing, batch_size=4)
    failed = SyncRun.all_shops.filter(shop=shop).first()
    assert failed.status == SyncRun.Status.FAILED and "worker killed" in failed.error
    assert failed.checkpoint["customers"]["loaded"] is True
    assert failed.checkpoint["orders"]["lines_done"] == 8  # two batches of four orders (+ items)
    # The mirror is still the previous sync's, whole: nothing half-applied.
    assert Customer.all_shops.filter(shop=shop, deleted_at=None).count() == 5
    assert Order.all_shops.filter(shop=shop).count() == 5

    resumed = shop_full_sync(shop_id=shop.id, source=source, batch_size=4)
    assert resumed.id == failed.id and resumed.status == SyncRun.Status.SUCCEEDED
    assert Order.all_shops.filter(shop=shop).count() == 20
    assert resumed.records_read == 40  # nothing read twice
    assert (resumed.records_created, resumed.records_updated) == (30, 10)
    assert Customer.all_shops.filter(shop=shop, deleted_at__isnull=False).count() == 0
    assert staged_rows(resumed.id, "customers") is None  # staging dropped on success


def test_a_crash_while_applying_rolls_back_whole_and_the_rerun_applies(shop, tmp_path, monkeypatch):
    from customers import partition_build, staging

    source = store(tmp_path, 6)

    def fail(**kwargs):
        raise Crash("killed while applying")

    monkeypatch.setattr(staging, "orders_apply", fail)
    monkeypatch.setattr(partition_build, "orders_build", fail)  # a first sync builds
    with pytest.raises(Crash):
        shop_full_sync(shop_id=shop.id, source=source)
    failed = SyncRun.all_shops.get(shop=shop)
    assert failed.checkpoint["orders"]["loaded"] is True
    assert Customer.all_shops.filter(shop=shop).count() == 0  # the customers' apply rolled back
    monkeypatch.undo()
    rerun = shop_full_sync(shop_id=shop.id, source=source)
    assert rerun.id == failed.id and rerun.status == SyncRun.Status.SUCCEEDED
    assert Customer.all_shops.filter(shop=shop).count() == 6
    assert Order.all_shops.filter(shop=shop, customer__isnull=False).count() == 6


def test_staged_rows_lost_in_a_server_crash_are_loaded_again(shop, tmp_path, monkeypatch):
    from django.db import connection

    from customers import partition_build, staging

    source = store(tmp_path, 7)
    monkeypatch.setattr(staging, "orders_apply", lambda **kw: (_ for _ in ()).throw(Crash()))
    monkeypatch.setattr(
        partition_build, "orders_build", lambda **kw: (_ for _ in ()).throw(Crash())
    )
    with pytest.raises(Crash):
        shop_full_sync(shop_id=shop.id, source=source)
    monkeypatch.undo()
    run = SyncRun.all_shops.get(shop=shop)
    with connection.cursor() as cursor:  # what crash recovery does to UNLOGGED tables
        cursor.execute(f"TRUNCATE {staging.table_name(run.id, 'customers')}")
    rerun = shop_full_sync(shop_id=shop.id, source=source)
    assert rerun.status == SyncRun.Status.SUCCEEDED
    assert Customer.all_shops.filter(shop=shop).count() == 7
    assert rerun.records_read == 14


def test_finished_sync_notifies_registered_hooks_after_commit(
    shop, tmp_path, django_capture_on_commit_callbacks
):
    calls = []

    def hook(*, shop_id, customer_ids, reason, changed, **_):
        calls.append((shop_id, customer_ids, reason, changed))

    hooks.on_mirror_changed(hook)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            shop_full_sync(shop_id=shop.id, source=store(tmp_path, 2))
    finally:
        hooks._MIRROR_CHANGED.remove(hook)
    assert calls == [(shop.id, None, "full_sync", None)]


def test_sync_request_is_audited_and_refuses_unknown_kinds(shop):
    from audit.models import AuditEvent
    from tenants.actors import Actor
    from tenants.errors import Conflict, DomainError

    user = user_factory()
    run = sync_run_request(shop=shop, kind="full", actor=Actor(user=user))
    assert (run.status, run.requested_by) == (SyncRun.Status.QUEUED, f"user:{user.pk}")
    event = AuditEvent.objects.get(event="shop.sync_requested")
    assert event.target_id == str(run.id) and event.data["kind"] == "full"
    with pytest.raises(DomainError, match="unknown sync kind 'weekly'"):
        sync_run_request(shop=shop, kind="weekly")
    shop.status = shop.Status.UNINSTALLED
    shop.save()
    with pytest.raises(Conflict, match="uninstalled"):
        sync_run_request(shop=shop)
    assert SyncRun.all_shops.filter(shop=shop).count() == 1


def test_a_full_sync_never_moves_a_newer_mirror_row_backwards(shop, tmp_path):
    from datetime import UTC, datetime

    shop_full_sync(shop_id=shop.id, source=store(tmp_path, 4, tag="a"))
    newer = datetime(2030, 1, 1, tzinfo=UTC)  # e.g. a webhook applied during the export
    Customer.all_shops.filter(shop=shop, shopify_id=2).update(
        first_name="From a webhook", updated_at_shopify=newer
    )
    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 4, tag="b"))
    assert (run.records_created, run.records_updated) == (0, 7)  # 3 customers + 4 orders
    kept = Customer.all_shops.get(shop=shop, shopify_id=2)
    assert (kept.first_name, kept.deleted_at) == ("From a webhook", None)
    assert kept.last_seen_sync_run_id == run.id  # seen, so not tombstoned


def test_an_id_exported_twice_is_applied_once_with_its_last_line(shop, tmp_path):
    customers = [customer_line(1), customer_line(2), {**customer_line(1), "firstName": "Later"}]
    orders = [order_line(11, 1, "10.00"), order_line(12, 2, "5.00"), order_line(11, 1, "30.00")]
    source = FileSource(
        {
            "customers": write_export(tmp_path, "customers-twice", customers),
            "orders": write_export(tmp_path, "orders-twice", orders),
        }
    )
    run = shop_full_sync(shop_id=shop.id, source=source)
    assert run.status == SyncRun.Status.SUCCEEDED and run.records_created == 4
    assert Customer.all_shops.get(shop=shop, shopify_id=1).first_name == "Later"
    assert Order.all_shops.get(shop=shop, shopify_id=11).total_price == 30
    # Without a repeated id the staged rows are taken as they are (a unique index proved it).
    rerun = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 3))
    assert rerun.status == SyncRun.Status.SUCCEEDED and rerun.records_created == 4  # 1 + 3 orders
