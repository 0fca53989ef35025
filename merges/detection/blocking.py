# ruff: noqa: S608 -- the SQL interpolates only our own model's table name; values are parameters.
"""The blocking key table: written in bulk for a full scan, per customer for the incremental path,
and read with set-based SQL to list the pairs worth comparing.
"""

from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

from merges.background import Background
from merges.models import BlockingKey
from tenants.models import Shop

from .keys import blocking_keys
from .normalize import MatchFields, match_fields

# A key shared by more customers than this says nothing about identity (a placeholder email, the
# store's own phone, "john smith"); pairs are not read through it.
MAX_KEY_SHARE = 12
KEY_TABLE = BlockingKey._meta.db_table

_FIELDS_SQL = """
    SELECT c.id, c.email, COALESCE(NULLIF(c.phone, ''), a.phone, ''),
           CASE WHEN c.phone <> '' THEN c.phone_e164 END,
           COALESCE(NULLIF(c.first_name, ''), a.first_name, ''),
           COALESCE(NULLIF(c.last_name, ''), a.last_name, ''),
           COALESCE(a.address1, ''), COALESCE(NULLIF(c.default_address_zip, ''), a.zip, ''),
           COALESCE(NULLIF(c.default_address_city, ''), a.city, ''),
           COALESCE(NULLIF(c.default_address_country_code, ''), a.country_code, '')
    FROM customers_customer c
    LEFT JOIN customers_customeraddress a
      ON a.customer_id = c.id AND a.is_default AND a.shop_id = c.shop_id
    WHERE c.shop_id = %s AND c.deleted_at IS NULL AND c.merged_into_id IS NULL
      AND c.redacted_at IS NULL {extra}
    ORDER BY c.id, a.id
"""


def _field_rows(
    shop_id: int,
    customer_ids: Sequence[int] | None,
    ids: tuple[int | None, int | None] = (None, None),
) -> Iterator[tuple]:
    """Rows of `_FIELDS_SQL`, one per customer (two addresses flagged default: the first wins);
    `ids`: only customers with ids above the first and up to the second (None: no bound)."""
    extra = ""
    if customer_ids is not None:  # ints only, so inlining them is safe on both databases
        extra = f"AND c.id IN ({','.join(str(int(i)) for i in customer_ids) or 'NULL'})"
    if ids[0] is not None:
        extra += f" AND c.id > {int(ids[0])}"
    if ids[1] is not None:
        extra += f" AND c.id <= {int(ids[1])}"
    previous = None
    with _streamed(whole_shop=customer_ids is None) as cursor:
        cursor.execute(_FIELDS_SQL.format(extra=extra), [shop_id])
        for row in cursor:
            if row[0] != previous:  # ordered by customer
                previous = row[0]
                yield row


STREAM_ROWS = 20_000  # rows per fetch when a whole shop is read


@contextmanager
def _streamed(*, whole_shop: bool):
    """A cursor for the matching SQL. A whole shop (a full scan of up to millions of customers)
    is streamed from a server-side cursor in a transaction of its own, so its rows are never all
    held at once (the client-side result of 1,000,000 customers is several hundred MiB); a few
    customers are read at once."""
    if not whole_shop or connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor(name=f"match_fields_{id(object())}") as cursor:
            cursor.itersize = STREAM_ROWS
            yield cursor


def record_of(row: Sequence, region: str) -> MatchFields:
    """MatchFields of one row of the matching columns, in `_FIELDS_SQL`'s order (id, email,
    phone, the mirror's E.164 phone, first and last name, address line, postcode, city, country;
    further columns are ignored). `region`: the shop's country, the phone's default region."""
    cid, email, phone, e164, first, last, address1, postcode, city, country = row[:10]
    return match_fields(
        customer_id=cid,
        email=email,
        phone=phone,
        first_name=first,
        last_name=last,
        address1=address1,
        postcode=postcode,
        city=city,
        country_code=country,
        default_region=region,
        phone_e164=e164,  # the mirror's, when the customer's own phone is used
    )


def shown_of(row: Sequence) -> dict[str, str]:
    """What the reviewer sees per field, from the same row: the very values `record_of`
    normalises, as typed (not the normalised keys)."""
    _cid, email, phone, _e164, first, last, address1, postcode, city, _country = row[:10]
    return {
        "email": email,
        "phone": phone,
        "first_name": first,
        "last_name": last,
        "address": ", ".join(p for p in (address1, postcode, city) if p),
    }


def shop_region(shop_id: int) -> str:
    return Shop.objects.filter(pk=shop_id).values_list("country_code", flat=True).first() or ""


def match_fields_load(
    *,
    shop_id: int,
    customer_ids: Sequence[int] | None = None,
    ids: tuple[int | None, int | None] = (None, None),
) -> list[MatchFields]:
    """MatchFields of the shop's active customers (all, those of `customer_ids`, or those with
    ids above `ids[0]` and up to `ids[1]`), by id."""
    region = shop_region(shop_id)
    return [record_of(row, region) for row in _field_rows(shop_id, customer_ids, ids)]


_SPLIT_SQL = """
    SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY c.id) FROM customers_customer c
    WHERE c.shop_id = %s AND c.deleted_at IS NULL AND c.merged_into_id IS NULL
      AND c.redacted_at IS NULL
"""


def customer_id_split(*, shop_id: int, share: float) -> int | None:
    """The id at or below which `share` of the shop's active customers are (None: it has none),
    to read it in two parts."""
    with connection.cursor() as cursor:
        cursor.execute(_SPLIT_SQL, [share, shop_id])
        return cursor.fetchone()[0]


def shown_values(*, shop_id: int, customer_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """customer id -> `shown_of` of these active customers, for explanations."""
    if not customer_ids:
        return {}
    return {row[0]: shown_of(row) for row in _field_rows(shop_id, customer_ids)}


MAX_KEY_LENGTH = 400  # the column's width; longer values are cut (and compared cut)


def _keys_of(records: Iterable[MatchFields]) -> Iterator[tuple[int, str, str]]:
    for record in records:
        for key_type, key_value in blocking_keys(record):
            yield record.customer_id, key_type, key_value[:MAX_KEY_LENGTH]


def copy_text(value: str) -> str:
    """A value in COPY's text format (folded keys rarely hold any of these characters)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        value = value.replace("\r", "\\r")
    return value


COPY_CHUNK = 20_000  # rows per write: one string instead of a Python call per row


def _copy_keys(cursor, table: str, shop_id: int, keys: Iterable[tuple[int, str, str]]) -> int:
    count = 0
    lines: list[str] = []
    with cursor.cursor.copy(
        f"COPY {table} (shop_id, customer_id, key_type, key_value) FROM STDIN"
    ) as copy:
        for customer_id, key_type, key_value in keys:
            lines.append(f"{shop_id}\t{customer_id}\t{key_type}\t{copy_text(key_value)}\n")
            if len(lines) == COPY_CHUNK:
                copy.write("".join(lines))
                count += len(lines)
                lines.clear()
        copy.write("".join(lines))
    return count + len(lines)


def _partition(shop_id: int) -> str:
    return f"{KEY_TABLE}_s{int(shop_id)}"


def _write(shop_id: int, records: Iterable[MatchFields]) -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # into the shop's partition, else the default one
            return _copy_keys(cursor, KEY_TABLE, shop_id, _keys_of(records))
    objs = [
        BlockingKey(shop_id=shop_id, customer_id=c, key_type=t, key_value=v)
        for c, t, v in _keys_of(records)
    ]
    BlockingKey.all_shops.bulk_create(objs, batch_size=5000)
    return len(objs)


class _PairIndex:
    """Collects (key, customer) as the keys stream to the database, then lists the pairs sharing
    a usable key, as `candidate_pairs` reads them from the table. Keys are held as 64-bit hashes
    (a million-customer store has ~5 M keys, mostly unique: their strings would take a gigabyte);
    two different keys would have to collide in 64 bits to add a pair."""

    def __init__(self) -> None:
        self.hashes = array("q")
        self.customers = array("q")

    def tap(self, keys: Iterable[tuple[int, str, str]]) -> Iterator[tuple[int, str, str]]:
        hashes, customers = self.hashes, self.customers
        for key in keys:
            hashes.append(hash((key[1], key[2])))
            customers.append(key[0])
            yield key

    @classmethod
    def joined(cls, parts: Sequence["_PairIndex"]) -> "_PairIndex":
        """One index of the keys several indexes collected (each process's customers)."""
        if len(parts) == 1:
            return parts[0]
        whole = cls()
        for part in parts:
            whole.hashes.extend(part.hashes)
            whole.customers.extend(part.customers)
        return whole

    def pairs(self, max_key_share: int) -> np.ndarray:
        keys = np.frombuffer(self.hashes, dtype=np.int64)
        customers = np.frombuffer(self.customers, dtype=np.int64)
        _, first, sizes = np.unique(keys, return_inverse=True, return_counts=True)
        size = sizes[first]
        usable = np.flatnonzero((size >= 2) & (size <= max_key_share))
        order = usable[np.lexsort((customers[usable], keys[usable]))]
        found = []
        for share in range(2, max_key_share + 1):
            rows = order[size[order] == share]
            if not len(rows):
                continue
            members = customers[rows].reshape(-1, share)  # one row per key, ids ascending
            for i in range(share):
                for j in range(i + 1, share):
                    found.append(np.column_stack((members[:, i], members[:, j])))
        if not found:
            return np.empty((0, 2), dtype=np.int64)
        pairs = np.unique(np.concatenate(found), axis=0)
        return pairs[pairs[:, 0] < pairs[:, 1]]  # a value cut to the same 400 characters twice


def _fresh_create(cursor, shop_id: int, fresh: str) -> None:
    """A fresh key table (no index yet, until all keys are in). It is not attached: nothing
    reads it."""
    cursor.execute(f"DROP TABLE IF EXISTS {fresh}")
    cursor.execute(
        f"CREATE TABLE {fresh} (LIKE {KEY_TABLE} INCLUDING DEFAULTS,"
        f" CONSTRAINT {fresh}_shop CHECK (shop_id = {int(shop_id)}))"
    )


def _fresh_index(fresh: str) -> None:
    """Index the loaded table once by sorting and validate its shop foreign key, so attaching
    it later does not re-check it while holding the parent's lock. Then vacuum it (outside a
    transaction only: VACUUM cannot run in one), which marks its pages all-visible: the
    incremental check counts a key's holders in the lookup index alone (an index-only scan),
    instead of visiting a heap page per holder (a common name's key has hundreds). Autovacuum
    would get there some minutes after the swap, or never where it is off."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for suffix, columns in _PARTITION_INDEXES.items():
            cursor.execute(f"CREATE INDEX {fresh}_{suffix} ON {fresh} ({columns})")
        cursor.execute(  # no constraint towards customers_customer (merges migration 0008)
            f"ALTER TABLE {fresh} ADD CONSTRAINT {fresh}_shop_fk FOREIGN KEY (shop_id)"
            " REFERENCES tenants_shop (id) DEFERRABLE INITIALLY DEFERRED"
        )
    if connection.get_autocommit() and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {fresh}")


def _swap_in(cursor, shop_id: int, fresh: str) -> None:
    """Swap the loaded fresh table in for the shop's partition, in the caller's transaction:
    readers see the old keys until the commit, then the new."""
    name = _partition(shop_id)
    # Key rows written earlier in this transaction (a test, a caller's atomic block) still have
    # their deferred foreign-key checks queued, and a table with queued checks cannot be dropped:
    # run them now (Django's foreign keys are all initially deferred, so that mode is restored).
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    # Keys written before the shop had a partition (the default one must not hold any of its rows
    # when its own partition is attached; attaching checks that by scanning it).
    cursor.execute(f"DELETE FROM {KEY_TABLE}_default WHERE shop_id = %s", [int(shop_id)])
    cursor.execute(f"ALTER TABLE {fresh} RENAME TO {name}")
    for suffix in _PARTITION_INDEXES:
        cursor.execute(f"ALTER INDEX {fresh}_{suffix} RENAME TO {name}_{suffix}")
    cursor.execute(
        f"ALTER TABLE {KEY_TABLE} ATTACH PARTITION {name} FOR VALUES IN ({int(shop_id)})"
    )


# The parent's indexes (migration 0007), built on a fresh partition before it is attached.
_PARTITION_INDEXES = {
    "lookup": "shop_id, key_type, key_value",
    "customer": "shop_id, customer_id",
    "customer_id": "customer_id",
}


@dataclass
class PreparedKeys:
    """A shop's new keys, written but not in use yet (`blocking_keys_prepare`), and the pairs
    they block."""

    shop_id: int
    count: int
    pairs: np.ndarray
    fresh: str | None = None  # PostgreSQL: the loaded table, swapped in by blocking_keys_swap
    rows: list[tuple[int, str, str]] | None = None  # elsewhere: the rows to insert then
    indexing: Background | None = None  # the fresh table's index build, maybe still running


def blocking_keys_prepare(
    *, shop_id: int, records: Sequence[MatchFields], tag: str = "next",
    max_key_share: int = MAX_KEY_SHARE,
) -> PreparedKeys:  # fmt: skip
    """Write every key of the shop (full scan) into a fresh table, committed but not attached,
    and list the candidate pairs from the same keys in memory (what `candidate_pairs` would read
    back). No lock on the key table is held: incremental checks keep running on the old keys
    until `blocking_keys_swap`. `tag` names the fresh table (one per concurrent scan)."""
    if connection.vendor != "postgresql":
        index = _PairIndex()
        rows = list(index.tap(_keys_of(records)))
        return PreparedKeys(shop_id, len(rows), index.pairs(max_key_share), rows=rows)
    fresh = blocking_keys_fresh(shop_id=shop_id, tag=tag)
    count, index = blocking_keys_copy(shop_id=shop_id, fresh=fresh, records=records)
    return blocking_keys_listed(
        shop_id=shop_id, fresh=fresh, count=count, indexes=[index], max_key_share=max_key_share
    )


def blocking_keys_fresh(*, shop_id: int, tag: str) -> str:
    """Create the empty fresh key table of a scan (PostgreSQL; committed, not attached: nothing
    reads it) and return its name. Its keys may be copied in by several connections at once."""
    fresh = f"{_partition(shop_id)}_{tag}"
    with transaction.atomic(), connection.cursor() as cursor:
        _fresh_create(cursor, shop_id, fresh)
    return fresh


def blocking_keys_copy(
    *, shop_id: int, fresh: str, records: Sequence[MatchFields]
) -> tuple[int, "_PairIndex"]:
    """Copy these customers' keys into the fresh table (committed); (keys written, their
    hashes for listing the pairs)."""
    index = _PairIndex()
    with transaction.atomic(), connection.cursor() as cursor:
        count = _copy_keys(cursor, fresh, shop_id, index.tap(_keys_of(records)))
    return count, index


def blocking_keys_listed(
    *, shop_id: int, fresh: str, count: int, indexes: Sequence["_PairIndex"],
    max_key_share: int = MAX_KEY_SHARE,
) -> PreparedKeys:  # fmt: skip
    """The fresh table, once every customer's keys are in, as prepared keys: PostgreSQL sorts
    and indexes it on its own connection while this process lists the pairs from the keys'
    hashes (of all customers: one index per process that copied keys) and the caller goes on
    (outside a transaction; inline otherwise)."""
    indexing = Background(_fresh_index, fresh)
    pairs = _PairIndex.joined(indexes).pairs(max_key_share)
    return PreparedKeys(shop_id, count, pairs, fresh=fresh, indexing=indexing)


def blocking_keys_ready(prepared: PreparedKeys) -> None:
    """Wait until the prepared keys can be swapped in (their indexes are built)."""
    if prepared.indexing is not None:
        indexing, prepared.indexing = prepared.indexing, None
        indexing.result()


def blocking_keys_swap(prepared: PreparedKeys) -> None:
    """Replace the shop's keys by the prepared ones, in the caller's transaction."""
    shop_id = prepared.shop_id
    blocking_keys_ready(prepared)
    if prepared.fresh is not None:
        with connection.cursor() as cursor:
            _swap_in(cursor, shop_id, prepared.fresh)
        return
    BlockingKey.all_shops.filter(shop_id=shop_id).delete()
    objs = [
        BlockingKey(shop_id=shop_id, customer_id=c, key_type=t, key_value=v)
        for c, t, v in prepared.rows or ()
    ]
    BlockingKey.all_shops.bulk_create(objs, batch_size=5000)


def blocking_keys_discard(*, shop_id: int, tag: str) -> None:
    """Drop keys prepared under `tag` that will not be swapped in (the scan failed or died)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_partition(shop_id)}_{tag}")


def blocking_keys_rebuild_with_pairs(
    *, shop_id: int, records: Sequence[MatchFields], max_key_share: int = MAX_KEY_SHARE
) -> tuple[int, np.ndarray]:
    """Replace every key of the shop (prepare and swap at once): (keys written, pairs)."""
    prepared = blocking_keys_prepare(shop_id=shop_id, records=records, max_key_share=max_key_share)
    with transaction.atomic():
        blocking_keys_swap(prepared)
    return prepared.count, prepared.pairs


def blocking_keys_rebuild(*, shop_id: int, records: Sequence[MatchFields] | None = None) -> int:
    """Replace every key of the shop (full scan); returns the number of keys written."""
    if records is None:
        records = match_fields_load(shop_id=shop_id)
    return blocking_keys_rebuild_with_pairs(shop_id=shop_id, records=records)[0]


def blocking_keys_refresh(*, shop_id: int, customer_ids: Sequence[int]) -> list[MatchFields]:
    """Recompute the keys of some customers (incremental path); inactive ones just lose theirs."""
    records = match_fields_load(shop_id=shop_id, customer_ids=customer_ids)
    with transaction.atomic():
        BlockingKey.all_shops.filter(shop_id=shop_id, customer_id__in=list(customer_ids)).delete()
        _write(shop_id, records)
    return records


def blocking_keys_erase(*, shop_id: int, customer_ids: Sequence[int]) -> int:
    deleted, _ = BlockingKey.all_shops.filter(
        shop_id=shop_id, customer_id__in=list(customer_ids)
    ).delete()
    return deleted


_PAIRS_SQL = f"""
    WITH usable AS (
        SELECT key_type, key_value FROM {KEY_TABLE}
        WHERE shop_id = %s GROUP BY key_type, key_value HAVING COUNT(*) BETWEEN 2 AND %s
    )
    SELECT DISTINCT a.customer_id, b.customer_id
    FROM usable u
    JOIN {KEY_TABLE} a ON a.shop_id = %s AND a.key_type = u.key_type AND a.key_value = u.key_value
    JOIN {KEY_TABLE} b ON b.shop_id = %s AND b.key_type = u.key_type AND b.key_value = u.key_value
     AND a.customer_id < b.customer_id
"""


def candidate_pairs(*, shop_id: int, max_key_share: int = MAX_KEY_SHARE) -> np.ndarray:
    """Every pair sharing at least one usable key, as an (n, 2) array with left id < right id."""
    with connection.cursor() as cursor:
        cursor.execute(_PAIRS_SQL, [shop_id, max_key_share, shop_id, shop_id])
        rows = cursor.fetchall()
    if not rows:
        return np.empty((0, 2), dtype=np.int64)
    return np.asarray(rows, dtype=np.int64)


_NEIGHBOURS_SQL = f"""
    SELECT DISTINCT b.customer_id
    FROM {KEY_TABLE} a
    JOIN {KEY_TABLE} b ON b.shop_id = a.shop_id AND b.key_type = a.key_type
     AND b.key_value = a.key_value AND b.customer_id <> a.customer_id
    WHERE a.shop_id = %s AND a.customer_id = %s
      AND (SELECT COUNT(*) FROM (
            SELECT 1 FROM {KEY_TABLE} k
            WHERE k.shop_id = a.shop_id AND k.key_type = a.key_type AND k.key_value = a.key_value
            LIMIT %s + 1) capped) <= %s
    ORDER BY b.customer_id
"""


def candidates_of(
    *, shop_id: int, customer_id: int, max_key_share: int = MAX_KEY_SHARE
) -> list[int]:
    """Customers sharing a usable key with `customer_id` (the incremental lookup; same cap as the scan)."""
    with connection.cursor() as cursor:
        cursor.execute(_NEIGHBOURS_SQL, [shop_id, customer_id, max_key_share, max_key_share])
        return [row[0] for row in cursor.fetchall()]
