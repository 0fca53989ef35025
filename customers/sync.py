"""Sync services: request a sync, run a full sync by bulk operation, run an updated_at delta.

A full sync reads two bulk exports, customers (+ addresses) then orders (+ line items), one bulk
query each (Shopify runs one bulk query per shop at a time). On PostgreSQL (customers.staging)
both exports are first loaded into the run's UNLOGGED staging tables, a batch per transaction
with the checkpoint (bulk operation, result URL, lines and rows staged per phase; the orders
export by a second process, customers.loader, while this one loads the customers), and then
applied in one transaction: upserts that never move a row backwards, tombstones for what the
export no longer holds, aggregates. A crash while loading leaves the mirror as it was and the
rerun continues at the checkpoint; a crash while applying rolls back whole and the rerun applies
again. SQLite (the demo) writes batch by batch straight into the mirror (customers.ingest).
"""

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import chain, islice

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.services import SYSTEM, audit_event_record
from customers import partition_build, partitions, staging, sync_tables, writer
from customers.hooks import ORDER_CHANGED, ORDER_PRODUCTS_CHANGED, mirror_changed_notify
from customers.ingest import BulkIngest, IngestStats
from customers.models import Customer, SyncRun
from customers.outbox import mirror_change_record
from customers.sync_events import sync_run_event_record
from tenants.models import Shop

logger = logging.getLogger(__name__)

PHASES = ("customers", "orders")
# Parents (customers or orders) per staged batch: what bench/ingest.py runs with (peak RSS at
# 1M customers in docs/benchmarks.md, far under 500 MB with three batches in flight). At 20k
# customers 5,000 and 20,000 were within the machine's noise (25-42 s wall, 7.3-8.4 CPU-s,
# load 9-14); larger batches mean fewer commits and checkpoint writes per row.
FULL_SYNC_BATCH_SIZE = 20_000
ProgressCallback = Callable[[SyncRun], None]


class SyncAlreadyRunning(Exception):
    """Another worker holds this shop's sync lock."""


def sync_run_request(*, shop: Shop, kind: str = SyncRun.Kind.FULL, actor=None) -> SyncRun:
    """Record a requested sync and queue it (after commit).

    `actor` is a tenants.actors.Actor or an actor label string (None = the system). Refuses
    unknown kinds and shops that are not installed, changing nothing.
    """
    from tenants.actors import SYSTEM_ACTOR
    from tenants.errors import Conflict, DomainError

    if isinstance(actor, str):
        label = actor
        audit_actor = {"actor": label}
    else:
        actor = actor or SYSTEM_ACTOR
        label, audit_actor = actor.label, actor.audit_kwargs()
    if kind not in SyncRun.Kind.values:
        raise DomainError(
            f"unknown sync kind {kind!r}; expected one of {', '.join(SyncRun.Kind.values)}",
            code="invalid_sync_kind",
        )
    if shop.status != Shop.Status.INSTALLED:
        raise Conflict(
            "The shop is uninstalled; reinstall it before syncing.", code="shop_uninstalled"
        )
    with transaction.atomic():
        run = SyncRun.all_shops.create(shop=shop, kind=kind, requested_by=label[:64])
        audit_event_record(
            agency_id=shop.agency_id,
            shop_id=shop.id,
            event="shop.sync_requested",
            target_type="sync_run",
            target_id=run.id,
            data={"kind": kind, "queued": True, "shop_id": shop.id},
            **audit_actor,
        )
        transaction.on_commit(lambda: _enqueue(run))
    return run


def sync_run_skip(*, shop_id: int, sync_run_id: int, reason: str) -> bool:
    """A requested run whose worker found another sync of the shop running: failed with the
    reason, so that it does not stay "queued" for ever (the running sync brings the mirror up
    to date). Only a run still queued changes; whether it did."""
    with transaction.atomic():
        skipped = SyncRun.all_shops.filter(
            shop_id=shop_id, pk=sync_run_id, status=SyncRun.Status.QUEUED
        ).update(status=SyncRun.Status.FAILED, error=reason[:2000], finished_at=timezone.now())
        if skipped:
            run = SyncRun.all_shops.get(shop_id=shop_id, pk=sync_run_id)
            sync_run_event_record(run=run, outcome="skipped")
    return bool(skipped)


# A requested full sync that finds a delta of the shop running waits this long, then tries again.
BUSY_RETRY_SECONDS = 60


def full_sync_running(*, shop_id: int) -> bool:
    """Whether a full (or reconcile) sync of the shop is running: one that a requested full sync
    meeting it can leave the work to, unlike a delta."""
    return (
        SyncRun.all_shops.filter(shop_id=shop_id, status=SyncRun.Status.RUNNING)
        .exclude(kind=SyncRun.Kind.DELTA)
        .exists()
    )


def sync_run_retry_later(*, shop_id: int, sync_run_id: int) -> None:
    """A requested full sync whose worker found a delta of the shop running (a delta does not do
    what a full sync does): it stays queued and its task runs again in BUSY_RETRY_SECONDS."""
    from django_q.models import Schedule

    from tenants.jobs import shop_schedule_name

    Schedule.objects.update_or_create(
        name=shop_schedule_name(shop_id, f"sync-run-{sync_run_id}"),
        defaults={
            "func": "customers.tasks.shop_full_sync_task",
            "args": f"{shop_id}, {sync_run_id}",
            "schedule_type": Schedule.ONCE,
            "repeats": -1,  # deleted once it ran
            "next_run": timezone.now() + timedelta(seconds=BUSY_RETRY_SECONDS),
        },
    )


def _enqueue(run: SyncRun) -> None:
    from django_q.tasks import async_task

    from tenants.jobs import shop_job_group

    task = (
        "customers.tasks.shop_full_sync_task"
        if run.kind != SyncRun.Kind.DELTA
        else "customers.tasks.shop_delta_sync_task"
    )
    async_task(task, run.shop_id, run.id, group=shop_job_group(run.shop_id))


# --- locking ---------------------------------------------------------------------------------


class _ShopSyncLock:
    """A PostgreSQL session advisory lock per shop, so two workers never sync one shop at once."""

    KEY = 0x5C_0000_0000

    def __init__(self, shop_id: int) -> None:
        self.key = self.KEY + shop_id

    def __enter__(self):
        if connection.vendor != "postgresql":
            return self
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
            if not cursor.fetchone()[0]:
                raise SyncAlreadyRunning(f"a sync of shop {self.key - self.KEY} is already running")
        return self

    def __exit__(self, *exc) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])


# --- full sync ---------------------------------------------------------------------------------


def _run_for(shop: Shop, kind: str, sync_run_id: int | None) -> SyncRun:
    """The run to go on with (its lock taken: customers.sync_tables.run_lock): the one asked
    for, the shop's crashed run (resumed), or a new one."""
    if sync_run_id is not None:
        run = SyncRun.all_shops.get(shop=shop, id=sync_run_id)
        sync_tables.run_lock(run.id)
        return run
    unfinished = (
        SyncRun.all_shops.filter(
            shop=shop, kind=kind, status__in=[SyncRun.Status.RUNNING, SyncRun.Status.FAILED]
        )
        .order_by("-created_at", "-id")
        .first()
    )
    latest = SyncRun.all_shops.filter(shop=shop, kind=kind).order_by("-created_at", "-id").first()
    # A crashed run: resume it, unless the janitor is dropping it (abandoned) right now.
    if (
        unfinished is not None
        and unfinished == latest
        and _resumable(unfinished)
        and sync_tables.run_lock(unfinished.id, wait=False)
    ):
        unfinished.refresh_from_db()
        if _resumable(unfinished):
            return unfinished
        sync_tables.run_unlock(unfinished.id)
    if unfinished is not None and connection.vendor == "postgresql":
        staging.stage_tables_drop(unfinished.id)  # superseded: its staged rows are not needed
    run = SyncRun.all_shops.create(shop=shop, kind=kind, requested_by=SYSTEM)
    sync_tables.run_lock(run.id)
    return run


def _resumable(run: SyncRun) -> bool:
    """It got as far as starting an export (an abandoned run's checkpoint holds none)."""
    return run.status != SyncRun.Status.SUCCEEDED and any(p in run.checkpoint for p in PHASES)


def _run_update(run: SyncRun, **fields) -> None:
    for name, value in fields.items():
        setattr(run, name, value)
    SyncRun.all_shops.filter(pk=run.pk).update(**fields)


def shop_full_sync(
    *,
    shop_id: int,
    sync_run_id: int | None = None,
    source=None,
    batch_size: int = FULL_SYNC_BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
    parallel: bool | None = None,
) -> SyncRun:
    """Mirror the whole shop from bulk exports; resumes the shop's crashed full sync if any.

    `source` is what reads Shopify (customers.sources.BulkSource by default, through the client).
    `parallel`: load the orders export in a second process while this one loads the customers
    (PostgreSQL only; None = as settings.FULL_SYNC_SECOND_LOADER says, and only outside a
    transaction, which a second connection could not see into).
    """
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:  # erased (shop/redact); a crashed run it had is dropped here if asked for
        if sync_run_id is not None and connection.vendor == "postgresql":
            sync_tables.orphan_drop(sync_run_id, abandoned_after=timedelta(0))
        raise ShopErasedDuringSync(_erased(f"shop {shop_id}"))
    if source is None:
        from customers.sources import BulkSource

        source = BulkSource(shop)
    with _ShopSyncLock(shop.id):
        try:
            run = _run_for(shop, SyncRun.Kind.FULL, sync_run_id)
        except (SyncRun.DoesNotExist, IntegrityError) as error:  # the shop erased meanwhile
            if not Shop.objects.filter(pk=shop.id).exists():
                raise ShopErasedDuringSync(_erased(shop.domain)) from error
            raise
        try:
            _full_sync_run(shop, run, source, batch_size, on_progress, parallel)
        finally:
            sync_tables.run_unlock(run.id)
    return run


def _full_sync_run(shop, run, source, batch_size, on_progress, parallel) -> None:
    if run.status == SyncRun.Status.SUCCEEDED:
        return
    _run_start(run, started_at=run.started_at or timezone.now(), error="")
    try:
        if connection.vendor == "postgresql":
            if parallel is None:
                parallel = settings.FULL_SYNC_SECOND_LOADER
            parallel = parallel and not connection.in_atomic_block
            _staged_full_sync(shop, run, source, batch_size, on_progress, parallel)
        else:  # SQLite (the demo): batch by batch straight into the mirror
            for phase in PHASES:
                _full_sync_phase(shop, run, phase, source, batch_size, on_progress)
            _finish(shop, run, reason="full_sync")
    except Exception as error:
        if not SyncRun.all_shops.filter(shop_id=shop.id, pk=run.pk).exists():
            # shop/redact erased the shop (this run's row with it) while the run loaded, built
            # or applied: whatever failed first, the outcome is this one, and nothing stays.
            sync_tables.run_tables_drop(run.id)
            if isinstance(error, ShopErasedDuringSync):
                raise
            raise ShopErasedDuringSync(_erased(shop.domain)) from error
        _run_fail(run, error)
        # A rerun builds the partitions again from the staged rows (kept for it).
        sync_tables.run_tables_drop(run.id, built_only=True)
        raise


def _run_start(run: SyncRun, **fields) -> None:
    """Running (a resumed run: again), audited."""
    resumed = run.started_at is not None
    with transaction.atomic():
        _run_update(run, status=SyncRun.Status.RUNNING, **fields)
        sync_run_event_record(run=run, outcome="started", resumed=resumed)


def _run_fail(run: SyncRun, error: Exception) -> None:
    with transaction.atomic():
        _run_update(
            run,
            status=SyncRun.Status.FAILED,
            error=f"{type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now(),
        )
        sync_run_event_record(run=run, outcome="failed")


def _erased(what: str) -> str:
    return (
        f"{what}: the shop's data was erased (shop/redact) while this full sync ran;"
        " nothing was applied"
    )


class ShopErasedDuringSync(Exception):
    """shop/redact erased the shop's rows, this run's record with them, while the run loaded."""


def _run_lock_or_erased(shop: Shop, run: SyncRun) -> None:
    """Lock the run's row for the apply, or refuse when it is gone: applying after a shop/redact
    would bring the erased customers back. Erasure deletes the run's row and waits for this
    lock (and for the first-sync locks taken just before), so one of the two goes first."""
    if not SyncRun.all_shops.select_for_update().filter(shop_id=shop.id, pk=run.pk).exists():
        raise ShopErasedDuringSync(_erased(shop.domain))


def _staged_full_sync(shop, run, source, batch_size, on_progress, parallel) -> None:
    """PostgreSQL: load both exports into the run's staging tables, then apply them at once."""
    timings: dict[str, float] = {}
    builder = _stage_phases(shop, run, source, batch_size, on_progress, timings, parallel=parallel)
    try:
        run.refresh_from_db(
            fields=["checkpoint", "records_read", "progress_done", "progress_total"]
        )
        _run_update(run, phase="applying")
        finishing = _apply_staged(shop, run, timings, builder=builder)
    except BaseException as error:
        if builder is not None:
            builder.abort(error)  # no build left running behind a failed run
        raise
    timings["aggregates_and_commit"] = round(time.perf_counter() - finishing, 3)
    staging.stage_tables_drop(run.id)
    # Where the time went, for operators and bench/ingest.py.
    _run_update(run, checkpoint={**run.checkpoint, "seconds": timings})
    logger.info("full sync %s of shop %s: seconds %s", run.id, shop.id, timings)


def _apply_staged(
    shop, run, timings: dict[str, float], *, partition: bool = True, builder=None
) -> float:
    """The apply: a shop's first sync builds its partitions (customers.partition_build, on
    connections of their own, or `builder`, started while the orders loaded), then one
    transaction swaps them in or upserts the staged rows, tombstones, aggregates. Returns when
    the final step started (its time includes the commit). `partition=False` upserts even on a
    first sync (bench/sync_apply.py's comparison only)."""
    now = timezone.now()
    built = None
    if builder is None and partition and partitions.shop_partitions_needed(shop_id=shop.id):
        builder = partition_build.shop_partitions_build(shop_id=shop.id, run_id=run.id, now=now)
    if builder is not None:
        with _timed(timings, "build"):
            built = builder.wait()
        timings["build_steps"] = built.seconds
    with transaction.atomic():
        staging.apply_settings()
        # Swapped in under the first-sync locks (customers.partitions); a shop that has its
        # partitions already upserts through the parent tables.
        bare = built is not None and partitions.shop_partitions_start(
            shop_id=shop.id, built=built.tables
        )
        _run_lock_or_erased(shop, run)
        if bare:
            # Only the export built the partitions: its orders are linked and its customers'
            # aggregates computed (customers.partition_build), a second pass would change none.
            refresh = not partition_build.built_from_export_alone(shop_id=shop.id, run_id=run.id)
            with _timed(timings, "merge_and_attach"):
                customers = partition_build.customers_merge(
                    shop_id=shop.id, run_id=run.id, created=built.rows["customers"]
                )
                orders = partition_build.orders_merge(
                    shop_id=shop.id, run_id=run.id, created=built.rows["orders"]
                )
                partitions.shop_partitions_attach(shop_id=shop.id)
        else:
            with _timed(timings, "apply_customers"):
                customers = staging.customers_apply(shop_id=shop.id, run_id=run.id, now=now)
            with _timed(timings, "apply_orders"):
                orders = staging.orders_apply(shop_id=shop.id, run_id=run.id)
        staging.late_children_apply_staged(shop_id=shop.id, run_id=run.id)
        snapshot = {p: datetime.fromisoformat(run.checkpoint[p]["started_at"]) for p in PHASES}
        with _timed(timings, "tombstones"):
            deleted = writer.customers_mark_missing_deleted(
                shop_id=shop.id,
                sync_run_id=run.id,
                snapshot_at=snapshot["customers"],
                deleted_at=now,
            )
            writer.orders_mark_missing_deleted(
                shop_id=shop.id, sync_run_id=run.id, snapshot_at=snapshot["orders"], deleted_at=now
            )
        _run_update(
            run,
            records_created=customers.created + orders.created,
            records_updated=customers.updated + orders.updated,
            records_deleted=deleted,
        )
        finishing = time.perf_counter()
        _finish(shop, run, reason="full_sync", aggregates=not bare or refresh)
    return finishing


@contextmanager
def _timed(timings: dict[str, float], name: str):
    started = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - started, 3)


@contextmanager
def _cpu_timed(timings: dict[str, float], name: str):
    started = time.process_time()
    yield
    timings[name] = round(time.process_time() - started, 3)


def _phase_loaded(run, phase) -> bool:
    state = run.checkpoint.get(phase) or {}
    if not state.get("loaded"):
        return False
    return staging.staged_rows(run.id, phase, lines=_head_lines(state)) == state.get("rows")


# The orders export may be loaded by two loaders (`_orders_tail`): the orders phase's loader
# up to `split_at` (a parent line), this process from there on, under its own checkpoint key.
TAIL = "orders_tail"
TAIL_LOCK = 0x5F_0000_0000  # + run id (0x5C-0x5E: shop, phase and run locks)
SPLIT_MIN_LINES = 50_000  # less left than this: not worth a second loader's start
# Nor when the orders' loader would finish sooner than this at its pace so far: the second half
# costs a pass over the first (to reach it), waiting for the loader's answer, a second ANALYZE,
# and CPU next to the build steps that start with the customers (at 100k a split made the load
# 18.9 s where both loaders had ended at ~13 s).
SPLIT_MIN_SECONDS = 10.0


def _head_lines(state: dict) -> tuple[None, int] | None:
    split_at = state.get("split_at")
    return (None, split_at) if split_at else None


def _stage_phases(shop, run, source, batch_size, on_progress, timings, *, parallel):
    """Load both exports into the staging tables: one after the other, or (`parallel`, both
    still to load) the orders in a child process (customers.loader) while this process loads
    the customers. Each loader checkpoints its own phase, so a crash of either leaves the run
    resumable where each stopped. On a shop's first sync the partition build starts as soon as
    the customers are loaded (its steps that read the staged orders wait for them): returned,
    started, or None."""
    if not parallel or any(_phase_loaded(run, phase) for phase in PHASES):
        for phase in PHASES:
            with _timed(timings, f"load_{phase}"), _cpu_timed(timings, f"cpu_load_{phase}"):
                _stage_phase(shop, run, phase, source, batch_size, on_progress)
        with _timed(timings, "load_orders_tail"), _cpu_timed(timings, "cpu_load_orders_tail"):
            _orders_tail(shop, run, source, batch_size, on_progress)  # one agreed before a crash
        return None
    loader = _loader_start()  # boots Django while the operations start
    builder, orders_loaded = None, threading.Event()
    with _timed(timings, "load"), tempfile.TemporaryDirectory(prefix="sync-loader-") as tmp:
        try:
            _operations_start(run, source)
            _run_update(run, phase="loading")
            staging.stage_tables_create(run.id)  # here, not by both loaders (catalog race)
            loader.send(
                _loader_job(shop, run, "orders", source, batch_size),
                report_path=f"{tmp}/report.json",
            )
            with _timed(timings, "load_customers"), _cpu_timed(timings, "cpu_load_customers"):
                _stage_phase(shop, run, "customers", source, batch_size, on_progress, name=False)
            if partitions.shop_partitions_needed(shop_id=shop.id):
                builder = partition_build.shop_partitions_build(
                    shop_id=shop.id, run_id=run.id, now=timezone.now(), orders_loaded=orders_loaded
                )
            # The rest of the orders export shared with the loader still loading it.
            with _timed(timings, "load_orders_tail"), _cpu_timed(timings, "cpu_load_orders_tail"):
                _orders_tail(
                    shop, run, source, batch_size, on_progress,
                    loader=loader, elapsed=timings["load_customers"],
                )  # fmt: skip
            while loader.running():  # progress while the orders still load
                time.sleep(0.25)
                if on_progress is not None:
                    run.refresh_from_db(fields=["checkpoint", "records_read", "progress_done"])
                    on_progress(run)
            outcome = loader.result()
            if not outcome["ok"]:
                raise PhaseLoadFailed(
                    f"the orders loader failed (exit {outcome['exit']}): {outcome['error']}"
                )
        except BaseException as error:
            loader.stop()  # never a second loader writing behind a failed run's back
            if builder is not None:
                builder.abort(error)
            raise
    orders_loaded.set()
    timings["load_orders"] = round(outcome["seconds"], 3)
    timings["cpu_load_orders"] = round(outcome["cpu"], 3)
    run.refresh_from_db(fields=["checkpoint", "records_read", "progress_done", "progress_total"])
    if on_progress is not None:
        on_progress(run)
    return builder


class PhaseLoadFailed(Exception):
    """The child process loading one export failed (its error, as text)."""


def _operations_start(run, source) -> None:
    """Start both exports before loading either. Shopify runs one bulk query per shop at a time
    before API 2026-01 (five after): when the orders export is refused for that, it is started
    as soon as the customers export has finished, and runs while the customers load."""
    _phase_start(run, "customers", source)
    try:
        _phase_start(run, "orders", source)
    except Exception as error:
        if "OPERATION_IN_PROGRESS" not in (getattr(error, "codes", None) or ()):
            raise
        _phase_wait(run, "customers", source)
        _phase_start(run, "orders", source)


def _phase_start(run, phase, source) -> dict:
    state = dict(run.checkpoint.get(phase) or {})
    if not state.get("operation_id"):
        operation = source.start(phase)
        state.update(operation_id=operation["id"], started_at=timezone.now().isoformat())
        _checkpoint(run, phase, state)
    return state


def _phase_wait(run, phase, source) -> dict:
    state = _phase_start(run, phase, source)
    if "url" not in state:
        operation = source.wait(state["operation_id"])
        state.update(url=operation.get("url"), objects=int(operation.get("objectCount") or 0))
        _checkpoint(run, phase, state)
        _run_update(run, progress_total=_total_objects(run))
    return state


def _loader_start():
    """The child process that will load one phase (customers.loader), booting."""
    from django.conf import settings

    from customers.loader import LoaderProcess

    # Not settings.SETTINGS_MODULE: None while settings are overridden (tests).
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or "config.settings"
    return LoaderProcess(settings_module=module, cwd=str(settings.BASE_DIR))


def _loader_job(shop, run, phase, source, batch_size) -> dict:
    import pickle

    return {
        "database_name": connection.settings_dict["NAME"],
        "shop_id": shop.id,
        "run_id": run.id,
        "phase": phase,
        "source": pickle.dumps(source),
        "batch_size": batch_size,
    }


def _stage_phase(shop, run, phase, source, batch_size, on_progress, *, name=True) -> None:
    if _phase_loaded(run, phase):
        return
    with _PhaseLock(run.id, phase):
        if name:
            _run_update(run, phase=phase)
        state = _phase_wait(run, phase, source)
        head = _head_lines(state)
        staged = staging.staged_rows(run.id, phase, lines=head)
        if staged != state.get("rows", 0) or not state.get("rows"):
            # First load, or the staged rows were lost (a server crash empties UNLOGGED tables).
            if head is None:
                staging.stage_phase_reset(run.id, phase)
            else:  # the rows after `split_at` are the other loader's
                staging.stage_lines_reset(run.id, phase, lines=head)
            state.update(lines_done=0, rows=0, read=0, loaded=False)
            _checkpoint(run, phase, state)
        _stage_phase_load(shop, run, phase, source, batch_size, on_progress, state)


def _stage_phase_load(
    shop, run, phase, source, batch_size, on_progress, state, *, key=None, lines=None
) -> None:
    """Load `phase`'s export from `state["lines_done"]` on (or `lines`, an iterator already
    there), checkpointing under `key` (the phase; TAIL for the second half of the orders)."""
    key = key or phase

    def on_flush(lines_done: int, parents: int, rows: int) -> None:
        state.update(lines_done=lines_done, rows=state["rows"] + rows, read=state["read"] + parents)
        _checkpoint(run, key, state)  # the other loader's phase as it is now, too
        if key == "orders" and _split_answer(run, state, load, lines_done):
            _checkpoint(run, key, state)
        _run_update(run, records_read=_records_read(run), progress_done=_lines_done(run))
        if on_progress is not None:
            on_progress(run)

    if state["url"]:
        load = staging.StagedLoad(
            run_id=run.id,
            phase=phase,
            shop_country=shop.country_code,
            batch_size=batch_size,
            on_flush=on_flush,
        )
        load.stop_at = state.get("split_at")
        if lines is None:
            load.consume(source.lines(state["url"]), skip=state["lines_done"])
        else:
            load.consume(lines, first_line=state["lines_done"] + 1)
    staging.stage_phase_analyze(run.id, phase)
    state["loaded"] = True
    _checkpoint(run, key, state)


def _split_answer(run, state: dict, load, lines_done: int) -> bool:
    """The orders' loader, after each batch: take up a request to leave the export from line
    `start` on to the other loader (`_orders_split`), or refuse it when already past it."""
    start = (run.checkpoint.get(TAIL) or {}).get("start")
    if not start or state.get("split_at") or state.get("split_refused") == start:
        return False
    if start > lines_done:  # no line from `start` on is loaded yet
        state["split_at"] = load.stop_at = start
    else:
        state["split_refused"] = start
    return True


def _orders_tail(
    shop, run, source, batch_size, on_progress, *, loader=None, elapsed: float = 0.0
) -> None:
    """Load the end of the orders export here: the part agreed with the orders' loader before
    (a resumed run), or, while `loader` still loads them, the second half of what it has left
    (at the first order from there: line items follow their order), when it would otherwise
    still load for SPLIT_MIN_SECONDS at its pace over the `elapsed` seconds both loaded."""
    run.refresh_from_db(fields=["checkpoint"])
    head = run.checkpoint.get("orders") or {}
    start, lines = head.get("split_at"), None
    if not start and loader is not None:
        start, lines = _orders_split(run, source, head, loader, elapsed)
    if not start:
        return
    with _PhaseLock(run.id, TAIL):
        run.refresh_from_db(fields=["checkpoint"])
        state = dict(run.checkpoint.get(TAIL) or {})
        state.update(url=head["url"], start=start)
        mine = (start, None)
        if state.get("loaded") and staging.staged_rows(run.id, "orders", lines=mine) == state.get(
            "rows"
        ):
            return
        if staging.staged_rows(run.id, "orders", lines=mine) != state.get("rows", 0):
            staging.stage_lines_reset(run.id, "orders", lines=mine)  # lost: load again
            state.update(lines_done=start - 1, rows=0, read=0)
        state["loaded"] = False
        if state["lines_done"] != start - 1:
            lines = None  # resumed further on: read from the export again
        _checkpoint(run, TAIL, state)
        _stage_phase_load(
            shop, run, "orders", source, batch_size, on_progress, state, key=TAIL, lines=lines
        )


def _orders_split(
    run, source, head: dict, loader, elapsed: float
) -> tuple[int | None, Iterable | None]:
    """Ask the orders' loader to stop at the first order past the middle of what it has left;
    (that line, the export read up to it) when it agreed, (None, None) otherwise."""
    total, done = int(head.get("objects") or 0), int(head.get("lines_done") or 0)
    if not head.get("url") or head.get("loaded") or total - done < SPLIT_MIN_LINES:
        return None, None
    if done and elapsed * (total - done) / done < SPLIT_MIN_SECONDS:  # it ends soon anyway
        return None, None
    middle = done + (total - done) // 2
    lines = iter(source.lines(head["url"]))
    start = None
    for index, raw in enumerate(islice(lines, middle - 1, None), start=middle):
        try:
            node = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if not raw or raw.isspace():
                continue
            return None, None  # the orders' loader reports it
        if type(node) is dict and node.get("__parentId") is None:
            start, first = index, raw
            break
    if start is None:
        return None, None
    _checkpoint(run, TAIL, {"start": start, "lines_done": start - 1, "rows": 0, "read": 0})
    while loader.running():
        time.sleep(0.05)
        run.refresh_from_db(fields=["checkpoint"])
        answered = run.checkpoint.get("orders") or {}
        if answered.get("split_at") == start:
            return start, chain([first], lines)
        if answered.get("split_refused") == start or answered.get("loaded"):
            break
    return None, None


def _full_sync_phase(shop, run, phase, source, batch_size, on_progress) -> None:
    state = dict(run.checkpoint.get(phase) or {})
    if state.get("done"):
        return
    _run_update(run, phase=phase)
    if not state.get("operation_id"):
        operation = source.start(phase)
        state.update(
            operation_id=operation["id"], started_at=timezone.now().isoformat(), lines_done=0
        )
        _checkpoint(run, phase, state)
    if "url" not in state:
        operation = source.wait(state["operation_id"])
        state.update(url=operation.get("url"), objects=int(operation.get("objectCount") or 0))
        _checkpoint(run, phase, state)
        _run_update(run, progress_total=_total_objects(run))
    snapshot_at = datetime.fromisoformat(state["started_at"])

    def on_flush(lines_done: int, batch: IngestStats) -> None:
        state["lines_done"] = lines_done
        run.checkpoint = {**run.checkpoint, phase: dict(state)}
        _run_update(
            run,
            checkpoint=run.checkpoint,
            records_read=run.records_read + batch.read,
            records_created=run.records_created + batch.created,
            records_updated=run.records_updated + batch.updated,
            progress_done=_lines_done(run),
        )
        if on_progress is not None:
            on_progress(run)

    if state["url"]:
        ingest = BulkIngest(
            shop_id=shop.id,
            sync_run_id=run.id,
            shop_country=shop.country_code,
            batch_size=batch_size,
            on_flush=on_flush,
        )
        ingest.consume(source.lines(state["url"]), skip=state.get("lines_done", 0))
    with transaction.atomic():
        now = timezone.now()
        mark = (
            writer.customers_mark_missing_deleted
            if phase == "customers"
            else writer.orders_mark_missing_deleted
        )
        deleted = mark(shop_id=shop.id, sync_run_id=run.id, snapshot_at=snapshot_at, deleted_at=now)
        state["done"] = True
        run.checkpoint = {**run.checkpoint, phase: state}
        fields = {"checkpoint": run.checkpoint}
        if phase == "customers":
            fields["records_deleted"] = run.records_deleted + deleted
        _run_update(run, **fields)


def _checkpoint(run: SyncRun, phase: str, state: dict) -> None:
    """Record `phase`'s state in the run's checkpoint. On PostgreSQL only that key is replaced,
    in the database: two loaders (one per phase, two processes) never overwrite each other's
    state, and `run.checkpoint` comes back with the other phase's latest state."""
    if connection.vendor != "postgresql":
        run.checkpoint = {**run.checkpoint, phase: dict(state)}
        _run_update(run, checkpoint=run.checkpoint)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SyncRun._meta.db_table} SET checkpoint ="  # noqa: S608 -- our table name
            " COALESCE(checkpoint, '{}'::jsonb) || jsonb_build_object(%s::text, %s::jsonb)"
            " WHERE id = %s RETURNING checkpoint::text",
            [phase, json.dumps(state), run.id],
        )
        row = cursor.fetchone()
    if row is None:  # the run's row went with its shop (shop/redact)
        raise ShopErasedDuringSync(_erased(f"full sync {run.id}"))
    run.checkpoint = json.loads(row[0])


class _PhaseLock:
    """A session advisory lock per (run, phase): one loader per phase, even when a parent died
    and left its child loading (a rerun then fails fast instead of loading the phase twice)."""

    KEY = 0x5D_0000_0000

    def __init__(self, run_id: int, phase: str) -> None:
        if phase == TAIL:
            self.key = TAIL_LOCK + run_id  # loaded by the process holding the run's lock
        else:
            self.key = self.KEY + 2 * run_id + PHASES.index(phase)

    def __enter__(self):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                if not cursor.fetchone()[0]:
                    raise SyncAlreadyRunning("another process is loading this phase of the sync")
        return self

    def __exit__(self, *exc) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])


def _total_objects(run: SyncRun) -> int:
    return sum(int((run.checkpoint.get(p) or {}).get("objects") or 0) for p in PHASES)


def _lines_done(run: SyncRun) -> int:
    done = sum(int((run.checkpoint.get(p) or {}).get("lines_done") or 0) for p in PHASES)
    tail = run.checkpoint.get(TAIL) or {}
    if (run.checkpoint.get("orders") or {}).get("split_at") == tail.get("start"):
        done += max(0, int(tail.get("lines_done") or 0) - int(tail.get("start") or 1) + 1)
    return done


def _records_read(run: SyncRun) -> int:
    return sum(int((run.checkpoint.get(p) or {}).get("read") or 0) for p in (*PHASES, TAIL))


def _finish(shop: Shop, run: SyncRun, *, reason: str, aggregates: bool = True) -> None:
    """`aggregates=False`: the mirror's order links and customer aggregates are known to be
    what the refresh would compute (a first sync built from the export alone)."""
    with transaction.atomic():
        if aggregates:
            writer.orders_link_customers(shop_id=shop.id)
            writer.customer_aggregates_refresh(shop_id=shop.id)
        high_water = (
            Customer.all_shops.filter(shop=shop, updated_at_shopify__isnull=False)
            .order_by("-updated_at_shopify")
            .values_list("updated_at_shopify", flat=True)
            .first()
        )
        _run_update(
            run,
            status=SyncRun.Status.SUCCEEDED,
            phase="done",
            finished_at=timezone.now(),
            high_water_mark=high_water or run.high_water_mark,
            progress_done=max(run.progress_done, run.progress_total),
        )
        sync_run_event_record(run=run, outcome="succeeded")
        transaction.on_commit(
            lambda: mirror_changed_notify(shop_id=shop.id, customer_ids=None, reason=reason)
        )


# --- delta -------------------------------------------------------------------------------------


DELTA_NOTIFY_MAX_IDS = 10_000


def last_high_water_mark(*, shop_id: int) -> datetime | None:
    return (
        SyncRun.all_shops.filter(
            shop_id=shop_id, status=SyncRun.Status.SUCCEEDED, high_water_mark__isnull=False
        )
        .order_by("-high_water_mark")
        .values_list("high_water_mark", flat=True)
        .first()
    )


def shop_delta_sync(
    *, shop_id: int, sync_run_id: int | None = None, source=None, batch_size: int = 250
) -> SyncRun:
    """Re-read customers updated after the last high-water mark (sorted by UPDATED_AT).

    With no earlier successful sync there is nothing to be incremental from: run a full sync.
    """
    shop = Shop.objects.get(pk=shop_id)
    since = last_high_water_mark(shop_id=shop.id)
    if since is None:
        return shop_full_sync(shop_id=shop.id, sync_run_id=sync_run_id, source=source)
    if source is None:
        from customers.sources import BulkSource

        source = BulkSource(shop)
    with _ShopSyncLock(shop.id):
        run = (
            SyncRun.all_shops.get(shop=shop, id=sync_run_id)
            if sync_run_id
            else SyncRun.all_shops.create(shop=shop, kind=SyncRun.Kind.DELTA, requested_by=SYSTEM)
        )
        _run_start(
            run,
            started_at=timezone.now(),
            phase="customers",
            checkpoint={"since": since.isoformat()},
        )
        try:
            from customers.incremental import customers_apply_graphql

            touched: list[int] = []
            stats = IngestStats()
            for page in _pages(source.customers_updated_since(since), batch_size):
                with transaction.atomic():
                    result = customers_apply_graphql(shop=shop, nodes=page)
                touched.extend(result.applied.values())
                stats.read += len(page)
                stats.created += result.created
                stats.updated += result.updated
                _run_update(
                    run,
                    records_read=stats.read,
                    records_created=stats.created,
                    records_updated=stats.updated,
                    progress_done=stats.read,
                )
            # Then the orders changed since the same mark (read after the customers, so the
            # mark taken from the customers below never skips one of them).
            if hasattr(source, "orders_updated_since"):
                from customers.incremental import orders_delta_apply

                _run_update(run, phase="orders")
                orders_read, owners = orders_delta_apply(
                    shop=shop, nodes=source.orders_updated_since(since)
                )
                stats.read += orders_read
                owners_changed = sorted(owners.changed - set(touched))
                products_changed = bool(owners.products - set(touched))
                _run_update(run, records_read=stats.read, progress_done=stats.read)
            else:
                owners_changed, products_changed = [], False
            high_water = max(
                [
                    since,
                    *Customer.all_shops.filter(shop=shop, id__in=touched)
                    .exclude(updated_at_shopify=None)
                    .values_list("updated_at_shopify", flat=True),
                ]
            )
            notified = [*touched, *owners_changed]
            with transaction.atomic():
                # The hooks hear of the delta through the outbox, in the transaction that
                # records its success: a worker dying after that commit loses no notification.
                if len(notified) > DELTA_NOTIFY_MAX_IDS:
                    # A long list is no cheaper for consumers than "anything may have changed".
                    mirror_change_record(
                        shop_id=shop.id, customer_ids=[None], changed=None, reason="delta"
                    )
                elif notified:
                    # Customers re-read: any field; owners of changed orders: their orders (and
                    # the products of their live orders, when those changed).
                    if touched:
                        mirror_change_record(
                            shop_id=shop.id, customer_ids=touched, changed=None, reason="delta"
                        )
                    if owners_changed:
                        mirror_change_record(
                            shop_id=shop.id,
                            customer_ids=owners_changed,
                            changed=ORDER_CHANGED
                            | ({ORDER_PRODUCTS_CHANGED} if products_changed else set()),
                            reason="delta",
                        )
                _run_update(
                    run,
                    status=SyncRun.Status.SUCCEEDED,
                    phase="done",
                    finished_at=timezone.now(),
                    high_water_mark=high_water,
                )
                sync_run_event_record(run=run, outcome="succeeded")
        except Exception as error:
            _run_fail(run, error)
            raise
    return run


def _pages(nodes: Iterable[dict], size: int) -> Iterable[list[dict]]:
    page: list[dict] = []
    for node in nodes:
        page.append(node)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page
