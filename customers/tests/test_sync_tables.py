"""What full syncs leave on disk (customers.sync_tables): a failed build or apply drops the
tables it built at once and keeps the staged rows for the resume; the janitor drops the tables
of runs that nothing runs any more (a killed process, a failed run never retried, an erased
shop), never those of a run that is alive, and marks an abandoned run so that the next full
sync starts afresh. The killed syncs here are real processes, killed with SIGKILL."""

import os
import pickle
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from customers import partition_build, partitions
from customers.models import Customer, Order, SyncRun
from customers.sources import FileSource
from customers.sync import shop_full_sync
from customers.sync_tables import PHASE_LOCK, RUN_LOCK, sync_tables_janitor
from customers.tests.test_sync import Crash, store
from customers.tests.test_sync_erased import erase, run_tables
from tenants.tests.factories import agency_factory, shop_factory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="staged full sync"),
]
HOUR = timedelta(hours=1)


@pytest.fixture
def shop():
    return shop_factory(agency=agency_factory(), country_code="DE")


def built(run_id: int) -> list[str]:
    return [t for t in run_tables(run_id) if t.startswith(f"_sync{run_id}_built_")]


def staged(run_id: int) -> list[str]:
    return [t for t in run_tables(run_id) if t not in built(run_id)]


@pytest.mark.parametrize("crash_in", ["build", "apply"])
def test_a_failed_build_or_apply_drops_what_it_built_and_keeps_the_staged_rows(
    shop, tmp_path, monkeypatch, crash_in
):
    real_attach = partitions.shop_partitions_attach

    def crash(**kwargs):
        if crash_in == "apply":
            real_attach(**kwargs)  # every partition attached, then the apply dies
        raise Crash(f"killed in the {crash_in}")

    if crash_in == "build":
        # Staged orders carry their ids: the order products are built from them.
        monkeypatch.setattr(partition_build, "order_products_build_staged", crash)
    else:
        monkeypatch.setattr(partitions, "shop_partitions_attach", crash)
    source = store(tmp_path, 6)
    with pytest.raises(Exception, match=f"killed in the {crash_in}"):
        shop_full_sync(shop_id=shop.id, source=source)
    run = SyncRun.all_shops.get(shop=shop)
    assert run.status == SyncRun.Status.FAILED
    assert built(run.id) == []
    assert f"_sync{run.id}_customers" in staged(run.id)  # for the resume
    monkeypatch.undo()
    rerun = shop_full_sync(shop_id=shop.id, source=source)
    assert rerun.id == run.id and rerun.status == SyncRun.Status.SUCCEEDED
    assert run_tables(run.id) == []


def test_the_janitor_keeps_a_recent_failed_run_and_abandons_an_old_one(shop, tmp_path, monkeypatch):
    def crash(**kwargs):
        raise Crash("killed while building")

    monkeypatch.setattr(partition_build, "orders_build", crash)
    source = store(tmp_path, 6)
    with pytest.raises(Exception, match="killed while building"):
        shop_full_sync(shop_id=shop.id, source=source)
    monkeypatch.undo()
    failed = SyncRun.all_shops.get(shop=shop)
    tables = staged(failed.id)
    assert tables
    assert failed.id not in sync_tables_janitor(abandoned_after=HOUR)  # may still be retried
    assert staged(failed.id) == tables

    dropped = sync_tables_janitor(abandoned_after=timedelta(0))
    assert "abandoned" in dropped[failed.id]
    assert run_tables(failed.id) == []
    failed.refresh_from_db()
    assert failed.status == SyncRun.Status.FAILED and failed.error.startswith("abandoned")
    assert "killed while building" in failed.error
    # The next full sync starts afresh (a new run), not from the abandoned one.
    run = shop_full_sync(shop_id=shop.id, source=source)
    assert run.id != failed.id and run.status == SyncRun.Status.SUCCEEDED
    assert Order.all_shops.filter(shop=shop, customer__isnull=False).count() == 6


def test_the_janitor_drops_the_tables_of_succeeded_runs(shop, tmp_path):
    """The process died between the apply's commit and the drop (or the drop failed)."""
    from customers import staging

    run = shop_full_sync(shop_id=shop.id, source=store(tmp_path, 3))
    staging.stage_tables_create(run.id)  # as the dead process left them
    assert run_tables(run.id)
    assert sync_tables_janitor(abandoned_after=HOUR)[run.id] == "its run succeeded"
    assert run_tables(run.id) == []


# --- killed processes ---------------------------------------------------------------------------


class GatedSource(FileSource):
    """An export on disk whose `phase` stops at line `at_line` until the file `<gate>-<phase>`
    exists (`<gate>-<phase>.waiting` says it got there)."""

    def __init__(self, paths, *, gate, phases, at_line):
        super().__init__(paths)
        self.gate, self.phases, self.at_line = str(gate), phases, at_line

    def lines(self, url):
        phase = next(p for p, path in self.paths.items() if path == url)
        for index, line in enumerate(super().lines(url), start=1):
            if phase in self.phases and index == self.at_line:
                gate_wait(f"{self.gate}-{phase}")
            yield line


def gate_wait(gate: str) -> None:
    Path(f"{gate}.waiting").touch()
    while not os.path.exists(gate):
        time.sleep(0.05)


def waiting_at(gate: str, process: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + 120
    while not os.path.exists(f"{gate}.waiting"):
        assert process is None or process.poll() is None, "the sync process ended early"
        assert time.monotonic() < deadline, f"never got to {gate}"
        time.sleep(0.05)


_SYNC = """
import os, pickle, sys
import django
django.setup()
from django.db import connections
connections["default"].settings_dict["NAME"] = sys.argv[1]
job = pickle.loads(bytes.fromhex(sys.argv[2]))
if job["gate_build"]:
    from customers import partition_build
    from customers.tests.test_sync_tables import gate_wait
    real = partition_build.addresses_build
    def gated(**kwargs):
        gate_wait(job["gate_build"])
        return real(**kwargs)
    partition_build.addresses_build = gated
from customers.sync import shop_full_sync
shop_full_sync(
    shop_id=job["shop_id"], source=job["source"], batch_size=4, parallel=job["parallel"]
)
"""


def sync_process(shop, source, *, parallel=False, gate_build="") -> subprocess.Popen:
    job = {"shop_id": shop.id, "source": source, "parallel": parallel, "gate_build": gate_build}
    return subprocess.Popen(
        [sys.executable, "-c", _SYNC, connection.settings_dict["NAME"], pickle.dumps(job).hex()],
        cwd=str(settings.BASE_DIR),
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )


def locks_held(run_id: int) -> int:
    """Sessions holding the run's lock or one of its phase locks."""
    keys = [RUN_LOCK + run_id, PHASE_LOCK + 2 * run_id, PHASE_LOCK + 2 * run_id + 1]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND ((classid::bigint << 32) | objid::bigint) = ANY(%s::bigint[])",
            [keys],
        )
        return cursor.fetchone()[0]


def until(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("stage", "parallel"),
    [("load", False), ("load", True), ("build", False)],
    ids=["killed-loading", "killed-loading-child-goes-on", "killed-building"],
)
def test_the_janitor_drops_what_a_killed_sync_left_never_while_it_runs(
    shop, tmp_path, stage, parallel
):
    paths = store(tmp_path, 20).paths
    gate = str(tmp_path / "gate")
    phases = ("customers", "orders") if parallel else ("customers",)
    source = GatedSource(paths, gate=gate, phases=phases if stage == "load" else (), at_line=13)
    process = sync_process(
        shop, source, parallel=parallel, gate_build=gate + "-build" if stage == "build" else ""
    )
    try:
        waiting_at(f"{gate}-{'customers' if stage == 'load' else 'build'}", process)
        run = SyncRun.all_shops.get(shop=shop)
        tables = run_tables(run.id)
        assert tables and (stage != "build" or built(run.id))
        # Alive: never touched, however old.
        assert run.id not in sync_tables_janitor(abandoned_after=timedelta(0))
        assert run_tables(run.id) == tables
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    if parallel:  # the orders loader outlived its parent: still alive, still untouched
        waiting_at(f"{gate}-orders", None)
        until(lambda: locks_held(run.id) == 1, "the parent's session ended")
        assert run.id not in sync_tables_janitor(abandoned_after=timedelta(0))
        Path(f"{gate}-orders").touch()  # it loads to the end, then exits
    until(lambda: locks_held(run.id) == 0, "no session runs the run")
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # as the killed process left it
    assert run.id not in sync_tables_janitor(abandoned_after=HOUR)  # recent: kept
    assert run_tables(run.id)

    assert "abandoned" in sync_tables_janitor(abandoned_after=timedelta(0))[run.id]
    assert run_tables(run.id) == []
    again = shop_full_sync(shop_id=shop.id, source=FileSource(paths))
    assert again.id != run.id and again.status == SyncRun.Status.SUCCEEDED
    assert Customer.all_shops.filter(shop=shop).count() == 20
    assert run_tables(again.id) == []


def test_the_tables_of_a_killed_sync_of_an_erased_shop_go_at_the_janitors_next_pass(shop, tmp_path):
    gate = str(tmp_path / "gate")
    source = GatedSource(store(tmp_path, 20).paths, gate=gate, phases=("orders",), at_line=9)
    process = sync_process(shop, source)
    try:
        waiting_at(f"{gate}-orders", process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    run = SyncRun.all_shops.get(shop=shop)
    until(lambda: locks_held(run.id) == 0, "no session runs the run")
    assert run_tables(run.id)
    assert erase(shop.id) == [run.id]
    assert run_tables(run.id)  # erasure does not wait for (or touch) a sync's tables
    assert "erased" in sync_tables_janitor(abandoned_after=HOUR)[run.id]  # however recent
    assert run_tables(run.id) == []


def test_the_janitor_is_scheduled_hourly_and_its_task_keeps_recent_runs(shop, tmp_path, settings):
    from django_q.models import Schedule

    from customers import staging
    from customers.schedules import SYNC_TABLES_JANITOR_SCHEDULE, schedules_ensure
    from customers.tasks import sync_tables_janitor_task

    schedules_ensure()  # idempotent: one schedule
    schedule = Schedule.objects.get(name=SYNC_TABLES_JANITOR_SCHEDULE)
    assert (schedule.func, schedule.schedule_type) == (
        "customers.tasks.sync_tables_janitor_task",
        Schedule.HOURLY,
    )
    failed = SyncRun.all_shops.create(
        shop=shop, kind=SyncRun.Kind.FULL, status=SyncRun.Status.FAILED, checkpoint={"orders": {}}
    )
    staging.stage_tables_create(failed.id)
    settings.FULL_SYNC_ABANDONED_AFTER_HOURS = 24
    sync_tables_janitor_task()
    assert run_tables(failed.id)  # failed just now: kept
    SyncRun.all_shops.filter(pk=failed.pk).update(finished_at=timezone.now() - timedelta(hours=25))
    assert sync_tables_janitor_task() >= 1
    assert run_tables(failed.id) == []
