"""The full scan's first stage on both cores: the shop's customers read, normalised and keyed in
two processes, each for half of the customer ids (one process spent ~50 s of Python on it for
1,000,000 customers, with the other core mostly idle)."""

import contextlib

from django.db import connection

from merges import selectors
from merges.background import Background, Forked
from merges.detection import blocking
from merges.detection.normalize import MatchFields, match_fields_pack, match_fields_unpack

Ids = tuple[int | None, int | None]
# The share of the customers the scan's own process reads: it also unpacks the other process's
# records, parses the order history and lists the pairs (1,000,000 customers read half and half:
# 31.9 CPU-s here, 24.2 in the forked reader).
READ_HERE = 0.4


def _half(shop_id: int, fresh: str, ids: Ids) -> tuple[list[MatchFields], int, object]:
    """One half's records (by id), and its keys copied into the fresh table: (records, keys
    written, the keys' hashes)."""
    records = blocking.match_fields_load(shop_id=shop_id, ids=ids)
    count, index = blocking.blocking_keys_copy(shop_id=shop_id, fresh=fresh, records=records)
    return records, count, index


def _forked_half(shop_id: int, fresh: str, ids: Ids) -> tuple[tuple, int, object]:
    """`_half` with its records packed for the pipe (`match_fields_pack`)."""
    records, count, index = _half(shop_id, fresh, ids)
    return match_fields_pack(records), count, index


def customers_read_and_keyed(
    *, shop_id: int, tag: str
) -> tuple[list[MatchFields], blocking.PreparedKeys, Background]:
    """The shop's active customers' MatchFields (by id), their keys prepared under `tag`
    (`blocking.blocking_keys_prepare`), and the order history being read meanwhile (started
    after the fork: a forked process must not inherit a running thread).

    The customers above a split id are read and keyed by a forked process while this one does
    those below (`READ_HERE` of them; inside a transaction both parts here, one after the
    other); both copy their keys into the one fresh table and hand back the keys' hashes, so
    the pairs are listed from all."""
    if connection.vendor != "postgresql":
        records = blocking.match_fields_load(shop_id=shop_id)
        history = Background(selectors.purchased_products, shop_id=shop_id)
        return records, blocking.blocking_keys_prepare(shop_id=shop_id, records=records), history
    fresh = blocking.blocking_keys_fresh(shop_id=shop_id, tag=tag)
    upper = None
    try:
        split = blocking.customer_id_split(shop_id=shop_id, share=READ_HERE)
        if split is not None:
            upper = Forked(_forked_half, shop_id, fresh, (split, None))
        history = Background(selectors.purchased_products, shop_id=shop_id)
        records, count, index = _half(shop_id, fresh, (None, split))
        indexes, more = [index], None
        if upper is not None:
            more, more_count, more_index = upper.result()
            count += more_count
            indexes.append(more_index)
        # The pairs are listed before the other records are unpacked: listing sorts the key
        # hashes of all customers, and the records take less memory packed.
        prepared = blocking.blocking_keys_listed(
            shop_id=shop_id, fresh=fresh, count=count, indexes=indexes
        )
    except BaseException:
        if upper is not None:
            upper.cancel()
        with contextlib.suppress(Exception):  # a broken transaction: its rollback drops it
            blocking.blocking_keys_discard(shop_id=shop_id, tag=tag)
        raise
    if more is not None:
        records.extend(match_fields_unpack(more))  # their ids are above ours
    return records, prepared, history
