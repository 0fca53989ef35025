"""Trigram GIN indexes so `tags_normalized LIKE '%,vip,%'` is an index scan on PostgreSQL.

SQLite (the zero-setup demo) has no pg_trgm; there the operation does nothing.
"""

from django.db import migrations

INDEXES = [
    ("customer_tags_trgm", "customers_customer", "tags_normalized"),
    ("order_product_tags_trgm", "customers_order", "product_tags_normalized"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
