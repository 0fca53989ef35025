# ruff: noqa: S608 -- SQL here interpolates only our own table/column names; values are bound.
"""Full sync on PostgreSQL: stage the whole export first, then switch the mirror in one go.

Load: the bulk JSONL is parsed (orjson) and mapped by customers.mapping as before, but the rows
are COPYed into UNLOGGED staging tables of the sync run (no WAL, no indexes, no conflicts), a
batch per transaction together with the run's checkpoint. PostgreSQL's own JSON parser was
measured at ~6x the CPU of orjson for these lines, so Python parses and PostgreSQL only casts.

Apply: one transaction upserts every staged customer (order aggregates computed from the staged
orders in the same statement, so no second pass rewrites a million rows), replaces their
addresses, upserts the orders linked to their customers by a join, tombstones what the export
did not contain and refreshes the aggregates. A crash during the load leaves the mirror as it
was (the next run continues loading where the checkpoint says); a crash during the apply rolls
it back whole (the next run applies again from the staged rows).

Staging tables are named after the run (`_sync<run id>_<what>`), kept while the run is
unfinished and dropped when it succeeds. UNLOGGED tables are emptied by a PostgreSQL crash
recovery; the checkpoint records how many rows were staged, so a mismatch restarts the load.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice

import orjson
from django.db import IntegrityError, connection, transaction

from customers import bulkrows, partitions
from customers.ingest import PARENT_TYPES, late_children_apply
from customers.mapping import gid_type
from customers.writer import ADDRESS_COLUMNS, ADDRESS_FIELDS, CUSTOMER_FIELDS, ORDER_FIELDS

logger = logging.getLogger(__name__)

CUSTOMER_COLUMNS = bulkrows.CUSTOMER_COLUMNS
ORDER_COLUMNS = bulkrows.ORDER_COLUMNS
STAGED_ADDRESS_COLUMNS = bulkrows.ADDRESS_COLUMNS
TABLES = {
    "customers": ("customers", "addresses", "customers_late"),
    "orders": ("orders", "orders_late"),
}


# Tables a shop's first full sync builds for its partitions (customers.partition_build), named
# after the run like the staged rows and dropped with them; renamed to the partitions on success.
BUILT = {
    "customers_customer": "built_customers",
    "customers_customeraddress": "built_addresses",
    "customers_order": "built_orders",
    "segments_order_product": "built_order_products",
}
BUILT_IDS = "built_ids"


def table_name(run_id: int, what: str) -> str:
    return f"_sync{int(run_id)}_{what}"


def _definitions(run_id: int) -> dict[str, str]:
    """CREATE statements: typed like the mirror's columns so COPY does the casting."""

    def typed(fields, columns):
        return ", ".join(f"{c} {fields[c].db_type(connection)}" for c in columns)

    return {
        "customers": f"line_no bigint, {typed(CUSTOMER_FIELDS, CUSTOMER_COLUMNS)}",
        "addresses": "line_no bigint, customer_shopify_id bigint, "
        + typed(ADDRESS_FIELDS, STAGED_ADDRESS_COLUMNS[1:]),
        "orders": f"line_no bigint, {typed(ORDER_FIELDS, ORDER_COLUMNS)}",
        "customers_late": "line_no bigint, doc jsonb",
        "orders_late": "line_no bigint, doc jsonb",
    }


# Staged parents take their mirror id as they are COPYed (the default of the mirror table's id:
# one sequence for every shop), so that a first sync builds the orders and their products side by
# side, and the customers without joining them to their ids (customers.partition_build); the
# upsert path of later syncs ignores it.
STAGED_IDS = {"customers": "customers_customer", "orders": "customers_order"}


def stage_tables_create(run_id: int) -> None:
    """The run's staging tables (parents with their ids: STAGED_IDS)."""
    with connection.cursor() as cursor:
        for what, columns in _definitions(run_id).items():
            if what in STAGED_IDS:
                columns += f", id bigint DEFAULT {column_default(cursor, STAGED_IDS[what])}"
            cursor.execute(
                f"CREATE UNLOGGED TABLE IF NOT EXISTS {table_name(run_id, what)} ({columns})"
            )


def column_default(cursor, table: str, column: str = "id") -> str:
    """The default expression of `table`.`column` as the catalog has it."""
    cursor.execute(
        """SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a
             ON a.attrelid = d.adrelid AND a.attnum = d.adnum
           WHERE d.adrelid = %s::regclass AND a.attname = %s""",
        [table, column],
    )
    return cursor.fetchone()[0]


def staged_ids(run_id: int, what: str = "orders") -> bool:
    """Whether the run's staged `what` (customers / orders) carry their mirror ids (staged by a
    version that gives them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'id'"
            " AND NOT attisdropped",
            [table_name(run_id, what)],
        )
        return cursor.fetchone() is not None


def stage_tables_drop(run_id: int) -> None:
    with connection.cursor() as cursor:
        for what in (*_definitions(run_id), *BUILT.values(), BUILT_IDS):
            cursor.execute(f"DROP TABLE IF EXISTS {table_name(run_id, what)}")


def stage_phase_reset(run_id: int, phase: str) -> None:
    """Empty what a phase staged (its load restarts from the first line)."""
    stage_tables_create(run_id)
    with connection.cursor() as cursor:
        for what in TABLES[phase]:
            cursor.execute(f"TRUNCATE {table_name(run_id, what)}")


def stage_phase_analyze(run_id: int, phase: str) -> None:
    """Statistics for the planner: without them it guesses tiny tables and picks nested loops."""
    with connection.cursor() as cursor:
        for what in TABLES[phase]:
            cursor.execute(f"ANALYZE {table_name(run_id, what)}")


def apply_settings() -> None:
    """For the apply transaction: everything is set-based over the whole shop, so hash joins and
    in-memory sorts; the planner's statistics on the mirror are stale mid-transaction and would
    otherwise choose nested loops (measured: 162 s instead of < 1 s for 60k orders)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL work_mem = '128MB'")
        # Re-runnable: a commit lost in a server crash leaves the run unfinished, and the next
        # run applies it again (its staged rows are reloaded if they went too).
        cursor.execute("SET LOCAL synchronous_commit = off")


def _lines_where(lines: tuple[int | None, int | None] | None) -> tuple[str, list[int]]:
    """SQL condition for staged rows of export lines [first, end) (None: unbounded)."""
    first, end = lines or (None, None)
    conditions = [c for c, v in (("line_no >= %s", first), ("line_no < %s", end)) if v]
    return " AND ".join(conditions) or "true", [v for v in (first, end) if v]


def staged_rows(
    run_id: int, phase: str, *, lines: tuple[int | None, int | None] | None = None
) -> int | None:
    """Rows a phase has staged (from export lines [first, end) only, when `lines` is given: two
    loaders share the orders export), or None when its tables are gone."""
    where, params = _lines_where(lines)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table_name(run_id, phase)])
        if cursor.fetchone()[0] is None:
            return None
        total = 0
        for what in TABLES[phase]:
            cursor.execute(f"SELECT count(*) FROM {table_name(run_id, what)} WHERE {where}", params)
            total += cursor.fetchone()[0]
        return total


def stage_lines_reset(run_id: int, phase: str, *, lines: tuple[int | None, int | None]) -> None:
    """Delete what a phase staged from export lines [first, end) (that part's load restarts)."""
    where, params = _lines_where(lines)
    stage_tables_create(run_id)
    with connection.cursor() as cursor:
        for what in TABLES[phase]:
            cursor.execute(f"DELETE FROM {table_name(run_id, what)} WHERE {where}", params)


# --- load --------------------------------------------------------------------------------------

FlushCallback = Callable[[int, int, int], None]  # (lines_done, parents in batch, rows staged)


@dataclass
class _Batch:  # COPY text lines
    parents: list[str]
    addresses: list[str]
    late: list[str]

    def rows(self) -> int:
        return len(self.parents) + len(self.addresses) + len(self.late)


class StagedLoad:
    """Feed one phase's bulk lines with `consume`; each batch is COPYed and committed.

    `on_flush(lines_done, parents, rows)` runs inside the batch's transaction: record the
    checkpoint there, so staged rows and checkpoint always agree.
    """

    def __init__(
        self,
        *,
        run_id: int,
        phase: str,
        shop_country: str = "",
        batch_size: int = 5000,
        on_flush: FlushCallback | None = None,
    ) -> None:
        self.run_id, self.phase, self.shop_country = run_id, phase, shop_country
        self.batch_size = batch_size
        self.on_flush = on_flush
        self._batch = _Batch([], [], [])
        # Stop before the first parent line at or after this one (another loader takes the rest
        # of the export from there); may be set by `on_flush` while the load runs.
        self.stop_at: int | None = None

    def consume(
        self, lines: Iterable[bytes | str], *, skip: int = 0, first_line: int | None = None
    ) -> None:
        """Load `lines` after the first `skip`; `first_line`: the number of the first line when
        `lines` starts further into the export (nothing skipped)."""
        if first_line is not None:
            skip = first_line - 1
        else:
            lines = islice(lines, skip, None)
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        copy_clean, special = bulkrows.copy_clean, bulkrows._JSON_SPECIAL
        order_line = bulkrows.order_line
        index = skip
        pending = None  # [kind, node, children, clean, line] of the parent being read
        pending_gid = kind = None
        for index, raw in enumerate(lines, start=skip + 1):
            try:
                node = loads(raw)
            except decode_error:
                if not raw or raw.isspace():  # a blank line (orjson refuses those)
                    continue
                raise
            parent_gid = node.get("__parentId")
            if parent_gid is None:
                if pending is not None:
                    if kind == "Order":
                        self._batch.parents.append(
                            order_line(pending[1], pending[2] or None, f"{pending[4]}\t",
                                       clean=pending[3])
                        )  # fmt: skip
                    else:
                        self._finish(*pending)
                if len(self._batch.parents) >= self.batch_size:
                    self._flush(lines_done=index - 1)
                if self.stop_at is not None and index >= self.stop_at:
                    self._flush(lines_done=index - 1)
                    return
                pending_gid = node["id"]
                kind = _kind(pending_gid)
                if kind not in PARENT_TYPES:
                    raise ValueError(f"line {index}: unexpected top-level object {pending_gid!r}")
                # No value needs COPY escaping (bulkrows' fast path): bulkrows.copy_clean, with
                # a backslash test first (most lines have none).
                if type(raw) is bytes:
                    clean = b"\\" not in raw or special(raw) is None
                else:
                    clean = copy_clean(raw)
                pending = [kind, node, [], clean, index]
            elif pending_gid == parent_gid and pending is not None:
                pending[2].append(node)
                # An order's line items only give numbers and always-escaped tags to its line.
                if kind != "Order" and pending[3]:
                    if type(raw) is bytes:
                        pending[3] = b"\\" not in raw or special(raw) is None
                    else:
                        pending[3] = copy_clean(raw)
            else:  # a child whose parent is not the line before it: resolved after the apply
                self._batch.late.append(f"{index}\t{bulkrows._json(node)}\n")
        if pending is not None:
            self._finish(*pending)
        self._flush(lines_done=max(index, skip))

    def _finish(self, kind: str, node: dict, children: list[dict], clean: bool, line: int) -> None:
        prefix = f"{line}\t"
        if kind == "Order":
            order = bulkrows.order_line(node, children or None, prefix, clean=clean)
            self._batch.parents.append(order)
            return
        addresses: list[dict] | None = [
            c for c in children if gid_type(c["id"]) == "MailingAddress"
        ]
        if not children and node.get("addresses") is not None:
            addresses = None  # inline list on the node itself
        customer, address_lines = bulkrows.customer_lines(
            node, addresses, self.shop_country, prefix, clean=clean
        )
        self._batch.parents.append(customer)
        self._batch.addresses.extend(address_lines)

    def _flush(self, *, lines_done: int) -> None:
        batch, self._batch = self._batch, _Batch([], [], [])
        parent_table = "customers" if self.phase == "customers" else "orders"
        parent_columns = CUSTOMER_COLUMNS if self.phase == "customers" else ORDER_COLUMNS
        with transaction.atomic(), connection.cursor() as cursor:
            # Staged rows and the checkpoint are consistent with each other, and a lost commit
            # after a server crash is caught by the row count: no need to wait for the disk.
            cursor.execute("SET LOCAL synchronous_commit = off")
            for what, columns, rows in (
                (parent_table, ["line_no", *parent_columns], batch.parents),
                ("addresses", ["line_no", *STAGED_ADDRESS_COLUMNS], batch.addresses),
                (f"{self.phase}_late", ["line_no", "doc"], batch.late),
            ):
                if rows:
                    _copy(cursor, table_name(self.run_id, what), columns, rows)
            if self.on_flush is not None:
                self.on_flush(lines_done, len(batch.parents), batch.rows())


def _kind(gid: str) -> str:
    """gid_type(gid), the two parent types without splitting."""
    if type(gid) is str:
        if gid.startswith("gid://shopify/Order/"):
            return "Order"
        if gid.startswith("gid://shopify/Customer/"):
            return "Customer"
    return gid_type(gid)


def _copy(cursor, table: str, columns: list[str], lines: list[str]) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write("".join(lines).encode())


# --- apply -------------------------------------------------------------------------------------


@dataclass
class ApplyStats:
    created: int = 0
    updated: int = 0
    skipped: int = 0


def _guard(table: str) -> str:
    return (
        f"({table}.updated_at_shopify IS NULL OR EXCLUDED.updated_at_shopify IS NULL"
        f" OR {table}.updated_at_shopify <= EXCLUDED.updated_at_shopify)"
    )


_AGGREGATES = {  # customer column -> value from the staged orders (alias `agg`) on insert
    "first_order_at": "agg.first_at",
    "last_order_at": "agg.last_at",
}


# The mirror columns the apply writes from the staged rows.
CUSTOMER_ROW_COLUMNS = [*CUSTOMER_COLUMNS, "mirrored_at", "last_seen_sync_run_id", *_AGGREGATES]
ORDER_ROW_COLUMNS = [*ORDER_COLUMNS, "customer_id", "deleted_at", "last_seen_sync_run_id"]


def _latest_rows(stage: str) -> str:
    """The staged rows, the last line winning when an id was staged twice.

    DISTINCT ON sorts every staged row (at 3M orders an external sort of ~750 MB). A unique
    index on the staged ids costs a sort of bigints only, and when it can be built no id repeats
    and the rows are taken as they are."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {stage}_id ON {stage} (shopify_id)")
        return f"SELECT * FROM {stage}"
    except IntegrityError:
        return f"SELECT DISTINCT ON (shopify_id) * FROM {stage} ORDER BY shopify_id, line_no DESC"


@dataclass
class _Select:
    """Staged rows as mirror rows: one expression per column, and the FROM clause."""

    picked: list[str]
    source: str

    def __str__(self) -> str:  # the rows with the shop's id first
        return f"SELECT %(shop)s, {', '.join(self.picked)} FROM {self.source}"

    def named(self, columns: list[str]) -> str:
        named = ", ".join(f"{e} AS {c}" for e, c in zip(self.picked, columns, strict=True))
        return f"SELECT {named} FROM {self.source}"


def _customer_rows(run_id: int) -> tuple[list[str], str, _Select]:
    """(columns, CTEs, select) of the staged customers as mirror rows, order aggregates joined
    from the staged orders in the same statement (no second pass rewrites every row)."""
    stage, orders = table_name(run_id, "customers"), table_name(run_id, "orders")
    columns = CUSTOMER_ROW_COLUMNS
    picked = []
    for column in CUSTOMER_COLUMNS:
        if column == "number_of_orders":
            picked.append("CASE WHEN s.aggregates_from_shopify THEN s.number_of_orders"
                          " ELSE COALESCE(agg.n, 0) END")  # fmt: skip
        elif column == "amount_spent":
            picked.append("CASE WHEN s.aggregates_from_shopify THEN s.amount_spent"
                          " ELSE COALESCE(agg.spent, 0) END")  # fmt: skip
        elif column == "amount_spent_currency":
            picked.append("CASE WHEN s.aggregates_from_shopify OR agg.currency IS NULL"
                          " THEN s.amount_spent_currency ELSE agg.currency END")  # fmt: skip
        else:
            picked.append(f"s.{column}")
    picked += ["%(now)s", "%(run)s", *_AGGREGATES.values()]
    ctes = f"""
        agg AS (
            SELECT customer_shopify_id AS shopify_id, COUNT(*) AS n, SUM(total_price) AS spent,
                   MAX(currency) AS currency, MIN(processed_at) AS first_at,
                   MAX(processed_at) AS last_at
            FROM {orders} WHERE cancelled_at IS NULL AND NOT is_test
              AND customer_shopify_id IS NOT NULL
            GROUP BY customer_shopify_id
        ), src AS (
            {_latest_rows(stage)}
        )"""
    return columns, ctes, _Select(picked, "src s LEFT JOIN agg ON agg.shopify_id = s.shopify_id")


def customers_apply(*, shop_id: int, run_id: int, now) -> ApplyStats:
    """Upsert the staged customers and replace the addresses of those applied."""
    stage = table_name(run_id, "customers")
    columns, ctes, select = _customer_rows(run_id)
    # On update the aggregates are left to customer_aggregates_refresh (it sees every order).
    updates = [c for c in columns if c != "shopify_id" and c not in _AGGREGATES]
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)
    sql = f"""
        CREATE TEMP TABLE _applied ON COMMIT DROP AS
        WITH {ctes}, up AS (
            INSERT INTO customers_customer (shop_id, {", ".join(columns)})
            {select}
            ON CONFLICT (shop_id, shopify_id) DO UPDATE SET {sets}, deleted_at = NULL
            WHERE customers_customer.redacted_at IS NULL AND {_guard("customers_customer")}
            RETURNING id, shopify_id, {partitions.INSERTED} AS created
        )
        SELECT * FROM up
    """
    params = {"shop": shop_id, "run": run_id, "now": now}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _applied")
        cursor.execute(sql, params)
        stats = _counts(cursor, "_applied", stage)
        if stats.skipped:  # refused by the guard, but seen: not to be tombstoned
            cursor.execute(
                f"""UPDATE customers_customer c SET last_seen_sync_run_id = %(run)s
                    FROM {stage} s WHERE c.shop_id = %(shop)s AND c.shopify_id = s.shopify_id
                    AND c.last_seen_sync_run_id IS DISTINCT FROM %(run)s""",
                params,
            )
        cursor.execute(
            """DELETE FROM customers_customeraddress a USING _applied t
               WHERE a.shop_id = %(shop)s AND a.customer_id = t.id AND NOT t.created""",
            params,
        )
        _addresses_insert(cursor, run_id, "customers_customeraddress", "_applied", params)
        cursor.execute("DROP TABLE _applied")
    return stats


def _addresses_insert(cursor, run_id: int, into: str, customers: str, params: dict) -> None:
    names = ", ".join(ADDRESS_COLUMNS[2:])
    cursor.execute(
        f"""INSERT INTO {into} (shop_id, customer_id, {names})
            SELECT %(shop)s, t.id, {", ".join(f"a.{c}" for c in ADDRESS_COLUMNS[2:])}
            FROM {table_name(run_id, "addresses")} a
            JOIN {customers} t ON t.shopify_id = a.customer_shopify_id""",
        params,
    )


def _order_rows(
    run_id: int, customers: str, *, source: str | None = None
) -> tuple[list[str], str, _Select]:
    """(columns, select) of the staged orders as mirror rows, each linked to its customer's local
    id by a join with `customers` (the shop's rows, aliased c). `source`: the staged rows'
    SELECT when `_latest_rows` gave it already."""
    stage = table_name(run_id, "orders")
    columns = ORDER_ROW_COLUMNS
    picked = [*(f"s.{c}" for c in ORDER_COLUMNS), "c.id", "NULL", "%(run)s"]
    ctes = f"""src AS (
            {source or _latest_rows(stage)}
        )"""
    return (
        columns,
        ctes,
        _Select(picked, f"src s LEFT JOIN {customers} ON c.shopify_id = s.customer_shopify_id"),
    )


def orders_apply(*, shop_id: int, run_id: int) -> ApplyStats:
    """Upsert the staged orders, each linked to its customer's local id by a join."""
    stage = table_name(run_id, "orders")
    shop_customers = "(SELECT id, shopify_id FROM customers_customer WHERE shop_id = %(shop)s) c"
    columns, ctes, select = _order_rows(run_id, shop_customers)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "shopify_id")
    sql = f"""
        CREATE TEMP TABLE _applied ON COMMIT DROP AS
        WITH up AS (
            INSERT INTO customers_order (shop_id, {", ".join(columns)})
            WITH {ctes} {select}
            ON CONFLICT (shop_id, shopify_id) DO UPDATE SET {sets}
            WHERE {_guard("customers_order")}
            RETURNING {partitions.INSERTED} AS created
        )
        SELECT * FROM up
    """
    params = {"shop": shop_id, "run": run_id}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _applied")
        cursor.execute(sql, params)
        stats = _counts(cursor, "_applied", stage)
        if stats.skipped:
            cursor.execute(
                f"""UPDATE customers_order o SET last_seen_sync_run_id = %(run)s
                    FROM {stage} s WHERE o.shop_id = %(shop)s AND o.shopify_id = s.shopify_id
                    AND o.last_seen_sync_run_id IS DISTINCT FROM %(run)s""",
                params,
            )
        cursor.execute("DROP TABLE _applied")
    return stats


def _counts(cursor, applied: str, stage: str) -> ApplyStats:
    cursor.execute(
        f"SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created),"
        f" (SELECT count(*) FROM {stage}) FROM {applied}"
    )
    created, updated, staged = cursor.fetchone()
    if staged != created + updated:  # refused by the guard, or an id staged twice
        cursor.execute(f"SELECT count(DISTINCT shopify_id) FROM {stage}")
        staged = cursor.fetchone()[0]
    return ApplyStats(created=created, updated=updated, skipped=staged - created - updated)


def late_children_apply_staged(*, shop_id: int, run_id: int, chunk: int = 5000) -> int:
    """Children that were not next to their parent in the export, applied after the parents."""
    applied = 0
    for phase in TABLES:
        after = 0
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT line_no, doc::text FROM {table_name(run_id, f'{phase}_late')}"
                    " WHERE line_no > %s ORDER BY line_no LIMIT %s",
                    [after, chunk],
                )
                rows = cursor.fetchall()
            if not rows:
                break
            late_children_apply(shop_id=shop_id, children=[orjson.loads(d) for _, d in rows])
            applied += len(rows)
            after = rows[-1][0]
    return applied
