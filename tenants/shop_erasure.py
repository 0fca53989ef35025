"""Set-based erasure of every row a shop owns (shop/redact): one DELETE per table, children first.

Django's cascade (`shop.delete()`) loads the primary keys of every row it deletes and deletes in
chunks, with a query per relation per chunk: with 1,000,000 customers and 3,000,000 orders that
is millions of ids shipped to Python and back. Here each table is emptied of the shop's rows by
one `DELETE ... WHERE shop_id = %s` statement, in one transaction with the audit event.

Which tables: found by introspection, not listed by hand, so a new shop-owned table cannot be
forgotten. Every model (and every many-to-many table) with a foreign key to `tenants.Shop` is
erased by that key. Every relation pointing INTO an erased table must come from another erased
table: then nothing outside the shop can refer to what goes (and Django's SET_NULL / CASCADE on
those relations has nothing left to do). `erasure_plan()` refuses a schema where that does not
hold, and tests/test_shop_erasure_possible.py calls it, so such a model fails the suite.
Delete signals are not sent (no app listens to deletes of shop-owned rows; the plan check
below refuses models that have receivers).
"""

import logging
import time
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter

from django.apps import apps
from django.db import connection, models
from django.db.models.signals import post_delete, pre_delete

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasedTable:
    label: str  # the model label, as Django's delete() counts ("customers.Customer")
    table: str
    columns: tuple[str, ...]  # the foreign key columns to the shop


class ErasureImpossible(RuntimeError):
    """The schema has a relation into a shop's rows from rows the erasure would not delete."""


def _shop_columns(model) -> tuple[str, ...]:
    from tenants.models import Shop

    return tuple(
        field.column
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey) and field.related_model is Shop
    )


@cache
def erasure_plan() -> tuple[ErasedTable, ...]:
    """Every table holding a shop's rows, ordered so that a table comes before the ones it
    references (children first)."""
    from tenants.models import Shop

    candidates = [
        m for m in apps.get_models(include_auto_created=True) if not m._meta.proxy and m is not Shop
    ]
    erased = {m: _shop_columns(m) for m in candidates if _shop_columns(m)}
    graph: dict = {m: set() for m in erased}
    problems = []
    for model in candidates:
        for field in model._meta.concrete_fields:
            target = field.related_model if isinstance(field, models.ForeignKey) else None
            if target not in erased or target is model:
                continue
            if model not in erased:
                problems.append(f"{model._meta.label}.{field.name} -> {target._meta.label}")
            else:
                graph[target].add(model)  # the referencing table goes first
    for model in erased:
        if pre_delete.has_listeners(model) or post_delete.has_listeners(model):
            problems.append(f"{model._meta.label} has delete signal receivers")
    if problems:
        raise ErasureImpossible(
            "shop/redact cannot erase a shop's rows set-based: " + "; ".join(sorted(problems))
        )
    return tuple(
        ErasedTable(label=m._meta.label, table=m._meta.db_table, columns=erased[m])
        for m in TopologicalSorter(graph).static_order()
    )


def shop_rows_delete(*, shop_id: int) -> dict[str, int]:
    """Delete every row the shop owns, then the shop: {model label: rows deleted} (non-zero
    counts only, like Django's delete()). Runs in the caller's transaction.

    PostgreSQL checks each foreign key per deleted row (Django declares them deferred, so the
    checks would all run at commit): they are made immediate here, so each table's time is
    its own in the log, and a violation names the statement that caused it.
    """
    from customers.partitions import TABLES as PARTITIONED_BY_SHOP
    from customers.partitions import mirror_writes_wait, shop_partition_drop, shop_partition_exists
    from tenants.models import Shop

    mirror_writes_wait(shop_id=shop_id)  # a first sync under way commits (or not) first
    deleted: dict[str, int] = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        dropped = []
        for table in erasure_plan():
            # A mirror table where the shop has its own partition (customers.partitions): the
            # partition is dropped last, not emptied row by row (dropping locks the parent table
            # until the commit: as late as possible). The shop then has no rows elsewhere in it.
            if table.table in PARTITIONED_BY_SHOP and shop_partition_exists(table.table, shop_id):
                dropped.append(table)
                continue
            started = time.perf_counter()
            partition = _shop_partition(cursor, table.table, shop_id)
            dropped_rows = 0
            if partition is not None:
                # Another app's table partitioned by shop (merges' blocking keys): its partition
                # goes here, in the plan's order (its rows refer to customers deleted below),
                # rather than left behind empty; the DELETE below finds any in the default one.
                cursor.execute(f"SELECT count(*) FROM {quote(partition)}")  # noqa: S608
                dropped_rows = cursor.fetchone()[0]
                cursor.execute(f"DROP TABLE {quote(partition)}")
            where = " OR ".join(f"{quote(column)} = %s" for column in table.columns)
            cursor.execute(
                f"DELETE FROM {quote(table.table)} WHERE {where}",  # noqa: S608 -- model metadata
                [shop_id] * len(table.columns),
            )
            if cursor.rowcount + dropped_rows:
                deleted[table.label] = cursor.rowcount + dropped_rows
                _log(shop_id, deleted[table.label], table.label, started)
        for table in dropped:
            started = time.perf_counter()
            deleted[table.label] = shop_partition_drop(table=table.table, shop_id=shop_id)
            _log(shop_id, deleted[table.label], f"{table.label} (partition dropped)", started)
        shop_table = quote(Shop._meta.db_table)
        cursor.execute(f"DELETE FROM {shop_table} WHERE id = %s", [shop_id])  # noqa: S608
        deleted["tenants.Shop"] = cursor.rowcount
    return deleted


def _shop_partition(cursor, table: str, shop_id: int) -> str | None:
    """The shop's own partition of `table` (`<table>_s<shop id>`, attached), if it has one."""
    if connection.vendor != "postgresql":
        return None
    name = f"{table}_s{int(shop_id)}"
    cursor.execute(
        "SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s) AND inhparent = %s::regclass",
        [name, table],
    )
    return name if cursor.fetchone() is not None else None


def _log(shop_id: int, rows: int, what: str, started: float) -> None:
    elapsed = (time.perf_counter() - started) * 1000
    logger.info("shop %s erased: %s rows of %s in %.1f ms", shop_id, rows, what, elapsed)
