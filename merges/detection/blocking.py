# ruff: noqa: S608 -- the SQL interpolates only our own model's table name; values are parameters.
"""The blocking key table: written in bulk for a full scan, per customer for the incremental path,
and read with set-based SQL to list the pairs worth comparing.
"""

from collections.abc import Iterable, Sequence

import numpy as np
from django.db import connection, transaction

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
    ORDER BY c.id
"""


def match_fields_load(
    *, shop_id: int, customer_ids: Sequence[int] | None = None
) -> list[MatchFields]:
    """MatchFields of the shop's active customers (all, or those of `customer_ids`)."""
    region = Shop.objects.filter(pk=shop_id).values_list("country_code", flat=True).first() or ""
    extra = ""
    if customer_ids is not None:  # ints only, so inlining them is safe on both databases
        extra = f"AND c.id IN ({','.join(str(int(i)) for i in customer_ids) or 'NULL'})"
    seen: set[int] = set()
    records = []
    with connection.cursor() as cursor:
        cursor.execute(_FIELDS_SQL.format(extra=extra), [shop_id])
        for cid, email, phone, e164, first, last, address1, postcode, city, country in cursor:
            if cid in seen:  # two rows flagged default: the first wins
                continue
            seen.add(cid)
            records.append(
                match_fields(
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
            )
    return records


def _key_rows(shop_id: int, records: Iterable[MatchFields]) -> Iterable[tuple[int, int, str, str]]:
    """Rows in index order: the lookup index then grows at its right edge instead of splitting
    pages at random, which makes a full rebuild several times faster."""
    rows = [
        (key_type, key_value[:400], record.customer_id)
        for record in records
        for key_type, key_value in blocking_keys(record)
    ]
    rows.sort()
    for key_type, key_value, customer_id in rows:
        yield shop_id, customer_id, key_type, key_value


def _write(shop_id: int, records: Iterable[MatchFields]) -> int:
    count = 0
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                f"COPY {KEY_TABLE} (shop_id, customer_id, key_type, key_value) FROM STDIN"
            ) as copy,
        ):
            for row in _key_rows(shop_id, records):
                copy.write_row(row)
                count += 1
        return count
    objs = [
        BlockingKey(shop_id=s, customer_id=c, key_type=t, key_value=v)
        for s, c, t, v in _key_rows(shop_id, records)
    ]
    BlockingKey.all_shops.bulk_create(objs, batch_size=5000)
    return len(objs)


def blocking_keys_rebuild(*, shop_id: int, records: Sequence[MatchFields] | None = None) -> int:
    """Replace every key of the shop (full scan); returns the number of keys written."""
    if records is None:
        records = match_fields_load(shop_id=shop_id)
    with transaction.atomic():
        BlockingKey.all_shops.filter(shop_id=shop_id).delete()
        return _write(shop_id, records)


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
