# ruff: noqa: S608 -- SQL here interpolates only table/column names from our own models and
# placeholder lists; every value is a bound parameter.
"""Set-based writes into the mirror: batched upserts that never move a row backwards.

PostgreSQL: COPY a batch into a temporary staging table, then one `INSERT ... SELECT ...
ON CONFLICT (shop_id, shopify_id) DO UPDATE ... WHERE <not older>`. Small batches (webhooks) and
SQLite (the demo) use one multi-row `INSERT ... VALUES ... ON CONFLICT` with the same guard.
Callers run each batch inside `transaction.atomic()`; a batch is all or nothing.

The guard: a row is overwritten only if it is not redacted and the incoming `updated_at_shopify`
is not older than the stored one (tombstones carry their deletion time there, so a late update
cannot resurrect a deleted customer). Rows the guard refused are reported as `skipped`.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from customers.models import Customer, CustomerAddress, Order
from customers.partitions import INSERTED

COPY_THRESHOLD = 200  # below this many rows a VALUES upsert is cheaper than COPY + staging


@dataclass
class UpsertResult:
    applied: dict[int, int] = field(default_factory=dict)  # shopify_id -> local id
    created: int = 0
    updated: int = 0
    skipped: list[int] = field(default_factory=list)


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _fields(model) -> dict[str, Any]:
    return {f.column: f for f in model._meta.concrete_fields if f.column != "id"}


CUSTOMER_FIELDS = _fields(Customer)
ADDRESS_FIELDS = _fields(CustomerAddress)
ORDER_FIELDS = _fields(Order)
JSON_COLUMNS = {"tags", "merge_blockers", "product_ids", "product_tags"}


def _required_defaults(model_fields: dict[str, Any]) -> dict[str, Any]:
    """Values for NOT NULL columns a partial row (a webhook) does not carry, used on insert only."""
    return {
        column: f.get_default()
        for column, f in model_fields.items()
        if not f.null and f.has_default() and column != "shop_id"
    }


CUSTOMER_DEFAULTS = _required_defaults(CUSTOMER_FIELDS)
ORDER_DEFAULTS = _required_defaults(ORDER_FIELDS)


def _guard(table: str) -> str:
    return (
        f"{table}.updated_at_shopify IS NULL OR EXCLUDED.updated_at_shopify IS NULL"
        f" OR {table}.updated_at_shopify <= EXCLUDED.updated_at_shopify"
    )


def _copy_rows(cursor, table: str, columns: Sequence[str], rows: Iterable[list[Any]]) -> None:
    names = ", ".join(columns)
    json_positions = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
    dumps = json.dumps
    with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            for i in json_positions:
                row[i] = dumps(row[i])
            copy.write_row(row)


def _values_sql(
    model_fields, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[str, list]:
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    params: list[Any] = []
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            params.append(model_fields[column].get_db_prep_save(value, connection))
    return ", ".join([placeholders] * len(rows)), params


def _existing(table: str, shop_id: int, shopify_ids: Sequence[int]) -> set[int]:
    if not shopify_ids:
        return set()
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * len(shopify_ids))
        cursor.execute(
            f"SELECT shopify_id FROM {table} WHERE shop_id = %s AND shopify_id IN ({marks})",
            [shop_id, *shopify_ids],
        )
        return {r[0] for r in cursor.fetchall()}


def _uses_copy(rows: Sequence[Any]) -> bool:
    return _is_postgres() and len(rows) >= COPY_THRESHOLD


def _not_older(row: dict[str, Any], than: dict[str, Any]) -> bool:
    mine, theirs = row.get("updated_at_shopify"), than.get("updated_at_shopify")
    return mine is None or theirs is None or mine >= theirs


def _upsert(
    *,
    table: str,
    model_fields: dict[str, Any],
    defaults: dict[str, Any],
    shop_id: int,
    rows: list[dict[str, Any]],
    extra_update: str = "",
    extra_guard: str = "",
    resolve_customer: bool = False,
) -> UpsertResult:
    result = UpsertResult()
    if not rows:
        return result
    use_copy = _uses_copy(rows)
    # One row per shopify_id (a repeated id in one statement is an error): keep the newest.
    newest: dict[int, dict[str, Any]] = {}
    for row in rows:
        kept = newest.get(row["shopify_id"])
        if kept is None or _not_older(row, kept):
            newest[row["shopify_id"]] = row
    rows = list(newest.values())
    given = list(rows[0])
    update_columns = [c for c in given if c not in ("shop_id", "shopify_id")]
    columns = ["shop_id", *given, *(c for c in defaults if c not in rows[0])]
    tuples = [
        [shop_id, *(r[c] for c in given), *(defaults[c] for c in columns[len(given) + 1 :])]
        for r in rows
    ]
    for column in columns:
        if column not in model_fields:
            raise ValueError(f"{table} has no column {column!r}")
    names = ", ".join(columns)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update_columns)
    if extra_update:
        sets = f"{sets}, {extra_update}"
    guard = (
        f"{table}.redacted_at IS NULL AND ({_guard(table)})"
        if table == "customers_customer"
        else f"({_guard(table)})"
    )
    if extra_guard:
        guard = f"{guard} AND {extra_guard}"
    conflict = f"ON CONFLICT (shop_id, shopify_id) DO UPDATE SET {sets} WHERE {guard}"
    postgres = _is_postgres()
    returning = "RETURNING id, shopify_id" + (f", {INSERTED}" if postgres else "")
    existing: set[int] = set()
    with connection.cursor() as cursor:
        if use_copy:
            stage = f"_stage_{table}"
            # Dropped at commit; dropped here too when an outer transaction spans batches.
            cursor.execute(f"DROP TABLE IF EXISTS {stage}")
            # ONLY: the parent's columns without planning (and locking) every shop's partition.
            cursor.execute(
                f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM ONLY {table} WITH NO DATA"
            )
            _copy_rows(cursor, stage, columns, tuples)
            selected = names
            if resolve_customer:
                # Link each order to its customer in SQL (unique index), not row by row in Python.
                selected = ", ".join(
                    # The shop as a value: planned on the shop's partition alone.
                    f"(SELECT c.id FROM customers_customer c WHERE c.shop_id = {int(shop_id)}"
                    " AND c.shopify_id = s.customer_shopify_id)"
                    if column == "customer_id"
                    else f"s.{column}"
                    for column in columns
                )
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {selected} FROM {stage} s WHERE true {conflict} {returning}"
            )
        else:
            if not postgres:
                existing = _existing(table, shop_id, [r["shopify_id"] for r in rows])
            values, params = _values_sql(model_fields, columns, tuples)
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {values} {conflict} {returning}",
                params,
            )
        returned = cursor.fetchall()
    for record in returned:
        local_id, shopify_id = record[0], record[1]
        result.applied[shopify_id] = local_id
        inserted = record[2] if postgres else shopify_id not in existing
        if inserted:
            result.created += 1
        else:
            result.updated += 1
    result.skipped = [r["shopify_id"] for r in rows if r["shopify_id"] not in result.applied]
    return result


def customers_upsert(
    *,
    shop_id: int,
    rows: list[dict[str, Any]],
    addresses: dict[int, list[dict[str, Any]]] | None = None,
    sync_run_id: int | None = None,
) -> UpsertResult:
    """Upsert customer rows (same keys in every row); replace the addresses of those applied.

    `addresses` maps shopify customer id -> its complete address list; customers not in it keep
    their addresses. With `sync_run_id` every row, applied or skipped, is marked seen by that run.
    """
    now = timezone.now()
    stamped = [{**row, "mirrored_at": now} for row in rows]
    if sync_run_id is not None:
        for row in stamped:
            row["last_seen_sync_run_id"] = sync_run_id
    result = _upsert(
        table="customers_customer",
        model_fields=CUSTOMER_FIELDS,
        defaults=CUSTOMER_DEFAULTS,
        shop_id=shop_id,
        rows=stamped,
        extra_update="deleted_at = NULL",
    )
    if sync_run_id is not None and result.skipped:
        _mark_seen(shop_id=shop_id, shopify_ids=result.skipped, sync_run_id=sync_run_id)
    if addresses:
        replace = {
            result.applied[sid]: addresses[sid] for sid in addresses if sid in result.applied
        }
        addresses_replace(shop_id=shop_id, addresses_by_customer=replace)
    return result


def _mark_seen(*, shop_id: int, shopify_ids: list[int], sync_run_id: int) -> None:
    marks = ", ".join(["%s"] * len(shopify_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE customers_customer SET last_seen_sync_run_id = %s WHERE shop_id = %s AND shopify_id IN ({marks})",
            [sync_run_id, shop_id, *shopify_ids],
        )


ADDRESS_COLUMNS = [
    "shop_id",
    "customer_id",
    "shopify_id",
    "is_default",
    "first_name",
    "last_name",
    "company",
    "address1",
    "address2",
    "city",
    "province_code",
    "country_code",
    "zip",
    "phone",
]


def addresses_replace(
    *, shop_id: int, addresses_by_customer: dict[int, list[dict[str, Any]]]
) -> None:
    """Replace the address lists of these customers (local id -> mapped address rows)."""
    if not addresses_by_customer:
        return
    customer_ids = list(addresses_by_customer)
    tuples = [
        [shop_id, customer_id, *(a[c] for c in ADDRESS_COLUMNS[2:])]
        for customer_id, rows in addresses_by_customer.items()
        for a in rows
    ]
    with connection.cursor() as cursor:
        if _is_postgres():
            cursor.execute(
                "DELETE FROM customers_customeraddress WHERE shop_id = %s AND customer_id = ANY(%s)",
                [shop_id, customer_ids],
            )
        else:
            marks = ", ".join(["%s"] * len(customer_ids))
            cursor.execute(
                f"DELETE FROM customers_customeraddress WHERE shop_id = %s AND customer_id IN ({marks})",
                [shop_id, *customer_ids],
            )
        if not tuples:
            return
        if _is_postgres() and len(tuples) >= COPY_THRESHOLD:
            _copy_rows(cursor, "customers_customeraddress", ADDRESS_COLUMNS, tuples)
        else:
            values, params = _values_sql(ADDRESS_FIELDS, ADDRESS_COLUMNS, tuples)
            cursor.execute(
                f"INSERT INTO customers_customeraddress ({', '.join(ADDRESS_COLUMNS)}) VALUES {values}",
                params,
            )


def orders_upsert(
    *, shop_id: int, rows: list[dict[str, Any]], sync_run_id: int | None = None
) -> UpsertResult:
    """Upsert order rows, linking each to its customer's local id when the mirror holds it."""
    if not rows:
        return UpsertResult()
    in_sql = _uses_copy(rows)  # then the customer is linked inside the INSERT
    customer_ids = (
        {}
        if in_sql
        else customer_local_ids(
            shop_id=shop_id,
            # A row may carry its customer's local id already (a webhook looked it up).
            shopify_ids={
                r["customer_shopify_id"]
                for r in rows
                if r["customer_shopify_id"] and not r.get("customer_id")
            },
        )
    )
    stamped = [
        {
            **row,
            "customer_id": row.get("customer_id") or customer_ids.get(row["customer_shopify_id"]),
            "deleted_at": None,
        }
        for row in rows
    ]
    if sync_run_id is not None:
        for row in stamped:
            row["last_seen_sync_run_id"] = sync_run_id
    result = _upsert(
        table="customers_order",
        model_fields=ORDER_FIELDS,
        defaults=ORDER_DEFAULTS,
        shop_id=shop_id,
        rows=stamped,
        resolve_customer=in_sql,
    )
    if sync_run_id is not None and result.skipped:
        marks = ", ".join(["%s"] * len(result.skipped))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE customers_order SET last_seen_sync_run_id = %s WHERE shop_id = %s AND shopify_id IN ({marks})",
                [sync_run_id, shop_id, *result.skipped],
            )
    return result


def customer_local_ids(*, shop_id: int, shopify_ids: set[int]) -> dict[int, int]:
    if not shopify_ids:
        return {}
    return dict(
        Customer.all_shops.filter(shop_id=shop_id, shopify_id__in=shopify_ids).values_list(
            "shopify_id", "id"
        )
    )


def orders_link_customers(*, shop_id: int, customer_ids: Sequence[int] | None = None) -> int:
    """Point orders that arrived before their customer at the customer's local id."""
    orders = Order.all_shops.filter(
        shop_id=shop_id, customer_id__isnull=True, customer_shopify_id__isnull=False
    )
    if customer_ids is not None:
        shopify_ids = Customer.all_shops.filter(shop_id=shop_id, id__in=customer_ids).values(
            "shopify_id"
        )
        orders = orders.filter(customer_shopify_id__in=shopify_ids)
    linked = 0
    for shopify_id, local_id in Customer.all_shops.filter(
        shop_id=shop_id, shopify_id__in=orders.values("customer_shopify_id")
    ).values_list("shopify_id", "id"):
        linked += orders.filter(customer_shopify_id=shopify_id).update(customer_id=local_id)
    return linked


def _id_filter(column: str, ids: Sequence[int] | None) -> tuple[str, list]:
    if ids is None:
        return "", []
    if not ids:
        return " AND false", []
    return f" AND {column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def customer_aggregates_refresh(*, shop_id: int, customer_ids: Sequence[int] | None = None) -> int:
    """Recompute order aggregates from the mirrored orders; returns the rows changed.

    First/last order dates always come from orders. Count and spend come from orders only for
    customers whose Shopify values are unknown (`aggregates_from_shopify` false). Cancelled, test
    and deleted orders do not count, as in Shopify's numberOfOrders/amountSpent.
    """
    if customer_ids is not None and len(customer_ids) == 1:
        return _customer_aggregates_refresh_one(shop_id=shop_id, customer_id=customer_ids[0])
    return customer_aggregates_refresh_set_based(shop_id=shop_id, customer_ids=customer_ids)


def customer_aggregates_refresh_set_based(
    *, shop_id: int, customer_ids: Sequence[int] | None = None
) -> int:
    """The same in one CTE + UPDATE over the shop's orders (bench/webhook_apply.py's baseline
    calls it for one customer, as every webhook did before the single-customer statement)."""
    only, params = _id_filter("c.id", customer_ids)
    distinct = "IS DISTINCT FROM"
    sql = f"""
        WITH agg AS (
            SELECT customer_id, COUNT(*) AS n, SUM(total_price) AS spent, MAX(currency) AS currency,
                   MIN(processed_at) AS first_at, MAX(processed_at) AS last_at
            FROM customers_order
            WHERE shop_id = %s AND customer_id IS NOT NULL AND deleted_at IS NULL
              AND cancelled_at IS NULL AND NOT is_test
            GROUP BY customer_id
        ), target AS (
            SELECT c.id AS id,
                   agg.first_at AS first_at, agg.last_at AS last_at,
                   CASE WHEN c.aggregates_from_shopify THEN c.number_of_orders
                        ELSE COALESCE(agg.n, 0) END AS n,
                   CASE WHEN c.aggregates_from_shopify THEN c.amount_spent
                        ELSE COALESCE(agg.spent, 0) END AS spent,
                   CASE WHEN c.aggregates_from_shopify OR agg.currency IS NULL
                        THEN c.amount_spent_currency ELSE agg.currency END AS currency
            FROM customers_customer c LEFT JOIN agg ON agg.customer_id = c.id
            WHERE c.shop_id = %s{only}
        )
        UPDATE customers_customer SET
            first_order_at = target.first_at, last_order_at = target.last_at,
            number_of_orders = target.n, amount_spent = target.spent,
            amount_spent_currency = target.currency
        FROM target
        WHERE customers_customer.id = target.id AND customers_customer.shop_id = %s AND (
            customers_customer.first_order_at {distinct} target.first_at
            OR customers_customer.last_order_at {distinct} target.last_at
            OR customers_customer.number_of_orders {distinct} target.n
            OR customers_customer.amount_spent {distinct} target.spent
            OR customers_customer.amount_spent_currency {distinct} target.currency)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [shop_id, shop_id, *params, shop_id])
        return cursor.rowcount


def _customer_aggregates_refresh_one(*, shop_id: int, customer_id: int) -> int:
    """The same for one customer (a webhook): one aggregate over its orders, no CTE to plan.
    Every statement names the shop of the rows it writes: one without it locks every partition
    of the mirror, the default one included (a first sync's apply holds it against writes)."""
    sql = """
        UPDATE customers_customer SET
            first_order_at = a.first_at, last_order_at = a.last_at,
            number_of_orders = a.n, amount_spent = a.spent, amount_spent_currency = a.currency
        FROM (
            SELECT o.first_at, o.last_at,
                   CASE WHEN c.aggregates_from_shopify THEN c.number_of_orders ELSE o.n END AS n,
                   CASE WHEN c.aggregates_from_shopify THEN c.amount_spent
                        ELSE COALESCE(o.spent, 0) END AS spent,
                   CASE WHEN c.aggregates_from_shopify OR o.currency IS NULL
                        THEN c.amount_spent_currency ELSE o.currency END AS currency
            FROM customers_customer c, (
                SELECT COUNT(*) AS n, SUM(total_price) AS spent, MAX(currency) AS currency,
                       MIN(processed_at) AS first_at, MAX(processed_at) AS last_at
                FROM customers_order
                WHERE shop_id = %s AND customer_id = %s AND deleted_at IS NULL
                  AND cancelled_at IS NULL AND NOT is_test
            ) o
            WHERE c.id = %s AND c.shop_id = %s
        ) a
        WHERE customers_customer.id = %s AND customers_customer.shop_id = %s AND (
            customers_customer.first_order_at, customers_customer.last_order_at,
            customers_customer.number_of_orders, customers_customer.amount_spent,
            customers_customer.amount_spent_currency
        ) IS DISTINCT FROM (a.first_at, a.last_at, a.n, a.spent, a.currency)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [shop_id, customer_id, customer_id, shop_id, customer_id, shop_id])
        return cursor.rowcount


def customers_mark_missing_deleted(
    *, shop_id: int, sync_run_id: int, snapshot_at, deleted_at
) -> int:
    """Tombstone customers a completed full sync did not see.

    Rows changed after the snapshot was taken (a webhook during the sync) are left alone: the
    snapshot cannot speak for them.
    """
    return (
        Customer.all_shops.filter(shop_id=shop_id, deleted_at__isnull=True)
        .exclude(last_seen_sync_run_id=sync_run_id)
        .exclude(updated_at_shopify__gte=snapshot_at)
        .update(deleted_at=deleted_at)
    )


def orders_mark_missing_deleted(*, shop_id: int, sync_run_id: int, snapshot_at, deleted_at) -> int:
    return (
        Order.all_shops.filter(shop_id=shop_id, deleted_at__isnull=True)
        .exclude(last_seen_sync_run_id=sync_run_id)
        .exclude(updated_at_shopify__gte=snapshot_at)
        .update(deleted_at=deleted_at)
    )
