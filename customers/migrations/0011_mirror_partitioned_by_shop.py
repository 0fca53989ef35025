"""The mirror tables partitioned by shop (PostgreSQL; the SQLite demo keeps plain tables).

customers_customer, customers_customeraddress, customers_order and segments_order_product (the
orders' products, kept by triggers on customers_order) become LIST-partitioned on shop_id: one partition per shop (`<table>_s<shop id>`) plus `<table>_default` for shops whose
first full sync has not run yet (webhooks may arrive before it). A shop's first full sync builds
its partitions bare from the staged rows, indexes them by sorting and attaches them
(customers.partitions); until then, and for every later sync or webhook, rows go through the
parent as before. Queries still name the parent tables.

The primary key becomes (id, shop_id) (a partitioned table's unique keys must hold the partition
key); Django still sees `id` as the primary key, and ids stay unique across shops because every
row takes its id from one sequence (PostgreSQL 15 has no identity columns on partitioned tables).
`id` leads so lookups by id alone use it. Nothing has a database foreign key to these tables any
more (customers 0007/0010, merges 0008, segments 0011). Indexes, unique constraints and the
segments' order-product triggers are carried over as the catalog lists them.
"""

from django.db import migrations

TABLES = (
    "customers_customer",
    "customers_customeraddress",
    "customers_order",
    "segments_order_product",  # derived from the orders (segments 0009), no id of its own
)


def _definitions(cursor, table: str):
    cursor.execute(
        """SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = %s::regclass
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
           ORDER BY i.indexrelid""",
        [table],
    )
    indexes = [row[0].replace(" ON ONLY ", " ON ") for row in cursor.fetchall()]
    cursor.execute(
        """SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY oid""",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
        " WHERE tgrelid = %s::regclass AND NOT tgisinternal ORDER BY oid",
        [table],
    )
    triggers = [row[0] for row in cursor.fetchall()]
    return indexes, constraints, triggers


def _id_sequence(cursor, table: str) -> str | None:
    cursor.execute(
        "SELECT pg_get_serial_sequence(%s, 'id') FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attname = 'id' AND NOT attisdropped",
        [table, table],
    )
    row = cursor.fetchone()
    return row[0] if row else None


def _recreate(cursor, table, indexes, constraints, triggers, primary_key: str) -> None:
    for name, kind, definition in constraints:
        if kind == "p":
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey {primary_key}")
        else:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for statement in [*indexes, *triggers]:
        cursor.execute(statement)
    cursor.execute(f"ANALYZE {table}")


def partition(cursor, table: str, shops: list[int]) -> None:
    indexes, constraints, triggers = _definitions(cursor, table)
    sequence = _id_sequence(cursor, table)
    if sequence:
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
        last_value, is_called = cursor.fetchone()
    cursor.execute(f"CREATE TABLE {table}_by_shop (LIKE {table} INCLUDING DEFAULTS)"
                   " PARTITION BY LIST (shop_id)")  # fmt: skip
    for shop in shops:
        cursor.execute(f"CREATE TABLE {table}_s{int(shop)} PARTITION OF {table}_by_shop"
                       f" FOR VALUES IN ({int(shop)})")  # fmt: skip
    cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table}_by_shop DEFAULT")
    cursor.execute(f"INSERT INTO {table}_by_shop SELECT * FROM {table}")
    cursor.execute(f"DROP TABLE {table}")  # with its identity sequence, indexes and triggers
    cursor.execute(f"ALTER TABLE {table}_by_shop RENAME TO {table}")
    if sequence:
        cursor.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
        cursor.execute(f"SELECT setval('{table}_id_seq', %s, %s)", [last_value, is_called])
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id"
                       f" SET DEFAULT nextval('{table}_id_seq')")  # fmt: skip
    _recreate(cursor, table, indexes, constraints, triggers, "PRIMARY KEY (id, shop_id)")


def unpartition(cursor, table: str) -> None:
    indexes, constraints, triggers = _definitions(cursor, table)
    sequence = _id_sequence(cursor, table)
    if sequence:
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
        last_value, is_called = cursor.fetchone()
    cursor.execute(f"CREATE TABLE {table}_flat (LIKE {table})")
    cursor.execute(f"INSERT INTO {table}_flat SELECT * FROM {table}")
    cursor.execute(f"DROP TABLE {table}")  # its partitions and its sequence with it
    cursor.execute(f"ALTER TABLE {table}_flat RENAME TO {table}")
    if sequence:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id"
                       " ADD GENERATED BY DEFAULT AS IDENTITY")  # fmt: skip
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        cursor.execute("SELECT setval(%s, %s, %s)", [cursor.fetchone()[0], last_value, is_called])
    _recreate(cursor, table, indexes, constraints, triggers, "PRIMARY KEY (id)")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            # A partition per shop with rows in any of the tables, in every table.
            cursor.execute(" UNION ".join(f"SELECT shop_id FROM {t}" for t in TABLES))
            shops = sorted(shop for (shop,) in cursor.fetchall())
            for table in TABLES:
                partition(cursor, table, shops)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            for table in TABLES:
                unpartition(cursor, table)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0010_customer_refs_without_db_fk_constraints"),
        ("merges", "0008_customer_refs_without_db_fk_constraints"),
        ("segments", "0011_customer_refs_without_db_fk_constraints"),
    ]

    operations = [migrations.RunPython(forward, backward)]
