"""The mirror's indexes keep the house rule: every composite btree index and unique constraint of a
tenant table leads with shop_id (issue 4, ARCHITECTURE.md). Partition indexes are the parents'."""

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL catalog"),
]

MIRROR_TABLES = (
    "customers_customer",
    "customers_customeraddress",
    "customers_order",
    "segments_order_product",
)


def composite_btree_indexes() -> list[tuple[str, str, list[str], bool]]:
    """(table, index, columns in order, is primary key) of each btree index on more than one
    column, on the mirror's partitioned parents."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT t.relname, i.relname, ix.indisprimary,
                      array_agg(a.attname ORDER BY k.ord)
               FROM pg_index ix
               JOIN pg_class t ON t.oid = ix.indrelid
               JOIN pg_class i ON i.oid = ix.indexrelid
               JOIN pg_am am ON am.oid = i.relam AND am.amname = 'btree'
               CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
               WHERE t.relname = ANY(%s) AND ix.indnatts > 1
               GROUP BY 1, 2, 3""",
            [list(MIRROR_TABLES)],
        )
        return [(table, index, columns, primary) for table, index, primary, columns in cursor]


def test_every_composite_index_of_the_mirror_leads_with_shop_id():
    indexes = composite_btree_indexes()
    # The unique Shopify ids, the sync's high-water mark, the orders by customer and by the
    # customer's Shopify id, the order products' lookup: all must be found, or the query is wrong.
    names = {index for _, index, _, _ in indexes}
    assert {
        "customer_unique_shopify_id",
        "customer_updated",
        "order_unique_shopify_id",
        "order_customer",
        "order_customer_shopify",
        "segments_order_product_lookup",
    } <= names
    # A primary key leads with the row's id (it must hold the partition key too: (id, shop_id)).
    offenders = [
        (table, index, columns)
        for table, index, columns, primary in indexes
        if not primary and columns[0] != "shop_id"
    ]
    assert offenders == []
