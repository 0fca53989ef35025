"""Coalesced `mirror_changed` notifications: an outbox drained by one task per shop.

Each webhook delivery used to call the hooks itself, and each hook queued its own task: two
task enqueues (django-q2 ORM broker inserts) per delivery, and a burst of 1,000 deliveries queued
2,000 refreshes of the same shop. Now a delivery writes `MirrorChange` rows (customer, changed
fields) in its own transaction and makes sure ONE drain task is queued for the shop; the drain
reads and deletes the rows and calls the hooks once with every customer id and the union of the
changed fields. While a drain waits in the queue, later deliveries join it (no new task).

Correctness (PostgreSQL, READ COMMITTED):
- The delivery upserts its shop's `MirrorChangeDrain` row last (`ON CONFLICT DO UPDATE` locks
  it until the delivery commits). The drain deletes that row first, so it waits for every
  delivery that saw it and then, in a new statement snapshot, sees their outbox rows too.
- A delivery that finds no row inserts one and queues a drain after commit; one that blocks on a
  drain's delete inserts a fresh row once the drain commits, and queues the next drain.
- The drain calls the hooks inside its own transaction, before the commit that makes the
  removal of the outbox rows permanent (customers.hooks.mirror_changed_deliver). With django-q2's
  ORM broker the hooks' task INSERTs belong to that transaction: the rows are consumed exactly
  when the hooks' work is queued. A worker dying anywhere before that commit rolls everything
  back (rows and drain row kept); after it, nothing is left to do. With a broker outside the
  database (Redis) a crash between the enqueues and the commit means the hooks hear the batch
  again from the retry: at least once, never zero times. A hook that raises aborts the drain
  the same way (retried, never dropped).
- A drain lost or rolled back with its worker leaves the drain row behind: the minutely sweep
  (`mirror_changes_sweep`, customers.schedules) re-queues a drain for every shop whose outbox
  holds rows older than `REQUEUE_AFTER` and whose drain was queued before that; the next change
  re-queues such a drain too, and the scheduled delta task drains its shop. A drain that finds
  nothing does nothing.
"""

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from customers.hooks import mirror_changed_deliver

logger = logging.getLogger(__name__)

DRAIN_TASK = "customers.tasks.mirror_changes_drain_task"
REQUEUE_AFTER = timedelta(minutes=2)
# Above this many customers the hooks hear "anything may have changed" (customer_ids=None).
MAX_NOTIFIED_IDS = 10_000


def mirror_change_record(
    *, shop_id: int, customer_ids: Sequence[int], changed: Iterable[str] | None, reason: str
) -> None:
    """Record a change of these customers in the caller's transaction; queue the shop's drain."""
    if not customer_ids:
        return
    now = timezone.now()
    names = json.dumps(sorted(changed)) if changed is not None else None
    rows = [(shop_id, customer_id, names, now) for customer_id in dict.fromkeys(customer_ids)]
    if _outbox_write(shop_id=shop_id, rows=rows, now=now):
        transaction.on_commit(lambda: _drain_enqueue(shop_id, reason))


_CLAIM_DRAIN = (
    "INSERT INTO customers_mirrorchangedrain (shop_id, enqueued_at) VALUES (%s, %s)"
    " ON CONFLICT (shop_id) DO UPDATE SET enqueued_at = CASE"
    " WHEN customers_mirrorchangedrain.enqueued_at < %s THEN EXCLUDED.enqueued_at"
    " ELSE customers_mirrorchangedrain.enqueued_at END"
    " RETURNING enqueued_at"
)


def _outbox_write(*, shop_id: int, rows: list[tuple], now) -> bool:
    """Insert the outbox rows, then upsert the shop's drain row (last: it holds the row lock
    until commit); True when this transaction must queue the drain."""
    adapt = connection.ops.adapt_datetimefield_value
    claim = [shop_id, adapt(now), adapt(now - REQUEUE_AFTER)]
    insert = (
        "INSERT INTO customers_mirrorchange (shop_id, customer_id, changed, created_at) VALUES "
    )
    values = [value for row in rows for value in (*row[:3], adapt(row[3]))]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one round trip: both in one statement
            marks = ", ".join(["(%s, %s, %s::jsonb, %s)"] * len(rows))
            cursor.execute(f"WITH change AS ({insert}{marks}) {_CLAIM_DRAIN}", [*values, *claim])
        else:
            cursor.execute(insert + ", ".join(["(%s, %s, %s, %s)"] * len(rows)), values)
            cursor.execute(_CLAIM_DRAIN, claim)
        (enqueued_at,) = cursor.fetchone()
    if isinstance(enqueued_at, str):
        return enqueued_at == adapt(now)
    if timezone.is_naive(enqueued_at):  # SQLite answers naive UTC
        enqueued_at = enqueued_at.replace(tzinfo=UTC)
    return enqueued_at == now


def _drain_enqueue(shop_id: int, reason: str) -> None:
    from django_q.tasks import async_task

    async_task(DRAIN_TASK, shop_id, reason, group="mirror-changes")


def _names(value) -> list[str] | None:
    return json.loads(value) if isinstance(value, str) else value  # SQLite answers JSON text


def mirror_changes_drain(*, shop_id: int, reason: str = "webhook") -> int:
    """Hand the shop's recorded changes to the hooks in one call; returns the rows drained."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # First: waits for deliveries holding the row, so their changes are visible below.
            cursor.execute("DELETE FROM customers_mirrorchangedrain WHERE shop_id = %s", [shop_id])
            # Then take exactly the rows this drain removes (a concurrent drain gets the rest).
            cursor.execute(
                "DELETE FROM customers_mirrorchange WHERE shop_id = %s RETURNING customer_id, changed",
                [shop_id],
            )
            rows = [(customer_id, _names(changed)) for customer_id, changed in cursor.fetchall()]
        if not rows:
            return 0
        customer_ids: set[int] | None = set()
        changed: set[str] | None = set()
        for customer_id, names in rows:
            if customer_id is None or customer_ids is None:
                customer_ids = None
            else:
                customer_ids.add(customer_id)
            changed = None if names is None or changed is None else changed | set(names)
        if customer_ids is not None and len(customer_ids) > MAX_NOTIFIED_IDS:
            customer_ids = None
        # Before the commit: the rows stay unless the hooks' work is queued with their removal.
        mirror_changed_deliver(
            shop_id=shop_id,
            customer_ids=sorted(customer_ids) if customer_ids is not None else None,
            reason=reason,
            changed=changed,
        )
    logger.info("shop %s: %s mirror changes handed to the hooks", shop_id, len(rows))
    return len(rows)


_SWEEP_CLAIM = (
    "INSERT INTO customers_mirrorchangedrain (shop_id, enqueued_at)"
    " SELECT DISTINCT shop_id, %s FROM customers_mirrorchange WHERE created_at < %s"
    # An uninstalled shop's drain does nothing (its rows wait for a reinstall or shop/redact).
    " AND shop_id IN (SELECT id FROM tenants_shop WHERE status = 'installed')"
    " ON CONFLICT (shop_id) DO UPDATE SET enqueued_at = EXCLUDED.enqueued_at"
    " WHERE customers_mirrorchangedrain.enqueued_at < %s"
    " RETURNING shop_id"
)


def mirror_changes_sweep(*, now: datetime | None = None) -> list[int]:
    """Queue a drain for every shop whose outbox rows waited longer than `REQUEUE_AFTER` with no
    drain queued since (its drain was lost or rolled back with a worker); returns those shops.

    The claim (the drain row's `enqueued_at` moved to now) and the enqueue commit together (ORM
    broker), so overlapping sweeps queue one drain, and a sweep that dies queues none and is
    repeated by the next one.
    """
    now = now or timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    stale = adapt(now - REQUEUE_AFTER)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_SWEEP_CLAIM, [adapt(now), stale, stale])
            shop_ids = sorted(shop_id for (shop_id,) in cursor.fetchall())
        for shop_id in shop_ids:
            _drain_enqueue(shop_id, "webhook")
    if shop_ids:
        logger.warning("mirror outbox: drains re-queued for shops %s", shop_ids)
    return shop_ids
