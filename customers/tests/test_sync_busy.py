"""A requested sync whose worker finds another sync of the shop running (its advisory lock held
by another session) does not stay "queued" for ever: it ends failed, saying why."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from django_q.models import Schedule

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
    # The other session runs a full sync: it brings the mirror up to date for either request.
    running = SyncRun.all_shops.create(
        shop=shop, kind=SyncRun.Kind.FULL, status=SyncRun.Status.RUNNING
    )
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
    # Nothing else of the shop was started on its behalf, nor scheduled.
    ids = set(SyncRun.all_shops.filter(shop=shop).values_list("id", flat=True))
    assert ids == {running.id, run.id}
    assert not Schedule.objects.filter(name__contains=f"sync-run-{run.id}").exists()


def test_a_full_sync_meeting_a_running_delta_stays_queued_and_is_tried_again():
    """A delta does not do what a full sync does: the request is not dropped for it."""
    from customers.sync import BUSY_RETRY_SECONDS

    shop = shop_factory(agency=agency_factory())
    SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.DELTA, status=SyncRun.Status.RUNNING)
    run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL, requested_by="tests")
    before = timezone.now()
    with OtherSessionSyncing(shop.id):
        assert tasks.shop_full_sync_task(shop.id, run.id) == 0
    run.refresh_from_db()
    assert run.status == SyncRun.Status.QUEUED and run.error == ""
    retry = Schedule.objects.get(name__contains=f"sync-run-{run.id}")
    assert retry.func == "customers.tasks.shop_full_sync_task"
    assert retry.args == f"{shop.id}, {run.id}" and retry.schedule_type == Schedule.ONCE
    assert retry.next_run >= before + timedelta(seconds=BUSY_RETRY_SECONDS)
    # The retry, once the delta is done, runs this very request.
    SyncRun.all_shops.filter(shop=shop, kind=SyncRun.Kind.DELTA).update(
        status=SyncRun.Status.SUCCEEDED
    )
    with OtherSessionSyncing(shop.id):  # still busy, now with a full sync recorded running
        SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL, status=SyncRun.Status.RUNNING)
        assert tasks.shop_full_sync_task(shop.id, run.id) == 0
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and run.error.startswith("Not run:")


def test_a_run_already_under_way_is_not_touched_by_a_skip():
    from customers.sync import sync_run_skip

    shop = shop_factory(agency=agency_factory())
    run = SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.FULL, status=SyncRun.Status.RUNNING)
    assert sync_run_skip(shop_id=shop.id, sync_run_id=run.id, reason="Not run: busy") is False
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING and run.error == ""
