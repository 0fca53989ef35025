# The order products' lookup index leads with shop_id again (see customers migration 0013: the
# issue and ARCHITECTURE.md ask every tenant index to lead with shop_id; 0013 of this app had moved
# it last to save ~2.5 CPU-s of a 1M first sync's index build).
from django.db import migrations

SHOP_FIRST = [
    "DROP INDEX IF EXISTS segments_order_product_lookup",
    "CREATE INDEX segments_order_product_lookup ON segments_order_product"
    " (shop_id, product_id, customer_id, processed_at)",
]
SHOP_LAST = [
    "DROP INDEX IF EXISTS segments_order_product_lookup",
    "CREATE INDEX segments_order_product_lookup ON segments_order_product"
    " (product_id, customer_id, processed_at, shop_id)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("segments", "0014_order_product_delete_materialized")]

    operations = [migrations.RunPython(_run(SHOP_FIRST), _run(SHOP_LAST))]
