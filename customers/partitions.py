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

Locks: attaching takes SHARE UPDATE EXCLUSIVE on the parent (other shops keep reading and
writing) and ACCESS EXCLUSIVE on the default partition until the apply commits (webhooks of
shops that were never fully synced wait until then). Dropping a partition (shop erasure) takes
ACCESS EXCLUSIVE on the parent until the erasure commits.
"""

import re

from django.db import connection

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


def partition_create_bare(cursor, table: str, shop_id: int) -> str:
    """A plain table shaped like the parent (its defaults: ids from the shared sequence), with
    the CHECK constraint that lets ATTACH skip scanning it. Not attached: no index, no trigger."""
    name = partition_name(table, shop_id)
    cursor.execute(
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS,"
        f" CONSTRAINT {name}_shop CHECK (shop_id IS NOT NULL AND shop_id = {int(shop_id)}))"
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


def partition_index(cursor, table: str, name: str) -> None:
    """Build on `name` every index of the parent `table`, as the parent defines it, so that
    attaching `name` adopts them instead of building its own. Sorting builds: give them memory."""
    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
    # No parallel workers: on this 2-core machine they only compete with the backend.
    cursor.execute("SET LOCAL max_parallel_maintenance_workers = 0")
    for number, (constraint, index) in enumerate(_parent_indexes(cursor, table)):
        if constraint is not None:  # primary key / unique: must be a constraint to be adopted
            cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_{number} {constraint}")
            continue
        unique, rest = _INDEX_DEFINITION.match(index).groups()
        cursor.execute(f"CREATE {unique or ''}INDEX {name}_{number} ON {name} {rest}")


def partition_attach(cursor, table: str, shop_id: int) -> None:
    name = partition_name(table, shop_id)
    partition_index(cursor, table, name)
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES IN ({int(shop_id)})")
    cursor.execute(f"ANALYZE {name}")  # the rest of the sync plans queries on it


def shop_partitions_start(*, shop_id: int) -> bool:
    """Before a full sync's apply: True when the shop gets its partitions now and they are to be
    filled bare (created here, unattached, empty); False when rows go through the parents (the
    shop has its partitions already, or rows in the default ones: those are moved into new
    partitions of the shop here, keeping their ids, and the sync upserts as usual)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        if not partitioned(cursor, TABLES[0]) or partition_exists(cursor, TABLES[0], shop_id):
            return False
        probes = [f"(SELECT 1 FROM {t}_default WHERE shop_id = %s LIMIT 1)" for t in TABLES]
        cursor.execute(" UNION ALL ".join(probes), [shop_id] * len(TABLES))
        moved = cursor.fetchone() is not None
        for table in TABLES:
            name = partition_create_bare(cursor, table, shop_id)
            if moved:  # straight between partitions: the order triggers see nothing change
                cursor.execute(
                    f"WITH gone AS (DELETE FROM {table}_default WHERE shop_id = %s RETURNING *)"
                    f" INSERT INTO {name} SELECT * FROM gone",
                    [shop_id],
                )
                partition_attach(cursor, table, shop_id)
    return not moved


def shop_partitions_attach(*, shop_id: int) -> None:
    """After the bare build: index and attach the shop's partitions."""
    with connection.cursor() as cursor:
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
