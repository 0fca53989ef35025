"""segments.OrderProduct rows for orders written where the triggers do not see them.

The statement triggers of segments migration 0009 keep segments_order_product in step with every
write through customers_order. A shop's first full sync fills its order partition bare, before
attaching it (customers.partitions), so no trigger fires: it fills the shop's (bare) partition of
segments_order_product with `order_products_insert_from`, the same expansion as the insert
trigger's (kept identical: segments/tests/test_order_products.py and customers/tests/
test_partitions.py compare both paths with what the orders imply).
"""

EXPAND = """
    SELECT o.shop_id, e.v::bigint AS product_id, o.customer_id, o.processed_at, o.id AS order_id
    FROM {rows} o CROSS JOIN LATERAL jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(o.product_ids) = 'array' THEN o.product_ids ELSE '[]' END) AS e(v)
    WHERE o.customer_id IS NOT NULL AND o.deleted_at IS NULL AND o.cancelled_at IS NULL
      AND e.v ~ '^[0-9]{{1,18}}$'
"""


def order_products_insert_from(cursor, *, orders_table: str, into: str) -> int:
    """Insert into `into` (an unindexed partition of segments_order_product) the rows of every
    live order in `orders_table` (shaped like customers_order)."""
    cursor.execute(
        f"INSERT INTO {into} (shop_id, product_id, customer_id, processed_at, order_id)"
        f" {EXPAND.format(rows=orders_table)}"
    )
    return cursor.rowcount
