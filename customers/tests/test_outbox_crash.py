"""The outbox drain killed at its worst point: the outbox rows are taken, the hooks are queueing
their work, nothing is committed yet. The hooks must still hear about the change afterwards.

Before the fix the drain committed the removal of the rows first and called the hooks after the
commit; a worker dying in between lost the batch until the shop's next change.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.tasks import async_task

from customers import hooks
from customers.models import MirrorChange, MirrorChangeDrain
from customers.outbox import DRAIN_TASK, REQUEUE_AFTER, mirror_change_record, mirror_changes_sweep
from customers.tasks import mirror_changes_drain_task
from tenants.tests.factories import agency_factory, shop_factory
from tests.test_qcluster import _test_database_url

ROOT = Path(__file__).resolve().parents[2]
WAIT = 90  # seconds: an upper bound for a loaded machine, not a performance check
HOOK_TASK = "tenants.tasks.agency_audit_verify_task"  # any task: the hook's queued work
SEGMENTS_TASK = "segments.tasks.shop_derived_refresh_task"


def queued(func: str) -> list[dict]:
    return [task.task for task in OrmQ.objects.all() if task.task["func"] == func]


class WorkerDied(BaseException):
    """Not an Exception: nothing on the way may catch it, as nothing catches a SIGKILL."""


@pytest.fixture
def no_inline_tasks(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # tasks wait in the ORM broker's table


@pytest.mark.django_db
def test_a_drain_dying_after_the_hooks_queued_their_work_loses_nothing(no_inline_tasks):
    shop = shop_factory(agency=agency_factory())
    heard = []

    def consumer(*, shop_id, customer_ids, **_):  # what segments and duplicates do: enqueue
        heard.append(customer_ids)
        async_task(HOOK_TASK, shop_id)

    def dies(**_):
        raise WorkerDied  # after the consumer queued its work, before the drain's commit

    hooks.on_mirror_changed(consumer)
    hooks.on_mirror_changed(dies)
    try:
        with transaction.atomic():
            mirror_change_record(
                shop_id=shop.id, customer_ids=[7], changed=["tags"], reason="webhook"
            )
        with pytest.raises(WorkerDied):
            mirror_changes_drain_task(shop.id)
        assert heard == [[7]]  # the consumer was called ...
        assert queued(HOOK_TASK) == []  # ... but its work rolled back with the drain
        assert list(MirrorChange.all_shops.values_list("customer_id", flat=True)) == [7]
        assert MirrorChangeDrain.all_shops.filter(shop=shop).exists()
    finally:
        hooks._MIRROR_CHANGED.remove(dies)
    try:
        # Not stale yet: the sweep leaves a drain that may still be running alone.
        assert mirror_changes_sweep() == []
        assert mirror_changes_sweep(now=timezone.now() + REQUEUE_AFTER + timedelta(seconds=1)) == [
            shop.id
        ]
        drains = queued(DRAIN_TASK)
        assert [task["args"] for task in drains] == [(shop.id, "webhook")]
        assert mirror_changes_drain_task(*drains[0]["args"]) == 1
    finally:
        hooks._MIRROR_CHANGED.remove(consumer)
    assert heard == [[7], [7]]
    assert [task["args"] for task in queued(HOOK_TASK)] == [(shop.id,)]  # queued exactly once
    assert not MirrorChange.all_shops.exists()
    assert not MirrorChangeDrain.all_shops.exists()


def _backend_waiting(watch, query_start: str) -> int | None:
    row = watch.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE %s",
        [query_start + "%"],
    ).fetchone()
    return row[0] if row else None


def _wait_for(check, what: str, cluster):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        assert cluster.poll() is None, f"the cluster exited before {what}"
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the cluster is another process: rows must be committed
def test_a_real_worker_killed_inside_the_drain_loses_no_change(no_inline_tasks):
    """A `manage.py qcluster` runs the drain; it is held (by row and table locks, no code of its
    own) inside the segments hook's enqueue, after the drain took the outbox rows, then SIGKILLed."""
    if connection.vendor != "postgresql":
        pytest.skip("needs a database another process can open (PostgreSQL)")
    Schedule.objects.all().delete()  # the single worker runs the drain, nothing else
    shop = shop_factory(agency=agency_factory())
    with transaction.atomic():  # a delivery's change (email: both consumers care)
        mirror_change_record(
            shop_id=shop.id, customer_ids=[41], changed=["email"], reason="webhook"
        )
    assert [task["args"] for task in queued(DRAIN_TASK)] == [(shop.id, "webhook")]

    url = _test_database_url()
    holder = psycopg.connect(url)  # a delivery still holding the shop's drain row
    queue_lock = psycopg.connect(url)  # holds back every broker INSERT
    watch = psycopg.connect(url, autocommit=True)
    holder.execute(
        "SELECT 1 FROM customers_mirrorchangedrain WHERE shop_id = %s FOR UPDATE", [shop.id]
    )
    env = {**os.environ, "DATABASE_URL": url, "Q_SYNC": "0", "Q_WORKERS": "1", "CONN_MAX_AGE": "0"}
    env.pop("REDIS_URL", None)
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes every worker
    )
    try:
        drain_pid = _wait_for(
            lambda: _backend_waiting(watch, "DELETE FROM customers_mirrorchangedrain"),
            "the drain to start",
            cluster,
        )
        queue_lock.execute("LOCK TABLE django_q_ormq IN EXCLUSIVE MODE")
        holder.commit()  # the drain goes on: takes the rows, calls the hooks ...
        stuck = _wait_for(
            lambda: _backend_waiting(watch, 'INSERT INTO "django_q_ormq"'),
            "a hook to enqueue",
            cluster,
        )
        assert stuck == drain_pid  # ... and is inside the segments hook's enqueue
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(WAIT)
        # The machine is gone: so is its connection (PostgreSQL rolls its transaction back).
        watch.execute("SELECT pg_terminate_backend(%s)", [drain_pid])
    finally:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(WAIT)
        queue_lock.rollback()
        for conn in (holder, queue_lock, watch):
            conn.close()

    taken_by_the_dead = {
        t.task["id"] for t in OrmQ.objects.all() if t.lock > timezone.now()
    }  # the killed worker's drain task, locked until django-q2 retries it
    assert len(taken_by_the_dead) == 1
    # Nothing was lost: the change waits in the outbox, and no consumer queued anything yet.
    deadline = time.monotonic() + WAIT
    while MirrorChangeDrain.all_shops.filter(shop=shop).count() != 1:
        assert time.monotonic() < deadline, "the killed drain's transaction was not rolled back"
        time.sleep(0.05)
    assert list(MirrorChange.all_shops.values_list("customer_id", flat=True)) == [41]
    assert queued(SEGMENTS_TASK) == []

    heard = []

    def listener(*, shop_id, customer_ids, changed, **_):
        heard.append((shop_id, customer_ids, changed))

    hooks.on_mirror_changed(listener)
    try:
        later = timezone.now() + REQUEUE_AFTER + timedelta(seconds=1)
        assert mirror_changes_sweep(now=later) == [shop.id]
        # The killed worker's drain task stays taken until django-q2's retry; the sweep's is new.
        drains = OrmQ.objects.all()
        fresh = [t.task for t in drains if t.task["func"] == DRAIN_TASK and t.lock <= later]
        [drain] = [t for t in fresh if t["id"] not in taken_by_the_dead]
        assert mirror_changes_drain_task(*drain["args"]) == 1
    finally:
        hooks._MIRROR_CHANGED.remove(listener)
    assert heard == [(shop.id, [41], frozenset({"email"}))]
    [segments] = queued(SEGMENTS_TASK)
    assert segments["args"] == (shop.id, False, "data", [41], ["email"])
    assert [t["args"][1] for t in queued("merges.tasks.duplicates_check_task")] == [[41]]
    assert not MirrorChange.all_shops.exists()


@pytest.mark.django_db
def test_a_failing_hook_keeps_the_change_queued_and_the_delta_still_heals(sandbox_store):
    from datetime import UTC, datetime

    from customers.models import Customer, SyncRun
    from customers.tasks import shop_delta_sync_task
    from customers.tests.sandbox_compare import shop_for

    shop = shop_for(sandbox_store, country_code="DE")
    SyncRun.all_shops.create(
        shop=shop, kind="full", status="succeeded", high_water_mark=datetime(2020, 1, 1, tzinfo=UTC)
    )
    sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
    with transaction.atomic():
        mirror_change_record(shop_id=shop.id, customer_ids=[3], changed=["tags"], reason="webhook")

    def broken(**_):
        raise RuntimeError("the broker is down")

    hooks.on_mirror_changed(broken)
    try:
        assert shop_delta_sync_task(shop.id)  # the delta ran despite the failing drain
    finally:
        hooks._MIRROR_CHANGED.remove(broken)
    ada = Customer.all_shops.get(shop=shop, first_name="Ada")
    # The webhook's change still waits, next to the delta's own (both for the sweep's drain).
    assert sorted(MirrorChange.all_shops.values_list("customer_id", flat=True)) == sorted(
        [3, ada.id]
    )


@pytest.mark.django_db
def test_the_sweep_is_scheduled_every_minute_and_runs():
    from django.utils.module_loading import import_string

    from customers.schedules import OUTBOX_SWEEP_SCHEDULE

    schedule = Schedule.objects.get(name=OUTBOX_SWEEP_SCHEDULE)
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert import_string(schedule.func)() == 0  # nothing waits: nothing queued


@pytest.mark.django_db
def test_the_sweep_leaves_an_uninstalled_shop_alone(no_inline_tasks):
    from tenants.models import Shop

    installed = shop_factory(agency=agency_factory())
    gone = shop_factory(agency=installed.agency, status=Shop.Status.UNINSTALLED)
    for shop in (installed, gone):
        with transaction.atomic():
            mirror_change_record(shop_id=shop.id, customer_ids=[1], changed=None, reason="webhook")
    later = timezone.now() + REQUEUE_AFTER + timedelta(seconds=1)
    assert mirror_changes_sweep(now=later) == [installed.id]


@pytest.mark.django_db
def test_a_delta_whose_worker_dies_after_its_commit_still_reaches_the_hooks(
    sandbox_store, no_inline_tasks
):
    """Before, the delta called the hooks after its commit (on_commit): a worker dying right
    after the commit lost the notification. Now the outbox rows commit with the run's success;
    here no on-commit callback ever runs (the worker is gone), and the sweep delivers them."""
    from datetime import UTC, datetime

    from customers.models import Customer, SyncRun
    from customers.sync import shop_delta_sync
    from customers.tests.sandbox_compare import shop_for

    shop = shop_for(sandbox_store, country_code="DE")
    SyncRun.all_shops.create(
        shop=shop, kind="full", status="succeeded", high_water_mark=datetime(2020, 1, 1, tzinfo=UTC)
    )
    sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
    run = shop_delta_sync(shop_id=shop.id)  # its on-commit work never runs in this test
    assert run.status == SyncRun.Status.SUCCEEDED
    assert queued(DRAIN_TASK) == []  # the dead worker queued nothing
    ada = Customer.all_shops.get(shop=shop, first_name="Ada")
    assert list(MirrorChange.all_shops.values_list("customer_id", flat=True)) == [ada.id]

    heard = []

    def listener(*, shop_id, customer_ids, **_):
        heard.append((shop_id, customer_ids))

    hooks.on_mirror_changed(listener)
    try:
        later = timezone.now() + REQUEUE_AFTER + timedelta(seconds=1)
        assert mirror_changes_sweep(now=later) == [shop.id]
        [drain] = queued(DRAIN_TASK)
        assert mirror_changes_drain_task(*drain["args"]) == 1
    finally:
        hooks._MIRROR_CHANGED.remove(listener)
    assert heard == [(shop.id, [ada.id])]
