# The order-product triggers' DELETE (0012) joined the derived rows of the changed orders to
# segments_order_product inside the loop over the orders that the lateral product expansion
# forces: the transition tables have no statistics (estimated at one row), so under the full
# sync's apply settings (enable_nestloop off: customers.staging.apply_settings) the planner
# seq-scanned the shop's order products and the new orders once per changed order. A re-sync
# (every order rewritten) was quadratic: 53 s in the trigger for 6,110 orders, hours at
# 300,000 (docs/benchmarks.md). The derived rows are now expanded once (a MATERIALIZED CTE)
# and then joined: a hash join under the apply's settings, an index lookup per row otherwise
# (one webhook's order).
import importlib

from django.db import migrations

BEFORE = importlib.import_module("segments.migrations.0012_order_product_triggers_name_their_shop")
EXPAND = BEFORE.EXPAND
DELETE = """
        WITH x AS MATERIALIZED ({expanded})
        DELETE FROM segments_order_product p USING x
        WHERE p.shop_id = shop AND p.product_id = x.product_id
          AND p.customer_id = x.customer_id AND p.order_id = x.order_id;
"""


def _per_shop(rows: str) -> str:
    only = f"(SELECT * FROM {rows} r WHERE r.shop_id = shop)"
    return (
        "FOR shop IN SELECT DISTINCT shop_id FROM old_orders LOOP"
        + DELETE.format(expanded=EXPAND.format(rows=only))
        + "END LOOP;"
    )


CREATE = [
    BEFORE._function(
        "segments_order_product_updated",
        _per_shop(f"({BEFORE.CHANGED})")
        + BEFORE.BEFORE.INSERT.format(
            expanded=EXPAND.format(rows=f"({BEFORE.BEFORE.CHANGED_NEW})")
        ),
    ),
    BEFORE._function("segments_order_product_deleted", _per_shop("old_orders")),
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BEFORE.CREATE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("segments", "0013_order_product_lookup_shop_last")]

    operations = [migrations.RunPython(forward, backward)]
