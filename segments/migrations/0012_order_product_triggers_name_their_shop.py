# The order-product triggers (0009) deleted with `p.shop_id = x.shop_id`, the shop taken from the
# transition table: PostgreSQL cannot prune that when it plans the DELETE, so every write of
# any shop's orders locked every partition of segments_order_product, the default one included
# (a first sync's attach holds it exclusively: every order write of every shop waited). Now
# the DELETE runs once per shop of the statement's rows with the shop as a value, planned for
# that value (force_custom_plan: a cached generic plan would lock every partition again).
import importlib

from django.db import migrations

BEFORE = importlib.import_module("segments.migrations.0009_order_products")

EXPAND = BEFORE.EXPAND
CHANGED = BEFORE.CHANGED
DELETE = """
        DELETE FROM segments_order_product p USING ({expanded}) x
        WHERE p.shop_id = shop AND p.product_id = x.product_id
          AND p.customer_id = x.customer_id AND p.order_id = x.order_id;
"""


def _function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql"
        " SET plan_cache_mode = force_custom_plan AS $$\n"
        f"DECLARE shop bigint;\nBEGIN\n{body}\nRETURN NULL;\nEND $$;"
    )


def _per_shop(rows: str) -> str:
    """The DELETE of the derived rows of `rows` (a subquery of old_orders), shop by shop."""
    only = f"(SELECT * FROM {rows} r WHERE r.shop_id = shop)"
    return (
        "FOR shop IN SELECT DISTINCT shop_id FROM old_orders LOOP"
        + DELETE.format(expanded=EXPAND.format(rows=only))
        + "END LOOP;"
    )


CREATE = [
    _function(
        "segments_order_product_updated",
        _per_shop(f"({CHANGED})")
        + BEFORE.INSERT.format(expanded=EXPAND.format(rows=f"({BEFORE.CHANGED_NEW})")),
    ),
    _function("segments_order_product_deleted", _per_shop("old_orders")),
]
# Back to 0009's functions (a replaced function keeps its SET clause: drop it first).
RESTORE = [
    "DROP FUNCTION segments_order_product_updated() CASCADE",
    "DROP FUNCTION segments_order_product_deleted() CASCADE",
    *(
        s
        for s in BEFORE.CREATE
        if s.split("(")[0].endswith(("order_product_updated", "order_product_deleted"))
        or s.startswith(("CREATE TRIGGER segments_order_product_updated",
                         "CREATE TRIGGER segments_order_product_deleted"))
    ),
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in RESTORE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("segments", "0011_customer_refs_without_db_fk_constraints")]

    operations = [migrations.RunPython(forward, backward)]
