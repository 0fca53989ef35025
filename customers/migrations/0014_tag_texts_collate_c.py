"""The normalised tag texts compare bytewise (COLLATE "C"): their GIN indexes build faster.

`tags_normalized` and `product_tags_normalized` are only ever split and matched whole
(customers.lookups.HasTag: `string_to_array(column, ',') @> ARRAY[tag]`, equality of elements,
which is the same in every deterministic collation); nothing sorts them or changes their case
in SQL (tags_normalize lowercases in Python). Under the database's libc collation every
comparison of the GIN builds over them went through strcoll; with "C" it is a memcmp: the
orders' product-tags index of a shop's first sync takes ~0.76x the CPU (100k customers:
docs/benchmarks.md, "Sixth pass"). A query's `ARRAY[...]::text[]` has the default collation,
which yields to the column's, so the lookups still match the indexes.
SQLite (the zero-setup demo) has no such collation; there the operation does nothing, as with
the GIN indexes themselves (0009).
"""

from django.db import migrations

COLUMNS = [("customers_customer", "tags_normalized"), ("customers_order", "product_tags_normalized")]


def _collate(schema_editor, collation: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in COLUMNS:
        # Same type, another collation: no rewrite of the rows; the GIN indexes over the column
        # (and their per-shop partitions) are rebuilt.
        schema_editor.execute(
            f'ALTER TABLE {table} ALTER COLUMN {column} TYPE text COLLATE "{collation}"'
        )


def forward(apps, schema_editor):
    _collate(schema_editor, "C")


def backward(apps, schema_editor):
    _collate(schema_editor, "default")


class Migration(migrations.Migration):
    dependencies = [("customers", "0013_mirror_indexes_lead_with_shop")]
    operations = [migrations.RunPython(forward, backward)]
