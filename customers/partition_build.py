# ruff: noqa: S608 -- SQL here interpolates only our own table/index names and integer ids.
"""A shop's first full sync builds its partitions on connections of their own (PostgreSQL).

The staged rows become the shop's partitions (customers.partitions) in steps: the customers'
local ids (`ids`: every staged Shopify id with an id from the mirror's sequence), then the
customers, their addresses and the orders (each linked to its customer through `ids`, so none
waits for another), the order products from the orders, then every index of every table, one
step each, and per table its constraints and ANALYZE. The tables are plain, unattached and
named after the run (`_sync<run>_built_*`, dropped with its staged rows), so nobody reads them.

Outside a transaction the steps run on `BUILD_CONNECTIONS` connections of their own (threads;
PostgreSQL does the work, psycopg releases the GIL while it waits), each step taking the first
step whose inputs are ready, each committing as it goes; an index build that would leave a core
idle takes a parallel maintenance worker. A step that fails stops the others (their statements
are cancelled) and fails the sync: the mirror is untouched (nothing is attached), and the rerun
builds again from the staged rows. Inside a transaction (tests, bench/sync_apply.py) the steps
run one after the other on the caller's connection.

Then the apply transaction renames the built tables to the partitions' names, merges the rows
the shop already has in the default partitions (`customers_merge`, `orders_merge`) and attaches
(customers.partitions: locks, and why webhooks cannot slip between the build and the attach).
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from customers import partitions, staging
from customers.staging import ApplyStats
from segments.order_products import order_products_insert_from

# For the build's statements: set-based over the whole shop (hash joins, sorts in memory), and
# re-runnable (a commit lost in a server crash fails the apply, which builds again).
SESSION_SETTINGS = {
    "enable_nestloop": "off",
    "work_mem": "128MB",
    "maintenance_work_mem": "512MB",
    "synchronous_commit": "off",
    "max_parallel_maintenance_workers": "0",  # per step, see Builder._next
}


def built_tables(run_id: int) -> dict[str, str]:
    """Per mirror table, the table built for the shop's partition."""
    return {table: staging.table_name(run_id, what) for table, what in staging.BUILT.items()}


@dataclass
class Step:
    name: str
    run: Callable[[], int | None]  # on the current connection; the rows it wrote, if any
    after: tuple[str, ...] = ()
    needs_orders: bool = False  # reads the staged orders
    index: bool = False  # an index build: may take a parallel worker on an idle core


@dataclass
class Built:
    tables: dict[str, str]
    rows: dict[str, int] = field(default_factory=dict)  # step name -> rows written
    seconds: dict[str, float] = field(default_factory=dict)  # step name -> wall seconds


def shop_partitions_build(
    *, shop_id: int, run_id: int, now, orders_loaded: threading.Event | None = None
) -> "Builder":
    """Start building the shop's partitions from the run's staged rows; `wait()` on the result.
    `orders_loaded`: set when the staged orders are complete (the steps that read them wait for
    it; the others start at once). Threads only outside a transaction: inline, it all runs here
    and now, and the orders must be loaded."""
    tables = built_tables(run_id)
    ids = staging.table_name(run_id, staging.BUILT_IDS)
    with connection.cursor() as cursor:
        for name in (*tables.values(), ids):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")  # a crashed build's
        for table, name in tables.items():
            partitions.partition_create_bare(cursor, table, shop_id, name=name)
        plans = {t: partitions.partition_index_plan(cursor, t, n) for t, n in tables.items()}
    # Staged orders that carry their mirror ids (staging.stage_tables_create) give the order
    # products without the built orders: both are built side by side from the staged rows.
    side_by_side = staging.staged_ids(run_id, "orders")
    # Staged customers that carry their ids: `ids` is their projection, the customers need no
    # join with it.
    customer_ids = staging.staged_ids(run_id, "customers")
    staged_orders: dict[str, str] = {}  # "source": the staged orders' SELECT (_latest_rows)

    def orders_staged() -> None:
        staged_orders["source"] = staging._latest_rows(staging.table_name(run_id, "orders"))

    fills = {
        "customers_customer": "customers",
        "customers_customeraddress": "addresses",
        "customers_order": "orders",
        "segments_order_product": "order_products",
    }
    steps = [
        Step("ids", lambda: ids_build(run_id=run_id, into=ids, staged_ids=customer_ids)),
        # Whether an order id was staged twice, once for both steps that read them.
        Step("orders_staged", orders_staged, needs_orders=True),
        Step(
            "orders",
            lambda: orders_build(
                shop_id=shop_id,
                run_id=run_id,
                ids=ids,
                into=tables[ORDERS],
                source=staged_orders["source"],
                staged_ids=side_by_side,
            ),
            after=("ids", "orders_staged"),
            needs_orders=True,
        ),
        Step(
            "customers",
            lambda: customers_build(
                shop_id=shop_id,
                run_id=run_id,
                now=now,
                ids=None if customer_ids else ids,
                into=tables[CUSTOMERS],
            ),
            after=("ids",),
            needs_orders=True,
        ),
        Step(
            "addresses",
            lambda: addresses_build(
                shop_id=shop_id, run_id=run_id, ids=ids, into=tables[ADDRESSES]
            ),
            after=("ids",),
        ),
        Step(
            "order_products",
            lambda: order_products_build_staged(
                shop_id=shop_id, ids=ids, source=staged_orders["source"], into=tables[PRODUCTS]
            ),
            after=("ids", "orders_staged"),
            needs_orders=True,
        )
        if side_by_side
        else Step(
            "order_products",
            lambda: order_products_build(orders=tables[ORDERS], into=tables[PRODUCTS]),
            after=("orders",),
        ),
    ]
    # The largest tables' indexes first: the longest chain ends with them.
    for table in (ORDERS, PRODUCTS, CUSTOMERS, ADDRESSES):
        plan = plans[table]
        names = [f"index {fills[table]} {number}" for number in range(len(plan))]
        for name, index in zip(names, plan, strict=True):
            steps.append(Step(name, _statement(index.create), after=(fills[table],), index=True))
        steps.append(
            Step(
                f"finish {fills[table]}",
                lambda plan=plan, name=tables[table]: _finish(plan, name),
                after=tuple(names),
            )
        )
    builder = Builder(steps, tables, orders_loaded=orders_loaded)
    builder.start()
    return builder


CUSTOMERS, ADDRESSES, ORDERS, PRODUCTS = partitions.TABLES


def _statement(sql: str) -> Callable[[], None]:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)

    return run


def _finish(plan: list[partitions.BuiltIndex], name: str) -> None:
    with connection.cursor() as cursor:
        partitions.partition_constraints_add(cursor, plan)
        cursor.execute(f"ANALYZE {name}")  # the merge, the rest of the apply plan on it


def ids_build(*, run_id: int, into: str, staged_ids: bool) -> int:
    """Every staged customer's Shopify id with the local id its row will have (the mirror's
    sequence; `staged_ids`: the id it was staged with): addresses and orders link to customers
    through it, not through the built customers, so they are built beside them."""
    stage = staging.table_name(run_id, "customers")
    with connection.cursor() as cursor:
        default = "s.id" if staged_ids else staging.column_default(cursor, CUSTOMERS)
        cursor.execute(
            f"CREATE UNLOGGED TABLE {into} AS SELECT s.shopify_id, {default} AS id"
            f" FROM ({staging._latest_rows(stage)}) s"
        )
        rows = cursor.rowcount
        cursor.execute(f"ANALYZE {into}")
    return rows


def customers_build(*, shop_id: int, run_id: int, now, ids: str | None, into: str) -> int:
    """The staged customers, order aggregates from the staged orders joined in, with the ids
    they were staged with (`ids` None: `ids_build` took them from there) or from `ids` (a run
    staged without them)."""
    columns, ctes, select = staging._customer_rows(run_id)
    if ids is None:
        with_ids = staging._Select(["s.id", *select.picked], select.source)
    else:
        with_ids = staging._Select(
            ["i.id", *select.picked],
            f"{select.source} JOIN {ids} i ON i.shopify_id = s.shopify_id",
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {into} (shop_id, id, {', '.join(columns)}) WITH {ctes} {with_ids}",
            {"shop": shop_id, "run": run_id, "now": now},
        )
        return cursor.rowcount


def addresses_build(*, shop_id: int, run_id: int, ids: str, into: str) -> int:
    with connection.cursor() as cursor:
        staging._addresses_insert(cursor, run_id, into, ids, {"shop": shop_id})
        return cursor.rowcount


def orders_build(
    *, shop_id: int, run_id: int, ids: str, into: str, source: str, staged_ids: bool
) -> int:
    """The staged orders, each linked to its customer's id through `ids`; `staged_ids`: with
    the ids they were staged with (else the column default gives them)."""
    columns, ctes, select = staging._order_rows(run_id, f"{ids} c", source=source)
    if staged_ids:
        columns, select = ["id", *columns], staging._Select(["s.id", *select.picked], select.source)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {into} (shop_id, {', '.join(columns)}) WITH {ctes} {select}",
            {"shop": shop_id, "run": run_id},
        )
        return cursor.rowcount


def order_products_build_staged(*, shop_id: int, ids: str, source: str, into: str) -> int:
    """segments.OrderProduct rows of the staged orders as `orders_build` makes them (their
    staged ids, customers through `ids`, none deleted), without waiting for it."""
    orders = f"""(SELECT {int(shop_id)}::bigint AS shop_id, s.id, c.id AS customer_id,
                     s.processed_at, s.product_ids, s.cancelled_at,
                     NULL::timestamptz AS deleted_at
                 FROM ({source}) s JOIN {ids} c ON c.shopify_id = s.customer_shopify_id)"""
    with connection.cursor() as cursor:
        return order_products_insert_from(cursor, orders_table=orders, into=into)


def order_products_build(*, orders: str, into: str) -> int:
    """segments.OrderProduct rows of the built orders (no trigger fires on a bare table)."""
    with connection.cursor() as cursor:
        return order_products_insert_from(cursor, orders_table=orders, into=into)


def build_connections() -> int:
    return max(1, int(getattr(settings, "FULL_SYNC_BUILD_CONNECTIONS", 2)))


class BuildFailed(Exception):
    """A build step failed (its error is the cause)."""


class Builder:
    """Runs `steps` on `build_connections()` threads with connections of their own (inline on
    the caller's connection inside a transaction). `wait()` returns the `Built` or raises the
    first step's error."""

    def __init__(self, steps: list[Step], tables: dict[str, str], *, orders_loaded=None) -> None:
        self.steps = steps
        self.built = Built(tables)
        self.orders_loaded = orders_loaded or threading.Event()
        if orders_loaded is None:
            self.orders_loaded.set()
        self.threaded = connection.get_autocommit() and not connection.in_atomic_block
        self._pending = list(steps)
        self._running: dict[str, int] = {}  # step name -> backend pid of its connection
        self._done: set[str] = set()
        self._error: BaseException | None = None
        self._cancelled = False
        self._changed = threading.Condition()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if not self.threaded:
            return
        for _ in range(build_connections()):
            thread = threading.Thread(target=self._work, daemon=True)
            thread.start()
            self._threads.append(thread)

    def abort(self, error: BaseException) -> None:
        """Stop building (the sync failed elsewhere) and wait for the threads."""
        self._fail(error)
        self._join()

    def wait(self) -> Built:
        if not self.threaded:
            self._inline()
        else:
            self._join()
        if self._error is not None:
            raise BuildFailed(f"building the shop's partitions failed: {self._error}") from (
                self._error
            )
        return self.built

    # --- inline ---

    def _inline(self) -> None:
        if not self.orders_loaded.is_set():
            raise RuntimeError("an inline build needs the staged orders loaded")
        with transaction.atomic(), connection.cursor() as cursor:  # all or nothing
            for name, value in SESSION_SETTINGS.items():
                cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
            for step in self.steps:  # listed after what they need
                self._run(step)

    def _run(self, step: Step) -> None:
        started = time.perf_counter()
        rows = step.run()
        self.built.seconds[step.name] = round(time.perf_counter() - started, 3)
        if rows is not None:
            self.built.rows[step.name] = rows

    # --- threads ---

    def _join(self) -> None:
        while any(thread.is_alive() for thread in self._threads):
            for thread in self._threads:
                thread.join(timeout=0.2)
            self._cancel_others()

    def _fail(self, error: BaseException) -> None:
        with self._changed:
            if self._error is None:
                self._error = error
            self._changed.notify_all()

    def _cancel_others(self) -> None:
        """After a failure: cancel the statements still running (from this thread's own
        connection), so the sync fails now rather than when they end."""
        with self._changed:
            if self._error is None or self._cancelled or not self._running:
                return
            self._cancelled = True
            pids = list(self._running.values())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_cancel_backend(pid) FROM unnest(%s::int[]) pid", [pids])

    def _next(self, pid: int) -> tuple[Step | None, int]:
        """The first step whose inputs are ready (None: all done, or a step failed), and the
        parallel maintenance workers it may use."""
        with self._changed:
            while True:
                if self._error is not None or not self._pending:
                    return None, 0
                ready = [s for s in self._pending if self._ready(s)]
                if ready:
                    step = ready[0]
                    self._pending.remove(step)
                    self._running[step.name] = pid
                    # Alone: no other step running or ready, and no loader busy beside us.
                    alone = len(ready) == len(self._running) == 1 and self.orders_loaded.is_set()
                    return step, 1 if step.index and alone else 0
                self._changed.wait(timeout=0.25)  # also polls orders_loaded

    def _ready(self, step: Step) -> bool:
        if step.needs_orders and not self.orders_loaded.is_set():
            return False
        return all(name in self._done for name in step.after)

    def _work(self) -> None:
        try:
            with connection.cursor() as cursor:
                for name, value in SESSION_SETTINGS.items():
                    cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            while True:
                step, workers = self._next(pid)
                if step is None:
                    return
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('max_parallel_maintenance_workers', %s, false)",
                        [str(workers)],
                    )
                try:
                    self._run(step)
                except BaseException:
                    with self._changed:
                        self._running.pop(step.name, None)
                    raise
                with self._changed:
                    self._running.pop(step.name, None)
                    self._done.add(step.name)
                    self._changed.notify_all()
        except BaseException as error:
            self._fail(error)
        finally:
            connection.close()


# --- merging the shop's previous rows (in the apply transaction, after partitions_start) -------


def _previous(shop_id: int, table: str) -> str | None:
    """The temporary table of the shop's previous rows of `table`, None when it has none."""
    name = partitions.previous_name(table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [name])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {name})")
        return name if cursor.fetchone()[0] else None


def built_from_export_alone(*, shop_id: int, run_id: int) -> bool:
    """After shop_partitions_start: whether the built partitions hold the export's rows only,
    linked and aggregated as writer.orders_link_customers and customer_aggregates_refresh
    would: the shop had no previous rows (nothing merged, nothing to tombstone) and no order
    was staged twice (the customers' aggregates count staged rows; the unique index on the
    staged orders' ids exists only when none repeats, see staging._latest_rows)."""
    if any(_previous(shop_id, table) is not None for table in (CUSTOMERS, ADDRESSES, ORDERS)):
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{staging.table_name(run_id, 'orders')}_id"])
        return cursor.fetchone()[0] is not None


def customers_merge(*, shop_id: int, run_id: int, created: int) -> ApplyStats:
    """Merge the shop's previous customers and addresses (moved out of the default partitions
    by shop_partitions_start) into its built partitions as the upsert path would leave them
    (`_merged`); `created`: the customers built."""
    into = partitions.partition_name(CUSTOMERS, shop_id)
    addresses = partitions.partition_name(ADDRESSES, shop_id)
    previous = _previous(shop_id, CUSTOMERS)
    previous_addresses = _previous(shop_id, ADDRESSES)
    with connection.cursor() as cursor:
        if previous is None:
            if previous_addresses is not None:  # orphans (no customer of theirs): kept
                cursor.execute(f"INSERT INTO {addresses} SELECT * FROM {previous_addresses}")
            return ApplyStats(created=created)
        with _few_rows(cursor):
            won = _won(cursor, run_id, "customers", previous, redacted_refused=True)
            matched, stats = _merge_into(
                cursor, shop_id, into, staging.CUSTOMER_ROW_COLUMNS, previous, won, created,
                keep_on_update=tuple(staging._AGGREGATES),
            )  # fmt: skip
            # The addresses the upsert path leaves: the export's of every customer it created
            # or updated (built; a matched customer's under its built id), and the previous
            # ones (with their ids) of every previous customer it did not update.
            cursor.execute("DROP TABLE IF EXISTS _customer_ids")
            cursor.execute(
                f"""CREATE TEMP TABLE _customer_ids ON COMMIT DROP AS
                    SELECT m.id AS built_id, e.id, w.id IS NOT NULL AS won FROM {matched} m
                    JOIN {previous} e ON e.shopify_id = m.shopify_id
                    LEFT JOIN {won} w ON w.id = e.id"""
            )
            cursor.execute("ANALYZE _customer_ids")
            cursor.execute(
                f"""DELETE FROM {addresses} a USING _customer_ids r
                    WHERE a.customer_id = r.built_id AND NOT r.won"""
            )
            cursor.execute(
                f"""UPDATE {addresses} a SET customer_id = r.id FROM _customer_ids r
                    WHERE a.customer_id = r.built_id AND r.won"""
            )
            if previous_addresses is not None:
                cursor.execute(
                    f"""INSERT INTO {addresses} SELECT a.* FROM {previous_addresses} a
                        WHERE NOT EXISTS (SELECT 1 FROM {won} w WHERE w.id = a.customer_id)"""
                )
    return stats


def orders_merge(*, shop_id: int, run_id: int, created: int) -> ApplyStats:
    """Merge the shop's previous orders into its built order partition (`_merged`), after
    `customers_merge`: orders of a customer the shop had before link to that customer's id, and
    the order products of every order changed here are rebuilt. `created`: the orders built."""
    into = partitions.partition_name(ORDERS, shop_id)
    products = partitions.partition_name(PRODUCTS, shop_id)
    previous_customers = _previous(shop_id, CUSTOMERS)
    previous = _previous(shop_id, ORDERS)
    stats = ApplyStats(created=created)
    if previous_customers is None and previous is None:
        return stats
    gone, changed = [], []  # SELECTs of order ids: products to delete / to expand again
    with connection.cursor() as cursor, _few_rows(cursor):
        if previous_customers is not None:
            # Built orders link to the built customer of their Shopify id; the mirror keeps the
            # previous customer of that id (its id), as the join with the merged rows did.
            cursor.execute("DROP TABLE IF EXISTS _relinked")
            cursor.execute(
                f"""CREATE TEMP TABLE _relinked ON COMMIT DROP AS WITH up AS (
                        UPDATE {into} o SET customer_id = e.id FROM {previous_customers} e
                        WHERE o.shop_id = %s AND o.customer_shopify_id = e.shopify_id
                          AND o.customer_id IS DISTINCT FROM e.id RETURNING o.id)
                    SELECT id FROM up""",
                [shop_id],
            )
            gone.append("SELECT id FROM _relinked")
            changed.append("SELECT id FROM _relinked")
        if previous is not None:
            won = _won(cursor, run_id, "orders", previous, redacted_refused=False)
            matched, stats = _merge_into(
                cursor, shop_id, into, staging.ORDER_ROW_COLUMNS, previous, won, created
            )
            gone.append(f"SELECT id FROM {matched}")
            changed.append(f"SELECT id FROM {previous}")
        cursor.execute(f"DELETE FROM {products} WHERE order_id IN ({' UNION ALL '.join(gone)})")
        order_products_insert_from(
            cursor,
            orders_table=f"(SELECT * FROM {into} WHERE shop_id = {int(shop_id)}"
            f" AND id IN ({' UNION ALL '.join(changed)}))",
            into=products,
        )
    return stats


class _few_rows:
    """Statements joining the few previous rows with the (indexed) partitions: nested loops
    over the indexes, not hash joins over whole partitions (apply_settings turns them off)."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor

    def __enter__(self):
        self.cursor.execute("SET LOCAL enable_nestloop = on")

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.cursor.execute("SET LOCAL enable_nestloop = off")


def _merge_into(
    cursor, shop_id, into, columns, previous, won, created, *, keep_on_update=()
) -> tuple[str, ApplyStats]:
    """Take out of `into` the built rows that previous rows have the Shopify ids of (into a
    temporary table, returned) and insert the merged rows; the counts as the upsert's."""
    matched = f"_matched_{into}"
    cursor.execute(f"DROP TABLE IF EXISTS {matched}")
    cursor.execute(
        f"""CREATE TEMP TABLE {matched} ON COMMIT DROP AS WITH gone AS (
                DELETE FROM {into} b USING {previous} e
                WHERE b.shop_id = %s AND b.shopify_id = e.shopify_id RETURNING b.*)
            SELECT * FROM gone""",
        [shop_id],
    )
    cursor.execute(f"ANALYZE {matched}")
    built = staging._Select([f"m.{c}" for c in columns], f"{matched} m")
    names, merged = _merged(
        cursor, into, columns, built, previous, won, keep_on_update=keep_on_update
    )
    cursor.execute(f"INSERT INTO {into} ({names}) {merged}", {"shop": shop_id})
    cursor.execute(f"SELECT (SELECT count(*) FROM {matched}), (SELECT count(*) FROM {won})")
    matched_rows, won_rows = cursor.fetchone()
    return matched, ApplyStats(created=created - matched_rows, updated=won_rows)


def _won(cursor, run_id: int, phase: str, previous: str, *, redacted_refused: bool) -> str:
    """A temporary table of the previous rows (id, shopify_id) that the export's row replaces:
    the same rule as the upsert path's ON CONFLICT ... WHERE (`_guard`; a redacted customer is
    never rewritten). The staged row of each is looked up by the staged ids' index (a nested
    loop per previous row: they are few, the staged rows many)."""
    stage = staging.table_name(run_id, phase)
    cursor.execute("SELECT to_regclass(%s)", [f"{stage}_id"])
    if cursor.fetchone()[0] is None:  # ids staged twice: no unique index (_latest_rows)
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {stage}_by_id ON {stage} (shopify_id)")
    name = f"_won_{phase}"
    redacted = "e.redacted_at IS NULL AND " if redacted_refused else ""
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(
        f"""CREATE TEMP TABLE {name} ON COMMIT DROP AS
            SELECT e.id, e.shopify_id FROM {previous} e CROSS JOIN LATERAL (
                SELECT s.updated_at_shopify FROM {stage} s WHERE s.shopify_id = e.shopify_id
                ORDER BY s.line_no DESC LIMIT 1) n
            WHERE {redacted}(e.updated_at_shopify IS NULL OR n.updated_at_shopify IS NULL
                  OR e.updated_at_shopify <= n.updated_at_shopify)"""
    )
    cursor.execute(f"ANALYZE {name}")
    return name


def _merged(
    cursor,
    into: str,
    columns: list[str],
    select: staging._Select,
    previous: str,
    won: str,
    *,
    keep_on_update: tuple[str, ...] = (),
) -> tuple[str, str]:
    """(column list, SELECT) of the staged rows (`n`) full-joined with the previous rows (`e`)
    on shopify_id, every column of `into` given as the upsert path leaves it:
    - a staged row with no previous one: created (the column defaults: a new id);
    - a previous row the staged one replaces (`won`): keeps its id and its columns the upsert
      does not write (local ones), takes the staged values, `keep_on_update` excepted (left to
      the aggregates refresh, as the upsert does), and is no longer deleted;
    - a previous row newer than the staged one: kept as it was, marked seen by this run;
    - a previous row the export does not hold: kept as it was (the tombstone step decides)."""
    cursor.execute(
        """SELECT a.attname, pg_get_expr(d.adbin, d.adrelid), format_type(a.atttypid, a.atttypmod)
           FROM pg_attribute a
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
           ORDER BY a.attnum""",
        [into],
    )
    table_columns = cursor.fetchall()
    replaced = "(n.shopify_id IS NOT NULL AND (e.id IS NULL OR w.id IS NOT NULL))"
    picked = []
    for column, default, type_ in table_columns:
        staged = f"n.{column}::{type_}"  # an untyped NULL in the staged select is text
        if column == "shop_id":
            picked.append("%(shop)s")
        elif column == "last_seen_sync_run_id":
            picked.append(f"CASE WHEN n.shopify_id IS NOT NULL THEN {staged} ELSE e.{column} END")
        elif column in keep_on_update:
            picked.append(f"CASE WHEN e.id IS NULL THEN {staged} ELSE e.{column} END")
        elif column in columns:
            picked.append(f"CASE WHEN {replaced} THEN {staged} ELSE e.{column} END")
        elif column == "deleted_at":
            picked.append(f"CASE WHEN {replaced} THEN NULL ELSE e.{column} END")
        else:  # local columns: the previous row's, or the default of a new row
            picked.append(f"CASE WHEN e.id IS NULL THEN {default or 'NULL'} ELSE e.{column} END")
    names = ", ".join(column for column, _, _ in table_columns)
    merged = f"""SELECT {", ".join(picked)}
        FROM ({select.named(columns)}) n
        FULL JOIN ({previous} e LEFT JOIN {won} w ON w.id = e.id) ON e.shopify_id = n.shopify_id"""
    return names, merged
