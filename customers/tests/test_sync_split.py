"""The orders export shared by the two loaders: when the customers' loader is done first, it asks
the orders' loader (a child process) to stop at the first order past the middle of what it has
left, and loads the rest itself. Committed data only (two processes), outside a transaction."""

import os
import time

import pytest
from django.db import connection

from customers import staging, sync
from customers.models import Customer, Order, SyncRun
from customers.sources import FileSource
from customers.sync import shop_full_sync
from customers.tests.test_ingest import address_line, customer_line, item_line, order_line
from customers.tests.test_sync import Crash, CrashingSource, write_export
from customers.tests.test_sync_parallel import STAGED, staged
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="DE")


def two_item_store(tmp_path, customers: int) -> dict[str, str]:
    """Orders with two line items each, and a late item, so a split lands between items."""
    customer_objects, order_objects = [], []
    for n in range(1, customers + 1):
        customer_objects += [customer_line(n), address_line(n, 1)]
        order_objects += [
            order_line(1000 + n, n, "10.00"),
            item_line(1000 + n, 1, 300 + n % 3, ["shoes"]),
            item_line(1000 + n, 2, 400, ["sale", "b"]),
        ]
    order_objects.insert(7, item_line(1001, 3, 500, ["late"]))
    return {
        "customers": write_export(tmp_path, "customers", customer_objects),
        "orders": write_export(tmp_path, "orders", order_objects),
    }


class SlowChildSource(FileSource):
    """The orders read slowly in the child process (its loader is still busy when the customers
    are done), and the customers only once the child has staged its first batch."""

    def __init__(self, paths) -> None:
        super().__init__(paths)
        self.parent_pid = os.getpid()

    def lines(self, url):
        child = os.getpid() != self.parent_pid
        if url == self.paths["customers"] and not child:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                run = SyncRun.all_shops.order_by("-id").first()
                if int((run.checkpoint.get("orders") or {}).get("lines_done") or 0) > 0:
                    break
                time.sleep(0.05)
        for line in super().lines(url):
            if child and url == self.paths["orders"]:
                time.sleep(0.02)
            yield line


def loads_of(source, shop, *, parallel: bool) -> tuple[SyncRun, dict]:
    run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL)
    sync._stage_phases(shop, run, source, 3, None, {}, parallel=parallel)
    run.refresh_from_db()
    rows = {what: staged(run.id, what) for what in STAGED}
    staging.stage_tables_drop(run.id)
    return run, rows


def test_the_split_orders_export_stages_exactly_what_one_loader_stages(shop, tmp_path, monkeypatch):
    monkeypatch.setattr(sync, "SPLIT_MIN_LINES", 10)
    monkeypatch.setattr(sync, "SPLIT_MIN_SECONDS", 0)
    paths = two_item_store(tmp_path, 40)
    _, one = loads_of(FileSource(paths), shop, parallel=False)
    run, two = loads_of(SlowChildSource(paths), shop, parallel=True)
    head, tail = run.checkpoint["orders"], run.checkpoint[sync.TAIL]
    assert head["split_at"] == tail["start"] and head["loaded"] and tail["loaded"]
    assert 4 < head["lines_done"] == tail["start"] - 1 < tail["lines_done"] == 121
    assert head["read"] + tail["read"] == 40 and head["read"] < 40
    assert run.records_read == 80 and run.progress_done == run.progress_total == 80 + 121
    assert two == one
    assert len(two["orders"]) == 40 and len(two["orders_late"]) == 1


def middle_order_line(path: str) -> int:
    with open(path, "rb") as handle:
        lines = handle.read().splitlines()
    return next(i for i, line in enumerate(lines, 1) if i > 60 and b"__parentId" not in line)


def test_an_agreed_split_resumes_after_a_crash_of_either_part(shop, tmp_path):
    paths = two_item_store(tmp_path, 40)
    _, one = loads_of(FileSource(paths), shop, parallel=False)
    start = middle_order_line(paths["orders"])
    run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL)
    sync._checkpoint(run, "orders", {"split_at": start})  # as agreed before a crash
    sync._checkpoint(
        run, sync.TAIL, {"start": start, "lines_done": start - 1, "rows": 0, "read": 0}
    )
    for crash_at in (start - 10, start + 20):  # in the first part, then in the second
        with pytest.raises(Crash):
            sync._stage_phases(
                shop, run, CrashingSource(paths, phase="orders", at_line=crash_at), 3, None, {},
                parallel=False,
            )  # fmt: skip
        run.refresh_from_db()
    assert run.checkpoint["orders"]["loaded"] and not run.checkpoint[sync.TAIL].get("loaded")
    assert run.checkpoint[sync.TAIL]["lines_done"] > start  # resumed from its checkpoint
    sync._stage_phases(shop, run, FileSource(paths), 3, None, {}, parallel=False)
    run.refresh_from_db()
    assert run.checkpoint[sync.TAIL]["loaded"] and run.records_read == 80
    assert {what: staged(run.id, what) for what in STAGED} == one


def test_a_lost_second_part_is_loaded_again_and_the_first_kept(shop, tmp_path):
    paths = two_item_store(tmp_path, 40)
    start = middle_order_line(paths["orders"])
    run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL)
    sync._checkpoint(run, "orders", {"split_at": start})
    sync._checkpoint(
        run, sync.TAIL, {"start": start, "lines_done": start - 1, "rows": 0, "read": 0}
    )
    sync._stage_phases(shop, run, FileSource(paths), 3, None, {}, parallel=False)
    first = {what: staged(run.id, what) for what in STAGED}
    with connection.cursor() as cursor:  # rows of the second part lost
        cursor.execute(
            f"DELETE FROM {staging.table_name(run.id, 'orders')} WHERE line_no > %s", [start + 30]
        )
    run.refresh_from_db()
    sync._checkpoint(run, sync.TAIL, {**run.checkpoint[sync.TAIL], "loaded": False})
    sync._stage_phases(shop, run, FileSource(paths), 3, None, {}, parallel=False)
    assert {what: staged(run.id, what) for what in STAGED} == first


def test_a_full_sync_with_a_split_mirrors_both_exports(shop, tmp_path, monkeypatch):
    monkeypatch.setattr(sync, "SPLIT_MIN_LINES", 10)
    monkeypatch.setattr(sync, "SPLIT_MIN_SECONDS", 0)
    run = shop_full_sync(
        shop_id=shop.id, source=SlowChildSource(two_item_store(tmp_path, 40)), batch_size=3
    )
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.checkpoint["orders"].get("split_at"), run.checkpoint
    assert (run.records_read, run.records_created) == (80, 80)
    assert Order.all_shops.filter(shop=shop, customer__isnull=False).count() == 40
    assert Customer.all_shops.get(shop=shop, shopify_id=4).number_of_orders == 1


def test_no_split_when_the_orders_loader_would_end_soon_anyway(shop, tmp_path, monkeypatch):
    monkeypatch.setattr(sync, "SPLIT_MIN_LINES", 10)
    monkeypatch.setattr(sync, "SPLIT_MIN_SECONDS", 3600)
    paths = two_item_store(tmp_path, 40)
    _, one = loads_of(FileSource(paths), shop, parallel=False)
    run, two = loads_of(SlowChildSource(paths), shop, parallel=True)
    assert "split_at" not in run.checkpoint["orders"] and sync.TAIL not in run.checkpoint
    assert run.checkpoint["orders"]["lines_done"] == 121 and two == one
