"""The candidates' members index without GIN's pending list (PostgreSQL: `fastupdate = off`).

With the default, rows inserted since the last VACUUM sit in an unsorted pending list (up to
4 MB) that every lookup reads in full. A full scan inserts all of a shop's candidates at once:
at 1,000,000 customers its 60,000 candidates stayed there, and each "open candidates holding
customer X" lookup of the incremental check read all 337 pages (~6 ms, most of a check). The
list left over is merged into the index now. (A storage parameter, not in the model's GinIndex:
SQLite cannot create an index WITH it.)
"""

from django.db import migrations

FORWARD = [
    "ALTER INDEX candidate_members SET (fastupdate = off)",
    "SELECT gin_clean_pending_list('candidate_members'::regclass)",
]
BACKWARD = ["ALTER INDEX candidate_members RESET (fastupdate)"]


def _postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("merges", "0009_scanwatch"),
    ]

    operations = [migrations.RunPython(_postgresql(FORWARD), _postgresql(BACKWARD))]
