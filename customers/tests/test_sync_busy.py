"""A requested sync whose worker finds another sync of the shop running (its advisory lock held
by another session) does not stay "queued" for ever: it ends failed, saying why."""

import threading

import pytest
from django.db import connection, connections

from customers import tasks
from customers.models import SyncRun
from customers.sync import _ShopSyncLock
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks"),
]


class OtherSessionSyncing:
    """Holds the shop's sync lock on a connection of its own, as a running sync does."""

    def __init__(self, shop_id: int) -> None:
        self.key = _ShopSyncLock(shop_id).key
        self.held, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [self.key])
                self.held.set()
                self.release.wait(30)
                cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        finally:
            connections["default"].close()

    def __enter__(self):
        self.thread.start()
        assert self.held.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join(10)


@pytest.mark.parametrize(
    ("kind", "task"),
    [
        (SyncRun.Kind.FULL, tasks.shop_full_sync_task),
        (SyncRun.Kind.DELTA, tasks.shop_delta_sync_task),
    ],
)
def test_a_request_meeting_a_running_sync_ends_failed_with_the_reason(kind, task):
    shop = shop_factory(agency=agency_factory())
    # As sync_run_request records it; its task is called below (the tests' queue runs tasks
    # at once, before the other session could hold the lock).
    run = SyncRun.all_shops.create(shop=shop, kind=kind, requested_by="tests")
    assert run.status == SyncRun.Status.QUEUED
    with OtherSessionSyncing(shop.id):
        assert task(shop.id, run.id) == 0
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.finished_at is not None
    assert "already running" in run.error and run.error.startswith("Not run:")
    # Nothing else of the shop was started on its behalf.
    assert list(SyncRun.all_shops.filter(shop=shop).values_list("id", flat=True)) == [run.id]


def test_a_run_already_under_way_is_not_touched_by_a_skip():
    from customers.sync import sync_run_skip

    shop = shop_factory(agency=agency_factory())
    run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL, status=SyncRun.Status.RUNNING)
    assert sync_run_skip(shop_id=shop.id, sync_run_id=run.id, reason="Not run: busy") is False
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING and run.error == ""
