# ruff: noqa: S608 -- the SQL interpolates only our own models' table names; values are parameters.
"""The incremental duplicate check: a few new or changed customers (a webhook, a delta sync)
checked against the shop's blocking key table with the stored model, and the mirror hook's
decision between this check and a scan (merges.tasks).

On PostgreSQL one check is one transaction of at most four round trips (BEGIN, the changed
customers, the neighbourhood, the candidate write; COMMIT):
1. Lock the shop's checks (an advisory lock: two checks of overlapping neighbourhoods must not
   both replace the same candidates), the model's stamp, the shop's region and the changed
   customers' fields. Their keys are computed in Python (merges.detection.keys).
2. One statement writes only the keys that differ (none when the matching fields did not change)
   and reads, with the new keys: the neighbours (customers sharing a key held by at most
   MAX_KEY_SHARE customers), the open candidates holding any of them (GIN index on members),
   every blocked pair inside the neighbourhood, its customers' fields, survivor facts and the
   dismissed pairs among them. It also notes the changed customers on the shop's running full
   scans (merges.models.ScanWatch), whose read of the shop is older: they check them again.
3. One statement deletes the stale candidates and inserts the new ones; skipped when they are the
   same. Elsewhere (the SQLite demo) the same steps run as separate ORM queries.
"""

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.pq import TransactionStatus

from customers.hooks import ORDER_PRODUCTS_CHANGED
from customers.models import Customer, CustomerAddress, Order
from merges import selectors
from merges.detection import blocking, groups
from merges.detection.keys import blocking_keys
from merges.detection.normalize import MatchFields
from merges.fitting import matcher_model
from merges.models import BlockingKey, DismissedPair, DuplicateCandidate, MatcherFit, ScanWatch
from merges.services import (
    CHECK_LOCK,
    _candidate,
    _propose,
    duplicate_status_moved,
    duplicates_find,
    propose,
    scan_watch_note,
    shop_checks_lock,
)
from tenants.models import Shop


def _open_touching(shop_id: int, customer_ids: set[int]) -> list[tuple[int, list[int]]]:
    """(pk, members) of the open candidates holding any of these customers (GIN index lookup)."""
    if not customer_ids:
        return []
    open_ones = DuplicateCandidate.all_shops.filter(
        shop_id=shop_id, status=DuplicateCandidate.Status.OPEN
    )
    if connection.vendor != "postgresql":  # the SQLite demo: no JSON containment lookup
        rows = open_ones.values_list("pk", "members")
        return [(pk, members) for pk, members in rows if customer_ids & set(members)]
    holds = Q()
    for customer_id in customer_ids:
        holds |= Q(members__contains=[customer_id])
    return list(open_ones.filter(holds).values_list("pk", "members"))


def _without_waiting_for_disk() -> None:
    """This transaction's commit does not wait for the WAL flush (PostgreSQL). Only derived rows
    are written (keys, candidates): a crash can lose the last few milliseconds of them, and the
    next check or scan writes them again. Saves an fsync per webhook on a busy disk."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


CUSTOMERS = Customer._meta.db_table
ADDRESSES = CustomerAddress._meta.db_table
KEYS = BlockingKey._meta.db_table
CANDIDATES = DuplicateCandidate._meta.db_table
DISMISSED = DismissedPair._meta.db_table
ORDERS = Order._meta.db_table
FITS = MatcherFit._meta.db_table
WATCHES = ScanWatch._meta.db_table

# Rows are fetched by primary key inside an `OFFSET 0` fence and filtered by shop outside it:
# with stale statistics (a shop's rows added since the last ANALYZE) the planner otherwise walks
# the shop_id index through the whole shop (seen at 1,000,000 customers: 400 ms instead of 1).
# Active customers' matching inputs as merges.detection.blocking.match_fields_load reads them (the
# customer's own values, the default address filling what it lacks), the address line as
# merges.selectors.customer_contacts shows it, and the survivor rule's facts: one JSON array each.
_FIELDS_JSON = f"""
    SELECT json_agg(json_build_array(
        c.id, c.email, COALESCE(NULLIF(c.phone, ''), a.phone, ''),
        CASE WHEN c.phone <> '' THEN c.phone_e164 END,
        COALESCE(NULLIF(c.first_name, ''), a.first_name, ''),
        COALESCE(NULLIF(c.last_name, ''), a.last_name, ''),
        COALESCE(a.address1, ''), COALESCE(NULLIF(c.default_address_zip, ''), a.zip, ''),
        COALESCE(NULLIF(c.default_address_city, ''), a.city, ''),
        COALESCE(NULLIF(c.default_address_country_code, ''), a.country_code, ''),
        c.state = 'ENABLED', c.number_of_orders, c.verified_email, c.created_at_shopify,
        c.is_mergeable, c.merge_blockers) ORDER BY c.id)
    FROM (SELECT * FROM {CUSTOMERS} c WHERE c.id = ANY({{ids}}) OFFSET 0) c
    LEFT JOIN LATERAL (
        SELECT a.phone, a.first_name, a.last_name, a.address1, a.zip, a.city, a.country_code
        FROM {ADDRESSES} a
        WHERE a.customer_id = c.id AND a.is_default
        ORDER BY a.id LIMIT 1
    ) a ON true
    WHERE c.shop_id = %(shop)s AND c.deleted_at IS NULL AND c.merged_into_id IS NULL
      AND c.redacted_at IS NULL
"""


@dataclass(frozen=True)
class _Statement:
    """SQL written with `%(name)s` placeholders, numbered once at import (`$1`, ...) for
    psycopg's RawCursor: a name used many times is one parameter, sent once, and psycopg need
    not convert the text per call (it caches that only for statements up to 4 KiB)."""

    sql: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, sql: str) -> "_Statement":
        names: list[str] = []

        def number(match: re.Match) -> str:
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        return cls(re.sub(r"%\((\w+)\)s", number, sql), tuple(names))

    def send(self, cursor, params: dict) -> None:
        cursor.execute(self.sql, [params[name] for name in self.names])

    def run(self, cursor, params: dict) -> tuple:
        self.send(cursor, params)
        return cursor.fetchone()


_CHANGED_SQL = _Statement.of(
    f"""
    SELECT (SELECT 1 FROM pg_advisory_xact_lock(%(lock)s)),
           set_config('synchronous_commit', 'off', true) || set_config('jit', 'off', true),
           (SELECT changed_at FROM {FITS} WHERE shop_id = %(shop)s),
           (SELECT country_code FROM {Shop._meta.db_table} WHERE id = %(shop)s),
           ({_FIELDS_JSON.format(ids="%(changed)s::bigint[]")})
"""
)


def _held_by_at_most_cap(alias: str) -> str:
    """SQL: the key `alias` is held by at most %(cap)s customers once the new keys are in.
    Its holders are counted in the lookup index alone (an index-only scan once the table is
    vacuumed, as a scan leaves it: no heap page per holder, and a name shared by hundreds is
    counted only up to the cap), then the changed customers' old keys are taken off and their
    new ones added."""
    return f"""(
        (SELECT count(*) FROM (
            SELECT 1 FROM {KEYS} k
            WHERE k.shop_id = %(shop)s AND k.key_type = {alias}.key_type
              AND k.key_value = {alias}.key_value
            LIMIT %(cap)s + 1 + cardinality(%(changed)s::bigint[])) held)
        - (SELECT count(*) FROM old_keys o
           WHERE o.key_type = {alias}.key_type AND o.key_value = {alias}.key_value)
        + (SELECT count(*) FROM new_keys m
           WHERE m.key_type = {alias}.key_type AND m.key_value = {alias}.key_value)
    ) <= %(cap)s"""


# Every read sees the key table as it was before this statement's own writes: the changed
# customers' keys are read from new_keys, never from the table.
_NEIGHBOURHOOD_SQL = _Statement.of(
    f"""
WITH new_keys AS (
    SELECT * FROM unnest(%(key_customers)s::bigint[], %(key_types)s::text[],
                         %(key_values)s::text[]) AS k(customer_id, key_type, key_value)
), old_keys AS MATERIALIZED (  -- by the customer index: a common name's key has many holders
    SELECT b.customer_id, b.key_type, b.key_value FROM {KEYS} b
    WHERE b.shop_id = %(shop)s AND b.customer_id = ANY(%(changed)s::bigint[])
), dropped AS (
    DELETE FROM {KEYS} b
    WHERE b.shop_id = %(shop)s AND b.customer_id = ANY(%(changed)s::bigint[])
      AND NOT EXISTS (SELECT 1 FROM new_keys n WHERE n.customer_id = b.customer_id
                      AND n.key_type = b.key_type AND n.key_value = b.key_value)
), added AS (
    INSERT INTO {KEYS} (shop_id, customer_id, key_type, key_value)
    SELECT %(shop)s, n.customer_id, n.key_type, n.key_value FROM new_keys n
    WHERE NOT EXISTS (SELECT 1 FROM old_keys b WHERE b.customer_id = n.customer_id
                      AND b.key_type = n.key_type AND b.key_value = n.key_value)
), noted AS (  -- a full scan running meanwhile checks these customers again after its swap
    UPDATE {WATCHES} w SET customers = w.customers || to_jsonb(%(changed)s::bigint[])
    WHERE w.shop_id = %(shop)s
), ring AS (
    SELECT unnest(%(changed)s::bigint[]) AS customer_id
    UNION
    SELECT k.customer_id
    FROM (SELECT DISTINCT key_type, key_value FROM new_keys) u
    JOIN {KEYS} k ON k.shop_id = %(shop)s AND k.key_type = u.key_type
     AND k.key_value = u.key_value
    WHERE {_held_by_at_most_cap("u")} AND k.customer_id <> ALL(%(changed)s::bigint[])
), stale AS (
    SELECT d.id, d.members, d.survivor_id, d.survivor_reason, d.probability, d.tier,
           d.explanation, d.blockers, d.needs_split, d.detector_version
    FROM (
        SELECT * FROM {CANDIDATES} d
        WHERE d.id = ANY(ARRAY(
            SELECT held.id FROM ring r CROSS JOIN LATERAL (
                SELECT o.id FROM {CANDIDATES} o
                WHERE o.members @> jsonb_build_array(r.customer_id)) held))
        OFFSET 0
    ) d
    WHERE d.shop_id = %(shop)s AND d.status = 'open'
), affected AS (
    SELECT customer_id FROM ring
    UNION
    SELECT m::bigint FROM stale s CROSS JOIN LATERAL jsonb_array_elements_text(s.members) m
), affected_keys AS (
    SELECT k.customer_id, k.key_type, k.key_value FROM {KEYS} k
    WHERE k.shop_id = %(shop)s AND k.customer_id = ANY(ARRAY(SELECT customer_id FROM affected))
      AND k.customer_id <> ALL(%(changed)s::bigint[])
    UNION ALL
    SELECT customer_id, key_type, key_value FROM new_keys
), usable AS (
    SELECT s.key_type, s.key_value
    FROM (SELECT key_type, key_value FROM affected_keys GROUP BY 1, 2 HAVING count(*) > 1) s
    WHERE {_held_by_at_most_cap("s")}
), pairs AS (
    SELECT DISTINCT a.customer_id AS low, b.customer_id AS high
    FROM usable u
    JOIN affected_keys a ON a.key_type = u.key_type AND a.key_value = u.key_value
    JOIN affected_keys b ON b.key_type = u.key_type AND b.key_value = u.key_value
     AND a.customer_id < b.customer_id
)
SELECT
    ({
        _FIELDS_JSON.format(
            ids="ARRAY(SELECT customer_id FROM affected"
            " WHERE customer_id <> ALL(%(changed)s::bigint[]))"
        )
    }),
    (SELECT json_agg(json_build_array(low, high)) FROM pairs),
    (SELECT json_agg(json_build_array(id, members, survivor_id, survivor_reason, probability,
                                      tier, explanation, blockers, needs_split, detector_version))
     FROM stale),
    (SELECT json_agg(json_build_array(p.customer_low_id, p.customer_high_id,
                                      p.fingerprint_low, p.fingerprint_high))
     FROM {DISMISSED} p
     WHERE p.shop_id = %(shop)s
       AND p.customer_low_id = ANY(ARRAY(SELECT customer_id FROM affected))
       AND p.customer_high_id = ANY(ARRAY(SELECT customer_id FROM affected))),
    -- the order history for the orders comparison (merges.selectors.purchased_products' rows)
    (SELECT json_agg(json_build_array(o.customer_id, o.product_ids))
     FROM {ORDERS} o
     WHERE o.shop_id = %(shop)s
       AND o.customer_id = ANY(ARRAY(SELECT customer_id FROM affected))
       AND o.deleted_at IS NULL AND NOT o.is_test AND o.product_ids <> '[]'::jsonb)
"""
)

_CANDIDATE_COLUMNS = (
    "members", "survivor_id", "survivor_reason", "probability", "tier", "explanation",
    "blockers", "needs_split", "detector_version",
)  # fmt: skip

# All or nothing: only if every stale candidate is still open (locked, so a reviewer's dismissal
# in flight is waited for). A reviewer who dismissed one meanwhile wins, and the check runs
# again (it then reads the dismissal).
_REPLACE_SQL = _Statement.of(
    f"""
WITH still AS (
    SELECT id FROM {CANDIDATES}
    WHERE shop_id = %(shop)s AND id = ANY(%(stale)s::bigint[]) AND status = 'open'
    FOR UPDATE
), ok AS (
    SELECT count(*) = %(expected)s AS ok FROM still
), gone AS (
    DELETE FROM {CANDIDATES} WHERE id IN (SELECT id FROM still) AND (SELECT ok FROM ok)
), added AS (
    INSERT INTO {CANDIDATES} (shop_id, {", ".join(_CANDIDATE_COLUMNS)}, status, status_reason,
                              detected_at)
    SELECT %(shop)s, {", ".join("r." + c for c in _CANDIDATE_COLUMNS)}, 'open', '', %(now)s
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
        members jsonb, survivor_id bigint, survivor_reason text, probability float8, tier text,
        explanation jsonb, blockers jsonb, needs_split boolean, detector_version text)
    WHERE (SELECT ok FROM ok)
)
SELECT ok FROM ok
"""
)

# A stale candidate decided while the check ran makes it start again, at most this many times.
CHECK_ATTEMPTS = 3


class _StaleDecided(Exception):
    """A candidate the check would replace is no longer open: roll the attempt back."""


@dataclass
class _Person:
    record: MatchFields
    member: groups.Member
    raw: dict[str, str]  # what the reviewer sees (blocking.shown_of)


def _people(rows: list | None, region: str) -> dict[int, _Person]:
    """Rows of `_FIELDS_JSON`: the matching columns (blocking's order), then the survivor facts."""
    out = {}
    for row in rows or ():
        cid, (enabled, orders, verified, created, mergeable, blockers) = row[0], row[10:]
        out[cid] = _Person(
            record=blocking.record_of(row, region),
            member=groups.Member(
                cid,
                enabled,
                orders,
                verified,
                datetime.fromisoformat(created) if created else None,
                mergeable,
                tuple(blockers or ()),
            ),
            raw=blocking.shown_of(row),
        )
    return out


def _key_arrays(records: Iterable[MatchFields]) -> dict[str, list]:
    """The new keys as three parallel arrays, cut to the column's length as blocking stores them."""
    rows = sorted(
        {
            (r.customer_id, key_type, key_value[:400])
            for r in records
            for key_type, key_value in blocking_keys(r)
        }
    )
    return {
        "key_customers": [r[0] for r in rows],
        "key_types": [r[1] for r in rows],
        "key_values": [r[2] for r in rows],
    }


def _comparable(candidate: dict) -> str:
    return json.dumps([candidate[c] for c in _CANDIDATE_COLUMNS], sort_keys=True)


def _prepared_cursor():
    """A cursor that sends its parameters apart from the SQL (psycopg's server-side binding, `$n`
    placeholders), so psycopg prepares a statement run five times on this connection: PostgreSQL
    then plans the neighbourhood statement once per connection instead of per check (planning it
    costs more than running it). Django's own cursors bind on the client and are never prepared."""
    connection.ensure_connection()
    return connection._prepare_cursor(psycopg.RawCursor(connection.connection))


class _Transaction:
    """The check's transaction. Called outside a transaction (the task: Django in autocommit),
    it sends BEGIN in the same network round trip as the first statement and COMMIT with the
    last (psycopg's pipeline mode): three round trips per check instead of five, each of which
    waits for both processes to be scheduled on a loaded machine. Inside a caller's transaction
    it is a savepoint (transaction.atomic)."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor
        self.own = connection.get_autocommit() and not connection.in_atomic_block
        self.atomic = None if self.own else transaction.atomic()

    def __enter__(self) -> "_Transaction":
        if self.atomic is not None:
            self.atomic.__enter__()
        return self

    def first(self, statement: _Statement, params: dict) -> tuple:
        if not self.own:
            return statement.run(self.cursor, params)
        with connection.connection.pipeline():
            connection.connection.execute("BEGIN")
            statement.send(self.cursor, params)
        return self.cursor.fetchone()

    def last(self, statement: _Statement, params: dict) -> tuple:
        if not self.own:
            return statement.run(self.cursor, params)
        with connection.connection.pipeline():
            statement.send(self.cursor, params)
            connection.connection.execute("COMMIT")
        return self.cursor.fetchone()

    def __exit__(self, kind, error, traceback) -> bool:
        if self.atomic is not None:
            return bool(self.atomic.__exit__(kind, error, traceback))
        status = connection.connection.info.transaction_status
        if status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            connection.connection.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


def _check_once(shop_id: int, changed: list[int]) -> int | None:
    """One attempt, one transaction; None when the shop has no usable model."""
    params = {"shop": shop_id, "changed": changed, "lock": CHECK_LOCK + shop_id}
    with _prepared_cursor() as cursor, _Transaction(cursor) as tx:
        _, _, stamp, region, changed_rows = tx.first(_CHANGED_SQL, params)
        model = matcher_model(shop_id=shop_id, changed_at=stamp)
        if model is None:
            return None
        people = _people(changed_rows, region or "")
        params.update(_key_arrays(p.record for p in people.values()))
        params["cap"] = blocking.MAX_KEY_SHARE
        other_rows, pair_rows, stale_rows, dismissed_rows, order_rows = _NEIGHBOURHOOD_SQL.run(
            cursor, params
        )
        products = selectors.products_by_customer(order_rows or ())
        people.update(_people(other_rows, region or ""))
        pairs = np.array(
            [p for p in pair_rows or () if p[0] in people and p[1] in people], dtype=np.int64
        ).reshape(-1, 2)

        def dismissed(prints: dict[int, str]) -> set[tuple[int, int]]:
            return {
                (low, high)
                for low, high, print_low, print_high in dismissed_rows or ()
                if prints.get(low) == print_low and prints.get(high) == print_high
            }

        proposals = propose(
            model,
            [p.record for p in people.values()],
            pairs,
            dismissed=dismissed,
            members_of=lambda ids: {i: people[i].member for i in ids},
            raw_values_of=lambda ids: {i: people[i].raw for i in ids},
            products_of=lambda ids: products,
        )
        now = timezone.now()
        built = (_candidate(shop_id, group, edges, now) for group, edges in proposals)
        # Through JSON, so the explanation's tuples compare equal to the stored lists.
        fresh = json.loads(
            json.dumps([{c: getattr(b, c) for c in _CANDIDATE_COLUMNS} for b in built])
        )
        stale = [
            dict(zip(("id", *_CANDIDATE_COLUMNS), row, strict=True)) for row in stale_rows or ()
        ]
        if sorted(map(_comparable, fresh)) == sorted(map(_comparable, stale)):
            return len(fresh)  # the same groups with the same explanations: nothing to write
        (replaced,) = tx.last(
            _REPLACE_SQL,
            {
                "shop": shop_id,
                "stale": [c["id"] for c in stale],
                "expected": len(stale),
                "rows": json.dumps(fresh),
                "now": now,
            },
        )
        if not replaced:
            raise _StaleDecided
    duplicate_status_moved(shop_id=shop_id, customer_ids=_members_moved(stale, fresh))
    return len(fresh)


def _members_moved(before: Iterable[dict], after: Iterable[dict]) -> set[int]:
    """Customers who entered or left the open candidates (their duplicate_status moved)."""
    old = {m for c in before for m in c["members"]}
    new = {m for c in after for m in c["members"]}
    return old ^ new


def _check(shop_id: int, customer_ids: Sequence[int]) -> int | None:
    """The check; None when the shop has no usable model (the caller scans and fits)."""
    if connection.vendor != "postgresql":
        return _check_portable(shop_id, customer_ids)
    changed = sorted({int(i) for i in customer_ids})
    for attempt in range(CHECK_ATTEMPTS):
        try:
            return _check_once(shop_id, changed)
        except _StaleDecided:
            if attempt == CHECK_ATTEMPTS - 1:
                raise
    return None  # not reached


def duplicates_check_customers(*, shop_id: int, customer_ids: Sequence[int]) -> int:
    """Incremental path for new or changed customers: refresh their blocking keys, look up their
    neighbours in the key table, re-score the affected neighbourhood with the stored model and
    replace the open candidates it touches. Returns how many open candidates it now has."""
    checked = _check(shop_id, customer_ids)
    if checked is None:  # never scanned: the first scan fits the model
        return duplicates_find(shop_id=shop_id, full=True).candidates
    return checked


def _check_portable(shop_id: int, customer_ids: Sequence[int]) -> int | None:
    """The same check with an ORM query per step (SQLite)."""
    model = matcher_model(shop_id=shop_id)
    if model is None:
        return None
    changed = set(customer_ids)
    with transaction.atomic():
        _without_waiting_for_disk()
        shop_checks_lock(shop_id)
        refreshed = blocking.blocking_keys_refresh(shop_id=shop_id, customer_ids=list(changed))
        scan_watch_note(shop_id=shop_id, customer_ids=changed)
        neighbours = {c: blocking.candidates_of(shop_id=shop_id, customer_id=c) for c in changed}
        affected = changed.union(*neighbours.values())
        stale = _open_touching(shop_id, affected)
        for _pk, members in stale:
            affected.update(members)
        for customer_id in affected - neighbours.keys():
            neighbours[customer_id] = blocking.candidates_of(
                shop_id=shop_id, customer_id=customer_id
            )
        pairs = sorted(
            {(min(a, b), max(a, b)) for a in affected for b in neighbours[a] if b in affected}
        )
        others = affected - changed
        records = refreshed + (
            blocking.match_fields_load(shop_id=shop_id, customer_ids=list(others)) if others else []
        )
        live = {r.customer_id for r in records}
        pair_array = np.array(
            [p for p in pairs if p[0] in live and p[1] in live], dtype=np.int64
        ).reshape(-1, 2)
        proposals = _propose(shop_id, model, records, pair_array)
        now = timezone.now()
        DuplicateCandidate.all_shops.filter(pk__in=[pk for pk, _ in stale]).delete()
        built = [_candidate(shop_id, g, e, now) for g, e in proposals]
        DuplicateCandidate.all_shops.bulk_create(built)
        duplicate_status_moved(
            shop_id=shop_id,
            customer_ids=_members_moved(
                [{"members": m} for _, m in stale], [{"members": c.members} for c in built]
            ),
        )
    return len(proposals)


# Customer fields whose change can change a candidate: what matching reads (names, contact, the
# default address), whether the profile is still active, and Shopify's merge blockers. Consent,
# tags, notes and order totals are not among them: a change of only those needs no check.
MATCH_RELEVANT_FIELDS = frozenset(
    {
        "email", "email_normalized", "phone", "phone_e164", "first_name", "last_name",
        "last_name_key", "default_address_zip", "default_address_city",
        "default_address_country_code", "addresses", "deleted_at", "merged_into",
        "redacted_at", "is_mergeable", "merge_blockers",
    }
)  # fmt: skip
# Above this many changed customers one pass over the key table beats a lookup per customer.
INCREMENTAL_MAX_CUSTOMERS = 2_000
# Full re-reads of the store: the data the weights were fitted on may have shifted, so refit.
REFIT_REASONS = frozenset({"full_sync", "reconcile"})


# What else a score reads: the products of the customer's live orders (the orders comparison).
MATCH_RELEVANT_CHANGES = MATCH_RELEVANT_FIELDS | {ORDER_PRODUCTS_CHANGED}


def duplicates_check_needed(*, changed: Iterable[str] | None) -> bool:
    """Whether a mirror change that touched these Customer fields (None: any) or the products of
    the customers' orders can change a duplicate candidate. An order change that left its
    products as they were (payment, fulfilment, totals) cannot."""
    return changed is None or not MATCH_RELEVANT_CHANGES.isdisjoint(changed)


def duplicates_mirror_changed(
    *, shop_id: int, customer_ids: Sequence[int] | None, reason: str
) -> str:
    """Bring the shop's open candidates up to date after a mirror change; says what it ran.

    Incremental for a few customers; one scan with the stored weights (their keys refreshed
    first) for many, or when the ids are unknown; a scan with a refit only after a full
    re-read or while the shop has no fitted model."""
    if customer_ids is not None and len(customer_ids) <= INCREMENTAL_MAX_CUSTOMERS:
        # The check reads the model's stamp itself: no extra round trip per webhook.
        if _check(shop_id, customer_ids) is not None:
            return "incremental"
        duplicates_find(shop_id=shop_id, full=True, refit=True)
        return "scan+refit"
    has_model = matcher_model(shop_id=shop_id) is not None  # None too for an outdated fit
    if not has_model or (customer_ids is None and reason in REFIT_REASONS):
        duplicates_find(shop_id=shop_id, full=True, refit=True)
        return "scan+refit"
    if customer_ids is None:
        duplicates_find(shop_id=shop_id, full=True, refit=False)
        return "scan"
    with transaction.atomic():  # keys rewritten like a check's: a running full scan hears of it
        shop_checks_lock(shop_id)
        blocking.blocking_keys_refresh(shop_id=shop_id, customer_ids=list(customer_ids))
        scan_watch_note(shop_id=shop_id, customer_ids=customer_ids)
    duplicates_find(shop_id=shop_id, full=False, refit=False)
    return "scan"
