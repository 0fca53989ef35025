"""Search every text-like column of every table of the database for strings (personal data).

Generic on purpose: tables added later by any app are searched without anyone listing them.
PostgreSQL only (reads information_schema); jsonb and arrays are searched through their text.
"""

from django.db import connection

TEXT_LIKE = {"text", "varchar", "bpchar", "citext", "json", "jsonb"}


def text_columns() -> dict[str, list[str]]:
    """table -> its text, varchar, char, json, jsonb columns (and arrays of those)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name, c.column_name, c.udt_name
            FROM information_schema.columns c
            JOIN information_schema.tables t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
              -- a partition is searched through its parent (customers.partitions)
              AND NOT EXISTS (SELECT 1 FROM pg_class p WHERE p.relname = c.table_name
                              AND p.relnamespace = current_schema()::regnamespace
                              AND p.relispartition)
            ORDER BY c.table_name, c.ordinal_position
            """
        )
        columns: dict[str, list[str]] = {}
        for table, column, udt in cursor.fetchall():
            if udt.lstrip("_") in TEXT_LIKE:
                columns.setdefault(table, []).append(column)
    return columns


def _all_columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def personal_data_hits(markers, *, except_customer: int | None = None) -> set[tuple[str, str, str]]:
    """(table, column, marker) wherever a marker occurs (case-insensitive).

    `except_customer`: rows that belong to that customer (its own row, rows whose `customer_id`
    is it) are not searched, for data another customer legitimately holds too.
    """
    hits = set()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, columns in text_columns().items():
            where, params = "TRUE", []
            if except_customer is not None:
                if table == "customers_customer":
                    where, params = "id <> %s", [except_customer]
                elif "customer_id" in _all_columns(table):
                    where, params = "customer_id IS DISTINCT FROM %s", [except_customer]
            found = ", ".join(f"bool_or({quote(c)}::text ILIKE %s)" for c in columns)
            for marker in markers:
                pattern = f"%{marker}%"
                cursor.execute(
                    f"SELECT {found} FROM {quote(table)} WHERE {where}",
                    [pattern] * len(columns) + params,
                )
                for column, hit in zip(columns, cursor.fetchone(), strict=True):
                    if hit:
                        hits.add((table, column, marker))
    return hits
