"""Test guard (a pytest plugin of the root conftest.py) for writes around the mirror's per-shop
partitions (customers.partitions). Every statement project code runs during the suite that
writes or row-locks rows and mentions a mirror table is checked; a test whose code ran one
that fails a check fails at teardown, naming the statement and the project code that issued it.

1. It must name its shop, so that PostgreSQL prunes it to ONE partition of each mirror table
   when it plans it. One that does not (`UPDATE customers_customer ... WHERE id = 5`, Django's
   `save()` or `delete()` of an instance, `select_for_update()` by id) opens and locks every
   shop's partition, the default one included, so it waits for any other shop's first sync
   (which holds the default partitions against writes until it commits) and stalls that
   sync's attach in turn. Checked by EXPLAINing it right after it ran (same connection and
   parameters; after, so a lock wait still happens in the statement itself, as in production)
   and counting the partitions in the plan; partitions pruned only at run time ("Subplans
   Removed") count too: the planner locked them all. A session-wide sentinel partition (shop
   SENTINEL_SHOP_ID, never a real shop) gives every mirror table at least two partitions, so
   a statement that is not pruned shows at least two.
2. What it fires must name its shop too: a trigger (the order products') whose statement is
   not pruned shows as a new lock on a sentinel partition (pg_locks before and after).
3. A write that took a default partition (a shop without partitions yet) must run in a
   transaction that waited for first syncs first (`partitions.mirror_writes_wait`: it holds
   FIRST_SYNC_LOCK), or a first sync attaching that shop's partitions would fail it or lose it.

Statements a test issues itself (set-up through the ORM, factories) are not checked: they are
no path the product runs. Locks a test's set-up left in its transaction hide later ones from
checks 2 and 3 in that test (the suite has other tests for each path).
"""

import json
import os
import re
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connections
from django.db.backends.signals import connection_created

from customers.partitions import FIRST_SYNC_LOCK, LOCKED_DEFAULTS, TABLES, partition_name

# Shopify shop ids start at 1: no shop ever has this id.
SENTINEL_SHOP_ID = 0

_MIRROR = re.compile(r'(?<![\w"])"?(' + "|".join(TABLES) + r')(?:_default|_s\d+)?"?(?!\w)')
_PARTITION = re.compile(r"^(" + "|".join(TABLES) + r")_(?:default|s\d+)$")
_FIRST_WORD = re.compile(r"^[\s(]*(\w+)")
_EXPLAINABLE = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "WITH", "SELECT"})
# What a statement (or a data-modifying CTE) writes into.
_TARGET = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+(\S+)", re.I)
_ROW_LOCK = re.compile(r"\bFOR (?:NO KEY |KEY )?(?:UPDATE|SHARE)\b", re.I)
_LOG = os.environ.get("MIRROR_GUARD_LOG")  # also append findings here (an audit run)
_ROOT = str(Path(__file__).resolve().parent.parent)


def _checked(sql: str) -> bool:
    """Whether `sql` is one statement that writes mirror rows (it names a mirror table as what
    it inserts into, updates or deletes from) or row-locks rows of a query over the mirror."""
    first = (_FIRST_WORD.match(sql) or [None, ""])[1].upper()
    # (EXPLAIN of a CREATE TABLE ... AS after it ran would create it again: not checked.)
    if first not in _EXPLAINABLE or ";" in sql.strip().rstrip(";") or not _MIRROR.search(sql):
        return False
    if any(_MIRROR.match(target) for target in _TARGET.findall(sql)):
        return True
    return first in ("SELECT", "WITH") and bool(_ROW_LOCK.search(sql))


def _walk(node: dict, parents: dict, late: set) -> None:
    """Collect the mirror partitions in a plan node's subtree (per parent table), and those
    under a node that prunes only at run time."""
    names = [node.get("Relation Name")]
    names += [target.get("Relation Name") for target in node.get("Target Tables", [])]
    for name in names:
        match = _PARTITION.match(name or "")
        if match:
            parents.setdefault(match[1], set()).add(name)
    for child in node.get("Plans", []):
        if node.get("Subplans Removed"):
            below: dict = {}
            _walk(child, below, late)
            late.update(*below.values())
            for parent, found in below.items():
                parents.setdefault(parent, set()).update(found)
        else:
            _walk(child, parents, late)


def partitions_planned(cursor, sql: str, params) -> tuple[dict[str, set[str]], set[str]]:
    """(mirror partitions in the plan of `sql` per parent table, partitions pruned only at run
    time). `cursor` is a DB-API cursor of the connection the statement ran on."""
    cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
    plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    parents: dict[str, set[str]] = {}
    late: set[str] = set()
    _walk(plan[0]["Plan"], parents, late)
    return parents, late


def unpruned(cursor, sql: str, params) -> str | None:
    """Why `sql` does not touch exactly one partition per mirror table, or None when it does."""
    parents, late = partitions_planned(cursor, sql, params)
    wide = {parent: sorted(found) for parent, found in parents.items() if len(found) > 1}
    if wide:
        return f"touches {wide}"
    if late:
        return f"prunes only at run time (all locked): {sorted(late)}"
    return None


_LOCKED = "locked every partition (through a trigger it fired)"
_UNWAITED = (
    "wrote a default partition without waiting for first syncs"
    " (customers.partitions.mirror_writes_wait first in the transaction)"
)
# FIRST_SYNC_LOCK as pg_locks shows a bigint advisory key.
_ADVISORY = (FIRST_SYNC_LOCK >> 32, FIRST_SYNC_LOCK & 0xFFFF_FFFF)


def _locks_held(cursor) -> tuple[bool, bool, bool]:
    """Locks this transaction holds: (a write or row lock on a sentinel partition, a write lock
    on a default partition, FIRST_SYNC_LOCK)."""
    cursor.execute(
        """SELECT EXISTS (SELECT FROM pg_locks WHERE pid = pg_backend_pid()
                   AND relation = ANY(%s::regclass[])
                   AND mode IN ('RowExclusiveLock', 'RowShareLock')),
                  EXISTS (SELECT FROM pg_locks WHERE pid = pg_backend_pid()
                   AND relation = ANY(%s::regclass[]) AND mode = 'RowExclusiveLock'),
                  EXISTS (SELECT FROM pg_locks WHERE pid = pg_backend_pid()
                   AND locktype = 'advisory' AND classid = %s AND objid = %s AND granted)""",
        [[partition_name(t, SENTINEL_SHOP_ID) for t in TABLES], list(LOCKED_DEFAULTS), *_ADVISORY],
    )
    return tuple(cursor.fetchone())


def _project_frames() -> list[traceback.FrameSummary]:
    """The stack's frames in project files (not this one, not the libraries of a virtualenv
    inside the project: `make test` runs the .venv symlinked into the worktree)."""
    return [
        frame
        for frame in traceback.extract_stack()
        if frame.filename.startswith(_ROOT)
        and "/site-packages/" not in frame.filename
        and not frame.filename.endswith("customers/testing.py")
    ]


def _from_test_code(frames) -> bool:
    """Whether the statement was issued by a test itself (fixtures, factories), not by the
    project code a test calls."""
    innermost = frames[-1].filename if frames else ""
    return "/tests/" in innermost or innermost.endswith("conftest.py")


def _call_site(frames) -> str:
    return " <- ".join(
        f"{frame.filename.removeprefix(_ROOT + '/')}:{frame.lineno} {frame.name}"
        for frame in reversed(frames[-4:])
    )


def _raw_cursor(context):
    """A cursor of the statement's own kind (client- or server-side parameter binding: the
    duplicate check binds $1-style) on its connection, outside Django's wrappers."""
    raw = context["cursor"].cursor
    return type(raw)(raw.connection)


class _Guard:
    def __init__(self) -> None:
        self.active = False
        self.found: list[str] = []
        self.lock = threading.Lock()
        self.test = ""
        self.strict = False  # True: a test's own statements are checked too (the guard's tests)

    def __call__(self, execute, sql, params, many, context):
        connection = context["connection"]
        if not (self.active and not many and isinstance(sql, str) and _checked(sql)):
            return execute(sql, params, many, context)
        frames = _project_frames()
        if connection.vendor != "postgresql" or (_from_test_code(frames) and not self.strict):
            return execute(sql, params, many, context)  # a test's own set-up is no product path
        # Outside a transaction no lock outlives the statement: its plan is all there is.
        in_transaction = connection.in_atomic_block
        before = after = (False, False, False)
        if in_transaction:
            with _raw_cursor(context) as cursor:
                before = _locks_held(cursor)
        result = execute(sql, params, many, context)
        with _raw_cursor(context) as cursor:
            reason = unpruned(cursor, sql, params)
            if in_transaction:
                after = _locks_held(cursor)
        # Locks stay until the transaction ends: what this statement took is what it did.
        if reason is None and after[0] and not before[0]:
            reason = _LOCKED  # its plan names one partition: a trigger it fired did not
        elif reason is None and after[1] and not before[1] and not after[2]:
            reason = _UNWAITED
        if reason is not None:
            self._report(f"{reason}\n    {sql[:300]}\n    at {_call_site(frames)}")
        return result

    def _report(self, found: str) -> None:
        with self.lock:
            self.found.append(found)
        if _LOG:
            with open(_LOG, "a") as log:
                log.write(f"{self.test}: {found}\n")

    def install(self, connection, **kwargs) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)


GUARD = _Guard()


def sentinel_partitions_create(cursor) -> None:
    """A partition of every mirror table for shop SENTINEL_SHOP_ID (none has rows)."""
    for table in TABLES:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {partition_name(table, SENTINEL_SHOP_ID)}"
            f" PARTITION OF {table} FOR VALUES IN ({SENTINEL_SHOP_ID})"
        )


def guard_start() -> None:
    """From now on, check every connection's statements (threads' connections included)."""
    connection_created.connect(GUARD.install)
    for connection in connections.all(initialized_only=True):
        GUARD.install(connection)


@contextmanager
def guarded(test: str = "", *, strict: bool = False) -> Iterator[list[str]]:
    """Collects the offending statements run inside (the autouse fixture; a test of the guard
    nests its own, `strict` to check its own statements)."""
    outer = GUARD.active, GUARD.found, GUARD.test, GUARD.strict
    GUARD.active, GUARD.found, GUARD.test, GUARD.strict = True, [], test or GUARD.test, strict
    try:
        yield GUARD.found
    finally:
        GUARD.active, GUARD.found, GUARD.test, GUARD.strict = outer


def guard_failure(found: list[str]) -> str:
    return (
        "statements writing or row-locking mirror rows without naming their shop"
        " (each locks every shop's partition; customers/testing.py):\n" + "\n".join(found)
    )
