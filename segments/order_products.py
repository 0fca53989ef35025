"""segments.OrderProduct rows for orders written where the triggers do not see them.

The statement triggers of segments migration 0009 keep segments_order_product in step with every
write through customers_order. A shop's first full sync fills its order partition bare, before
attaching it (customers.partitions), so no trigger fires: it fills the shop's (bare) partition of
segments_order_product with `order_products_insert_from`, the same expansion as the insert
trigger's (kept identical: segments/tests/test_order_products.py and customers/tests/
test_partitions.py compare both paths with what the orders imply).
"""

# The product ids kept: 1 to 18 ASCII digits, the triggers' `e.v ~ '^[0-9]{1,18}$'` (0009) said
# without a regular expression, which was half of this expansion's CPU (1M customers' 5.4M
# products: 5.3 -> 3.2 CPU-s). PRODUCT_ID_TEST states the same for any text (test_order_products).
PRODUCT_ID_TEST = "octet_length({v}) BETWEEN 1 AND 18 AND ltrim({v}, '0123456789') = ''"
PRODUCT_ID_REGEX = "{v} ~ '^[0-9]{{1,18}}$'"

EXPAND = f"""
    SELECT o.shop_id, e.v::bigint AS product_id, o.customer_id, o.processed_at, o.id AS order_id
    FROM {{rows}} o CROSS JOIN LATERAL jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(o.product_ids) = 'array' THEN o.product_ids ELSE '[]' END) AS e(v)
    WHERE o.customer_id IS NOT NULL AND o.deleted_at IS NULL AND o.cancelled_at IS NULL
      AND {PRODUCT_ID_TEST.format(v="e.v")}
"""  # noqa: S608 -- constants only


def order_products_insert_from(cursor, *, orders_table: str, into: str) -> int:
    """Insert into `into` (an unindexed partition of segments_order_product) the rows of every
    live order in `orders_table` (shaped like customers_order)."""
    cursor.execute(
        f"INSERT INTO {into} (shop_id, product_id, customer_id, processed_at, order_id)"
        f" {EXPAND.format(rows=orders_table)}"
    )
    return cursor.rowcount
