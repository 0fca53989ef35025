"""What a full sync leaves on disk (PostgreSQL), who may drop it, and the janitor that does.

A full sync's tables are named after its run, `_sync<run id>_<what>` (customers.staging): the
staged rows of both exports (UNLOGGED, with their indexes), kept while the run can resume, and
the tables built for a shop's first partitions (customers.partition_build), renamed to the
partitions when the apply commits. They go:
- when the run succeeds, or is superseded by a newer run of its shop (customers.sync);
- when the run fails: the built tables at once (a rerun builds again from the staged rows);
  the staged rows stay for the resume;
- when the shop is erased (shop/redact) while the run loads, builds, applies or waits to be
  resumed: all of them, as the run fails with ShopErasedDuringSync;
- otherwise (the process was killed, or a failed run is never retried): by the janitor,
  `sync_tables_janitor`, every hour (customers.schedules). It drops the tables of every run
  that is not alive and whose row is gone (its shop erased), or that succeeded, or that
  has been unfinished for longer than settings.FULL_SYNC_ABANDONED_AFTER_HOURS; such an
  unfinished run is marked abandoned, so the shop's next full sync starts afresh.

Alive: a process holds the run's lock (`run_lock`, held by the sync from its start to its
end) or one of its phase locks (customers.sync._PhaseLock: a second loader whose parent was
killed goes on loading). The janitor takes those locks itself while it drops, so a sync
that would resume the run waits for it, then finds the run abandoned and starts a new one.
"""

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

# Session advisory lock key (+ run id): held by the process running a full sync's run.
RUN_LOCK = 0x5E_0000_0000
# The phase locks of customers.sync._PhaseLock: key + 2 * run id + phase index.
PHASE_LOCK = 0x5D_0000_0000
_TABLES = r"^_sync([0-9]+)_"


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def run_lock(run_id: int, *, wait: bool = True) -> bool:
    """Take the run's lock for this session (`wait=False`: only if free)."""
    if not _postgresql():
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [RUN_LOCK + int(run_id)])
            return True
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK + int(run_id)])
        return cursor.fetchone()[0]


def run_unlock(run_id: int) -> None:
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK + int(run_id)])


def run_tables(run_id: int, *, built_only: bool = False) -> list[str]:
    """The tables named after the run (its staged rows and built tables, or those built)."""
    if not _postgresql():
        return []
    prefix = f"_sync{int(run_id)}_" + ("built_" if built_only else "")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND pg_table_is_visible(oid)"
            " AND starts_with(relname, %s) ORDER BY relname",
            [prefix],
        )
        return [name for (name,) in cursor.fetchall()]


def run_tables_drop(run_id: int, *, built_only: bool = False) -> list[str]:
    """Drop the run's tables (their indexes go with them); returns their names."""
    names = run_tables(run_id, built_only=built_only)
    if names:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {', '.join(names)}")  # catalog names
    return names


def runs_with_tables() -> list[int]:
    """Ids of the runs that have tables on disk."""
    if not _postgresql():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT substring(relname from %s)::bigint FROM pg_class"
            " WHERE relkind = 'r' AND pg_table_is_visible(oid) AND relname ~ %s ORDER BY 1",
            [_TABLES, _TABLES],
        )
        return [run_id for (run_id,) in cursor.fetchall()]


class _Hold:
    """Try the run's lock and its phase locks; `held` when all were free (then kept until the
    block ends): no process runs the run."""

    def __init__(self, run_id: int) -> None:
        self.keys = [RUN_LOCK + run_id, PHASE_LOCK + 2 * run_id, PHASE_LOCK + 2 * run_id + 1]
        self.taken: list[int] = []

    def __enter__(self) -> bool:
        with connection.cursor() as cursor:
            for key in self.keys:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                if not cursor.fetchone()[0]:
                    return False
                self.taken.append(key)
        return True

    def __exit__(self, *exc) -> None:
        with connection.cursor() as cursor:
            for key in self.taken:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def orphan_drop(run_id: int, *, abandoned_after: timedelta) -> str | None:
    """Drop the run's tables when nothing runs it and it is gone, succeeded, or unfinished
    for longer than `abandoned_after` (marked abandoned); why, or None when they stay."""
    from customers.models import SyncRun
    from customers.sync_events import sync_run_event_record

    with _Hold(run_id) as held:
        if not held:
            return None  # alive
        run = SyncRun.all_shops.filter(pk=run_id).first()
        now = timezone.now()
        if run is None:
            reason = "its run is gone (the shop was erased)"
        elif run.status == SyncRun.Status.SUCCEEDED:
            reason = "its run succeeded"
        elif (run.finished_at or run.started_at or run.created_at) <= now - abandoned_after:
            reason = f"its run was left {run.status} (abandoned after {abandoned_after})"
        else:
            return None
        with transaction.atomic():
            dropped = run_tables_drop(run_id)
            if run is not None and run.status != SyncRun.Status.SUCCEEDED:
                SyncRun.all_shops.filter(shop_id=run.shop_id, pk=run.pk).update(
                    status=SyncRun.Status.FAILED,
                    finished_at=run.finished_at or now,
                    checkpoint={"abandoned_at": now.isoformat()},
                    error=(
                        f"abandoned: nothing ran it for {abandoned_after}; its staged rows were"
                        f" dropped, the next full sync starts afresh. {run.error}"
                    )[:2000],
                )
                sync_run_event_record(
                    run=run,
                    outcome="abandoned",
                    left_as=run.status,
                    abandoned_after_hours=abandoned_after.total_seconds() / 3600,
                    tables_dropped=len(dropped),
                )
    logger.info("full sync %s: dropped %s: %s", run_id, ", ".join(dropped) or "nothing", reason)
    return reason


def sync_tables_janitor(*, abandoned_after: timedelta) -> dict[int, str]:
    """Drop the tables of every run that is not alive and is gone, succeeded, or abandoned
    (see the module); {run id: why} of those dropped."""
    dropped = {}
    for run_id in runs_with_tables():
        reason = orphan_drop(run_id, abandoned_after=abandoned_after)
        if reason is not None:
            dropped[run_id] = reason
    return dropped
