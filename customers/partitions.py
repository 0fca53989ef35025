# ruff: noqa: S608 -- SQL here interpolates only catalog names and integer shop ids.
"""Per-shop partitions of the mirror tables (PostgreSQL; customers migration 0011).

customers_customer, customers_customeraddress and customers_order are LIST-partitioned by
shop_id. A shop's rows live in the default partition until its first full sync, which builds the
shop's own partitions *bare*: plain tables filled by one INSERT ... SELECT each from the staged
rows (no index to maintain per row), indexed afterwards by sorting, then attached. Attaching
reuses those indexes (they match the parent's partitioned indexes) and does not scan the table
(its CHECK constraint proves the partition bound); it scans the default partition, which must hold
none of the shop's rows. Everything runs in the sync's apply transaction: a crash leaves no
partition behind and the previous mirror (the default partition's rows) as it was.

Rows the shop already has in the default partitions (webhooks before or during the load) are
merged into the build (customers.staging: they keep their ids, newer rows win as in the upsert
path) and leave the default partitions in the same transaction.

Locks (who waits, and how long):
- From the start of the apply: the advisory lock FIRST_SYNC_LOCK, exclusive. Every writer of
  a shop without partitions (webhook deliveries, the delta, invites, redaction, erasure, the
  ingest) takes it shared before its first statement (`mirror_writes_wait`), so it waits for
  the commit and then writes into the right partition.
- From the start of the apply: SHARE ROW EXCLUSIVE on the default partitions of customers,
  addresses and orders, so no row of the shop can enter them while the build runs. Readers go
  on. Writers into them wait until the apply commits: writes for every shop never fully synced
  (as long as the apply: docs/benchmarks.md, ~30 s wall at 100k customers under load) and
  writes that do not name their shop (`UPDATE ... WHERE id = ...` without shop_id locks every
  partition: the suite's guard, customers/testing.py, fails any). A second first sync
  waits for the first to commit (the mode conflicts with itself). Webhooks of shops with their
  own partitions do not touch the defaults and never wait.
- At attach (after the index builds): ACCESS EXCLUSIVE on the four default partitions until the
  commit (tombstones, aggregates); readers of shops never fully synced wait too; SHARE UPDATE
  EXCLUSIVE on the parents (other shops keep reading and writing). A transaction that holds a
  lock on a default partition (it read the parent without naming its shop, or a never-synced
  shop's rows) and waits to write into it would deadlock with this: it is cancelled
  (`_cancel_deadlocked`; a webhook delivery is retried), not the sync.
Both table locks are taken all at once with a short lock_timeout per attempt and retried
(`_lock`), never waiting while holding part of them. Dropping a partition (shop erasure) takes ACCESS EXCLUSIVE
on the parent until the erasure commits.
"""

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection, transaction

logger = logging.getLogger(__name__)

# The mirror tables, and segments' order products derived from the orders (segments migration
# 0009: kept by triggers on customers_order, filled by the bare build itself).
TABLES = (
    "customers_customer",
    "customers_customeraddress",
    "customers_order",
    "segments_order_product",
)


def partition_name(table: str, shop_id: int) -> str:
    return f"{table}_s{int(shop_id)}"


def partitioned(cursor, table: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [table])
    return cursor.fetchone() is not None


# In an upsert's RETURNING: whether the row was inserted (PostgreSQL cannot return `xmax`, the
# usual test, from a partitioned table). The id default is evaluated for every proposed row, also
# one that then conflicts and updates the existing row (which keeps its id): the row is new
# exactly when its id is the value this session's sequence just gave out.
INSERTED = "(id = lastval())"


def partition_exists(cursor, table: str, shop_id: int) -> bool:
    cursor.execute("SELECT to_regclass(%s)", [partition_name(table, shop_id)])
    return cursor.fetchone()[0] is not None


def partition_create_bare(cursor, table: str, shop_id: int, *, name: str | None = None) -> str:
    """A plain table shaped like the parent (its defaults: ids from the shared sequence), with
    the CHECK constraint that lets ATTACH skip scanning it. Not attached: no index, no trigger.
    `name`: another name than the partition's (a table built for it, renamed by
    `partition_adopt`)."""
    partition = partition_name(table, shop_id)
    name = name or partition
    cursor.execute(
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS,"
        f" CONSTRAINT {partition}_shop CHECK (shop_id IS NOT NULL AND shop_id = {int(shop_id)}))"
    )
    return name


def _parent_indexes(cursor, table: str) -> list[tuple[str | None, str]]:
    """(constraint definition or None, index definition) of every index of the parent."""
    cursor.execute(
        """SELECT pg_get_constraintdef(c.oid), pg_get_indexdef(i.indexrelid)
           FROM pg_index i LEFT JOIN pg_constraint c
             ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u')
           WHERE i.indrelid = %s::regclass ORDER BY i.indexrelid""",
        [table],
    )
    return cursor.fetchall()


_INDEX_DEFINITION = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON (?:ONLY )?\S+ (USING .*)$")


@dataclass(frozen=True)
class BuiltIndex:
    """One index of a parent table, to be built on an unattached table `on` so that attaching
    adopts it: `create` builds it by sorting; a primary key or unique constraint of the parent
    is first built as a plain unique index (it may then be built beside the table's other
    indexes: adding the constraint directly would lock the table against them) and becomes the
    constraint in `partition_constraints_add`."""

    name: str
    on: str
    create: str
    constraint: str | None  # "PRIMARY KEY" / "UNIQUE", or None


def partition_index_plan(cursor, table: str, name: str) -> list[BuiltIndex]:
    """Every index of the parent `table`, as the parent defines it, to build on `name`."""
    plan = []
    for number, (constraint, index) in enumerate(_parent_indexes(cursor, table)):
        unique, rest = _INDEX_DEFINITION.match(index).groups()
        kind = constraint.split(" (", 1)[0] if constraint is not None else None
        index_name = f"{name}_{number}"
        unique = "UNIQUE " if kind is not None else unique or ""
        plan.append(
            BuiltIndex(
                index_name, name, f"CREATE {unique}INDEX {index_name} ON {name} {rest}", kind
            )
        )
    return plan


def partition_constraints_add(cursor, plan: list[BuiltIndex]) -> None:
    """The built unique indexes that stand for a parent's constraint become that constraint
    (a catalog change: the index is already there)."""
    for index in plan:
        if index.constraint is not None:
            cursor.execute(
                f"ALTER TABLE {index.on} ADD CONSTRAINT {index.name}"
                f" {index.constraint} USING INDEX {index.name}"
            )


def partition_adopt(cursor, table: str, shop_id: int, built: str) -> str:
    """Rename the table built for the shop's partition of `table` (and its indexes, which carry
    its name) to the partition's name. In the apply transaction: nobody sees the partition's
    name before the commit (webhooks decide by that name whether to wait)."""
    name = partition_name(table, shop_id)
    cursor.execute(f"ALTER TABLE {built} RENAME TO {name}")
    cursor.execute(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass", [name]
    )
    for (index,) in cursor.fetchall():
        if index.startswith(f"{built}_"):  # renames its constraint too
            cursor.execute(f"ALTER INDEX {index} RENAME TO {name}_{index[len(built) + 1 :]}")
    return name


def partition_attach(cursor, table: str, shop_id: int) -> None:
    """Attach the shop's (indexed, analyzed) partition of `table`."""
    name = partition_name(table, shop_id)
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES IN ({int(shop_id)})")


# The default partitions a first sync locks against writes, in this order (webhooks write the
# customer before its addresses and orders; a writer that takes them in another order makes the
# sync give up its locks and retry, never a deadlock). segments_order_product_default needs no
# lock of its own: only writes through customers_order (its triggers) put a shop's rows there,
# and those wait for customers_order_default.
LOCKED_DEFAULTS = tuple(f"{t}_default" for t in TABLES[:3])
# How long one attempt waits for a lock: below PostgreSQL's deadlock_timeout (1 s), so when a
# writer holding one of the locks waits for us, we give up first and no one is aborted.
LOCK_ATTEMPT_TIMEOUT = "200ms"


def previous_name(table: str) -> str:
    """Temporary table (dropped at commit) holding the shop's rows moved out of the default
    partition of `table` by shop_partitions_start, for the build to merge."""
    return f"_previous_{table}"


def _lock(cursor, tables, mode: str, *, before_attempt=None) -> int:
    """LOCK `tables` in `mode`, all or none: an attempt that waits longer than
    LOCK_ATTEMPT_TIMEOUT for any of them, or is refused as a deadlock, releases those it got
    (savepoint) and retries, so this transaction never sits on part of the locks waiting for
    someone who waits for it. `before_attempt` runs before every attempt. Returns the attempts."""
    from django.db import OperationalError

    cursor.execute("SELECT current_setting('lock_timeout')")
    (previous,) = cursor.fetchone()
    attempts = 0
    while True:
        attempts += 1
        if before_attempt is not None:
            before_attempt(cursor)
        try:
            with transaction.atomic():
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, true)", [LOCK_ATTEMPT_TIMEOUT]
                )
                cursor.execute(f"LOCK TABLE {', '.join(tables)} IN {mode} MODE")
            break
        except OperationalError as error:
            # lock_not_available, or a deadlock PostgreSQL reports at once (a waiter ahead of
            # us in the queue holds a lock we ask for): retried either way.
            if getattr(error.__cause__, "sqlstate", None) not in ("55P03", "40P01"):
                raise
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return attempts


def _cancel_deadlocked(cursor) -> None:
    """Cancel the statements of transactions that hold a lock on a default partition while
    waiting for a lock this transaction holds (typically: a webhook read the parent, which
    touches the default partition, then waits to write into it). Attaching needs ACCESS
    EXCLUSIVE on the default partitions: without this the two would deadlock and PostgreSQL
    would abort the sync, which has waited the shorter time."""
    cursor.execute(
        """SELECT pg_cancel_backend(pid) FROM (
               SELECT DISTINCT l.pid FROM pg_locks l
               WHERE l.granted AND l.pid <> pg_backend_pid()
                 AND l.relation = ANY(%s::regclass[])
                 AND pg_backend_pid() = ANY(pg_blocking_pids(l.pid))) waiting""",
        [list(LOCKED_DEFAULTS)],
    )
    if cursor.rowcount:
        logger.warning("first sync: cancelled %s deadlocked writer(s)", cursor.rowcount)


# pg_advisory_xact_lock key: held exclusively by a first sync's apply from its start to its
# commit, shared by webhook deliveries of shops without partitions (`mirror_writes_wait`).
FIRST_SYNC_LOCK = 0x5C_FFFF_0000


# Shops whose partitions this process has seen committed: their writes never wait again.
_PARTITIONED: set[int] = set()


def mirror_writes_wait(*, shop_id: int) -> None:
    """First in a transaction that writes a shop's mirror rows (webhook deliveries, the delta,
    invites, redaction...): when the shop has no partitions yet, wait for any first sync's
    apply to commit, before touching a table. A write already under way when the build attaches
    the shop's partitions would fail or be lost (PostgreSQL re-checks the default partition's
    bound after waiting for its lock: an INSERT fails with "new row for relation ..._default
    violates partition constraint", an UPDATE finds the moved rows gone and changes nothing);
    one that starts after the commit goes to the new partition. A transaction that read a
    default partition and then waits to write it would deadlock with the attach.

    Shops with partitions never wait: no lock, and once this process saw them committed, no
    statement either. Within one transaction a shop waits once. Outside a transaction (each
    statement its own) there is nothing to hold: no-op."""
    if connection.vendor != "postgresql" or shop_id in _PARTITIONED:
        return
    if not connection.in_atomic_block or _waited(shop_id):
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock_shared(%s) WHERE to_regclass(%s) IS NULL",
            [FIRST_SYNC_LOCK, partition_name(TABLES[0], shop_id)],
        )
        partitioned = cursor.rowcount == 0
    # Remembered only once this transaction commits (it may be the one creating them).
    remember = functools.partial(_PARTITIONED.add if partitioned else _no_op, shop_id)
    remember.mirror_writes_waited = shop_id
    transaction.on_commit(remember)


def _no_op(shop_id: int) -> None:
    pass


def _waited(shop_id: int) -> bool:
    """Whether this transaction waited for the shop already: its on-commit marker is pending
    (Django drops it with the transaction, or with the savepoint it was taken in, as
    PostgreSQL drops the lock)."""
    return any(
        getattr(entry[1], "mirror_writes_waited", None) == shop_id
        for entry in connection.run_on_commit
    )


def shop_partitions_needed(*, shop_id: int) -> bool:
    """Whether the shop's next full sync builds its partitions (it has none yet)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        return partitioned(cursor, TABLES[0]) and not partition_exists(cursor, TABLES[0], shop_id)


def shop_partitions_start(*, shop_id: int, built: Mapping[str, str] | None = None) -> bool:
    """In a full sync's apply transaction: True when the shop gets its partitions now, False
    when it has them already (rows go through the parents). `built`: per table, the table built
    for the shop's partition (customers.partition_build, indexed, unattached), renamed to the
    partition's name here; without it the partitions are created bare (empty, unindexed).

    First the default partitions are locked against writes (SHARE ROW EXCLUSIVE: readers go on;
    writers to them, i.e. webhooks of shops never fully synced and writes that do not name
    their shop, wait until the apply commits; two first syncs swap one after the other). Then
    the shop's rows already there (webhooks before or during the build) are moved into
    temporary tables (`previous_name`) to be merged (they keep their ids), and its derived
    order products are deleted (rebuilt from the merged orders)."""
    if not shop_partitions_needed(shop_id=shop_id):
        return False
    with connection.cursor() as cursor:
        # Webhook deliveries of shops without partitions wait before their first statement;
        # those under way finish first (they wait for nothing this transaction holds yet).
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FIRST_SYNC_LOCK])
        _lock(cursor, LOCKED_DEFAULTS, "SHARE ROW EXCLUSIVE")
        for table in TABLES:
            if built is None:
                partition_create_bare(cursor, table, shop_id)
            else:
                partition_adopt(cursor, table, shop_id, built[table])
        for table in TABLES[:3]:
            previous = previous_name(table)
            cursor.execute(f"DROP TABLE IF EXISTS {previous}")
            # Straight out of the partition: customers_order's statement triggers do not fire.
            cursor.execute(
                f"CREATE TEMP TABLE {previous} ON COMMIT DROP AS WITH gone AS"
                f" (DELETE FROM {table}_default WHERE shop_id = %s RETURNING *)"
                " SELECT * FROM gone",
                [shop_id],
            )
            cursor.execute(f"ANALYZE {previous}")  # the merge's joins plan on it
        cursor.execute(f"DELETE FROM {TABLES[3]}_default WHERE shop_id = %s", [shop_id])
    return True


def shop_partitions_attach(*, shop_id: int) -> None:
    """After the build and the merge: attach the shop's partitions. Attaching takes ACCESS
    EXCLUSIVE on the default partitions: taken for all of them at once, cancelling writers that
    would deadlock with it (`_cancel_deadlocked`)."""
    with connection.cursor() as cursor:
        _lock(
            cursor,
            [*LOCKED_DEFAULTS, f"{TABLES[3]}_default"],
            "ACCESS EXCLUSIVE",
            before_attempt=_cancel_deadlocked,
        )
        for table in TABLES:
            partition_attach(cursor, table, shop_id)


def shop_partition_exists(table: str, shop_id: int) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        return partition_exists(cursor, table, shop_id)


def shop_partition_drop(*, table: str, shop_id: int) -> int:
    """Drop the shop's partition of `table` (shop erasure): the rows it held. Dropping fires no
    delete trigger, so the segments' order-product rows of the shop go here with its orders
    (their partition dropped too, or their rows deleted)."""
    name = partition_name(table, shop_id)
    with connection.cursor() as cursor:
        if table == "customers_order" and partition_exists(cursor, TABLES[3], shop_id):
            shop_partition_drop(table=TABLES[3], shop_id=shop_id)
        if table == "customers_order" and not partition_exists(
            cursor, "segments_order_product", shop_id
        ):
            cursor.execute("DELETE FROM segments_order_product WHERE shop_id = %s", [shop_id])
        cursor.execute(f"SELECT count(*) FROM {name}")
        rows = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {name}")
    return rows
